package integration

import (
	"context"
	"testing"

	"github.com/onsi/gomega"

	"github.com/kro-run/kro/internal/metadata"
)

// TestThreeRGDChain checks RGD chaining (SPEC §4): A creates an instance of B's kind, B one of
// C's kind, C a ConfigMap; A also reads B's status, which B reads from C's status.
func TestThreeRGDChain(t *testing.T) {
	g := gomega.NewWithT(t)
	ctx := context.Background()
	applyRGD(t, g, `
apiVersion: kro.run/v1alpha1
kind: ResourceGraphDefinition
metadata:
  name: it-chain-c
spec:
  schema:
    apiVersion: v1alpha1
    kind: ItChainC
    spec:
      value: string
    status:
      configName: ${config.metadata.name}
      value: ${config.data.value}
  resources:
  - id: config
    template:
      apiVersion: v1
      kind: ConfigMap
      metadata: {name: "${schema.metadata.name}-c"}
      data: {value: "${schema.spec.value}"}
`)
	waitRGDActive(g, "it-chain-c")
	applyRGD(t, g, `
apiVersion: kro.run/v1alpha1
kind: ResourceGraphDefinition
metadata:
  name: it-chain-b
spec:
  schema:
    apiVersion: v1alpha1
    kind: ItChainB
    spec:
      value: string
    status:
      innerConfig: ${c.status.configName}
      innerValue: ${c.status.value}
  resources:
  - id: c
    template:
      apiVersion: kro.run/v1alpha1
      kind: ItChainC
      metadata: {name: "${schema.metadata.name}-b"}
      spec: {value: "${schema.spec.value}"}
`)
	waitRGDActive(g, "it-chain-b")
	applyRGD(t, g, `
apiVersion: kro.run/v1alpha1
kind: ResourceGraphDefinition
metadata:
  name: it-chain-a
spec:
  schema:
    apiVersion: v1alpha1
    kind: ItChainA
    spec:
      value: string
    status:
      summary: ${summary.data.innerConfig}
  resources:
  - id: b
    template:
      apiVersion: kro.run/v1alpha1
      kind: ItChainB
      metadata: {name: "${schema.metadata.name}-a"}
      spec: {value: "${schema.spec.value}"}
  - id: summary
    template:
      apiVersion: v1
      kind: ConfigMap
      metadata: {name: "${schema.metadata.name}-summary"}
      data:
        innerConfig: ${b.status.innerConfig}
        innerValue: ${b.status.innerValue}
`)
	waitRGDActive(g, "it-chain-a")
	gvkA, gvkB, gvkC := instanceGVK("ItChainA"), instanceGVK("ItChainB"), instanceGVK("ItChainC")
	ns := newNamespace(t, g)

	g.Expect(env.client.Create(ctx, object(g, "{apiVersion: kro.run/v1alpha1, kind: ItChainA, metadata: {name: top, namespace: %s}, spec: {value: deep}}", ns))).To(gomega.Succeed())
	// Names: A "top" -> B "top-a" -> C "top-a-b" -> ConfigMap "top-a-b-c"; A's ConfigMap "top-summary".
	g.Eventually(func(g gomega.Gomega) {
		a := get(g, gvkA, ns, "top")
		g.Expect(str(a, "status", "state")).To(gomega.Equal("ACTIVE"))
		g.Expect(str(a, "status", "summary")).To(gomega.Equal("top-a-b-c"))
		b := get(g, gvkB, ns, "top-a")
		g.Expect(b).NotTo(gomega.BeNil())
		g.Expect(str(b, "status", "state")).To(gomega.Equal("ACTIVE"))
		g.Expect(b.GetLabels()).To(gomega.HaveKeyWithValue(metadata.InstanceNameLabel, "top"))
		g.Expect(b.GetLabels()).To(gomega.HaveKeyWithValue(metadata.InstanceKindLabel, "ItChainA"))
		c := get(g, gvkC, ns, "top-a-b")
		g.Expect(c).NotTo(gomega.BeNil())
		g.Expect(str(c, "status", "state")).To(gomega.Equal("ACTIVE"))
		g.Expect(c.GetLabels()).To(gomega.HaveKeyWithValue(metadata.InstanceNameLabel, "top-a"))
		inner := get(g, configMapGVK, ns, "top-a-b-c")
		g.Expect(inner).NotTo(gomega.BeNil())
		g.Expect(str(inner, "data", "value")).To(gomega.Equal("deep"))
		g.Expect(inner.GetLabels()).To(gomega.HaveKeyWithValue(metadata.InstanceNameLabel, "top-a-b"))
		summary := get(g, configMapGVK, ns, "top-summary")
		g.Expect(summary).NotTo(gomega.BeNil())
		g.Expect(str(summary, "data", "innerConfig")).To(gomega.Equal("top-a-b-c"))
		g.Expect(str(summary, "data", "innerValue")).To(gomega.Equal("deep"))
	}).Should(gomega.Succeed())

	// A change at the top flows down the chain and back up through the statuses.
	patchSpec(g, gvkA, ns, "top", map[string]any{"value": "deeper"})
	g.Eventually(func(g gomega.Gomega) {
		g.Expect(str(get(g, configMapGVK, ns, "top-a-b-c"), "data", "value")).To(gomega.Equal("deeper"))
		g.Expect(str(get(g, configMapGVK, ns, "top-summary"), "data", "innerValue")).To(gomega.Equal("deeper"))
	}).Should(gomega.Succeed())

	// Deleting A removes everything, nested instances included.
	g.Expect(env.client.Delete(ctx, get(g, gvkA, ns, "top"))).To(gomega.Succeed())
	g.Eventually(func(g gomega.Gomega) {
		g.Expect(get(g, gvkA, ns, "top")).To(gomega.BeNil())
		g.Expect(get(g, gvkB, ns, "top-a")).To(gomega.BeNil())
		g.Expect(get(g, gvkC, ns, "top-a-b")).To(gomega.BeNil())
		g.Expect(get(g, configMapGVK, ns, "top-a-b-c")).To(gomega.BeNil())
		g.Expect(get(g, configMapGVK, ns, "top-summary")).To(gomega.BeNil())
	}).Should(gomega.Succeed())
}

// TestChainReadiness pins how a nested instance gates its dependents: readiness flows through
// chained RGDs, so without readyWhen a node of another RGD's kind is ready when its
// status.state is ACTIVE; an explicit readyWhen says the same.
func TestChainReadiness(t *testing.T) {
	g := gomega.NewWithT(t)
	ctx := context.Background()
	ensureWidgetCRD(t, g)
	applyRGD(t, g, `
apiVersion: kro.run/v1alpha1
kind: ResourceGraphDefinition
metadata:
  name: it-gated-inner
spec:
  schema:
    apiVersion: v1alpha1
    kind: ItGatedInner
    spec: {}
  resources:
  - id: widget
    readyWhen: ["${widget.status.phase == 'Ready'}"]
    template:
      apiVersion: test.kro.run/v1
      kind: ItWidget
      metadata: {name: "${schema.metadata.name}-widget"}
      spec: {size: 1}
`)
	waitRGDActive(g, "it-gated-inner")
	applyRGD(t, g, `
apiVersion: kro.run/v1alpha1
kind: ResourceGraphDefinition
metadata:
  name: it-gated-outer
spec:
  schema:
    apiVersion: v1alpha1
    kind: ItGatedOuter
    spec: {}
  resources:
  - id: loose
    template:
      apiVersion: kro.run/v1alpha1
      kind: ItGatedInner
      metadata: {name: "${schema.metadata.name}-loose"}
      spec: {}
  - id: strict
    readyWhen: ["${strict.status.state == 'ACTIVE'}"]
    template:
      apiVersion: kro.run/v1alpha1
      kind: ItGatedInner
      metadata: {name: "${schema.metadata.name}-strict"}
      spec: {}
  - id: afterLoose
    template:
      apiVersion: v1
      kind: ConfigMap
      metadata: {name: "${loose.metadata.name}-after"}
  - id: afterStrict
    template:
      apiVersion: v1
      kind: ConfigMap
      metadata: {name: "${strict.metadata.name}-after"}
`)
	waitRGDActive(g, "it-gated-outer")
	outerGVK, innerGVK := instanceGVK("ItGatedOuter"), instanceGVK("ItGatedInner")
	ns := newNamespace(t, g)
	g.Expect(env.client.Create(ctx, object(g, "{apiVersion: kro.run/v1alpha1, kind: ItGatedOuter, metadata: {name: out, namespace: %s}, spec: {}}", ns))).To(gomega.Succeed())

	waiting := func(g gomega.Gomega) {
		for _, name := range []string{"out-loose", "out-strict"} {
			inner := get(g, innerGVK, ns, name)
			g.Expect(inner).NotTo(gomega.BeNil())
			g.Expect(str(inner, "status", "state")).To(gomega.Equal("IN_PROGRESS"), name)
		}
		// Both wait for their inner instance to be ACTIVE: implicitly and by readyWhen.
		g.Expect(get(g, configMapGVK, ns, "out-loose-after")).To(gomega.BeNil())
		g.Expect(get(g, configMapGVK, ns, "out-strict-after")).To(gomega.BeNil())
		outer := get(g, outerGVK, ns, "out")
		g.Expect(str(outer, "status", "state")).To(gomega.Equal("IN_PROGRESS"))
		g.Expect(condition(outer, "ResourcesReady")).To(gomega.HaveKeyWithValue("message", gomega.And(
			gomega.ContainSubstring(`resource "loose" is not ready: readyWhen "status.state == 'ACTIVE'"`),
			gomega.ContainSubstring(`resource "strict" is not ready`))))
	}
	g.Eventually(waiting).Should(gomega.Succeed())
	g.Consistently(waiting).Should(gomega.Succeed())

	setWidgetPhase(g, ns, "out-loose-widget", "Ready")
	setWidgetPhase(g, ns, "out-strict-widget", "Ready")
	g.Eventually(func(g gomega.Gomega) {
		g.Expect(str(get(g, innerGVK, ns, "out-strict"), "status", "state")).To(gomega.Equal("ACTIVE"))
		g.Expect(get(g, configMapGVK, ns, "out-strict-after")).NotTo(gomega.BeNil())
		g.Expect(get(g, configMapGVK, ns, "out-loose-after")).NotTo(gomega.BeNil())
		g.Expect(str(get(g, outerGVK, ns, "out"), "status", "state")).To(gomega.Equal("ACTIVE"))
	}).Should(gomega.Succeed())
}
