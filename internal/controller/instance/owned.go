package instance

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync/atomic"

	"golang.org/x/sync/errgroup"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	toolscache "k8s.io/client-go/tools/cache"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/kro-run/kro/api/v1alpha1"
	"github.com/kro-run/kro/internal/graph"
	"github.com/kro-run/kro/internal/metadata"
	"github.com/kro-run/kro/internal/metrics"
)

// What an instance owns is found one way: the objects of its kinds whose ApplySet part-of
// label is the instance's ApplySet id, read from the informer caches through an index. No
// in-memory record can hide an object, whatever happened before (a partial first pass, a
// restart, the RGD deleted and created again).

// partOfIndex is the index of the owned cache's informers by ApplySet part-of label: one key
// per object, the ApplySet id, whatever the object's namespace (an instance's objects may be in
// other namespaces).
const partOfIndex = "kro.run/applyset-part-of"

// indexedInformer is the part of a shared informer that holds its indexes.
type indexedInformer interface {
	GetIndexer() toolscache.Indexer
}

// partOf is the part-of index function.
func partOf(obj any) ([]string, error) {
	o, ok := obj.(client.Object)
	if !ok {
		return nil, nil
	}
	if v := labelOf(o, metadata.ApplySetPartOfLabel); v != "" {
		return []string{v}, nil
	}
	return nil, nil
}

// ownedIndexer returns the indexer of the informer of gvk, with the part-of index (starting
// the informer if needed, and waiting until it has synced). It is idempotent and safe to call
// concurrently: the informer itself records its indexes, so nothing here has to be forgotten
// when an informer is removed and made again.
func ownedIndexer(ctx context.Context, c cache.Cache, gvk schema.GroupVersionKind, metadataOnly bool) (toolscache.Indexer, error) {
	var obj client.Object = &unstructured.Unstructured{}
	if metadataOnly {
		obj = &metav1.PartialObjectMetadata{}
	}
	obj.GetObjectKind().SetGroupVersionKind(gvk)
	inf, err := c.GetInformer(ctx, obj)
	if err != nil {
		return nil, err
	}
	ii, ok := inf.(indexedInformer)
	if !ok {
		return nil, fmt.Errorf("the informer of %s has no indexer", gvk.Kind)
	}
	if _, exists := ii.GetIndexer().GetIndexers()[partOfIndex]; exists {
		return ii.GetIndexer(), nil
	}
	if err := inf.AddIndexers(toolscache.Indexers{partOfIndex: partOf}); err != nil {
		// Another reconcile added it between the check and here.
		if _, exists := ii.GetIndexer().GetIndexers()[partOfIndex]; !exists {
			return nil, fmt.Errorf("indexing %s: %w", gvk.Kind, err)
		}
	}
	return ii.GetIndexer(), nil
}

// ownedKinds are the kinds the instance may have objects of: those the graph creates and
// those recorded in the instance's ApplySet group-kinds annotation (written before anything
// is applied, so it names every kind an earlier graph created).
func (r *Reconciler) ownedKinds(g *graph.Graph, inst *unstructured.Unstructured) []schema.GroupVersionKind {
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
	return out
}

// listOwned returns the objects of the instance's ApplySet, of every kind it may own. Objects
// kro has just taken (see takenObjects) that the cache does not show yet are read from the API
// server, except those in wanted, which the caller keeps anyway.
func (r *Reconciler) listOwned(ctx context.Context, g *graph.Graph, inst *unstructured.Unstructured, setID string, wanted map[objectKey]string) ([]client.Object, error) {
	var out []client.Object
	seen := map[objectKey]bool{}
	for _, gvk := range r.ownedKinds(g, inst) {
		// The graph's own kinds are read through the informer the engine holds for them; a
		// kind left only in the inventory needs nothing but metadata to be pruned or deleted.
		metadataOnly := g.MetadataOnly(gvk) || !g.Applies(gvk)
		indexer, err := ownedIndexer(ctx, r.opts.Owned, gvk, metadataOnly)
		if err != nil {
			return nil, clusterError(err)
		}
		cached, err := indexer.ByIndex(partOfIndex, setID)
		if err != nil {
			return nil, clusterError(fmt.Errorf("listing %s: %w", gvk.Kind, err))
		}
		for _, o := range cached {
			// The cache's own objects, not copies: nothing here modifies them (release
			// patches a copy).
			// An Unstructured, or a PartialObjectMetadata for a metadata-only kind.
			u, ok := o.(client.Object)
			if !ok {
				continue
			}
			if r.gone.has(u.GetUID()) {
				// Deleted by kro; the cache has not caught up.
				continue
			}
			out = append(out, u)
			seen[keyOf(u)] = true
		}
	}
	for key, taken := range r.taken.unconfirmed(setID) {
		if seen[key] {
			r.taken.forget(setID, key)
			continue
		}
		if _, ok := wanted[key]; ok {
			continue
		}
		live := &unstructured.Unstructured{}
		live.SetGroupVersionKind(taken.gvk)
		err := r.opts.APIReader.Get(ctx, client.ObjectKey{Namespace: key.namespace, Name: key.name}, live)
		switch {
		case apierrors.IsNotFound(err):
			r.taken.forget(setID, key)
		case err != nil:
			return nil, clusterError(fmt.Errorf("reading %s %s: %w", key.kind, key.name, err))
		case live.GetLabels()[metadata.ApplySetPartOfLabel] == setID:
			out = append(out, live)
		default:
			r.taken.forget(setID, key)
		}
	}
	return out, nil
}

// removeOwned removes objects of the instance's ApplySet, in parallel, and reports whether
// they are all gone (or released). An object whose resource has deletionPolicy Orphan is
// released: kro's labels and annotations are removed, so it stays and no instance claims it.
// Any other is deleted in the background (what it owns goes too: a Job's Pods). Both carry the
// object's UID as a precondition, so that an object replaced by someone else since the cache
// saw it is never touched. An object already being deleted is waited for.
func (r *Reconciler) removeOwned(ctx context.Context, objs []client.Object, setID, reason string) (bool, error) {
	var pending atomic.Bool
	eg, ctx := errgroup.WithContext(ctx)
	eg.SetLimit(maxParallelDeletes)
	for _, obj := range objs {
		if labelOf(obj, metadata.ApplySetPartOfLabel) != setID {
			continue
		}
		if obj.GetDeletionTimestamp() != nil {
			pending.Store(true)
			continue
		}
		eg.Go(func() error {
			// Passed to the one line logged, not bound to a logger: WithValues would encode them
			// into a new logger per object.
			about := []any{"reason", reason, "node", labelOf(obj, metadata.NodeIDLabel),
				"kind", obj.GetObjectKind().GroupVersionKind().Kind, "name", objectName(obj)}
			var err error
			gone := true
			if v1alpha1.DeletionPolicy(annotationOf(obj, metadata.DeletionPolicyAnnotation)).Orphans() {
				ctrl.LoggerFrom(ctx).Info("Releasing resource (deletionPolicy Orphan)", about...)
				err = r.release(ctx, obj)
			} else {
				ctrl.LoggerFrom(ctx).Info("Deleting resource", about...)
				gone, err = r.deleteObject(ctx, obj)
			}
			switch {
			case apierrors.IsNotFound(err):
			case err != nil:
				// A conflict means the object was replaced since the cache saw it: the new one
				// is not this one, and the retry reads the cache again.
				return clusterError(fmt.Errorf("removing %s %s: %w", obj.GetObjectKind().GroupVersionKind().Kind, objectName(obj), err))
			default:
				metrics.Deletions.WithLabelValues(r.kind(), reason).Inc()
				if !gone {
					pending.Store(true)
				}
			}
			r.appliedVersions.Delete(keyOf(obj))
			return nil
		})
	}
	if err := eg.Wait(); err != nil {
		return false, err
	}
	return !pending.Load(), nil
}

// maxParallelDeletes bounds the requests one reconcile makes at once to remove objects.
const maxParallelDeletes = 8

// release removes kro's labels and annotations from an object with a merge patch whose
// metadata.uid is a precondition.
func (r *Reconciler) release(ctx context.Context, obj client.Object) error {
	labels := map[string]any{}
	for k, v := range obj.GetLabels() {
		if metadata.IsReserved(k) || k == metadata.ApplySetPartOfLabel || k == metadata.ManagedByLabel && v == metadata.ManagedByKro {
			labels[k] = nil
		}
	}
	annotations := map[string]any{}
	for k := range obj.GetAnnotations() {
		if metadata.IsReserved(k) {
			annotations[k] = nil
		}
	}
	patch, err := json.Marshal(map[string]any{"metadata": map[string]any{
		"uid": obj.GetUID(), "labels": labels, "annotations": annotations,
	}})
	if err != nil {
		return err
	}
	return r.opts.Client.Patch(ctx, obj.DeepCopyObject().(client.Object), client.RawPatch(types.MergePatchType, patch))
}
