package rgd

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strconv"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/kro-run/kro/api/v1alpha1"
	"github.com/kro-run/kro/internal/graph"
	"github.com/kro-run/kro/internal/graph/crd"
	"github.com/kro-run/kro/internal/metadata"
)

// generationAnnotation on a generated CRD records the RGD generation it was last applied
// from. A difference between the live CRD and the one generated from that same generation is
// drift (a hand edit), which is repaired without a compatibility check; a new generation is
// an edit of the RGD, whose breaking changes need consent.
const generationAnnotation = "internal.kro.run/resource-graph-definition-generation"

// maxReportedChanges bounds the breaking changes named in a condition message.
const maxReportedChanges = 10

// Reasons of a KindReady condition that is False because of the CRD.
const (
	reasonBreakingChanges = "BreakingChanges"
	reasonCRDConflict     = "CRDConflict"
	reasonCRDApplyFailed  = "CRDApplyFailed"
)

// BreakingChangesError refuses a CRD update that could break existing instances.
type BreakingChangesError struct {
	Changes []crd.Change
}

func (e *BreakingChangesError) Error() string {
	return fmt.Sprintf("breaking changes detected: %s; set annotation %s: \"true\" on the RGD to apply them",
		crd.Summary(e.Changes, maxReportedChanges), metadata.AllowBreakingChangesAnnotation)
}

// CRDConflictError refuses to touch a CRD that kro did not generate for this RGD.
type CRDConflictError struct {
	CRD, Owner string
}

func (e *CRDConflictError) Error() string {
	if e.Owner == "" {
		return fmt.Sprintf("CRD %s already exists and was not created by kro", e.CRD)
	}
	return fmt.Sprintf("CRD %s already exists and belongs to RGD %q", e.CRD, e.Owner)
}

// crdFailure maps an error of ensureCRD to the KindReady reason and whether retrying can help
// without anything else changing.
func crdFailure(err error) (reason string, retry bool) {
	var breaking *BreakingChangesError
	var conflict *CRDConflictError
	switch {
	case errors.As(err, &breaking):
		// The RGD or its annotations must change first; both re-trigger a reconcile.
		return reasonBreakingChanges, false
	case errors.As(err, &conflict):
		// Nothing wakes this RGD when the other owner lets go of the CRD, so keep retrying.
		return reasonCRDConflict, true
	default:
		return reasonCRDApplyFailed, true
	}
}

// ensureCRD applies the generated CRD when the live one differs, and reports whether it is
// established. It never takes over a CRD owned by another RGD and refuses breaking changes
// unless the RGD allows them.
func (r *Reconciler) ensureCRD(ctx context.Context, rgd *v1alpha1.ResourceGraphDefinition, g *graph.Graph) (bool, error) {
	desired := desiredCRD(g)
	live, err := r.readCRD(ctx, desired.Name)
	if err != nil {
		return false, err
	}
	if live != nil && live.DeletionTimestamp != nil {
		// Being deleted (by hand): recreated once gone, which the CRD watch reports.
		return false, nil
	}
	apply, err := planCRD(rgd, live, desired)
	if err != nil {
		return false, err
	}
	if !apply {
		return established(live), nil
	}
	ctrl.LoggerFrom(ctx).Info("Applying CRD", "crd", desired.Name)
	if err := r.opts.Client.Patch(ctx, desired, client.Apply, client.ForceOwnership, client.FieldOwner(metadata.ControllerFieldManager)); err != nil { //nolint:staticcheck // typed apply configurations do not exist for CRDs
		return false, fmt.Errorf("applying CRD %s: %w", desired.Name, err)
	}
	return established(desired), nil
}

// readCRD reads the CRD named name; nil when there is none.
func (r *Reconciler) readCRD(ctx context.Context, name string) (*apiextensionsv1.CustomResourceDefinition, error) {
	live := &apiextensionsv1.CustomResourceDefinition{}
	if err := r.opts.Client.Get(ctx, client.ObjectKey{Name: name}, live); apierrors.IsNotFound(err) {
		return nil, nil
	} else if err != nil {
		return nil, fmt.Errorf("reading CRD %s: %w", name, err)
	}
	return live, nil
}

// refusal returns why applying g's CRD over live (nil when absent) is refused as a breaking
// change, or nil when it is not. Other reasons not to apply it are left to ensureCRD.
func refusal(rgd *v1alpha1.ResourceGraphDefinition, live *apiextensionsv1.CustomResourceDefinition, g *graph.Graph) *BreakingChangesError {
	if live == nil || live.DeletionTimestamp != nil {
		return nil
	}
	var breaking *BreakingChangesError
	if _, err := planCRD(rgd, live, desiredCRD(g)); errors.As(err, &breaking) {
		return breaking
	}
	return nil
}

// desiredCRD is the graph's CRD stamped with the RGD generation the graph was built from:
// the RGD's current one, or for the graph of a revision, the one the revision snapshots (the
// CRD is then the one applied from that generation, not an edit of the current one).
func desiredCRD(g *graph.Graph) *apiextensionsv1.CustomResourceDefinition {
	desired := g.CRD.DeepCopy()
	annotations := make(map[string]string, len(desired.Annotations)+1)
	for k, v := range desired.Annotations {
		annotations[k] = v
	}
	annotations[generationAnnotation] = strconv.FormatInt(g.Generation, 10)
	desired.Annotations = annotations
	return desired
}

// planCRD decides whether desired must be applied over live (nil when absent).
func planCRD(rgd *v1alpha1.ResourceGraphDefinition, live, desired *apiextensionsv1.CustomResourceDefinition) (bool, error) {
	if live == nil {
		return true, nil
	}
	if live.Labels[metadata.OwnedLabel] != "true" {
		return false, &CRDConflictError{CRD: live.Name}
	}
	if owner := live.Labels[metadata.ResourceGraphDefinitionNameLabel]; owner != rgd.Name {
		return false, &CRDConflictError{CRD: live.Name, Owner: owner}
	}
	if upToDate(live, desired) {
		return false, nil
	}
	if isDrift(live, desired) || rgd.Annotations[metadata.AllowBreakingChangesAnnotation] == "true" {
		return true, nil
	}
	if changes := crd.Compare(live, desired); len(changes) > 0 {
		return false, &BreakingChangesError{Changes: changes}
	}
	return true, nil
}

// isDrift reports whether live was applied from the same RGD object and generation as
// desired, so that any difference is a hand edit.
func isDrift(live, desired *apiextensionsv1.CustomResourceDefinition) bool {
	id := metadata.ResourceGraphDefinitionIDLabel
	return live.Labels[id] == desired.Labels[id] &&
		live.Annotations[generationAnnotation] == desired.Annotations[generationAnnotation]
}

// upToDate reports whether live already has everything desired sets, so that applying it
// would change nothing.
func upToDate(live, desired *apiextensionsv1.CustomResourceDefinition) bool {
	for k, v := range desired.Labels {
		if live.Labels[k] != v {
			return false
		}
	}
	for k, v := range desired.Annotations {
		if live.Annotations[k] != v {
			return false
		}
	}
	return live.Spec.Group == desired.Spec.Group &&
		live.Spec.Scope == desired.Spec.Scope &&
		jsonEqual(live.Spec.Names, desired.Spec.Names) &&
		jsonEqual(live.Spec.Versions, desired.Spec.Versions)
}

// jsonEqual compares a and b by their JSON form, which equates nil and empty lists and
// differently encoded but equal raw JSON values (defaults, enums).
func jsonEqual(a, b any) bool {
	var na, nb any
	return normalize(a, &na) == nil && normalize(b, &nb) == nil && reflect.DeepEqual(na, nb)
}

func normalize(in any, out *any) error {
	raw, err := json.Marshal(in)
	if err != nil {
		return err
	}
	return json.Unmarshal(raw, out)
}

func established(c *apiextensionsv1.CustomResourceDefinition) bool {
	for _, cond := range c.Status.Conditions {
		if cond.Type == apiextensionsv1.Established && cond.Status == apiextensionsv1.ConditionTrue {
			return true
		}
	}
	return false
}
