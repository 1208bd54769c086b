package integration

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/onsi/gomega"
	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	internalv1alpha1 "github.com/kro-run/kro/api/internal.kro.run/v1alpha1"
	"github.com/kro-run/kro/api/v1alpha1"
	"github.com/kro-run/kro/internal/metadata"
)

// revisionRGD is an RGD of kind kind whose instances own one ConfigMap holding
// schema.spec.value under the key key.
func revisionRGD(name, kind, key string) string {
	return fmt.Sprintf(`
apiVersion: kro.run/v1alpha1
kind: ResourceGraphDefinition
metadata:
  name: %s
spec:
  schema:
    apiVersion: v1alpha1
    kind: %s
    spec:
      value: string | default=a
  resources:
  - id: config
    template:
      apiVersion: v1
      kind: ConfigMap
      metadata: {name: "${schema.metadata.name}-config"}
      data:
        %s: "${schema.spec.value}"
`, name, kind, key)
}

// revisions lists the GraphRevisions of the RGD named rgdName (through the selectable field
// spec.snapshot.name), sorted by revision number.
func revisions(g gomega.Gomega, rgdName string) []internalv1alpha1.GraphRevision {
	list := &internalv1alpha1.GraphRevisionList{}
	g.Expect(env.client.List(context.Background(), list, client.MatchingFields{"spec.snapshot.name": rgdName})).To(gomega.Succeed())
	slices.SortFunc(list.Items, func(a, b internalv1alpha1.GraphRevision) int { return int(a.Spec.Revision - b.Spec.Revision) })
	return list.Items
}

// revisionNumbers lists the revision numbers of the RGD's GraphRevisions.
func revisionNumbers(g gomega.Gomega, rgdName string) []int64 {
	var out []int64
	for _, r := range revisions(g, rgdName) {
		out = append(out, r.Spec.Revision)
	}
	return out
}

// waitRevisions waits until the RGD's revisions are want and its status says the newest was
// issued last.
func waitRevisions(g gomega.Gomega, rgdName string, want ...int64) {
	g.Eventually(func(g gomega.Gomega) {
		g.Expect(revisionNumbers(g, rgdName)).To(gomega.Equal(want))
		g.Expect(getRGD(g, rgdName).Status.LastIssuedRevision).To(gomega.Equal(want[len(want)-1]))
	}).Should(gomega.Succeed())
}

// editRGD changes the RGD's spec with edit and writes it.
func editRGD(g gomega.Gomega, name string, edit func(*v1alpha1.ResourceGraphDefinition)) {
	g.Eventually(func() error {
		rgd := getRGD(g, name)
		edit(rgd)
		return env.client.Update(context.Background(), rgd)
	}).Should(gomega.Succeed())
}

// setSpecFromYAML replaces the RGD's spec with the one of manifest.
func setSpecFromYAML(g gomega.Gomega, manifest string) func(*v1alpha1.ResourceGraphDefinition) {
	next := &v1alpha1.ResourceGraphDefinition{}
	g.Expect(yaml.UnmarshalStrict([]byte(manifest), next)).To(gomega.Succeed())
	return func(rgd *v1alpha1.ResourceGraphDefinition) { rgd.Spec = next.Spec }
}

// setInstanceValue sets spec.value of an instance.
func setInstanceValue(g gomega.Gomega, kind, ns, name, value string) {
	gvk := instanceGVK(kind)
	g.Eventually(func() error {
		inst := get(g, gvk, ns, name)
		g.Expect(inst).NotTo(gomega.BeNil())
		g.Expect(unstructured.SetNestedField(inst.Object, value, "spec", "value")).To(gomega.Succeed())
		return env.client.Update(context.Background(), inst)
	}).Should(gomega.Succeed())
}

// waitConfigValue waits until the instance's ConfigMap holds data[key] == value.
func waitConfigValue(g gomega.Gomega, ns, instance, key, value string) {
	g.Eventually(func(g gomega.Gomega) {
		cm := get(g, configMapGVK, ns, instance+"-config")
		g.Expect(cm).NotTo(gomega.BeNil())
		g.Expect(cm.Object["data"]).To(gomega.Equal(map[string]any{key: value}))
	}).Should(gomega.Succeed())
}

// waitResolvedWith waits until the instance's GraphResolved condition names the revision.
func waitResolvedWith(g gomega.Gomega, kind, ns, name string, revision int64) {
	g.Eventually(func(g gomega.Gomega) {
		inst := get(g, instanceGVK(kind), ns, name)
		g.Expect(inst).NotTo(gomega.BeNil())
		c := condition(inst, "GraphResolved")
		g.Expect(c).NotTo(gomega.BeNil())
		g.Expect(c["status"]).To(gomega.Equal("True"))
		g.Expect(c["message"]).To(gomega.HaveSuffix(fmt.Sprintf("(graph revision %d)", revision)))
	}).Should(gomega.Succeed())
}

// TestGraphRevisionIssued checks the GraphRevision of an accepted spec: its name, spec, owner,
// labels and conditions, the RGD's status, and that only a spec change issues a new one.
func TestGraphRevisionIssued(t *testing.T) {
	g := gomega.NewWithT(t)
	applyRGD(t, g, revisionRGD("rev-issued", "RevIssued", "value"))
	rgd := waitRGDActive(g, "rev-issued")
	waitRevisions(g, "rev-issued", 1)

	rev := revisions(g, "rev-issued")[0]
	g.Expect(rev.Name).To(gomega.Equal("rev-issued-r00001"))
	g.Expect(rev.Spec.Snapshot.Name).To(gomega.Equal("rev-issued"))
	g.Expect(rev.Spec.Snapshot.Generation).To(gomega.Equal(rgd.Generation))
	g.Expect(equality.Semantic.DeepEqual(rev.Spec.Snapshot.Spec, rgd.Spec)).To(gomega.BeTrue(), "snapshot spec %+v, RGD spec %+v", rev.Spec.Snapshot.Spec, rgd.Spec)
	g.Expect(rev.OwnerReferences).To(gomega.ConsistOf(gomega.And(
		gomega.HaveField("APIVersion", "kro.run/v1alpha1"),
		gomega.HaveField("Kind", "ResourceGraphDefinition"),
		gomega.HaveField("Name", "rev-issued"),
		gomega.HaveField("UID", rgd.UID),
		gomega.HaveField("Controller", gomega.HaveValue(gomega.BeTrue())))))
	g.Expect(rev.Labels).To(gomega.HaveKeyWithValue(metadata.ResourceGraphDefinitionNameLabel, "rev-issued"))
	g.Expect(rev.Labels).To(gomega.HaveKey("kro.run/graph-revision-hash"))
	g.Eventually(func(g gomega.Gomega) {
		rev := revisions(g, "rev-issued")[0]
		g.Expect(rev.Status.Conditions).To(gomega.ContainElements(
			gomega.And(gomega.HaveField("Type", "GraphVerified"), gomega.HaveField("Status", metav1.ConditionTrue)),
			gomega.And(gomega.HaveField("Type", "Ready"), gomega.HaveField("Status", metav1.ConditionTrue))))
		g.Expect(rev.Status.TopologicalOrder).To(gomega.Equal([]string{"config"}))
	}).Should(gomega.Succeed())
	resolved := rgdCondition(g, "rev-issued", v1alpha1.ConditionGraphRevisionsResolved)
	g.Expect(resolved.Status).To(gomega.Equal(metav1.ConditionTrue))
	g.Expect(resolved.Reason).To(gomega.Equal("Resolved"))
	g.Expect(resolved.Message).To(gomega.Equal("revision 1 compiled and active"))

	// Metadata changes are not spec changes: no new revision.
	editRGD(g, "rev-issued", func(rgd *v1alpha1.ResourceGraphDefinition) {
		rgd.Annotations = map[string]string{"example.com/note": "x"}
	})
	g.Consistently(func(g gomega.Gomega) {
		g.Expect(revisionNumbers(g, "rev-issued")).To(gomega.Equal([]int64{1}))
	}).Should(gomega.Succeed())

	// A spec change issues revision 2, with the new generation.
	editRGD(g, "rev-issued", setSpecFromYAML(g, revisionRGD("rev-issued", "RevIssued", "changed")))
	waitRevisions(g, "rev-issued", 1, 2)
	rgd = waitRGDActive(g, "rev-issued")
	rev = revisions(g, "rev-issued")[1]
	g.Expect(rev.Name).To(gomega.Equal("rev-issued-r00002"))
	g.Expect(rev.Spec.Snapshot.Generation).To(gomega.Equal(rgd.Generation))
	g.Expect(equality.Semantic.DeepEqual(rev.Spec.Snapshot.Spec, rgd.Spec)).To(gomega.BeTrue())
	g.Eventually(func(g gomega.Gomega) {
		g.Expect(rgdCondition(g, "rev-issued", v1alpha1.ConditionGraphRevisionsResolved).Message).To(gomega.Equal("revision 2 compiled and active"))
	}).Should(gomega.Succeed())
}

// TestGraphRevisionNotIssuedForInvalidEdit checks that an edit whose graph does not build never
// becomes a revision, and that fixing it does.
func TestGraphRevisionNotIssuedForInvalidEdit(t *testing.T) {
	g := gomega.NewWithT(t)
	applyRGD(t, g, revisionRGD("rev-invalid", "RevInvalid", "value"))
	waitRGDActive(g, "rev-invalid")
	waitRevisions(g, "rev-invalid", 1)

	invalid := strings.Replace(revisionRGD("rev-invalid", "RevInvalid", "value"), "schema.spec.value", "schema.spec.nope", 1)
	editRGD(g, "rev-invalid", setSpecFromYAML(g, invalid))
	g.Eventually(func(g gomega.Gomega) {
		c := rgdCondition(g, "rev-invalid", v1alpha1.ConditionGraphAccepted)
		g.Expect(c.Status).To(gomega.Equal(metav1.ConditionFalse))
		g.Expect(c.Reason).To(gomega.Equal("InvalidResourceGraph"))
		g.Expect(c.ObservedGeneration).To(gomega.Equal(getRGD(g, "rev-invalid").Generation))
	}).Should(gomega.Succeed())
	g.Consistently(func(g gomega.Gomega) {
		g.Expect(revisionNumbers(g, "rev-invalid")).To(gomega.Equal([]int64{1}))
		g.Expect(getRGD(g, "rev-invalid").Status.LastIssuedRevision).To(gomega.Equal(int64(1)))
	}).Should(gomega.Succeed())
	resolved := rgdCondition(g, "rev-invalid", v1alpha1.ConditionGraphRevisionsResolved)
	g.Expect(resolved.Status).To(gomega.Equal(metav1.ConditionTrue))
	g.Expect(resolved.Message).To(gomega.Equal("revision 1 compiled and active"))
	ready := rgdCondition(g, "rev-invalid", v1alpha1.ConditionReady)
	g.Expect(ready.Status).To(gomega.Equal(metav1.ConditionFalse))
	g.Expect(ready.Reason).To(gomega.Equal("InvalidResourceGraph"))

	editRGD(g, "rev-invalid", setSpecFromYAML(g, revisionRGD("rev-invalid", "RevInvalid", "fixed")))
	waitRevisions(g, "rev-invalid", 1, 2)
	waitRGDActive(g, "rev-invalid")
}

// TestGraphRevisionsPrunedToLimit checks that only the newest --rgd-max-graph-revisions (5)
// revisions are kept, and that numbering goes on past the pruned ones.
func TestGraphRevisionsPrunedToLimit(t *testing.T) {
	g := gomega.NewWithT(t)
	applyRGD(t, g, revisionRGD("rev-pruned", "RevPruned", "k1"))
	waitRevisions(g, "rev-pruned", 1)
	for i := int64(2); i <= 7; i++ {
		editRGD(g, "rev-pruned", setSpecFromYAML(g, revisionRGD("rev-pruned", "RevPruned", fmt.Sprintf("k%d", i))))
		g.Eventually(func(g gomega.Gomega) {
			g.Expect(getRGD(g, "rev-pruned").Status.LastIssuedRevision).To(gomega.Equal(i))
		}).Should(gomega.Succeed())
	}
	waitRevisions(g, "rev-pruned", 3, 4, 5, 6, 7)
	waitRGDActive(g, "rev-pruned")
}

// TestGraphRevisionsMonotonicAcrossRestart checks that revision numbers come from the cluster,
// not from memory: a restart neither issues a duplicate nor reuses a number, a revision created
// just before a crash (status not yet written) is adopted, and status.lastIssuedRevision keeps
// numbers going up after the revisions themselves are gone.
func TestGraphRevisionsMonotonicAcrossRestart(t *testing.T) {
	g := gomega.NewWithT(t)
	ctx := context.Background()
	applyRGD(t, g, revisionRGD("rev-restart", "RevRestart", "a"))
	waitRevisions(g, "rev-restart", 1)
	editRGD(g, "rev-restart", setSpecFromYAML(g, revisionRGD("rev-restart", "RevRestart", "b")))
	waitRevisions(g, "rev-restart", 1, 2)

	// Same spec after a restart: no new revision.
	restartKro(t, func() {})
	waitRGDActive(g, "rev-restart")
	g.Consistently(func(g gomega.Gomega) {
		g.Expect(revisionNumbers(g, "rev-restart")).To(gomega.Equal([]int64{1, 2}))
	}).Should(gomega.Succeed())

	// A spec change while kro is down: the next number.
	restartKro(t, func() {
		editRGD(g, "rev-restart", setSpecFromYAML(g, revisionRGD("rev-restart", "RevRestart", "c")))
	})
	waitRevisions(g, "rev-restart", 1, 2, 3)

	// kro crashed after creating revision 4 and before writing the RGD's status: revision 4 is
	// adopted, not issued again as 5.
	restartKro(t, func() {
		editRGD(g, "rev-restart", setSpecFromYAML(g, revisionRGD("rev-restart", "RevRestart", "d")))
		rgd := getRGD(g, "rev-restart")
		crashed := &internalv1alpha1.GraphRevision{
			ObjectMeta: metav1.ObjectMeta{
				Name:   "rev-restart-r00004",
				Labels: map[string]string{metadata.ResourceGraphDefinitionNameLabel: rgd.Name},
				OwnerReferences: []metav1.OwnerReference{{
					APIVersion: "kro.run/v1alpha1", Kind: "ResourceGraphDefinition", Name: rgd.Name, UID: rgd.UID,
					Controller: func(b bool) *bool { return &b }(true),
				}},
			},
			Spec: internalv1alpha1.GraphRevisionSpec{Revision: 4, Snapshot: internalv1alpha1.ResourceGraphDefinitionSnapshot{
				Name: rgd.Name, Generation: rgd.Generation, Spec: rgd.Spec,
			}},
		}
		g.Expect(env.client.Create(ctx, crashed)).To(gomega.Succeed())
	})
	waitRevisions(g, "rev-restart", 1, 2, 3, 4)
	g.Eventually(func(g gomega.Gomega) {
		rev := revisions(g, "rev-restart")[3]
		g.Expect(rev.Status.Conditions).To(gomega.ContainElement(gomega.And(
			gomega.HaveField("Type", "GraphVerified"), gomega.HaveField("Status", metav1.ConditionTrue))))
	}).Should(gomega.Succeed())
	g.Consistently(func(g gomega.Gomega) {
		g.Expect(revisionNumbers(g, "rev-restart")).To(gomega.Equal([]int64{1, 2, 3, 4}))
	}).Should(gomega.Succeed())

	// Revisions 1 to 4 are gone (pruned, deleted by hand) and the RGD says 9 were issued:
	// the next one is 10.
	restartKro(t, func() {
		for _, rev := range revisions(g, "rev-restart") {
			g.Expect(env.client.Delete(ctx, &rev)).To(gomega.Succeed())
		}
		rgd := getRGD(g, "rev-restart")
		before := rgd.DeepCopy()
		rgd.Status.LastIssuedRevision = 9
		g.Expect(env.client.Status().Patch(ctx, rgd, client.MergeFrom(before))).To(gomega.Succeed())
		editRGD(g, "rev-restart", setSpecFromYAML(g, revisionRGD("rev-restart", "RevRestart", "e")))
	})
	waitRevisions(g, "rev-restart", 10)
	g.Expect(revisions(g, "rev-restart")[0].Name).To(gomega.Equal("rev-restart-r00010"))
}

// servedKindReported waits until the RGD, whose current spec is invalid, reports the kind
// served with its last good graph: KindReady and ControllerReady True for this generation.
func servedKindReported(g gomega.Gomega, name string) {
	g.Eventually(func(g gomega.Gomega) {
		generation := getRGD(g, name).Generation
		for _, t := range []string{v1alpha1.ConditionKindReady, v1alpha1.ConditionControllerReady} {
			c := rgdCondition(g, name, t)
			g.Expect(c.Status).To(gomega.Equal(metav1.ConditionTrue), "%s: %+v", t, c)
			g.Expect(c.ObservedGeneration).To(gomega.Equal(generation), t)
		}
	}).Should(gomega.Succeed())
}

// TestInvalidEditKeepsLastGoodRevision checks that instances keep running on the last good
// revision after an invalid edit, also after kro restarts: a changed instance spec still flows
// through the old graph, and the instance says which revision it was resolved with.
func TestInvalidEditKeepsLastGoodRevision(t *testing.T) {
	g := gomega.NewWithT(t)
	applyRGD(t, g, revisionRGD("rev-lastgood", "RevLastGood", "value"))
	waitRGDActive(g, "rev-lastgood")
	waitRevisions(g, "rev-lastgood", 1)
	ns := newNamespace(t, g)
	g.Expect(env.client.Create(context.Background(), object(g,
		"{apiVersion: kro.run/v1alpha1, kind: RevLastGood, metadata: {name: app, namespace: %s}, spec: {value: a}}", ns))).To(gomega.Succeed())
	waitConfigValue(g, ns, "app", "value", "a")
	waitResolvedWith(g, "RevLastGood", ns, "app", 1)

	// The invalid edit would write the key "other" from a field that does not exist.
	invalid := strings.Replace(revisionRGD("rev-lastgood", "RevLastGood", "other"), "schema.spec.value", "schema.spec.nope", 1)
	editRGD(g, "rev-lastgood", setSpecFromYAML(g, invalid))
	g.Eventually(func(g gomega.Gomega) {
		c := rgdCondition(g, "rev-lastgood", v1alpha1.ConditionGraphAccepted)
		g.Expect(c.Status).To(gomega.Equal(metav1.ConditionFalse))
		g.Expect(c.ObservedGeneration).To(gomega.Equal(getRGD(g, "rev-lastgood").Generation))
	}).Should(gomega.Succeed())
	servedKindReported(g, "rev-lastgood")
	setInstanceValue(g, "RevLastGood", ns, "app", "b")
	waitConfigValue(g, ns, "app", "value", "b")
	waitResolvedWith(g, "RevLastGood", ns, "app", 1)

	restartKro(t, func() {})
	servedKindReported(g, "rev-lastgood")
	setInstanceValue(g, "RevLastGood", ns, "app", "c")
	waitConfigValue(g, ns, "app", "value", "c")
	waitResolvedWith(g, "RevLastGood", ns, "app", 1)
	c := rgdCondition(g, "rev-lastgood", v1alpha1.ConditionGraphAccepted)
	g.Expect(c.Status).To(gomega.Equal(metav1.ConditionFalse))
	g.Expect(c.Reason).To(gomega.Equal("InvalidResourceGraph"))
	g.Expect(revisionNumbers(g, "rev-lastgood")).To(gomega.Equal([]int64{1}))

	// Fixing the spec issues revision 2 and the instance follows it.
	editRGD(g, "rev-lastgood", setSpecFromYAML(g, revisionRGD("rev-lastgood", "RevLastGood", "other")))
	waitRevisions(g, "rev-lastgood", 1, 2)
	waitConfigValue(g, ns, "app", "other", "c")
	waitResolvedWith(g, "RevLastGood", ns, "app", 2)
}

// TestRefusedCRDChangeKeepsLastGoodRevision checks that an edit whose CRD change is refused
// as breaking never becomes the graph serving instances, before and after a restart of kro:
// it gets no revision, the RGD reports the refusal without claiming the spec is active, and
// instances stay reconciled (and deletable) with the last graph whose CRD was applied.
func TestRefusedCRDChangeKeepsLastGoodRevision(t *testing.T) {
	g := gomega.NewWithT(t)
	ctx := context.Background()
	const name, kind = "rev-refused", "RevRefused"
	gvk := instanceGVK(kind)
	applyRGD(t, g, revisionRGD(name, kind, "value"))
	waitRGDActive(g, name)
	waitRevisions(g, name, 1)
	ns := newNamespace(t, g)
	for _, inst := range []string{"app", "early"} {
		g.Expect(env.client.Create(ctx, object(g,
			"{apiVersion: kro.run/v1alpha1, kind: %s, metadata: {name: %s, namespace: %s}, spec: {value: a}}", kind, inst, ns))).To(gomega.Succeed())
		waitConfigValue(g, ns, inst, "value", "a")
	}

	// The edit changes the type of spec.value (a breaking CRD change) and would write the key
	// "number" instead of "value".
	breaking := strings.NewReplacer("value: string | default=a", "value: integer | default=1",
		`"${schema.spec.value}"`, `"${string(schema.spec.value)}"`).Replace(revisionRGD(name, kind, "number"))
	editRGD(g, name, setSpecFromYAML(g, breaking))
	refused := func() {
		t.Helper()
		g.Eventually(func(g gomega.Gomega) {
			rgd := getRGD(g, name)
			conds := map[string]metav1.Condition{}
			for _, c := range rgd.Status.Conditions {
				g.Expect(c.ObservedGeneration).To(gomega.Equal(rgd.Generation), "condition %s", c.Type)
				conds[c.Type] = c
			}
			g.Expect(conds[v1alpha1.ConditionGraphAccepted].Status).To(gomega.Equal(metav1.ConditionTrue))
			g.Expect(conds[v1alpha1.ConditionKindReady]).To(gomega.And(
				gomega.HaveField("Status", metav1.ConditionFalse), gomega.HaveField("Reason", "BreakingChanges"),
				gomega.HaveField("Message", gomega.HavePrefix("breaking changes detected: spec.value: "))))
			g.Expect(conds[v1alpha1.ConditionReady]).To(gomega.And(
				gomega.HaveField("Status", metav1.ConditionFalse), gomega.HaveField("Reason", "BreakingChanges")))
			g.Expect(rgd.Status.State).To(gomega.Equal(v1alpha1.ResourceGraphDefinitionStateInactive))
			// What serves the instances: revision 1, whose kind is served.
			g.Expect(conds[v1alpha1.ConditionGraphRevisionsResolved]).To(gomega.And(
				gomega.HaveField("Status", metav1.ConditionTrue), gomega.HaveField("Message", "revision 1 compiled and active")))
			g.Expect(conds[v1alpha1.ConditionControllerReady].Status).To(gomega.Equal(metav1.ConditionTrue))
			g.Expect(rgd.Status.LastIssuedRevision).To(gomega.Equal(int64(1)))
		}).Should(gomega.Succeed())
		g.Consistently(func(g gomega.Gomega) {
			g.Expect(revisionNumbers(g, name)).To(gomega.Equal([]int64{1}))
		}).Should(gomega.Succeed())
	}
	refused()
	setInstanceValue(g, kind, ns, "app", "b")
	waitConfigValue(g, ns, "app", "value", "b")
	waitResolvedWith(g, kind, ns, "app", 1)
	g.Expect(env.client.Delete(ctx, get(g, gvk, ns, "early"))).To(gomega.Succeed())
	instancesAndChildrenGone(g, gvk, ns, "early")

	// After a restart nothing remembers the graph in use but the cluster: still revision 1.
	restartKro(t, func() {})
	refused()
	setInstanceValue(g, kind, ns, "app", "c")
	waitConfigValue(g, ns, "app", "value", "c")
	waitResolvedWith(g, kind, ns, "app", 1)
	g.Expect(env.client.Delete(ctx, get(g, gvk, ns, "app"))).To(gomega.Succeed())
	instancesAndChildrenGone(g, gvk, ns, "app")

	// Going back to the accepted spec issues nothing new: revision 1 is that spec.
	editRGD(g, name, setSpecFromYAML(g, revisionRGD(name, kind, "value")))
	waitRGDActive(g, name)
	g.Consistently(func(g gomega.Gomega) {
		g.Expect(revisionNumbers(g, name)).To(gomega.Equal([]int64{1}))
	}).Should(gomega.Succeed())
}
