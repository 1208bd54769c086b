package integration

import (
	"context"
	"fmt"
	"sort"
	"testing"
	"time"

	"github.com/onsi/gomega"
	promtestutil "github.com/prometheus/client_golang/prometheus/testutil"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/kro-run/kro/internal/metadata"
	"github.com/kro-run/kro/internal/metrics"
)

// ownedNames lists the names of the objects of a kind in a namespace that kro's cache of owned
// objects holds, for a kind whose objects kro does not read (it holds their metadata).
func ownedNames(g gomega.Gomega, gvk schema.GroupVersionKind, ns string) []string {
	list := &metav1.PartialObjectMetadataList{}
	list.SetGroupVersionKind(gvk.GroupVersion().WithKind(gvk.Kind + "List"))
	g.Expect(env.kro.owned.List(context.Background(), list, client.InNamespace(ns))).To(gomega.Succeed())
	names := []string{}
	for _, o := range list.Items {
		names = append(names, o.GetName())
	}
	sort.Strings(names)
	return names
}

// TestOwnedCache: kro caches the objects it applies and no other object of their kinds; an
// externalRef of the same kind is still read (from the cache of every object of the kind), and
// an object whose ApplySet label someone removed is taken back.
func TestOwnedCache(t *testing.T) {
	g := gomega.NewWithT(t)
	ctx := context.Background()
	ns := newNamespace(t, g)
	for _, o := range []string{
		"{apiVersion: v1, kind: ConfigMap, metadata: {name: unrelated, namespace: %s}, data: {a: b}}",
		"{apiVersion: v1, kind: Secret, metadata: {name: unrelated, namespace: %s}, stringData: {a: b}}",
		"{apiVersion: v1, kind: ConfigMap, metadata: {name: source, namespace: %s}, data: {v: first}}",
	} {
		g.Expect(env.client.Create(ctx, object(g, o, ns))).To(gomega.Succeed())
	}
	applyRGD(t, g, `
apiVersion: kro.run/v1alpha1
kind: ResourceGraphDefinition
metadata:
  name: it-owned-cache
spec:
  schema:
    apiVersion: v1alpha1
    kind: ItOwnedCache
  resources:
  - id: source
    externalRef:
      apiVersion: v1
      kind: ConfigMap
      metadata: {name: source}
  - id: config
    template:
      apiVersion: v1
      kind: ConfigMap
      metadata: {name: "${schema.metadata.name}-config"}
      data: {v: "${source.data.v}"}
  - id: secret
    template:
      apiVersion: v1
      kind: Secret
      metadata: {name: "${schema.metadata.name}-secret"}
      stringData: {v: "${source.data.v}"}
`)
	waitRGDActive(g, "it-owned-cache")
	gvk := instanceGVK("ItOwnedCache")
	g.Expect(env.client.Create(ctx, object(g, "{apiVersion: kro.run/v1alpha1, kind: ItOwnedCache, metadata: {name: oc, namespace: %s}}", ns))).To(gomega.Succeed())
	waitState(g, gvk, ns, "oc", "ACTIVE")
	g.Expect(str(get(g, configMapGVK, ns, "oc-config"), "data", "v")).To(gomega.Equal("first"))

	// The cache of owned objects has the instance's children, and neither the unrelated
	// objects nor the externalRef.
	g.Eventually(func(g gomega.Gomega) {
		g.Expect(ownedNames(g, configMapGVK, ns)).To(gomega.Equal([]string{"oc-config"}))
		g.Expect(ownedNames(g, secretGVK, ns)).To(gomega.Equal([]string{"oc-secret"}))
	}).Should(gomega.Succeed())
	for _, name := range []string{"unrelated", "source"} {
		u := &metav1.PartialObjectMetadata{}
		u.SetGroupVersionKind(configMapGVK)
		err := env.kro.owned.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, u)
		g.Expect(apierrors.IsNotFound(err)).To(gomega.BeTrue(), "ConfigMap %s in the cache of owned objects: %v", name, err)
	}

	// The externalRef's kind is cached by metadata, every object of it; kro holds whole only
	// the ConfigMaps it applies.
	g.Expect(promtestutil.ToFloat64(metrics.Informers.WithLabelValues("", "v1", "ConfigMap", "all-metadata"))).To(gomega.Equal(1.0))
	g.Expect(promtestutil.ToFloat64(metrics.Informers.WithLabelValues("", "v1", "ConfigMap", "all"))).To(gomega.BeZero())

	// A change of the externalRef reaches the instance.
	setField(g, configMapGVK, ns, "source", "second", "data", "v")
	g.Eventually(func(g gomega.Gomega) {
		g.Expect(str(get(g, configMapGVK, ns, "oc-config"), "data", "v")).To(gomega.Equal("second"))
	}).Should(gomega.Succeed())

	// A change of the externalRef while kro is down reaches the instance after the restart
	// (kro holds no object of the kind from before).
	restartKro(t, func() { setField(g, configMapGVK, ns, "source", "third", "data", "v") })
	g.Eventually(func(g gomega.Gomega) {
		g.Expect(str(get(g, configMapGVK, ns, "oc-config"), "data", "v")).To(gomega.Equal("third"))
	}).WithTimeout(time.Minute).Should(gomega.Succeed())

	// Someone removes the ApplySet label: the object leaves the cache, and kro takes it back.
	setID := metadata.ApplySetID("oc", ns, "ItOwnedCache", "kro.run")
	cm := get(g, configMapGVK, ns, "oc-config")
	uid := cm.GetUID()
	patch := client.MergeFrom(cm.DeepCopy())
	labels := cm.GetLabels()
	delete(labels, metadata.ApplySetPartOfLabel)
	cm.SetLabels(labels)
	g.Expect(env.client.Patch(ctx, cm, patch)).To(gomega.Succeed())
	g.Eventually(func(g gomega.Gomega) {
		cm := get(g, configMapGVK, ns, "oc-config")
		g.Expect(cm.GetLabels()).To(gomega.HaveKeyWithValue(metadata.ApplySetPartOfLabel, setID))
		g.Expect(cm.GetUID()).To(gomega.Equal(uid))
		g.Expect(ownedNames(g, configMapGVK, ns)).To(gomega.Equal([]string{"oc-config"}))
	}).Should(gomega.Succeed())
	waitState(g, gvk, ns, "oc", "ACTIVE")

	deleteAndWaitGone(g, gvk, ns, "oc")
	g.Expect(get(g, configMapGVK, ns, "oc-config")).To(gomega.BeNil())
	g.Expect(get(g, configMapGVK, ns, "unrelated")).NotTo(gomega.BeNil())
	g.Expect(get(g, configMapGVK, ns, "source")).NotTo(gomega.BeNil())
}

// TestAdoptExisting: an object that exists before the instance and belongs to no ApplySet is
// not in kro's cache, yet it is adopted in place (adoptionPolicy IfUnowned, the default); one
// that another ApplySet's label claims is reported and never written.
func TestAdoptExisting(t *testing.T) {
	g := gomega.NewWithT(t)
	ctx := context.Background()
	ns := newNamespace(t, g)
	unowned := object(g, "{apiVersion: v1, kind: ConfigMap, metadata: {name: existing, namespace: %s, labels: {app: someone}}, data: {owner: someone}}", ns)
	foreign := object(g, "{apiVersion: v1, kind: ConfigMap, metadata: {name: foreign, namespace: %s, labels: {%s: other-set}}, data: {owner: other}}", ns, metadata.ApplySetPartOfLabel)
	g.Expect(env.client.Create(ctx, unowned)).To(gomega.Succeed())
	g.Expect(env.client.Create(ctx, foreign)).To(gomega.Succeed())
	applyRGD(t, g, fmt.Sprintf(conflictRGD, "it-adopt-existing", "ItAdoptExisting"))
	waitRGDActive(g, "it-adopt-existing")
	gvk := instanceGVK("ItAdoptExisting")

	g.Expect(env.client.Create(ctx, object(g, "{apiVersion: kro.run/v1alpha1, kind: ItAdoptExisting, metadata: {name: adopter, namespace: %s}, spec: {cmName: existing}}", ns))).To(gomega.Succeed())
	waitState(g, gvk, ns, "adopter", "ACTIVE")
	cm := get(g, configMapGVK, ns, "existing")
	g.Expect(cm.GetUID()).To(gomega.Equal(unowned.GetUID()), "adopted in place, not re-created")
	g.Expect(cm.GetLabels()).To(gomega.HaveKeyWithValue(metadata.ApplySetPartOfLabel, metadata.ApplySetID("adopter", ns, "ItAdoptExisting", "kro.run")))
	g.Expect(cm.GetLabels()).To(gomega.HaveKeyWithValue("app", "someone"))
	g.Expect(str(cm, "data", "owner")).To(gomega.Equal("adopter"))

	g.Expect(env.client.Create(ctx, object(g, "{apiVersion: kro.run/v1alpha1, kind: ItAdoptExisting, metadata: {name: loser, namespace: %s}, spec: {cmName: foreign}}", ns))).To(gomega.Succeed())
	g.Eventually(func(g gomega.Gomega) {
		inst := get(g, gvk, ns, "loser")
		g.Expect(str(inst, "status", "state")).To(gomega.Equal("ERROR"))
		g.Expect(condition(inst, "ResourcesReady")["message"]).To(gomega.ContainSubstring("other-set"))
	}).Should(gomega.Succeed())
	g.Consistently(func(g gomega.Gomega) {
		g.Expect(get(g, configMapGVK, ns, "foreign").GetResourceVersion()).To(gomega.Equal(foreign.GetResourceVersion()))
	}).Should(gomega.Succeed())

	// Deleting the instances deletes what was adopted, never the other ApplySet's object.
	deleteAndWaitGone(g, gvk, ns, "adopter")
	deleteAndWaitGone(g, gvk, ns, "loser")
	g.Expect(get(g, configMapGVK, ns, "existing")).To(gomega.BeNil())
	g.Expect(get(g, configMapGVK, ns, "foreign")).NotTo(gomega.BeNil())
}
