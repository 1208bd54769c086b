package integration

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/onsi/gomega"
)

// TestIdleWrites checks that a converged controller makes no API writes: with 50 ACTIVE
// instances and nothing changing, kro must not re-apply children, re-patch instance metadata
// or rewrite statuses (SPEC §6: "Status is written only when it changed").
func TestIdleWrites(t *testing.T) {
	g := gomega.NewWithT(t)
	ctx := context.Background()
	applyRGD(t, g, `
apiVersion: kro.run/v1alpha1
kind: ResourceGraphDefinition
metadata:
  name: it-idle
spec:
  schema:
    apiVersion: v1alpha1
    kind: ItIdle
    spec:
      value: string
    status:
      copied: ${second.data.copied}
  resources:
  - id: first
    template:
      apiVersion: v1
      kind: ConfigMap
      metadata: {name: "${schema.metadata.name}-first"}
      data: {value: "${schema.spec.value}"}
  - id: second
    template:
      apiVersion: v1
      kind: ConfigMap
      metadata: {name: "${schema.metadata.name}-second"}
      data: {copied: "${first.data.value}"}
`)
	waitRGDActive(g, "it-idle")
	gvk := instanceGVK("ItIdle")
	ns := newNamespace(t, g)

	const n = 50
	t.Logf("before the test: %d writes, %d reads by kro since it started", env.requests.Writes(), env.requests.Reads())
	env.requests.Reset()
	start := time.Now()
	for i := 0; i < n; i++ {
		g.Expect(env.client.Create(ctx, object(g, "{apiVersion: kro.run/v1alpha1, kind: ItIdle, metadata: {name: idle-%d, namespace: %s}, spec: {value: v%d}}", i, ns, i))).To(gomega.Succeed())
	}
	g.Eventually(func(g gomega.Gomega) {
		for i := 0; i < n; i++ {
			inst := get(g, gvk, ns, fmt.Sprintf("idle-%d", i))
			g.Expect(str(inst, "status", "state")).To(gomega.Equal("ACTIVE"), "idle-%d", i)
			g.Expect(str(inst, "status", "copied")).To(gomega.Equal(fmt.Sprintf("v%d", i)), "idle-%d", i)
		}
	}).WithTimeout(3 * time.Minute).WithPolling(500 * time.Millisecond).Should(gomega.Succeed())
	t.Logf("%d instances ACTIVE after %s: %d writes, %d reads by kro", n, time.Since(start).Round(time.Millisecond), env.requests.Writes(), env.requests.Reads())

	// Settle: the write counter has not moved for 2 s.
	last, since := env.requests.Writes(), time.Now()
	g.Eventually(func() time.Duration {
		if w := env.requests.Writes(); w != last {
			last, since = w, time.Now()
		}
		return time.Since(since)
	}).WithTimeout(2 * time.Minute).Should(gomega.BeNumerically(">=", 2*time.Second))
	t.Logf("settled after %s: %d writes, %d reads by kro in total", time.Since(start).Round(time.Millisecond), env.requests.Writes(), env.requests.Reads())

	env.requests.Reset()
	g.Consistently(func() int64 {
		return env.requests.Writes()
	}).WithTimeout(30*time.Second).WithPolling(500*time.Millisecond).Should(gomega.BeZero(), func() string {
		return "kro wrote to the API server while idle, last: " + env.requests.LastWrite()
	})
	t.Logf("idle 30 s: %d writes, %d reads (GET/LIST) by kro", env.requests.Writes(), env.requests.Reads())
}
