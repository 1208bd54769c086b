package engine

import (
	"context"
	"errors"
	"fmt"
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
	// nothing.
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
	// Cache provides the shared informers; the engine removes those it started once no
	// graph uses their kind. Required.
	Cache cache.Cache
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
	// informers counts, per kind, the controllers whose graph uses it (as instance or child
	// kind). The informer of a kind is removed from the cache when its count drops to zero.
	informers map[schema.GroupVersionKind]int
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
	// watches holds the stop function of the watch of each child kind.
	watches map[schema.GroupVersionKind]func()
	// kinds are the kinds this controller counts in Engine.informers.
	kinds map[schema.GroupVersionKind]bool
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
		informers:   map[schema.GroupVersionKind]int{},
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
	kinds := kindsOf(g)
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
	for gvk := range e.informers {
		if gvk.GroupKind() == gk {
			notify = append(notify, e.forget(gvk)...)
			e.opts.Log.Info("Removed informer of a kind no longer served", "gvk", gvk.String())
		}
	}
	for _, v := range versions {
		e.removeInformer(gk.WithVersion(v))
	}
	e.mu.Unlock()
	e.notify(notify)
}

// forget removes the informer of gvk, which cannot be used (its kind is not served), and every
// watch on it: the controller of gvk is dropped; controllers watching it as a child kind are
// marked incomplete, so that their next Register watches it again. The kind stays counted by
// the graphs that use it. forget returns the RGDs concerned. e.mu must be held.
func (e *Engine) forget(gvk schema.GroupVersionKind) []string {
	var rgds []string
	e.removeInformer(gvk)
	metrics.Informers.DeleteLabelValues(gvk.Group, gvk.Version, gvk.Kind)
	if kc, ok := e.controllers[gvk]; ok {
		e.drop(gvk, kc)
		rgds = append(rgds, kc.rgdName)
	}
	for _, kc := range e.controllers {
		if stop, ok := kc.watches[gvk]; ok {
			stop()
			delete(kc.watches, gvk)
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

// informerSyncTimeout bounds the wait for a kind's informer to sync.
const informerSyncTimeout = 15 * time.Second

// ensureInformers starts (or finds) the informers of kinds and waits for them to sync. On
// failure the informers it started for nobody are removed again, so that a kind the cluster
// does not serve leaves no informer retrying forever.
func (e *Engine) ensureInformers(ctx context.Context, kinds map[schema.GroupVersionKind]bool) error {
	// An informer that cannot sync (a kind just removed, say) must not hold the RGD worker.
	ctx, cancel := context.WithTimeout(ctx, informerSyncTimeout)
	defer cancel()
	for gvk := range kinds {
		if _, err := e.opts.Cache.GetInformer(ctx, unstructuredOf(gvk)); err != nil {
			// An informer that did not sync delivers nothing to anyone: remove it even when a
			// graph uses its kind, with the watches on it, so it does not retry forever.
			e.mu.Lock()
			notify := e.forget(gvk)
			e.releaseUnused(kinds)
			e.mu.Unlock()
			e.notify(notify)
			return fmt.Errorf("watching %s: %w", gvk, err)
		}
	}
	return nil
}

// acquire makes kc count kinds in e.informers instead of the kinds it counted before, and
// removes the informers nobody counts any more. e.mu must be held.
func (e *Engine) acquire(kc *kindController, kinds map[schema.GroupVersionKind]bool) {
	for gvk := range kinds {
		if !kc.kinds[gvk] {
			e.informers[gvk]++
		}
		metrics.Informers.WithLabelValues(gvk.Group, gvk.Version, gvk.Kind).Set(1)
	}
	for gvk := range kc.kinds {
		if kinds[gvk] {
			continue
		}
		e.informers[gvk]--
		if e.informers[gvk] <= 0 {
			delete(e.informers, gvk)
			metrics.Informers.DeleteLabelValues(gvk.Group, gvk.Version, gvk.Kind)
			e.removeInformer(gvk)
			e.opts.Log.Info("Removed informer of a kind no graph uses", "gvk", gvk.String())
		}
	}
	kc.kinds = kinds
}

// releaseUnused removes the informers of kinds that no controller counts, after a failed
// Register started them. e.mu must be held.
func (e *Engine) releaseUnused(kinds map[schema.GroupVersionKind]bool) {
	for gvk := range kinds {
		if e.informers[gvk] == 0 {
			e.removeInformer(gvk)
		}
	}
}

// removeInformer stops the informer of gvk and removes it from the cache. e.mu must be held.
func (e *Engine) removeInformer(gvk schema.GroupVersionKind) {
	if err := e.opts.Cache.RemoveInformer(e.runCtx, unstructuredOf(gvk)); err != nil {
		e.opts.Log.Error(err, "Removing informer", "gvk", gvk.String())
	}
}

// Informers lists the kinds whose informers the engine holds for its controllers.
func (e *Engine) Informers() []schema.GroupVersionKind {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := make([]schema.GroupVersionKind, 0, len(e.informers))
	for gvk := range e.informers {
		out = append(out, gvk)
	}
	return out
}

// kindsOf is the set of kinds a graph's controller reads: its instance kind and every
// resource's kind.
func kindsOf(g *graph.Graph) map[schema.GroupVersionKind]bool {
	kinds := map[schema.GroupVersionKind]bool{g.Instance.GVK: true}
	for _, n := range g.Nodes {
		kinds[n.GVK] = true
	}
	return kinds
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
