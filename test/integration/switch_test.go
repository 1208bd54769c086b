package integration

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/onsi/gomega"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/kro-run/kro/internal/metadata"
)

// Switching controllers (issue #10 item 8): kro writes the ApplySet metadata the reference kro
// writes, and takes over objects written by the reference's conventions without recreating,
// orphaning or re-owning any.

// inventoryRGD has a resource every pass applies, one behind includeWhen and a collection.
const inventoryRGD = `
apiVersion: kro.run/v1alpha1
kind: ResourceGraphDefinition
metadata:
  name: %s
spec:
  schema:
    apiVersion: v1alpha1
    kind: %s
    spec:
      withSecret: boolean | default=false
      accounts: "[]string | default=[]"
  resources:
  - id: config
    template:
      apiVersion: v1
      kind: ConfigMap
      metadata: {name: "${schema.metadata.name}-config"}
      data: {a: "1"}
  - id: secret
    includeWhen: ["${schema.spec.withSecret}"]
    template:
      apiVersion: v1
      kind: Secret
      metadata: {name: "${schema.metadata.name}-secret"}
      stringData: {from: "${config.metadata.name}"}
  - id: accounts
    forEach:
    - account: ${schema.spec.accounts}
    template:
      apiVersion: v1
      kind: ServiceAccount
      metadata: {name: "${schema.metadata.name}-${account}"}
`

// waitInventory waits until the instance's ApplySet inventory lists exactly gks (sorted, as
// written) with no additional namespace, under the reference kro's checksum.
func waitInventory(g gomega.Gomega, kind, ns, name string, gks ...string) {
	gvk := instanceGVK(kind)
	id := metadata.ApplySetID(name, ns, gvk.Kind, gvk.Group)
	g.Eventually(func(g gomega.Gomega) {
		a := get(g, gvk, ns, name).GetAnnotations()
		g.Expect(a).To(gomega.HaveKeyWithValue(metadata.ApplySetGroupKindsAnnotation, strings.Join(gks, ",")))
		g.Expect(a).To(gomega.HaveKeyWithValue(metadata.ApplySetAdditionalNamespacesAnnotation, ""))
		g.Expect(a).To(gomega.HaveKeyWithValue(metadata.ApplySetInventoryHashAnnotation, metadata.InventoryHash(id, gks, nil)))
		g.Expect(a).To(gomega.HaveKeyWithValue(metadata.ApplySetToolingAnnotation, metadata.Tooling()))
	}).Should(gomega.Succeed())
}

var secretGVK = schema.GroupVersionKind{Version: "v1", Kind: "Secret"}

// TestApplySetInventoryAsReference: the group-kinds annotation lists the kinds of the objects
// applied, not those the graph could create, and follows includeWhen and collections both ways.
func TestApplySetInventoryAsReference(t *testing.T) {
	g := gomega.NewWithT(t)
	ctx := context.Background()
	applyRGD(t, g, fmt.Sprintf(inventoryRGD, "it-inventory", "ItInventory"))
	waitRGDActive(g, "it-inventory")
	gvk := instanceGVK("ItInventory")
	ns := newNamespace(t, g)

	g.Expect(env.client.Create(ctx, object(g, "{apiVersion: kro.run/v1alpha1, kind: ItInventory, metadata: {name: inv, namespace: %s}}", ns))).To(gomega.Succeed())
	waitState(g, gvk, ns, "inv", "ACTIVE")
	waitInventory(g, "ItInventory", ns, "inv", "ConfigMap")
	g.Expect(get(g, configMapGVK, ns, "inv-config").GetAnnotations()).To(gomega.HaveKeyWithValue(metadata.ApplyOrderAnnotation, "1"))

	patchSpec(g, gvk, ns, "inv", map[string]any{"withSecret": true, "accounts": []any{"a"}})
	waitInventory(g, "ItInventory", ns, "inv", "ConfigMap", "Secret", "ServiceAccount")
	waitState(g, gvk, ns, "inv", "ACTIVE")

	patchSpec(g, gvk, ns, "inv", map[string]any{"withSecret": false, "accounts": []any{}})
	waitInventory(g, "ItInventory", ns, "inv", "ConfigMap")
	g.Expect(get(g, secretGVK, ns, "inv-secret")).To(gomega.BeNil())
	deleteAndWaitGone(g, gvk, ns, "inv")
	g.Expect(get(g, configMapGVK, ns, "inv-config")).To(gomega.BeNil())
}

// TestDeletionRefusesTamperedInventory: an instance whose inventory no longer matches its
// checksum is not deleted (its unlisted objects would be orphaned) and says why; without the
// checksum, deletion goes on and removes everything.
func TestDeletionRefusesTamperedInventory(t *testing.T) {
	g := gomega.NewWithT(t)
	ctx := context.Background()
	applyRGD(t, g, fmt.Sprintf(inventoryRGD, "it-tamper", "ItTamper"))
	waitRGDActive(g, "it-tamper")
	gvk := instanceGVK("ItTamper")
	ns := newNamespace(t, g)

	g.Expect(env.client.Create(ctx, object(g, "{apiVersion: kro.run/v1alpha1, kind: ItTamper, metadata: {name: tamper, namespace: %s}, spec: {withSecret: true}}", ns))).To(gomega.Succeed())
	waitState(g, gvk, ns, "tamper", "ACTIVE")
	waitInventory(g, "ItTamper", ns, "tamper", "ConfigMap", "Secret")

	restartKro(t, func() {
		setAnnotation(g, gvk, ns, "tamper", metadata.ApplySetGroupKindsAnnotation, "ConfigMap")
		g.Expect(env.client.Delete(ctx, get(g, gvk, ns, "tamper"))).To(gomega.Succeed())
	})
	g.Eventually(func(g gomega.Gomega) {
		c := condition(get(g, gvk, ns, "tamper"), "ResourcesReady")
		g.Expect(c).To(gomega.HaveKeyWithValue("reason", "UnderDeletion"))
		g.Expect(c["message"]).To(gomega.ContainSubstring("deletion blocked"))
		g.Expect(c["message"]).To(gomega.ContainSubstring(metadata.ApplySetInventoryHashAnnotation))
	}).Should(gomega.Succeed())
	g.Expect(get(g, configMapGVK, ns, "tamper-config")).NotTo(gomega.BeNil())
	g.Expect(get(g, secretGVK, ns, "tamper-secret")).NotTo(gomega.BeNil())

	// Accepting the inventory as it is: the graph's kinds are still searched, so the Secret goes.
	inst := get(g, gvk, ns, "tamper")
	g.Expect(env.client.Patch(ctx, inst, client.RawPatch("application/merge-patch+json",
		[]byte(fmt.Sprintf(`{"metadata":{"annotations":{%q:null}}}`, metadata.ApplySetInventoryHashAnnotation))))).To(gomega.Succeed())
	g.Eventually(func(g gomega.Gomega) {
		g.Expect(get(g, gvk, ns, "tamper")).To(gomega.BeNil())
	}).Should(gomega.Succeed())
	g.Expect(get(g, configMapGVK, ns, "tamper-config")).To(gomega.BeNil())
	g.Expect(get(g, secretGVK, ns, "tamper-secret")).To(gomega.BeNil())
}

// TestTakeOverReferenceObjects: an instance and children written with the reference kro's
// metadata (its version, no desired-state hash, a child of a resource the graph no longer
// has) are taken over: nothing is recreated, the stale child is pruned, and deletion goes by
// the children's apply-order, dependents first.
func TestTakeOverReferenceObjects(t *testing.T) {
	g := gomega.NewWithT(t)
	ctx := context.Background()
	applyRGD(t, g, `
apiVersion: kro.run/v1alpha1
kind: ResourceGraphDefinition
metadata:
  name: it-takeover
spec:
  schema:
    apiVersion: v1alpha1
    kind: ItTakeover
    spec: {}
  resources:
  - id: first
    template:
      apiVersion: v1
      kind: ConfigMap
      metadata: {name: "${schema.metadata.name}-first"}
      data: {a: "1"}
  - id: second
    template:
      apiVersion: v1
      kind: ConfigMap
      metadata: {name: "${schema.metadata.name}-second"}
      data: {from: "${first.metadata.name}"}
`)
	rgd := waitRGDActive(g, "it-takeover")
	gvk := instanceGVK("ItTakeover")
	ns := newNamespace(t, g)
	setID := metadata.ApplySetID("old", ns, gvk.Kind, gvk.Group)
	const refVersion = "v0.9.0"

	uids := map[string]string{}
	restartKro(t, func() {
		inst := object(g, `
apiVersion: kro.run/v1alpha1
kind: ItTakeover
metadata:
  name: old
  namespace: %s
  finalizers: [kro.run/finalizer]
  labels:
    kro.run/owned: "true"
    kro.run/kro-version: %s
    kro.run/resource-graph-definition-id: %s
    kro.run/resource-graph-definition-name: it-takeover
    applyset.kubernetes.io/id: %s
  annotations:
    applyset.kubernetes.io/tooling: kro/%s
    applyset.kubernetes.io/contains-group-kinds: ConfigMap
    applyset.kubernetes.io/additional-namespaces: ""
    internal.kro.run/applyset-inventory-hash: %s
spec: {}`, ns, refVersion, rgd.UID, setID, refVersion, metadata.InventoryHash(setID, []string{"ConfigMap"}, nil))
		g.Expect(env.client.Create(ctx, inst)).To(gomega.Succeed())
		child := func(name, node, order string, data map[string]any) {
			obj := object(g, `
apiVersion: v1
kind: ConfigMap
metadata:
  name: %s
  namespace: %s
  labels:
    kro.run/owned: "true"
    kro.run/kro-version: %s
    kro.run/instance-id: %s
    kro.run/instance-name: old
    kro.run/instance-namespace: %s
    kro.run/instance-group: kro.run
    kro.run/instance-version: v1alpha1
    kro.run/instance-kind: ItTakeover
    app.kubernetes.io/managed-by: kro
    kro.run/node-id: %s
    applyset.kubernetes.io/part-of: %s
  annotations:
    internal.kro.run/apply-order: %q`, name, ns, refVersion, inst.GetUID(), ns, node, setID, order)
			obj.Object["data"] = data
			g.Expect(env.client.Patch(ctx, obj, client.Apply, client.FieldOwner(metadata.FieldManager))).To(gomega.Succeed())
			uids[name] = string(obj.GetUID())
		}
		child("old-first", "first", "1", map[string]any{"a": "1"})
		child("old-second", "second", "2", map[string]any{"from": "old-first"})
		child("old-removed", "removed", "3", map[string]any{"b": "2"})
	})

	waitState(g, gvk, ns, "old", "ACTIVE")
	g.Eventually(func(g gomega.Gomega) {
		g.Expect(get(g, configMapGVK, ns, "old-removed")).To(gomega.BeNil(), "the child of a resource the graph no longer has is pruned")
	}).Should(gomega.Succeed())
	for _, name := range []string{"old-first", "old-second"} {
		g.Expect(string(get(g, configMapGVK, ns, name).GetUID())).To(gomega.Equal(uids[name]), "%s recreated", name)
	}
	waitInventory(g, "ItTakeover", ns, "old", "ConfigMap")

	// Dependents first: the second ConfigMap, held by a finalizer, blocks the first.
	setFinalizers(g, configMapGVK, ns, "old-second", []string{"example.com/hold"})
	g.Expect(env.client.Delete(ctx, get(g, gvk, ns, "old"))).To(gomega.Succeed())
	g.Eventually(func(g gomega.Gomega) {
		g.Expect(get(g, configMapGVK, ns, "old-second").GetDeletionTimestamp()).NotTo(gomega.BeNil())
	}).Should(gomega.Succeed())
	g.Consistently(func(g gomega.Gomega) {
		g.Expect(get(g, configMapGVK, ns, "old-first").GetDeletionTimestamp()).To(gomega.BeNil(), "deleted before its dependent")
	}, 2*time.Second).Should(gomega.Succeed())
	setFinalizers(g, configMapGVK, ns, "old-second", nil)
	g.Eventually(func(g gomega.Gomega) {
		g.Expect(get(g, gvk, ns, "old")).To(gomega.BeNil())
	}).Should(gomega.Succeed())
	g.Expect(get(g, configMapGVK, ns, "old-first")).To(gomega.BeNil())
}
