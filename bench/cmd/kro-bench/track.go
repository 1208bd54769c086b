package main

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/dynamic/dynamicinformer"
	"k8s.io/client-go/tools/cache"
)

// tracker follows the objects of one resource in one namespace through an informer (a watch,
// never polling) and timestamps what the bench waits for: the first time an instance is seen
// with status.state ACTIVE, and every object's appearance and disappearance.
type tracker struct {
	mu      sync.Mutex
	changed chan struct{} // closed and replaced on every event
	prefix  string        // only names with this prefix count
	// present maps a live object's name to its UID.
	present map[string]types.UID
	// addedAt is when an object with that name and UID was first seen.
	addedAt map[string]time.Time
	// activeAt is when an instance was first seen ACTIVE.
	activeAt map[string]time.Time
	cancel   context.CancelFunc
}

func newTracker(ctx context.Context, dyn dynamic.Interface, gvr schema.GroupVersionResource, namespace, prefix string) (*tracker, error) {
	t := &tracker{
		changed: make(chan struct{}), prefix: prefix,
		present: map[string]types.UID{}, addedAt: map[string]time.Time{}, activeAt: map[string]time.Time{},
	}
	ctx, t.cancel = context.WithCancel(ctx)
	f := dynamicinformer.NewFilteredDynamicSharedInformerFactory(dyn, 0, namespace, nil)
	inf := f.ForResource(gvr).Informer()
	reg, err := inf.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(o any) { t.observe(o, false) },
		UpdateFunc: func(_, o any) { t.observe(o, false) },
		DeleteFunc: func(o any) { t.observe(o, true) },
	})
	if err != nil {
		t.cancel()
		return nil, err
	}
	f.Start(ctx.Done())
	syncCtx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	// The registration's HasSynced: true once this handler has seen every object of the
	// initial list (the informer's own HasSynced does not wait for the handlers).
	if !cache.WaitForCacheSync(syncCtx.Done(), reg.HasSynced) {
		t.cancel()
		return nil, fmt.Errorf("watching %s in %s: cache did not sync", gvr, namespace)
	}
	return t, nil
}

func (t *tracker) stop() { t.cancel() }

func (t *tracker) observe(o any, deleted bool) {
	now := time.Now()
	if tomb, ok := o.(cache.DeletedFinalStateUnknown); ok {
		o = tomb.Obj
	}
	u, ok := o.(*unstructured.Unstructured)
	if !ok || !strings.HasPrefix(u.GetName(), t.prefix) {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	name := u.GetName()
	if deleted {
		if t.present[name] == u.GetUID() {
			delete(t.present, name)
		}
	} else {
		if t.present[name] != u.GetUID() {
			t.present[name] = u.GetUID()
			t.addedAt[name] = now
		}
		if _, seen := t.activeAt[name]; !seen {
			if state, _, _ := unstructured.NestedString(u.Object, "status", "state"); state == "ACTIVE" {
				t.activeAt[name] = now
			}
		}
	}
	close(t.changed)
	t.changed = make(chan struct{})
}

// wait blocks until cond (called with the lock held) holds, ctx ends or timeout passes.
func (t *tracker) wait(ctx context.Context, timeout time.Duration, cond func() bool) error {
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		t.mu.Lock()
		ok, ch := cond(), t.changed
		t.mu.Unlock()
		if ok {
			return nil
		}
		select {
		case <-ch:
		case <-deadline.C:
			return fmt.Errorf("timed out after %v", timeout)
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

func (t *tracker) count() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.present)
}

func (t *tracker) uid(name string) types.UID {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.present[name]
}

func (t *tracker) active(name string) (time.Time, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	at, ok := t.activeAt[name]
	return at, ok
}

func (t *tracker) activeCount() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.activeAt)
}
