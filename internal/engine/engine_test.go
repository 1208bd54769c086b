package engine

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	toolscache "k8s.io/client-go/tools/cache"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/cache/informertest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllertest"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/kro-run/kro/api/v1alpha1"
	"github.com/kro-run/kro/internal/graph"
	"github.com/kro-run/kro/internal/metadata"
)

var (
	appGVK       = schema.GroupVersionKind{Group: "kro.run", Version: "v1alpha1", Kind: "App"}
	otherGVK     = schema.GroupVersionKind{Group: "kro.run", Version: "v1alpha1", Kind: "Other"}
	configMapGVK = schema.GroupVersionKind{Version: "v1", Kind: "ConfigMap"}
	secretGVK    = schema.GroupVersionKind{Version: "v1", Kind: "Secret"}
)

// fakeInformer is a synced informer that keeps track of its handlers.
type fakeInformer struct {
	*controllertest.FakeInformer
	// mu guards handlers, which controllers add and remove from their goroutines.
	mu       sync.Mutex
	handlers map[*registration]toolscache.ResourceEventHandler
}

type registration struct {
	toolscache.ResourceEventHandlerRegistration
}

func (f *fakeInformer) AddEventHandler(h toolscache.ResourceEventHandler) (toolscache.ResourceEventHandlerRegistration, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	reg, _ := f.FakeInformer.AddEventHandler(nil)
	r := &registration{reg}
	f.handlers[r] = h
	return r, nil
}

func (f *fakeInformer) RemoveEventHandler(r toolscache.ResourceEventHandlerRegistration) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.handlers, r.(*registration))
	return nil
}

func (f *fakeInformer) handlerCount() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.handlers)
}

func (f *fakeInformer) delete(obj client.Object) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, h := range f.handlers {
		h.OnDelete(obj)
	}
}

// fakeCache hands out fake informers and records which ones were removed.
type fakeCache struct {
	*informertest.FakeInformers
	// mu guards the fields below.
	mu        sync.Mutex
	informers map[schema.GroupVersionKind]*fakeInformer
	removed   []schema.GroupVersionKind
	// fail, when set, is consulted on every GetInformer call of a kind; n counts the calls.
	fail  func(gvk schema.GroupVersionKind, n int) error
	calls map[schema.GroupVersionKind]int
	// metadata records the kinds whose informer was asked for with a PartialObjectMetadata.
	metadata map[schema.GroupVersionKind]bool
}

func newFakeCache() *fakeCache {
	return &fakeCache{
		FakeInformers: &informertest.FakeInformers{},
		informers:     map[schema.GroupVersionKind]*fakeInformer{},
		calls:         map[schema.GroupVersionKind]int{},
		metadata:      map[schema.GroupVersionKind]bool{},
	}
}

func (c *fakeCache) GetInformer(_ context.Context, obj client.Object, _ ...cache.InformerGetOption) (cache.Informer, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	gvk := obj.GetObjectKind().GroupVersionKind()
	c.calls[gvk]++
	_, c.metadata[gvk] = obj.(*metav1.PartialObjectMetadata)
	if c.fail != nil {
		if err := c.fail(gvk, c.calls[gvk]); err != nil {
			return nil, err
		}
	}
	inf, ok := c.informers[gvk]
	if !ok {
		inf = &fakeInformer{FakeInformer: controllertest.NewFakeInformer(controllertest.Synced), handlers: map[*registration]toolscache.ResourceEventHandler{}}
		c.informers[gvk] = inf
	}
	return inf, nil
}

func (c *fakeCache) RemoveInformer(_ context.Context, obj client.Object) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	gvk := obj.GetObjectKind().GroupVersionKind()
	if _, ok := c.informers[gvk]; ok {
		delete(c.informers, gvk)
		c.removed = append(c.removed, gvk)
	}
	return nil
}

// handlers is the number of handlers on the informer of gvk; -1 when there is none.
func (c *fakeCache) handlers(gvk schema.GroupVersionKind) int {
	c.mu.Lock()
	inf, ok := c.informers[gvk]
	c.mu.Unlock()
	if !ok {
		return -1
	}
	return inf.handlerCount()
}

func (c *fakeCache) removedKinds() []schema.GroupVersionKind {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.removed)
}

type nopReconciler struct{}

func (nopReconciler) Reconcile(context.Context, reconcile.Request) (reconcile.Result, error) {
	return reconcile.Result{}, nil
}
func (nopReconciler) SetGraph(*graph.Graph)         {}
func (nopReconciler) Echo(client.Object, bool) bool { return false }
func (nopReconciler) ExternalRequests(schema.GroupVersionKind, client.Object) []reconcile.Request {
	return nil
}

// notified collects the RGD names the engine notifies.
type notified struct {
	mu    sync.Mutex
	names []string
}

func (n *notified) Notify(name string) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.names = append(n.names, name)
}

func (n *notified) InstanceDeleted(name string) { n.Notify(name) }

func (n *notified) has(name string) bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	return slices.Contains(n.names, name)
}

// testGraph is a graph of RGD rgd serving kind, generation gen, with one resource per child kind.
func testGraph(rgd string, kind schema.GroupVersionKind, gen int64, children ...schema.GroupVersionKind) *graph.Graph {
	g := &graph.Graph{RGDName: rgd, RGDUID: "uid-" + rgd, Generation: gen, Instance: graph.Instance{GVK: kind}}
	for _, c := range children {
		g.Nodes = append(g.Nodes, &graph.Node{ID: c.Kind, GVK: c})
	}
	return g
}

// startEngine runs an engine on the caches all (Options.Cache) and owned (Options.Owned) until
// the test ends.
func startEngine(t *testing.T, all, owned cache.Cache, n Notifier) *Engine {
	t.Helper()
	e := New(Options{Cache: all, Owned: owned, Notifier: n, NewReconciler: func(*graph.Graph) InstanceReconciler { return nopReconciler{} }})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = e.Start(ctx)
	}()
	t.Cleanup(func() {
		cancel()
		<-done
	})
	<-e.started
	return e
}

// waitFor polls cond until it holds, failing the test after 10 seconds.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestRegisterRetryAddsMissingWatch(t *testing.T) {
	c := newFakeCache()
	e := startEngine(t, newFakeCache(), c, nil)
	ctx := context.Background()
	if err := e.Register(ctx, testGraph("app", appGVK, 1, configMapGVK)); err != nil {
		t.Fatalf("Register(generation 1): %v", err)
	}
	waitFor(t, "the controller to start its watches", func() bool { return c.handlers(configMapGVK) == 1 })

	// The informer of the new child kind syncs, but the watch on it fails to start once.
	c.mu.Lock()
	c.fail = func(gvk schema.GroupVersionKind, n int) error {
		if gvk == secretGVK && n == 2 {
			return errors.New("watch refused")
		}
		return nil
	}
	c.mu.Unlock()
	g2 := testGraph("app", appGVK, 2, configMapGVK, secretGVK)
	if err := e.Register(ctx, g2); err == nil {
		t.Fatalf("Register(generation 2) with a failing watch: got nil error")
	}
	if err := e.Register(ctx, g2); err != nil {
		t.Fatalf("Register(generation 2) retry: %v", err)
	}
	if diff := cmp.Diff(1, c.handlers(secretGVK)); diff != "" {
		t.Errorf("Register retry after a failed watch: handlers on the new child kind: -want, +got:\n%s", diff)
	}
}

func TestInformersReferenceCounted(t *testing.T) {
	all, c := newFakeCache(), newFakeCache()
	e := startEngine(t, all, c, nil)
	ctx := context.Background()
	for _, g := range []*graph.Graph{
		testGraph("app", appGVK, 1, configMapGVK, secretGVK),
		testGraph("other", otherGVK, 1, configMapGVK),
	} {
		if err := e.Register(ctx, g); err != nil {
			t.Fatalf("Register(%s): %v", g.RGDName, err)
		}
	}
	waitFor(t, "the watches to start", func() bool { return c.handlers(configMapGVK) == 2 && c.handlers(secretGVK) == 1 })

	owned := func(gvks ...schema.GroupVersionKind) []Informer {
		var out []Informer
		for _, gvk := range gvks {
			out = append(out, Informer{GVK: gvk, Scope: ScopeOwned})
		}
		return out
	}
	instances := func(gvks ...schema.GroupVersionKind) []Informer {
		var out []Informer
		for _, gvk := range gvks {
			out = append(out, Informer{GVK: gvk, Scope: ScopeAll})
		}
		return out
	}
	steps := []struct {
		reason      string
		do          func()
		wantRemoved []schema.GroupVersionKind
		wantHeld    []Informer
	}{
		{
			reason: "A kind the new graph no longer uses is let go; shared kinds stay.",
			do: func() {
				if err := e.Register(ctx, testGraph("app", appGVK, 2, configMapGVK)); err != nil {
					t.Fatalf("Register(app generation 2): %v", err)
				}
			},
			wantRemoved: []schema.GroupVersionKind{secretGVK},
			wantHeld:    append(instances(appGVK, otherGVK), owned(configMapGVK)...),
		},
		{
			reason:      "Unregister lets go of the instance kind; another graph still uses ConfigMaps.",
			do:          func() { e.Unregister(appGVK) },
			wantRemoved: []schema.GroupVersionKind{secretGVK, appGVK},
			wantHeld:    append(instances(otherGVK), owned(configMapGVK)...),
		},
		{
			reason:      "The last user lets go of every informer.",
			do:          func() { e.Unregister(otherGVK) },
			wantRemoved: []schema.GroupVersionKind{secretGVK, appGVK, configMapGVK, otherGVK},
			wantHeld:    []Informer{},
		},
	}
	byName := func(a, b schema.GroupVersionKind) int { return strings.Compare(a.String(), b.String()) }
	byKey := func(a, b Informer) int {
		return strings.Compare(a.GVK.String()+a.Scope.String(), b.GVK.String()+b.Scope.String())
	}
	for _, s := range steps {
		s.do()
		removed := append(all.removedKinds(), c.removedKinds()...)
		slices.SortFunc(removed, byName)
		want := slices.Clone(s.wantRemoved)
		slices.SortFunc(want, byName)
		if diff := cmp.Diff(want, removed); diff != "" {
			t.Errorf("%s\nremoved informers: -want, +got:\n%s", s.reason, diff)
		}
		held := e.Informers()
		slices.SortFunc(held, byKey)
		wantHeld := slices.Clone(s.wantHeld)
		slices.SortFunc(wantHeld, byKey)
		if diff := cmp.Diff(wantHeld, held); diff != "" {
			t.Errorf("%s\nheld informers: -want, +got:\n%s", s.reason, diff)
		}
	}
}

func TestStoppedControllerIsReportedAndReplaced(t *testing.T) {
	c := newFakeCache()
	// The instance informer syncs in Register, but the controller's watch on it cannot start.
	c.fail = func(gvk schema.GroupVersionKind, n int) error {
		if gvk == appGVK && n == 2 {
			return errors.New("watch refused")
		}
		return nil
	}
	n := &notified{}
	e := startEngine(t, c, newFakeCache(), n)
	g := testGraph("app", appGVK, 1, configMapGVK)
	if err := e.Register(context.Background(), g); err != nil {
		t.Fatalf("Register: %v", err)
	}
	waitFor(t, "the RGD to be notified", func() bool { return n.has("app") })
	if err := e.Stopped(appGVK); err == nil || e.Serving(appGVK) {
		t.Fatalf("after the controller failed: Stopped() = %v, Serving() = %t; want an error and not serving", err, e.Serving(appGVK))
	}
	if err := e.Register(context.Background(), g); err != nil {
		t.Fatalf("Register again: %v", err)
	}
	waitFor(t, "the new controller to watch its instances", func() bool { return c.handlers(appGVK) == 1 })
	if err := e.Stopped(appGVK); err != nil || !e.Serving(appGVK) {
		t.Errorf("after Register again: Stopped() = %v, Serving() = %t; want nil and serving", err, e.Serving(appGVK))
	}
}

func TestInstanceDeletionNotifiesRGD(t *testing.T) {
	c := newFakeCache()
	n := &notified{}
	e := startEngine(t, c, newFakeCache(), n)
	if err := e.Register(context.Background(), testGraph("app", appGVK, 1)); err != nil {
		t.Fatalf("Register: %v", err)
	}
	waitFor(t, "the instance watch", func() bool { return c.handlers(appGVK) == 1 })
	inst := &unstructured.Unstructured{}
	inst.SetGroupVersionKind(appGVK)
	inst.SetName("a")
	c.mu.Lock()
	inf := c.informers[appGVK]
	c.mu.Unlock()
	inf.delete(inst)
	if !n.has("app") {
		t.Errorf("deleting an instance did not notify its RGD")
	}
}

func TestRemoveKind(t *testing.T) {
	c := newFakeCache()
	n := &notified{}
	e := startEngine(t, newFakeCache(), c, n)
	ctx := context.Background()
	g := testGraph("app", appGVK, 1, secretGVK)
	if err := e.Register(ctx, g); err != nil {
		t.Fatalf("Register: %v", err)
	}
	waitFor(t, "the child watch", func() bool { return c.handlers(secretGVK) == 1 })

	e.RemoveKind(secretGVK.GroupKind())
	if diff := cmp.Diff([]schema.GroupVersionKind{secretGVK}, c.removedKinds()); diff != "" {
		t.Errorf("RemoveKind: removed informers: -want, +got:\n%s", diff)
	}
	if !n.has("app") {
		t.Errorf("RemoveKind did not notify the RGD using the kind")
	}
	// The kind is served again: the same graph is registered again with its watch.
	if err := e.Register(ctx, g); err != nil {
		t.Fatalf("Register after RemoveKind: %v", err)
	}
	if diff := cmp.Diff(1, c.handlers(secretGVK)); diff != "" {
		t.Errorf("Register after RemoveKind: handlers on the child kind: -want, +got:\n%s", diff)
	}
}

// graphRecorder records the graphs a controller is given.
type graphRecorder struct {
	nopReconciler
	mu     sync.Mutex
	graphs []*graph.Graph
}

func (r *graphRecorder) SetGraph(g *graph.Graph) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.graphs = append(r.graphs, g)
}

func TestRegisterNewRevisionOfSameGeneration(t *testing.T) {
	c := newFakeCache()
	rec := &graphRecorder{}
	e := New(Options{Cache: c, Owned: newFakeCache(), NewReconciler: func(*graph.Graph) InstanceReconciler { return rec }})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = e.Start(ctx)
	}()
	t.Cleanup(func() {
		cancel()
		<-done
	})
	<-e.started

	g1 := testGraph("app", appGVK, 1)
	g1.Revision = 1
	same := testGraph("app", appGVK, 1)
	same.Revision = 1
	reissued := testGraph("app", appGVK, 1)
	reissued.Revision = 2
	for _, g := range []*graph.Graph{g1, same, reissued} {
		if err := e.Register(context.Background(), g); err != nil {
			t.Fatalf("Register(revision %d): %v", g.Revision, err)
		}
	}
	rec.mu.Lock()
	defer rec.mu.Unlock()
	var got []int64
	for _, g := range rec.graphs {
		got = append(got, g.Revision)
	}
	// The first graph is given at construction; the same one again is not given; a new
	// revision of the same generation is, so instances report it.
	if diff := cmp.Diff([]int64{2}, got); diff != "" {
		t.Errorf("graphs given to the running controller: -want, +got:\n%s", diff)
	}
}

// routingReconciler records the instances reconciled; ExternalRequests sends every object it is
// asked about to the instance "reader".
type routingReconciler struct {
	nopReconciler
	mu         sync.Mutex
	reconciled []string
	asked      []schema.GroupVersionKind
}

func (r *routingReconciler) Reconcile(_ context.Context, req reconcile.Request) (reconcile.Result, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.reconciled = append(r.reconciled, req.Name)
	return reconcile.Result{}, nil
}

func (r *routingReconciler) ExternalRequests(gvk schema.GroupVersionKind, _ client.Object) []reconcile.Request {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.asked = append(r.asked, gvk)
	return []reconcile.Request{{NamespacedName: client.ObjectKey{Namespace: "ns", Name: "reader"}}}
}

func (r *routingReconciler) got() ([]string, []schema.GroupVersionKind) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.reconciled), slices.Clone(r.asked)
}

// TestWatchScopes: what a graph applies is watched in the owned cache and routed by the
// instance labels; externalRefs and objects awaited for adoption are watched in the cache of
// every object and routed through ExternalRequests.
func TestWatchScopes(t *testing.T) {
	all, owned := newFakeCache(), newFakeCache()
	saGVK := schema.GroupVersionKind{Version: "v1", Kind: "ServiceAccount"}
	rec := &routingReconciler{}
	e := New(Options{Cache: all, Owned: owned, NewReconciler: func(*graph.Graph) InstanceReconciler { return rec }})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = e.Start(ctx)
	}()
	t.Cleanup(func() {
		cancel()
		<-done
	})
	<-e.started

	g := testGraph("app", appGVK, 1, configMapGVK)
	g.Nodes = append(g.Nodes,
		&graph.Node{ID: "secret", GVK: secretGVK, External: &graph.External{}},
		&graph.Node{ID: "sa", GVK: saGVK, Adoption: v1alpha1.AdoptionPolicyRequired})
	if err := e.Register(ctx, g); err != nil {
		t.Fatalf("Register: %v", err)
	}
	waitFor(t, "the watches", func() bool { return all.handlers(saGVK) == 1 && owned.handlers(saGVK) == 1 })
	handlers := map[string]int{}
	for name, c := range map[string]*fakeCache{"all": all, "owned": owned} {
		for _, gvk := range []schema.GroupVersionKind{appGVK, configMapGVK, secretGVK, saGVK} {
			handlers[name+" "+gvk.Kind] = c.handlers(gvk)
		}
	}
	wantHandlers := map[string]int{
		"all App": 1, "all ConfigMap": -1, "all Secret": 1, "all ServiceAccount": 1,
		"owned App": -1, "owned ConfigMap": 1, "owned Secret": -1, "owned ServiceAccount": 1,
	}
	if diff := cmp.Diff(wantHandlers, handlers); diff != "" {
		t.Errorf("handlers per cache and kind (-1: no informer): -want, +got:\n%s", diff)
	}
	// Every object of the external and awaited kinds is held by metadata; the instances whole.
	all.mu.Lock()
	gotMetadata := map[string]bool{"App": all.metadata[appGVK], "Secret": all.metadata[secretGVK], "ServiceAccount": all.metadata[saGVK]}
	all.mu.Unlock()
	if diff := cmp.Diff(map[string]bool{"App": false, "Secret": true, "ServiceAccount": true}, gotMetadata); diff != "" {
		t.Errorf("metadata informers in the cache of all objects: -want, +got:\n%s", diff)
	}

	object := func(gvk schema.GroupVersionKind, name string, labels map[string]string) *unstructured.Unstructured {
		u := &unstructured.Unstructured{}
		u.SetGroupVersionKind(gvk)
		u.SetNamespace("ns")
		u.SetName(name)
		u.SetLabels(labels)
		return u
	}
	child := map[string]string{
		metadata.InstanceKindLabel: appGVK.Kind, metadata.InstanceGroupLabel: appGVK.Group,
		metadata.InstanceNameLabel: "owner", metadata.InstanceNamespaceLabel: "ns",
	}
	for _, ev := range []struct {
		c   *fakeCache
		obj *unstructured.Unstructured
	}{
		{owned, object(configMapGVK, "owner-cm", child)},
		{owned, object(configMapGVK, "stray", nil)},
		{all, object(secretGVK, "read", nil)},
	} {
		ev.c.mu.Lock()
		inf := ev.c.informers[ev.obj.GroupVersionKind()]
		ev.c.mu.Unlock()
		inf.delete(ev.obj)
	}
	waitFor(t, "the reconciles", func() bool { r, _ := rec.got(); return len(r) == 2 })
	reconciled, asked := rec.got()
	slices.Sort(reconciled)
	if diff := cmp.Diff([]string{"owner", "reader"}, reconciled); diff != "" {
		t.Errorf("instances reconciled: -want, +got:\n%s", diff)
	}
	if diff := cmp.Diff([]schema.GroupVersionKind{secretGVK}, asked); diff != "" {
		t.Errorf("kinds asked to ExternalRequests: -want, +got:\n%s", diff)
	}
}
