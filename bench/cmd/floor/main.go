// Command floor is the bench's "perfect controller": for the bench's scenarios it performs
// exactly the writes any controller must make, and nothing else, so kro's figures can be set
// against a physical floor. It is as strong as the shared harness's floor.
//
// For every instance of the floor's copies of the scenario kinds (group floor.bench.kro.run) it
//   - server-side applies the children that are not in its cache, level by level of the
//     dependency graph: the children of one level concurrently (one request in flight per
//     child), each dependent rendered from the apply *responses* of the level before (no GETs:
//     the response is the object), then
//   - writes the instance status once (state ACTIVE), with one merge patch of /status;
//   - on a child's deletion (drift) applies just that child again (it is missing from the cache);
//   - once an instance is gone, deletes the children still in its cache, all concurrently, once
//     (the instance is remembered as cleaned, so the children's delete events cause nothing).
//
// With --finalizer it follows the protocol kro's spec requires of a controller that must never
// orphan a child: a finalizer on the instance before its first child is written (one merge
// patch), and on deletion the children deleted while the instance waits for it, then the
// finalizer removed (one merge patch, which lets the API server delete the instance). Its figures
// are the floor of that protocol; without the flag, of a controller that may orphan children.
//
// It reads only through informers (one LIST+WATCH per kind, children filtered by the floor's
// label), is woken by an instance's creation, deletion or generation change and by a child's
// deletion, and uses a client-go workqueue with the same number of workers and the same client
// QPS/burst as kro's defaults unless told otherwise (--qps -1: unthrottled).
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"os"
	"os/signal"
	"slices"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/dynamic/dynamicinformer"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/client-go/util/workqueue"

	"github.com/kro-run/kro/bench/internal/scenario"
)

// item names one instance of a scenario: whatever woke it, the floor compares the instance
// (or its absence) with its cache and does what is missing.
type item struct {
	scenario  string
	namespace string
	name      string
}

type floor struct {
	dyn       dynamic.Interface
	group     string
	instances map[string]cache.GenericLister // by scenario name
	children  map[schema.GroupVersionResource]cache.GenericLister
	queue     workqueue.TypedRateLimitingInterface[item]

	mu sync.Mutex
	// cleaned holds the deleted instances whose children were deleted.
	cleaned map[item]bool

	// finalizer: the instance carries floorFinalizer while it has children (--finalizer).
	finalizer bool

	applies, statusWrites, deletes, finalizerWrites, errors atomic.Int64
}

// floorFinalizer is the floor's finalizer on its instances with --finalizer.
const floorFinalizer = "bench.kro.run/floor-finalizer"

func main() {
	kubeconfig := flag.String("kubeconfig", "", "kubeconfig of the floor's identity")
	qps := flag.Float64("qps", 100, "client QPS; negative disables client-side throttling")
	burst := flag.Int("burst", 150, "client burst")
	workers := flag.Int("workers", 10, "concurrent instance workers")
	group := flag.String("group", scenario.FloorGroup, "API group of the floor's instance kinds")
	readyFile := flag.String("ready-file", "", "file to create once the informers have synced")
	withFinalizer := flag.Bool("finalizer", false, "put a finalizer on each instance before its children and remove it once they are deleted")
	flag.Parse()
	log.SetFlags(log.Ltime | log.Lmicroseconds)

	cfg, err := clientcmd.BuildConfigFromFlags("", *kubeconfig)
	if err != nil {
		log.Fatal(err)
	}
	cfg.QPS, cfg.Burst = float32(*qps), *burst
	if *qps < 0 {
		cfg.QPS = -1 // client-go installs no rate limiter for a negative QPS
	}
	cfg.UserAgent = "bench-floor"
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		log.Fatal(err)
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	f := &floor{
		dyn: dyn, group: *group,
		instances: map[string]cache.GenericLister{},
		children:  map[schema.GroupVersionResource]cache.GenericLister{},
		queue:     workqueue.NewTypedRateLimitingQueue(workqueue.DefaultTypedControllerRateLimiter[item]()),
		cleaned:   map[item]bool{},
		finalizer: *withFinalizer,
	}
	all := dynamicinformer.NewDynamicSharedInformerFactory(dyn, 0)
	owned := dynamicinformer.NewFilteredDynamicSharedInformerFactory(dyn, 0, metav1.NamespaceAll, func(o *metav1.ListOptions) {
		o.LabelSelector = scenario.FloorInstanceLabel
	})
	for _, sc := range scenario.All {
		sc := sc
		inf := all.ForResource(sc.GVR(f.group))
		f.instances[sc.Name] = inf.Lister()
		key := func(o any) (item, bool) {
			if tomb, ok := o.(cache.DeletedFinalStateUnknown); ok {
				o = tomb.Obj
			}
			u, ok := o.(*unstructured.Unstructured)
			if !ok {
				return item{}, false
			}
			return item{scenario: sc.Name, namespace: u.GetNamespace(), name: u.GetName()}, true
		}
		_, _ = inf.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
			AddFunc: func(o any) {
				if it, ok := key(o); ok {
					f.setCleaned(it, false) // a new instance of a reused name
					f.queue.Add(it)
				}
			},
			// Only a spec change or the start of deletion is work: the floor's own status and
			// finalizer writes do not wake it.
			UpdateFunc: func(old, o any) {
				was, is := old.(*unstructured.Unstructured), o.(*unstructured.Unstructured)
				if was.GetGeneration() == is.GetGeneration() &&
					(was.GetDeletionTimestamp() != nil || is.GetDeletionTimestamp() == nil) {
					return
				}
				if it, ok := key(o); ok {
					f.queue.Add(it)
				}
			},
			DeleteFunc: func(o any) {
				if it, ok := key(o); ok {
					f.queue.Add(it)
				}
			},
		})
		for _, c := range sc.Children {
			if _, ok := f.children[c.GVR]; ok {
				continue
			}
			cinf := owned.ForResource(c.GVR)
			f.children[c.GVR] = cinf.Lister()
			_, _ = cinf.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{DeleteFunc: f.childDeleted})
		}
	}
	all.Start(ctx.Done())
	owned.Start(ctx.Done())
	for gvr, ok := range all.WaitForCacheSync(ctx.Done()) {
		if !ok {
			log.Fatalf("informer for %s did not sync", gvr)
		}
	}
	for gvr, ok := range owned.WaitForCacheSync(ctx.Done()) {
		if !ok {
			log.Fatalf("informer for %s did not sync", gvr)
		}
	}
	log.Printf("floor ready: qps %v burst %d workers %d finalizer %v", *qps, *burst, *workers, f.finalizer)
	if *readyFile != "" {
		if err := os.WriteFile(*readyFile, []byte("ready\n"), 0o644); err != nil {
			log.Fatal(err)
		}
	}
	for i := 0; i < *workers; i++ {
		go f.work(ctx)
	}
	<-ctx.Done()
	f.queue.ShutDown()
	log.Printf("floor stopping: %d applies, %d status writes, %d deletes, %d finalizer writes, %d errors",
		f.applies.Load(), f.statusWrites.Load(), f.deletes.Load(), f.finalizerWrites.Load(), f.errors.Load())
}

// childDeleted wakes the instance of a deleted child, unless the instance is gone and was
// cleaned (then the deletion is the floor's own).
func (f *floor) childDeleted(o any) {
	if tomb, ok := o.(cache.DeletedFinalStateUnknown); ok {
		o = tomb.Obj
	}
	u, ok := o.(*unstructured.Unstructured)
	if !ok {
		return
	}
	inst := u.GetLabels()[scenario.FloorInstanceLabel]
	sc := scenario.ByKind(u.GetLabels()["bench.kro.run/floor-instance-kind"])
	if inst == "" || sc == nil {
		return
	}
	it := item{scenario: sc.Name, namespace: u.GetNamespace(), name: inst}
	if f.isCleaned(it) {
		return
	}
	f.queue.Add(it)
}

func (f *floor) isCleaned(it item) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.cleaned[it]
}

func (f *floor) setCleaned(it item, cleaned bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if cleaned {
		f.cleaned[it] = true
	} else {
		delete(f.cleaned, it)
	}
}

func (f *floor) work(ctx context.Context) {
	for {
		it, shutdown := f.queue.Get()
		if shutdown {
			return
		}
		err := f.process(ctx, it)
		if err != nil && ctx.Err() == nil {
			f.errors.Add(1)
			log.Printf("%v: %v", it, err)
			f.queue.AddRateLimited(it)
		} else {
			f.queue.Forget(it)
		}
		f.queue.Done(it)
	}
}

func (f *floor) process(ctx context.Context, it item) error {
	sc := scenario.All[it.scenario]
	o, err := f.instances[sc.Name].ByNamespace(it.namespace).Get(it.name)
	if apierrors.IsNotFound(err) {
		return f.teardown(ctx, sc, it)
	}
	if err != nil {
		return err
	}
	inst := o.(*unstructured.Unstructured)
	if inst.GetDeletionTimestamp() != nil {
		if !f.finalizer || !slices.Contains(inst.GetFinalizers(), floorFinalizer) {
			return nil // gone once others' finalizers are
		}
		if err := f.teardown(ctx, sc, it); err != nil {
			return err
		}
		return f.setFinalizer(ctx, sc, inst, false)
	}
	if f.finalizer && !slices.Contains(inst.GetFinalizers(), floorFinalizer) {
		if err := f.setFinalizer(ctx, sc, inst, true); err != nil {
			return err
		}
	}
	return f.reconcile(ctx, sc, inst)
}

// setFinalizer adds the floor's finalizer to inst or removes it, with one merge patch on the
// condition that inst is still at the version the cache shows (the list of finalizers is
// replaced whole, so another writer's finalizer must not be lost).
func (f *floor) setFinalizer(ctx context.Context, sc *scenario.Scenario, inst *unstructured.Unstructured, add bool) error {
	finalizers := slices.DeleteFunc(slices.Clone(inst.GetFinalizers()), func(s string) bool { return s == floorFinalizer })
	if add {
		finalizers = append(finalizers, floorFinalizer)
	}
	patch, err := json.Marshal(map[string]any{"metadata": map[string]any{
		"finalizers": finalizers, "resourceVersion": inst.GetResourceVersion(),
	}})
	if err != nil {
		return err
	}
	f.finalizerWrites.Add(1)
	_, err = f.dyn.Resource(sc.GVR(f.group)).Namespace(inst.GetNamespace()).Patch(ctx, inst.GetName(),
		types.MergePatchType, patch, metav1.PatchOptions{FieldManager: scenario.FloorFieldManager})
	if !add && apierrors.IsNotFound(err) {
		return nil
	}
	return err
}

// reconcile applies the instance's missing children, level by level, and writes its status
// unless it is ACTIVE for the instance's generation already. After a spec change (the status
// is for an older generation) every child is applied again.
func (f *floor) reconcile(ctx context.Context, sc *scenario.Scenario, inst *unstructured.Unstructured) error {
	state, _, _ := unstructured.NestedString(inst.Object, "status", "state")
	current := state == "ACTIVE" && observedGeneration(inst) == inst.GetGeneration()
	changed := state == "ACTIVE" && !current
	value, _, _ := unstructured.NestedString(inst.Object, "spec", "value")
	ns, name := inst.GetNamespace(), inst.GetName()
	have := map[string]*unstructured.Unstructured{}
	for _, level := range sc.Levels() {
		var todo []scenario.Child
		var desired []*unstructured.Unstructured
		for _, c := range level {
			if !changed {
				if o, err := f.children[c.GVR].ByNamespace(ns).Get(scenario.ChildName(name, c.ID)); err == nil {
					have[c.ID] = o.(*unstructured.Unstructured)
					continue
				}
			}
			obj, err := sc.Render(ns, name, value, c.ID, have)
			if err != nil {
				return err
			}
			todo = append(todo, c)
			desired = append(desired, obj)
		}
		applied := make([]*unstructured.Unstructured, len(todo))
		err := parallel(len(todo), func(i int) error {
			var err error
			applied[i], err = f.apply(ctx, todo[i], desired[i])
			return err
		})
		if err != nil {
			return err
		}
		for i, c := range todo {
			have[c.ID] = applied[i]
		}
	}
	if current {
		return nil
	}
	return f.writeStatus(ctx, sc, inst)
}

// observedGeneration is the observedGeneration of the instance's Ready condition (0: none).
func observedGeneration(inst *unstructured.Unstructured) int64 {
	conds, _, _ := unstructured.NestedSlice(inst.Object, "status", "conditions")
	for _, c := range conds {
		if m, ok := c.(map[string]any); ok && m["type"] == "Ready" {
			switch g := m["observedGeneration"].(type) {
			case int64:
				return g
			case float64:
				return int64(g)
			}
		}
	}
	return 0
}

// parallel runs f(0..n-1), each in its own goroutine (the first inline when n is 1), and
// returns the first error.
func parallel(n int, f func(i int) error) error {
	if n == 1 {
		return f(0)
	}
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = f(i)
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

func (f *floor) apply(ctx context.Context, c scenario.Child, obj *unstructured.Unstructured) (*unstructured.Unstructured, error) {
	f.applies.Add(1)
	out, err := f.dyn.Resource(c.GVR).Namespace(obj.GetNamespace()).Apply(ctx, obj.GetName(), obj,
		metav1.ApplyOptions{FieldManager: scenario.FloorFieldManager, Force: true})
	if err != nil {
		return nil, fmt.Errorf("applying %s %s/%s: %w", c.Kind, obj.GetNamespace(), obj.GetName(), err)
	}
	return out, nil
}

func (f *floor) writeStatus(ctx context.Context, sc *scenario.Scenario, inst *unstructured.Unstructured) error {
	now := time.Now().UTC().Truncate(time.Second).Format(time.RFC3339)
	patch, err := json.Marshal(map[string]any{"status": map[string]any{
		"state": "ACTIVE",
		"conditions": []any{map[string]any{
			"type": "Ready", "status": "True", "reason": "Ready", "message": "all resources are ready",
			"lastTransitionTime": now, "observedGeneration": inst.GetGeneration(),
		}},
	}})
	if err != nil {
		return err
	}
	f.statusWrites.Add(1)
	_, err = f.dyn.Resource(sc.GVR(f.group)).Namespace(inst.GetNamespace()).Patch(ctx, inst.GetName(),
		types.MergePatchType, patch, metav1.PatchOptions{FieldManager: scenario.FloorFieldManager}, "status")
	if apierrors.IsNotFound(err) {
		return nil
	}
	return err
}

// teardown deletes, once, the children of a deleted instance that are still in the cache, all
// at once (one request in flight per child).
func (f *floor) teardown(ctx context.Context, sc *scenario.Scenario, it item) error {
	if f.isCleaned(it) {
		return nil
	}
	// Cleaned before the deletes, so that their events do not wake the instance again.
	f.setCleaned(it, true)
	var todo []scenario.Child
	for _, c := range sc.Children {
		if _, err := f.children[c.GVR].ByNamespace(it.namespace).Get(scenario.ChildName(it.name, c.ID)); err == nil {
			todo = append(todo, c)
		}
	}
	bg := metav1.DeletePropagationBackground
	err := parallel(len(todo), func(i int) error {
		f.deletes.Add(1)
		err := f.dyn.Resource(todo[i].GVR).Namespace(it.namespace).Delete(ctx, scenario.ChildName(it.name, todo[i].ID),
			metav1.DeleteOptions{PropagationPolicy: &bg})
		if apierrors.IsNotFound(err) {
			return nil
		}
		return err
	})
	if err != nil {
		f.setCleaned(it, false)
	}
	return err
}
