package instance

import (
	"context"
	"fmt"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
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

	for i := len(g.Order) - 1; i >= 0; i-- {
		n := g.Node(g.Order[i])
		remaining, err := r.deleteNode(ctx, n, applySetID)
		if err != nil {
			return ctrl.Result{}, fmt.Errorf("resource %q: %w", n.ID, err)
		}
		if remaining > 0 {
			return ctrl.Result{}, nil
		}
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
	r.pruned.Delete(inst.GetUID())
	r.externals.set(client.ObjectKeyFromObject(inst), nil)
	if err := r.opts.Client.Patch(ctx, inst, client.MergeFromWithOptions(before, client.MergeFromWithOptimisticLock{})); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	return ctrl.Result{}, nil
}

// deleteNode deletes the objects of one node and returns how many still exist.
func (r *Reconciler) deleteNode(ctx context.Context, n *graph.Node, applySetID string) (int, error) {
	list := &unstructured.UnstructuredList{}
	list.SetGroupVersionKind(n.GVK.GroupVersion().WithKind(n.GVK.Kind + "List"))
	if err := r.opts.Client.List(ctx, list, client.MatchingLabels{
		metadata.ApplySetPartOfLabel: applySetID,
		metadata.NodeIDLabel:         n.ID,
	}); err != nil {
		return 0, err
	}
	for i := range list.Items {
		obj := &list.Items[i]
		if obj.GetDeletionTimestamp() != nil {
			continue
		}
		ctrl.LoggerFrom(ctx).Info("Deleting resource", "node", n.ID, "kind", n.GVK.Kind, "name", obj.GetName(), "namespace", obj.GetNamespace())
		if err := r.opts.Client.Delete(ctx, obj, client.PropagationPolicy(metav1.DeletePropagationBackground)); err != nil && !apierrors.IsNotFound(err) {
			return 0, err
		}
		r.applied.Delete(keyOf(obj))
		metrics.Deletions.WithLabelValues(r.kind(), "instance-deleted").Inc()
	}
	return len(list.Items), nil
}
