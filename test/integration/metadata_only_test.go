package integration

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/onsi/gomega"
	promtestutil "github.com/prometheus/client_golang/prometheus/testutil"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/kro-run/kro/internal/metrics"
)

// TestMetadataOnlyKinds: the objects of a kind no expression reads are cached by metadata
// only, yet kro still creates, repairs, leaves alone, finds after a restart and deletes them
// as it does the objects it reads.
func TestMetadataOnlyKinds(t *testing.T) {
	g := gomega.NewWithT(t)
	ctx := context.Background()
	applyRGD(t, g, `
apiVersion: kro.run/v1alpha1
kind: ResourceGraphDefinition
metadata:
  name: it-metadata-only
spec:
  schema:
    apiVersion: v1alpha1
    kind: ItMetadataOnly
    spec:
      value: string
    status:
      secretName: ${secret.metadata.name}
  resources:
  - id: config
    template:
      apiVersion: v1
      kind: ConfigMap
      metadata: {name: "${schema.metadata.name}-config"}
      data: {value: "${schema.spec.value}"}
  - id: secret
    template:
      apiVersion: v1
      kind: Secret
      metadata: {name: "${schema.metadata.name}-secret"}
      data: {value: dg==}
      stringData: {token: "${schema.spec.value}"}
`)
	waitRGDActive(g, "it-metadata-only")
	gvk := instanceGVK("ItMetadataOnly")
	ns := newNamespace(t, g)

	// The ConfigMaps are nobody's input: a metadata informer holds them. The status reads the
	// Secret: a full one holds those.
	g.Expect(promtestutil.ToFloat64(metrics.Informers.WithLabelValues("", "v1", "ConfigMap", "owned-metadata"))).To(gomega.Equal(1.0))
	g.Expect(promtestutil.ToFloat64(metrics.Informers.WithLabelValues("", "v1", "Secret", "owned"))).To(gomega.Equal(1.0))

	const n = 3
	for i := 0; i < n; i++ {
		g.Expect(env.client.Create(ctx, object(g, "{apiVersion: kro.run/v1alpha1, kind: ItMetadataOnly, metadata: {name: m%d, namespace: %s}, spec: {value: v%d}}", i, ns, i))).To(gomega.Succeed())
	}
	for i := 0; i < n; i++ {
		waitState(g, gvk, ns, fmt.Sprintf("m%d", i), "ACTIVE")
		g.Expect(str(get(g, configMapGVK, ns, fmt.Sprintf("m%d-config", i)), "data", "value")).To(gomega.Equal(fmt.Sprintf("v%d", i)))
	}
	settle := func() {
		last, since := env.requests.Writes(), time.Now()
		g.Eventually(func() time.Duration {
			if w := env.requests.Writes(); w != last {
				last, since = w, time.Now()
			}
			return time.Since(since)
		}).WithTimeout(time.Minute).Should(gomega.BeNumerically(">=", 2*time.Second))
	}
	settle()

	t.Run("a change to a field kro owns is repaired", func(t *testing.T) {
		g := gomega.NewWithT(t)
		setField(g, configMapGVK, ns, "m0-config", "changed", "data", "value")
		g.Eventually(func(g gomega.Gomega) {
			g.Expect(str(get(g, configMapGVK, ns, "m0-config"), "data", "value")).To(gomega.Equal("v0"))
		}).Should(gomega.Succeed())
		settle()
	})

	t.Run("a change to fields kro does not own causes no write", func(t *testing.T) {
		g := gomega.NewWithT(t)
		env.requests.Reset()
		cm := get(g, configMapGVK, ns, "m1-config")
		patch := client.MergeFrom(cm.DeepCopy())
		annotations := cm.GetAnnotations()
		annotations["team"] = "a"
		cm.SetAnnotations(annotations)
		g.Expect(env.client.Patch(ctx, cm, patch)).To(gomega.Succeed())
		g.Consistently(env.requests.Writes).WithTimeout(3*time.Second).Should(gomega.BeZero(), func() string {
			return "kro wrote after a foreign change, last: " + env.requests.LastWrite()
		})
		g.Expect(get(g, configMapGVK, ns, "m1-config").GetAnnotations()).To(gomega.HaveKeyWithValue("team", "a"))
	})

	t.Run("a deleted object is created again", func(t *testing.T) {
		g := gomega.NewWithT(t)
		old := get(g, configMapGVK, ns, "m2-config")
		g.Expect(env.client.Delete(ctx, old)).To(gomega.Succeed())
		g.Eventually(func(g gomega.Gomega) {
			cm := get(g, configMapGVK, ns, "m2-config")
			g.Expect(cm).NotTo(gomega.BeNil())
			g.Expect(cm.GetUID()).NotTo(gomega.Equal(old.GetUID()))
			g.Expect(str(cm, "data", "value")).To(gomega.Equal("v2"))
		}).Should(gomega.Succeed())
		settle()
	})

	t.Run("after a restart, what is up to date is read, not written", func(t *testing.T) {
		g := gomega.NewWithT(t)
		const kind = "ItMetadataOnly.kro.run"
		skipped := func() float64 { return promtestutil.ToFloat64(metrics.AppliesSkipped.WithLabelValues(kind)) }
		applied := func() float64 { return promtestutil.ToFloat64(metrics.Applies.WithLabelValues(kind, "success")) }
		beforeSkipped, beforeApplied := skipped(), applied()
		restartKro(t, func() { env.requests.Reset() })
		// Every instance is reconciled after the restart and finds both its objects up to
		// date (other tests' instances may still be reconciled meanwhile: only this kind's
		// applies count).
		g.Eventually(skipped).WithTimeout(time.Minute).Should(gomega.BeNumerically(">=", beforeSkipped+2*n))
		g.Consistently(applied).WithTimeout(3*time.Second).Should(gomega.Equal(beforeApplied), "kro applied after a restart with nothing changed")
		// The ConfigMaps' content was compared from one list of the graph's ConfigMaps, not
		// read one by one.
		g.Expect(env.requests.ReadsUnder("/api/v1/namespaces/"+ns+"/configmaps/")).To(gomega.BeZero(), "ConfigMaps read one by one after the restart")
		for i := 0; i < n; i++ {
			waitState(g, gvk, ns, fmt.Sprintf("m%d", i), "ACTIVE")
		}
	})

	t.Run("after a restart, what changed while kro was down is repaired from the list", func(t *testing.T) {
		g := gomega.NewWithT(t)
		applied := func() float64 {
			return promtestutil.ToFloat64(metrics.Applies.WithLabelValues("ItMetadataOnly.kro.run", "success"))
		}
		before := applied()
		restartKro(t, func() {
			setField(g, configMapGVK, ns, "m1-config", "changed-while-down", "data", "value")
			env.requests.Reset()
		})
		g.Eventually(func(g gomega.Gomega) {
			g.Expect(str(get(g, configMapGVK, ns, "m1-config"), "data", "value")).To(gomega.Equal("v1"))
		}).WithTimeout(time.Minute).Should(gomega.Succeed())
		g.Expect(env.requests.ReadsUnder("/api/v1/namespaces/"+ns+"/configmaps/")).To(gomega.BeZero(), "ConfigMaps read one by one after the restart")
		// Only the changed object was applied; the others were found up to date in the list.
		g.Consistently(applied).WithTimeout(3*time.Second).Should(gomega.Equal(before+1), "applies after the restart")
		settle()
	})

	t.Run("deleting the instance deletes the objects", func(t *testing.T) {
		g := gomega.NewWithT(t)
		for i := 0; i < n; i++ {
			g.Expect(env.client.Delete(ctx, get(g, gvk, ns, fmt.Sprintf("m%d", i)))).To(gomega.Succeed())
		}
		for i := 0; i < n; i++ {
			for _, name := range []string{fmt.Sprintf("m%d-config", i), fmt.Sprintf("m%d-secret", i)} {
				g.Eventually(func() bool {
					obj := &unstructured.Unstructured{}
					obj.SetGroupVersionKind(configMapGVK)
					if name[len(name)-6:] == "secret" {
						obj.SetGroupVersionKind(secretGVK)
					}
					return apierrors.IsNotFound(env.client.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, obj))
				}).Should(gomega.BeTrue(), name)
			}
		}
	})
}
