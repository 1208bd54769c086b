package integration

import (
	"context"
	"fmt"
	"testing"

	"github.com/onsi/gomega"
	eventsv1 "k8s.io/api/events/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// eventReasons lists "type/reason: note" of the events about the named object of kind in ns.
func eventReasons(g gomega.Gomega, ns, kind, name string) []string {
	list := &eventsv1.EventList{}
	g.Expect(env.client.List(context.Background(), list, client.InNamespace(ns))).To(gomega.Succeed())
	var out []string
	for _, e := range list.Items {
		if e.Regarding.Kind == kind && e.Regarding.Name == name {
			out = append(out, fmt.Sprintf("%s/%s: %s", e.Type, e.Reason, e.Note))
		}
	}
	return out
}

// TestInstanceEvents: an instance gets an event for every state it enters and for every new
// error, none while nothing changes.
func TestInstanceEvents(t *testing.T) {
	g := gomega.NewWithT(t)
	ctx := context.Background()
	applyRGD(t, g, fmt.Sprintf(partialRGD, "it-events", "ItEvents"))
	waitRGDActive(g, "it-events")
	gvk := instanceGVK("ItEvents")
	ns := newNamespace(t, g)
	// The RGD's own state change is an event too (cluster-scoped: in the default namespace).
	g.Eventually(func(g gomega.Gomega) {
		g.Expect(eventReasons(g, "default", "ResourceGraphDefinition", "it-events")).To(gomega.ContainElement(gomega.HavePrefix("Normal/Active: ")))
	}).Should(gomega.Succeed())

	g.Expect(env.client.Create(ctx, object(g, "{apiVersion: kro.run/v1alpha1, kind: ItEvents, metadata: {name: ev, namespace: %s}}", ns))).To(gomega.Succeed())
	waitState(g, gvk, ns, "ev", "ACTIVE")
	g.Eventually(func(g gomega.Gomega) {
		g.Expect(eventReasons(g, ns, "ItEvents", "ev")).To(gomega.ContainElement("Normal/Active: all resources are created and ready"))
	}).Should(gomega.Succeed())

	// An error: the API server rejects the Service's port.
	patchSpec(g, gvk, ns, "ev", map[string]any{"port": int64(70000)})
	waitState(g, gvk, ns, "ev", "ERROR")
	g.Eventually(func(g gomega.Gomega) {
		g.Expect(eventReasons(g, ns, "ItEvents", "ev")).To(gomega.ContainElement(gomega.And(
			gomega.HavePrefix("Warning/Error: "), gomega.ContainSubstring("70000"))))
	}).Should(gomega.Succeed())
	// Another error while in ERROR is an event too.
	patchSpec(g, gvk, ns, "ev", map[string]any{"port": int64(70001)})
	g.Eventually(func(g gomega.Gomega) {
		g.Expect(eventReasons(g, ns, "ItEvents", "ev")).To(gomega.ContainElement(gomega.And(
			gomega.HavePrefix("Warning/Error: "), gomega.ContainSubstring("70001"))))
	}).Should(gomega.Succeed())

	// Retries of the same error add none.
	count := len(eventReasons(g, ns, "ItEvents", "ev"))
	g.Consistently(func(g gomega.Gomega) {
		g.Expect(eventReasons(g, ns, "ItEvents", "ev")).To(gomega.HaveLen(count))
	}, "2s").Should(gomega.Succeed())

	patchSpec(g, gvk, ns, "ev", map[string]any{"port": int64(80)})
	waitState(g, gvk, ns, "ev", "ACTIVE")
	// A child held by a finalizer keeps the instance DELETING.
	setFinalizers(g, configMapGVK, ns, "ev-config", []string{"test.kro.run/hold"})
	g.Expect(env.client.Delete(ctx, get(g, gvk, ns, "ev"))).To(gomega.Succeed())
	g.Eventually(func(g gomega.Gomega) {
		g.Expect(eventReasons(g, ns, "ItEvents", "ev")).To(gomega.ContainElement("Normal/Deleting: deleting resources"))
	}).Should(gomega.Succeed())
	setFinalizers(g, configMapGVK, ns, "ev-config", nil)
	g.Eventually(func(g gomega.Gomega) {
		g.Expect(get(g, gvk, ns, "ev")).To(gomega.BeNil())
	}).Should(gomega.Succeed())
}
