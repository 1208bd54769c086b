package instance

import (
	"context"
	"fmt"
	"sort"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	kruntime "k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/kro-run/kro/internal/graph"
	"github.com/kro-run/kro/internal/metadata"
	"github.com/kro-run/kro/internal/metrics"
)

// needsPrune reports whether this pass can have left objects behind: the graph changed since
// the instance was last pruned, a node is excluded, or a collection may have shrunk.
// Otherwise every object of the ApplySet was just applied and listing it would be wasted work.
func (r *Reconciler) needsPrune(g *graph.Graph, p *pass) bool {
	if len(p.skipped) > 0 {
		return true
	}
	for _, n := range g.Nodes {
		if n.IsCollection() {
			return true
		}
	}
	last, ok := r.pruned.Load(p.inst.GetUID())
	return !ok || last.(int64) != g.Generation
}

// prune deletes the objects of the instance's ApplySet that this pass did not want, except
// those of nodes still waiting for data (their desired state is unknown).
func (r *Reconciler) prune(ctx context.Context, g *graph.Graph, p *pass) error {
	if !r.needsPrune(g, p) {
		return nil
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
		for i := range list.Items {
			obj := &list.Items[i]
			if p.keep[keyOf(obj)] || p.notReady[obj.GetLabels()[metadata.NodeIDLabel]] || obj.GetDeletionTimestamp() != nil {
				continue
			}
			ctrl.LoggerFrom(ctx).Info("Pruning resource", "node", obj.GetLabels()[metadata.NodeIDLabel], "kind", gvk.Kind, "name", objectName(obj))
			if err := r.opts.Client.Delete(ctx, obj, client.PropagationPolicy(metav1.DeletePropagationBackground)); err != nil && !apierrors.IsNotFound(err) {
				return fmt.Errorf("deleting %s %s: %w", gvk.Kind, objectName(obj), err)
			}
			r.applied.Delete(keyOf(obj))
			metrics.Deletions.WithLabelValues(r.kind(), "prune").Inc()
		}
	}
	if len(p.notReady) > 0 {
		return nil
	}
	// Everything outside the graph's kinds is gone: shrink the inventory to them.
	if err := r.shrinkInventory(ctx, g, p.inst); err != nil {
		return err
	}
	r.pruned.Store(p.inst.GetUID(), g.Generation)
	return nil
}

func (r *Reconciler) shrinkInventory(ctx context.Context, g *graph.Graph, inst *unstructured.Unstructured) error {
	want := joinSorted(graphGroupKinds(g))
	if inst.GetAnnotations()[metadata.ApplySetGroupKindsAnnotation] == want {
		return nil
	}
	before := inst.DeepCopy()
	annotations := inst.GetAnnotations()
	annotations[metadata.ApplySetGroupKindsAnnotation] = want
	inst.SetAnnotations(annotations)
	return r.opts.Client.Patch(ctx, inst, client.MergeFrom(before))
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
