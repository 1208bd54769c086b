// Command floor is the bench's "perfect controller": for the bench's scenarios it performs
// exactly the writes any controller must make, and nothing else, so kro's figures can be set
// against a physical floor.
//
// For every instance of the floor's copies of the scenario kinds (group floor.bench.kro.run) it
//   - server-side applies the children in dependency order, one request at a time, each
//     dependent rendered from the previous apply's response (no GETs: the response is the
//     object), then
//   - writes the instance status once (state ACTIVE), with one merge patch of /status;
//   - on a child's deletion (drift) re-applies just that child;
//   - on the instance's deletion deletes its children, dependents first, one at a time.
//
// It reads only through informers (one LIST+WATCH per kind, children filtered by the floor's
// label) and uses a client-go workqueue with the same number of workers and the same client
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

type itemKind int

const (
	reconcileItem itemKind = iota
	repairItem
	teardownItem
)

// item is one unit of work: an instance of a scenario, what to do, and for a repair the child.
type item struct {
	what      itemKind
	scenario  string
	namespace string
	name      string
	child     string
}

type floor struct {
	dyn       dynamic.Interface
	group     string
	instances map[string]cache.GenericLister // by scenario name
	children  map[schema.GroupVersionResource]cache.GenericLister
	queue     workqueue.TypedRateLimitingInterface[item]
	// done maps an instance UID to the generation whose children and status were written.
	done map[types.UID]int64
	mu   chan struct{}

	applies, statusWrites, deletes, errors atomic.Int64
}

func main() {
	kubeconfig := flag.String("kubeconfig", "", "kubeconfig of the floor's identity")
	qps := flag.Float64("qps", 100, "client QPS; negative disables client-side throttling")
	burst := flag.Int("burst", 150, "client burst")
	workers := flag.Int("workers", 10, "concurrent instance workers")
	group := flag.String("group", scenario.FloorGroup, "API group of the floor's instance kinds")
	readyFile := flag.String("ready-file", "", "file to create once the informers have synced")
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
		done:      map[types.UID]int64{},
		mu:        make(chan struct{}, 1),
	}
	all := dynamicinformer.NewDynamicSharedInformerFactory(dyn, 0)
	owned := dynamicinformer.NewFilteredDynamicSharedInformerFactory(dyn, 0, metav1.NamespaceAll, func(o *metav1.ListOptions) {
		o.LabelSelector = scenario.FloorInstanceLabel
	})
	for _, sc := range scenario.All {
		sc := sc
		inf := all.ForResource(sc.GVR(f.group))
		f.instances[sc.Name] = inf.Lister()
		enqueue := func(what itemKind) func(any) {
			return func(o any) {
				if tomb, ok := o.(cache.DeletedFinalStateUnknown); ok {
					o = tomb.Obj
				}
				if u, ok := o.(*unstructured.Unstructured); ok {
					f.queue.Add(item{what: what, scenario: sc.Name, namespace: u.GetNamespace(), name: u.GetName()})
				}
			}
		}
		_, _ = inf.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
			AddFunc:    enqueue(reconcileItem),
			UpdateFunc: func(_, n any) { enqueue(reconcileItem)(n) },
			DeleteFunc: enqueue(teardownItem),
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
	log.Printf("floor ready: qps %v burst %d workers %d", *qps, *burst, *workers)
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
	log.Printf("floor stopping: %d applies, %d status writes, %d deletes, %d errors",
		f.applies.Load(), f.statusWrites.Load(), f.deletes.Load(), f.errors.Load())
}

// childDeleted queues the repair of a child deleted while its instance lives.
func (f *floor) childDeleted(o any) {
	if tomb, ok := o.(cache.DeletedFinalStateUnknown); ok {
		o = tomb.Obj
	}
	u, ok := o.(*unstructured.Unstructured)
	if !ok {
		return
	}
	inst, node := u.GetLabels()[scenario.FloorInstanceLabel], u.GetLabels()[scenario.FloorNodeLabel]
	sc := scenario.ByKind(u.GetLabels()["bench.kro.run/floor-instance-kind"])
	if inst == "" || node == "" || sc == nil {
		return
	}
	f.queue.Add(item{what: repairItem, scenario: sc.Name, namespace: u.GetNamespace(), name: inst, child: node})
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
	switch it.what {
	case teardownItem:
		return f.teardown(ctx, sc, it)
	case repairItem:
		return f.repair(ctx, sc, it)
	}
	inst, err := f.instance(sc, it)
	if inst == nil || err != nil {
		return err
	}
	gen := inst.GetGeneration()
	if f.isDone(inst.GetUID(), gen) {
		return nil
	}
	if state, _, _ := unstructured.NestedString(inst.Object, "status", "state"); state == "ACTIVE" {
		// Written by an earlier run of this program.
		f.markDone(inst.GetUID(), gen)
		return nil
	}
	value, _, _ := unstructured.NestedString(inst.Object, "spec", "value")
	applied := map[string]*unstructured.Unstructured{}
	for _, c := range sc.Children {
		obj, err := sc.Render(it.namespace, it.name, value, c.ID, applied)
		if err != nil {
			return err
		}
		if applied[c.ID], err = f.apply(ctx, c, obj); err != nil {
			return err
		}
	}
	if err := f.writeStatus(ctx, sc, inst); err != nil {
		return err
	}
	f.markDone(inst.GetUID(), gen)
	return nil
}

func (f *floor) instance(sc *scenario.Scenario, it item) (*unstructured.Unstructured, error) {
	o, err := f.instances[sc.Name].ByNamespace(it.namespace).Get(it.name)
	if apierrors.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	u := o.(*unstructured.Unstructured)
	if u.GetDeletionTimestamp() != nil {
		return nil, nil
	}
	return u, nil
}

func (f *floor) isDone(uid types.UID, gen int64) bool {
	f.mu <- struct{}{}
	defer func() { <-f.mu }()
	g, ok := f.done[uid]
	return ok && g == gen
}

func (f *floor) markDone(uid types.UID, gen int64) {
	f.mu <- struct{}{}
	defer func() { <-f.mu }()
	f.done[uid] = gen
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

// repair re-applies one deleted child of a live instance; its dependencies come from the cache.
func (f *floor) repair(ctx context.Context, sc *scenario.Scenario, it item) error {
	inst, err := f.instance(sc, it)
	if inst == nil || err != nil {
		return err
	}
	c, ok := sc.Child(it.child)
	if !ok {
		return nil
	}
	name := scenario.ChildName(it.name, c.ID)
	if _, err := f.children[c.GVR].ByNamespace(it.namespace).Get(name); err == nil {
		return nil // already back
	}
	deps := map[string]*unstructured.Unstructured{}
	if c.DependsOn != "" {
		d, _ := sc.Child(c.DependsOn)
		o, err := f.children[d.GVR].ByNamespace(it.namespace).Get(scenario.ChildName(it.name, d.ID))
		if err != nil {
			return fmt.Errorf("repairing %s: dependency %s: %w", name, d.ID, err)
		}
		deps[d.ID] = o.(*unstructured.Unstructured)
	}
	value, _, _ := unstructured.NestedString(inst.Object, "spec", "value")
	obj, err := sc.Render(it.namespace, it.name, value, c.ID, deps)
	if err != nil {
		return err
	}
	_, err = f.apply(ctx, c, obj)
	return err
}

// teardown deletes a deleted instance's children, dependents first, one request at a time.
func (f *floor) teardown(ctx context.Context, sc *scenario.Scenario, it item) error {
	if inst, err := f.instance(sc, it); inst != nil || err != nil {
		return err // recreated meanwhile
	}
	bg := metav1.DeletePropagationBackground
	for i := len(sc.Children) - 1; i >= 0; i-- {
		c := sc.Children[i]
		f.deletes.Add(1)
		err := f.dyn.Resource(c.GVR).Namespace(it.namespace).Delete(ctx, scenario.ChildName(it.name, c.ID),
			metav1.DeleteOptions{PropagationPolicy: &bg})
		if err != nil && !apierrors.IsNotFound(err) {
			return err
		}
	}
	return nil
}
