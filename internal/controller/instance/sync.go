package instance

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"sync"
	"sync/atomic"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/kro-run/kro/api/v1alpha1"
	"github.com/kro-run/kro/internal/graph"
	"github.com/kro-run/kro/internal/metadata"
	"github.com/kro-run/kro/internal/metrics"
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
	// again asks for another reconcile: a watch event held back during one of the pass's
	// writes was not that write's echo (see inflightWrites).
	again bool
}

func (res *result) fail(err error, permanent bool) {
	res.err, res.permanent = err, permanent
}

// pass is the state of one sync pass. Only the goroutine running sync writes it; nodes of a
// level are evaluated in parallel and their outcomes merged in order afterwards.
type pass struct {
	rt    *runtime.Runtime
	inst  *unstructured.Unstructured
	setID string
	// notReady marks nodes dependents must wait for; skipped nodes are excluded by
	// includeWhen (directly or through a dependency).
	notReady, skipped map[string]bool
	// keep holds the identities of every object this pass wants to exist, with their node.
	keep map[objectKey]string
	// externals are the externalRefs read in this pass.
	externals []externalRef
	// inventory is the instance's ApplySet inventory as written so far.
	inventory *inventory
	// again is set when an event held back during a write of the pass was someone else's.
	again atomic.Bool
}

// outcome is what processing one node produced.
type outcome struct {
	skipped bool
	// waiting says why dependents must wait, when they must.
	waiting string
	err     error
	// observed is the live object of a single-object node; list that of a list node.
	observed  *unstructured.Unstructured
	list      []*unstructured.Unstructured
	isList    bool
	keep      []objectKey
	externals []externalRef
}

// objectKey identifies an applied object.
type objectKey struct {
	group, kind, namespace, name string
}

func keyOf(o client.Object) objectKey {
	gvk := o.GetObjectKind().GroupVersionKind()
	return objectKey{gvk.Group, gvk.Kind, o.GetNamespace(), o.GetName()}
}

// sync applies every resource whose dependencies are ready, level by level (the nodes of a
// level in parallel), then prunes what the instance created before and no longer wants.
func (r *Reconciler) sync(ctx context.Context, g *graph.Graph, inst *unstructured.Unstructured, applySetID string) (res result) {
	p := &pass{
		rt:        runtime.New(g, inst),
		inst:      inst,
		setID:     applySetID,
		notReady:  map[string]bool{},
		skipped:   map[string]bool{},
		keep:      map[objectKey]string{},
		inventory: inventoryOf(inst),
	}
	res = result{runtime: p.rt}
	defer func() { r.externals.set(client.ObjectKeyFromObject(inst), p.externals) }()
	defer func() { res.again = p.again.Load() }()
	for _, level := range g.Levels {
		outcomes := make([]outcome, len(level))
		var wg sync.WaitGroup
		for i, id := range level {
			n := g.Node(id)
			if dep := firstIn(n.Dependencies, p.skipped); dep != "" {
				outcomes[i] = outcome{skipped: true}
				continue
			}
			if dep := firstIn(n.Dependencies, p.notReady); dep != "" {
				outcomes[i] = outcome{waiting: fmt.Sprintf("resource %q is waiting for %q", id, dep)}
				continue
			}
			if len(level) == 1 {
				outcomes[i] = r.syncNode(ctx, g, p, n)
				continue
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				outcomes[i] = r.syncNode(ctx, g, p, n)
			}()
		}
		wg.Wait()
		for i, id := range level {
			o := outcomes[i]
			p.externals = append(p.externals, o.externals...)
			for _, k := range o.keep {
				p.keep[k] = id
			}
			switch {
			case o.err != nil:
				res.fail(o.err, !isClusterError(o.err))
				return res
			case o.skipped:
				p.skipped[id] = true
				continue
			case o.isList:
				p.rt.SetObservedList(id, o.list)
			case o.observed != nil:
				p.rt.SetObserved(id, o.observed)
			}
			if o.waiting != "" {
				p.notReady[id] = true
				res.waiting = append(res.waiting, o.waiting)
			}
		}
	}
	status, err := p.rt.Status(ctx)
	res.userStatus = status
	if err != nil {
		res.fail(err, true)
		return res
	}
	if err := r.prune(ctx, g, p); err != nil {
		res.fail(fmt.Errorf("pruning: %w", err), !isClusterError(err))
	}
	return res
}

// syncNode evaluates includeWhen and applies (or reads) one node. It only reads the pass.
func (r *Reconciler) syncNode(ctx context.Context, g *graph.Graph, p *pass, n *graph.Node) outcome {
	included, err := p.rt.Included(ctx, n.ID)
	switch {
	case errors.Is(err, runtime.ErrDataPending):
		return outcome{waiting: err.Error()}
	case err != nil:
		return outcome{err: err}
	case !included:
		return outcome{skipped: true}
	case n.External != nil:
		return r.syncExternal(ctx, p, n)
	case n.IsCollection():
		return r.syncCollection(ctx, g, p, n)
	}
	return r.syncObject(ctx, g, p, n)
}

// pending turns a render error into an outcome: waiting when data is pending.
func pending(err error) outcome {
	if errors.Is(err, runtime.ErrDataPending) {
		return outcome{waiting: err.Error()}
	}
	return outcome{err: err}
}

// syncObject applies a single object.
func (r *Reconciler) syncObject(ctx context.Context, g *graph.Graph, p *pass, n *graph.Node) outcome {
	desired, err := p.rt.Render(ctx, n.ID)
	if err != nil {
		return pending(err)
	}
	if err := runtime.Finalize(g, n, p.inst, p.setID, desired, runtime.FinalizeOptions{ArgoCDTracking: !r.opts.NoArgoCDTracking}); err != nil {
		return outcome{err: fmt.Errorf("resource %q: %w", n.ID, err)}
	}
	if err := r.recordMember(ctx, p, desired); err != nil {
		return outcome{err: fmt.Errorf("resource %q: %w", n.ID, err)}
	}
	observed, err := r.apply(ctx, g, n, desired, p)
	if errors.Is(err, errAwaitingObject) {
		var o outcome
		o.await(r, p, n, desired, err)
		return o
	}
	if err != nil {
		return outcome{err: fmt.Errorf("resource %q: %w", n.ID, err)}
	}
	o := outcome{observed: observed, keep: []objectKey{keyOf(desired)}}
	o.checkReady(ctx, p, n)
	return o
}

// checkReady evaluates readyWhen on the observed object and records why it is not ready.
func (o *outcome) checkReady(ctx context.Context, p *pass, n *graph.Node) {
	ready, expr, err := p.rt.ReadyObject(ctx, n.ID, o.observed.Object)
	switch {
	case err != nil:
		o.err = err
	case !ready:
		o.waiting = fmt.Sprintf("resource %q is not ready: readyWhen %q", n.ID, expr)
	}
}

// syncCollection applies every item of a forEach collection.
func (r *Reconciler) syncCollection(ctx context.Context, g *graph.Graph, p *pass, n *graph.Node) outcome {
	items, err := p.rt.Expand(ctx, n.ID, r.opts.MaxCollectionSize)
	if err != nil {
		return pending(err)
	}
	desired := make([]*unstructured.Unstructured, len(items))
	seen := map[objectKey]int{}
	for i, item := range items {
		obj, err := p.rt.RenderItem(ctx, n.ID, item)
		if err != nil {
			return pending(err)
		}
		if prev, dup := seen[keyOf(obj)]; dup {
			return outcome{err: fmt.Errorf("resource %q: items %d and %d both render %s %s", n.ID, prev, i, n.GVK.Kind, objectName(obj))}
		}
		seen[keyOf(obj)] = i
		if err := runtime.Finalize(g, n, p.inst, p.setID, obj, runtime.FinalizeOptions{
			Item:           &runtime.Position{Index: item.Index, Size: len(items)},
			ArgoCDTracking: !r.opts.NoArgoCDTracking,
		}); err != nil {
			return outcome{err: fmt.Errorf("resource %q item %d: %w", n.ID, i, err)}
		}
		desired[i] = obj
	}
	o := outcome{isList: true, list: make([]*unstructured.Unstructured, 0, len(desired))}
	for i, obj := range desired {
		if err := r.recordMember(ctx, p, obj); err != nil {
			return outcome{err: fmt.Errorf("resource %q item %d: %w", n.ID, i, err)}
		}
		live, err := r.apply(ctx, g, n, obj, p)
		if errors.Is(err, errAwaitingObject) {
			o.await(r, p, n, obj, err)
			continue
		}
		if err != nil {
			return outcome{err: fmt.Errorf("resource %q item %d: %w", n.ID, i, err)}
		}
		o.keep = append(o.keep, keyOf(obj))
		o.list = append(o.list, live)
		ready, expr, err := p.rt.ReadyObject(ctx, n.ID, live.Object)
		if err != nil {
			return outcome{err: err}
		}
		if !ready && o.waiting == "" {
			o.waiting = fmt.Sprintf("resource %q item %d (%s) is not ready: readyWhen %q", n.ID, i, obj.GetName(), expr)
		}
	}
	return o
}

// await records that a node waits for its object to exist (adoptionPolicy Required): its
// dependents wait, and the object's creation re-triggers the instance, as for an externalRef.
func (o *outcome) await(r *Reconciler, p *pass, n *graph.Node, obj *unstructured.Unstructured, err error) {
	track := externalRef{gvk: n.GVK, namespace: obj.GetNamespace(), name: obj.GetName()}
	r.externals.add(client.ObjectKeyFromObject(p.inst), track)
	o.externals = append(o.externals, track)
	if o.waiting == "" {
		o.waiting = fmt.Sprintf("resource %q is waiting: %v", n.ID, err)
	}
}

// syncExternal reads an externalRef from the cache; kro never writes it.
func (r *Reconciler) syncExternal(ctx context.Context, p *pass, n *graph.Node) outcome {
	ref, err := p.rt.Render(ctx, n.ID)
	if err != nil {
		return pending(err)
	}
	key := client.ObjectKeyFromObject(p.inst)
	if !n.External.Selector {
		track := externalRef{gvk: n.GVK, namespace: ref.GetNamespace(), name: ref.GetName()}
		r.externals.add(key, track)
		o := outcome{externals: []externalRef{track}}
		live, err := r.readExternal(ctx, n, client.ObjectKeyFromObject(ref))
		switch {
		case apierrors.IsNotFound(err):
			o.waiting = fmt.Sprintf("resource %q is waiting for external %s %s", n.ID, n.GVK.Kind, objectName(ref))
			return o
		case err != nil:
			o.err = clusterError(fmt.Errorf("resource %q: reading external %s: %w", n.ID, n.GVK.Kind, err))
			return o
		}
		o.observed = live
		o.checkReady(ctx, p, n)
		return o
	}
	raw, _, _ := unstructured.NestedMap(ref.Object, "metadata", "selector")
	sel := &metav1.LabelSelector{}
	if err := fromUnstructured(raw, sel); err != nil {
		return outcome{err: fmt.Errorf("resource %q field \"metadata.selector\": %w", n.ID, err)}
	}
	selector, err := metav1.LabelSelectorAsSelector(sel)
	if err != nil {
		return outcome{err: fmt.Errorf("resource %q field \"metadata.selector\": %w", n.ID, err)}
	}
	track := externalRef{gvk: n.GVK, namespace: ref.GetNamespace(), selector: selector}
	r.externals.add(key, track)
	o := outcome{externals: []externalRef{track}, isList: true}
	opts := []client.ListOption{client.MatchingLabelsSelector{Selector: selector}}
	if ns := ref.GetNamespace(); ns != "" {
		opts = append(opts, client.InNamespace(ns))
	}
	if o.list, err = r.listExternal(ctx, n, opts...); err != nil {
		o.err = clusterError(fmt.Errorf("resource %q: listing external %s: %w", n.ID, n.GVK.Kind, err))
		return o
	}
	sortObjects(o.list)
	if len(n.ReadyWhen) == 0 {
		return o
	}
	// Ready when every selected object is, as a collection; none selected is ready.
	for i, obj := range o.list {
		ready, expr, err := p.rt.ReadyObject(ctx, n.ID, obj.Object)
		if err != nil {
			o.err = err
			return o
		}
		if !ready {
			o.waiting = fmt.Sprintf("resource %q item %d (%s) is not ready: readyWhen %q", n.ID, i, objectName(obj), expr)
			return o
		}
	}
	return o
}

// apply makes the live object match desired (finalized by runtime.Finalize) and returns it.
//
// kro records a hash of the desired state it applied on the object itself, so an unchanged
// desired state whose fields are all still on the live object costs no request, also after a
// restart; a changed one is applied, which removes the fields no longer desired.
//
// Who owns the object is decided on the live object: an object of another ApplySet is a
// conflict and is never written. Taking an object that is not ours yet (creating it, or
// adopting one that belongs to no ApplySet) is guarded by a resourceVersion precondition, so
// that of two instances racing for one name exactly one wins; the other reads the object
// again and reports the conflict.
//
// The live object is read from the cache of objects of some ApplySet. An object of no
// ApplySet is not in it: the create precondition fails on it, and the object is then read
// from the API server and adopted (or refused) on what it is; the object a resource with
// adoptionPolicy Required waits for is looked up on the API server before kro waits.
func (r *Reconciler) apply(ctx context.Context, g *graph.Graph, n *graph.Node, desired *unstructured.Unstructured, p *pass) (*unstructured.Unstructured, error) {
	applySetID := p.setID
	metadataOnly := g.MetadataOnly(n.GVK)
	live, err := r.cachedOwned(ctx, n.GVK, client.ObjectKeyFromObject(desired), metadataOnly)
	if apierrors.IsNotFound(err) && n.Adoption == v1alpha1.AdoptionPolicyRequired {
		live = &unstructured.Unstructured{}
		live.SetGroupVersionKind(n.GVK)
		err = r.opts.APIReader.Get(ctx, client.ObjectKeyFromObject(desired), live)
	}
	for attempt := 0; ; attempt++ {
		var guard string
		switch {
		case apierrors.IsNotFound(err) && n.Adoption == v1alpha1.AdoptionPolicyRequired:
			return nil, fmt.Errorf("%w: %s %s does not exist", errAwaitingObject, n.GVK.Kind, objectName(desired))
		case apierrors.IsNotFound(err):
			guard = createGuard
		case err != nil:
			return nil, clusterError(err)
		default:
			switch owner := labelOf(live, metadata.ApplySetPartOfLabel); owner {
			case applySetID:
				if current, ok := r.holdsDesired(ctx, n.GVK, desired, live, applySetID, metadataOnly); ok {
					metrics.AppliesSkipped.WithLabelValues(r.kind()).Inc()
					return current, nil
				}
			case "":
				if n.Adoption == v1alpha1.AdoptionPolicyNever {
					return nil, clusterError(fmt.Errorf("%w: %s %s exists and belongs to no ApplySet", errNotAdopted, n.GVK.Kind, objectName(live)))
				}
				guard = live.GetResourceVersion()
			default:
				return nil, clusterError(fmt.Errorf("%w: %s %s is part of %s", errConflict, n.GVK.Kind, objectName(live), owner))
			}
		}
		var replaced string
		if err == nil {
			replaced = live.GetResourceVersion()
		}
		applied := withResourceVersion(desired, guard)
		ctrl.LoggerFrom(ctx).V(1).Info("Applying resource", "node", n.ID, "kind", n.GVK.Kind, "name", desired.GetName(), "namespace", desired.GetNamespace())
		key := keyOf(applied)
		if guard != "" {
			r.taken.begin(applySetID, key, n.GVK)
		}
		write := r.inflight.begin(key)
		applied, err = r.applyObject(ctx, n.GVK, applied, metadataOnly)
		if r.inflight.end(write, resourceVersionOf(applied, err)) {
			p.again.Store(true)
		}
		if err == nil {
			metrics.Applies.WithLabelValues(r.kind(), "success").Inc()
			if guard != "" {
				r.taken.answered(applySetID, key, applied.GetUID())
			}
			r.recordApplied(applied, metadataOnly, replaced)
			return applied, nil
		}
		if guard != "" && apierrors.IsConflict(err) {
			// The precondition failed: someone else's object, not taken.
			r.taken.forget(applySetID, key)
		}
		metrics.Applies.WithLabelValues(r.kind(), "error").Inc()
		if guard == "" || !apierrors.IsConflict(err) || attempt > 0 {
			return nil, clusterError(fmt.Errorf("applying %s %s: %w", n.GVK.Kind, objectName(desired), err))
		}
		// Someone wrote the object since the cache saw it: decide again on the object as it
		// is now.
		live = &unstructured.Unstructured{}
		live.SetGroupVersionKind(n.GVK)
		err = r.opts.APIReader.Get(ctx, client.ObjectKeyFromObject(desired), live)
	}
}

// withResourceVersion is desired to be sent with resourceVersion rv (none when rv is empty),
// desired itself left as it is: only the maps on the way to the field are copied, since the
// copy is only encoded.
func withResourceVersion(desired *unstructured.Unstructured, rv string) *unstructured.Unstructured {
	obj := maps.Clone(desired.Object)
	meta, _ := obj["metadata"].(map[string]any)
	meta = maps.Clone(meta)
	if meta == nil {
		meta = map[string]any{}
	}
	delete(meta, "resourceVersion")
	if rv != "" {
		meta["resourceVersion"] = rv
	}
	obj["metadata"] = meta
	return &unstructured.Unstructured{Object: obj}
}

// holdsDesired reports whether live, an object of kro's ApplySet, holds desired already, so
// that applying it would change nothing, and returns the object it decided on. The desired
// state's hash kro recorded on the object must be the same, and then either the object is
// unchanged since kro applied it (or, of a metadata-only kind, only its status changed), or
// every desired field still has its value. For a metadata-only kind that comparison needs the
// whole object, read once (readFull); the resourceVersion found up to date is remembered.
func (r *Reconciler) holdsDesired(ctx context.Context, gvk schema.GroupVersionKind, desired, live *unstructured.Unstructured, applySetID string, metadataOnly bool) (*unstructured.Unstructured, bool) {
	hash := annotationOf(desired, metadata.DesiredHashAnnotation)
	if annotationOf(live, metadata.DesiredHashAnnotation) != hash {
		return nil, false
	}
	if r.heldSinceApply(desired, live, hash, metadataOnly) {
		return live, true
	}
	if metadataOnly {
		if live = r.readFull(ctx, gvk, live, applySetID); live == nil {
			return nil, false
		}
	}
	if !upToDate(gvk, desired.Object, live.Object) {
		return nil, false
	}
	if metadataOnly {
		r.recordApplied(live, true, "")
	}
	return live, true
}

// readFull reads the whole object of a metadata-only kind whose metadata the cache holds:
// from the list made after kro started (restartReads) when it is still at that
// resourceVersion, else alone from the API server. It is nil if the object cannot be read or
// is no longer of the ApplySet.
func (r *Reconciler) readFull(ctx context.Context, gvk schema.GroupVersionKind, meta *unstructured.Unstructured, applySetID string) *unstructured.Unstructured {
	key := client.ObjectKeyFromObject(meta)
	full := &unstructured.Unstructured{}
	if content, ok := r.restart.get(ctx, gvk, key, meta.GetResourceVersion()); ok {
		// The same version: the cached metadata completes it.
		full.Object = content
		full.Object["metadata"] = meta.Object["metadata"]
	} else {
		full.SetGroupVersionKind(gvk)
		if err := r.opts.APIReader.Get(ctx, key, full); err != nil {
			return nil
		}
	}
	if labelOf(full, metadata.ApplySetPartOfLabel) != applySetID {
		return nil
	}
	return full
}

// cachedOwned reads an object of an ApplySet from the owned cache: the whole object, or for a
// kind whose objects kro does not read (graph.MetadataOnly), its metadata as an Unstructured.
func (r *Reconciler) cachedOwned(ctx context.Context, gvk schema.GroupVersionKind, key client.ObjectKey, metadataOnly bool) (*unstructured.Unstructured, error) {
	if !metadataOnly {
		live := &unstructured.Unstructured{}
		live.SetGroupVersionKind(gvk)
		return live, r.opts.Owned.Get(ctx, key, live)
	}
	meta := &metav1.PartialObjectMetadata{}
	meta.SetGroupVersionKind(gvk)
	if err := r.opts.Owned.Get(ctx, key, meta); err != nil {
		return nil, err
	}
	return fromMetadata(meta), nil
}

// fromMetadata is the Unstructured holding only an object's kind and metadata (without
// managed fields).
func fromMetadata(meta *metav1.PartialObjectMetadata) *unstructured.Unstructured {
	u := &unstructured.Unstructured{Object: map[string]any{}}
	u.SetGroupVersionKind(meta.GroupVersionKind())
	u.SetNamespace(meta.Namespace)
	u.SetName(meta.Name)
	u.SetUID(meta.UID)
	u.SetResourceVersion(meta.ResourceVersion)
	u.SetGeneration(meta.Generation)
	u.SetCreationTimestamp(meta.CreationTimestamp)
	u.SetDeletionTimestamp(meta.DeletionTimestamp)
	u.SetLabels(meta.Labels)
	u.SetAnnotations(meta.Annotations)
	u.SetFinalizers(meta.Finalizers)
	u.SetOwnerReferences(meta.OwnerReferences)
	return u
}

// appliedVersion is what kro recorded of its last apply of an object (or of the last time it
// found the object up to date) in this process.
type appliedVersion struct {
	// rv is the resourceVersion the apply left (or found up to date).
	rv string
	// generation is the object's, for a metadata-only kind that keeps one; else 0.
	generation int64
	// replaced and hash, when the apply changed an existing object: the version it replaced
	// and the desired hash it wrote.
	replaced, hash string
}

// recordApplied remembers the object as kro applied it (replacing the version replaced) or
// found it up to date.
func (r *Reconciler) recordApplied(obj *unstructured.Unstructured, metadataOnly bool, replaced string) {
	v := appliedVersion{rv: obj.GetResourceVersion()}
	if metadataOnly {
		v.generation = obj.GetGeneration()
	}
	if replaced != "" {
		v.replaced, v.hash = replaced, annotationOf(obj, metadata.DesiredHashAnnotation)
	}
	r.appliedVersions.Store(keyOf(obj), v)
}

// heldSinceApply reports, from what kro recorded of its last apply of live's object in this
// process, whether live holds desired (of hash desiredHash) without a comparison; after a
// restart nothing is recorded and the comparison decides. It does when live is exactly what
// the apply left, or what kro last found up to date (same resourceVersion). For a
// metadata-only kind (whose content kro does not read, so a stale cached object feeds no
// status) it also does when live is at the version the apply replaced while desired is still
// what the apply wrote (the apply's watch event has not reached the cache yet; a later change
// would have a newer version), or at the generation kro recorded with kro's labels and
// annotations still on it (only its status changed: a controller's status updates cost no
// read).
func (r *Reconciler) heldSinceApply(desired, live *unstructured.Unstructured, desiredHash string, metadataOnly bool) bool {
	v, ok := r.appliedVersions.Load(keyOf(live))
	if !ok {
		return false
	}
	last := v.(appliedVersion)
	switch rv := live.GetResourceVersion(); {
	case last.rv == rv:
		return true
	case !metadataOnly:
		return false
	case last.replaced != "" && last.replaced == rv && last.hash == desiredHash:
		return true
	}
	return last.generation > 0 && last.generation == live.GetGeneration() &&
		containsAll(live.GetLabels(), desired.GetLabels()) && containsAll(live.GetAnnotations(), desired.GetAnnotations())
}

// containsAll reports whether have holds every key of want with its value.
func containsAll(have, want map[string]string) bool {
	for k, v := range want {
		if cur, ok := have[k]; !ok || cur != v {
			return false
		}
	}
	return true
}

// errAwaitingObject marks an object of a resource with adoptionPolicy Required that does not
// exist: kro waits for it and never creates it.
var errAwaitingObject = errors.New("adoptionPolicy Required: waiting for the object to exist")

// errNotAdopted marks an existing object of a resource with adoptionPolicy Never: kro never
// takes it over.
var errNotAdopted = errors.New("adoptionPolicy Never: kro does not take over an existing object")

// createGuard is the resourceVersion precondition of an apply that may only create: no
// existing object has it, so the apply fails with a conflict if the object exists.
const createGuard = "1"

// clusterFailure marks an error of the cluster (an API request that failed, an object of
// another ApplySet) rather than of the graph's expressions: a change in the cluster can fix
// it, so the reconcile is retried with backoff.
type clusterFailure struct{ err error }

func (e *clusterFailure) Error() string { return e.err.Error() }
func (e *clusterFailure) Unwrap() error { return e.err }

// clusterError marks err as a cluster failure; nil stays nil.
func clusterError(err error) error {
	if err == nil {
		return nil
	}
	return &clusterFailure{err: err}
}

// isClusterError reports whether err, or an error it wraps, is a cluster failure.
func isClusterError(err error) bool {
	var cf *clusterFailure
	return errors.As(err, &cf)
}

func objectName(u client.Object) string {
	if u.GetNamespace() == "" {
		return u.GetName()
	}
	return u.GetNamespace() + "/" + u.GetName()
}

func firstIn(ids []string, set map[string]bool) string {
	for _, id := range ids {
		if set[id] {
			return id
		}
	}
	return ""
}
