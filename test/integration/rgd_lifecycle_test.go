package integration

import (
	"context"
	"fmt"
	"testing"

	"github.com/onsi/gomega"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/client"
	ctrlmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"
	"sigs.k8s.io/yaml"

	"github.com/kro-run/kro/api/v1alpha1"
	"github.com/kro-run/kro/internal/app"
	"github.com/kro-run/kro/internal/metadata"
)

// withKroOptions restarts kro with its options changed by edit until the test ends.
func withKroOptions(t *testing.T, edit func(*app.Options)) {
	t.Helper()
	env.edit = edit
	restartKro(t, func() {})
	t.Cleanup(func() {
		env.edit = nil
		restartKro(t, func() {})
	})
}

// waitRGDWaitingFor waits until a deleting RGD reports that instances hold it.
func waitRGDWaitingFor(g gomega.Gomega, name, message string) {
	g.Eventually(func(g gomega.Gomega) {
		rgd := getRGD(g, name)
		g.Expect(rgd.DeletionTimestamp).NotTo(gomega.BeNil())
		g.Expect(rgd.Finalizers).To(gomega.ContainElement(metadata.Finalizer))
		ready := rgdCondition(g, name, v1alpha1.ConditionReady)
		g.Expect(ready.Status).To(gomega.Equal(metav1.ConditionFalse))
		g.Expect(ready.Reason).To(gomega.Equal("WaitingForInstances"))
		g.Expect(ready.Message).To(gomega.Equal(message))
	}).Should(gomega.Succeed())
}

// rgdGone waits until an RGD no longer exists.
func rgdGone(g gomega.Gomega, name string) {
	g.Eventually(func() bool {
		err := env.client.Get(context.Background(), client.ObjectKey{Name: name}, &v1alpha1.ResourceGraphDefinition{})
		return apierrors.IsNotFound(err)
	}).Should(gomega.BeTrue(), "RGD %s is gone", name)
}

// applyCRD creates a CRD from YAML, waits until it is established and deletes it when the test
// ends.
func applyCRD(t *testing.T, g gomega.Gomega, manifest string) *apiextensionsv1.CustomResourceDefinition {
	t.Helper()
	crd := &apiextensionsv1.CustomResourceDefinition{}
	g.Expect(yaml.UnmarshalStrict([]byte(manifest), crd)).To(gomega.Succeed())
	g.Expect(env.client.Create(context.Background(), crd.DeepCopy())).To(gomega.Succeed())
	t.Cleanup(func() { _ = env.client.Delete(context.Background(), crd) })
	g.Eventually(func(g gomega.Gomega) {
		live := getCRD(g, crd.Name)
		g.Expect(live).NotTo(gomega.BeNil())
		g.Expect(live.Status.Conditions).To(gomega.ContainElement(gomega.And(
			gomega.HaveField("Type", apiextensionsv1.Established),
			gomega.HaveField("Status", apiextensionsv1.ConditionTrue))))
	}).Should(gomega.Succeed())
	return crd
}

// deleteCRD deletes a CRD and waits until it is gone.
func deleteCRD(g gomega.Gomega, name string) {
	crd := getCRD(g, name)
	g.Expect(crd).NotTo(gomega.BeNil())
	g.Expect(client.IgnoreNotFound(env.client.Delete(context.Background(), crd))).To(gomega.Succeed())
	g.Eventually(func(g gomega.Gomega) {
		g.Expect(getCRD(g, name)).To(gomega.BeNil())
	}).Should(gomega.Succeed())
}

// informerHeld reports whether kro's engine holds an informer of gvk, from its
// kro_engine_informers metric.
func informerHeld(g gomega.Gomega, gvk schema.GroupVersionKind) bool {
	families, err := ctrlmetrics.Registry.Gather()
	g.Expect(err).NotTo(gomega.HaveOccurred())
	for _, mf := range families {
		if mf.GetName() != "kro_engine_informers" {
			continue
		}
		for _, m := range mf.GetMetric() {
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			if labels["group"] == gvk.Group && labels["version"] == gvk.Version && labels["kind"] == gvk.Kind && m.GetGauge().GetValue() == 1 {
				return true
			}
		}
	}
	return false
}

// lifecycleRGD is an RGD of kind kind whose instances own two chained ConfigMaps.
func lifecycleRGD(name, kind string) string {
	return fmt.Sprintf(`
apiVersion: kro.run/v1alpha1
kind: ResourceGraphDefinition
metadata:
  name: %s
spec:
  schema:
    apiVersion: v1alpha1
    kind: %s
  resources:
  - id: config
    template:
      apiVersion: v1
      kind: ConfigMap
      metadata: {name: "${schema.metadata.name}-config"}
  - id: dependent
    template:
      apiVersion: v1
      kind: ConfigMap
      metadata: {name: "${config.metadata.name}-dependent"}
`, name, kind)
}

// createActiveInstances creates instances of gvk and waits until they are ACTIVE.
func createActiveInstances(g gomega.Gomega, gvk schema.GroupVersionKind, ns string, names ...string) {
	for _, name := range names {
		g.Expect(env.client.Create(context.Background(), object(g, "{apiVersion: %s, kind: %s, metadata: {name: %s, namespace: %s}}",
			gvk.GroupVersion().String(), gvk.Kind, name, ns))).To(gomega.Succeed())
	}
	g.Eventually(func(g gomega.Gomega) {
		for _, name := range names {
			g.Expect(str(get(g, gvk, ns, name), "status", "state")).To(gomega.Equal("ACTIVE"), name)
		}
	}).Should(gomega.Succeed())
}

// instancesAndChildrenGone waits until the instances and every ConfigMap they owned are gone.
func instancesAndChildrenGone(g gomega.Gomega, gvk schema.GroupVersionKind, ns string, names ...string) {
	g.Eventually(func(g gomega.Gomega) {
		for _, name := range names {
			g.Expect(get(g, gvk, ns, name)).To(gomega.BeNil(), "instance %s", name)
			g.Expect(listNames(g, configMapGVK, ns, map[string]string{metadata.InstanceNameLabel: name})).To(gomega.BeEmpty(), "children of %s", name)
		}
	}).Should(gomega.Succeed())
}

// TestRGDDeletionServedAfterRestart checks that a deleting RGD with instances is served again
// after kro restarts: its instance, deleted while kro was down, still has its resources deleted
// before it goes, and the RGD goes with it.
func TestRGDDeletionServedAfterRestart(t *testing.T) {
	g := gomega.NewWithT(t)
	ctx := context.Background()
	applyRGD(t, g, lifecycleRGD("it-restart", "ItRestart"))
	waitRGDActive(g, "it-restart")
	gvk := instanceGVK("ItRestart")
	ns := newNamespace(t, g)
	createActiveInstances(g, gvk, ns, "r")

	g.Expect(env.client.Delete(ctx, getRGD(g, "it-restart"))).To(gomega.Succeed())
	waitRGDWaitingFor(g, "it-restart", "1 instance of ItRestart.kro.run must be deleted first")

	// The instance is deleted while kro is down.
	restartKro(t, func() {
		g.Expect(env.client.Delete(ctx, get(g, gvk, ns, "r"))).To(gomega.Succeed())
	})
	instancesAndChildrenGone(g, gvk, ns, "r")
	rgdGone(g, "it-restart")
}

// TestRGDDeletionDeletesInstancesWithAllowCRDDeletion checks that with --allow-crd-deletion
// kro deletes the instances of a deleted RGD (each one's resources by its still running
// controller), then the CRD, then lets the RGD go.
func TestRGDDeletionDeletesInstancesWithAllowCRDDeletion(t *testing.T) {
	g := gomega.NewWithT(t)
	withKroOptions(t, func(o *app.Options) { o.AllowCRDDeletion = true })
	applyRGD(t, g, lifecycleRGD("it-crd-deletion", "ItCrdDeletion"))
	waitRGDActive(g, "it-crd-deletion")
	gvk := instanceGVK("ItCrdDeletion")
	ns := newNamespace(t, g)
	createActiveInstances(g, gvk, ns, "a", "b")

	g.Expect(env.client.Delete(context.Background(), getRGD(g, "it-crd-deletion"))).To(gomega.Succeed())
	instancesAndChildrenGone(g, gvk, ns, "a", "b")
	g.Eventually(func(g gomega.Gomega) {
		g.Expect(getCRD(g, "itcrddeletions.kro.run")).To(gomega.BeNil())
	}).Should(gomega.Succeed())
	rgdGone(g, "it-crd-deletion")
}

// TestRGDAndInstancesDeletedTogether checks that deleting an RGD and its instances at once (one
// `kubectl delete -f`) leaves nothing behind: the instances keep their finalizer until their
// resources are gone, and the RGD goes last.
func TestRGDAndInstancesDeletedTogether(t *testing.T) {
	g := gomega.NewWithT(t)
	ctx := context.Background()
	applyRGD(t, g, lifecycleRGD("it-together", "ItTogether"))
	waitRGDActive(g, "it-together")
	gvk := instanceGVK("ItTogether")
	ns := newNamespace(t, g)
	names := []string{"t1", "t2", "t3"}
	createActiveInstances(g, gvk, ns, names...)

	objs := []client.Object{getRGD(g, "it-together")}
	for _, name := range names {
		objs = append(objs, get(g, gvk, ns, name))
	}
	for _, obj := range objs {
		g.Expect(env.client.Delete(ctx, obj)).To(gomega.Succeed())
	}
	instancesAndChildrenGone(g, gvk, ns, names...)
	rgdGone(g, "it-together")
}

// gadgetCRD defines ItGadget, a child kind owned by the test that uses it (it is deleted).
const gadgetCRD = `
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: itgadgets.test.kro.run
spec:
  group: test.kro.run
  scope: Namespaced
  names: {kind: ItGadget, listKind: ItGadgetList, plural: itgadgets, singular: itgadget}
  versions:
  - name: v1
    served: true
    storage: true
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec:
            type: object
            properties:
              size: {type: integer}
`

var gadgetGVK = schema.GroupVersionKind{Group: "test.kro.run", Version: "v1", Kind: "ItGadget"}

const gadgetRGD = `
apiVersion: kro.run/v1alpha1
kind: ResourceGraphDefinition
metadata:
  name: it-gadget
spec:
  schema:
    apiVersion: v1alpha1
    kind: ItGadgetUser
  resources:
  - id: gadget
    template:
      apiVersion: test.kro.run/v1
      kind: ItGadget
      metadata: {name: "${schema.metadata.name}-gadget"}
      spec: {size: 1}
`

// TestInformersOfUnusedKindsRemoved checks that the engine lets go of the informer of a kind
// once no RGD uses it, so that deleting the kind's CRD leaves no informer retrying its list.
func TestInformersOfUnusedKindsRemoved(t *testing.T) {
	g := gomega.NewWithT(t)
	applyCRD(t, g, gadgetCRD)
	applyRGD(t, g, gadgetRGD)
	waitRGDActive(g, "it-gadget")
	g.Expect(informerHeld(g, gadgetGVK)).To(gomega.BeTrue(), "the engine watches the child kind")
	g.Expect(informerHeld(g, instanceGVK("ItGadgetUser"))).To(gomega.BeTrue(), "the engine watches the instance kind")

	g.Expect(env.client.Delete(context.Background(), getRGD(g, "it-gadget"))).To(gomega.Succeed())
	rgdGone(g, "it-gadget")
	deleteCRD(g, "itgadgets.test.kro.run")
	g.Eventually(func(g gomega.Gomega) {
		g.Expect(informerHeld(g, gadgetGVK)).To(gomega.BeFalse(), "informer of the child kind")
		g.Expect(informerHeld(g, instanceGVK("ItGadgetUser"))).To(gomega.BeFalse(), "informer of the instance kind")
	}).Should(gomega.Succeed())
}

// TestChildKindRemovedAndRestored checks that when the CRD of a kind an RGD uses is deleted,
// kro stops watching the kind (no informer retrying forever) and reports the RGD; when the CRD
// comes back, the RGD is served again, watches included, without any RGD change.
func TestChildKindRemovedAndRestored(t *testing.T) {
	g := gomega.NewWithT(t)
	ctx := context.Background()
	applyCRD(t, g, gadgetCRD)
	applyRGD(t, g, gadgetRGD)
	waitRGDActive(g, "it-gadget")
	userGVK := instanceGVK("ItGadgetUser")
	ns := newNamespace(t, g)
	createActiveInstances(g, userGVK, ns, "u")

	deleteCRD(g, "itgadgets.test.kro.run")
	g.Eventually(func(g gomega.Gomega) {
		g.Expect(informerHeld(g, gadgetGVK)).To(gomega.BeFalse())
		g.Expect(rgdCondition(g, "it-gadget", v1alpha1.ConditionGraphAccepted).Status).To(gomega.Equal(metav1.ConditionFalse))
	}).Should(gomega.Succeed())

	applyCRD(t, g, gadgetCRD)
	waitRGDActive(g, "it-gadget")
	g.Eventually(func(g gomega.Gomega) {
		g.Expect(informerHeld(g, gadgetGVK)).To(gomega.BeTrue())
		g.Expect(get(g, gadgetGVK, ns, "u-gadget")).NotTo(gomega.BeNil())
	}).Should(gomega.Succeed())
	// The watch is back: a deleted child is recreated at once.
	g.Expect(env.client.Delete(ctx, get(g, gadgetGVK, ns, "u-gadget"))).To(gomega.Succeed())
	g.Eventually(func(g gomega.Gomega) {
		gadget := get(g, gadgetGVK, ns, "u-gadget")
		g.Expect(gadget).NotTo(gomega.BeNil())
		g.Expect(gadget.GetDeletionTimestamp()).To(gomega.BeNil())
	}).Should(gomega.Succeed())

	g.Expect(env.client.Delete(ctx, get(g, userGVK, ns, "u"))).To(gomega.Succeed())
	g.Eventually(func(g gomega.Gomega) {
		g.Expect(get(g, userGVK, ns, "u")).To(gomega.BeNil())
	}).Should(gomega.Succeed())
}
