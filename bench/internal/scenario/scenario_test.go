package scenario

import (
	"context"
	"fmt"
	"testing"

	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/yaml"

	"github.com/kro-run/kro/api/v1alpha1"
	"github.com/kro-run/kro/internal/graph"
)

func TestScenarios(t *testing.T) {
	for name, sc := range All {
		var rgd map[string]any
		if err := yaml.Unmarshal([]byte(sc.RGD), &rgd); err != nil {
			t.Fatalf("%s: RGD: %v", name, err)
		}
		res, _, _ := unstructured.NestedSlice(rgd, "spec", "resources")
		if len(res) != len(sc.Children) {
			t.Fatalf("%s: RGD has %d resources, scenario %d children", name, len(res), len(sc.Children))
		}
		for i, r := range res {
			if id := r.(map[string]any)["id"]; id != sc.Children[i].ID {
				t.Fatalf("%s: resource %d is %v, child %s", name, i, id, sc.Children[i].ID)
			}
		}
		if kind, _, _ := unstructured.NestedString(rgd, "spec", "schema", "kind"); kind != sc.Kind || ByKind(kind) != sc {
			t.Fatalf("%s: kind %q", name, kind)
		}
	}
	applied := map[string]*unstructured.Unstructured{}
	for _, c := range Chain.Children {
		obj, err := Chain.Render("ns", "x", "v", c.ID, applied)
		if err != nil {
			t.Fatal(err)
		}
		applied[c.ID] = obj
	}
	if v, _, _ := unstructured.NestedString(applied["c"].Object, "data", "v"); v != "v-a-b-c" {
		t.Fatalf("chain c = %q", v)
	}
	if _, err := Chain.Render("ns", "x", "v", "b", nil); err == nil {
		t.Fatal("rendering b without a succeeded")
	}
	svc, err := Five.Render("ns", "x", "v", "svc", nil)
	if err != nil || svc.GetName() != "x-svc" || svc.GetLabels()[FloorInstanceLabel] != "x" || len(svc.GetLabels()) != 11 {
		t.Fatalf("svc = %v, %v", svc, err)
	}
}

func TestLevels(t *testing.T) {
	ids := func(levels [][]Child) [][]string {
		var out [][]string
		for _, l := range levels {
			var ids []string
			for _, c := range l {
				ids = append(ids, c.ID)
			}
			out = append(out, ids)
		}
		return out
	}
	if got := fmt.Sprint(ids(Chain.Levels())); got != "[[a] [b] [c]]" {
		t.Fatalf("chain levels = %s", got)
	}
	if got := fmt.Sprint(ids(Five.Levels())); got != "[[cm1 secret svc sa cm2]]" {
		t.Fatalf("five levels = %s", got)
	}
	diamond := &Scenario{Children: []Child{
		{ID: "root"}, {ID: "x", DependsOn: "root"}, {ID: "free"}, {ID: "y", DependsOn: "root"}, {ID: "z", DependsOn: "y"},
	}}
	if got := fmt.Sprint(ids(diamond.Levels())); got != "[[root free] [x y] [z]]" {
		t.Fatalf("levels = %s", got)
	}
}

// TestRGDsBuild checks that kro accepts every RGD of the bench (the scenarios and S7's
// external-ref graph): kro's graph builder, without the API server's schemas, checks syntax,
// names, references and dependencies; the instance kind's plural is the one kro generates.
func TestRGDsBuild(t *testing.T) {
	mapper := meta.NewDefaultRESTMapper(nil)
	for _, kind := range []string{"ConfigMap", "Secret", "Service", "ServiceAccount"} {
		mapper.Add(schema.GroupVersionKind{Version: "v1", Kind: kind}, meta.RESTScopeNamespace)
	}
	for _, sc := range []*Scenario{Chain, Five, External} {
		rgd := &v1alpha1.ResourceGraphDefinition{}
		if err := yaml.UnmarshalStrict([]byte(sc.RGD), rgd); err != nil {
			t.Fatalf("%s: decoding the RGD: %v", sc.Name, err)
		}
		if rgd.Name != sc.Name {
			t.Errorf("%s: RGD named %q", sc.Name, rgd.Name)
		}
		g, err := graph.NewBuilder(mapper).Build(context.Background(), rgd)
		if err != nil {
			t.Fatalf("%s: kro rejects the RGD: %v", sc.Name, err)
		}
		if g.Instance.GVR != sc.GVR(KroGroup) {
			t.Errorf("%s: kro serves %v, the bench watches %v", sc.Name, g.Instance.GVR, sc.GVR(KroGroup))
		}
		for _, c := range sc.Children {
			if n := g.Node(c.ID); n == nil || n.External != nil {
				t.Errorf("%s: child %s is not a template of the RGD", sc.Name, c.ID)
			}
		}
	}
	g, _ := graph.NewBuilder(mapper).Build(context.Background(), decodeRGD(t, External.RGD))
	if n := g.Node("source"); n == nil || n.External == nil || n.External.Selector {
		t.Errorf("external: source is not an externalRef by name: %+v", n)
	}
	if n := g.Node("secrets"); n == nil || n.External == nil || !n.External.Selector {
		t.Errorf("external: secrets is not an externalRef by selector: %+v", n)
	}
}

func decodeRGD(t *testing.T, src string) *v1alpha1.ResourceGraphDefinition {
	t.Helper()
	rgd := &v1alpha1.ResourceGraphDefinition{}
	if err := yaml.UnmarshalStrict([]byte(src), rgd); err != nil {
		t.Fatal(err)
	}
	return rgd
}

// TestExternal checks S7's external-ref graph against the objects it reads: the ConfigMap by
// name and exactly ExternalSecrets Secrets by its selector, the child's data from them.
func TestExternal(t *testing.T) {
	if _, ok := All[External.Name]; ok || ByKind(External.Kind) != nil {
		t.Fatal("the external-ref graph is kro's alone: the floor must not serve it")
	}
	rgd := decodeRGD(t, External.RGD)
	var sel map[string]string
	for _, r := range rgd.Spec.Resources {
		if r.ID == "secrets" && r.ExternalRef != nil && r.ExternalRef.Metadata.Selector != nil {
			if ns := r.ExternalRef.Metadata.Namespace; ns != "${schema.metadata.namespace}" {
				t.Errorf("secrets selects in %q, not the instance's namespace", ns)
			}
			sel = r.ExternalRef.Metadata.Selector.MatchLabels
		}
	}
	if len(sel) != 1 || sel[ExternalSourceLabel] != "true" {
		t.Fatalf("secrets selector = %v", sel)
	}
	var cms, secrets int
	for _, o := range ExternalSources("ns") {
		if o.GetNamespace() != "ns" {
			t.Errorf("%s in %q", o.GetName(), o.GetNamespace())
		}
		switch o.GetKind() {
		case "ConfigMap":
			cms++
			if v, _, _ := unstructured.NestedString(o.Object, "data", "v"); o.GetName() != ExternalSourceName || v != ExternalSourceValue {
				t.Errorf("source ConfigMap %s has v=%q", o.GetName(), v)
			}
		case "Secret":
			if o.GetLabels()[ExternalSourceLabel] == "true" {
				secrets++
			}
		}
	}
	if cms != 1 || secrets != ExternalSecrets {
		t.Fatalf("%d source ConfigMaps, %d selected Secrets", cms, secrets)
	}
	if got := fmt.Sprint(ExternalData("v7")); got != "map[secrets:3 source:from-s7-source value:v7]" {
		t.Fatalf("external data = %s", got)
	}
	if obj, err := External.Render("ns", "i-0001", "v1", "cm", nil); err != nil || obj.GetName() != "i-0001-cm" {
		t.Fatalf("render = %v, %v", obj, err)
	}
}
