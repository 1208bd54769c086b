package integration

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	goruntime "runtime"
	"strings"
	"testing"

	"github.com/onsi/gomega"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	"github.com/kro-run/kro/api/v1alpha1"
)

// docsFieldOwner is the field manager of the objects TestDocs applies.
const docsFieldOwner = "kro-docs-test"

// Markers that change how TestDocs treats the yaml block right after them, on the line before
// its fence: `<!-- docs-test: invalid -->` (kro or the API server must reject it; an optional
// `: text` after invalid is a part of the expected error message) and
// `<!-- docs-test: fragment -->` (parsed as YAML only).
var docsMarker = regexp.MustCompile(`^<!--\s*docs-test:\s*(invalid|fragment)(?::\s*(.*?))?\s*-->$`)

// docBlock is one ```yaml block of a page.
type docBlock struct {
	// line is the line of the opening fence, for messages.
	line int
	// marker is "", "invalid" or "fragment"; want is the expected message of an invalid block.
	marker, want string
	text         string
}

// docObject is one Kubernetes object of a page.
type docObject struct {
	obj   *unstructured.Unstructured
	block docBlock
}

func (o docObject) String() string {
	return fmt.Sprintf("line %d: %s %s", o.block.line, o.obj.GetKind(), o.obj.GetName())
}

// TestDocs exercises every YAML block of the pages under docs/ (operations.md excepted:
// test/install checks its YAML) on the live cluster, as a reader would use it:
//
//   - every block parses as Kubernetes objects (a fragment only as YAML);
//   - the RGDs of a page are created and must become Active, an invalid one must be refused
//     by the API server or reported Ready=False;
//   - then the other objects of the page are applied server-side in a fresh namespace, an
//     invalid one must be refused by the API server, and every instance of the page's kinds
//     must become ACTIVE, and be gone after deletion.
//
// It also checks that docs/README.md links every page and that relative links resolve.
func TestDocs(t *testing.T) {
	root := docsRoot()
	pages := docPages(t, root)

	t.Run("Index", func(t *testing.T) { checkDocsIndex(t, root, pages) })
	t.Run("Links", func(t *testing.T) {
		for _, p := range pages {
			checkDocLinks(t, root, p)
		}
	})

	objects := map[string][]docObject{}
	for _, p := range pages {
		if filepath.Base(p) == "operations.md" {
			continue
		}
		objects[p] = docObjects(t, root, p)
	}
	checkDocsUnique(t, objects)

	for _, p := range pages {
		objs, ok := objects[p]
		if !ok || len(objs) == 0 {
			continue
		}
		rel, _ := filepath.Rel(root, p)
		t.Run(strings.TrimSuffix(rel, ".md"), func(t *testing.T) {
			t.Parallel()
			testDocPage(t, objs)
		})
	}
}

// docsRoot is the docs/ folder of the repository.
func docsRoot() string {
	_, file, _, _ := goruntime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..", "docs")
}

// docPages lists every markdown page under root.
func docPages(t *testing.T, root string) []string {
	t.Helper()
	var pages []string
	err := filepath.WalkDir(root, func(path string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.HasSuffix(path, ".md") {
			pages = append(pages, path)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(pages) == 0 {
		t.Fatal("no pages under docs/")
	}
	return pages
}

// docLink matches the target of a markdown link.
var docLink = regexp.MustCompile(`\]\(([^)\s]+)\)`)

// localLinks returns the relative link targets of a page, without their #anchor.
func localLinks(t *testing.T, page string) []string {
	t.Helper()
	data, err := os.ReadFile(page)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, m := range docLink.FindAllStringSubmatch(string(data), -1) {
		target := m[1]
		if strings.Contains(target, "://") || strings.HasPrefix(target, "#") || strings.HasPrefix(target, "mailto:") {
			continue
		}
		target, _, _ = strings.Cut(target, "#")
		out = append(out, target)
	}
	return out
}

// checkDocsIndex checks that docs/README.md links every other page.
func checkDocsIndex(t *testing.T, root string, pages []string) {
	index := filepath.Join(root, "README.md")
	linked := map[string]bool{}
	for _, target := range localLinks(t, index) {
		linked[filepath.Clean(filepath.Join(root, target))] = true
	}
	for _, p := range pages {
		if p != index && !linked[filepath.Clean(p)] {
			rel, _ := filepath.Rel(root, p)
			t.Errorf("docs/README.md does not link %s", rel)
		}
	}
}

// checkDocLinks checks that the relative links of a page point at files that exist.
func checkDocLinks(t *testing.T, root, page string) {
	for _, target := range localLinks(t, page) {
		if _, err := os.Stat(filepath.Join(filepath.Dir(page), target)); err != nil {
			rel, _ := filepath.Rel(root, page)
			t.Errorf("docs/%s: broken link %q", rel, target)
		}
	}
}

// docBlocks extracts the ```yaml blocks of a page with their markers.
func docBlocks(t *testing.T, page string) []docBlock {
	t.Helper()
	data, err := os.ReadFile(page)
	if err != nil {
		t.Fatal(err)
	}
	var (
		blocks []docBlock
		cur    *docBlock // the block being read
		indent string    // the indentation of its fence
		body   strings.Builder
		marker *docBlock // a marker waiting for its block
	)
	for i, line := range strings.Split(string(data), "\n") {
		n, trimmed := i+1, strings.TrimSpace(line)
		if cur != nil {
			if trimmed == "```" {
				cur.text = body.String()
				blocks = append(blocks, *cur)
				cur = nil
			} else {
				body.WriteString(strings.TrimPrefix(line, indent) + "\n")
			}
			continue
		}
		switch m := docsMarker.FindStringSubmatch(trimmed); {
		case trimmed == "```yaml" || trimmed == "```yml":
			cur = &docBlock{line: n}
			if marker != nil {
				cur.marker, cur.want = marker.marker, marker.want
			}
			marker = nil
			indent = line[:strings.Index(line, "`")]
			body.Reset()
		case m != nil:
			marker = &docBlock{line: n, marker: m[1], want: m[2]}
		case strings.HasPrefix(trimmed, "<!--") && strings.Contains(trimmed, "docs-test"):
			t.Errorf("%s:%d: malformed marker %q", page, n, trimmed)
		case marker != nil && trimmed != "":
			t.Errorf("%s:%d: the marker is not right before a yaml block", page, marker.line)
			marker = nil
		}
	}
	if cur != nil {
		t.Fatalf("%s:%d: yaml block is not closed", page, cur.line)
	}
	if marker != nil {
		t.Errorf("%s:%d: the marker is not right before a yaml block", page, marker.line)
	}
	return blocks
}

// docObjects parses the blocks of a page into objects; fragments only need to be YAML.
func docObjects(t *testing.T, root, page string) []docObject {
	t.Helper()
	rel, _ := filepath.Rel(root, page)
	var out []docObject
	for _, b := range docBlocks(t, page) {
		where := fmt.Sprintf("docs/%s:%d", rel, b.line)
		dec := utilyaml.NewYAMLOrJSONDecoder(strings.NewReader(b.text), 4096)
		for {
			if b.marker == "fragment" {
				var v any
				if err := dec.Decode(&v); errors.Is(err, io.EOF) {
					break
				} else if err != nil {
					t.Errorf("%s: fragment is not YAML: %v", where, err)
					break
				}
				continue
			}
			m := map[string]any{}
			if err := dec.Decode(&m); errors.Is(err, io.EOF) {
				break
			} else if err != nil {
				t.Errorf("%s: %v", where, err)
				break
			}
			if len(m) == 0 {
				continue
			}
			obj := &unstructured.Unstructured{Object: m}
			if obj.GetAPIVersion() == "" || obj.GetKind() == "" || obj.GetName() == "" {
				t.Errorf("%s: not a Kubernetes object (apiVersion, kind and metadata.name are required); mark fragments with <!-- docs-test: fragment -->", where)
				continue
			}
			if obj.GroupVersionKind() == rgdGVK && b.marker == "" {
				raw, _ := yaml.Marshal(m)
				if err := yaml.UnmarshalStrict(raw, &v1alpha1.ResourceGraphDefinition{}); err != nil {
					t.Errorf("%s: RGD %s: %v", where, obj.GetName(), err)
				}
			}
			out = append(out, docObject{obj: obj, block: b})
		}
	}
	return out
}

// checkDocsUnique checks that no two pages, nor a page and an example, define the same RGD
// name or generated kind: pages run in parallel on one cluster, and a CRD belongs to one RGD.
func checkDocsUnique(t *testing.T, pages map[string][]docObject) {
	rgds := map[string][]*unstructured.Unstructured{}
	for page, objs := range pages {
		for _, o := range objs {
			rgds[page] = append(rgds[page], o.obj)
		}
	}
	_, file, _, _ := goruntime.Caller(0)
	examples, _ := filepath.Glob(filepath.Join(filepath.Dir(file), "..", "..", "examples", "*", "rgd.yaml"))
	for _, e := range examples {
		rgds[e] = readDocs(t, e, true)
	}
	names, kinds := map[string]string{}, map[string]string{}
	for file, objs := range rgds {
		for _, obj := range objs {
			if obj.GroupVersionKind() != rgdGVK {
				continue
			}
			if other, dup := names[obj.GetName()]; dup && other != file {
				t.Errorf("RGD %s is defined in %s and in %s", obj.GetName(), file, other)
			}
			names[obj.GetName()] = file
			if gk := generatedKind(obj); !gk.Empty() {
				if other, dup := kinds[gk.String()]; dup && other != file {
					t.Errorf("kind %s is defined in %s and in %s", gk, file, other)
				}
				kinds[gk.String()] = file
			}
		}
	}
}

// generatedKind is the group and kind an RGD object generates.
func generatedKind(rgd *unstructured.Unstructured) schema.GroupKind {
	kind, _, _ := unstructured.NestedString(rgd.Object, "spec", "schema", "kind")
	group, _, _ := unstructured.NestedString(rgd.Object, "spec", "schema", "group")
	if group == "" {
		group = "kro.run"
	}
	if kind == "" {
		return schema.GroupKind{}
	}
	return schema.GroupKind{Group: group, Kind: kind}
}

func testDocPage(t *testing.T, objs []docObject) {
	g := gomega.NewWithT(t)
	ctx := context.Background()

	// The RGDs first; one may use the kind of another, so create all, then wait.
	kinds := map[schema.GroupKind]bool{}
	var valid, invalid []docObject
	for _, o := range objs {
		if o.obj.GroupVersionKind() != rgdGVK {
			continue
		}
		err := env.client.Create(ctx, o.obj.DeepCopy())
		if o.block.marker == "invalid" {
			if err != nil {
				expectRejected(g, o, err)
				continue
			}
			invalid = append(invalid, o)
		} else {
			g.Expect(errText(err)).To(gomega.BeEmpty(), "%s", o)
			valid = append(valid, o)
			kinds[generatedKind(o.obj)] = true
		}
		name := o.obj.GetName()
		t.Cleanup(func() {
			_ = env.client.Delete(context.Background(), &v1alpha1.ResourceGraphDefinition{ObjectMeta: metav1.ObjectMeta{Name: name}})
		})
	}
	for _, o := range valid {
		g.Eventually(func(g gomega.Gomega) {
			rgd := getRGD(g, o.obj.GetName())
			ready := rgdCondition(g, o.obj.GetName(), v1alpha1.ConditionReady)
			g.Expect(ready.Status).To(gomega.Equal(metav1.ConditionTrue), "%s: %s", o, ready.Message)
			g.Expect(rgd.Status.State).To(gomega.Equal(v1alpha1.ResourceGraphDefinitionStateActive))
		}).Should(gomega.Succeed(), "%s must become Active", o)
	}
	for _, o := range invalid {
		g.Eventually(func(g gomega.Gomega) {
			rgd := getRGD(g, o.obj.GetName())
			ready := rgdCondition(g, o.obj.GetName(), v1alpha1.ConditionReady)
			g.Expect(ready.ObservedGeneration).To(gomega.Equal(rgd.Generation))
			g.Expect(ready.Status).To(gomega.Equal(metav1.ConditionFalse), "%s must be refused", o)
			g.Expect(rgd.Status.State).To(gomega.Equal(v1alpha1.ResourceGraphDefinitionStateInactive))
			g.Expect(ready.Message).To(gomega.ContainSubstring(o.block.want), "%s", o)
		}).Should(gomega.Succeed(), "%s must be refused with Ready=False", o)
	}

	// The other objects, as the reader applies them, in a fresh namespace.
	ns := newNamespace(t, g)
	var instances []*unstructured.Unstructured
	for _, o := range objs {
		if o.obj.GroupVersionKind() == rgdGVK {
			continue
		}
		obj := o.obj.DeepCopy()
		g.Eventually(func(g gomega.Gomega) {
			setNamespace(g, obj, ns) // the client learns the new kinds on a miss
		}).Should(gomega.Succeed(), "%s: kind not served", o)
		err := env.client.Apply(ctx, client.ApplyConfigurationFromUnstructured(obj), client.FieldOwner(docsFieldOwner), client.ForceOwnership)
		if o.block.marker == "invalid" {
			g.Expect(err).To(gomega.HaveOccurred(), "%s must be refused by the API server", o)
			expectRejected(g, o, err)
			continue
		}
		g.Expect(errText(err)).To(gomega.BeEmpty(), "%s", o)
		t.Cleanup(func() { _ = env.client.Delete(context.Background(), obj) })
		if kinds[obj.GroupVersionKind().GroupKind()] {
			instances = append(instances, obj)
		} else if k := obj.GroupVersionKind(); k.Group == "kro.run" && k.Kind != "ResourceGraphDefinition" {
			t.Errorf("%s: an instance of a kind that no RGD of this page defines", o)
		}
	}

	for _, inst := range instances {
		g.Eventually(func(g gomega.Gomega) {
			markDeploymentsAvailable(g, ns)
			got := get(g, inst.GroupVersionKind(), inst.GetNamespace(), inst.GetName())
			g.Expect(got).NotTo(gomega.BeNil())
			g.Expect(str(got, "status", "state")).To(gomega.Equal("ACTIVE"), "status: %v", got.Object["status"])
		}).Should(gomega.Succeed(), "%s %s/%s must become ACTIVE", inst.GetKind(), inst.GetNamespace(), inst.GetName())
	}

	// Deleting the instances deletes what kro created for them and lets the RGDs go.
	for _, inst := range instances {
		g.Expect(client.IgnoreNotFound(env.client.Delete(ctx, inst))).To(gomega.Succeed())
	}
	for _, inst := range instances {
		g.Eventually(func(g gomega.Gomega) {
			g.Expect(get(g, inst.GroupVersionKind(), inst.GetNamespace(), inst.GetName())).To(gomega.BeNil())
		}).Should(gomega.Succeed(), "deleting %s %s", inst.GetKind(), inst.GetName())
	}
}

// expectRejected checks that the API server refused an invalid object, with the expected
// message when the marker gives one.
func expectRejected(g gomega.Gomega, o docObject, err error) {
	g.Expect(apierrors.IsInvalid(err) || apierrors.IsBadRequest(err)).To(gomega.BeTrue(), "%s: want a validation error, got %v", o, err)
	g.Expect(err.Error()).To(gomega.ContainSubstring(o.block.want), "%s", o)
}

// errText is the message of err, "" for nil: a failed create or apply then reads as its
// message, not as a dump of the API status.
func errText(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}
