package rgd

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"slices"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	internalv1alpha1 "github.com/kro-run/kro/api/internal.kro.run/v1alpha1"
	"github.com/kro-run/kro/api/v1alpha1"
	"github.com/kro-run/kro/internal/conditions"
	"github.com/kro-run/kro/internal/graph"
	"github.com/kro-run/kro/internal/metadata"
	"github.com/kro-run/kro/internal/version"
)

const (
	// snapshotNameField indexes GraphRevisions by the name of their RGD. The CRD declares the
	// same path a selectable field, so the API server filters by it too.
	snapshotNameField = "spec.snapshot.name"
	// revisionHashLabel holds a hash of a revision's spec, for kubectl; kro compares specs,
	// never this label.
	revisionHashLabel = "kro.run/graph-revision-hash"
	// maxNameLength is the longest object name.
	maxNameLength = 253
)

// Reasons of GraphRevisionsResolved.
const (
	reasonResolved        = "Resolved"
	reasonRevisionFailed  = "Failed"
	reasonNoGraphRevision = "NoGraphRevision"
)

// snapshotName is the index function of snapshotNameField.
func snapshotName(obj client.Object) []string {
	rev, ok := obj.(*internalv1alpha1.GraphRevision)
	if !ok {
		return nil
	}
	return []string{rev.Spec.Snapshot.Name}
}

// revisionName names revision n of the RGD rgdName <rgd>-r<NNNNN>. A name that would be too
// long is cut and suffixed with a hash of the whole RGD name, so that two long names with the
// same beginning do not collide.
func revisionName(rgdName string, n int64) string {
	suffix := fmt.Sprintf("-r%05d", n)
	if len(rgdName)+len(suffix) <= maxNameLength {
		return rgdName + suffix
	}
	suffix += "-" + nameHash(rgdName)
	prefix := strings.TrimRight(rgdName[:maxNameLength-len(suffix)], ".-")
	if prefix == "" {
		prefix = "gr"
	}
	return prefix + suffix
}

// nameHash is the FNV-32a hash of an RGD name, in hex.
func nameHash(name string) string {
	h := fnv.New32a()
	h.Write([]byte(name))
	return hex.EncodeToString(h.Sum(nil))
}

// specHash hashes the canonical JSON of an RGD spec (object keys sorted, raw fields
// re-encoded), so that formatting and key order do not make a new revision. It is a valid label
// value.
func specHash(spec v1alpha1.ResourceGraphDefinitionSpec) (string, error) {
	raw, err := json.Marshal(spec)
	if err != nil {
		return "", err
	}
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		return "", err
	}
	canonical, err := json.Marshal(v)
	if err != nil {
		return "", err
	}
	h := fnv.New64a()
	h.Write(canonical)
	return hex.EncodeToString(h.Sum(nil)), nil
}

// pruneCandidates returns the revisions beyond the newest keep, oldest first; none when keep
// is 0 or less.
func pruneCandidates(revs []internalv1alpha1.GraphRevision, keep int) []internalv1alpha1.GraphRevision {
	if keep <= 0 || len(revs) <= keep {
		return nil
	}
	sorted := slices.Clone(revs)
	slices.SortFunc(sorted, func(a, b internalv1alpha1.GraphRevision) int {
		return int(a.Spec.Revision - b.Spec.Revision)
	})
	return sorted[:len(sorted)-keep]
}

// listRevisions lists the GraphRevisions of the RGD named rgdName that are not being deleted.
func listRevisions(ctx context.Context, reader client.Reader, rgdName string) ([]internalv1alpha1.GraphRevision, error) {
	list := &internalv1alpha1.GraphRevisionList{}
	if err := reader.List(ctx, list, client.MatchingFields{snapshotNameField: rgdName}); err != nil {
		return nil, fmt.Errorf("listing graph revisions: %w", err)
	}
	out := list.Items[:0]
	for _, rev := range list.Items {
		if rev.DeletionTimestamp == nil && rev.Spec.Snapshot.Name == rgdName {
			out = append(out, rev)
		}
	}
	return out, nil
}

// newestOwned returns the newest revision issued for this RGD object (not for an earlier RGD
// of the same name), or nil.
func newestOwned(revs []internalv1alpha1.GraphRevision, rgd *v1alpha1.ResourceGraphDefinition) *internalv1alpha1.GraphRevision {
	var newest *internalv1alpha1.GraphRevision
	for i := range revs {
		owner := metav1.GetControllerOf(&revs[i])
		if owner == nil || owner.UID != rgd.UID {
			continue
		}
		if newest == nil || revs[i].Spec.Revision > newest.Spec.Revision {
			newest = &revs[i]
		}
	}
	return newest
}

// highest is the highest revision number in revs, 0 when there is none.
func highest(revs []internalv1alpha1.GraphRevision) int64 {
	var n int64
	for _, rev := range revs {
		n = max(n, rev.Spec.Revision)
	}
	return n
}

// sameSpec reports whether rev is a snapshot of the spec whose hash is hash.
func sameSpec(rev *internalv1alpha1.GraphRevision, hash string) bool {
	h, err := specHash(rev.Spec.Snapshot.Spec)
	return err == nil && h == hash
}

// issueRevision returns the number of the revision of rgd's current spec, whose graph g was
// just built and checked: the RGD's newest revision when it holds the same spec (also one
// created just before kro stopped, whose number the RGD's status may not have recorded), else
// a new revision numbered after every revision issued for the RGD's name and after
// status.lastIssuedRevision. Numbers therefore come from the cluster, never from memory alone.
// It records lastIssuedRevision and GraphRevisionsResolved on rgd.
func (r *Reconciler) issueRevision(ctx context.Context, rgd *v1alpha1.ResourceGraphDefinition, g *graph.Graph) (int64, error) {
	hash, err := specHash(rgd.Spec)
	if err != nil {
		return 0, fmt.Errorf("hashing spec: %w", err)
	}
	revs, err := listRevisions(ctx, r.opts.Client, rgd.Name)
	if err != nil {
		return 0, err
	}
	if newest := newestOwned(revs, rgd); newest == nil || !sameSpec(newest, hash) {
		// The cache may not show a revision created moments ago: the API server decides
		// whether one is needed and which number it gets.
		if revs, err = listRevisions(ctx, r.opts.APIReader, rgd.Name); err != nil {
			return 0, err
		}
	}
	rev := newestOwned(revs, rgd)
	if rev == nil || !sameSpec(rev, hash) {
		if rev, err = r.createRevision(ctx, rgd, max(rgd.Status.LastIssuedRevision, highest(revs))+1, hash); err != nil {
			return 0, err
		}
	}
	if err := r.markVerified(ctx, rev, g); err != nil {
		return 0, err
	}
	rgd.Status.LastIssuedRevision = max(rgd.Status.LastIssuedRevision, rev.Spec.Revision)
	setCondition(rgd, v1alpha1.ConditionGraphRevisionsResolved, metav1.ConditionTrue, reasonResolved,
		fmt.Sprintf("revision %d compiled and active", rev.Spec.Revision))
	return rev.Spec.Revision, nil
}

// createRevision creates revision n of rgd's current spec.
func (r *Reconciler) createRevision(ctx context.Context, rgd *v1alpha1.ResourceGraphDefinition, n int64, hash string) (*internalv1alpha1.GraphRevision, error) {
	rev := &internalv1alpha1.GraphRevision{
		ObjectMeta: metav1.ObjectMeta{
			Name: revisionName(rgd.Name, n),
			Labels: map[string]string{
				metadata.OwnedLabel:      "true",
				metadata.KroVersionLabel: version.Version,
				revisionHashLabel:        hash,
			},
			OwnerReferences: []metav1.OwnerReference{{
				APIVersion: v1alpha1.GroupVersion.String(),
				Kind:       "ResourceGraphDefinition",
				Name:       rgd.Name,
				UID:        rgd.UID,
				Controller: ptr.To(true),
			}},
		},
		Spec: internalv1alpha1.GraphRevisionSpec{
			Revision: n,
			Snapshot: internalv1alpha1.ResourceGraphDefinitionSnapshot{
				Name:       rgd.Name,
				Generation: rgd.Generation,
				Spec:       *rgd.Spec.DeepCopy(),
			},
		},
	}
	// A label value holds at most 63 characters; longer RGD names are found by the field.
	if len(rgd.Name) <= 63 {
		rev.Labels[metadata.ResourceGraphDefinitionNameLabel] = rgd.Name
	}
	ctrl.LoggerFrom(ctx).Info("Issuing graph revision", "revision", n, "graphRevision", rev.Name)
	if err := r.opts.Client.Create(ctx, rev); err != nil {
		// AlreadyExists: another reconcile issued this number first; the retry sees it.
		return nil, fmt.Errorf("creating graph revision %s: %w", rev.Name, err)
	}
	return rev, nil
}

// markVerified records on rev that its graph g built and was checked. It writes only when the
// status differs, as after creation or when kro stopped before writing it.
func (r *Reconciler) markVerified(ctx context.Context, rev *internalv1alpha1.GraphRevision, g *graph.Graph) error {
	before := rev.DeepCopy()
	now := now()
	rev.Status.Conditions = conditions.Set(rev.Status.Conditions, conditions.New(internalv1alpha1.ConditionGraphVerified,
		metav1.ConditionTrue, "Verified", "graph revision compiled and verified", rev.Generation), now)
	rev.Status.Conditions = conditions.Set(rev.Status.Conditions, conditions.Summary(rev.Status.Conditions,
		internalv1alpha1.ConditionReady, rev.Generation, internalv1alpha1.ConditionGraphVerified), now)
	rev.Status.TopologicalOrder = g.Order
	rev.Status.Resources = resourceInfo(g)
	if statusEqual(before.Status, rev.Status) {
		return nil
	}
	if err := r.opts.Client.Status().Patch(ctx, rev, client.MergeFrom(before)); err != nil {
		return fmt.Errorf("writing status of graph revision %s: %w", rev.Name, err)
	}
	return nil
}

// statusEqual compares two revision statuses, nil and empty lists alike.
func statusEqual(a, b internalv1alpha1.GraphRevisionStatus) bool {
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	return string(ja) == string(jb)
}

// lastGoodGraph builds the graph of the RGD's newest revision again, for serving instances
// while the current spec cannot serve them, because it does not build or its CRD change is
// refused (after a restart nothing else remembers it). It returns nil when the RGD has no
// revision. Only the newest is used: an older graph would prune resources the last accepted
// spec still has.
func (r *Reconciler) lastGoodGraph(ctx context.Context, rgd *v1alpha1.ResourceGraphDefinition) (*graph.Graph, error) {
	revs, err := listRevisions(ctx, r.opts.Client, rgd.Name)
	if err != nil {
		return nil, err
	}
	rev := newestOwned(revs, rgd)
	if rev == nil {
		return nil, nil
	}
	if c := conditions.Get(rev.Status.Conditions, internalv1alpha1.ConditionGraphVerified); c != nil && c.Status == metav1.ConditionFalse {
		return nil, nil
	}
	snapshot := &v1alpha1.ResourceGraphDefinition{
		ObjectMeta: metav1.ObjectMeta{
			Name:        rgd.Name,
			UID:         rgd.UID,
			Generation:  rev.Spec.Snapshot.Generation,
			Labels:      rgd.Labels,
			Annotations: rgd.Annotations,
		},
		Spec: *rev.Spec.Snapshot.Spec.DeepCopy(),
	}
	g, err := r.buildGraph(ctx, snapshot)
	if err != nil {
		return nil, fmt.Errorf("building graph revision %d: %w", rev.Spec.Revision, err)
	}
	g.Revision = rev.Spec.Revision
	return g, nil
}

// serveLastGood keeps the instances of an RGD whose current spec cannot serve them served
// with the graph of its newest revision, recording GraphRevisionsResolved, and KindReady and
// ControllerReady for that graph. It returns whether to check again soon (a CRD not
// established yet).
func (r *Reconciler) serveLastGood(ctx context.Context, rgd *v1alpha1.ResourceGraphDefinition) (bool, error) {
	g, err := r.lastGoodGraph(ctx, rgd)
	if err != nil {
		setCondition(rgd, v1alpha1.ConditionGraphRevisionsResolved, metav1.ConditionFalse, reasonRevisionFailed, err.Error())
		return false, err
	}
	if g == nil {
		setCondition(rgd, v1alpha1.ConditionGraphRevisionsResolved, metav1.ConditionUnknown, reasonNoGraphRevision,
			"no graph revision: no spec of this RGD has been accepted yet")
		return false, nil
	}
	setCondition(rgd, v1alpha1.ConditionGraphRevisionsResolved, metav1.ConditionTrue, reasonResolved,
		fmt.Sprintf("revision %d compiled and active", g.Revision))
	return r.ensureServing(ctx, rgd, g)
}

// pruneRevisions deletes the revisions of the RGD's name beyond the newest MaxRevisions.
func (r *Reconciler) pruneRevisions(ctx context.Context, rgd *v1alpha1.ResourceGraphDefinition) error {
	revs, err := listRevisions(ctx, r.opts.Client, rgd.Name)
	if err != nil {
		return err
	}
	for _, rev := range pruneCandidates(revs, r.opts.MaxRevisions) {
		ctrl.LoggerFrom(ctx).Info("Pruning graph revision", "revision", rev.Spec.Revision, "graphRevision", rev.Name)
		if err := r.opts.Client.Delete(ctx, &rev, client.Preconditions{UID: ptr.To(rev.UID)}); client.IgnoreNotFound(err) != nil && !apierrors.IsConflict(err) {
			return fmt.Errorf("deleting graph revision %s: %w", rev.Name, err)
		}
	}
	return nil
}
