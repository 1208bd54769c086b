package rgd

import (
	"context"
	"fmt"
	"strings"
	"time"

	"golang.org/x/time/rate"
	corev1 "k8s.io/api/core/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/tools/events"
	"k8s.io/client-go/util/workqueue"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	internalv1alpha1 "github.com/kro-run/kro/api/internal.kro.run/v1alpha1"
	"github.com/kro-run/kro/api/v1alpha1"
	"github.com/kro-run/kro/internal/conditions"
	"github.com/kro-run/kro/internal/graph"
	"github.com/kro-run/kro/internal/metadata"
	"github.com/kro-run/kro/internal/metrics"
)

// GraphBuilder builds a graph from an RGD.
type GraphBuilder interface {
	Build(ctx context.Context, rgd *v1alpha1.ResourceGraphDefinition) (*graph.Graph, error)
}

// Engine serves the instances of generated kinds.
type Engine interface {
	Register(ctx context.Context, g *graph.Graph) error
	// Unregister stops serving a kind and returns once its reconciles have returned.
	Unregister(gvk schema.GroupVersionKind)
	// Stopped returns the error with which a kind's controller stopped by itself, or nil.
	Stopped(gvk schema.GroupVersionKind) error
}

// SchemaCache caches the schemas of kinds served by the cluster.
type SchemaCache interface {
	// Invalidate forgets the cached schemas of a group.
	Invalidate(group string)
}

// Options configure the Reconciler.
type Options struct {
	// Client reads through the manager's cache. Required.
	Client client.Client
	// APIReader reads from the API server, for the final check that a deleting RGD has no
	// instance left that the cache has not seen yet. Default: Client.
	APIReader client.Reader
	// Builder builds graphs. Required.
	Builder GraphBuilder
	// Engine serves instances. Required.
	Engine Engine
	// Schemas is the cache of the schemas Builder checks against; it is invalidated before
	// the RGDs using a changed CRD are reconciled. Default: none.
	Schemas SchemaCache
	// Recorder emits events on RGDs. Default: none.
	Recorder events.EventRecorder
	// AllowCRDDeletion deletes the instances of a deleted RGD (each in order, by its still
	// running controller) and then its generated CRD. Default false: the RGD waits until its
	// instances are deleted by someone else, and the CRD is kept.
	AllowCRDDeletion bool
	// Workers is the number of concurrent RGD reconciles. Default 1.
	Workers int
	// ReconcileTimeout bounds one reconcile. Default 1 minute.
	ReconcileTimeout time.Duration
	// BuildTimeout bounds one graph build, including the discovery and OpenAPI requests it
	// makes. Default 30 seconds.
	BuildTimeout time.Duration
	// RetryBaseDelay is how long a failing RGD waits before its first retry; the wait doubles
	// with every consecutive failure. Default 100ms.
	RetryBaseDelay time.Duration
	// RetryMaxDelay caps the wait between retries of one RGD. Default 5 minutes.
	RetryMaxDelay time.Duration
	// MaxRevisions is how many GraphRevisions are kept per RGD name, the newest. 0 keeps all.
	// Default 0; the controller's flag defaults to 5.
	MaxRevisions int
}

// Reconciler reconciles ResourceGraphDefinitions.
type Reconciler struct {
	opts Options
	// wake queues RGDs named by the engine.
	wake *wakeups
}

// New returns a Reconciler.
func New(opts Options) *Reconciler {
	if opts.APIReader == nil {
		opts.APIReader = opts.Client
	}
	if opts.Workers <= 0 {
		opts.Workers = 1
	}
	if opts.ReconcileTimeout == 0 {
		opts.ReconcileTimeout = time.Minute
	}
	if opts.BuildTimeout == 0 {
		opts.BuildTimeout = 30 * time.Second
	}
	if opts.RetryBaseDelay <= 0 {
		opts.RetryBaseDelay = 100 * time.Millisecond
	}
	if opts.RetryMaxDelay <= 0 {
		opts.RetryMaxDelay = 5 * time.Minute
	}
	return &Reconciler{opts: opts, wake: newWakeups()}
}

// Notify queues a reconcile of the RGD named rgdName. It never blocks; it is how the engine
// reports a stopped controller or a kind no longer served.
func (r *Reconciler) Notify(rgdName string) { r.wake.add(rgdName) }

// InstanceDeleted queues a reconcile of the RGD named rgdName if it is being deleted (it waits
// for its last instance); any other RGD has nothing to do when one of its instances goes.
func (r *Reconciler) InstanceDeleted(rgdName string) {
	rgd := &v1alpha1.ResourceGraphDefinition{}
	err := r.opts.Client.Get(context.Background(), client.ObjectKey{Name: rgdName}, rgd)
	if err != nil || rgd.DeletionTimestamp != nil {
		r.wake.add(rgdName)
	}
}

// SetupWithManager registers the controller: RGDs; the CRDs they own or use, so that a CRD
// becoming Established, edited or deleted re-reconciles the RGDs it matters to; the
// GraphRevisions they own, created or deleted (by kro, by hand); and the engine's
// notifications.
func (r *Reconciler) SetupWithManager(mgr ctrl.Manager) error {
	if err := mgr.GetFieldIndexer().IndexField(context.Background(), &v1alpha1.ResourceGraphDefinition{},
		resourceKindsIndex, resourceKinds); err != nil {
		return fmt.Errorf("indexing RGDs by resource kind: %w", err)
	}
	if err := mgr.GetFieldIndexer().IndexField(context.Background(), &internalv1alpha1.GraphRevision{},
		snapshotNameField, snapshotName); err != nil {
		return fmt.Errorf("indexing graph revisions by RGD name: %w", err)
	}
	return ctrl.NewControllerManagedBy(mgr).
		Named("resourcegraphdefinition").
		For(&v1alpha1.ResourceGraphDefinition{}, builder.WithPredicates(predicate.Or(
			predicate.GenerationChangedPredicate{}, predicate.AnnotationChangedPredicate{},
			predicate.LabelChangedPredicate{}, deletionPredicate()))).
		Watches(&apiextensionsv1.CustomResourceDefinition{}, r.crdHandler()).
		// Status writes of revisions are kro's own; their spec never changes.
		Owns(&internalv1alpha1.GraphRevision{}, builder.WithPredicates(predicate.Funcs{
			UpdateFunc: func(event.UpdateEvent) bool { return false },
		})).
		WatchesRawSource(r.wake).
		WithOptions(controller.Options{
			MaxConcurrentReconciles: r.opts.Workers,
			RateLimiter: workqueue.NewTypedMaxOfRateLimiter(
				workqueue.NewTypedItemExponentialFailureRateLimiter[reconcile.Request](r.opts.RetryBaseDelay, r.opts.RetryMaxDelay),
				&workqueue.TypedBucketRateLimiter[reconcile.Request]{Limiter: rate.NewLimiter(rate.Limit(10), 100)},
			),
		}).
		Complete(r)
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
	requeue, err := r.reconcileGraph(ctx, rgd)
	summarize(rgd)
	if perr := r.writeStatus(ctx, before, rgd); perr != nil {
		return ctrl.Result{}, perr
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

// writeStatus patches the status of rgd when it differs from before, and emits an event when
// the state changed.
func (r *Reconciler) writeStatus(ctx context.Context, before, rgd *v1alpha1.ResourceGraphDefinition) error {
	conditions.KeepTransitionTimes(before.Status.Conditions, rgd.Status.Conditions)
	if equality.Semantic.DeepEqual(before.Status, rgd.Status) {
		return nil
	}
	if err := r.opts.Client.Status().Patch(ctx, rgd, client.MergeFrom(before)); err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("writing status: %w", err)
	}
	r.event(rgd, before.Status.State, rgd.Status.State)
	return nil
}

// buildGraph builds the graph of rgd under BuildTimeout.
func (r *Reconciler) buildGraph(ctx context.Context, rgd *v1alpha1.ResourceGraphDefinition) (*graph.Graph, error) {
	ctx, cancel := context.WithTimeout(ctx, r.opts.BuildTimeout)
	defer cancel()
	start := time.Now()
	g, err := r.opts.Builder.Build(ctx, rgd)
	metrics.ObserveGraphBuild(start, err)
	return g, err
}

// build builds the graph of rgd's current spec, recording the outcome in GraphAccepted.
func (r *Reconciler) build(ctx context.Context, rgd *v1alpha1.ResourceGraphDefinition) (*graph.Graph, error) {
	g, err := r.buildGraph(ctx, rgd)
	if err != nil {
		setCondition(rgd, v1alpha1.ConditionGraphAccepted, metav1.ConditionFalse, "InvalidResourceGraph", err.Error())
		return nil, err
	}
	msg := "resource graph and schema are valid"
	if len(g.Warnings) > 0 {
		// Advice that does not stop the graph (an expression's worst-case cost, say): kept on
		// the condition, where it is seen, without making the RGD inactive.
		msg += "; warnings: " + strings.Join(g.Warnings, "; ")
	}
	setCondition(rgd, v1alpha1.ConditionGraphAccepted, metav1.ConditionTrue, "Valid", msg)
	return g, nil
}

// reconcileGraph builds the graph, issues its GraphRevision, applies the CRD and starts
// serving the kind. A spec that cannot serve instances, because its graph does not build or
// because its CRD change is refused as breaking, never becomes a revision: the instances stay
// served with the graph of the newest revision, which is therefore always the last graph whose
// CRD could be applied, also after a restart. It records conditions on rgd and returns an
// error only for failures worth retrying, which are retried with backoff.
func (r *Reconciler) reconcileGraph(ctx context.Context, rgd *v1alpha1.ResourceGraphDefinition) (bool, error) {
	log := ctrl.LoggerFrom(ctx)
	resetServing(rgd)
	g, err := r.build(ctx, rgd)
	if err != nil {
		requeue, serveErr := r.serveLastGood(ctx, rgd)
		// A kind or schema the cluster does not serve yet may appear (a CRD installed later,
		// which the CRD watch reports; an OpenAPI document not yet published; a discovery
		// request that timed out): retry with backoff. Other errors need an RGD change, which
		// triggers a reconcile.
		if graph.IsDependencyNotReady(err) {
			return false, fmt.Errorf("building graph: %w", err)
		}
		log.Info("Graph rejected", "error", err.Error())
		return requeue, serveErr
	}
	live, err := r.readCRD(ctx, g.CRD.Name)
	if err != nil {
		return false, err
	}
	if refused := refusal(rgd, live, g); refused != nil {
		// Consent (the annotation) or another spec changes the RGD, which triggers a reconcile.
		log.Info("CRD update refused", "error", refused.Error())
		requeue, serveErr := r.serveLastGood(ctx, rgd)
		setCondition(rgd, v1alpha1.ConditionKindReady, metav1.ConditionFalse, reasonBreakingChanges, refused.Error())
		return requeue, serveErr
	}
	revision, err := r.issueRevision(ctx, rgd, g)
	if err != nil {
		setCondition(rgd, v1alpha1.ConditionGraphRevisionsResolved, metav1.ConditionFalse, reasonRevisionFailed, err.Error())
		return false, err
	}
	g.Revision = revision
	requeue, err := r.ensureServing(ctx, rgd, g)
	if err == nil {
		// Best effort: a revision left over is pruned by a later reconcile.
		if perr := r.pruneRevisions(ctx, rgd); perr != nil {
			log.Error(perr, "Pruning graph revisions")
		}
	}
	return requeue, err
}

// ensureServing applies g's CRD and makes the engine serve g's kind, recording g's order and
// resources, KindReady and ControllerReady. It returns whether to check again soon (a CRD not
// established yet).
func (r *Reconciler) ensureServing(ctx context.Context, rgd *v1alpha1.ResourceGraphDefinition, g *graph.Graph) (bool, error) {
	log := ctrl.LoggerFrom(ctx)
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
	return false, r.serve(ctx, rgd, g)
}

// serve makes the engine serve g's kind, recording ControllerReady. A controller that stopped
// by itself is reported and forgotten, and the error makes the retry (with backoff) start a
// new one: a controller that cannot start is not restarted in a tight loop.
func (r *Reconciler) serve(ctx context.Context, rgd *v1alpha1.ResourceGraphDefinition, g *graph.Graph) error {
	gvk := g.Instance.GVK
	if err := r.opts.Engine.Stopped(gvk); err != nil {
		setCondition(rgd, v1alpha1.ConditionControllerReady, metav1.ConditionFalse, "ControllerStopped", "instance controller stopped: "+err.Error())
		r.opts.Engine.Unregister(gvk)
		return fmt.Errorf("instance controller of %s stopped: %w", gvk, err)
	}
	if err := r.opts.Engine.Register(ctx, g); err != nil {
		setCondition(rgd, v1alpha1.ConditionControllerReady, metav1.ConditionFalse, "ControllerFailed", err.Error())
		return err
	}
	setCondition(rgd, v1alpha1.ConditionControllerReady, metav1.ConditionTrue, "Running", fmt.Sprintf("serving instances of %s", gvk))
	return nil
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
