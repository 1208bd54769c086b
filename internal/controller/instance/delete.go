package instance

import (
	"context"
	"fmt"
	"maps"
	"math"
	"slices"
	"strconv"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/kro-run/kro/internal/graph"
	"github.com/kro-run/kro/internal/metadata"
)

// reconcileDelete deletes the instance's resources in waves, dependents first, and removes
// the finalizer once they are all gone. It evaluates no expression: the objects are those of
// the instance's ApplySet (found from the cluster), grouped by their node label. Objects of
// nodes the graph no longer has go in the first wave, then the graph's levels in reverse.
// Each wave is finished before the next starts; the watch on the children re-triggers the
// reconcile as objects disappear.
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

	owned, err := r.listOwned(ctx, g, inst, applySetID, nil)
	if err != nil {
		return ctrl.Result{}, err
	}
	for _, wave := range deletionWaves(g, owned) {
		if len(wave) == 0 {
			continue
		}
		if err := r.removeOwned(ctx, wave, applySetID, "instance-deleted"); err != nil {
			return ctrl.Result{}, err
		}
		// Wait for the watch to report this wave gone before the next one.
		return ctrl.Result{}, nil
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
	r.lastStatus.Delete(inst.GetUID())
	r.reread.Delete(inst.GetUID())
	r.externals.set(client.ObjectKeyFromObject(inst), nil)
	if err := r.opts.Client.Patch(ctx, inst, client.MergeFromWithOptions(before, client.MergeFromWithOptimisticLock{})); client.IgnoreNotFound(err) != nil {
		return ctrl.Result{}, clusterError(fmt.Errorf("removing finalizer: %w", err))
	}
	return ctrl.Result{}, nil
}

// deletionWaves groups owned objects into the order they are deleted in, dependents first.
// An object's wave is its apply order (see applyOrder), read from the object itself, so that
// objects written by the reference kro, or by an earlier graph, are deleted in their order;
// an object without one is of a node the graph does not know and goes first.
func deletionWaves(g *graph.Graph, owned []*unstructured.Unstructured) [][]*unstructured.Unstructured {
	byOrder := map[int][]*unstructured.Unstructured{}
	for _, obj := range owned {
		order, err := strconv.Atoi(obj.GetAnnotations()[metadata.ApplyOrderAnnotation])
		if err != nil {
			order = applyOrder(g, obj.GetLabels()[metadata.NodeIDLabel])
		}
		byOrder[order] = append(byOrder[order], obj)
	}
	orders := slices.Sorted(maps.Keys(byOrder))
	slices.Reverse(orders)
	waves := make([][]*unstructured.Unstructured, 0, len(orders))
	for _, o := range orders {
		waves = append(waves, byOrder[o])
	}
	return waves
}

// applyOrder is the one-based level of a node in the graph, as the reference kro writes it in
// the apply-order annotation: dependents have higher orders and are deleted first. A node the
// graph does not have gets the highest order.
func applyOrder(g *graph.Graph, id string) int {
	for i, ids := range g.Levels {
		if slices.Contains(ids, id) {
			return i + 1
		}
	}
	return math.MaxInt
}
