package integration

import (
	"context"
	"testing"

	"github.com/onsi/gomega"

	"github.com/kro-run/kro/internal/metadata"
)

// Per-resource lifecycle policy (deletionPolicy, adoptionPolicy): beyond the reference.

// released checks that an object carries none of kro's labels and annotations.
func released(g gomega.Gomega, ns, name string) {
	cm := get(g, configMapGVK, ns, name)
	g.Expect(cm).NotTo(gomega.BeNil(), "ConfigMap %s was deleted", name)
	g.Expect(cm.GetDeletionTimestamp()).To(gomega.BeNil())
	for k, v := range cm.GetLabels() {
		g.Expect(metadata.IsReserved(k) || k == metadata.ApplySetPartOfLabel || k == metadata.ManagedByLabel && v == metadata.ManagedByKro).
			To(gomega.BeFalse(), "label %s=%s kept", k, v)
	}
	for k := range cm.GetAnnotations() {
		g.Expect(metadata.IsReserved(k)).To(gomega.BeFalse(), "annotation %s kept", k)
	}
}

// TestDeletionPolicyOrphan: objects of a resource with deletionPolicy Orphan stay, released,
// when the instance is deleted and when they are pruned; the others are deleted.
func TestDeletionPolicyOrphan(t *testing.T) {
	g := gomega.NewWithT(t)
	ctx := context.Background()
	applyRGD(t, g, `
apiVersion: kro.run/v1alpha1
kind: ResourceGraphDefinition
metadata:
  name: it-orphan
spec:
  schema:
    apiVersion: v1alpha1
    kind: ItOrphan
    spec:
      keepExtra: boolean | default=true
  resources:
  - id: kept
    deletionPolicy: Orphan
    template:
      apiVersion: v1
      kind: ConfigMap
      metadata: {name: "${schema.metadata.name}-kept"}
      data: {a: "1"}
  - id: extra
    deletionPolicy: Orphaned  # the reference kro's spelling
    includeWhen: ["${schema.spec.keepExtra}"]
    template:
      apiVersion: v1
      kind: ConfigMap
      metadata: {name: "${schema.metadata.name}-extra"}
  - id: gone
    template:
      apiVersion: v1
      kind: ConfigMap
      metadata: {name: "${kept.metadata.name}-gone"}
`)
	waitRGDActive(g, "it-orphan")
	gvk := instanceGVK("ItOrphan")
	ns := newNamespace(t, g)
	g.Expect(env.client.Create(ctx, object(g, "{apiVersion: kro.run/v1alpha1, kind: ItOrphan, metadata: {name: o, namespace: %s}}", ns))).To(gomega.Succeed())
	waitState(g, gvk, ns, "o", "ACTIVE")
	g.Expect(get(g, configMapGVK, ns, "o-extra")).NotTo(gomega.BeNil())

	// Pruned (includeWhen false): released, not deleted.
	patchSpec(g, gvk, ns, "o", map[string]any{"keepExtra": false})
	g.Eventually(func(g gomega.Gomega) { released(g, ns, "o-extra") }).Should(gomega.Succeed())
	waitState(g, gvk, ns, "o", "ACTIVE")

	// Deleted instance: the Orphan resource stays, released; the other is deleted.
	deleteAndWaitGone(g, gvk, ns, "o")
	g.Expect(get(g, configMapGVK, ns, "o-kept-gone")).To(gomega.BeNil())
	released(g, ns, "o-kept")
	g.Expect(str(get(g, configMapGVK, ns, "o-kept"), "data", "a")).To(gomega.Equal("1"))
	g.Consistently(func(g gomega.Gomega) {
		released(g, ns, "o-kept")
		released(g, ns, "o-extra")
	}).Should(gomega.Succeed())
}

// TestAdoptionPolicy: Never refuses an existing unowned object and never writes it; Required
// waits for the object instead of creating it, then takes it over; IfUnowned (the default)
// takes it over.
func TestAdoptionPolicy(t *testing.T) {
	g := gomega.NewWithT(t)
	ctx := context.Background()
	applyRGD(t, g, `
apiVersion: kro.run/v1alpha1
kind: ResourceGraphDefinition
metadata:
  name: it-adoption
spec:
  schema:
    apiVersion: v1alpha1
    kind: ItAdoption
  resources:
  - id: never
    adoptionPolicy: Never
    template:
      apiVersion: v1
      kind: ConfigMap
      metadata: {name: "${schema.metadata.name}-never"}
      data: {by: kro}
  - id: required
    adoptionPolicy: Required
    template:
      apiVersion: v1
      kind: ConfigMap
      metadata: {name: "${schema.metadata.name}-required"}
      data: {by: kro}
  - id: dependent
    template:
      apiVersion: v1
      kind: ConfigMap
      metadata: {name: "${required.metadata.name}-dependent"}
`)
	waitRGDActive(g, "it-adoption")
	gvk := instanceGVK("ItAdoption")
	ns := newNamespace(t, g)

	// Required: nothing exists, kro waits and creates neither it nor its dependent.
	g.Expect(env.client.Create(ctx, object(g, "{apiVersion: kro.run/v1alpha1, kind: ItAdoption, metadata: {name: fresh, namespace: %s}}", ns))).To(gomega.Succeed())
	g.Eventually(func(g gomega.Gomega) {
		inst := get(g, gvk, ns, "fresh")
		g.Expect(str(inst, "status", "state")).To(gomega.Equal("IN_PROGRESS"))
		g.Expect(condition(inst, "ResourcesReady")["message"]).To(gomega.ContainSubstring("ConfigMap " + ns + "/fresh-required does not exist"))
		g.Expect(get(g, configMapGVK, ns, "fresh-never")).NotTo(gomega.BeNil(), "Never still creates what does not exist")
	}).Should(gomega.Succeed())
	g.Consistently(func(g gomega.Gomega) {
		g.Expect(get(g, configMapGVK, ns, "fresh-required")).To(gomega.BeNil())
		g.Expect(get(g, configMapGVK, ns, "fresh-required-dependent")).To(gomega.BeNil())
	}).Should(gomega.Succeed())
	// Someone creates it: kro takes it over and goes on.
	g.Expect(env.client.Create(ctx, object(g, "{apiVersion: v1, kind: ConfigMap, metadata: {name: fresh-required, namespace: %s}, data: {by: someone}}", ns))).To(gomega.Succeed())
	waitState(g, gvk, ns, "fresh", "ACTIVE")
	cm := get(g, configMapGVK, ns, "fresh-required")
	g.Expect(cm.GetLabels()).To(gomega.HaveKeyWithValue(metadata.ApplySetPartOfLabel, metadata.ApplySetID("fresh", ns, "ItAdoption", "kro.run")))
	g.Expect(str(cm, "data", "by")).To(gomega.Equal("kro"))
	g.Expect(get(g, configMapGVK, ns, "fresh-required-dependent")).NotTo(gomega.BeNil())

	// Never: an unowned object exists; the instance reports it and never writes it.
	pre := object(g, "{apiVersion: v1, kind: ConfigMap, metadata: {name: taken-never, namespace: %s}, data: {by: someone}}", ns)
	g.Expect(env.client.Create(ctx, pre)).To(gomega.Succeed())
	g.Expect(env.client.Create(ctx, object(g, "{apiVersion: v1, kind: ConfigMap, metadata: {name: taken-required, namespace: %s}}", ns))).To(gomega.Succeed())
	g.Expect(env.client.Create(ctx, object(g, "{apiVersion: kro.run/v1alpha1, kind: ItAdoption, metadata: {name: taken, namespace: %s}}", ns))).To(gomega.Succeed())
	g.Eventually(func(g gomega.Gomega) {
		inst := get(g, gvk, ns, "taken")
		g.Expect(str(inst, "status", "state")).To(gomega.Equal("ERROR"))
		g.Expect(condition(inst, "ResourcesReady")["message"]).To(gomega.And(
			gomega.ContainSubstring("adoptionPolicy Never"), gomega.ContainSubstring("ConfigMap "+ns+"/taken-never")))
	}).Should(gomega.Succeed())
	g.Consistently(func(g gomega.Gomega) {
		g.Expect(get(g, configMapGVK, ns, "taken-never").GetResourceVersion()).To(gomega.Equal(pre.GetResourceVersion()))
	}).Should(gomega.Succeed())

	// Deleting the instances deletes what they took over, never what they refused.
	deleteAndWaitGone(g, gvk, ns, "fresh")
	deleteAndWaitGone(g, gvk, ns, "taken")
	g.Expect(get(g, configMapGVK, ns, "fresh-required")).To(gomega.BeNil())
	g.Expect(get(g, configMapGVK, ns, "taken-never")).NotTo(gomega.BeNil())
}
