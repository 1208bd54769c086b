package instance

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"
)

// TestRestartReads: after a start, the objects of a metadata-only kind are read in one list,
// each handed out once at the resourceVersion it was listed at.
func TestRestartReads(t *testing.T) {
	gvk := schema.GroupVersionKind{Version: "v1", Kind: "ConfigMap"}
	selector := client.MatchingLabels{"kro.run/instance-kind": "App"}
	objects := func() []client.Object {
		var objs []client.Object
		for i := range 3 {
			u := &unstructured.Unstructured{}
			u.SetGroupVersionKind(gvk)
			u.SetNamespace("ns")
			u.SetName(fmt.Sprintf("cm-%d", i))
			u.SetLabels(map[string]string{"kro.run/instance-kind": "App"})
			u.Object["data"] = map[string]any{"name": u.GetName()}
			objs = append(objs, u)
		}
		other := &unstructured.Unstructured{}
		other.SetGroupVersionKind(gvk)
		other.SetNamespace("ns")
		other.SetName("not-ours")
		return append(objs, other)
	}
	setup := func(t *testing.T, listErr error) (*restartReads, *atomic.Int32, map[string]string) {
		var lists atomic.Int32
		c := fake.NewClientBuilder().WithObjects(objects()...).WithInterceptorFuncs(interceptor.Funcs{
			List: func(ctx context.Context, c client.WithWatch, list client.ObjectList, opts ...client.ListOption) error {
				lists.Add(1)
				if listErr != nil {
					return listErr
				}
				if err := ctx.Err(); err != nil {
					return err
				}
				return c.List(ctx, list, opts...)
			},
		}).Build()
		versions := map[string]string{}
		for _, name := range []string{"cm-0", "cm-1", "cm-2", "not-ours"} {
			u := &unstructured.Unstructured{}
			u.SetGroupVersionKind(gvk)
			if err := c.Get(context.Background(), client.ObjectKey{Namespace: "ns", Name: name}, u); err != nil {
				t.Fatal(err)
			}
			versions[name] = u.GetResourceVersion()
		}
		return newRestartReads(c, selector), &lists, versions
	}
	key := func(name string) client.ObjectKey { return client.ObjectKey{Namespace: "ns", Name: name} }
	ctx := context.Background()

	t.Run("OneListForAllObjects", func(t *testing.T) {
		s, lists, rv := setup(t, nil)
		for _, name := range []string{"cm-0", "cm-1", "cm-2"} {
			content, ok := s.get(ctx, gvk, key(name), rv[name])
			if !ok || content["data"].(map[string]any)["name"] != name {
				t.Fatalf("get(%s) = %v, %v; want the listed object's content", name, content, ok)
			}
			if _, kept := content["metadata"]; kept {
				t.Errorf("get(%s) kept the metadata the cache holds", name)
			}
		}
		if n := lists.Load(); n != 1 {
			t.Errorf("%d lists, want 1", n)
		}
	})
	t.Run("HandedOutOnce", func(t *testing.T) {
		s, _, rv := setup(t, nil)
		if _, ok := s.get(ctx, gvk, key("cm-0"), rv["cm-0"]); !ok {
			t.Fatal("first get: not served")
		}
		if _, ok := s.get(ctx, gvk, key("cm-0"), rv["cm-0"]); ok {
			t.Error("second get of the same object served from the list")
		}
	})
	t.Run("OtherResourceVersion", func(t *testing.T) {
		s, _, _ := setup(t, nil)
		if _, ok := s.get(ctx, gvk, key("cm-1"), "999999"); ok {
			t.Error("an object listed at another resourceVersion was served")
		}
	})
	t.Run("NotSelected", func(t *testing.T) {
		s, _, rv := setup(t, nil)
		if _, ok := s.get(ctx, gvk, key("not-ours"), rv["not-ours"]); ok {
			t.Error("an object without the selector's labels was served")
		}
	})
	t.Run("TooLateToList", func(t *testing.T) {
		s, lists, rv := setup(t, nil)
		s.start = time.Now().Add(-2 * s.window)
		if _, ok := s.get(ctx, gvk, key("cm-0"), rv["cm-0"]); ok {
			t.Error("served after the window")
		}
		if n := lists.Load(); n != 0 {
			t.Errorf("%d lists after the window, want 0", n)
		}
	})
	t.Run("ListFails", func(t *testing.T) {
		s, lists, rv := setup(t, errors.New("forbidden"))
		for range 3 {
			if _, ok := s.get(ctx, gvk, key("cm-0"), rv["cm-0"]); ok {
				t.Error("served although the list failed")
			}
		}
		if n := lists.Load(); n != 1 {
			t.Errorf("%d lists, want 1 (a failed list is not repeated)", n)
		}
	})
	t.Run("FirstReaderGivesUp", func(t *testing.T) {
		// The reconcile that starts the list times out: the list still serves the others.
		s, lists, rv := setup(t, nil)
		gone, cancel := context.WithCancel(ctx)
		cancel()
		s.get(gone, gvk, key("cm-0"), rv["cm-0"])
		if _, ok := s.get(ctx, gvk, key("cm-1"), rv["cm-1"]); !ok {
			t.Error("not served: the list ended with the context of the reconcile that started it")
		}
		if n := lists.Load(); n != 1 {
			t.Errorf("%d lists, want 1", n)
		}
	})
	t.Run("DroppedAfterTTL", func(t *testing.T) {
		s, _, rv := setup(t, nil)
		now := time.Now()
		s.now = func() time.Time { return now }
		if _, ok := s.get(ctx, gvk, key("cm-0"), rv["cm-0"]); !ok {
			t.Fatal("first get: not served")
		}
		now = now.Add(s.ttl + time.Second)
		if _, ok := s.get(ctx, gvk, key("cm-1"), rv["cm-1"]); ok {
			t.Error("served after the listed objects expired")
		}
	})
	t.Run("ConcurrentGets", func(t *testing.T) {
		s, lists, rv := setup(t, nil)
		var wg sync.WaitGroup
		var served atomic.Int32
		for _, name := range []string{"cm-0", "cm-1", "cm-2", "cm-0", "cm-1", "cm-2"} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if _, ok := s.get(ctx, gvk, key(name), rv[name]); ok {
					served.Add(1)
				}
			}()
		}
		wg.Wait()
		if n := lists.Load(); n != 1 {
			t.Errorf("%d lists, want 1", n)
		}
		if n := served.Load(); n != 3 {
			t.Errorf("%d gets served, want 3 (each object once)", n)
		}
	})
	t.Run("NoReader", func(t *testing.T) {
		var s *restartReads
		if _, ok := s.get(ctx, gvk, key("cm-0"), "1"); ok {
			t.Error("a nil restartReads served an object")
		}
	})
}
