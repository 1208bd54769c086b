package runtime

import (
	"encoding/json"
	"hash/fnv"
	"math"
	"slices"
	"strconv"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/kro-run/kro/api/v1alpha1"
	"github.com/kro-run/kro/internal/graph"
	"github.com/kro-run/kro/internal/metadata"
)

// Position is the place of an item in its forEach collection.
type Position struct {
	Index, Size int
}

// FinalizeOptions are the choices of Finalize.
type FinalizeOptions struct {
	// Item is the position of an item of a collection; nil for a single object.
	Item *Position
	// ArgoCDTracking copies the instance's Argo CD tracking annotation to the object when the
	// template does not set its own (beyond the reference, where each template has to copy
	// it), so that Argo CD shows the children under the application that owns the instance.
	ArgoCDTracking bool
}

// Finalize turns a rendered object of node n into exactly the object kro applies for the
// instance inst: the labels of the instance's children (with the collection index and size
// of an item), the instance's Argo CD tracking annotation, the apply order, the deletion
// policy of an orphaned resource, and the hash of all of it. The controller and the CLI's
// render both call it. It modifies obj.
func Finalize(g *graph.Graph, n *graph.Node, inst *unstructured.Unstructured, applySetID string, obj *unstructured.Unstructured, opts FinalizeOptions) error {
	labels := metadata.ChildLabels(ChildIdentity(g, inst), n.ID, applySetID)
	if opts.Item != nil {
		labels[metadata.CollectionIndexLabel] = strconv.Itoa(opts.Item.Index)
		labels[metadata.CollectionSizeLabel] = strconv.Itoa(opts.Item.Size)
	}
	l := obj.GetLabels()
	if l == nil {
		l = map[string]string{}
	}
	for k, v := range labels {
		l[k] = v
	}
	obj.SetLabels(l)

	annotations := obj.GetAnnotations()
	if annotations == nil {
		annotations = map[string]string{}
	}
	if id, ok := inst.GetAnnotations()[metadata.ArgoCDTrackingAnnotation]; ok && opts.ArgoCDTracking {
		if _, set := annotations[metadata.ArgoCDTrackingAnnotation]; !set {
			annotations[metadata.ArgoCDTrackingAnnotation] = id
		}
	}
	annotations[metadata.ApplyOrderAnnotation] = strconv.Itoa(ApplyOrder(g, n.ID))
	if n.Orphan {
		annotations[metadata.DeletionPolicyAnnotation] = string(v1alpha1.DeletionPolicyOrphaned)
	}
	obj.SetAnnotations(annotations)
	h, err := HashJSON(obj.Object)
	if err != nil {
		return err
	}
	annotations[metadata.DesiredHashAnnotation] = strconv.FormatUint(h, 36)
	obj.SetAnnotations(annotations)
	return nil
}

// HashJSON fingerprints a JSON value (map keys are marshalled in order).
func HashJSON(v any) (uint64, error) {
	raw, err := json.Marshal(v)
	if err != nil {
		return 0, err
	}
	return HashBytes(raw), nil
}

// HashBytes fingerprints bytes already encoded (the JSON HashJSON would make).
func HashBytes(raw []byte) uint64 {
	h := fnv.New64a()
	_, _ = h.Write(raw)
	return h.Sum64()
}

// ChildIdentity is the instance identity written on every child.
func ChildIdentity(g *graph.Graph, inst *unstructured.Unstructured) metadata.Instance {
	return metadata.Instance{
		UID:       string(inst.GetUID()),
		Name:      inst.GetName(),
		Namespace: inst.GetNamespace(),
		Group:     g.Instance.GVK.Group,
		Version:   g.Instance.GVK.Version,
		Kind:      g.Instance.GVK.Kind,
	}
}

// ApplyOrder is the one-based level of a node in the graph, as the reference kro writes it in
// the apply-order annotation; an unknown node sorts last.
func ApplyOrder(g *graph.Graph, id string) int {
	for i, ids := range g.Levels {
		if slices.Contains(ids, id) {
			return i + 1
		}
	}
	return math.MaxInt
}
