package instance

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// TestWithResourceVersion: the object sent carries the resourceVersion asked for (or none),
// and the desired object it is made from stays as it was.
func TestWithResourceVersion(t *testing.T) {
	desired := func(rv string) *unstructured.Unstructured {
		meta := map[string]any{"name": "a", "labels": map[string]any{"k": "v"}}
		if rv != "" {
			meta["resourceVersion"] = rv
		}
		return &unstructured.Unstructured{Object: map[string]any{"apiVersion": "v1", "kind": "ConfigMap",
			"metadata": meta, "data": map[string]any{"x": "y"}}}
	}
	cases := []struct {
		name, had, rv string
	}{
		{"guarded create", "", ""},
		{"guarded adoption", "", "7"},
		{"replaces one", "3", "7"},
		{"removes one", "3", ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			d := desired(c.had)
			got := withResourceVersion(d, c.rv)
			if diff := cmp.Diff(desired(c.rv).Object, got.Object); diff != "" {
				t.Errorf("sent object (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(desired(c.had).Object, d.Object); diff != "" {
				t.Errorf("desired changed (-want +got):\n%s", diff)
			}
		})
	}
}
