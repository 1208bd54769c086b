package rgd

import (
	"context"
	"fmt"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	"github.com/kro-run/kro/api/v1alpha1"
	"github.com/kro-run/kro/internal/graph/crd"
	"github.com/kro-run/kro/internal/metadata"
)

// reasonWaitingForInstances is the reason of Ready while a deleting RGD waits for its
// instances to go.
const reasonWaitingForInstances = "WaitingForInstances"

// reconcileDelete lets an RGD go only when none of its instances is left, so that no instance
// is stranded behind a finalizer nobody removes and no instance's resources are orphaned.
// Until then the RGD keeps its finalizer, its kind stays served (deleting an instance still
// deletes its resources in order, also after a restart of kro) and Ready says how many
// instances hold it. The engine notifies the RGD when an instance is deleted. With
// AllowCRDDeletion kro deletes the instances itself, then the CRD.
func (r *Reconciler) reconcileDelete(ctx context.Context, rgd *v1alpha1.ResourceGraphDefinition) (ctrl.Result, error) {
	if !controllerutil.ContainsFinalizer(rgd, metadata.Finalizer) {
		return ctrl.Result{}, nil
	}
	if s := rgd.Spec.Schema; s != nil {
		before := rgd.DeepCopy()
		remaining, err := r.drain(ctx, rgd, instanceGVK(s))
		if remaining > 0 || err != nil {
			if perr := r.writeStatus(ctx, before, rgd); perr != nil && err == nil {
				err = perr
			}
			return ctrl.Result{}, err
		}
		if r.opts.AllowCRDDeletion {
			if err := r.deleteCRD(ctx, rgd, instanceGVK(s).GroupKind()); err != nil {
				return ctrl.Result{}, err
			}
		}
	}
	before := rgd.DeepCopy()
	controllerutil.RemoveFinalizer(rgd, metadata.Finalizer)
	ctrl.LoggerFrom(ctx).Info("Removing finalizer; no instance is left")
	return ctrl.Result{}, client.IgnoreNotFound(r.opts.Client.Patch(ctx, rgd, client.MergeFrom(before)))
}

// drain keeps gvk served while instances of it exist and returns how many are left, recording
// conditions on rgd. When none is left the kind is no longer served.
func (r *Reconciler) drain(ctx context.Context, rgd *v1alpha1.ResourceGraphDefinition, gvk schema.GroupVersionKind) (int, error) {
	live := &apiextensionsv1.CustomResourceDefinition{}
	crdName := crd.Name(gvk.Group, gvk.Kind)
	if err := r.opts.Client.Get(ctx, client.ObjectKey{Name: crdName}, live); err != nil {
		if !apierrors.IsNotFound(err) {
			return 0, fmt.Errorf("reading CRD %s: %w", crdName, err)
		}
		// Without its CRD the kind has no instances.
		r.opts.Engine.Unregister(gvk)
		return 0, nil
	}
	if live.Labels[metadata.ResourceGraphDefinitionNameLabel] != rgd.Name {
		// Another RGD's kind (this one never got past the conflict): nothing of it to serve.
		return 0, nil
	}
	setCondition(rgd, v1alpha1.ConditionKindReady, metav1.ConditionTrue, "Ready", fmt.Sprintf("CRD %s serves the instances being deleted", crdName))

	// The graph is built again, rather than remembered, so that a deleting RGD is served
	// after a restart of kro too.
	g, err := r.build(ctx, rgd)
	if err == nil {
		if refused := refusal(rgd, live, g); refused != nil {
			g, err = nil, refused
		}
	}
	if err != nil {
		// The spec may be an invalid edit, or one whose CRD change was refused: the graph of
		// the newest revision is the one the instances were served with.
		if last, lerr := r.lastGoodGraph(ctx, rgd); lerr == nil && last != nil {
			g, err = last, nil
		}
	}
	if err != nil {
		// Without a graph nobody can delete an instance's resources in order: wait for the
		// graph (a missing kind may come back) while instances exist.
		instances, lerr := r.listInstances(ctx, r.opts.APIReader, gvk)
		if lerr != nil {
			return 0, lerr
		}
		if len(instances) == 0 {
			r.opts.Engine.Unregister(gvk)
			return 0, nil
		}
		r.waiting(rgd, gvk, len(instances))
		return len(instances), fmt.Errorf("building graph of deleting RGD with %d instances: %w", len(instances), err)
	}
	if err := r.serve(ctx, rgd, g); err != nil {
		summarize(rgd)
		return 1, err
	}
	// The engine holds the informer of the kind: the cache is complete.
	instances, err := r.listInstances(ctx, r.opts.Client, gvk)
	if err != nil {
		return 0, err
	}
	if len(instances) == 0 {
		// Stop serving, then check the API server: an instance created since the cache was
		// last updated may have been taken by the controller before it stopped.
		r.opts.Engine.Unregister(gvk)
		if instances, err = r.listInstances(ctx, r.opts.APIReader, gvk); err != nil {
			return 0, err
		}
		if len(instances) > 0 {
			if err := r.serve(ctx, rgd, g); err != nil {
				summarize(rgd)
				return len(instances), err
			}
		}
	}
	if len(instances) == 0 {
		return 0, nil
	}
	if r.opts.AllowCRDDeletion {
		if err := r.deleteInstances(ctx, instances); err != nil {
			return len(instances), err
		}
	}
	r.waiting(rgd, gvk, len(instances))
	return len(instances), nil
}

// waiting records that n instances of gvk hold a deleting RGD.
func (r *Reconciler) waiting(rgd *v1alpha1.ResourceGraphDefinition, gvk schema.GroupVersionKind, n int) {
	summarize(rgd)
	noun := "instances"
	if n == 1 {
		noun = "instance"
	}
	msg := fmt.Sprintf("%d %s of %s must be deleted first", n, noun, gvk.GroupKind())
	if r.opts.AllowCRDDeletion {
		msg = fmt.Sprintf("deleting %d %s of %s before the CRD", n, noun, gvk.GroupKind())
	}
	setCondition(rgd, v1alpha1.ConditionReady, metav1.ConditionFalse, reasonWaitingForInstances, msg)
	rgd.Status.State = v1alpha1.ResourceGraphDefinitionStateInactive
}

// deleteInstances deletes the instances not being deleted yet; their controller deletes each
// one's resources in order before removing its finalizer.
func (r *Reconciler) deleteInstances(ctx context.Context, instances []unstructured.Unstructured) error {
	for i := range instances {
		inst := &instances[i]
		if inst.GetDeletionTimestamp() != nil {
			continue
		}
		ctrl.LoggerFrom(ctx).Info("Deleting instance of a deleted RGD", "instance", client.ObjectKeyFromObject(inst).String())
		if err := r.opts.Client.Delete(ctx, inst, client.Preconditions{UID: ptr.To(inst.GetUID())}); client.IgnoreNotFound(err) != nil && !apierrors.IsConflict(err) {
			return fmt.Errorf("deleting instance %s: %w", client.ObjectKeyFromObject(inst), err)
		}
	}
	return nil
}

// listInstances lists the instances of a generated kind with reader; none when the kind is not
// served.
func (r *Reconciler) listInstances(ctx context.Context, reader client.Reader, gvk schema.GroupVersionKind) ([]unstructured.Unstructured, error) {
	list := &unstructured.UnstructuredList{}
	list.SetGroupVersionKind(gvk.GroupVersion().WithKind(gvk.Kind + "List"))
	if err := reader.List(ctx, list); err != nil {
		if meta.IsNoMatchError(err) || apierrors.IsNotFound(err) {
			return nil, nil
		}
		return nil, fmt.Errorf("listing instances of %s: %w", gvk.GroupKind(), err)
	}
	return list.Items, nil
}

// deleteCRD deletes the generated CRD of the kind, unless another RGD owns it.
func (r *Reconciler) deleteCRD(ctx context.Context, rgd *v1alpha1.ResourceGraphDefinition, gk schema.GroupKind) error {
	live := &apiextensionsv1.CustomResourceDefinition{}
	name := crd.Name(gk.Group, gk.Kind)
	if err := r.opts.Client.Get(ctx, client.ObjectKey{Name: name}, live); err != nil {
		return client.IgnoreNotFound(err)
	}
	if live.Labels[metadata.ResourceGraphDefinitionNameLabel] != rgd.Name {
		return nil
	}
	ctrl.LoggerFrom(ctx).Info("Deleting CRD", "crd", name)
	return client.IgnoreNotFound(r.opts.Client.Delete(ctx, live))
}

// instanceGVK is the kind an RGD's schema defines.
func instanceGVK(s *v1alpha1.Schema) schema.GroupVersionKind {
	group := s.Group
	if group == "" {
		group = "kro.run"
	}
	return schema.GroupVersionKind{Group: group, Version: s.APIVersion, Kind: s.Kind}
}
