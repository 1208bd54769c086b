package instance

import (
	"context"
	"sync"
	"time"

	"golang.org/x/sync/singleflight"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/kro-run/kro/internal/graph"
)

// externalObjects holds the objects of externalRefs as kro last read them from the API server,
// for the kinds whose every object kro caches by metadata only (graph.Node.ExternalByMetadata):
// kro then holds whole only the objects instances read, not every object of the kind. An object
// is read again when the metadata cache shows another resourceVersion; one no instance read for
// externalIdle is dropped by the next sweep (sweeps run every externalIdle while objects are
// held, so memory is freed also when no instance reads any more).
type externalObjects struct {
	reader client.Reader
	now    func() time.Time
	// reads makes instances that need the same object at the same time share one read.
	reads singleflight.Group

	mu   sync.Mutex
	objs map[externalKey]*heldExternal
	// sweeping is the timer of the next sweep, nil when nothing is held.
	sweeping *time.Timer
}

type externalKey struct {
	gvk schema.GroupVersionKind
	key client.ObjectKey
}

type heldExternal struct {
	obj  *unstructured.Unstructured
	used time.Time
}

// externalIdle is how long an object no instance reads is held, at least.
const externalIdle = 10 * time.Minute

func newExternalObjects(reader client.Reader) *externalObjects {
	return &externalObjects{reader: reader, now: time.Now, objs: map[externalKey]*heldExternal{}}
}

// get returns a copy of the object of kind gvk whose metadata the cache holds as meta: the one
// held if it is at that resourceVersion, else the API server's.
func (e *externalObjects) get(ctx context.Context, gvk schema.GroupVersionKind, meta *metav1.PartialObjectMetadata) (*unstructured.Unstructured, error) {
	k := externalKey{gvk: gvk, key: client.ObjectKeyFromObject(meta)}
	e.mu.Lock()
	if h := e.objs[k]; h != nil && h.obj.GetUID() == meta.UID && h.obj.GetResourceVersion() == meta.ResourceVersion {
		h.used = e.now()
		obj := h.obj
		e.mu.Unlock()
		return obj.DeepCopy(), nil
	}
	e.mu.Unlock()

	read, err, _ := e.reads.Do(gvk.String()+"/"+k.key.String()+"@"+meta.ResourceVersion, func() (any, error) {
		return e.read(ctx, k)
	})
	if err != nil {
		return nil, err
	}
	return read.(*unstructured.Unstructured).DeepCopy(), nil
}

// read reads the object at k from the API server and holds it.
func (e *externalObjects) read(ctx context.Context, k externalKey) (*unstructured.Unstructured, error) {
	obj := &unstructured.Unstructured{}
	obj.SetGroupVersionKind(k.gvk)
	err := e.reader.Get(ctx, k.key, obj)
	e.mu.Lock()
	defer e.mu.Unlock()
	if err != nil {
		if apierrors.IsNotFound(err) {
			delete(e.objs, k)
		}
		return nil, err
	}
	obj.SetManagedFields(nil)
	e.objs[k] = &heldExternal{obj: obj, used: e.now()}
	if e.sweeping == nil {
		e.sweeping = time.AfterFunc(externalIdle, e.sweep)
	}
	return obj, nil
}

// sweep drops the objects no instance read for externalIdle, and is due again while objects
// are held.
func (e *externalObjects) sweep() {
	e.mu.Lock()
	defer e.mu.Unlock()
	now := e.now()
	for key, h := range e.objs {
		if now.Sub(h.used) > externalIdle {
			delete(e.objs, key)
		}
	}
	if e.sweeping == nil {
		return
	}
	if len(e.objs) == 0 {
		e.sweeping.Stop()
		e.sweeping = nil
		return
	}
	e.sweeping.Reset(externalIdle)
}

// readExternal reads the object an externalRef names: from the cache of every object of the
// kind, or for a kind cached by metadata only (graph.Node.ExternalByMetadata), as held by
// r.externalObjs at the resourceVersion the cache shows.
func (r *Reconciler) readExternal(ctx context.Context, n *graph.Node, key client.ObjectKey) (*unstructured.Unstructured, error) {
	if !n.ExternalByMetadata() {
		live := &unstructured.Unstructured{}
		live.SetGroupVersionKind(n.GVK)
		return live, r.opts.Client.Get(ctx, key, live)
	}
	meta := &metav1.PartialObjectMetadata{}
	meta.SetGroupVersionKind(n.GVK)
	if err := r.opts.Client.Get(ctx, key, meta); err != nil {
		return nil, err
	}
	return r.externalObjs.get(ctx, n.GVK, meta)
}

// listExternal lists the objects an externalRef's selector matches, as readExternal reads
// them. An object deleted between the list and its read is left out.
func (r *Reconciler) listExternal(ctx context.Context, n *graph.Node, opts ...client.ListOption) ([]*unstructured.Unstructured, error) {
	listKind := n.GVK.GroupVersion().WithKind(n.GVK.Kind + "List")
	if !n.ExternalByMetadata() {
		list := &unstructured.UnstructuredList{}
		list.SetGroupVersionKind(listKind)
		if err := r.opts.Client.List(ctx, list, opts...); err != nil {
			return nil, err
		}
		out := make([]*unstructured.Unstructured, len(list.Items))
		for i := range list.Items {
			out[i] = &list.Items[i]
		}
		return out, nil
	}
	metas := &metav1.PartialObjectMetadataList{}
	metas.SetGroupVersionKind(listKind)
	if err := r.opts.Client.List(ctx, metas, opts...); err != nil {
		return nil, err
	}
	out := make([]*unstructured.Unstructured, 0, len(metas.Items))
	for i := range metas.Items {
		obj, err := r.externalObjs.get(ctx, n.GVK, &metas.Items[i])
		switch {
		case apierrors.IsNotFound(err):
		case err != nil:
			return nil, err
		default:
			out = append(out, obj)
		}
	}
	return out, nil
}
