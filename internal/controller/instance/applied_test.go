package instance

import (
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/kro-run/kro/internal/graph"
)

// TestSpecUnchangedSinceApply: an object of a metadata-only kind whose generation is the one
// kro applied, and which still has kro's labels and annotations, only had its status changed
// (no read needed); anything else must be compared on the whole object.
func TestSpecUnchangedSinceApply(t *testing.T) {
	obj := func(generation int64, labels, annotations map[string]string) *unstructured.Unstructured {
		u := &unstructured.Unstructured{}
		u.SetGroupVersionKind(schema.GroupVersionKind{Group: "apps", Version: "v1", Kind: "Deployment"})
		u.SetNamespace("ns")
		u.SetName("web")
		u.SetResourceVersion("1")
		u.SetGeneration(generation)
		u.SetLabels(labels)
		u.SetAnnotations(annotations)
		return u
	}
	kroLabels := map[string]string{"kro.run/owned": "true"}
	kroAnnotations := map[string]string{"internal.kro.run/desired-hash": "h1"}
	desired := obj(0, kroLabels, kroAnnotations)
	cases := map[string]struct {
		recorded int64 // generation recorded at apply; 0: nothing recorded
		live     *unstructured.Unstructured
		want     bool
	}{
		"StatusOnly":            {2, obj(2, map[string]string{"kro.run/owned": "true", "team": "a"}, kroAnnotations), true},
		"SpecChanged":           {2, obj(3, kroLabels, kroAnnotations), false},
		"LabelRemoved":          {2, obj(2, map[string]string{"team": "a"}, kroAnnotations), false},
		"AnnotationChanged":     {2, obj(2, kroLabels, map[string]string{"internal.kro.run/desired-hash": "other"}), false},
		"KindWithoutGeneration": {0, obj(0, kroLabels, kroAnnotations), false},
		"NothingRecorded":       {0, obj(2, kroLabels, kroAnnotations), false},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			r := New(&graph.Graph{}, Options{})
			if tc.recorded > 0 {
				r.recordApplied(obj(tc.recorded, kroLabels, kroAnnotations), true)
			}
			if got := r.specUnchangedSinceApply(desired, tc.live); got != tc.want {
				t.Errorf("specUnchangedSinceApply = %v, want %v", got, tc.want)
			}
		})
	}
}
