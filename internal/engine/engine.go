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
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
	"sigs.k8s.io/controller-runtime/pkg/source"

	"github.com/kro-run/kro/internal/graph"
	"github.com/kro-run/kro/internal/metadata"
	"github.com/kro-run/kro/internal/metrics"
)

// InstanceReconciler reconciles the instances of one generated kind with the graph it was
// last given.
type InstanceReconciler interface {
	reconcile.Reconciler
	SetGraph(g *graph.Graph)
	// ExternalRequests lists the instances that read obj through an externalRef.
	ExternalRequests(gvk schema.GroupVersionKind, obj client.Object) []reconcile.Request
}

// Options configure the Engine.
type Options struct {
	// Cache provides the shared informers. Required.
	Cache cache.Cache
	// NewReconciler builds the reconciler of a new kind. Required.
	NewReconciler func(g *graph.Graph) InstanceReconciler
	// Workers is the number of concurrent reconciles per kind. Default 10.
	Workers int
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

	// mu guards controllers.
	mu          sync.Mutex
	controllers map[schema.GroupVersionKind]*kindController
}

// kindController is the running controller of one kind.
type kindController struct {
	// graph is the graph rec was last given.
	graph  *graph.Graph
	ctrl   controller.TypedController[reconcile.Request]
	rec    InstanceReconciler
	cancel context.CancelFunc
	resync chan event.GenericEvent
	// stopped is closed when the controller's context ends.
	stopped  <-chan struct{}
	watching map[schema.GroupVersionKind]bool
}

// New returns an Engine.
func New(opts Options) *Engine {
	if opts.Workers <= 0 {
		opts.Workers = 10
	}
	if opts.Log.GetSink() == nil {
		opts.Log = logr.Discard()
	}
	return &Engine{opts: opts, started: make(chan struct{}), controllers: map[schema.GroupVersionKind]*kindController{}}
}

// Start runs until ctx ends, then stops every controller.
func (e *Engine) Start(ctx context.Context) error {
	e.runCtx = ctx
	close(e.started)
	<-ctx.Done()
	e.mu.Lock()
	defer e.mu.Unlock()
	for gvk, kc := range e.controllers {
		kc.cancel()
		delete(e.controllers, gvk)
	}
	return nil
}

// NeedLeaderElection makes the engine run only on the leader.
func (e *Engine) NeedLeaderElection() bool { return true }

// Register serves g's kind: it starts a controller for a new kind, or gives a running one the
// new graph, adds watches for new child kinds and re-reconciles every instance.
func (e *Engine) Register(ctx context.Context, g *graph.Graph) error {
	select {
	case <-e.started:
	case <-ctx.Done():
		return errors.New("engine is not started")
	}
	gvk := g.Instance.GVK
	e.mu.Lock()
	defer e.mu.Unlock()

	kc, ok := e.controllers[gvk]
	if ok && kc.graph.Generation == g.Generation && kc.graph.RGDUID == g.RGDUID {
		// Same RGD generation: the running graph is already this one.
		return nil
	}
	// Make sure every informer the controller needs can start before starting it: a kind the
	// REST mapper or the API server does not serve yet fails here, and the RGD is retried,
	// instead of failing later inside the controller's goroutine.
	if err := e.ensureInformers(ctx, g); err != nil {
		return err
	}
	if !ok {
		var err error
		if kc, err = e.newController(g); err != nil {
			return err
		}
		e.controllers[gvk] = kc
		metrics.Controllers.Set(float64(len(e.controllers)))
		e.opts.Log.Info("Started instance controller", "gvk", gvk.String())
	} else {
		kc.rec.SetGraph(g)
	}
	kc.graph = g
	for _, n := range g.Nodes {
		if err := e.watchChildren(kc, gvk, n.GVK); err != nil {
			return err
		}
	}
	if ok {
		go e.resyncAll(kc, gvk)
	}
	return nil
}

// informerSyncTimeout bounds the wait for a kind's informer to sync.
const informerSyncTimeout = 15 * time.Second

// ensureInformers starts (or finds) the informers of the instance kind and of every kind the
// graph uses, and waits for them to sync.
func (e *Engine) ensureInformers(ctx context.Context, g *graph.Graph) error {
	gvks := []schema.GroupVersionKind{g.Instance.GVK}
	for _, n := range g.Nodes {
		gvks = append(gvks, n.GVK)
	}
	// An informer that cannot sync (a kind just removed, say) must not hold the RGD worker.
	ctx, cancel := context.WithTimeout(ctx, informerSyncTimeout)
	defer cancel()
	for _, gvk := range gvks {
		obj := &unstructured.Unstructured{}
		obj.SetGroupVersionKind(gvk)
		if _, err := e.opts.Cache.GetInformer(ctx, obj); err != nil {
			return fmt.Errorf("watching %s: %w", gvk, err)
		}
	}
	return nil
}

// Unregister stops serving a kind. Its informers stay in the cache for other users.
func (e *Engine) Unregister(gvk schema.GroupVersionKind) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if kc, ok := e.controllers[gvk]; ok {
		kc.cancel()
		delete(e.controllers, gvk)
		metrics.Controllers.Set(float64(len(e.controllers)))
		metrics.Watches.Sub(float64(len(kc.watching)))
		e.opts.Log.Info("Stopped instance controller", "gvk", gvk.String())
	}
}

// Serving reports whether a controller runs for gvk.
func (e *Engine) Serving(gvk schema.GroupVersionKind) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	_, ok := e.controllers[gvk]
	return ok
}

func (e *Engine) newController(g *graph.Graph) (*kindController, error) {
	gvk := g.Instance.GVK
	rec := e.opts.NewReconciler(g)
	c, err := controller.NewTypedUnmanaged(fmt.Sprintf("%s.%s", gvk.Kind, gvk.Group), controller.Options{
		Reconciler:              rec,
		MaxConcurrentReconciles: e.opts.Workers,
		SkipNameValidation:      ptr.To(true),
		LogConstructor: func(req *reconcile.Request) logr.Logger {
			log := e.opts.Log.WithValues("gvk", gvk.String())
			if req != nil {
				log = log.WithValues("instance", req.NamespacedName.String())
			}
			return log
		},
	})
	if err != nil {
		return nil, fmt.Errorf("controller for %s: %w", gvk, err)
	}
	kc := &kindController{ctrl: c, rec: rec, resync: make(chan event.GenericEvent), watching: map[schema.GroupVersionKind]bool{}}
	instance := &unstructured.Unstructured{}
	instance.SetGroupVersionKind(gvk)
	if err := c.Watch(&informerSource{
		cache: e.opts.Cache,
		obj:   instance,
		fn: func(o client.Object) []reconcile.Request {
			return []reconcile.Request{{NamespacedName: client.ObjectKeyFromObject(o)}}
		},
		skipUpdate: statusOnlyChange,
	}); err != nil {
		return nil, err
	}
	if err := c.Watch(source.Channel(kc.resync, &handler.EnqueueRequestForObject{})); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(e.runCtx)
	kc.cancel, kc.stopped = cancel, ctx.Done()
	go func() {
		if err := c.Start(ctx); err != nil {
			e.opts.Log.Error(err, "Instance controller stopped", "gvk", gvk.String())
			// Forget it so that the next Register of the kind starts a new one.
			e.mu.Lock()
			if e.controllers[gvk] == kc {
				delete(e.controllers, gvk)
				metrics.Controllers.Set(float64(len(e.controllers)))
			}
			e.mu.Unlock()
			cancel()
		}
	}()
	return kc, nil
}

// watchChildren routes events of a kind the graph uses to the instances of kc's kind: objects
// labelled as an instance's children go to that instance, and any object goes to the
// instances that read it through an externalRef.
func (e *Engine) watchChildren(kc *kindController, parent, child schema.GroupVersionKind) error {
	if kc.watching[child] {
		return nil
	}
	obj := &unstructured.Unstructured{}
	obj.SetGroupVersionKind(child)
	err := kc.ctrl.Watch(&informerSource{cache: e.opts.Cache, obj: obj, fn: func(o client.Object) []reconcile.Request {
		reqs := kc.rec.ExternalRequests(child, o)
		l := o.GetLabels()
		if l[metadata.InstanceKindLabel] == parent.Kind && l[metadata.InstanceGroupLabel] == parent.Group && l[metadata.InstanceNameLabel] != "" {
			reqs = append(reqs, reconcile.Request{NamespacedName: types.NamespacedName{
				Namespace: l[metadata.InstanceNamespaceLabel],
				Name:      l[metadata.InstanceNameLabel],
			}})
		}
		return reqs
	}})
	if err != nil {
		return fmt.Errorf("watching %s: %w", child, err)
	}
	kc.watching[child] = true
	metrics.Watches.Inc()
	return nil
}

// resyncAll re-reconciles every instance of a kind after its graph changed.
func (e *Engine) resyncAll(kc *kindController, gvk schema.GroupVersionKind) {
	list := &unstructured.UnstructuredList{}
	list.SetGroupVersionKind(gvk.GroupVersion().WithKind(gvk.Kind + "List"))
	if err := e.opts.Cache.List(e.runCtx, list); err != nil {
		e.opts.Log.Error(err, "Listing instances to resync", "gvk", gvk.String())
		return
	}
	for i := range list.Items {
		select {
		case kc.resync <- event.GenericEvent{Object: &list.Items[i]}:
		case <-kc.stopped:
			return
		}
	}
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
