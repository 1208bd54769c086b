package integration

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	goruntime "runtime"
	"testing"

	"github.com/onsi/gomega"
	lua "github.com/yuin/gopher-lua"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/kro-run/kro/internal/metadata"
)

// argoHealth runs docs/argocd/health.lua, the health check shipped for Argo CD, on obj as
// Argo CD does (a global obj, a returned table with status and message).
func argoHealth(g gomega.Gomega, obj *unstructured.Unstructured) (string, string) {
	_, file, _, _ := goruntime.Caller(0)
	script, err := os.ReadFile(filepath.Join(filepath.Dir(file), "..", "..", "docs", "argocd", "health.lua"))
	g.Expect(err).NotTo(gomega.HaveOccurred())
	L := lua.NewState()
	defer L.Close()
	L.SetGlobal("obj", toLua(L, obj.Object))
	g.Expect(L.DoString(string(script))).To(gomega.Succeed())
	hs, ok := L.Get(-1).(*lua.LTable)
	g.Expect(ok).To(gomega.BeTrue(), "the script returns a table")
	return hs.RawGetString("status").String(), hs.RawGetString("message").String()
}

func toLua(L *lua.LState, v any) lua.LValue {
	switch v := v.(type) {
	case map[string]any:
		t := L.NewTable()
		for k, e := range v {
			t.RawSetString(k, toLua(L, e))
		}
		return t
	case []any:
		t := L.NewTable()
		for _, e := range v {
			t.Append(toLua(L, e))
		}
		return t
	case string:
		return lua.LString(v)
	case bool:
		return lua.LBool(v)
	case int64:
		return lua.LNumber(v)
	case float64:
		return lua.LNumber(v)
	}
	return lua.LNil
}

// TestArgoCD checks the Argo CD integration: the health check shipped in docs/argocd on live
// instances in every state, with kro's conditions and with an RGD's own; the instance's
// tracking annotation copied to its children; and the reference FAQ's template (tracking
// annotation and owner reference written by the template) working unchanged.
func TestArgoCD(t *testing.T) {
	g := gomega.NewWithT(t)
	ctx := context.Background()
	applyRGD(t, g, `
apiVersion: kro.run/v1alpha1
kind: ResourceGraphDefinition
metadata:
  name: it-argo
spec:
  schema:
    apiVersion: v1alpha1
    kind: ItArgo
    group: argo.example.com
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
  - id: faq
    template:
      apiVersion: v1
      kind: ConfigMap
      metadata:
        name: "${schema.metadata.name}-faq"
        annotations:
          argocd.argoproj.io/tracking-id: "${schema.metadata.annotations['argocd.argoproj.io/tracking-id']}-from-template"
        ownerReferences:
        - apiVersion: "${schema.apiVersion}"
          kind: "${schema.kind}"
          name: "${schema.metadata.name}"
          uid: "${schema.metadata.uid}"
          blockOwnerDeletion: true
          controller: false
`)
	waitRGDActive(g, "it-argo")
	gvk := instanceGVK("ItArgo")
	gvk.Group = "argo.example.com"
	ns := newNamespace(t, g)
	const tracking = "my-app:argo.example.com/ItArgo:ns/a"
	health := func(g gomega.Gomega) (string, string) { return argoHealth(g, get(g, gvk, ns, "a")) }

	inst := object(g, "{apiVersion: argo.example.com/v1alpha1, kind: ItArgo, metadata: {name: a, namespace: %s, annotations: {%q: %q}, finalizers: [test.kro.run/hold]}}", ns, metadata.ArgoCDTrackingAnnotation, tracking)
	g.Expect(env.client.Create(ctx, inst)).To(gomega.Succeed())
	waitState(g, gvk, ns, "a", "IN_PROGRESS")
	g.Eventually(func(g gomega.Gomega) {
		status, msg := health(g)
		g.Expect(status).To(gomega.Equal("Progressing"))
		g.Expect(msg).To(gomega.ContainSubstring("a-input"))
	}).Should(gomega.Succeed())

	g.Expect(env.client.Create(ctx, object(g, "{apiVersion: v1, kind: ConfigMap, metadata: {name: a-input, namespace: %s}}", ns))).To(gomega.Succeed())
	waitState(g, gvk, ns, "a", "ACTIVE")
	g.Eventually(func(g gomega.Gomega) {
		status, _ := health(g)
		g.Expect(status).To(gomega.Equal("Healthy"))
	}).Should(gomega.Succeed())

	// Children: the tracking annotation is copied; a template that sets it keeps its own, and
	// the FAQ's owner reference is applied as written.
	svc := get(g, serviceGVK, ns, "a-input-svc")
	g.Expect(svc.GetAnnotations()).To(gomega.HaveKeyWithValue(metadata.ArgoCDTrackingAnnotation, tracking))
	faq := get(g, configMapGVK, ns, "a-faq")
	g.Expect(faq.GetAnnotations()).To(gomega.HaveKeyWithValue(metadata.ArgoCDTrackingAnnotation, tracking+"-from-template"))
	g.Expect(faq.GetOwnerReferences()).To(gomega.HaveLen(1))
	g.Expect(faq.GetOwnerReferences()[0].UID).To(gomega.Equal(get(g, gvk, ns, "a").GetUID()))

	patchSpec(g, gvk, ns, "a", map[string]any{"port": int64(70000)})
	waitState(g, gvk, ns, "a", "ERROR")
	g.Eventually(func(g gomega.Gomega) {
		status, msg := health(g)
		g.Expect(status).To(gomega.Equal("Degraded"))
		g.Expect(msg).To(gomega.ContainSubstring("70000"))
	}).Should(gomega.Succeed())

	// A spec change not yet reconciled is Progressing, whatever the state says.
	stale := get(g, gvk, ns, "a")
	stale.SetGeneration(stale.GetGeneration() + 1)
	status, _ := argoHealth(g, stale)
	g.Expect(status).To(gomega.Equal("Progressing"))

	g.Expect(env.client.Delete(ctx, get(g, gvk, ns, "a"))).To(gomega.Succeed())
	g.Eventually(func(g gomega.Gomega) {
		status, msg := health(g)
		g.Expect(status).To(gomega.Equal("Progressing"))
		g.Expect(msg).To(gomega.ContainSubstring("deleted"))
	}).Should(gomega.Succeed())
	setFinalizers(g, gvk, ns, "a", nil)

	// An RGD with its own conditions (no Ready among them) is Healthy once ACTIVE.
	applyRGD(t, g, `
apiVersion: kro.run/v1alpha1
kind: ResourceGraphDefinition
metadata:
  name: it-argo-custom
spec:
  schema:
    apiVersion: v1alpha1
    kind: ItArgoCustom
    status:
      conditions:
      - "${runtime.newCondition({type: 'Configured', status: config.metadata.name != '' ? 'True' : 'False', reason: 'Checked', message: 'configured'})}"
  resources:
  - id: config
    template:
      apiVersion: v1
      kind: ConfigMap
      metadata: {name: "${schema.metadata.name}-custom"}
`)
	waitRGDActive(g, "it-argo-custom")
	g.Expect(env.client.Create(ctx, object(g, "{apiVersion: kro.run/v1alpha1, kind: ItArgoCustom, metadata: {name: c, namespace: %s}}", ns))).To(gomega.Succeed())
	waitState(g, instanceGVK("ItArgoCustom"), ns, "c", "ACTIVE")
	g.Eventually(func(g gomega.Gomega) {
		c := get(g, instanceGVK("ItArgoCustom"), ns, "c")
		status, _ := argoHealth(g, c)
		g.Expect(status).To(gomega.Equal("Healthy"), fmt.Sprint(c.Object["status"]))
	}).Should(gomega.Succeed())
}
