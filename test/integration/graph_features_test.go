package integration

import (
	"context"
	"testing"

	"github.com/onsi/gomega"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/kro-run/kro/internal/metadata"
)

// patchSpec merge-patches fields of an instance's spec.
func patchSpec(g gomega.Gomega, gvk schema.GroupVersionKind, ns, name string, spec map[string]any) {
	cur := get(g, gvk, ns, name)
	patch := client.MergeFrom(cur.DeepCopy())
	for k, v := range spec {
		g.Expect(unstructured.SetNestedField(cur.Object, v, "spec", k)).To(gomega.Succeed())
	}
	g.Expect(env.client.Patch(context.Background(), cur, patch)).To(gomega.Succeed())
}

func listNames(g gomega.Gomega, gvk schema.GroupVersionKind, ns string, labels map[string]string) []string {
	list := &unstructured.UnstructuredList{}
	list.SetGroupVersionKind(gvk.GroupVersion().WithKind(gvk.Kind + "List"))
	g.Expect(env.client.List(context.Background(), list, client.InNamespace(ns), client.MatchingLabels(labels))).To(gomega.Succeed())
	var names []string
	for _, item := range list.Items {
		if item.GetDeletionTimestamp() == nil {
			names = append(names, item.GetName())
		}
	}
	return names
}

func TestIncludeWhen(t *testing.T) {
	g := gomega.NewWithT(t)
	ctx := context.Background()
	applyRGD(t, g, `
apiVersion: kro.run/v1alpha1
kind: ResourceGraphDefinition
metadata:
  name: it-include
spec:
  schema:
    apiVersion: v1alpha1
    kind: ItInclude
    spec:
      extra: boolean | default=false
  resources:
  - id: base
    template:
      apiVersion: v1
      kind: ConfigMap
      metadata: {name: "${schema.metadata.name}-base"}
  - id: extra
    includeWhen: ["${schema.spec.extra}"]
    template:
      apiVersion: v1
      kind: ConfigMap
      metadata: {name: "${schema.metadata.name}-extra"}
  - id: dependent
    template:
      apiVersion: v1
      kind: ConfigMap
      metadata: {name: "${extra.metadata.name}-dependent"}
`)
	waitRGDActive(g, "it-include")
	gvk := schema.GroupVersionKind{Group: "kro.run", Version: "v1alpha1", Kind: "ItInclude"}
	ns := newNamespace(t, g)
	g.Expect(env.client.Create(ctx, object(g, "{apiVersion: kro.run/v1alpha1, kind: ItInclude, metadata: {name: inc, namespace: %s}, spec: {extra: true}}", ns))).To(gomega.Succeed())
	children := map[string]string{metadata.InstanceNameLabel: "inc"}

	g.Eventually(func(g gomega.Gomega) {
		g.Expect(listNames(g, configMapGVK, ns, children)).To(gomega.ConsistOf("inc-base", "inc-extra", "inc-extra-dependent"))
		g.Expect(str(get(g, gvk, ns, "inc"), "status", "state")).To(gomega.Equal("ACTIVE"))
	}).Should(gomega.Succeed())

	// false: the node and its dependent are pruned.
	patchSpec(g, gvk, ns, "inc", map[string]any{"extra": false})
	g.Eventually(func(g gomega.Gomega) {
		g.Expect(listNames(g, configMapGVK, ns, children)).To(gomega.ConsistOf("inc-base"))
		g.Expect(str(get(g, gvk, ns, "inc"), "status", "state")).To(gomega.Equal("ACTIVE"))
	}).Should(gomega.Succeed())

	// true again: recreated.
	patchSpec(g, gvk, ns, "inc", map[string]any{"extra": true})
	g.Eventually(func(g gomega.Gomega) {
		g.Expect(listNames(g, configMapGVK, ns, children)).To(gomega.ConsistOf("inc-base", "inc-extra", "inc-extra-dependent"))
	}).Should(gomega.Succeed())
}

func TestForEach(t *testing.T) {
	g := gomega.NewWithT(t)
	ctx := context.Background()
	applyRGD(t, g, `
apiVersion: kro.run/v1alpha1
kind: ResourceGraphDefinition
metadata:
  name: it-foreach
spec:
  schema:
    apiVersion: v1alpha1
    kind: ItForEach
    spec:
      regions: "[]string"
      tiers: "[]string | default=[\"web\"]"
    status:
      names: ${configs.map(c, c.metadata.name)}
  resources:
  - id: configs
    forEach:
    - region: ${schema.spec.regions}
    - tier: ${schema.spec.tiers}
    readyWhen: ["${each.data.region != ''}"]
    template:
      apiVersion: v1
      kind: ConfigMap
      metadata: {name: "${schema.metadata.name}-${region}-${tier}"}
      data: {region: "${region}", tier: "${tier}"}
  - id: summary
    template:
      apiVersion: v1
      kind: ConfigMap
      metadata: {name: "${schema.metadata.name}-summary"}
      data:
        count: ${string(size(configs))}
`)
	waitRGDActive(g, "it-foreach")
	gvk := schema.GroupVersionKind{Group: "kro.run", Version: "v1alpha1", Kind: "ItForEach"}
	ns := newNamespace(t, g)
	g.Expect(env.client.Create(ctx, object(g, "{apiVersion: kro.run/v1alpha1, kind: ItForEach, metadata: {name: fe, namespace: %s}, spec: {regions: [eu, us], tiers: [web, db]}}", ns))).To(gomega.Succeed())
	items := map[string]string{metadata.NodeIDLabel: "configs", metadata.InstanceNameLabel: "fe"}

	g.Eventually(func(g gomega.Gomega) {
		g.Expect(listNames(g, configMapGVK, ns, items)).To(gomega.ConsistOf("fe-eu-web", "fe-eu-db", "fe-us-web", "fe-us-db"))
		g.Expect(str(get(g, configMapGVK, ns, "fe-summary"), "data", "count")).To(gomega.Equal("4"))
		item := get(g, configMapGVK, ns, "fe-us-db")
		g.Expect(item.GetLabels()).To(gomega.HaveKeyWithValue(metadata.CollectionIndexLabel, "3"))
		g.Expect(item.GetLabels()).To(gomega.HaveKeyWithValue(metadata.CollectionSizeLabel, "4"))
		inst := get(g, gvk, ns, "fe")
		g.Expect(str(inst, "status", "state")).To(gomega.Equal("ACTIVE"))
		names, _, _ := unstructured.NestedStringSlice(inst.Object, "status", "names")
		g.Expect(names).To(gomega.Equal([]string{"fe-eu-web", "fe-eu-db", "fe-us-web", "fe-us-db"}))
	}).Should(gomega.Succeed())

	// Shrinking prunes the items no longer wanted.
	patchSpec(g, gvk, ns, "fe", map[string]any{"regions": []any{"us"}, "tiers": []any{"web"}})
	g.Eventually(func(g gomega.Gomega) {
		g.Expect(listNames(g, configMapGVK, ns, items)).To(gomega.ConsistOf("fe-us-web"))
		g.Expect(str(get(g, configMapGVK, ns, "fe-summary"), "data", "count")).To(gomega.Equal("1"))
	}).Should(gomega.Succeed())

	// Growing creates the new ones.
	patchSpec(g, gvk, ns, "fe", map[string]any{"regions": []any{"us", "ap"}})
	g.Eventually(func(g gomega.Gomega) {
		g.Expect(listNames(g, configMapGVK, ns, items)).To(gomega.ConsistOf("fe-us-web", "fe-ap-web"))
	}).Should(gomega.Succeed())
}

func TestExternalRef(t *testing.T) {
	g := gomega.NewWithT(t)
	ctx := context.Background()
	applyRGD(t, g, `
apiVersion: kro.run/v1alpha1
kind: ResourceGraphDefinition
metadata:
  name: it-external
spec:
  schema:
    apiVersion: v1alpha1
    kind: ItExternal
    spec:
      settings: string
  resources:
  - id: settings
    externalRef:
      apiVersion: v1
      kind: ConfigMap
      metadata: {name: "${schema.spec.settings}"}
  - id: team
    externalRef:
      apiVersion: v1
      kind: ConfigMap
      metadata:
        selector:
          matchLabels: {team: "${schema.metadata.name}"}
  - id: derived
    template:
      apiVersion: v1
      kind: ConfigMap
      metadata: {name: "${schema.metadata.name}-derived"}
      data:
        color: ${settings.data.color}
        members: ${team.map(m, m.metadata.name).join(",")}
`)
	waitRGDActive(g, "it-external")
	gvk := schema.GroupVersionKind{Group: "kro.run", Version: "v1alpha1", Kind: "ItExternal"}
	ns := newNamespace(t, g)
	g.Expect(env.client.Create(ctx, object(g, "{apiVersion: kro.run/v1alpha1, kind: ItExternal, metadata: {name: ext, namespace: %s}, spec: {settings: shared}}", ns))).To(gomega.Succeed())

	// The referenced object does not exist yet: the instance waits and says on what.
	g.Eventually(func(g gomega.Gomega) {
		inst := get(g, gvk, ns, "ext")
		g.Expect(str(inst, "status", "state")).To(gomega.Equal("IN_PROGRESS"))
		conds, _, _ := unstructured.NestedSlice(inst.Object, "status", "conditions")
		g.Expect(conds).To(gomega.ContainElement(gomega.And(
			gomega.HaveKeyWithValue("type", "ResourcesReady"),
			gomega.HaveKeyWithValue("message", gomega.ContainSubstring(`resource "settings" is waiting for external ConfigMap `+ns+"/shared")))))
	}).Should(gomega.Succeed())

	// It appears late: the instance continues at once (watch, not polling).
	g.Expect(env.client.Create(ctx, object(g, "{apiVersion: v1, kind: ConfigMap, metadata: {name: shared, namespace: %s}, data: {color: blue}}", ns))).To(gomega.Succeed())
	g.Eventually(func(g gomega.Gomega) {
		d := get(g, configMapGVK, ns, "ext-derived")
		g.Expect(d).NotTo(gomega.BeNil())
		g.Expect(str(d, "data", "color")).To(gomega.Equal("blue"))
		g.Expect(str(d, "data", "members")).To(gomega.Equal(""))
		g.Expect(str(get(g, gvk, ns, "ext"), "status", "state")).To(gomega.Equal("ACTIVE"))
	}).Should(gomega.Succeed())

	// The selector gains members; the external object changes.
	g.Expect(env.client.Create(ctx, object(g, "{apiVersion: v1, kind: ConfigMap, metadata: {name: alice, namespace: %s, labels: {team: ext}}}", ns))).To(gomega.Succeed())
	g.Expect(env.client.Create(ctx, object(g, "{apiVersion: v1, kind: ConfigMap, metadata: {name: bob, namespace: %s, labels: {team: ext}}}", ns))).To(gomega.Succeed())
	setField(g, configMapGVK, ns, "shared", "green", "data", "color")
	g.Eventually(func(g gomega.Gomega) {
		d := get(g, configMapGVK, ns, "ext-derived")
		g.Expect(str(d, "data", "members")).To(gomega.Equal("alice,bob"))
		g.Expect(str(d, "data", "color")).To(gomega.Equal("green"))
	}).Should(gomega.Succeed())

	// kro never deletes an external reference.
	g.Expect(env.client.Delete(ctx, get(g, gvk, ns, "ext"))).To(gomega.Succeed())
	g.Eventually(func(g gomega.Gomega) {
		g.Expect(get(g, gvk, ns, "ext")).To(gomega.BeNil())
		g.Expect(get(g, configMapGVK, ns, "ext-derived")).To(gomega.BeNil())
	}).Should(gomega.Succeed())
	g.Expect(get(g, configMapGVK, ns, "shared")).NotTo(gomega.BeNil())
	g.Expect(get(g, configMapGVK, ns, "alice")).NotTo(gomega.BeNil())
}

// TestSelectorExternalRefReadyWhen checks readyWhen on an externalRef that selects by labels:
// it reads each selected object as `each`, and the resource is ready when every one is (none
// selected is ready, as for an empty collection); until then its dependents wait and the
// instance says which object is not ready.
func TestSelectorExternalRefReadyWhen(t *testing.T) {
	g := gomega.NewWithT(t)
	ctx := context.Background()
	applyRGD(t, g, `
apiVersion: kro.run/v1alpha1
kind: ResourceGraphDefinition
metadata:
  name: it-external-ready
spec:
  schema:
    apiVersion: v1alpha1
    kind: ItExternalReady
  resources:
  - id: crew
    externalRef:
      apiVersion: v1
      kind: ConfigMap
      metadata:
        selector:
          matchLabels: {crew: "${schema.metadata.name}"}
    readyWhen:
    - ${each.data.?ready.orValue("") == "true"}
  - id: roster
    template:
      apiVersion: v1
      kind: ConfigMap
      metadata: {name: "${schema.metadata.name}-roster"}
      data:
        members: ${crew.map(m, m.metadata.name).join(",")}
`)
	waitRGDActive(g, "it-external-ready")
	gvk := instanceGVK("ItExternalReady")
	ns := newNamespace(t, g)
	g.Expect(env.client.Create(ctx, object(g, "{apiVersion: v1, kind: ConfigMap, metadata: {name: alice, namespace: %s, labels: {crew: squad}}, data: {ready: 'true'}}", ns))).To(gomega.Succeed())
	g.Expect(env.client.Create(ctx, object(g, "{apiVersion: v1, kind: ConfigMap, metadata: {name: bob, namespace: %s, labels: {crew: squad}}, data: {ready: 'false'}}", ns))).To(gomega.Succeed())
	g.Expect(env.client.Create(ctx, object(g, "{apiVersion: kro.run/v1alpha1, kind: ItExternalReady, metadata: {name: squad, namespace: %s}}", ns))).To(gomega.Succeed())

	// bob is not ready: roster waits, and the instance names the resource, the object and the
	// expression.
	g.Eventually(func(g gomega.Gomega) {
		inst := get(g, gvk, ns, "squad")
		g.Expect(str(inst, "status", "state")).To(gomega.Equal("IN_PROGRESS"))
		g.Expect(condition(inst, "ResourcesReady")).To(gomega.HaveKeyWithValue("message", gomega.ContainSubstring(
			`resource "crew" item 1 (`+ns+`/bob) is not ready: readyWhen "each.data.?ready.orValue(\"\") == \"true\""`)))
	}).Should(gomega.Succeed())
	g.Consistently(func(g gomega.Gomega) {
		g.Expect(get(g, configMapGVK, ns, "squad-roster")).To(gomega.BeNil())
	}).Should(gomega.Succeed())

	// bob becomes ready: the instance goes on at once.
	setField(g, configMapGVK, ns, "bob", "true", "data", "ready")
	g.Eventually(func(g gomega.Gomega) {
		roster := get(g, configMapGVK, ns, "squad-roster")
		g.Expect(roster).NotTo(gomega.BeNil())
		g.Expect(str(roster, "data", "members")).To(gomega.Equal("alice,bob"))
		g.Expect(str(get(g, gvk, ns, "squad"), "status", "state")).To(gomega.Equal("ACTIVE"))
	}).Should(gomega.Succeed())

	// Nothing selected is ready.
	for _, name := range []string{"alice", "bob"} {
		g.Expect(env.client.Delete(ctx, get(g, configMapGVK, ns, name))).To(gomega.Succeed())
	}
	g.Eventually(func(g gomega.Gomega) {
		g.Expect(get(g, configMapGVK, ns, "squad-roster").Object).To(gomega.HaveKeyWithValue("data", gomega.HaveKeyWithValue("members", "")))
		g.Expect(str(get(g, gvk, ns, "squad"), "status", "state")).To(gomega.Equal("ACTIVE"))
	}).Should(gomega.Succeed())
}

func TestSecretDataIsBytes(t *testing.T) {
	g := gomega.NewWithT(t)
	ctx := context.Background()
	applyRGD(t, g, `
apiVersion: kro.run/v1alpha1
kind: ResourceGraphDefinition
metadata:
  name: it-secret
spec:
  schema:
    apiVersion: v1alpha1
    kind: ItSecret
    spec:
      password: string
  resources:
  - id: secret
    template:
      apiVersion: v1
      kind: Secret
      metadata: {name: "${schema.metadata.name}-creds"}
      stringData:
        password: ${schema.spec.password}
  - id: reader
    template:
      apiVersion: v1
      kind: ConfigMap
      metadata: {name: "${schema.metadata.name}-reader"}
      data:
        decoded: ${string(secret.data.password)}
        length: ${string(size(secret.data.password))}
`)
	waitRGDActive(g, "it-secret")
	ns := newNamespace(t, g)
	g.Expect(env.client.Create(ctx, object(g, "{apiVersion: kro.run/v1alpha1, kind: ItSecret, metadata: {name: s, namespace: %s}, spec: {password: hunter2}}", ns))).To(gomega.Succeed())
	g.Eventually(func(g gomega.Gomega) {
		cm := get(g, configMapGVK, ns, "s-reader")
		g.Expect(cm).NotTo(gomega.BeNil())
		g.Expect(str(cm, "data", "decoded")).To(gomega.Equal("hunter2"))
		g.Expect(str(cm, "data", "length")).To(gomega.Equal("7"))
	}).Should(gomega.Succeed())
}

func TestCustomConditionsAndOmit(t *testing.T) {
	g := gomega.NewWithT(t)
	ctx := context.Background()
	applyRGD(t, g, `
apiVersion: kro.run/v1alpha1
kind: ResourceGraphDefinition
metadata:
  name: it-conditions
spec:
  schema:
    apiVersion: v1alpha1
    kind: ItConditions
    spec:
      color: string | default=""
    status:
      conditions:
      - "${runtime.newCondition({type: 'Colored', status: has(config.data.color) ? 'True' : 'False', reason: 'ColorSet', message: 'color is ' + config.data.?color.orValue('unset')})}"
      - "${runtime.newCondition({type: 'KroReady', status: runtime.condition(schema, 'ResourcesReady').status, reason: 'FromKro', message: ''})}"
  resources:
  - id: config
    template:
      apiVersion: v1
      kind: ConfigMap
      metadata: {name: "${schema.metadata.name}-config"}
      data:
        color: "${schema.spec.color != '' ? schema.spec.color : omit()}"
        fixed: "x"
`)
	waitRGDActive(g, "it-conditions")
	gvk := schema.GroupVersionKind{Group: "kro.run", Version: "v1alpha1", Kind: "ItConditions"}
	ns := newNamespace(t, g)
	g.Expect(env.client.Create(ctx, object(g, "{apiVersion: kro.run/v1alpha1, kind: ItConditions, metadata: {name: c, namespace: %s}, spec: {}}", ns))).To(gomega.Succeed())

	conditionsOf := func(g gomega.Gomega) map[string]string {
		inst := get(g, gvk, ns, "c")
		g.Expect(str(inst, "status", "state")).To(gomega.Equal("ACTIVE"))
		conds, _, _ := unstructured.NestedSlice(inst.Object, "status", "conditions")
		out := map[string]string{}
		for _, c := range conds {
			m := c.(map[string]any)
			if t := m["type"].(string); t != "Reconciling" && t != "Stalled" { // kstatus's, beyond the reference
				out[t] = m["status"].(string) + "/" + m["message"].(string)
			}
		}
		return out
	}
	// Only the RGD's own conditions are written; omit() dropped the color key.
	g.Eventually(func(g gomega.Gomega) {
		g.Expect(conditionsOf(g)).To(gomega.Equal(map[string]string{"Colored": "False/color is unset", "KroReady": "True/"}))
		cm := get(g, configMapGVK, ns, "c-config")
		data, _, _ := unstructured.NestedStringMap(cm.Object, "data")
		g.Expect(data).To(gomega.Equal(map[string]string{"fixed": "x"}))
	}).Should(gomega.Succeed())

	patchSpec(g, gvk, ns, "c", map[string]any{"color": "red"})
	g.Eventually(func(g gomega.Gomega) {
		g.Expect(conditionsOf(g)).To(gomega.HaveKeyWithValue("Colored", "True/color is red"))
		g.Expect(str(get(g, configMapGVK, ns, "c-config"), "data", "color")).To(gomega.Equal("red"))
	}).Should(gomega.Succeed())

	// Omitted again: the field kro applied before is removed from the object.
	patchSpec(g, gvk, ns, "c", map[string]any{"color": ""})
	g.Eventually(func(g gomega.Gomega) {
		data, _, _ := unstructured.NestedStringMap(get(g, configMapGVK, ns, "c-config").Object, "data")
		g.Expect(data).To(gomega.Equal(map[string]string{"fixed": "x"}))
	}).Should(gomega.Succeed())
}

// TestRGDDeletionWaitsForInstances checks that deleting an RGD (without --allow-crd-deletion)
// never strands an instance: the RGD stays, saying how many instances hold it, while its
// controller keeps deleting the resources of each instance deleted; it goes with the last one.
func TestRGDDeletionWaitsForInstances(t *testing.T) {
	g := gomega.NewWithT(t)
	ctx := context.Background()
	rgd := applyRGD(t, g, `
apiVersion: kro.run/v1alpha1
kind: ResourceGraphDefinition
metadata:
  name: it-release
spec:
  schema:
    apiVersion: v1alpha1
    kind: ItRelease
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
`)
	waitRGDActive(g, "it-release")
	gvk := instanceGVK("ItRelease")
	ns := newNamespace(t, g)
	for _, name := range []string{"r1", "r2"} {
		g.Expect(env.client.Create(ctx, object(g, "{apiVersion: kro.run/v1alpha1, kind: ItRelease, metadata: {name: %s, namespace: %s}}", name, ns))).To(gomega.Succeed())
	}
	g.Eventually(func(g gomega.Gomega) {
		for _, name := range []string{"r1", "r2"} {
			g.Expect(str(get(g, gvk, ns, name), "status", "state")).To(gomega.Equal("ACTIVE"))
		}
	}).Should(gomega.Succeed())

	g.Expect(env.client.Delete(ctx, rgd)).To(gomega.Succeed())
	waitRGDWaitingFor(g, "it-release", "2 instances of ItRelease.kro.run must be deleted first")
	for _, name := range []string{"r1", "r2"} {
		g.Expect(get(g, gvk, ns, name).GetFinalizers()).To(gomega.ContainElement(metadata.Finalizer))
	}

	// Deleting an instance still deletes its resources.
	g.Expect(env.client.Delete(ctx, get(g, gvk, ns, "r1"))).To(gomega.Succeed())
	g.Eventually(func(g gomega.Gomega) {
		g.Expect(get(g, gvk, ns, "r1")).To(gomega.BeNil())
		g.Expect(listNames(g, configMapGVK, ns, map[string]string{metadata.InstanceNameLabel: "r1"})).To(gomega.BeEmpty())
	}).Should(gomega.Succeed())
	waitRGDWaitingFor(g, "it-release", "1 instance of ItRelease.kro.run must be deleted first")

	// The last instance lets the RGD go; the CRD is kept.
	g.Expect(env.client.Delete(ctx, get(g, gvk, ns, "r2"))).To(gomega.Succeed())
	g.Eventually(func(g gomega.Gomega) {
		g.Expect(get(g, gvk, ns, "r2")).To(gomega.BeNil())
		g.Expect(listNames(g, configMapGVK, ns, map[string]string{metadata.InstanceNameLabel: "r2"})).To(gomega.BeEmpty())
		g.Expect(apierrors.IsNotFound(env.client.Get(ctx, client.ObjectKeyFromObject(rgd), rgd))).To(gomega.BeTrue(), "RGD is gone")
	}).Should(gomega.Succeed())
	g.Expect(getCRD(g, "itreleases.kro.run")).NotTo(gomega.BeNil(), "the CRD is kept")
}
