package scenario

import (
	"fmt"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"
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
