package instance

import (
	"context"
	"fmt"

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

// deletionWaves groups owned objects into the order they are deleted in: objects of nodes the
// graph does not have first, then each level of the graph from the last to the first.
func deletionWaves(g *graph.Graph, owned []*unstructured.Unstructured) [][]*unstructured.Unstructured {
	level := map[string]int{}
	for i, ids := range g.Levels {
		for _, id := range ids {
			level[id] = i
		}
	}
	waves := make([][]*unstructured.Unstructured, len(g.Levels)+1)
	for _, obj := range owned {
		i, ok := level[obj.GetLabels()[metadata.NodeIDLabel]]
		if !ok {
			waves[0] = append(waves[0], obj)
			continue
		}
		waves[len(g.Levels)-i] = append(waves[len(g.Levels)-i], obj)
	}
	return waves
}
