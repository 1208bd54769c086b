package instance

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strconv"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/kro-run/kro/internal/graph"
	"github.com/kro-run/kro/internal/metadata"
	"github.com/kro-run/kro/internal/runtime"
)

// reconcileDelete deletes the instance's resources in waves, dependents first, and removes
// the finalizer once they are all gone. It evaluates no expression: the objects are those of
// the instance's ApplySet (found from the cluster), grouped by their apply order. A wave the
// API server deletes at once is followed by the next in the same reconcile; one that waits
// (finalizers, grace periods) is reported as DELETING, and the watch on the children brings the
// next reconcile when it is gone.
func (r *Reconciler) reconcileDelete(ctx context.Context, g *graph.Graph, inst *unstructured.Unstructured, applySetID string) (ctrl.Result, error) {
	if !hasFinalizer(inst) {
		return ctrl.Result{}, nil
	}
	st := newStatus(inst)
	st.state = StateDeleting
	st.set(ConditionResourcesReady, metav1.ConditionUnknown, "UnderDeletion", "deleting resources")
	blocked := func(err error) (ctrl.Result, error) {
		st.set(ConditionResourcesReady, metav1.ConditionUnknown, "UnderDeletion", "deletion blocked: "+err.Error())
		if werr := r.writeStatus(ctx, inst, st); werr != nil {
			return ctrl.Result{}, werr
		}
		return ctrl.Result{}, clusterError(err)
	}
	if err := checkInventory(inst, applySetID); err != nil {
		// Nothing is deleted: the objects the inventory no longer names would be orphaned.
		return blocked(err)
	}

	owned, err := r.listOwned(ctx, g, inst, applySetID, nil)
	if err != nil {
		return blocked(err)
	}
	for _, wave := range deletionWaves(g, owned) {
		done, err := r.removeOwned(ctx, wave, applySetID, "instance-deleted")
		if err != nil {
			return blocked(err)
		}
		if !done {
			return ctrl.Result{}, r.writeStatus(ctx, inst, st)
		}
	}

	kept := []string{}
	for _, f := range inst.GetFinalizers() {
		if f != metadata.Finalizer {
			kept = append(kept, f)
		}
	}
	patch, err := json.Marshal(map[string]any{"metadata": map[string]any{
		"finalizers": kept, "resourceVersion": inst.GetResourceVersion(),
	}})
	if err != nil {
		return ctrl.Result{}, err
	}
	ctrl.LoggerFrom(ctx).Info("Removing finalizer; all resources are deleted")
	r.lastStatus.Delete(inst.GetUID())
	r.appliedVersions.Delete(keyOf(inst))
	r.externals.set(client.ObjectKeyFromObject(inst), nil)
	if err := r.patchInstance(ctx, inst, patch, false); client.IgnoreNotFound(err) != nil {
		return ctrl.Result{}, clusterError(fmt.Errorf("removing finalizer: %w", err))
	}
	return ctrl.Result{}, nil
}

// deletionWaves groups owned objects into the order they are deleted in, dependents first.
// An object's wave is its apply order (see runtime.ApplyOrder), read from the object itself, so
// that objects written by the reference kro, or by an earlier graph, are deleted in their order.
// An object without one takes the order of its node (kro.run/node-id) in the current graph;
// one whose node the graph does not have goes first.
func deletionWaves(g *graph.Graph, owned []client.Object) [][]client.Object {
	byOrder := map[int][]client.Object{}
	for _, obj := range owned {
		order, err := strconv.Atoi(obj.GetAnnotations()[metadata.ApplyOrderAnnotation])
		if err != nil {
			// Without the annotation: its node's level; a node the graph does not have
			// gets the highest order.
			order = runtime.ApplyOrder(g, obj.GetLabels()[metadata.NodeIDLabel])
		}
		byOrder[order] = append(byOrder[order], obj)
	}
	orders := slices.Sorted(maps.Keys(byOrder))
	slices.Reverse(orders)
	waves := make([][]client.Object, 0, len(orders))
	for _, o := range orders {
		waves = append(waves, byOrder[o])
	}
	return waves
}

// collectOrphans removes what is left of an instance that no longer exists. Its objects
// normally go before its finalizer, but the API server can delete an instance at the moment kro
// adds its finalizer, finalizer included (kubernetes/kubernetes#77988), after kro applied
// objects for it. The instance is confirmed gone on the API server before anything is
// removed; objects of a new instance of the same name (another UID) are left to it.
func (r *Reconciler) collectOrphans(ctx context.Context, g *graph.Graph, req ctrl.Request) error {
	gvk := g.Instance.GVK
	gone := &unstructured.Unstructured{}
	gone.SetGroupVersionKind(gvk)
	gone.SetNamespace(req.Namespace)
	gone.SetName(req.Name)
	setID := metadata.ApplySetID(req.Name, req.Namespace, gvk.Kind, gvk.Group)
	owned, err := r.listOwned(ctx, g, gone, setID, nil)
	if err != nil || len(owned) == 0 {
		return err
	}
	live := &unstructured.Unstructured{}
	live.SetGroupVersionKind(gvk)
	switch err := r.opts.APIReader.Get(ctx, req.NamespacedName, live); {
	case apierrors.IsNotFound(err):
		live = nil
	case err != nil:
		return clusterError(err)
	}
	var orphans []client.Object
	for _, obj := range owned {
		if live == nil || obj.GetLabels()[metadata.InstanceIDLabel] != string(live.GetUID()) {
			orphans = append(orphans, obj)
		}
	}
	if len(orphans) == 0 {
		return nil
	}
	ctrl.LoggerFrom(ctx).Info("Removing the resources of an instance that no longer exists", "count", len(orphans))
	// Wave by wave; one that waits is finished when the watch on the children reports it.
	for _, wave := range deletionWaves(g, orphans) {
		if done, err := r.removeOwned(ctx, wave, setID, "instance-gone"); err != nil || !done {
			return err
		}
	}
	return nil
}
