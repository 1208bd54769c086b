package instance

import (
	"context"
	"fmt"
	"maps"
	"sort"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	kruntime "k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/kro-run/kro/internal/graph"
	"github.com/kro-run/kro/internal/metadata"
)

// knownInventory is what an instance's ApplySet held after its last complete pass: each
// object with the node that made it.
type knownInventory struct {
	generation int64
	objects    map[objectKey]string
}

// needsPrune reports whether this pass can have left objects behind: the inventory is unknown
// (kro restarted), the graph changed, or an object of the last pass is no longer wanted
// (template removed, includeWhen false, collection shrank). Otherwise listing the ApplySet
// would be wasted work.
func (r *Reconciler) needsPrune(g *graph.Graph, p *pass) bool {
	v, ok := r.inventory.Load(p.inst.GetUID())
	if !ok {
		return true
	}
	last := v.(knownInventory)
	if last.generation != g.Generation {
		return true
	}
	for k := range last.objects {
		if _, kept := p.keep[k]; !kept {
			return true
		}
	}
	return false
}

// pruneKnown deletes the objects of the last known inventory that this pass no longer wants.
func (r *Reconciler) pruneKnown(ctx context.Context, p *pass, last knownInventory) error {
	var stale []*unstructured.Unstructured
	for key, node := range last.objects {
		if _, kept := p.keep[key]; kept || p.notReady[node] {
			continue
		}
		mapping, err := r.opts.Client.RESTMapper().RESTMapping(schema.GroupKind{Group: key.group, Kind: key.kind})
		if err != nil {
			continue // The kind is gone from the cluster, and with it the object.
		}
		obj := &unstructured.Unstructured{}
		obj.SetGroupVersionKind(mapping.GroupVersionKind)
		err = r.opts.Client.Get(ctx, client.ObjectKey{Namespace: key.namespace, Name: key.name}, obj)
		if err != nil {
			continue
		}
		if obj.GetLabels()[metadata.ApplySetPartOfLabel] == p.setID {
			stale = append(stale, obj)
		}
	}
	return r.deleteObjects(ctx, stale, "prune")
}

// recordInventory remembers the objects of a complete pass.
func (r *Reconciler) recordInventory(g *graph.Graph, p *pass) {
	if len(p.notReady) > 0 {
		// Nodes still waiting may own objects this pass did not reach.
		if v, ok := r.inventory.Load(p.inst.GetUID()); ok {
			last := v.(knownInventory)
			objects := maps.Clone(last.objects)
			maps.Copy(objects, p.keep)
			r.inventory.Store(p.inst.GetUID(), knownInventory{generation: last.generation, objects: objects})
		}
		return
	}
	r.inventory.Store(p.inst.GetUID(), knownInventory{generation: g.Generation, objects: maps.Clone(p.keep)})
}

// prune deletes the objects of the instance's ApplySet that this pass did not want, except
// those of nodes still waiting for data (their desired state is unknown).
func (r *Reconciler) prune(ctx context.Context, g *graph.Graph, p *pass) error {
	complete := len(p.notReady) == 0
	if !r.needsPrune(g, p) {
		r.recordInventory(g, p)
		return r.syncInventory(ctx, g, p, complete)
	}
	if v, ok := r.inventory.Load(p.inst.GetUID()); ok {
		// The inventory is known: delete exactly what the last pass had and this one does not.
		if err := r.pruneKnown(ctx, p, v.(knownInventory)); err != nil {
			return err
		}
		r.recordInventory(g, p)
		return r.syncInventory(ctx, g, p, complete)
	}
	gvks, err := r.inventoryKinds(g, p.inst)
	if err != nil {
		return err
	}
	for _, gvk := range gvks {
		list := &unstructured.UnstructuredList{}
		list.SetGroupVersionKind(gvk.GroupVersion().WithKind(gvk.Kind + "List"))
		if err := r.opts.Client.List(ctx, list, client.MatchingLabels{metadata.ApplySetPartOfLabel: p.setID}); err != nil {
			return fmt.Errorf("listing %s: %w", gvk.Kind, err)
		}
		var stale []*unstructured.Unstructured
		for i := range list.Items {
			obj := &list.Items[i]
			if _, kept := p.keep[keyOf(obj)]; kept || p.notReady[obj.GetLabels()[metadata.NodeIDLabel]] {
				continue
			}
			stale = append(stale, obj)
		}
		if err := r.deleteObjects(ctx, stale, "prune"); err != nil {
			return fmt.Errorf("pruning %s: %w", gvk.Kind, err)
		}
	}
	r.recordInventory(g, p)
	return r.syncInventory(ctx, g, p, complete)
}

// inventoryKinds are the kinds the instance may have objects of: those of the graph and those
// the instance's ApplySet annotation recorded earlier.
func (r *Reconciler) inventoryKinds(g *graph.Graph, inst *unstructured.Unstructured) ([]schema.GroupVersionKind, error) {
	seen := map[schema.GroupKind]bool{}
	var out []schema.GroupVersionKind
	for _, n := range g.Nodes {
		if n.External == nil && !seen[n.GVK.GroupKind()] {
			seen[n.GVK.GroupKind()] = true
			out = append(out, n.GVK)
		}
	}
	for _, s := range strings.Split(inst.GetAnnotations()[metadata.ApplySetGroupKindsAnnotation], ",") {
		if s == "" {
			continue
		}
		gk := schema.ParseGroupKind(s)
		if seen[gk] {
			continue
		}
		seen[gk] = true
		mapping, err := r.opts.Client.RESTMapper().RESTMapping(gk)
		if err != nil {
			// The kind is gone from the cluster, and with it every object of it.
			continue
		}
		out = append(out, mapping.GroupVersionKind)
	}
	return out, nil
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
