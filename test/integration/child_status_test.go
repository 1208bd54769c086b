package integration

import (
	"context"
	"testing"
	"time"

	"github.com/onsi/gomega"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// TestStatusFromChildStatus checks that a user status field reading a child's status is absent
// while the child has none, and appears as soon as the child's status is written (the child
// watch re-reconciles the instance; SPEC §6).
func TestStatusFromChildStatus(t *testing.T) {
	g := gomega.NewWithT(t)
	ctx := context.Background()
	ensureWidgetCRD(t, g)
	applyRGD(t, g, `
apiVersion: kro.run/v1alpha1
kind: ResourceGraphDefinition
metadata:
  name: it-child-status
spec:
  schema:
    apiVersion: v1alpha1
    kind: ItChildStatus
    spec:
      size: integer | default=1
    status:
      phase: ${child.status.phase}
      name: ${child.metadata.name}
  resources:
  - id: child
    template:
      apiVersion: test.kro.run/v1
      kind: ItWidget
      metadata: {name: "${schema.metadata.name}-child"}
      spec: {size: "${schema.spec.size}"}
`)
	waitRGDActive(g, "it-child-status")
	gvk := instanceGVK("ItChildStatus")
	ns := newNamespace(t, g)
	g.Expect(env.client.Create(ctx, object(g, "{apiVersion: kro.run/v1alpha1, kind: ItChildStatus, metadata: {name: cs, namespace: %s}}", ns))).To(gomega.Succeed())

	// The child exists and the instance was reconciled (state and the name field are set),
	// but phase has no input yet.
	noPhase := func(g gomega.Gomega) {
		inst := get(g, gvk, ns, "cs")
		g.Expect(get(g, widgetGVK, ns, "cs-child")).NotTo(gomega.BeNil())
		g.Expect(str(inst, "status", "state")).NotTo(gomega.BeEmpty())
		g.Expect(str(inst, "status", "name")).To(gomega.Equal("cs-child"))
		_, found, _ := unstructured.NestedFieldNoCopy(inst.Object, "status", "phase")
		g.Expect(found).To(gomega.BeFalse(), "status.phase set before the child has a status")
	}
	g.Eventually(noPhase).Should(gomega.Succeed())
	g.Consistently(noPhase).Should(gomega.Succeed())
	t.Logf("state while the status field is pending: %s", str(get(g, gvk, ns, "cs"), "status", "state"))

	// The status appears promptly: a watch, not a periodic resync.
	setWidgetPhase(g, ns, "cs-child", "Running")
	g.Eventually(func(g gomega.Gomega) {
		inst := get(g, gvk, ns, "cs")
		g.Expect(str(inst, "status", "phase")).To(gomega.Equal("Running"))
		g.Expect(str(inst, "status", "state")).To(gomega.Equal("ACTIVE"))
	}).WithTimeout(5 * time.Second).Should(gomega.Succeed())

	// And follows later changes.
	setWidgetPhase(g, ns, "cs-child", "Done")
	g.Eventually(func(g gomega.Gomega) {
		g.Expect(str(get(g, gvk, ns, "cs"), "status", "phase")).To(gomega.Equal("Done"))
	}).WithTimeout(5 * time.Second).Should(gomega.Succeed())
}

// TestReadyWhenGating checks that a dependent is not created until its dependency's readyWhen
// holds, and that the instance says which resource waits on which expression (SPEC §4, §6).
func TestReadyWhenGating(t *testing.T) {
	g := gomega.NewWithT(t)
	ctx := context.Background()
	ensureWidgetCRD(t, g)
	applyRGD(t, g, `
apiVersion: kro.run/v1alpha1
kind: ResourceGraphDefinition
metadata:
  name: it-ready-gate
spec:
  schema:
    apiVersion: v1alpha1
    kind: ItReadyGate
    spec: {}
  resources:
  - id: widget
    readyWhen:
    - ${widget.status.phase == 'Ready'}
    template:
      apiVersion: test.kro.run/v1
      kind: ItWidget
      metadata: {name: "${schema.metadata.name}-widget"}
      spec: {size: 1}
  - id: after
    template:
      apiVersion: v1
      kind: ConfigMap
      metadata: {name: "${schema.metadata.name}-after"}
      data: {widget: "${widget.metadata.name}"}
`)
	waitRGDActive(g, "it-ready-gate")
	gvk := instanceGVK("ItReadyGate")
	ns := newNamespace(t, g)
	g.Expect(env.client.Create(ctx, object(g, "{apiVersion: kro.run/v1alpha1, kind: ItReadyGate, metadata: {name: gate, namespace: %s}, spec: {}}", ns))).To(gomega.Succeed())

	waiting := func(g gomega.Gomega) {
		g.Expect(get(g, widgetGVK, ns, "gate-widget")).NotTo(gomega.BeNil())
		g.Expect(get(g, configMapGVK, ns, "gate-after")).To(gomega.BeNil(), "dependent created before readyWhen held")
		inst := get(g, gvk, ns, "gate")
		g.Expect(str(inst, "status", "state")).To(gomega.Equal("IN_PROGRESS"))
		c := condition(inst, "ResourcesReady")
		g.Expect(c).To(gomega.HaveKeyWithValue("status", "False"))
		g.Expect(c).To(gomega.HaveKeyWithValue("reason", "NotReady"))
		g.Expect(c).To(gomega.HaveKeyWithValue("message", gomega.And(
			gomega.ContainSubstring(`"widget"`),
			gomega.ContainSubstring("widget.status.phase == 'Ready'"))))
	}
	// No status at all, then a status that does not satisfy the expression.
	g.Eventually(waiting).Should(gomega.Succeed())
	g.Consistently(waiting).Should(gomega.Succeed())
	t.Logf("waiting message: %s", condition(get(g, gvk, ns, "gate"), "ResourcesReady")["message"])
	setWidgetPhase(g, ns, "gate-widget", "Pending")
	g.Consistently(waiting).Should(gomega.Succeed())

	setWidgetPhase(g, ns, "gate-widget", "Ready")
	g.Eventually(func(g gomega.Gomega) {
		cm := get(g, configMapGVK, ns, "gate-after")
		g.Expect(cm).NotTo(gomega.BeNil())
		g.Expect(str(cm, "data", "widget")).To(gomega.Equal("gate-widget"))
		inst := get(g, gvk, ns, "gate")
		g.Expect(str(inst, "status", "state")).To(gomega.Equal("ACTIVE"))
		g.Expect(condition(inst, "ResourcesReady")).To(gomega.HaveKeyWithValue("status", "True"))
	}).WithTimeout(10 * time.Second).Should(gomega.Succeed())
}
