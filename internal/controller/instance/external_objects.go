package instance

import (
	"context"
	"sync"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// externalObjects holds the objects of externalRefs as kro last read them from the API server,
// for the kinds whose every object kro caches by metadata only (graph.Node.ExternalByMetadata):
// kro then holds whole only the objects instances read, not every object of the kind. An object
// is read again when the metadata cache shows another resourceVersion; one no instance read for
// externalIdle is dropped.
type externalObjects struct {
	reader client.Reader
	now    func() time.Time

	mu     sync.Mutex
	objs   map[externalKey]*heldExternal
	stored int
}

type externalKey struct {
	gvk schema.GroupVersionKind
	key client.ObjectKey
}

type heldExternal struct {
	obj  *unstructured.Unstructured
	used time.Time
}

const (
	// externalIdle is how long an object no instance reads is held.
	externalIdle = 10 * time.Minute
	// externalSweepEvery is how many reads from the API server pass between two sweeps.
	externalSweepEvery = 256
)

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

	obj := &unstructured.Unstructured{}
	obj.SetGroupVersionKind(gvk)
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
	now := e.now()
	e.objs[k] = &heldExternal{obj: obj, used: now}
	if e.stored++; e.stored%externalSweepEvery == 0 {
		for key, h := range e.objs {
			if now.Sub(h.used) > externalIdle {
				delete(e.objs, key)
			}
		}
	}
	return obj.DeepCopy(), nil
}

// len is the number of objects held.
func (e *externalObjects) len() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return len(e.objs)
}
