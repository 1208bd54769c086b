package instance

import (
	"context"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/kro-run/kro/internal/graph"
	"github.com/kro-run/kro/internal/metadata"
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
				r.recordApplied(obj(tc.recorded, kroLabels, kroAnnotations), true, "")
			}
			// Whatever changed since, the object is at a newer version than kro recorded.
			tc.live.SetResourceVersion("2")
			if got := r.heldSinceApply(desired, tc.live, "h1", true); got != tc.want {
				t.Errorf("heldSinceApply = %v, want %v", got, tc.want)
			}
		})
	}
}

// countingReader is a client.Reader that finds nothing and counts its reads of one object.
type countingReader struct{ reads int }

func (c *countingReader) Get(context.Context, client.ObjectKey, client.Object, ...client.GetOption) error {
	c.reads++
	return apierrors.NewNotFound(schema.GroupResource{Resource: "configmaps"}, "")
}

func (c *countingReader) List(context.Context, client.ObjectList, ...client.ListOption) error {
	return nil
}

// TestCacheBehindOwnApply: when the cache still shows an object of a metadata-only kind at the
// version kro's last apply replaced (the apply's watch event has not arrived yet), the object
// holds what kro applied: no read. Any other version is compared on the whole object, and an
// object of a kind kro reads whole is compared on its content.
func TestCacheBehindOwnApply(t *testing.T) {
	configMap := schema.GroupVersionKind{Version: "v1", Kind: "ConfigMap"}
	obj := func(rv, value string) *unstructured.Unstructured {
		u := &unstructured.Unstructured{Object: map[string]any{"data": map[string]any{"value": value}}}
		u.SetGroupVersionKind(configMap)
		u.SetNamespace("ns")
		u.SetName("c")
		u.SetResourceVersion(rv)
		u.SetLabels(map[string]string{metadata.ApplySetPartOfLabel: "set"})
		u.SetAnnotations(map[string]string{metadata.DesiredHashAnnotation: "h1"})
		return u
	}
	desired := obj("", "desired")
	// The version kro's apply replaced had the hash of what kro applied before: h0.
	replacedVersion := obj("2", "")
	replacedVersion.SetAnnotations(map[string]string{metadata.DesiredHashAnnotation: "h0"})
	cases := []struct {
		name         string
		applied      string // the desired hash kro's last apply wrote
		live         *unstructured.Unstructured
		metadataOnly bool
		wantHolds    bool
		wantReads    int
	}{
		{"metadata-only, cache at the replaced version", "h1", obj("2", ""), true, true, 0},
		{"metadata-only, cache at the applied version", "h1", obj("3", ""), true, true, 0},
		{"metadata-only, changed since the apply", "h1", obj("4", ""), true, false, 1},
		{"metadata-only, cache at the replaced version, desired changed back to it", "h9", obj("2", ""), true, false, 1},
		{"metadata-only, cache at the replaced version of other content", "h1", replacedVersion, true, false, 0},
		{"whole object, cache at the replaced version", "h1", obj("2", "changed"), false, false, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			reader := &countingReader{}
			r := New(&graph.Graph{}, Options{APIReader: reader})
			applied := obj("3", "desired")
			applied.SetAnnotations(map[string]string{metadata.DesiredHashAnnotation: tc.applied})
			r.recordApplied(applied, tc.metadataOnly, "2")
			_, holds := r.holdsDesired(context.Background(), configMap, desired, tc.live, "set", tc.metadataOnly)
			if holds != tc.wantHolds || reader.reads != tc.wantReads {
				t.Errorf("holdsDesired = %v with %d reads, want %v with %d", holds, reader.reads, tc.wantHolds, tc.wantReads)
			}
		})
	}
}
