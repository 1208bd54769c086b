package install

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	goruntime "runtime"
	"sort"
	"strings"

	"helm.sh/helm/v3/pkg/chart/loader"
	"helm.sh/helm/v3/pkg/chartutil"
	"helm.sh/helm/v3/pkg/engine"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"
)

// Root is the repository root, found from this source file.
func Root() string {
	_, file, _, _ := goruntime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..")
}

// Kustomize renders the kustomization in dir (relative to the repository root), as
// `kubectl kustomize dir` does.
func Kustomize(dir string) ([]*unstructured.Unstructured, error) {
	k := krusty.MakeKustomizer(krusty.MakeDefaultOptions())
	res, err := k.Run(filesys.MakeFsOnDisk(), filepath.Join(Root(), dir))
	if err != nil {
		return nil, fmt.Errorf("kustomize %s: %w", dir, err)
	}
	out, err := res.AsYaml()
	if err != nil {
		return nil, err
	}
	return Decode(out)
}

// Release names the Helm release a chart is rendered for.
type Release struct {
	Name, Namespace string
}

// Chart is the result of rendering the Helm chart.
type Chart struct {
	// CRDs are the chart's crds/ files, which Helm installs before the templates.
	CRDs []*unstructured.Unstructured
	// Objects are the rendered templates' objects, in template file order.
	Objects []*unstructured.Unstructured
	// Notes is the rendered NOTES.txt.
	Notes string
}

// HelmTemplate renders the chart at charts/kro with values over its defaults, as
// `helm template --include-crds` does for a fresh install.
func HelmTemplate(rel Release, values map[string]any) (*Chart, error) {
	ch, err := loader.Load(filepath.Join(Root(), "charts", "kro"))
	if err != nil {
		return nil, fmt.Errorf("loading chart: %w", err)
	}
	vals, err := chartutil.ToRenderValues(ch, values, chartutil.ReleaseOptions{
		Name: rel.Name, Namespace: rel.Namespace, Revision: 1, IsInstall: true,
	}, chartutil.DefaultCapabilities)
	if err != nil {
		return nil, fmt.Errorf("chart values: %w", err)
	}
	files, err := engine.Render(ch, vals)
	if err != nil {
		return nil, fmt.Errorf("rendering chart: %w", err)
	}
	out := &Chart{}
	for _, f := range ch.CRDObjects() {
		objs, err := Decode(f.File.Data)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", f.Filename, err)
		}
		out.CRDs = append(out.CRDs, objs...)
	}
	names := make([]string, 0, len(files))
	for name := range files {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		switch {
		case strings.HasSuffix(name, "NOTES.txt"):
			out.Notes = files[name]
			continue
		case strings.HasPrefix(filepath.Base(name), "_"):
			continue
		}
		objs, err := Decode([]byte(files[name]))
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		out.Objects = append(out.Objects, objs...)
	}
	return out, nil
}

// Decode splits a multi-document YAML stream into objects, skipping empty documents.
func Decode(data []byte) ([]*unstructured.Unstructured, error) {
	dec := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(data), 4096)
	var out []*unstructured.Unstructured
	for {
		var obj map[string]any
		if err := dec.Decode(&obj); err != nil {
			if errors.Is(err, io.EOF) {
				return out, nil
			}
			return nil, err
		}
		if len(obj) == 0 {
			continue
		}
		out = append(out, &unstructured.Unstructured{Object: obj})
	}
}
