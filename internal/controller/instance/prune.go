package instance

import (
	"context"
	"sort"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	kruntime "k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/kro-run/kro/internal/graph"
	"github.com/kro-run/kro/internal/metadata"
)

// prune deletes the objects of the instance's ApplySet that this pass did not want (template
// removed, includeWhen false, collection shrank), except those of nodes still waiting for data
// (their desired state is unknown), then brings the ApplySet annotations up to date.
func (r *Reconciler) prune(ctx context.Context, g *graph.Graph, p *pass) error {
	owned, err := r.listOwned(ctx, g, p.inst, p.setID, p.keep)
	if err != nil {
		return err
	}
	var stale []client.Object
	for _, obj := range owned {
		if _, kept := p.keep[keyOf(obj)]; kept || p.notReady[labelOf(obj, metadata.NodeIDLabel)] {
			continue
		}
		stale = append(stale, obj)
	}
	if _, err := r.removeOwned(ctx, stale, p.setID, "prune"); err != nil {
		return err
	}
	return r.syncInventory(ctx, p, len(p.notReady) == 0)
}

func fromUnstructured(m map[string]any, into any) error {
	return kruntime.DefaultUnstructuredConverter.FromUnstructured(m, into)
}

// sortObjects orders objects by namespace and name, so lists read by expressions are stable.
func sortObjects(objs []*unstructured.Unstructured) {
	sort.Slice(objs, func(i, j int) bool {
		if objs[i].GetNamespace() != objs[j].GetNamespace() {
			return objs[i].GetNamespace() < objs[j].GetNamespace()
		}
		return objs[i].GetName() < objs[j].GetName()
	})
}
