package rgd

import (
	"context"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/tools/events"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/kro-run/kro/api/v1alpha1"
	"github.com/kro-run/kro/internal/conditions"
	"github.com/kro-run/kro/internal/graph"
	"github.com/kro-run/kro/internal/graph/crd"
	"github.com/kro-run/kro/internal/metadata"
	"github.com/kro-run/kro/internal/metrics"
)

// GraphBuilder builds a graph from an RGD.
type GraphBuilder interface {
	Build(rgd *v1alpha1.ResourceGraphDefinition) (*graph.Graph, error)
}

// Engine serves the instances of generated kinds.
type Engine interface {
	Register(ctx context.Context, g *graph.Graph) error
	Unregister(gvk schema.GroupVersionKind)
}

// Options configure the Reconciler.
type Options struct {
	// Client reads through the manager's cache. Required.
	Client client.Client
	// Builder builds graphs. Required.
	Builder GraphBuilder
	// Engine serves instances. Required.
	Engine Engine
	// Recorder emits events on RGDs. Default: none.
	Recorder events.EventRecorder
	// AllowCRDDeletion deletes the generated CRD (and so every instance) with its RGD.
	// Default false: the CRD is kept.
	AllowCRDDeletion bool
	// Workers is the number of concurrent RGD reconciles. Default 1.
	Workers int
	// ReconcileTimeout bounds one reconcile. Default 1 minute.
	ReconcileTimeout time.Duration
}

// Reconciler reconciles ResourceGraphDefinitions.
type Reconciler struct {
	opts Options
}

// New returns a Reconciler.
func New(opts Options) *Reconciler {
	if opts.Workers <= 0 {
		opts.Workers = 1
	}
	if opts.ReconcileTimeout == 0 {
		opts.ReconcileTimeout = time.Minute
	}
	return &Reconciler{opts: opts}
}

// SetupWithManager registers the controller: RGDs, and the CRDs they own so that a CRD
// becoming Established, edited or deleted re-reconciles its RGD.
func (r *Reconciler) SetupWithManager(mgr ctrl.Manager) error {
	return ctrl.NewControllerManagedBy(mgr).
		Named("resourcegraphdefinition").
		For(&v1alpha1.ResourceGraphDefinition{}, builder.WithPredicates(predicate.Or(
			predicate.GenerationChangedPredicate{}, predicate.AnnotationChangedPredicate{},
			predicate.LabelChangedPredicate{}, deletionPredicate()))).
		Watches(&apiextensionsv1.CustomResourceDefinition{}, handler.EnqueueRequestsFromMapFunc(crdToRGD)).
		WithOptions(controller.Options{MaxConcurrentReconciles: r.opts.Workers}).
		Complete(r)
}

func crdToRGD(_ context.Context, o client.Object) []reconcile.Request {
	name := o.GetLabels()[metadata.ResourceGraphDefinitionNameLabel]
	if name == "" || o.GetLabels()[metadata.OwnedLabel] != "true" {
		return nil
	}
	return []reconcile.Request{{NamespacedName: client.ObjectKey{Name: name}}}
}

func deletionPredicate() predicate.Predicate {
	return predicate.Funcs{UpdateFunc: func(e event.UpdateEvent) bool {
		return e.ObjectNew.GetDeletionTimestamp() != nil
	}}
}

// Reconcile brings one RGD to its desired state.
func (r *Reconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	ctx, cancel := context.WithTimeout(ctx, r.opts.ReconcileTimeout)
	defer cancel()

	rgd := &v1alpha1.ResourceGraphDefinition{}
	if err := r.opts.Client.Get(ctx, req.NamespacedName, rgd); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if rgd.DeletionTimestamp != nil {
		return r.reconcileDelete(ctx, rgd)
	}
	if !controllerutil.ContainsFinalizer(rgd, metadata.Finalizer) {
		before := rgd.DeepCopy()
		controllerutil.AddFinalizer(rgd, metadata.Finalizer)
		if err := r.opts.Client.Patch(ctx, rgd, client.MergeFromWithOptions(before, client.MergeFromWithOptimisticLock{})); err != nil {
			return ctrl.Result{}, err
		}
	}

	before := rgd.DeepCopy()
	st := &rgd.Status
	requeue, err := r.reconcileGraph(ctx, rgd)
	summarize(rgd)
	if !equality.Semantic.DeepEqual(before.Status, rgd.Status) {
		if perr := r.opts.Client.Status().Patch(ctx, rgd, client.MergeFrom(before)); perr != nil && !apierrors.IsNotFound(perr) {
			return ctrl.Result{}, fmt.Errorf("writing status: %w", perr)
		}
		r.event(rgd, before.Status.State, st.State)
	}
	if err != nil {
		return ctrl.Result{}, err
	}
	if requeue {
		// Only used while waiting for a CRD that the watch should report; a slow safety net.
		return ctrl.Result{RequeueAfter: 5 * time.Second}, nil
	}
	return ctrl.Result{}, nil
}

// reconcileGraph builds the graph, applies the CRD and starts serving the kind. It records
// conditions on rgd and returns an error only for failures worth retrying.
func (r *Reconciler) reconcileGraph(ctx context.Context, rgd *v1alpha1.ResourceGraphDefinition) (bool, error) {
	log := ctrl.LoggerFrom(ctx)
	start := time.Now()
	g, err := r.opts.Builder.Build(rgd)
	metrics.ObserveGraphBuild(start, err)
	if err != nil {
		log.Info("Graph rejected", "error", err.Error())
		setCondition(rgd, v1alpha1.ConditionGraphAccepted, metav1.ConditionFalse, "InvalidResourceGraph", err.Error())
		// A kind the cluster does not serve yet may appear (a CRD installed later); check
		// again now and then. Other errors need an RGD change, which triggers a reconcile.
		return graph.IsDependencyNotReady(err), nil
	}
	setCondition(rgd, v1alpha1.ConditionGraphAccepted, metav1.ConditionTrue, "Valid", "resource graph and schema are valid")
	rgd.Status.TopologicalOrder = g.Order
	rgd.Status.Resources = resourceInfo(g)

	established, err := r.ensureCRD(ctx, rgd, g)
	if err != nil {
		reason, retry := crdFailure(err)
		setCondition(rgd, v1alpha1.ConditionKindReady, metav1.ConditionFalse, reason, err.Error())
		if !retry {
			log.Info("CRD update refused", "error", err.Error())
			return false, nil
		}
		return false, err
	}
	if !established {
		setCondition(rgd, v1alpha1.ConditionKindReady, metav1.ConditionFalse, "WaitingForCRD", fmt.Sprintf("waiting for CRD %s to be established", g.CRD.Name))
		return true, nil
	}
	setCondition(rgd, v1alpha1.ConditionKindReady, metav1.ConditionTrue, "Ready", fmt.Sprintf("CRD %s is established", g.CRD.Name))

	if err := r.opts.Engine.Register(ctx, g); err != nil {
		setCondition(rgd, v1alpha1.ConditionControllerReady, metav1.ConditionFalse, "ControllerFailed", err.Error())
		return false, err
	}
	setCondition(rgd, v1alpha1.ConditionControllerReady, metav1.ConditionTrue, "Running", fmt.Sprintf("serving instances of %s", g.Instance.GVK))
	return false, nil
}

// reconcileDelete stops serving the RGD's kind without stranding its instances. With
// AllowCRDDeletion the instances are deleted first, while their controller still runs, so
// their resources go in order; then the CRD. Otherwise the CRD and instances stay and kro lets
// go of the instances (their finalizer is removed; their resources stay and are adopted again
// if the RGD comes back), so deleting one later never hangs.
func (r *Reconciler) reconcileDelete(ctx context.Context, rgd *v1alpha1.ResourceGraphDefinition) (ctrl.Result, error) {
	if !controllerutil.ContainsFinalizer(rgd, metadata.Finalizer) {
		return ctrl.Result{}, nil
	}
	if s := rgd.Spec.Schema; s != nil {
		group := s.Group
		if group == "" {
			group = "kro.run"
		}
		gvk := schema.GroupVersionKind{Group: group, Version: s.APIVersion, Kind: s.Kind}
		instances, err := r.listInstances(ctx, gvk)
		if err != nil {
			return ctrl.Result{}, err
		}
		if r.opts.AllowCRDDeletion && len(instances) > 0 {
			for i := range instances {
				if instances[i].GetDeletionTimestamp() == nil {
					if err := r.opts.Client.Delete(ctx, &instances[i]); client.IgnoreNotFound(err) != nil {
						return ctrl.Result{}, err
					}
				}
			}
			ctrl.LoggerFrom(ctx).Info("Waiting for instances to be deleted before the CRD", "remaining", len(instances))
			return ctrl.Result{RequeueAfter: time.Second}, nil
		}
		r.opts.Engine.Unregister(gvk)
		if r.opts.AllowCRDDeletion {
			if err := r.deleteCRD(ctx, rgd, group, s.Kind); err != nil {
				return ctrl.Result{}, err
			}
		} else if err := r.releaseInstances(ctx, instances); err != nil {
			return ctrl.Result{}, err
		}
	}
	before := rgd.DeepCopy()
	controllerutil.RemoveFinalizer(rgd, metadata.Finalizer)
	return ctrl.Result{}, client.IgnoreNotFound(r.opts.Client.Patch(ctx, rgd, client.MergeFrom(before)))
}

// listInstances lists the instances of a generated kind; none when the kind is not served.
func (r *Reconciler) listInstances(ctx context.Context, gvk schema.GroupVersionKind) ([]unstructured.Unstructured, error) {
	list := &unstructured.UnstructuredList{}
	list.SetGroupVersionKind(gvk.GroupVersion().WithKind(gvk.Kind + "List"))
	if err := r.opts.Client.List(ctx, list); err != nil {
		if meta.IsNoMatchError(err) || apierrors.IsNotFound(err) {
			return nil, nil
		}
		return nil, fmt.Errorf("listing instances of %s: %w", gvk.Kind, err)
	}
	return list.Items, nil
}

// releaseInstances removes kro's finalizer from instances nobody will reconcile any more.
func (r *Reconciler) releaseInstances(ctx context.Context, instances []unstructured.Unstructured) error {
	for i := range instances {
		inst := &instances[i]
		if !controllerutil.ContainsFinalizer(inst, metadata.Finalizer) {
			continue
		}
		before := inst.DeepCopy()
		controllerutil.RemoveFinalizer(inst, metadata.Finalizer)
		ctrl.LoggerFrom(ctx).Info("Releasing instance of a deleted RGD", "instance", client.ObjectKeyFromObject(inst).String())
		if err := r.opts.Client.Patch(ctx, inst, client.MergeFrom(before)); client.IgnoreNotFound(err) != nil {
			return fmt.Errorf("releasing instance %s: %w", inst.GetName(), err)
		}
	}
	return nil
}

func (r *Reconciler) deleteCRD(ctx context.Context, rgd *v1alpha1.ResourceGraphDefinition, group, kind string) error {
	live := &apiextensionsv1.CustomResourceDefinition{}
	name := crd.Name(group, kind)
	if err := r.opts.Client.Get(ctx, client.ObjectKey{Name: name}, live); err != nil {
		return client.IgnoreNotFound(err)
	}
	if live.Labels[metadata.ResourceGraphDefinitionNameLabel] != rgd.Name {
		return nil
	}
	ctrl.LoggerFrom(ctx).Info("Deleting CRD", "crd", name)
	return client.IgnoreNotFound(r.opts.Client.Delete(ctx, live))
}

func (r *Reconciler) event(rgd *v1alpha1.ResourceGraphDefinition, oldState, newState v1alpha1.ResourceGraphDefinitionState) {
	if r.opts.Recorder == nil || oldState == newState {
		return
	}
	eventType, note := corev1.EventTypeNormal, "ResourceGraphDefinition is "+string(newState)
	if c := conditions.Get(rgd.Status.Conditions, v1alpha1.ConditionReady); c != nil && c.Status != metav1.ConditionTrue {
		eventType, note = corev1.EventTypeWarning, c.Message
	}
	r.opts.Recorder.Eventf(rgd, nil, eventType, string(newState), "Reconcile", "%s", note)
}

func resourceInfo(g *graph.Graph) []v1alpha1.ResourceInformation {
	out := make([]v1alpha1.ResourceInformation, 0, len(g.Nodes))
	for _, n := range g.Nodes {
		info := v1alpha1.ResourceInformation{ID: n.ID}
		for _, d := range n.Dependencies {
			info.Dependencies = append(info.Dependencies, v1alpha1.Dependency{ID: d})
		}
		out = append(out, info)
	}
	return out
}
