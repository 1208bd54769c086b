package engine

import (
	"context"
	"errors"
	"reflect"
	"sync"
	"time"

	"github.com/go-logr/logr"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/kro-run/kro/internal/graph"
	"github.com/kro-run/kro/internal/metrics"
)

// InstanceReconciler reconciles the instances of one generated kind with the graph it was
// last given.
type InstanceReconciler interface {
	reconcile.Reconciler
	SetGraph(g *graph.Graph)
	// ExternalRequests lists the instances that read obj through an externalRef.
	ExternalRequests(gvk schema.GroupVersionKind, obj client.Object) []reconcile.Request
	// Echo reports whether an event only shows what the reconciler itself wrote: the object
	// is as its own write left it (deleted: it deleted it), so reconciling again would change
	// nothing. It sees every event of the instances and of their children, after the cache
	// has taken it in.
	Echo(obj client.Object, deleted bool) bool
}

// Notifier is told the name of an RGD when something its reconcile must see happened to the
// kind it serves.
type Notifier interface {
	// Notify: the controller stopped by itself, or a kind its graph uses stopped being served.
	Notify(rgdName string)
	// InstanceDeleted: an instance is gone (a deleting RGD waits for its last instance).
	InstanceDeleted(rgdName string)
}

// NotifierFn adapts a function to a Notifier that reports everything to it.
type NotifierFn func(rgdName string)

// Notify calls fn.
func (fn NotifierFn) Notify(rgdName string) { fn(rgdName) }

// InstanceDeleted calls fn.
func (fn NotifierFn) InstanceDeleted(rgdName string) { fn(rgdName) }

// Options configure the Engine.
type Options struct {
	// Cache provides the informers that hold every object of their kind: those of instance
	// kinds, and of the kinds graphs read objects of that belong to no ApplySet (externalRefs,
	// resources with adoptionPolicy Required). Required.
	Cache cache.Cache
	// Owned provides the informers of the kinds graphs apply. It should hold only the objects
	// that carry an ApplySet part-of label (what kro applies always does), so that kro does
	// not keep in memory every object of a child kind (every Secret of the cluster). Required;
	// it must not be Cache. The engine removes the informers it started, in either cache,
	// once no graph uses them.
	Owned cache.Cache
	// NewReconciler builds the reconciler of a new kind. Required.
	NewReconciler func(g *graph.Graph) InstanceReconciler
	// Workers is the number of concurrent reconciles per kind. Default 10.
	Workers int
	// RetryBaseDelay is how long an instance whose reconcile failed waits before its first
	// retry; the wait doubles with every consecutive failure of that instance. Default 100ms.
	RetryBaseDelay time.Duration
	// RetryMaxDelay caps the wait between retries of one instance. Default 5 minutes.
	RetryMaxDelay time.Duration
	// Notifier is told about events the owning RGD must react to. Default: nobody.
	Notifier Notifier
	// Log is the engine's logger. Default: discard.
	Log logr.Logger
}

// Engine runs one controller per served kind. It is a manager.Runnable: controllers are
// started with the context given to Start and all stop when it ends.
type Engine struct {
	opts Options

	// started is closed by Start once runCtx is set.
	started chan struct{}
	// runCtx is the context of Start, the parent of every controller's context. It is stored
	// because controllers are started later, from RGD reconciles with shorter contexts.
	runCtx context.Context

	// mu guards controllers and informers. It is never held while waiting for an informer to
	// sync or for a controller to stop, so one slow kind does not hold up the others.
	mu          sync.Mutex
	controllers map[schema.GroupVersionKind]*kindController
	// informers counts, per informer, the controllers whose graph uses it. An informer is
	// removed from its cache when its count drops to zero.
	informers map[Informer]int
}

// kindController is the running controller of one kind.
type kindController struct {
	rgdName string
	// graph is the graph rec was last given with every watch in place; nil while a watch is
	// missing, so that the next Register does the whole work again.
	graph  *graph.Graph
	ctrl   controller.TypedController[reconcile.Request]
	rec    InstanceReconciler
	cancel context.CancelFunc
	resync chan event.GenericEvent
	// stopped is closed when the controller's context ends.
	stopped <-chan struct{}
	// done is closed when the controller's Start has returned; err is then why it stopped
	// (nil when it was stopped).
	done chan struct{}
	err  error
	// watches holds the stop function of each watch of the graph's resources: one per kind
	// and cache (see nodeInformers).
	watches map[Informer]func()
	// kinds are the informers this controller counts in Engine.informers.
	kinds map[Informer]bool
}

// failed reports whether the controller stopped by itself.
func (kc *kindController) failed() bool {
	select {
	case <-kc.done:
		return kc.err != nil
	default:
		return false
	}
}

// New returns an Engine.
func New(opts Options) *Engine {
	if opts.Workers <= 0 {
		opts.Workers = 10
	}
	if opts.RetryBaseDelay <= 0 {
		opts.RetryBaseDelay = 100 * time.Millisecond
	}
	if opts.RetryMaxDelay <= 0 {
		opts.RetryMaxDelay = 5 * time.Minute
	}
	if opts.Notifier == nil {
		opts.Notifier = NotifierFn(func(string) {})
	}
	if opts.Log.GetSink() == nil {
		opts.Log = logr.Discard()
	}
	return &Engine{
		opts:        opts,
		started:     make(chan struct{}),
		controllers: map[schema.GroupVersionKind]*kindController{},
		informers:   map[Informer]int{},
	}
}

// Start runs until ctx ends, then stops every controller.
func (e *Engine) Start(ctx context.Context) error {
	e.runCtx = ctx
	close(e.started)
	<-ctx.Done()
	e.mu.Lock()
	defer e.mu.Unlock()
	for gvk, kc := range e.controllers {
		e.drop(gvk, kc)
	}
	return nil
}

// NeedLeaderElection makes the engine run only on the leader.
func (e *Engine) NeedLeaderElection() bool { return true }

// Register serves g's kind: it starts a controller for a new kind (or in place of one that
// stopped by itself), or gives a running one the new graph, adds watches for new child kinds,
// drops those of kinds the graph no longer uses, and re-reconciles every instance. A failed
// Register leaves nothing half done that a retry would skip.
func (e *Engine) Register(ctx context.Context, g *graph.Graph) error {
	select {
	case <-e.started:
	case <-ctx.Done():
		return errors.New("engine is not started")
	}
	gvk := g.Instance.GVK
	if e.upToDate(g) {
		return nil
	}
	// Make sure every informer the controller needs can start before starting it: a kind the
	// REST mapper or the API server does not serve yet fails here, and the RGD is retried,
	// instead of failing later inside the controller's goroutine.
	kinds := informersOf(g)
	if err := e.ensureInformers(ctx, kinds); err != nil {
		return err
	}

	e.mu.Lock()
	defer e.mu.Unlock()
	kc, ok := e.controllers[gvk]
	if ok && !kc.failed() && sameGraph(kc.graph, g) {
		return nil
	}
	if !ok || kc.failed() {
		next, err := e.newController(g)
		if err != nil {
			e.releaseUnused(kinds)
			return err
		}
		if err := e.syncWatches(next, g); err != nil {
			e.releaseUnused(kinds)
			return err
		}
		// Count the new controller's kinds before the stopped one lets go of them, so that
		// shared informers are not removed and started again.
		e.acquire(next, kinds)
		if ok {
			e.drop(gvk, kc)
		}
		e.controllers[gvk] = next
		metrics.Controllers.Set(float64(len(e.controllers)))
		next.graph = g
		e.start(gvk, next)
		e.opts.Log.Info("Started instance controller", "gvk", gvk.String())
		return nil
	}
	if err := e.syncWatches(kc, g); err != nil {
		e.releaseUnused(kinds)
		return err
	}
	kc.rec.SetGraph(g)
	e.acquire(kc, kinds)
	kc.graph = g
	go e.resyncAll(kc, gvk)
	return nil
}

// upToDate reports whether the controller of g's kind already runs g with every watch.
func (e *Engine) upToDate(g *graph.Graph) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	kc, ok := e.controllers[g.Instance.GVK]
	return ok && !kc.failed() && sameGraph(kc.graph, g)
}

// sameGraph reports whether a running graph (nil while a watch is missing) is g: built from the
// same RGD generation and issued as the same revision.
func sameGraph(running, g *graph.Graph) bool {
	return running != nil && running.Generation == g.Generation && running.RGDUID == g.RGDUID &&
		running.Revision == g.Revision
}

// Unregister stops serving a kind and waits until its in-flight reconciles have returned.
// Informers of kinds no other graph uses are removed from the cache.
func (e *Engine) Unregister(gvk schema.GroupVersionKind) {
	e.mu.Lock()
	kc, ok := e.controllers[gvk]
	if ok {
		e.drop(gvk, kc)
		e.opts.Log.Info("Stopped instance controller", "gvk", gvk.String())
	}
	e.mu.Unlock()
	if ok {
		<-kc.done
	}
}

// drop stops kc, forgets it and lets go of its informers. e.mu must be held.
func (e *Engine) drop(gvk schema.GroupVersionKind, kc *kindController) {
	kc.cancel()
	if e.controllers[gvk] == kc {
		delete(e.controllers, gvk)
	}
	metrics.Controllers.Set(float64(len(e.controllers)))
	metrics.Watches.Sub(float64(len(kc.watches)))
	kc.watches = nil
	e.acquire(kc, nil)
}

// Serving reports whether a controller runs for gvk.
func (e *Engine) Serving(gvk schema.GroupVersionKind) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	kc, ok := e.controllers[gvk]
	return ok && !kc.failed()
}

// Stopped returns the error with which the controller of gvk stopped by itself; nil while it
// runs or when none is registered. Register starts a new one.
func (e *Engine) Stopped(gvk schema.GroupVersionKind) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if kc, ok := e.controllers[gvk]; ok && kc.failed() {
		return kc.err
	}
	return nil
}

// RemoveKind is called when the cluster stops serving a kind (its CRD was deleted). Its
// informers are removed from the cache, so they stop retrying a list that cannot succeed; a
// controller serving the kind is dropped, and controllers watching it as a child kind lose that
// watch until their next Register. Their RGDs are notified. versions are the versions the kind
// was served with: informers of them that others started through the cache (reads of kinds no
// graph uses any more) are removed too.
func (e *Engine) RemoveKind(gk schema.GroupKind, versions ...string) {
	e.mu.Lock()
	var notify []string
	for inf := range e.informers {
		if inf.GVK.GroupKind() == gk {
			notify = append(notify, e.forget(inf)...)
			e.opts.Log.Info("Removed informer of a kind no longer served", "gvk", inf.GVK.String(), "cache", inf.Scope.String())
		}
	}
	for _, v := range versions {
		for _, s := range scopes {
			e.removeInformer(Informer{GVK: gk.WithVersion(v), Scope: s})
		}
	}
	e.mu.Unlock()
	e.notify(notify)
}

// forget removes an informer that cannot be used (its kind is not served), and every watch on
// it: the controller of its kind is dropped (an instance informer); controllers watching it
// for their resources are marked incomplete, so that their next Register watches it again.
// The informer stays counted by the graphs that use it. forget returns the RGDs concerned.
// e.mu must be held.
func (e *Engine) forget(inf Informer) []string {
	var rgds []string
	e.removeInformer(inf)
	metrics.Informers.DeleteLabelValues(inf.labels()...)
	if kc, ok := e.controllers[inf.GVK]; ok && inf.Scope == ScopeAll {
		e.drop(inf.GVK, kc)
		rgds = append(rgds, kc.rgdName)
	}
	for _, kc := range e.controllers {
		if stop, ok := kc.watches[inf]; ok {
			stop()
			delete(kc.watches, inf)
			metrics.Watches.Dec()
			kc.graph = nil
			rgds = append(rgds, kc.rgdName)
		}
	}
	return rgds
}

// notify tells the Notifier about each RGD, outside e.mu.
func (e *Engine) notify(rgds []string) {
	for _, name := range rgds {
		e.opts.Notifier.Notify(name)
	}
}

func unstructuredOf(gvk schema.GroupVersionKind) *unstructured.Unstructured {
	obj := &unstructured.Unstructured{}
	obj.SetGroupVersionKind(gvk)
	return obj
}

// statusOnlyChange reports an instance update that only touched status (our own writes). The
// spec is compared too: new defaults of a changed CRD schema change it without a new
// generation.
func statusOnlyChange(oldObj, newObj client.Object) bool {
	return oldObj.GetGeneration() == newObj.GetGeneration() &&
		reflect.DeepEqual(specOf(oldObj), specOf(newObj)) &&
		reflect.DeepEqual(oldObj.GetLabels(), newObj.GetLabels()) &&
		reflect.DeepEqual(oldObj.GetAnnotations(), newObj.GetAnnotations()) &&
		reflect.DeepEqual(oldObj.GetFinalizers(), newObj.GetFinalizers()) &&
		oldObj.GetDeletionTimestamp().Equal(newObj.GetDeletionTimestamp())
}

// specOf is the spec of an unstructured instance; nil for other objects.
func specOf(obj client.Object) any {
	if u, ok := obj.(*unstructured.Unstructured); ok {
		return u.Object["spec"]
	}
	return nil
}
