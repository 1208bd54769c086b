package instance

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"
)

// TestExternalObjects: an externalRef object of a kind cached by metadata is read from the API
// server once per resourceVersion, handed out as a copy, and dropped when gone or idle.
func TestExternalObjects(t *testing.T) {
	gvk := schema.GroupVersionKind{Version: "v1", Kind: "ConfigMap"}
	ctx := context.Background()
	setup := func(t *testing.T, names ...string) (*externalObjects, client.Client, *int) {
		var objs []client.Object
		for _, name := range names {
			u := &unstructured.Unstructured{}
			u.SetGroupVersionKind(gvk)
			u.SetNamespace("ns")
			u.SetName(name)
			u.Object["data"] = map[string]any{"v": "1"}
			objs = append(objs, u)
		}
		gets := 0
		c := fake.NewClientBuilder().WithObjects(objs...).WithInterceptorFuncs(interceptor.Funcs{
			Get: func(ctx context.Context, c client.WithWatch, key client.ObjectKey, obj client.Object, opts ...client.GetOption) error {
				gets++
				return c.Get(ctx, key, obj, opts...)
			},
		}).Build()
		return newExternalObjects(c), c, &gets
	}
	// metaOf is the metadata the cache would hold of the object as it is now.
	metaOf := func(t *testing.T, c client.Client, name string) *metav1.PartialObjectMetadata {
		u := &unstructured.Unstructured{}
		u.SetGroupVersionKind(gvk)
		if err := c.Get(ctx, client.ObjectKey{Namespace: "ns", Name: name}, u); err != nil {
			t.Fatal(err)
		}
		meta := &metav1.PartialObjectMetadata{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: name, UID: u.GetUID(), ResourceVersion: u.GetResourceVersion()}}
		meta.SetGroupVersionKind(gvk)
		return meta
	}

	t.Run("ReadOncePerResourceVersion", func(t *testing.T) {
		e, c, gets := setup(t, "src")
		meta := metaOf(t, c, "src")
		*gets = 0
		for range 3 {
			obj, err := e.get(ctx, gvk, meta)
			if err != nil || dataValue(obj) != "1" {
				t.Fatalf("get = %v, %v", obj, err)
			}
		}
		if *gets != 1 {
			t.Errorf("%d reads for one resourceVersion, want 1", *gets)
		}
		// Changed: the cache shows a new resourceVersion, and the object is read again.
		changed := &unstructured.Unstructured{}
		changed.SetGroupVersionKind(gvk)
		_ = c.Get(ctx, client.ObjectKey{Namespace: "ns", Name: "src"}, changed)
		changed.Object["data"] = map[string]any{"v": "2"}
		if err := c.Update(ctx, changed); err != nil {
			t.Fatal(err)
		}
		meta = metaOf(t, c, "src")
		*gets = 0
		obj, err := e.get(ctx, gvk, meta)
		if err != nil || dataValue(obj) != "2" {
			t.Fatalf("after a change: get = %v, %v; want the new content", obj, err)
		}
		if *gets != 1 {
			t.Errorf("%d reads after a change, want 1", *gets)
		}
	})
	t.Run("HandsOutCopies", func(t *testing.T) {
		e, c, _ := setup(t, "src")
		meta := metaOf(t, c, "src")
		obj, _ := e.get(ctx, gvk, meta)
		obj.Object["data"] = map[string]any{"v": "mutated"}
		again, _ := e.get(ctx, gvk, meta)
		if dataValue(again) != "1" {
			t.Errorf("a caller's change reached the held object: %v", again.Object["data"])
		}
	})
	t.Run("GoneIsDropped", func(t *testing.T) {
		e, c, _ := setup(t, "src")
		meta := metaOf(t, c, "src")
		if _, err := e.get(ctx, gvk, meta); err != nil {
			t.Fatal(err)
		}
		stale := meta.DeepCopy()
		stale.ResourceVersion = "0"
		u := &unstructured.Unstructured{}
		u.SetGroupVersionKind(gvk)
		u.SetNamespace("ns")
		u.SetName("src")
		if err := c.Delete(ctx, u); err != nil {
			t.Fatal(err)
		}
		if _, err := e.get(ctx, gvk, stale); !apierrors.IsNotFound(err) {
			t.Errorf("get of a deleted object: %v, want NotFound", err)
		}
		if n := e.len(); n != 0 {
			t.Errorf("%d objects held after the only one was deleted", n)
		}
	})
	t.Run("ConcurrentReadsShareOne", func(t *testing.T) {
		e, c, gets := setup(t, "src")
		meta := metaOf(t, c, "src")
		*gets = 0
		slow := e.reader
		var mu sync.Mutex
		e.reader = readerFunc(func(ctx context.Context, key client.ObjectKey, obj client.Object) error {
			time.Sleep(50 * time.Millisecond)
			mu.Lock()
			defer mu.Unlock()
			return slow.Get(ctx, key, obj)
		})
		var wg sync.WaitGroup
		for range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if obj, err := e.get(ctx, gvk, meta); err != nil || dataValue(obj) != "1" {
					t.Errorf("get = %v, %v", obj, err)
				}
			}()
		}
		wg.Wait()
		if *gets != 1 {
			t.Errorf("%d reads for 8 instances reading the same object at once, want 1", *gets)
		}
	})
	t.Run("IdleDroppedWithoutFurtherReads", func(t *testing.T) {
		e, c, _ := setup(t, "a", "b")
		t.Cleanup(func() { e.stopSweeps() })
		now := time.Now()
		e.now = func() time.Time { return now }
		if _, err := e.get(ctx, gvk, metaOf(t, c, "a")); err != nil {
			t.Fatal(err)
		}
		if !e.sweepArmed() {
			t.Fatal("an object is held and no sweep is due")
		}
		now = now.Add(externalIdle / 2)
		if _, err := e.get(ctx, gvk, metaOf(t, c, "b")); err != nil {
			t.Fatal(err)
		}
		now = now.Add(externalIdle/2 + time.Minute)
		e.sweep()
		if n := e.len(); n != 1 {
			t.Errorf("%d objects held after the first sweep, want 1 (the idle one dropped)", n)
		}
		if !e.sweepArmed() {
			t.Error("an object is still held and no sweep is due")
		}
		now = now.Add(externalIdle)
		e.sweep()
		if n := e.len(); n != 0 || e.sweepArmed() {
			t.Errorf("after the second sweep: %d objects held, sweep due %v; want none, false", n, e.sweepArmed())
		}
	})
}

// dataValue is the object's data.v.
func dataValue(obj *unstructured.Unstructured) string {
	v, _, _ := unstructured.NestedString(obj.Object, "data", "v")
	return v
}

// readerFunc is a client.Reader whose Get is a function.
type readerFunc func(ctx context.Context, key client.ObjectKey, obj client.Object) error

func (f readerFunc) Get(ctx context.Context, key client.ObjectKey, obj client.Object, _ ...client.GetOption) error {
	return f(ctx, key, obj)
}

func (f readerFunc) List(context.Context, client.ObjectList, ...client.ListOption) error {
	return fmt.Errorf("not implemented")
}

// len is the number of objects held.
func (e *externalObjects) len() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return len(e.objs)
}

// sweepArmed reports whether a sweep is due.
func (e *externalObjects) sweepArmed() bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.sweeping != nil
}

// stopSweeps stops the sweep that is due, if any.
func (e *externalObjects) stopSweeps() {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.sweeping != nil {
		e.sweeping.Stop()
		e.sweeping = nil
	}
}
