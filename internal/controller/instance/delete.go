package instance

import (
	"context"
	"fmt"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/kro-run/kro/internal/graph"
	"github.com/kro-run/kro/internal/metadata"
	"github.com/kro-run/kro/internal/metrics"
)

// reconcileDelete deletes the instance's resources in waves, dependents first, and removes
// the finalizer once they are all gone. It evaluates no expression: objects are found by their
// ApplySet and node labels. Each wave is finished before the next starts; the watch on the
// children re-triggers the reconcile as objects disappear.
func (r *Reconciler) reconcileDelete(ctx context.Context, g *graph.Graph, inst *unstructured.Unstructured, applySetID string) (ctrl.Result, error) {
	if !hasFinalizer(inst) {
		return ctrl.Result{}, nil
	}
	st := newStatus(inst)
	st.state = StateDeleting
	st.set(ConditionInstanceManaged, metav1.ConditionTrue, "Deleting", "deleting the instance's resources")
	if err := r.writeStatus(ctx, inst, st); err != nil {
		return ctrl.Result{}, err
	}

	// Waves: the graph's levels in reverse, so dependents go before what they depend on; the
	// nodes of one level go together.
	var inv *knownInventory
	if v, ok := r.inventory.Load(inst.GetUID()); ok {
		known := v.(knownInventory)
		inv = &known
	}
	for i := len(g.Levels) - 1; i >= 0; i-- {
		remaining := 0
		for _, id := range g.Levels[i] {
			n := g.Node(id)
			if n.External != nil {
				continue
			}
			left, err := r.deleteNode(ctx, n, applySetID, inv)
			if err != nil {
				return ctrl.Result{}, fmt.Errorf("resource %q: %w", n.ID, err)
			}
			remaining += left
		}
		if remaining > 0 {
			return ctrl.Result{}, nil
		}
	}
	// Objects of nodes the graph no longer has (their template was removed).
	if left, err := r.deleteLeftovers(ctx, g, inst, applySetID, inv); err != nil || left > 0 {
		return ctrl.Result{}, err
	}

	before := inst.DeepCopy()
	var kept []string
	for _, f := range inst.GetFinalizers() {
		if f != metadata.Finalizer {
			kept = append(kept, f)
		}
	}
	inst.SetFinalizers(kept)
	ctrl.LoggerFrom(ctx).Info("Removing finalizer; all resources are deleted")
	r.inventory.Delete(inst.GetUID())
	r.lastStatus.Delete(inst.GetUID())
	r.externals.set(client.ObjectKeyFromObject(inst), nil)
	if err := r.opts.Client.Patch(ctx, inst, client.MergeFromWithOptions(before, client.MergeFromWithOptimisticLock{})); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	return ctrl.Result{}, nil
}

// deleteNode deletes the objects of one node and returns how many still exist. With a known
// inventory the objects are looked up by name in the cache; otherwise they are listed by their
// ApplySet and node labels.
func (r *Reconciler) deleteNode(ctx context.Context, n *graph.Node, applySetID string, inv *knownInventory) (int, error) {
	var objs []*unstructured.Unstructured
	if inv != nil {
		for key, node := range inv.objects {
			if node != n.ID {
				continue
			}
			obj := &unstructured.Unstructured{}
			obj.SetGroupVersionKind(n.GVK)
			err := r.opts.Client.Get(ctx, client.ObjectKey{Namespace: key.namespace, Name: key.name}, obj)
			if apierrors.IsNotFound(err) {
				continue
			}
			if err != nil {
				return 0, err
			}
			objs = append(objs, obj)
		}
	} else {
		list := &unstructured.UnstructuredList{}
		list.SetGroupVersionKind(n.GVK.GroupVersion().WithKind(n.GVK.Kind + "List"))
		if err := r.opts.Client.List(ctx, list, client.MatchingLabels{
			metadata.ApplySetPartOfLabel: applySetID,
			metadata.NodeIDLabel:         n.ID,
		}); err != nil {
			return 0, err
		}
		for i := range list.Items {
			objs = append(objs, &list.Items[i])
		}
	}
	return len(objs), r.deleteObjects(ctx, objs, "instance-deleted")
}

// deleteLeftovers deletes the instance's objects that belong to no node of the graph.
func (r *Reconciler) deleteLeftovers(ctx context.Context, g *graph.Graph, inst *unstructured.Unstructured, applySetID string, inv *knownInventory) (int, error) {
	var objs []*unstructured.Unstructured
	if inv != nil {
		for key, node := range inv.objects {
			if g.Node(node) != nil {
				continue
			}
			mapping, err := r.opts.Client.RESTMapper().RESTMapping(schema.GroupKind{Group: key.group, Kind: key.kind})
			if err != nil {
				continue
			}
			obj := &unstructured.Unstructured{}
			obj.SetGroupVersionKind(mapping.GroupVersionKind)
			if err := r.opts.Client.Get(ctx, client.ObjectKey{Namespace: key.namespace, Name: key.name}, obj); err == nil {
				objs = append(objs, obj)
			}
		}
	} else {
		gvks, err := r.inventoryKinds(g, inst)
		if err != nil {
			return 0, err
		}
		for _, gvk := range gvks {
			list := &unstructured.UnstructuredList{}
			list.SetGroupVersionKind(gvk.GroupVersion().WithKind(gvk.Kind + "List"))
			if err := r.opts.Client.List(ctx, list, client.MatchingLabels{metadata.ApplySetPartOfLabel: applySetID}); err != nil {
				return 0, err
			}
			for i := range list.Items {
				if g.Node(list.Items[i].GetLabels()[metadata.NodeIDLabel]) == nil {
					objs = append(objs, &list.Items[i])
				}
			}
		}
	}
	return len(objs), r.deleteObjects(ctx, objs, "instance-deleted")
}

// deleteObjects deletes objects not already being deleted.
func (r *Reconciler) deleteObjects(ctx context.Context, objs []*unstructured.Unstructured, reason string) error {
	for _, obj := range objs {
		if obj.GetDeletionTimestamp() != nil {
			continue
		}
		ctrl.LoggerFrom(ctx).Info("Deleting resource", "node", obj.GetLabels()[metadata.NodeIDLabel], "kind", obj.GetKind(), "name", objectName(obj))
		if err := r.opts.Client.Delete(ctx, obj, client.PropagationPolicy(metav1.DeletePropagationBackground)); err != nil && !apierrors.IsNotFound(err) {
			return err
		}
		r.applied.Delete(keyOf(obj))
		metrics.Deletions.WithLabelValues(r.kind(), reason).Inc()
	}
	return nil
}
