package instance

import (
	"context"
	"errors"
	"fmt"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/kro-run/kro/internal/graph"
	"github.com/kro-run/kro/internal/metadata"
	"github.com/kro-run/kro/internal/runtime"
)

// result is the outcome of one pass over the graph.
type result struct {
	// waiting explains, per resource in order, what the graph waits on.
	waiting []string
	// err is the first error; permanent errors (bad data, conflicts) are not retried with
	// backoff, the next change of an input re-triggers the reconcile.
	err       error
	permanent bool
	// userStatus holds the status fields whose inputs exist.
	userStatus map[string]any
}

// sync applies every resource whose dependencies are ready, in topological order.
func (r *Reconciler) sync(ctx context.Context, g *graph.Graph, inst *unstructured.Unstructured, applySetID string) result {
	var res result
	rt := runtime.New(g, inst)
	// notReady marks nodes that dependents must wait for; skipped ones are excluded.
	notReady := map[string]bool{}
	skipped := map[string]bool{}
	labels := childIdentity(g, inst)

	for _, id := range g.Order {
		n := g.Node(id)
		if dep := firstIn(n.Dependencies, skipped); dep != "" {
			skipped[id] = true
			continue
		}
		if dep := firstIn(n.Dependencies, notReady); dep != "" {
			notReady[id] = true
			res.waiting = append(res.waiting, fmt.Sprintf("resource %q is waiting for %q", id, dep))
			continue
		}
		included, err := rt.Included(ctx, id)
		if errors.Is(err, runtime.ErrDataPending) {
			notReady[id] = true
			res.waiting = append(res.waiting, err.Error())
			continue
		}
		if err != nil {
			return res.fail(err, true)
		}
		if !included {
			skipped[id] = true
			continue
		}
		desired, err := rt.Render(ctx, id)
		if errors.Is(err, runtime.ErrDataPending) {
			notReady[id] = true
			res.waiting = append(res.waiting, err.Error())
			continue
		}
		if err != nil {
			return res.fail(err, true)
		}
		addLabels(desired, metadata.ChildLabels(labels, id, applySetID))
		observed, err := r.apply(ctx, n, desired, applySetID)
		if err != nil {
			return res.fail(fmt.Errorf("resource %q: %w", id, err), errors.Is(err, errConflict))
		}
		rt.SetObserved(id, observed)
		ready, expr, err := rt.Ready(ctx, id)
		if err != nil {
			return res.fail(err, true)
		}
		if !ready {
			notReady[id] = true
			res.waiting = append(res.waiting, fmt.Sprintf("resource %q is not ready: readyWhen %q", id, expr))
		}
	}
	status, err := rt.Status(ctx)
	res.userStatus = status
	if err != nil {
		return res.fail(err, true)
	}
	return res
}

func (res result) fail(err error, permanent bool) result {
	res.err, res.permanent = err, permanent
	return res
}

// apply server-side applies desired unless the live object already matches it, and returns
// the live object.
func (r *Reconciler) apply(ctx context.Context, n *graph.Node, desired *unstructured.Unstructured, applySetID string) (*unstructured.Unstructured, error) {
	live := &unstructured.Unstructured{}
	live.SetGroupVersionKind(n.GVK)
	err := r.opts.Client.Get(ctx, client.ObjectKeyFromObject(desired), live)
	switch {
	case err == nil:
		if owner := live.GetLabels()[metadata.ApplySetPartOfLabel]; owner != "" && owner != applySetID {
			return nil, fmt.Errorf("%w: %s %s/%s is part of %s", errConflict, n.GVK.Kind, live.GetNamespace(), live.GetName(), owner)
		}
		if isSubset(desired.Object, live.Object) {
			return live, nil
		}
	case !apierrors.IsNotFound(err):
		return nil, err
	}
	ctrl.LoggerFrom(ctx).V(1).Info("Applying resource", "node", n.ID, "kind", n.GVK.Kind, "name", desired.GetName(), "namespace", desired.GetNamespace())
	err = r.opts.Client.Apply(ctx, client.ApplyConfigurationFromUnstructured(desired),
		client.ForceOwnership, client.FieldOwner(metadata.FieldManager))
	if err != nil {
		return nil, fmt.Errorf("applying %s %s: %w", n.GVK.Kind, desired.GetName(), err)
	}
	return desired, nil
}

// childIdentity is the instance identity written on every child.
func childIdentity(g *graph.Graph, inst *unstructured.Unstructured) metadata.Instance {
	return metadata.Instance{
		UID:       string(inst.GetUID()),
		Name:      inst.GetName(),
		Namespace: inst.GetNamespace(),
		Group:     g.Instance.GVK.Group,
		Version:   g.Instance.GVK.Version,
		Kind:      g.Instance.GVK.Kind,
	}
}

func addLabels(obj *unstructured.Unstructured, add map[string]string) {
	labels := obj.GetLabels()
	if labels == nil {
		labels = map[string]string{}
	}
	for k, v := range add {
		labels[k] = v
	}
	obj.SetLabels(labels)
}

func firstIn(ids []string, set map[string]bool) string {
	for _, id := range ids {
		if set[id] {
			return id
		}
	}
	return ""
}
