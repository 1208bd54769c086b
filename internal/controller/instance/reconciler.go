package instance

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/events"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/kro-run/kro/internal/conditions"
	"github.com/kro-run/kro/internal/graph"
	"github.com/kro-run/kro/internal/metadata"
	"github.com/kro-run/kro/internal/metrics"
	"github.com/kro-run/kro/internal/runtime"
)

// Instance states (SPEC §6).
const (
	StateActive     = "ACTIVE"
	StateInProgress = "IN_PROGRESS"
	StateError      = "ERROR"
	StateDeleting   = "DELETING"
)

// Condition types of an instance.
const (
	ConditionInstanceManaged = "InstanceManaged"
	ConditionGraphResolved   = "GraphResolved"
	ConditionResourcesReady  = "ResourcesReady"
	ConditionReady           = "Ready"
)

// Options configure a Reconciler.
type Options struct {
	// Client reads instances and externalRefs through the manager's cache (every object of
	// their kinds) and writes to the API server. Required.
	Client client.Client
	// Owned caches only the objects of some ApplySet, which every object kro applies is: kro
	// reads the objects it applies from it, and lists what an instance owns through an index.
	// An object of no ApplySet is not in it, so a miss is settled on the API server before kro
	// creates, adopts or waits for an object. Required.
	Owned cache.Cache
	// APIReader reads from the API server directly, where the cache may be behind. Required.
	APIReader client.Reader
	// REST sends the requests whose answer kro reads itself: DELETEs, whose answer says whether
	// the object is gone, so that deletion goes on without waiting for the watch, and status
	// patches, whose answer is not needed. Default: both through Client, and each deletion
	// wave waits for the watch.
	REST *RESTClients
	// Recorder emits events on instances. Default: none.
	Recorder events.EventRecorder
	// ReconcileTimeout bounds one reconcile. Default 2 minutes.
	ReconcileTimeout time.Duration
	// MaxCollectionSize bounds the items of one forEach collection. Default 1000.
	MaxCollectionSize int
	// NoArgoCDTracking stops copying an instance's argocd.argoproj.io/tracking-id annotation
	// to its children. Default false: it is copied.
	NoArgoCDTracking bool
}

// Reconciler reconciles instances of one kind.
type Reconciler struct {
	opts  Options
	graph atomic.Pointer[graph.Graph]
	// gone are the objects kro deleted that the cache may still show.
	gone goneObjects
	// defaults applies the current graph's CRD defaults to the instances read.
	defaults defaulter
	// lastStatus maps an instance UID to the status kro last wrote, so a reconcile that reads
	// a cache not yet updated with that write does not write it again.
	lastStatus sync.Map
	// externals routes changes of externalRef objects to the instances reading them.
	externals externalIndex
	// taken holds the objects kro created or adopted that the cache does not show yet.
	taken takenObjects
	// appliedVersions maps an objectKey to the appliedVersion of kro's last apply, or at which
	// kro last found the object up to date.
	appliedVersions sync.Map
	// inflight holds back watch events of objects kro is writing (see inflightWrites).
	inflight inflightWrites
	// restart lists the objects of metadata-only kinds kro compares after it starts.
	restart *restartReads
	// externalObjs holds the externalRef objects read, of kinds cached by metadata only.
	externalObjs *externalObjects
}

// ExternalRequests lists the instances that read obj through an externalRef.
func (r *Reconciler) ExternalRequests(gvk schema.GroupVersionKind, obj client.Object) []reconcile.Request {
	return r.externals.requests(gvk, obj)
}

// New returns a Reconciler serving g's kind.
func New(g *graph.Graph, opts Options) *Reconciler {
	if opts.ReconcileTimeout == 0 {
		opts.ReconcileTimeout = 2 * time.Minute
	}
	if opts.MaxCollectionSize <= 0 {
		opts.MaxCollectionSize = 1000
	}
	r := &Reconciler{opts: opts}
	r.restart = newRestartReads(opts.APIReader, client.MatchingLabels{
		metadata.OwnedLabel:         "true",
		metadata.InstanceGroupLabel: g.Instance.GVK.Group,
		metadata.InstanceKindLabel:  g.Instance.GVK.Kind,
	})
	r.externalObjs = newExternalObjects(opts.APIReader)
	r.graph.Store(g)
	return r
}

// kind is the instance kind, the label of this reconciler's metrics.
func (r *Reconciler) kind() string {
	gvk := r.graph.Load().Instance.GVK
	return gvk.Kind + "." + gvk.Group
}

// SetGraph makes later reconciles use g.
func (r *Reconciler) SetGraph(g *graph.Graph) {
	r.graph.Store(g)
}

// Reconcile brings one instance's resources to the desired state.
func (r *Reconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	ctx, cancel := context.WithTimeout(ctx, r.opts.ReconcileTimeout)
	defer cancel()
	g := r.graph.Load()
	log := logr.FromContextOrDiscard(ctx)

	inst := &unstructured.Unstructured{}
	inst.SetGroupVersionKind(g.Instance.GVK)
	if err := r.opts.Client.Get(ctx, req.NamespacedName, inst); err != nil {
		if apierrors.IsNotFound(err) {
			return ctrl.Result{}, r.collectOrphans(ctx, g, req)
		}
		return ctrl.Result{}, err
	}
	if err := r.defaults.apply(g, inst); err != nil {
		return ctrl.Result{}, fmt.Errorf("instance defaults: %w", err)
	}
	gvk := g.Instance.GVK
	id := metadata.ApplySetID(inst.GetName(), inst.GetNamespace(), gvk.Kind, gvk.Group)

	if inst.GetDeletionTimestamp() != nil {
		return r.reconcileDelete(ctx, g, inst, id)
	}
	again, err := r.ensureMetadata(ctx, g, inst, id)
	if err != nil {
		return ctrl.Result{}, fmt.Errorf("instance metadata: %w", err)
	}

	st := newStatus(inst)
	st.revision = g.Revision
	st.set(ConditionInstanceManaged, metav1.ConditionTrue, "Managed", "instance is properly managed with finalizers and labels")
	if annotationOf(inst, metadata.ReconcileAnnotation) == metadata.ReconcileSuspended {
		st.set(ConditionResourcesReady, metav1.ConditionFalse, "ReconciliationSuspended", "reconciliation is suspended by the kro.run/reconcile annotation")
		st.state = StateInProgress
		return ctrl.Result{}, r.writeStatus(ctx, inst, st)
	}

	res := r.sync(ctx, g, inst, id)
	st.apply(res)
	if len(g.Instance.Conditions) > 0 {
		if err := r.customConditions(ctx, st, res); err != nil {
			st.state = StateError
			log.Error(err, "Evaluating custom status conditions")
		}
	}
	if err := r.writeStatus(ctx, inst, st); err != nil {
		return ctrl.Result{}, err
	}
	if res.err != nil && !res.permanent {
		// Retried with capped exponential backoff (the controller's rate limiter) until the
		// cluster lets it through; the status shows the error meanwhile.
		return ctrl.Result{}, res.err
	}
	if again || res.again {
		// Someone else wrote an object while kro's write of it was in flight: look again.
		return ctrl.Result{RequeueAfter: againAfter}, nil
	}
	return ctrl.Result{}, nil
}

// againAfter is how soon an instance is reconciled again when someone else wrote one of its
// objects while kro's write of it was in flight (the cache already has their change).
const againAfter = 10 * time.Millisecond

// ensureMetadata puts the finalizer and kro's labels and ApplySet annotations on the instance
// before any child is applied, so the kinds of the ApplySet are recorded first. The patch
// holds only what changes, with the resourceVersion as a precondition.
func (r *Reconciler) ensureMetadata(ctx context.Context, g *graph.Graph, inst *unstructured.Unstructured, applySetID string) (again bool, err error) {
	labels, annotations := map[string]string{}, map[string]string{}
	for k, v := range metadata.InstanceLabels(g.RGDName, g.RGDUID, applySetID) {
		if cur, ok := inst.GetLabels()[k]; !ok || cur != v {
			labels[k] = v
		}
	}
	current := inst.GetAnnotations()
	for k, v := range applySetAnnotations(g, applySetID, current) {
		if cur, ok := current[k]; !ok || cur != v {
			annotations[k] = v
		}
	}
	meta := map[string]any{"resourceVersion": inst.GetResourceVersion()}
	if len(labels) > 0 {
		meta["labels"] = labels
	}
	if len(annotations) > 0 {
		meta["annotations"] = annotations
	}
	if !hasFinalizer(inst) {
		meta["finalizers"] = append(inst.GetFinalizers(), metadata.Finalizer)
	}
	if len(meta) == 1 {
		return false, nil
	}
	patch, err := json.Marshal(map[string]any{"metadata": meta})
	if err != nil {
		return false, err
	}
	return r.patchInstanceMetadata(ctx, inst, patch)
}

// patchInstanceMetadata merge-patches the instance's metadata with inst's content replaced by
// the answer, holding back the instance's watch events meanwhile (inflightWrites), and records
// the resourceVersion it left as kro's own write. It reports whether an event held back was
// someone else's.
func (r *Reconciler) patchInstanceMetadata(ctx context.Context, inst *unstructured.Unstructured, patch []byte) (again bool, err error) {
	key := keyOf(inst)
	write := r.inflight.begin(key)
	err = r.patchInstance(ctx, inst, patch, true)
	again = r.inflight.end(write, resourceVersionOf(inst, err))
	if err == nil {
		r.appliedVersions.Store(key, appliedVersion{rv: inst.GetResourceVersion()})
	}
	return again, err
}

// patchInstance merge-patches the instance's metadata; with keepAnswer, inst's content is
// replaced with the API server's answer, decoded once.
func (r *Reconciler) patchInstance(ctx context.Context, inst *unstructured.Unstructured, patch []byte, keepAnswer bool) error {
	if r.opts.REST == nil {
		return r.opts.Client.Patch(ctx, inst, client.RawPatch(types.MergePatchType, patch))
	}
	gvr := r.graph.Load().Instance.GVR
	rc, err := r.opts.REST.For(gvr)
	if err != nil {
		return err
	}
	req := objectRequest(rc.Patch(types.MergePatchType), gvr, inst.GetNamespace(), inst.GetName()).Body(patch)
	if !keepAnswer {
		return req.SetHeader("Accept", metadataAnswer).Do(ctx).Error()
	}
	res := req.Do(ctx)
	raw, err := answer(res)
	if err != nil {
		return err
	}
	out := &unstructured.Unstructured{}
	if err := out.UnmarshalJSON(raw); err != nil {
		return fmt.Errorf("decoding the patched instance: %w", err)
	}
	inst.Object = out.Object
	return nil
}

// Echo reports whether a watch event only shows what this reconciler wrote itself: an object
// (child or instance) at the resourceVersion kro's own write returned, or, deleted, an object
// kro deleted. Such an event needs no reconcile.
//
// An event that shows an object kro took in its ApplySet, or gone, also ends the record of
// that object in r.taken: the cache shows it from now on.
func (r *Reconciler) Echo(obj client.Object, deleted bool) bool {
	key := keyOf(obj)
	if set := labelOf(obj, metadata.ApplySetPartOfLabel); set != "" {
		r.taken.observed(set, key, obj.GetUID())
	}
	if deleted {
		return r.gone.has(obj.GetUID())
	}
	if v, ok := r.appliedVersions.Load(key); ok && v.(appliedVersion).rv == obj.GetResourceVersion() {
		return true
	}
	return r.inflight.hold(key, obj.GetResourceVersion())
}

// labelOf is the value of obj's label key, read without copying an Unstructured's labels.
func labelOf(obj client.Object, key string) string {
	return metadataValue(obj, "labels", key)
}

// annotationOf is the value of obj's annotation key, read without copying an Unstructured's
// annotations.
func annotationOf(obj client.Object, key string) string {
	return metadataValue(obj, "annotations", key)
}

func metadataValue(obj client.Object, field, key string) string {
	if u, ok := obj.(*unstructured.Unstructured); ok {
		v, _, _ := unstructured.NestedString(u.Object, "metadata", field, key)
		return v
	}
	if field == "labels" {
		return obj.GetLabels()[key]
	}
	return obj.GetAnnotations()[key]
}

func hasFinalizer(obj client.Object) bool {
	for _, f := range obj.GetFinalizers() {
		if f == metadata.Finalizer {
			return true
		}
	}
	return false
}

// writeStatus patches the status subresource when it changed.
func (r *Reconciler) writeStatus(ctx context.Context, inst *unstructured.Unstructured, st *status) error {
	desired, raw, changed, err := st.merged(inst)
	if err != nil || !changed {
		return err
	}
	oldState, _, _ := unstructured.NestedString(inst.Object, "status", "state")
	hash := runtime.HashBytes(raw)
	if last, ok := r.lastStatus.Load(inst.GetUID()); ok {
		if last.(writtenStatus).hash == hash {
			// Already written; the cache has not caught up with that write yet.
			return nil
		}
		oldState = last.(writtenStatus).state
	}
	if err := r.patchStatus(ctx, inst, desired); err != nil {
		if apierrors.IsNotFound(err) {
			return nil
		}
		return fmt.Errorf("writing status: %w", err)
	}
	r.lastStatus.Store(inst.GetUID(), writtenStatus{hash: hash, state: st.state})
	if oldState != st.state {
		metrics.InstanceStates.WithLabelValues(r.kind(), st.state).Inc()
	}
	// Every state change is an event, and so is a new error; an unchanged state is not.
	if r.opts.Recorder != nil {
		note, prevNote := "Instance is "+st.state, ""
		if c := conditions.Get(st.conds, ConditionResourcesReady); c != nil && c.Message != "" {
			note = c.Message
		}
		if c := conditions.Get(st.wire, ConditionResourcesReady); c != nil {
			prevNote = c.Message
		}
		switch {
		case st.state == StateError && (oldState != st.state || note != prevNote):
			r.opts.Recorder.Eventf(inst, nil, corev1.EventTypeWarning, stateReasons[st.state], "Reconcile", "%s", note)
		case oldState != st.state:
			r.opts.Recorder.Eventf(inst, nil, corev1.EventTypeNormal, stateReasons[st.state], "Reconcile", "%s", note)
		}
	}
	return nil
}

// patchStatus sends a merge patch of the instance's status subresource from its current
// status to desired, and sets desired on inst. The answer is not read: only its metadata is
// asked for.
func (r *Reconciler) patchStatus(ctx context.Context, inst *unstructured.Unstructured, desired map[string]any) error {
	current, _, _ := unstructured.NestedMap(inst.Object, "status")
	patch, err := json.Marshal(map[string]any{"status": mergePatchOf(current, desired)})
	if err != nil {
		return err
	}
	if err := unstructured.SetNestedField(inst.Object, desired, "status"); err != nil {
		return err
	}
	if r.opts.REST == nil {
		return r.opts.Client.Status().Patch(ctx, inst.DeepCopy(), client.RawPatch(types.MergePatchType, patch))
	}
	gvr := r.graph.Load().Instance.GVR
	rc, err := r.opts.REST.For(gvr)
	if err != nil {
		return err
	}
	return objectRequest(rc.Patch(types.MergePatchType), gvr, inst.GetNamespace(), inst.GetName()).SubResource("status").
		SetHeader("Accept", metadataAnswer).Body(patch).Do(ctx).Error()
}

// errConflict marks an object that belongs to another ApplySet.
var errConflict = errors.New("resource belongs to a different ApplySet")

// customConditions computes the RGD's own conditions, which replace kro's on the instance.
func (r *Reconciler) customConditions(ctx context.Context, st *status, res result) error {
	builtins, err := st.builtins()
	if err != nil {
		return err
	}
	produced, pending, err := res.runtime.Conditions(ctx, builtins)
	st.setCustom(produced, err != nil || len(pending) > 0)
	return err
}

// writtenStatus is what kro last wrote to an instance's status.
type writtenStatus struct {
	hash  uint64
	state string
}
