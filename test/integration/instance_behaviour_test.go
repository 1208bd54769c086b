package integration

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/kubernetes"

	"github.com/kro-run/kro/internal/metadata"
)

const conflictRGD = `
apiVersion: kro.run/v1alpha1
kind: ResourceGraphDefinition
metadata:
  name: %s
spec:
  schema:
    apiVersion: v1alpha1
    kind: %s
    spec:
      cmName: string
  resources:
  - id: config
    template:
      apiVersion: v1
      kind: ConfigMap
      metadata:
        name: ${schema.spec.cmName}
        labels: {writer: "${schema.metadata.name}"}
      data: {owner: "${schema.metadata.name}"}
`

// TestConflict checks that an object of one instance's ApplySet is never touched by another
// instance rendering the same name, and that the loser reports the conflict (SPEC §6).
func TestConflict(t *testing.T) {
	g := gomega.NewWithT(t)
	ctx := context.Background()
	applyRGD(t, g, fmt.Sprintf(conflictRGD, "it-conflict-a", "ItConflictA"))
	applyRGD(t, g, fmt.Sprintf(conflictRGD, "it-conflict-b", "ItConflictB"))
	waitRGDActive(g, "it-conflict-a")
	waitRGDActive(g, "it-conflict-b")
	gvkA, gvkB := instanceGVK("ItConflictA"), instanceGVK("ItConflictB")
	ns := newNamespace(t, g)

	g.Expect(env.client.Create(ctx, object(g, "{apiVersion: kro.run/v1alpha1, kind: ItConflictA, metadata: {name: first, namespace: %s}, spec: {cmName: shared}}", ns))).To(gomega.Succeed())
	firstSet := metadata.ApplySetID("first", ns, "ItConflictA", "kro.run")
	var resourceVersion string
	g.Eventually(func(g gomega.Gomega) {
		g.Expect(str(get(g, gvkA, ns, "first"), "status", "state")).To(gomega.Equal("ACTIVE"))
		cm := get(g, configMapGVK, ns, "shared")
		g.Expect(cm).NotTo(gomega.BeNil())
		g.Expect(cm.GetLabels()).To(gomega.HaveKeyWithValue(metadata.ApplySetPartOfLabel, firstSet))
		resourceVersion = cm.GetResourceVersion()
	}).Should(gomega.Succeed())

	untouched := func(g gomega.Gomega) {
		cm := get(g, configMapGVK, ns, "shared")
		g.Expect(cm).NotTo(gomega.BeNil())
		g.Expect(cm.GetDeletionTimestamp()).To(gomega.BeNil())
		g.Expect(str(cm, "data", "owner")).To(gomega.Equal("first"))
		g.Expect(cm.GetLabels()).To(gomega.HaveKeyWithValue("writer", "first"))
		g.Expect(cm.GetLabels()).To(gomega.HaveKeyWithValue(metadata.ApplySetPartOfLabel, firstSet))
		g.Expect(cm.GetLabels()).To(gomega.HaveKeyWithValue(metadata.InstanceNameLabel, "first"))
		g.Expect(cm.GetLabels()).To(gomega.HaveKeyWithValue(metadata.InstanceKindLabel, "ItConflictA"))
		g.Expect(cm.GetResourceVersion()).To(gomega.Equal(resourceVersion))
	}
	conflicted := func(gvk schema.GroupVersionKind, name string) {
		g.Eventually(func(g gomega.Gomega) {
			inst := get(g, gvk, ns, name)
			g.Expect(str(inst, "status", "state")).To(gomega.Equal("ERROR"))
			c := condition(inst, "ResourcesReady")
			g.Expect(c).To(gomega.HaveKeyWithValue("status", "False"))
			g.Expect(c).To(gomega.HaveKeyWithValue("message", gomega.And(
				gomega.ContainSubstring("belongs to a different ApplySet"),
				gomega.ContainSubstring("ConfigMap "+ns+"/shared"))))
			g.Expect(condition(inst, "Ready")).To(gomega.HaveKeyWithValue("status", "False"))
		}).Should(gomega.Succeed())
	}

	// Another kind renders the same name.
	g.Expect(env.client.Create(ctx, object(g, "{apiVersion: kro.run/v1alpha1, kind: ItConflictB, metadata: {name: second, namespace: %s}, spec: {cmName: shared}}", ns))).To(gomega.Succeed())
	conflicted(gvkB, "second")
	// Another instance of the same kind too.
	g.Expect(env.client.Create(ctx, object(g, "{apiVersion: kro.run/v1alpha1, kind: ItConflictA, metadata: {name: third, namespace: %s}, spec: {cmName: shared}}", ns))).To(gomega.Succeed())
	conflicted(gvkA, "third")

	g.Consistently(untouched).WithTimeout(3 * time.Second).Should(gomega.Succeed())
	g.Expect(str(get(g, gvkA, ns, "first"), "status", "state")).To(gomega.Equal("ACTIVE"))

	// Deleting the losers must not delete the winner's object.
	g.Expect(env.client.Delete(ctx, get(g, gvkB, ns, "second"))).To(gomega.Succeed())
	g.Expect(env.client.Delete(ctx, get(g, gvkA, ns, "third"))).To(gomega.Succeed())
	g.Eventually(func(g gomega.Gomega) {
		g.Expect(get(g, gvkB, ns, "second")).To(gomega.BeNil())
		g.Expect(get(g, gvkA, ns, "third")).To(gomega.BeNil())
	}).Should(gomega.Succeed())
	g.Consistently(untouched).Should(gomega.Succeed())

	// A loser that renders another name stops conflicting (the error is not sticky).
	g.Expect(env.client.Create(ctx, object(g, "{apiVersion: kro.run/v1alpha1, kind: ItConflictB, metadata: {name: fourth, namespace: %s}, spec: {cmName: shared}}", ns))).To(gomega.Succeed())
	conflicted(gvkB, "fourth")
	patchSpec(g, gvkB, ns, "fourth", map[string]any{"cmName": "fourth-own"})
	g.Eventually(func(g gomega.Gomega) {
		g.Expect(str(get(g, gvkB, ns, "fourth"), "status", "state")).To(gomega.Equal("ACTIVE"))
		g.Expect(str(get(g, configMapGVK, ns, "fourth-own"), "data", "owner")).To(gomega.Equal("fourth"))
	}).Should(gomega.Succeed())
	untouched(g)
}

// TestSuspend checks the kro.run/reconcile: suspended annotation: spec changes are not applied
// while it is set, the instance says so, and removing it applies them.
func TestSuspend(t *testing.T) {
	g := gomega.NewWithT(t)
	ctx := context.Background()
	applyRGD(t, g, `
apiVersion: kro.run/v1alpha1
kind: ResourceGraphDefinition
metadata:
  name: it-suspend
spec:
  schema:
    apiVersion: v1alpha1
    kind: ItSuspend
    spec:
      value: string
  resources:
  - id: config
    template:
      apiVersion: v1
      kind: ConfigMap
      metadata: {name: "${schema.metadata.name}-config"}
      data: {value: "${schema.spec.value}"}
`)
	waitRGDActive(g, "it-suspend")
	gvk := instanceGVK("ItSuspend")
	ns := newNamespace(t, g)
	g.Expect(env.client.Create(ctx, object(g, "{apiVersion: kro.run/v1alpha1, kind: ItSuspend, metadata: {name: sus, namespace: %s}, spec: {value: one}}", ns))).To(gomega.Succeed())
	g.Eventually(func(g gomega.Gomega) {
		g.Expect(str(get(g, gvk, ns, "sus"), "status", "state")).To(gomega.Equal("ACTIVE"))
		g.Expect(str(get(g, configMapGVK, ns, "sus-config"), "data", "value")).To(gomega.Equal("one"))
	}).Should(gomega.Succeed())

	setAnnotation(g, gvk, ns, "sus", metadata.ReconcileAnnotation, metadata.ReconcileSuspended)
	suspended := func(g gomega.Gomega) {
		inst := get(g, gvk, ns, "sus")
		c := condition(inst, "ResourcesReady")
		g.Expect(c).To(gomega.HaveKeyWithValue("status", "False"))
		g.Expect(c).To(gomega.HaveKeyWithValue("reason", "ReconciliationSuspended"))
		g.Expect(c).To(gomega.HaveKeyWithValue("observedGeneration", inst.GetGeneration()))
	}
	g.Eventually(suspended).Should(gomega.Succeed())

	// A spec change and a deleted child are both left alone.
	patchSpec(g, gvk, ns, "sus", map[string]any{"value": "two"})
	g.Eventually(suspended).Should(gomega.Succeed()) // observedGeneration follows the new generation
	g.Consistently(func(g gomega.Gomega) {
		g.Expect(str(get(g, configMapGVK, ns, "sus-config"), "data", "value")).To(gomega.Equal("one"))
		suspended(g)
	}).WithTimeout(3 * time.Second).Should(gomega.Succeed())
	g.Expect(env.client.Delete(ctx, get(g, configMapGVK, ns, "sus-config"))).To(gomega.Succeed())
	g.Consistently(func(g gomega.Gomega) {
		g.Expect(get(g, configMapGVK, ns, "sus-config")).To(gomega.BeNil())
	}).Should(gomega.Succeed())

	// Resuming applies the change.
	setAnnotation(g, gvk, ns, "sus", metadata.ReconcileAnnotation, "")
	g.Eventually(func(g gomega.Gomega) {
		cm := get(g, configMapGVK, ns, "sus-config")
		g.Expect(cm).NotTo(gomega.BeNil())
		g.Expect(str(cm, "data", "value")).To(gomega.Equal("two"))
		inst := get(g, gvk, ns, "sus")
		g.Expect(str(inst, "status", "state")).To(gomega.Equal("ACTIVE"))
		g.Expect(condition(inst, "ResourcesReady")).To(gomega.HaveKeyWithValue("status", "True"))
	}).Should(gomega.Succeed())
}

// TestClusterScopedInstance checks an RGD with scope Cluster: the instance has no namespace,
// creates a Namespace and a ConfigMap inside it, and deletion removes the ConfigMap before the
// Namespace.
func TestClusterScopedInstance(t *testing.T) {
	g := gomega.NewWithT(t)
	ctx := context.Background()
	applyRGD(t, g, `
apiVersion: kro.run/v1alpha1
kind: ResourceGraphDefinition
metadata:
  name: it-cluster
spec:
  schema:
    apiVersion: v1alpha1
    kind: ItCluster
    scope: Cluster
    spec:
      namespace: string
    status:
      namespace: ${ns.metadata.name}
  resources:
  - id: ns
    template:
      apiVersion: v1
      kind: Namespace
      metadata: {name: "${schema.spec.namespace}"}
  - id: config
    template:
      apiVersion: v1
      kind: ConfigMap
      metadata:
        name: ${schema.metadata.name}-config
        namespace: ${ns.metadata.name}
      data: {instance: "${schema.metadata.name}"}
`)
	waitRGDActive(g, "it-cluster")
	crd := getCRD(g, "itclusters.kro.run")
	g.Expect(string(crd.Spec.Scope)).To(gomega.Equal("Cluster"))
	gvk := instanceGVK("ItCluster")
	nsGVK := schema.GroupVersionKind{Version: "v1", Kind: "Namespace"}
	// A unique namespace name per run: envtest never finishes deleting namespaces.
	target := fmt.Sprintf("it-cluster-%d", time.Now().UnixNano())

	g.Expect(env.client.Create(ctx, object(g, "{apiVersion: kro.run/v1alpha1, kind: ItCluster, metadata: {name: cl}, spec: {namespace: %s}}", target))).To(gomega.Succeed())
	t.Cleanup(func() {
		if inst := get(g, gvk, "", "cl"); inst != nil {
			_ = env.client.Delete(ctx, inst)
		}
	})
	g.Eventually(func(g gomega.Gomega) {
		inst := get(g, gvk, "", "cl")
		g.Expect(inst.GetNamespace()).To(gomega.BeEmpty())
		g.Expect(str(inst, "status", "state")).To(gomega.Equal("ACTIVE"))
		g.Expect(str(inst, "status", "namespace")).To(gomega.Equal(target))
		g.Expect(inst.GetLabels()).To(gomega.HaveKeyWithValue(metadata.ApplySetIDLabel, metadata.ApplySetID("cl", "", "ItCluster", "kro.run")))
		// The ApplySet records the namespace the ConfigMap was rendered into.
		g.Expect(inst.GetAnnotations()).To(gomega.HaveKeyWithValue(metadata.ApplySetAdditionalNamespacesAnnotation, target))
		g.Expect(inst.GetAnnotations()).To(gomega.HaveKeyWithValue(metadata.ApplySetGroupKindsAnnotation, "ConfigMap,Namespace"))
		for _, child := range []struct {
			gvk      schema.GroupVersionKind
			ns, name string
			node     string
		}{{nsGVK, "", target, "ns"}, {configMapGVK, target, "cl-config", "config"}} {
			obj := get(g, child.gvk, child.ns, child.name)
			g.Expect(obj).NotTo(gomega.BeNil(), "%s %s", child.gvk.Kind, child.name)
			g.Expect(obj.GetLabels()).NotTo(gomega.HaveKey(metadata.InstanceNamespaceLabel), "the reference sets no namespace label for a cluster-scoped instance")
			g.Expect(obj.GetLabels()).To(gomega.HaveKeyWithValue(metadata.InstanceNameLabel, "cl"))
			g.Expect(obj.GetLabels()).To(gomega.HaveKeyWithValue(metadata.NodeIDLabel, child.node))
			g.Expect(obj.GetLabels()).To(gomega.HaveKeyWithValue(metadata.ApplySetPartOfLabel, metadata.ApplySetID("cl", "", "ItCluster", "kro.run")))
			g.Expect(obj.GetOwnerReferences()).To(gomega.BeEmpty())
		}
		g.Expect(str(get(g, configMapGVK, target, "cl-config"), "data", "instance")).To(gomega.Equal("cl"))
	}).Should(gomega.Succeed())

	// Deletion: hold the ConfigMap (the dependent) with a foreign finalizer; the Namespace
	// must not be deleted while it exists.
	const hold = "test.kro.run/hold"
	setFinalizers(g, configMapGVK, target, "cl-config", []string{hold})
	g.Expect(env.client.Delete(ctx, get(g, gvk, "", "cl"))).To(gomega.Succeed())
	g.Eventually(func(g gomega.Gomega) {
		g.Expect(get(g, configMapGVK, target, "cl-config").GetDeletionTimestamp()).NotTo(gomega.BeNil())
		g.Expect(str(get(g, gvk, "", "cl"), "status", "state")).To(gomega.Equal("DELETING"))
	}).Should(gomega.Succeed())
	g.Consistently(func(g gomega.Gomega) {
		ns := get(g, nsGVK, "", target)
		g.Expect(ns).NotTo(gomega.BeNil())
		g.Expect(ns.GetDeletionTimestamp()).To(gomega.BeNil(), "namespace deleted before the ConfigMap in it")
	}).Should(gomega.Succeed())

	setFinalizers(g, configMapGVK, target, "cl-config", nil)
	g.Eventually(func(g gomega.Gomega) {
		g.Expect(get(g, configMapGVK, target, "cl-config")).To(gomega.BeNil())
		ns := get(g, nsGVK, "", target)
		if ns != nil {
			g.Expect(ns.GetDeletionTimestamp()).NotTo(gomega.BeNil())
		}
	}).Should(gomega.Succeed())

	// envtest has no namespace controller: finish the Namespace's deletion as it would, then
	// the instance must go too.
	cs, err := kubernetes.NewForConfig(env.cfg)
	g.Expect(err).NotTo(gomega.HaveOccurred())
	nsObj, err := cs.CoreV1().Namespaces().Get(ctx, target, metav1.GetOptions{})
	if err == nil {
		nsObj.Spec.Finalizers = []corev1.FinalizerName{}
		_, err = cs.CoreV1().Namespaces().Finalize(ctx, nsObj, metav1.UpdateOptions{})
		g.Expect(err).NotTo(gomega.HaveOccurred())
	}
	g.Eventually(func(g gomega.Gomega) {
		g.Expect(get(g, nsGVK, "", target)).To(gomega.BeNil())
		g.Expect(get(g, gvk, "", "cl")).To(gomega.BeNil())
	}).Should(gomega.Succeed())
}
