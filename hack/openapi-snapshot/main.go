// Command openapi-snapshot records the discovery and /openapi/v3 schemas of the locally built
// kube-apiserver (started with envtest from bin/) into the snapshot the kro CLI embeds for
// offline checks. Run it with `make openapi-snapshot`.
package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/restmapper"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	"github.com/kro-run/kro/api/v1alpha1"
	"github.com/kro-run/kro/internal/cli/offline"
)

func main() {
	out := flag.String("o", "internal/cli/offline/openapi.json.gz", "file to write")
	bin := flag.String("bin", "bin", "directory of the kube-apiserver and etcd binaries")
	crds := flag.String("crds", "config/crd/bases", "directory of kro's own CRDs")
	keepDescriptions := flag.Bool("descriptions", false, "keep the schemas' descriptions (the CLI never prints them)")
	flag.Parse()
	if err := run(*out, *bin, *crds, *keepDescriptions); err != nil {
		fmt.Fprintln(os.Stderr, "openapi-snapshot:", err)
		os.Exit(1)
	}
}

func run(out, bin, crds string, keepDescriptions bool) error {
	abs, err := filepath.Abs(bin)
	if err != nil {
		return err
	}
	// kro's own CRDs are installed so that the CLI can check RGDs as the API server does.
	te := &envtest.Environment{BinaryAssetsDirectory: abs, CRDDirectoryPaths: []string{crds}, ErrorIfCRDPathMissing: true}
	te.ControlPlane.GetAPIServer().Configure().
		Set("advertise-address", "127.0.0.1").
		Set("endpoint-reconciler-type", "none")
	cfg, err := te.Start()
	if err != nil {
		return fmt.Errorf("starting kube-apiserver from %s (run `make controlplane` first): %w", abs, err)
	}
	defer func() { _ = te.Stop() }()

	dc, err := discovery.NewDiscoveryClientForConfig(cfg)
	if err != nil {
		return err
	}
	version, err := dc.ServerVersion()
	if err != nil {
		return err
	}
	s := &offline.Snapshot{KubernetesVersion: version.GitVersion, Schemas: map[string]json.RawMessage{}}
	for _, crd := range te.CRDs {
		if crd.Spec.Group != v1alpha1.GroupVersion.Group {
			continue
		}
		c := apiextensionsv1.CustomResourceDefinition{TypeMeta: metav1.TypeMeta{APIVersion: "apiextensions.k8s.io/v1", Kind: "CustomResourceDefinition"}}
		c.Name, c.Spec = crd.Name, crd.Spec
		s.CRDs = append(s.CRDs, c)
	}
	if s.Groups, err = groups(dc); err != nil {
		return err
	}
	paths, err := dc.OpenAPIV3().Paths()
	if err != nil {
		return fmt.Errorf("listing /openapi/v3: %w", err)
	}
	names := make([]string, 0, len(paths))
	for p := range paths {
		if strings.HasPrefix(p, "api/") || strings.HasPrefix(p, "apis/") {
			names = append(names, p)
		}
	}
	sort.Strings(names)
	merged := map[string]any{}
	for _, p := range names {
		raw, err := paths[p].Schema(runtime.ContentTypeJSON)
		if err != nil {
			return fmt.Errorf("reading /openapi/v3/%s: %w", p, err)
		}
		var doc struct {
			Components struct {
				Schemas map[string]any `json:"schemas"`
			} `json:"components"`
		}
		if err := json.Unmarshal(raw, &doc); err != nil {
			return fmt.Errorf("decoding /openapi/v3/%s: %w", p, err)
		}
		for name, schema := range doc.Components.Schemas {
			if !keepDescriptions {
				schema = stripDescriptions(schema)
			}
			if prev, ok := merged[name]; ok {
				if schema, err = merge(prev, schema); err != nil {
					return fmt.Errorf("definition %s: %w", name, err)
				}
			}
			merged[name] = schema
		}
	}
	for name, schema := range merged {
		// encoding/json sorts map keys: the output is deterministic.
		if s.Schemas[name], err = json.Marshal(schema); err != nil {
			return err
		}
	}
	var buf bytes.Buffer
	if err := s.Encode(&buf); err != nil {
		return err
	}
	if err := os.WriteFile(out, buf.Bytes(), 0o644); err != nil {
		return err
	}
	fmt.Printf("wrote %s: Kubernetes %s, %d groups, %d definitions, %d kro CRDs, %d bytes\n", out, s.KubernetesVersion, len(s.Groups), len(s.Schemas), len(s.CRDs), buf.Len())
	return nil
}

// groups returns discovery's groups and resources, without subresources and with only the
// fields a REST mapper reads.
func groups(dc discovery.DiscoveryInterface) ([]*restmapper.APIGroupResources, error) {
	all, err := restmapper.GetAPIGroupResources(dc)
	if err != nil {
		return nil, fmt.Errorf("discovery: %w", err)
	}
	sort.Slice(all, func(i, j int) bool { return all[i].Group.Name < all[j].Group.Name })
	// Only Kubernetes' own kinds: kro's CRDs are installed for their schemas, not as kinds.
	all = slices.DeleteFunc(all, func(g *restmapper.APIGroupResources) bool {
		return g.Group.Name == v1alpha1.GroupVersion.Group || strings.HasSuffix(g.Group.Name, "."+v1alpha1.GroupVersion.Group)
	})
	for _, g := range all {
		g.Group.ServerAddressByClientCIDRs = nil
		for v, resources := range g.VersionedResources {
			kept := make([]metav1.APIResource, 0, len(resources))
			for _, r := range resources {
				if strings.Contains(r.Name, "/") {
					continue
				}
				kept = append(kept, metav1.APIResource{
					Name: r.Name, SingularName: r.SingularName, Namespaced: r.Namespaced,
					Kind: r.Kind, ShortNames: r.ShortNames, Verbs: r.Verbs,
				})
			}
			sort.Slice(kept, func(i, j int) bool { return kept[i].Name < kept[j].Name })
			g.VersionedResources[v] = kept
		}
	}
	return all, nil
}

// gvkExtension lists the kinds a definition is the schema of. Definitions shared by several
// group-version documents (DeleteOptions, WatchEvent) list only the document's own kinds.
const gvkExtension = "x-kubernetes-group-version-kind"

// merge combines two documents' copies of one definition: they must be equal but for the
// kinds they list, which are united.
func merge(a, b any) (any, error) {
	am, aok := a.(map[string]any)
	bm, bok := b.(map[string]any)
	if !aok || !bok {
		return nil, fmt.Errorf("not an object")
	}
	withoutKinds := func(m map[string]any) ([]byte, error) {
		c := make(map[string]any, len(m))
		for k, v := range m {
			if k != gvkExtension {
				c[k] = v
			}
		}
		return json.Marshal(c)
	}
	ra, err := withoutKinds(am)
	if err != nil {
		return nil, err
	}
	rb, err := withoutKinds(bm)
	if err != nil {
		return nil, err
	}
	if !bytes.Equal(ra, rb) {
		return nil, fmt.Errorf("differs between group-version documents")
	}
	kinds := map[string]any{}
	for _, m := range []map[string]any{am, bm} {
		list, _ := m[gvkExtension].([]any)
		for _, k := range list {
			key, err := json.Marshal(k)
			if err != nil {
				return nil, err
			}
			kinds[string(key)] = k
		}
	}
	out := make(map[string]any, len(am))
	for k, v := range am {
		out[k] = v
	}
	if len(kinds) > 0 {
		keys := make([]string, 0, len(kinds))
		for k := range kinds {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		list := make([]any, 0, len(keys))
		for _, k := range keys {
			list = append(list, kinds[k])
		}
		out[gvkExtension] = list
	}
	return out, nil
}

// stripDescriptions removes the "description" of every schema (the bulk of the documents).
// Properties named "description" are kept.
func stripDescriptions(v any) any {
	switch val := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(val))
		for k, item := range val {
			switch {
			case k == "description":
				if _, isString := item.(string); isString {
					continue
				}
				out[k] = stripDescriptions(item)
			case k == "properties":
				props, ok := item.(map[string]any)
				if !ok {
					out[k] = item
					continue
				}
				kept := make(map[string]any, len(props))
				for name, p := range props {
					kept[name] = stripDescriptions(p)
				}
				out[k] = kept
			default:
				out[k] = stripDescriptions(item)
			}
		}
		return out
	case []any:
		out := make([]any, len(val))
		for i, item := range val {
			out[i] = stripDescriptions(item)
		}
		return out
	}
	return v
}
