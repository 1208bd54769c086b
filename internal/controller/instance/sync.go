package instance

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
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
	// runtime is the evaluation state of the pass, for the custom conditions.
	runtime *runtime.Runtime
}

func (res *result) fail(err error, permanent bool) {
	res.err, res.permanent = err, permanent
}

// pass is the state of one sync pass.
type pass struct {
	rt    *runtime.Runtime
	inst  *unstructured.Unstructured
	setID string
	// notReady marks nodes dependents must wait for; skipped nodes are excluded by
	// includeWhen (directly or through a dependency).
	notReady, skipped map[string]bool
	// keep holds the identities of every object this pass wants to exist.
	keep map[objectKey]bool
	// externals are the externalRefs read in this pass.
	externals []externalRef
}

// objectKey identifies an applied object.
type objectKey struct {
	group, kind, namespace, name string
}

func keyOf(u *unstructured.Unstructured) objectKey {
	gvk := u.GroupVersionKind()
	return objectKey{gvk.Group, gvk.Kind, u.GetNamespace(), u.GetName()}
}

// sync applies every resource whose dependencies are ready, in topological order, then prunes
// what the instance created before and no longer wants.
func (r *Reconciler) sync(ctx context.Context, g *graph.Graph, inst *unstructured.Unstructured, applySetID string) result {
	p := &pass{
		rt:       runtime.New(g, inst),
		inst:     inst,
		setID:    applySetID,
		notReady: map[string]bool{},
		skipped:  map[string]bool{},
		keep:     map[objectKey]bool{},
	}
	res := result{runtime: p.rt}
	for _, id := range g.Order {
		n := g.Node(id)
		if dep := firstIn(n.Dependencies, p.skipped); dep != "" {
			p.skipped[id] = true
			continue
		}
		if dep := firstIn(n.Dependencies, p.notReady); dep != "" {
			p.wait(&res, id, fmt.Sprintf("resource %q is waiting for %q", id, dep))
			continue
		}
		included, err := p.rt.Included(ctx, id)
		if errors.Is(err, runtime.ErrDataPending) {
			p.wait(&res, id, err.Error())
			continue
		}
		if err != nil {
			res.fail(err, true)
			return res
		}
		if !included {
			p.skipped[id] = true
			continue
		}
		var waiting string
		switch {
		case n.External != nil:
			waiting, err = r.syncExternal(ctx, p, n)
		case n.IsCollection():
			waiting, err = r.syncCollection(ctx, g, p, n)
		default:
			waiting, err = r.syncObject(ctx, g, p, n)
		}
		if err != nil {
			r.externals.set(client.ObjectKeyFromObject(inst), p.externals)
			res.fail(err, errors.Is(err, errConflict) || !isTransient(err))
			return res
		}
		if waiting != "" {
			p.wait(&res, id, waiting)
		}
	}
	r.externals.set(client.ObjectKeyFromObject(inst), p.externals)
	status, err := p.rt.Status(ctx)
	res.userStatus = status
	if err != nil {
		res.fail(err, true)
		return res
	}
	if err := r.prune(ctx, g, p); err != nil {
		res.fail(fmt.Errorf("pruning: %w", err), false)
	}
	return res
}

func (p *pass) wait(res *result, id, why string) {
	p.notReady[id] = true
	res.waiting = append(res.waiting, why)
}

// syncObject applies a single object and returns why it is not ready, if it is not.
func (r *Reconciler) syncObject(ctx context.Context, g *graph.Graph, p *pass, n *graph.Node) (string, error) {
	desired, err := p.rt.Render(ctx, n.ID)
	if errors.Is(err, runtime.ErrDataPending) {
		return err.Error(), nil
	}
	if err != nil {
		return "", err
	}
	addLabels(desired, metadata.ChildLabels(childIdentity(g, p.inst), n.ID, p.setID))
	observed, err := r.apply(ctx, n, desired, p.setID)
	if err != nil {
		return "", fmt.Errorf("resource %q: %w", n.ID, err)
	}
	p.keep[keyOf(desired)] = true
	p.rt.SetObserved(n.ID, observed)
	ready, expr, err := p.rt.Ready(ctx, n.ID)
	if err != nil || ready {
		return "", err
	}
	return fmt.Sprintf("resource %q is not ready: readyWhen %q", n.ID, expr), nil
}

// syncCollection applies every item of a forEach collection.
func (r *Reconciler) syncCollection(ctx context.Context, g *graph.Graph, p *pass, n *graph.Node) (string, error) {
	items, err := p.rt.Expand(ctx, n.ID, r.opts.MaxCollectionSize)
	if errors.Is(err, runtime.ErrDataPending) {
		return err.Error(), nil
	}
	if err != nil {
		return "", err
	}
	desired := make([]*unstructured.Unstructured, len(items))
	seen := map[objectKey]int{}
	for i, item := range items {
		obj, err := p.rt.RenderItem(ctx, n.ID, item)
		if errors.Is(err, runtime.ErrDataPending) {
			return err.Error(), nil
		}
		if err != nil {
			return "", err
		}
		if prev, dup := seen[keyOf(obj)]; dup {
			return "", fmt.Errorf("resource %q: items %d and %d both render %s %s/%s", n.ID, prev, i, n.GVK.Kind, obj.GetNamespace(), obj.GetName())
		}
		seen[keyOf(obj)] = i
		labels := metadata.ChildLabels(childIdentity(g, p.inst), n.ID, p.setID)
		labels[metadata.CollectionIndexLabel] = strconv.Itoa(item.Index)
		labels[metadata.CollectionSizeLabel] = strconv.Itoa(len(items))
		addLabels(obj, labels)
		desired[i] = obj
	}
	observed := make([]*unstructured.Unstructured, len(desired))
	waiting := ""
	for i, obj := range desired {
		live, err := r.apply(ctx, n, obj, p.setID)
		if err != nil {
			return "", fmt.Errorf("resource %q item %d: %w", n.ID, i, err)
		}
		p.keep[keyOf(obj)] = true
		observed[i] = live
		ready, expr, err := p.rt.ReadyObject(ctx, n.ID, live.Object)
		if err != nil {
			return "", err
		}
		if !ready && waiting == "" {
			waiting = fmt.Sprintf("resource %q item %d (%s) is not ready: readyWhen %q", n.ID, i, obj.GetName(), expr)
		}
	}
	p.rt.SetObservedList(n.ID, observed)
	return waiting, nil
}

// syncExternal reads an externalRef from the cache; kro never writes it.
func (r *Reconciler) syncExternal(ctx context.Context, p *pass, n *graph.Node) (string, error) {
	ref, err := p.rt.Render(ctx, n.ID)
	if errors.Is(err, runtime.ErrDataPending) {
		return err.Error(), nil
	}
	if err != nil {
		return "", err
	}
	key := client.ObjectKeyFromObject(p.inst)
	if !n.External.Selector {
		p.track(r, key, externalRef{gvk: n.GVK, namespace: ref.GetNamespace(), name: ref.GetName()})
		live := &unstructured.Unstructured{}
		live.SetGroupVersionKind(n.GVK)
		err := r.opts.Client.Get(ctx, client.ObjectKeyFromObject(ref), live)
		if apierrors.IsNotFound(err) {
			return fmt.Sprintf("resource %q is waiting for external %s %s", n.ID, n.GVK.Kind, objectName(ref)), nil
		}
		if err != nil {
			return "", fmt.Errorf("resource %q: reading external %s: %w", n.ID, n.GVK.Kind, err)
		}
		p.rt.SetObserved(n.ID, live)
		ready, expr, err := p.rt.Ready(ctx, n.ID)
		if err != nil || ready {
			return "", err
		}
		return fmt.Sprintf("resource %q is not ready: readyWhen %q", n.ID, expr), nil
	}
	raw, _, _ := unstructured.NestedMap(ref.Object, "metadata", "selector")
	sel := &metav1.LabelSelector{}
	if err := fromUnstructured(raw, sel); err != nil {
		return "", fmt.Errorf("resource %q field \"metadata.selector\": %w", n.ID, err)
	}
	selector, err := metav1.LabelSelectorAsSelector(sel)
	if err != nil {
		return "", fmt.Errorf("resource %q field \"metadata.selector\": %w", n.ID, err)
	}
	p.track(r, key, externalRef{gvk: n.GVK, namespace: ref.GetNamespace(), selector: selector})
	list := &unstructured.UnstructuredList{}
	list.SetGroupVersionKind(n.GVK.GroupVersion().WithKind(n.GVK.Kind + "List"))
	opts := []client.ListOption{client.MatchingLabelsSelector{Selector: selector}}
	if ns := ref.GetNamespace(); ns != "" {
		opts = append(opts, client.InNamespace(ns))
	}
	if err := r.opts.Client.List(ctx, list, opts...); err != nil {
		return "", fmt.Errorf("resource %q: listing external %s: %w", n.ID, n.GVK.Kind, err)
	}
	items := make([]*unstructured.Unstructured, len(list.Items))
	for i := range list.Items {
		items[i] = &list.Items[i]
	}
	sortObjects(items)
	p.rt.SetObservedList(n.ID, items)
	return "", nil
}

// track records an external reference before it is read.
func (p *pass) track(r *Reconciler, inst client.ObjectKey, ref externalRef) {
	p.externals = append(p.externals, ref)
	r.externals.add(inst, ref)
}

// apply server-side applies desired unless the live object already matches it, and returns
// the live object. An object is known to match when kro applied the same desired state and
// nobody changed it since (same resourceVersion), or when every desired field has its value
// in the live object.
func (r *Reconciler) apply(ctx context.Context, n *graph.Node, desired *unstructured.Unstructured, applySetID string) (*unstructured.Unstructured, error) {
	key := keyOf(desired)
	hash, err := hashObject(desired)
	if err != nil {
		return nil, err
	}
	live := &unstructured.Unstructured{}
	live.SetGroupVersionKind(n.GVK)
	err = r.opts.Client.Get(ctx, client.ObjectKeyFromObject(desired), live)
	switch {
	case err == nil:
		if owner := live.GetLabels()[metadata.ApplySetPartOfLabel]; owner != "" && owner != applySetID {
			return nil, fmt.Errorf("%w: %s %s is part of %s", errConflict, n.GVK.Kind, objectName(live), owner)
		}
		if last, ok := r.applied.Load(key); ok && last.(appliedState) == (appliedState{hash, live.GetResourceVersion()}) {
			return live, nil
		}
		if isSubset(desired.Object, live.Object) {
			r.applied.Store(key, appliedState{hash, live.GetResourceVersion()})
			return live, nil
		}
	case !apierrors.IsNotFound(err):
		return nil, err
	}
	ctrl.LoggerFrom(ctx).V(1).Info("Applying resource", "node", n.ID, "kind", n.GVK.Kind, "name", desired.GetName(), "namespace", desired.GetNamespace())
	err = r.opts.Client.Apply(ctx, client.ApplyConfigurationFromUnstructured(desired),
		client.ForceOwnership, client.FieldOwner(metadata.FieldManager))
	if err != nil {
		r.applied.Delete(key)
		return nil, fmt.Errorf("applying %s %s: %w", n.GVK.Kind, objectName(desired), err)
	}
	r.applied.Store(key, appliedState{hash, desired.GetResourceVersion()})
	return desired, nil
}

// appliedState remembers what kro last applied to an object and the resourceVersion the
// object had right after.
type appliedState struct {
	hash            uint64
	resourceVersion string
}

func hashObject(u *unstructured.Unstructured) (uint64, error) {
	raw, err := json.Marshal(u.Object)
	if err != nil {
		return 0, err
	}
	h := fnv.New64a()
	_, _ = h.Write(raw)
	return h.Sum64(), nil
}

// isTransient reports API errors worth retrying with backoff.
func isTransient(err error) bool {
	return apierrors.IsConflict(err) || apierrors.IsServerTimeout(err) || apierrors.IsTimeout(err) ||
		apierrors.IsTooManyRequests(err) || apierrors.IsServiceUnavailable(err) || apierrors.IsInternalError(err) ||
		errors.Is(err, context.DeadlineExceeded)
}

func objectName(u *unstructured.Unstructured) string {
	if u.GetNamespace() == "" {
		return u.GetName()
	}
	return u.GetNamespace() + "/" + u.GetName()
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
	l := obj.GetLabels()
	if l == nil {
		l = map[string]string{}
	}
	for k, v := range add {
		l[k] = v
	}
	obj.SetLabels(l)
}

func firstIn(ids []string, set map[string]bool) string {
	for _, id := range ids {
		if set[id] {
			return id
		}
	}
	return ""
}
