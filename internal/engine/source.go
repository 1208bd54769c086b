package engine

import (
	"context"
	"fmt"

	"k8s.io/apimachinery/pkg/api/equality"
	toolscache "k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/workqueue"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
)

// mapFunc turns an event's object into the instances to reconcile; deleted tells a delete
// event from an add or update.
type mapFunc func(obj client.Object, deleted bool) []reconcile.Request

// informerSource feeds a controller's queue from a shared informer of the manager's cache and
// removes its handler when the controller stops or the watch is stopped, so stopped
// controllers and dropped watches leave nothing behind on informers others still use.
type informerSource struct {
	cache cache.Cache
	obj   client.Object
	fn    mapFunc
	// skipUpdate filters update events that cannot change the outcome; nil keeps all.
	skipUpdate func(oldObj, newObj client.Object) bool
	// onDelete, when set, is also called with every deleted object.
	onDelete func(obj client.Object)
	// stop, when set, removes the handler when closed, before the controller stops.
	stop <-chan struct{}
}

func (s *informerSource) String() string {
	return fmt.Sprintf("informer source for %s", s.obj.GetObjectKind().GroupVersionKind())
}

// Start registers the handler; it is called with the controller's context.
func (s *informerSource) Start(ctx context.Context, q workqueue.TypedRateLimitingInterface[reconcile.Request]) error {
	inf, err := s.cache.GetInformer(ctx, s.obj)
	if err != nil {
		return fmt.Errorf("informer for %s: %w", s.obj.GetObjectKind().GroupVersionKind(), err)
	}
	enqueue := func(o any, deleted bool) {
		if tomb, ok := o.(toolscache.DeletedFinalStateUnknown); ok {
			o = tomb.Obj
		}
		obj, ok := o.(client.Object)
		if !ok {
			return
		}
		for _, r := range s.fn(obj, deleted) {
			q.Add(r)
		}
	}
	reg, err := inf.AddEventHandler(toolscache.ResourceEventHandlerFuncs{
		AddFunc: func(o any) { enqueue(o, false) },
		UpdateFunc: func(oldObj, newObj any) {
			o, okOld := oldObj.(client.Object)
			n, okNew := newObj.(client.Object)
			// A relist (after a CRD schema change, say) redelivers objects with their old
			// resourceVersion but possibly new content (new defaults): only an update that
			// changes nothing is dropped.
			if okOld && okNew && (o.GetResourceVersion() == n.GetResourceVersion() && equality.Semantic.DeepEqual(o, n) ||
				s.skipUpdate != nil && s.skipUpdate(o, n)) {
				return
			}
			enqueue(newObj, false)
			// An object whose labels changed (kro released it, someone relabelled it) still
			// matters to the instances its old labels named.
			if okOld && okNew && !equality.Semantic.DeepEqual(o.GetLabels(), n.GetLabels()) {
				enqueue(oldObj, false)
			}
		},
		DeleteFunc: func(o any) {
			enqueue(o, true)
			if s.onDelete == nil {
				return
			}
			if tomb, ok := o.(toolscache.DeletedFinalStateUnknown); ok {
				o = tomb.Obj
			}
			if obj, ok := o.(client.Object); ok {
				s.onDelete(obj)
			}
		},
	})
	if err != nil {
		return err
	}
	go func() {
		select {
		case <-ctx.Done():
		case <-s.stop:
		}
		_ = inf.RemoveEventHandler(reg)
	}()
	return nil
}
