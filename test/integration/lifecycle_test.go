package integration

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/onsi/gomega"
	promtestutil "github.com/prometheus/client_golang/prometheus/testutil"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/kro-run/kro/internal/metadata"
	"github.com/kro-run/kro/internal/metrics"
)

// Lifecycle tests (issue #9): what an instance owns is found from the cluster however far it
// got, deletion touches only its own objects, failures from outside kro are retried, and
// nothing is forgotten across a restart of kro.

// partialRGD applies a ConfigMap and then a Service whose port comes from the instance: a port
// out of range makes the API server reject the Service after the ConfigMap exists. The
// collection's items are named from the instance's list, so a bad name rejects one item after
// the others were applied.
const partialRGD = `
apiVersion: kro.run/v1alpha1
kind: ResourceGraphDefinition
metadata:
  name: %s
spec:
  schema:
    apiVersion: v1alpha1
    kind: %s
    spec:
      port: integer | default=80
      items: "[]string | default=[]"
  resources:
  - id: config
    template:
      apiVersion: v1
      kind: ConfigMap
      metadata: {name: "${schema.metadata.name}-config"}
      data: {port: "${string(schema.spec.port)}"}
  - id: extras
    forEach:
    - entry: ${schema.spec.items}
    template:
      apiVersion: v1
      kind: ConfigMap
      metadata: {name: "${schema.metadata.name}-${entry}"}
      data: {from: "${config.metadata.name}"}
  - id: service
    template:
      apiVersion: v1
      kind: Service
      metadata: {name: "${config.metadata.name}-svc"}
      spec:
        ports: [{port: "${schema.spec.port}"}]
`

// waitState waits until an instance has the given state.
func waitState(g gomega.Gomega, gvk schema.GroupVersionKind, ns, name, state string) {
	g.Eventually(func(g gomega.Gomega) {
		inst := get(g, gvk, ns, name)
		g.Expect(str(inst, "status", "state")).To(gomega.Equal(state), "conditions: %v", inst)
	}).Should(gomega.Succeed())
}

// deleteAndWaitGone deletes an instance and waits until it is gone (its finalizer removed).
func deleteAndWaitGone(g gomega.Gomega, gvk schema.GroupVersionKind, ns, name string) {
	inst := get(g, gvk, ns, name)
	g.Expect(inst).NotTo(gomega.BeNil())
	g.Expect(env.client.Delete(context.Background(), inst)).To(gomega.Succeed())
	g.Eventually(func(g gomega.Gomega) {
		g.Expect(get(g, gvk, ns, name)).To(gomega.BeNil())
	}).Should(gomega.Succeed())
}

// TestDeleteAfterPartialFirstPass deletes instances whose first pass was cut short by the API
// server rejecting an object: what was applied before the rejection must go with them, also
// when kro restarts in between.
func TestDeleteAfterPartialFirstPass(t *testing.T) {
	g := gomega.NewWithT(t)
	ctx := context.Background()
	applyRGD(t, g, fmt.Sprintf(partialRGD, "it-partial", "ItPartial"))
	waitRGDActive(g, "it-partial")
	gvk := instanceGVK("ItPartial")
	ns := newNamespace(t, g)

	// The Service is rejected: port out of range.
	g.Expect(env.client.Create(ctx, object(g, "{apiVersion: kro.run/v1alpha1, kind: ItPartial, metadata: {name: badport, namespace: %s}, spec: {port: 70000}}", ns))).To(gomega.Succeed())
	// The second collection item is rejected: an invalid name.
	g.Expect(env.client.Create(ctx, object(g, "{apiVersion: kro.run/v1alpha1, kind: ItPartial, metadata: {name: baditem, namespace: %s}, spec: {items: [good, Bad_Name]}}", ns))).To(gomega.Succeed())
	// Like badport, but kro is restarted before it is deleted.
	g.Expect(env.client.Create(ctx, object(g, "{apiVersion: kro.run/v1alpha1, kind: ItPartial, metadata: {name: restarted, namespace: %s}, spec: {port: 70000}}", ns))).To(gomega.Succeed())
	for _, name := range []string{"badport", "baditem", "restarted"} {
		waitState(g, gvk, ns, name, "ERROR")
	}
	g.Expect(get(g, configMapGVK, ns, "badport-config")).NotTo(gomega.BeNil())
	g.Expect(get(g, configMapGVK, ns, "baditem-good")).NotTo(gomega.BeNil())
	g.Expect(get(g, configMapGVK, ns, "restarted-config")).NotTo(gomega.BeNil())
	c := condition(get(g, gvk, ns, "badport"), "ResourcesReady")
	// The API server's own words: its error reaches kro whole, although kro asks for the answer
	// to an apply of a metadata-only kind in protobuf.
	g.Expect(c["message"]).To(gomega.And(gomega.ContainSubstring(`resource "service"`), gomega.ContainSubstring("badport-config-svc"),
		gomega.ContainSubstring("Invalid value: 70000")))

	deleteAndWaitGone(g, gvk, ns, "badport")
	g.Expect(get(g, configMapGVK, ns, "badport-config")).To(gomega.BeNil(), "ConfigMap of a partial first pass orphaned")
	deleteAndWaitGone(g, gvk, ns, "baditem")
	g.Expect(get(g, configMapGVK, ns, "baditem-good")).To(gomega.BeNil(), "collection item of a partial first pass orphaned")
	g.Expect(get(g, configMapGVK, ns, "baditem-config")).To(gomega.BeNil())

	restartKro(t, func() {
		g.Expect(env.client.Delete(ctx, get(g, gvk, ns, "restarted"))).To(gomega.Succeed())
	})
	g.Eventually(func(g gomega.Gomega) {
		g.Expect(get(g, gvk, ns, "restarted")).To(gomega.BeNil())
	}).Should(gomega.Succeed())
	g.Expect(get(g, configMapGVK, ns, "restarted-config")).To(gomega.BeNil(), "ConfigMap orphaned after a restart")
}

// TestDeleteTouchesOnlyOwnObjects: an instance whose object was deleted and recreated by
// another instance under the same name must, when deleted, leave the other's object alone and
// finish.
func TestDeleteTouchesOnlyOwnObjects(t *testing.T) {
	g := gomega.NewWithT(t)
	ctx := context.Background()
	applyRGD(t, g, fmt.Sprintf(conflictRGD, "it-own-objects", "ItOwnObjects"))
	waitRGDActive(g, "it-own-objects")
	gvk := instanceGVK("ItOwnObjects")
	ns := newNamespace(t, g)

	g.Expect(env.client.Create(ctx, object(g, "{apiVersion: kro.run/v1alpha1, kind: ItOwnObjects, metadata: {name: inst-x, namespace: %s}, spec: {cmName: shared}}", ns))).To(gomega.Succeed())
	waitState(g, gvk, ns, "inst-x", "ACTIVE")
	// X stops applying, its ConfigMap is deleted, and Y makes its own under the same name.
	setAnnotation(g, gvk, ns, "inst-x", metadata.ReconcileAnnotation, metadata.ReconcileSuspended)
	g.Eventually(func(g gomega.Gomega) {
		g.Expect(condition(get(g, gvk, ns, "inst-x"), "ResourcesReady")).To(gomega.HaveKeyWithValue("reason", "ReconciliationSuspended"))
	}).Should(gomega.Succeed())
	g.Expect(env.client.Delete(ctx, get(g, configMapGVK, ns, "shared"))).To(gomega.Succeed())
	g.Expect(env.client.Create(ctx, object(g, "{apiVersion: kro.run/v1alpha1, kind: ItOwnObjects, metadata: {name: inst-y, namespace: %s}, spec: {cmName: shared}}", ns))).To(gomega.Succeed())
	waitState(g, gvk, ns, "inst-y", "ACTIVE")
	ySet := metadata.ApplySetID("inst-y", ns, "ItOwnObjects", "kro.run")
	ys := get(g, configMapGVK, ns, "shared")
	g.Expect(ys.GetLabels()).To(gomega.HaveKeyWithValue(metadata.ApplySetPartOfLabel, ySet))

	deleteAndWaitGone(g, gvk, ns, "inst-x")
	g.Consistently(func(g gomega.Gomega) {
		cm := get(g, configMapGVK, ns, "shared")
		g.Expect(cm).NotTo(gomega.BeNil(), "Y's ConfigMap was deleted by X")
		g.Expect(cm.GetUID()).To(gomega.Equal(ys.GetUID()))
		g.Expect(cm.GetDeletionTimestamp()).To(gomega.BeNil())
	}).Should(gomega.Succeed())
	g.Expect(str(get(g, gvk, ns, "inst-y"), "status", "state")).To(gomega.Equal("ACTIVE"))
}

// TestApplyFailureRetried: a template targeting a namespace that does not exist yet fails to
// apply; the instance shows the error and recovers on its own once the namespace exists.
func TestApplyFailureRetried(t *testing.T) {
	g := gomega.NewWithT(t)
	ctx := context.Background()
	applyRGD(t, g, `
apiVersion: kro.run/v1alpha1
kind: ResourceGraphDefinition
metadata:
  name: it-retry
spec:
  schema:
    apiVersion: v1alpha1
    kind: ItRetry
    spec:
      target: string
  resources:
  - id: config
    template:
      apiVersion: v1
      kind: ConfigMap
      metadata: {name: "${schema.metadata.name}", namespace: "${schema.spec.target}"}
`)
	waitRGDActive(g, "it-retry")
	gvk := instanceGVK("ItRetry")
	ns := newNamespace(t, g)
	target := ns + "-later"
	g.Expect(env.client.Create(ctx, object(g, "{apiVersion: kro.run/v1alpha1, kind: ItRetry, metadata: {name: r, namespace: %s}, spec: {target: %s}}", ns, target))).To(gomega.Succeed())
	g.Eventually(func(g gomega.Gomega) {
		inst := get(g, gvk, ns, "r")
		g.Expect(str(inst, "status", "state")).To(gomega.Equal("ERROR"))
		g.Expect(condition(inst, "ResourcesReady")["message"]).To(gomega.ContainSubstring(target))
	}).Should(gomega.Succeed())
	// Nothing else happens to the instance from here on: only a retry can make it recover.
	g.Consistently(func(g gomega.Gomega) {
		g.Expect(str(get(g, gvk, ns, "r"), "status", "state")).To(gomega.Equal("ERROR"))
	}).Should(gomega.Succeed())

	g.Expect(env.client.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: target}})).To(gomega.Succeed())
	waitState(g, gvk, ns, "r", "ACTIVE")
	g.Expect(get(g, configMapGVK, target, "r")).NotTo(gomega.BeNil())
}

// TestRGDUpdateAddsDefaultedField: after the RGD adds a field with a default, every existing
// instance is reconciled with the API server's default applied.
func TestRGDUpdateAddsDefaultedField(t *testing.T) {
	g := gomega.NewWithT(t)
	ctx := context.Background()
	const before = `
apiVersion: kro.run/v1alpha1
kind: ResourceGraphDefinition
metadata:
  name: it-defaulted
spec:
  schema:
    apiVersion: v1alpha1
    kind: ItDefaulted
    spec:
      name: string | default="n"
  resources:
  - id: config
    template:
      apiVersion: v1
      kind: ConfigMap
      metadata: {name: "${schema.metadata.name}"}
      data: {name: "${schema.spec.name}"}
`
	const after = `
apiVersion: kro.run/v1alpha1
kind: ResourceGraphDefinition
metadata:
  name: it-defaulted
spec:
  schema:
    apiVersion: v1alpha1
    kind: ItDefaulted
    spec:
      name: string | default="n"
      note: string | default="added"
  resources:
  - id: config
    template:
      apiVersion: v1
      kind: ConfigMap
      metadata: {name: "${schema.metadata.name}"}
      data: {name: "${schema.spec.name}", note: "${schema.spec.note}"}
`
	applyRGD(t, g, before)
	waitRGDActive(g, "it-defaulted")
	gvk := instanceGVK("ItDefaulted")
	ns := newNamespace(t, g)
	names := []string{"a", "b", "c"}
	for _, name := range names {
		g.Expect(env.client.Create(ctx, object(g, "{apiVersion: kro.run/v1alpha1, kind: ItDefaulted, metadata: {name: %s, namespace: %s}}", name, ns))).To(gomega.Succeed())
	}
	for _, name := range names {
		waitState(g, gvk, ns, name, "ACTIVE")
	}

	g.Expect(updateRGD(g, "it-defaulted", after, nil)).To(gomega.Succeed())
	g.Eventually(func(g gomega.Gomega) {
		for _, name := range names {
			g.Expect(str(get(g, configMapGVK, ns, name), "data", "note")).To(gomega.Equal("added"), "instance %s", name)
		}
	}).Should(gomega.Succeed())
}

// TestFieldRemovedWhileDown: a field removed from a template while kro was not running is
// removed from the object once kro runs again.
func TestFieldRemovedWhileDown(t *testing.T) {
	g := gomega.NewWithT(t)
	ctx := context.Background()
	const removedRGD = `
apiVersion: kro.run/v1alpha1
kind: ResourceGraphDefinition
metadata:
  name: it-removed
spec:
  schema:
    apiVersion: v1alpha1
    kind: ItRemoved
  resources:
  - id: config
    template:
      apiVersion: v1
      kind: ConfigMap
      metadata: {name: "${schema.metadata.name}"}
      data: %s
`
	applyRGD(t, g, fmt.Sprintf(removedRGD, `{a: "1", b: "2"}`))
	waitRGDActive(g, "it-removed")
	gvk := instanceGVK("ItRemoved")
	ns := newNamespace(t, g)
	g.Expect(env.client.Create(ctx, object(g, "{apiVersion: kro.run/v1alpha1, kind: ItRemoved, metadata: {name: r, namespace: %s}}", ns))).To(gomega.Succeed())
	waitState(g, gvk, ns, "r", "ACTIVE")
	g.Expect(str(get(g, configMapGVK, ns, "r"), "data", "b")).To(gomega.Equal("2"))

	restartKro(t, func() {
		g.Expect(updateRGD(g, "it-removed", fmt.Sprintf(removedRGD, `{a: "1"}`), nil)).To(gomega.Succeed())
	})
	g.Eventually(func(g gomega.Gomega) {
		cm := get(g, configMapGVK, ns, "r")
		g.Expect(cm.Object["data"]).To(gomega.Equal(map[string]any{"a": "1"}))
	}).Should(gomega.Succeed())
	waitState(g, gvk, ns, "r", "ACTIVE")
}

// TestRaceForOneObject creates pairs of instances that render the same object at the same
// moment: for each pair exactly one instance owns the object, the other reports the conflict,
// and the object carries the owner's labels and data.
func TestRaceForOneObject(t *testing.T) {
	g := gomega.NewWithT(t)
	ctx := context.Background()
	applyRGD(t, g, fmt.Sprintf(conflictRGD, "it-race", "ItRace"))
	waitRGDActive(g, "it-race")
	gvk := instanceGVK("ItRace")
	ns := newNamespace(t, g)
	// Created while kro is down, so that kro finds them all at once when it starts and many
	// pairs are reconciled at the same moment.
	const pairs = 20
	restartKro(t, func() {
		var wg sync.WaitGroup
		for i := range pairs {
			for _, side := range []string{"a", "b"} {
				wg.Add(1)
				go func() {
					defer wg.Done()
					g.Expect(env.client.Create(ctx, object(g, "{apiVersion: kro.run/v1alpha1, kind: ItRace, metadata: {name: p%d-%s, namespace: %s}, spec: {cmName: obj%d}}", i, side, ns, i))).To(gomega.Succeed())
				}()
			}
		}
		wg.Wait()
	})
	check := func(g gomega.Gomega) {
		for i := range pairs {
			cm := get(g, configMapGVK, ns, fmt.Sprintf("obj%d", i))
			g.Expect(cm).NotTo(gomega.BeNil())
			owner := str(cm, "data", "owner")
			a, b := fmt.Sprintf("p%d-a", i), fmt.Sprintf("p%d-b", i)
			loser := map[string]string{a: b, b: a}[owner]
			g.Expect(loser).NotTo(gomega.BeEmpty(), "owner %q", owner)
			g.Expect(cm.GetLabels()).To(gomega.HaveKeyWithValue(metadata.InstanceNameLabel, owner))
			g.Expect(cm.GetLabels()).To(gomega.HaveKeyWithValue(metadata.ApplySetPartOfLabel, metadata.ApplySetID(owner, ns, "ItRace", "kro.run")))
			g.Expect(str(get(g, gvk, ns, owner), "status", "state")).To(gomega.Equal("ACTIVE"))
			l := get(g, gvk, ns, loser)
			g.Expect(str(l, "status", "state")).To(gomega.Equal("ERROR"))
			g.Expect(condition(l, "ResourcesReady")["message"]).To(gomega.ContainSubstring("belongs to a different ApplySet"))
		}
	}
	g.Eventually(check).Should(gomega.Succeed())
	g.Consistently(check).Should(gomega.Succeed())
}

// TestNoWriteWithoutChange: a reconcile that changes nothing writes nothing, also for an object
// with write-only fields (a Secret's stringData never reads back, so comparing fields cannot
// tell it is up to date).
func TestNoWriteWithoutChange(t *testing.T) {
	g := gomega.NewWithT(t)
	ctx := context.Background()
	applyRGD(t, g, `
apiVersion: kro.run/v1alpha1
kind: ResourceGraphDefinition
metadata:
  name: it-no-write
spec:
  schema:
    apiVersion: v1alpha1
    kind: ItNoWrite
  resources:
  - id: secret
    template:
      apiVersion: v1
      kind: Secret
      metadata: {name: "${schema.metadata.name}"}
      stringData: {password: "${schema.metadata.name}-pw"}
  - id: config
    template:
      apiVersion: v1
      kind: ConfigMap
      metadata: {name: "${secret.metadata.name}"}
      data: {a: "1"}
`)
	waitRGDActive(g, "it-no-write")
	gvk := instanceGVK("ItNoWrite")
	ns := newNamespace(t, g)
	g.Expect(env.client.Create(ctx, object(g, "{apiVersion: kro.run/v1alpha1, kind: ItNoWrite, metadata: {name: nw, namespace: %s}}", ns))).To(gomega.Succeed())
	waitState(g, gvk, ns, "nw", "ACTIVE")
	// Settle: no kro write for 2 s.
	last, since := env.requests.Writes(), time.Now()
	g.Eventually(func() time.Duration {
		if w := env.requests.Writes(); w != last {
			last, since = w, time.Now()
		}
		return time.Since(since)
	}).Should(gomega.BeNumerically(">=", 2*time.Second))

	// Someone annotates the ConfigMap: the instance is reconciled, and both objects are up to date.
	skipped := promtestutil.ToFloat64(metrics.AppliesSkipped.WithLabelValues("ItNoWrite.kro.run"))
	env.requests.Reset()
	cm := get(g, configMapGVK, ns, "nw")
	patch := client.MergeFrom(cm.DeepCopy())
	annotations := cm.GetAnnotations()
	annotations["team"] = "a"
	cm.SetAnnotations(annotations)
	g.Expect(env.client.Patch(ctx, cm, patch)).To(gomega.Succeed())
	g.Eventually(func() float64 {
		return promtestutil.ToFloat64(metrics.AppliesSkipped.WithLabelValues("ItNoWrite.kro.run"))
	}).Should(gomega.BeNumerically(">=", skipped+2), "both objects must be found up to date (an apply means a needless write, or no reconcile happened)")
	g.Consistently(env.requests.Writes).Should(gomega.BeZero(), func() string {
		return "kro wrote without a change, last: " + env.requests.LastWrite()
	})
}

// TestOrphansOfVanishedInstance: the API server can delete an instance at the moment kro adds
// its finalizer, finalizer included (kubernetes/kubernetes#77988), after kro applied objects
// for it. Here the instance vanishes the same way (its finalizer removed by hand while kro is
// down); its objects must not outlive it. A new instance of the same name keeps its own.
func TestOrphansOfVanishedInstance(t *testing.T) {
	g := gomega.NewWithT(t)
	ctx := context.Background()
	applyRGD(t, g, fmt.Sprintf(partialRGD, "it-vanished", "ItVanished"))
	waitRGDActive(g, "it-vanished")
	gvk := instanceGVK("ItVanished")
	ns := newNamespace(t, g)
	for _, name := range []string{"v", "w"} {
		g.Expect(env.client.Create(ctx, object(g, "{apiVersion: kro.run/v1alpha1, kind: ItVanished, metadata: {name: %s, namespace: %s}}", name, ns))).To(gomega.Succeed())
		waitState(g, gvk, ns, name, "ACTIVE")
	}

	restartKro(t, func() {
		for _, name := range []string{"v", "w"} {
			setFinalizers(g, gvk, ns, name, nil)
			g.Expect(env.client.Delete(ctx, get(g, gvk, ns, name))).To(gomega.Succeed())
			g.Eventually(func(g gomega.Gomega) { g.Expect(get(g, gvk, ns, name)).To(gomega.BeNil()) }).Should(gomega.Succeed())
		}
		// w comes back as a new instance before kro runs again.
		g.Expect(env.client.Create(ctx, object(g, "{apiVersion: kro.run/v1alpha1, kind: ItVanished, metadata: {name: w, namespace: %s}}", ns))).To(gomega.Succeed())
	})
	g.Eventually(func(g gomega.Gomega) {
		g.Expect(get(g, configMapGVK, ns, "v-config")).To(gomega.BeNil(), "the vanished instance's ConfigMap outlives it")
		g.Expect(get(g, serviceGVK, ns, "v-config-svc")).To(gomega.BeNil(), "the vanished instance's Service outlives it")
	}).Should(gomega.Succeed())
	waitState(g, gvk, ns, "w", "ACTIVE")
	cm := get(g, configMapGVK, ns, "w-config")
	g.Expect(cm).NotTo(gomega.BeNil())
	g.Expect(cm.GetLabels()).To(gomega.HaveKeyWithValue(metadata.InstanceIDLabel, string(get(g, gvk, ns, "w").GetUID())))
}
