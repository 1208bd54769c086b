package instance

import (
	"testing"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/kro-run/kro/internal/graph"
	"github.com/kro-run/kro/internal/graph/crd"
)

// TestDefaulterAppliesNewSchema: an instance read before its CRD gained a defaulted field gets
// the default from the graph, and a new graph replaces the old defaults.
func TestDefaulterAppliesNewSchema(t *testing.T) {
	graphWith := func(defaults map[string]string) *graph.Graph {
		props := map[string]apiextensionsv1.JSONSchemaProps{}
		for k, v := range defaults {
			props[k] = apiextensionsv1.JSONSchemaProps{Type: "string", Default: &apiextensionsv1.JSON{Raw: []byte(`"` + v + `"`)}}
		}
		return &graph.Graph{CRD: crd.New(crd.Options{Group: "kro.run", Version: "v1alpha1", Kind: "Demo", Namespaced: true,
			Spec: &apiextensionsv1.JSONSchemaProps{Type: "object", Properties: props}})}
	}
	inst := func() *unstructured.Unstructured {
		u := &unstructured.Unstructured{Object: map[string]any{"spec": map[string]any{"name": "set"}}}
		u.SetGroupVersionKind(schema.GroupVersionKind{Group: "kro.run", Version: "v1alpha1", Kind: "Demo"})
		return u
	}
	var d defaulter
	cases := []struct {
		name string
		g    *graph.Graph
		want map[string]any
	}{
		{"old schema", graphWith(map[string]string{"name": "n"}), map[string]any{"name": "set"}},
		{"field added with a default", graphWith(map[string]string{"name": "n", "note": "added"}), map[string]any{"name": "set", "note": "added"}},
		{"default changed", graphWith(map[string]string{"name": "n", "note": "changed"}), map[string]any{"name": "set", "note": "changed"}},
	}
	for _, c := range cases {
		u := inst()
		if err := d.apply(c.g, u); err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		got, _, _ := unstructured.NestedMap(u.Object, "spec")
		if len(got) != len(c.want) || got["name"] != c.want["name"] || got["note"] != c.want["note"] {
			t.Errorf("%s: spec = %v, want %v", c.name, got, c.want)
		}
	}
}
