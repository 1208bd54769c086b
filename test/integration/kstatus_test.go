package integration

import (
	"context"
	"testing"

	"github.com/onsi/gomega"
	kstatus "sigs.k8s.io/cli-utils/pkg/kstatus/status"
)

// TestKstatus computes the status of live instances with kstatus itself, as Flux, kpt and
// cli-utils do: InProgress while an instance waits, Failed on ERROR, Current when ACTIVE.
func TestKstatus(t *testing.T) {
	g := gomega.NewWithT(t)
	ctx := context.Background()
	applyRGD(t, g, `
apiVersion: kro.run/v1alpha1
kind: ResourceGraphDefinition
metadata:
  name: it-kstatus
spec:
  schema:
    apiVersion: v1alpha1
    kind: ItKstatus
    spec:
      port: integer | default=80
  resources:
  - id: input
    externalRef:
      apiVersion: v1
      kind: ConfigMap
      metadata: {name: "${schema.metadata.name}-input"}
  - id: service
    template:
      apiVersion: v1
      kind: Service
      metadata: {name: "${input.metadata.name}-svc"}
      spec:
        ports: [{port: "${schema.spec.port}"}]
`)
	waitRGDActive(g, "it-kstatus")
	gvk := instanceGVK("ItKstatus")
	ns := newNamespace(t, g)
	compute := func(g gomega.Gomega, name string) kstatus.Status {
		res, err := kstatus.Compute(get(g, gvk, ns, name))
		g.Expect(err).NotTo(gomega.HaveOccurred())
		return res.Status
	}

	// Waiting for its external input: InProgress, never Current.
	g.Expect(env.client.Create(ctx, object(g, "{apiVersion: kro.run/v1alpha1, kind: ItKstatus, metadata: {name: k, namespace: %s}}", ns))).To(gomega.Succeed())
	waitState(g, gvk, ns, "k", "IN_PROGRESS")
	g.Expect(compute(g, "k")).To(gomega.Equal(kstatus.InProgressStatus))
	g.Consistently(func(g gomega.Gomega) { g.Expect(compute(g, "k")).To(gomega.Equal(kstatus.InProgressStatus)) }).Should(gomega.Succeed())

	// The input appears: Current once ACTIVE.
	g.Expect(env.client.Create(ctx, object(g, "{apiVersion: v1, kind: ConfigMap, metadata: {name: k-input, namespace: %s}}", ns))).To(gomega.Succeed())
	waitState(g, gvk, ns, "k", "ACTIVE")
	g.Eventually(func(g gomega.Gomega) { g.Expect(compute(g, "k")).To(gomega.Equal(kstatus.CurrentStatus)) }).Should(gomega.Succeed())
	inst := get(g, gvk, ns, "k")
	g.Expect(inst.Object["status"]).To(gomega.HaveKeyWithValue("observedGeneration", inst.GetGeneration()))

	// A spec change the API server rejects: Failed while ERROR.
	patchSpec(g, gvk, ns, "k", map[string]any{"port": int64(70000)})
	waitState(g, gvk, ns, "k", "ERROR")
	g.Eventually(func(g gomega.Gomega) { g.Expect(compute(g, "k")).To(gomega.Equal(kstatus.FailedStatus)) }).Should(gomega.Succeed())

	// Fixed: Current again; deleting: Terminating.
	patchSpec(g, gvk, ns, "k", map[string]any{"port": int64(8080)})
	g.Eventually(func(g gomega.Gomega) { g.Expect(compute(g, "k")).To(gomega.Equal(kstatus.CurrentStatus)) }).Should(gomega.Succeed())
	g.Expect(str(get(g, gvk, ns, "k"), "status", "state")).To(gomega.Equal("ACTIVE"))
}
