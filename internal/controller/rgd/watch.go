package rgd

import (
	"context"
	"encoding/json"
	"sync"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/util/workqueue"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/kro-run/kro/api/v1alpha1"
	"github.com/kro-run/kro/internal/metadata"
)

// resourceKindsIndex indexes RGDs by the kinds of their resources ("Kind.group"), so that a
// CRD change finds the RGDs that use its kind.
const resourceKindsIndex = "kro.run/resource-kinds"

// resourceKinds lists the kinds of an RGD's resources, templates and externalRefs.
func resourceKinds(obj client.Object) []string {
	rgd, ok := obj.(*v1alpha1.ResourceGraphDefinition)
	if !ok {
		return nil
	}
	seen := map[string]bool{}
	var out []string
	add := func(apiVersion, kind string) {
		if kind == "" {
			return
		}
		gv, err := schema.ParseGroupVersion(apiVersion)
		if err != nil {
			return
		}
		if k := (schema.GroupKind{Group: gv.Group, Kind: kind}).String(); !seen[k] {
			seen[k] = true
			out = append(out, k)
		}
	}
	for _, r := range rgd.Spec.Resources {
		switch {
		case r == nil:
		case r.ExternalRef != nil:
			add(r.ExternalRef.APIVersion, r.ExternalRef.Kind)
		case len(r.Template.Raw) > 0:
			var tm struct {
				APIVersion string `json:"apiVersion"`
				Kind       string `json:"kind"`
			}
			if json.Unmarshal(r.Template.Raw, &tm) == nil {
				add(tm.APIVersion, tm.Kind)
			}
		}
	}
	return out
}

// crdHandler maps a CRD event to the RGD that owns the CRD and to the RGDs whose resources use
// its kind, after invalidating the cached schemas of its group: those RGDs are checked again
// against the schema the cluster serves now (a kind that appeared, gained fields or went).
func (r *Reconciler) crdHandler() handler.EventHandler {
	return handler.Funcs{
		CreateFunc: func(ctx context.Context, e event.CreateEvent, q workqueue.TypedRateLimitingInterface[reconcile.Request]) {
			r.enqueueForCRD(ctx, e.Object, q)
		},
		UpdateFunc: func(ctx context.Context, e event.UpdateEvent, q workqueue.TypedRateLimitingInterface[reconcile.Request]) {
			r.enqueueForCRD(ctx, e.ObjectNew, q)
		},
		DeleteFunc: func(ctx context.Context, e event.DeleteEvent, q workqueue.TypedRateLimitingInterface[reconcile.Request]) {
			r.enqueueForCRD(ctx, e.Object, q)
		},
	}
}

func (r *Reconciler) enqueueForCRD(ctx context.Context, obj client.Object, q workqueue.TypedRateLimitingInterface[reconcile.Request]) {
	crd, ok := obj.(*apiextensionsv1.CustomResourceDefinition)
	if !ok {
		return
	}
	if r.opts.Schemas != nil {
		r.opts.Schemas.Invalidate(crd.Spec.Group)
	}
	if name := crd.Labels[metadata.ResourceGraphDefinitionNameLabel]; name != "" && crd.Labels[metadata.OwnedLabel] == "true" {
		q.Add(reconcile.Request{NamespacedName: client.ObjectKey{Name: name}})
	}
	users := &v1alpha1.ResourceGraphDefinitionList{}
	gk := schema.GroupKind{Group: crd.Spec.Group, Kind: crd.Spec.Names.Kind}
	if err := r.opts.Client.List(ctx, users, client.MatchingFields{resourceKindsIndex: gk.String()}); err != nil {
		ctrl.LoggerFrom(ctx).Error(err, "Listing RGDs using a changed kind", "kind", gk.String())
		return
	}
	for _, u := range users.Items {
		q.Add(reconcile.Request{NamespacedName: client.ObjectKey{Name: u.Name}})
	}
}

// wakeups is the event source through which the engine queues the reconcile of an RGD by
// name. Adding never blocks: names added before the controller starts are queued at Start.
type wakeups struct {
	// mu guards queue and pending against Start and the end of the controller's context.
	mu      sync.Mutex
	queue   workqueue.TypedRateLimitingInterface[reconcile.Request]
	pending map[string]bool
}

func newWakeups() *wakeups { return &wakeups{pending: map[string]bool{}} }

func (w *wakeups) String() string { return "engine notifications" }

// Start hands the controller's queue to the source until ctx ends.
func (w *wakeups) Start(ctx context.Context, q workqueue.TypedRateLimitingInterface[reconcile.Request]) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.queue = q
	for name := range w.pending {
		q.Add(reconcile.Request{NamespacedName: client.ObjectKey{Name: name}})
	}
	w.pending = map[string]bool{}
	go func() {
		<-ctx.Done()
		w.mu.Lock()
		defer w.mu.Unlock()
		if w.queue == q {
			w.queue = nil
		}
	}()
	return nil
}

func (w *wakeups) add(name string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.queue == nil {
		w.pending[name] = true
		return
	}
	w.queue.Add(reconcile.Request{NamespacedName: client.ObjectKey{Name: name}})
}
