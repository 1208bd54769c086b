package engine

import (
	"context"
	"fmt"
	"sync"

	"github.com/go-logr/logr"
	"golang.org/x/time/rate"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/utils/ptr"
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

// newController builds the controller of g's kind with its instance watch. It is started by
// start, once Register has added its child watches.
func (e *Engine) newController(g *graph.Graph) (*kindController, error) {
	gvk := g.Instance.GVK
	rec := e.opts.NewReconciler(g)
	c, err := controller.NewTypedUnmanaged(fmt.Sprintf("%s.%s", gvk.Kind, gvk.Group), controller.Options{
		Reconciler:              rec,
		MaxConcurrentReconciles: e.opts.Workers,
		RateLimiter:             e.rateLimiter(),
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
	kc := &kindController{
		rgdName: g.RGDName,
		ctrl:    c,
		rec:     rec,
		resync:  make(chan event.GenericEvent),
		done:    make(chan struct{}),
		watches: map[Informer]func(){},
	}
	if err := c.Watch(&informerSource{
		cache: e.opts.Cache,
		obj:   unstructuredOf(gvk),
		fn: func(o client.Object, _ bool) []reconcile.Request {
			return []reconcile.Request{{NamespacedName: client.ObjectKeyFromObject(o)}}
		},
		// Status writes and kro's own writes to the instance change nothing to reconcile.
		skipUpdate: func(oldObj, newObj client.Object) bool {
			return statusOnlyChange(oldObj, newObj) || rec.Echo(newObj, false)
		},
		// A deleting RGD waits for its last instance to go.
		onDelete: func(client.Object) { e.opts.Notifier.InstanceDeleted(kc.rgdName) },
	}); err != nil {
		return nil, err
	}
	if err := c.Watch(source.Channel(kc.resync, &handler.EnqueueRequestForObject{})); err != nil {
		return nil, err
	}
	return kc, nil
}

// rateLimiter spaces the retries of a failing instance exponentially, per instance, from
// RetryBaseDelay up to RetryMaxDelay; the bucket bounds the retries of all instances together
// (controller-runtime's default: 10 per second, bursts of 100).
func (e *Engine) rateLimiter() workqueue.TypedRateLimiter[reconcile.Request] {
	return workqueue.NewTypedMaxOfRateLimiter(
		workqueue.NewTypedItemExponentialFailureRateLimiter[reconcile.Request](e.opts.RetryBaseDelay, e.opts.RetryMaxDelay),
		&workqueue.TypedBucketRateLimiter[reconcile.Request]{Limiter: rate.NewLimiter(rate.Limit(10), 100)},
	)
}

// start runs kc until its context ends. A controller that stops by itself (a watch that
// cannot start) is kept as failed until the next Register replaces it, and its RGD is
// notified so that it reports the failure.
func (e *Engine) start(gvk schema.GroupVersionKind, kc *kindController) {
	ctx, cancel := context.WithCancel(e.runCtx)
	kc.cancel, kc.stopped = cancel, ctx.Done()
	go func() {
		err := kc.ctrl.Start(ctx)
		kc.err = err
		close(kc.done)
		cancel()
		if err != nil {
			e.opts.Log.Error(err, "Instance controller stopped", "gvk", gvk.String())
			e.opts.Notifier.Notify(kc.rgdName)
		}
	}()
}

// syncWatches makes kc watch exactly the informers of g's resources (see nodeInformers).
// Watches are added first; when one fails, the ones added by this call are stopped again and
// nothing else changes.
func (e *Engine) syncWatches(kc *kindController, g *graph.Graph) error {
	parent := g.Instance.GVK
	want := map[Informer]bool{}
	var added []Informer
	for _, n := range g.Nodes {
		for _, inf := range nodeInformers(g, n) {
			want[inf] = true
			if _, ok := kc.watches[inf]; ok {
				continue
			}
			stop, err := e.watchResources(kc, parent, inf)
			if err != nil {
				for _, a := range added {
					kc.watches[a]()
					delete(kc.watches, a)
					metrics.Watches.Dec()
				}
				return err
			}
			kc.watches[inf] = stop
			metrics.Watches.Inc()
			added = append(added, inf)
		}
	}
	for inf, stop := range kc.watches {
		if !want[inf] {
			stop()
			delete(kc.watches, inf)
			metrics.Watches.Dec()
		}
	}
	return nil
}

// watchResources routes events of a kind the graph uses to the instances of kc's kind. On the
// owned informer, objects labelled as an instance's children go to that instance; on the
// informer of every object, an object goes to the instances that read it (externalRef, or an
// object awaited for adoption). It returns the function that stops the watch.
func (e *Engine) watchResources(kc *kindController, parent schema.GroupVersionKind, inf Informer) (func(), error) {
	fn := func(o client.Object, _ bool) []reconcile.Request {
		return kc.rec.ExternalRequests(inf.GVK, o)
	}
	if inf.Scope.owned() {
		fn = func(o client.Object, deleted bool) []reconcile.Request {
			l := o.GetLabels()
			if l[metadata.InstanceKindLabel] != parent.Kind || l[metadata.InstanceGroupLabel] != parent.Group || l[metadata.InstanceNameLabel] == "" {
				return nil
			}
			// The echo of kro's own write (an apply, a delete) tells the instance nothing new.
			// An object whose ApplySet label someone removed leaves this cache as a deletion
			// kro did not make: not an echo.
			if kc.rec.Echo(o, deleted) {
				return nil
			}
			return []reconcile.Request{{NamespacedName: types.NamespacedName{
				Namespace: l[metadata.InstanceNamespaceLabel],
				Name:      l[metadata.InstanceNameLabel],
			}}}
		}
	}
	stop := make(chan struct{})
	err := kc.ctrl.Watch(&informerSource{cache: e.cacheOf(inf.Scope), obj: inf.object(), stop: stop, fn: fn})
	if err != nil {
		return nil, fmt.Errorf("watching %s: %w", inf.GVK, err)
	}
	var once sync.Once
	return func() { once.Do(func() { close(stop) }) }, nil
}

func unstructuredListOf(gvk schema.GroupVersionKind) *unstructured.UnstructuredList {
	list := &unstructured.UnstructuredList{}
	list.SetGroupVersionKind(gvk.GroupVersion().WithKind(gvk.Kind + "List"))
	return list
}

// resyncAll re-reconciles every instance of a kind after its graph changed.
func (e *Engine) resyncAll(kc *kindController, gvk schema.GroupVersionKind) {
	list := unstructuredListOf(gvk)
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
