package chaos

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/dynamic/dynamicinformer"
	"k8s.io/client-go/tools/cache"

	"github.com/kro-run/kro/internal/metadata"
)

// objectKey names an object: kind, namespace and name.
type objectKey struct{ kind, namespace, name string }

func (k objectKey) String() string { return k.kind + " " + k.namespace + "/" + k.name }

// incarnation is one object (one UID) seen under a name.
type incarnation struct {
	uid types.UID
	// seen and gone are the times since the test started of the first event and of the
	// deletion event (0 while it exists).
	seen, gone time.Duration
	// goneRV is the resourceVersion of the deletion event, 0 when unknown (the deletion was
	// found by a re-list). All objects share etcd's revision, so these order deletions exactly.
	goneRV int64
	// instanceID is the kro.run/instance-id label of a child when first seen.
	instanceID string
	// finalized is the time it was first seen with kro's finalizer, 0 if never.
	finalized time.Duration
	// goneWithFinalizers are the finalizers of the object in its deletion event. The
	// apiserver removes an object only once it has none, except in the race of a delete with
	// a concurrent update adding one (kubernetes/kubernetes#77988).
	goneWithFinalizers []string
}

// recorder watches, from the start of the test, every object of the watched kinds in the
// test's namespaces (and the cluster-scoped ones), and records each UID seen under each name, and which instances were seen
// ACTIVE. A watch re-lists after an apiserver restart; an object created and deleted while
// no watch was open is not seen (a gap of at most the restart).
type recorder struct {
	start      time.Time
	namespaces map[string]bool
	factory    dynamicinformer.DynamicSharedInformerFactory

	// mu guards the maps below, written by the informers' handlers and read by the test.
	mu      sync.Mutex
	objects map[objectKey][]*incarnation
	// active are the instances seen with status.state ACTIVE at least once.
	active map[objectKey]bool
}

func newRecorder(start time.Time, namespaces []string) *recorder {
	r := &recorder{
		start:      start,
		namespaces: map[string]bool{},
		factory:    dynamicinformer.NewDynamicSharedInformerFactory(env.dynamic, 0),
		objects:    map[objectKey][]*incarnation{},
		active:     map[objectKey]bool{},
	}
	for _, ns := range namespaces {
		r.namespaces[ns] = true
	}
	return r
}

// Watch starts recording the objects of gvr, named kind in reports, and waits for the first
// list.
func (r *recorder) Watch(ctx context.Context, gvr schema.GroupVersionResource, kind string) error {
	inf := r.factory.ForResource(gvr).Informer()
	_ = inf.SetTransform(func(obj any) (any, error) {
		if u, ok := obj.(*unstructured.Unstructured); ok {
			u.SetManagedFields(nil)
		}
		return obj, nil
	})
	if _, err := inf.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(obj any) { r.observe(kind, obj, false) },
		UpdateFunc: func(_, obj any) { r.observe(kind, obj, false) },
		DeleteFunc: func(obj any) { r.observe(kind, obj, true) },
	}); err != nil {
		return err
	}
	r.factory.Start(ctx.Done())
	if !cache.WaitForCacheSync(ctx.Done(), inf.HasSynced) {
		return fmt.Errorf("watch of %s did not sync", gvr)
	}
	return nil
}

func (r *recorder) observe(kind string, obj any, deleted bool) {
	tomb, relisted := obj.(cache.DeletedFinalStateUnknown)
	if relisted {
		obj = tomb.Obj
	}
	u, ok := obj.(*unstructured.Unstructured)
	if !ok || (u.GetNamespace() != "" && !r.namespaces[u.GetNamespace()]) {
		return
	}
	now := time.Since(r.start)
	key := objectKey{kind, u.GetNamespace(), u.GetName()}
	r.mu.Lock()
	defer r.mu.Unlock()
	var inc *incarnation
	for _, i := range r.objects[key] {
		if i.uid == u.GetUID() {
			inc = i
		}
	}
	if inc == nil {
		inc = &incarnation{uid: u.GetUID(), seen: now, instanceID: u.GetLabels()["kro.run/instance-id"]}
		r.objects[key] = append(r.objects[key], inc)
	}
	if inc.finalized == 0 && slices.Contains(u.GetFinalizers(), metadata.Finalizer) {
		inc.finalized = now
	}
	if deleted && inc.gone == 0 {
		inc.gone = now
		if !relisted {
			inc.goneRV, _ = strconv.ParseInt(u.GetResourceVersion(), 10, 64)
			inc.goneWithFinalizers = u.GetFinalizers()
		}
	}
	if state, _, _ := unstructured.NestedString(u.Object, "status", "state"); state == "ACTIVE" && !deleted {
		r.active[key] = true
	}
}

// Active counts the objects among keys seen ACTIVE at least once.
func (r *recorder) Active(keys []objectKey) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, k := range keys {
		if r.active[k] {
			n++
		}
	}
	return n
}

// Gone counts the objects among keys whose deletion was seen.
func (r *recorder) Gone(keys []objectKey) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, k := range keys {
		incs := r.objects[k]
		if len(incs) > 0 && incs[len(incs)-1].gone != 0 {
			n++
		}
	}
	return n
}

// DeletedRV is the resourceVersion at which the last object named k was deleted, 0 when it
// exists or the deletion was not seen as an event.
func (r *recorder) DeletedRV(k objectKey) int64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	incs := r.objects[k]
	if len(incs) == 0 {
		return 0
	}
	return incs[len(incs)-1].goneRV
}

// Counts returns, over the objects of the given kinds, the names seen and the deletions seen.
func (r *recorder) Counts(kinds ...string) (names, deletions int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for k, incs := range r.objects {
		if !slices.Contains(kinds, k.kind) {
			continue
		}
		names++
		for _, i := range incs {
			if i.gone != 0 {
				deletions++
			}
		}
	}
	return names, deletions
}

// Duplicates describes every name seen with more than one UID, sorted.
func (r *recorder) Duplicates() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for k, incs := range r.objects {
		if len(incs) < 2 {
			continue
		}
		var parts []string
		for _, i := range incs {
			s := fmt.Sprintf("uid %s seen t=%.1fs", i.uid, i.seen.Seconds())
			if i.gone != 0 {
				s += fmt.Sprintf(" deleted t=%.1fs", i.gone.Seconds())
			}
			if i.instanceID != "" {
				s += " instance-id " + i.instanceID
			}
			parts = append(parts, s)
		}
		out = append(out, fmt.Sprintf("%s: %d UIDs: %s", k, len(incs), strings.Join(parts, "; ")))
	}
	slices.Sort(out)
	return out
}

// History describes the incarnations of one name, for failure messages.
func (r *recorder) History(k objectKey) string {
	r.mu.Lock()
	defer r.mu.Unlock()
	incs := r.objects[k]
	if len(incs) == 0 {
		return "never seen"
	}
	var parts []string
	for _, i := range incs {
		s := fmt.Sprintf("seen t=%.2fs", i.seen.Seconds())
		if i.finalized != 0 {
			s += fmt.Sprintf(", with kro's finalizer t=%.2fs", i.finalized.Seconds())
		}
		if i.gone != 0 {
			s += fmt.Sprintf(", deleted t=%.2fs", i.gone.Seconds())
		}
		if len(i.goneWithFinalizers) > 0 {
			s += fmt.Sprintf(" while it still had finalizers %v (the apiserver race of a delete with the update adding a finalizer, kubernetes/kubernetes#77988)", i.goneWithFinalizers)
		}
		parts = append(parts, s)
	}
	return strings.Join(parts, "; ")
}
