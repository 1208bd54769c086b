package integration

import (
	"context"
	"testing"

	"github.com/onsi/gomega"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/client"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"

	"github.com/kro-run/kro/internal/metadata"
)

const webAppRGD = `
apiVersion: kro.run/v1alpha1
kind: ResourceGraphDefinition
metadata:
  name: it-webapp
spec:
  schema:
    apiVersion: v1alpha1
    kind: ItWebApp
    spec:
      name: string | required=true
      image: string | default="nginx:1.27"
      replicas: integer | default=1
      message: string | default="hello"
    status:
      deploymentName: ${deployment.metadata.name}
      port: ${service.spec.ports[0].port}
  resources:
  - id: service
    template:
      apiVersion: v1
      kind: Service
      metadata:
        name: ${schema.spec.name}
      spec:
        selector: ${deployment.spec.template.metadata.labels}
        ports:
        - port: 80
  - id: deployment
    template:
      apiVersion: apps/v1
      kind: Deployment
      metadata:
        name: ${schema.spec.name}
      spec:
        replicas: ${schema.spec.replicas}
        selector:
          matchLabels:
            app: ${schema.spec.name}
        template:
          metadata:
            labels:
              app: ${schema.spec.name}
              tier: web
          spec:
            containers:
            - name: web
              image: ${schema.spec.image}
              envFrom:
              - configMapRef:
                  name: ${config.metadata.name}
  - id: config
    template:
      apiVersion: v1
      kind: ConfigMap
      metadata:
        name: ${schema.spec.name}-config
      data:
        MESSAGE: "${schema.spec.message} from ${schema.metadata.name}"
`

var itWebAppGVK = schema.GroupVersionKind{Group: "kro.run", Version: "v1alpha1", Kind: "ItWebApp"}

func TestWebApp(t *testing.T) {
	g := gomega.NewWithT(t)
	ctx := context.Background()
	applyRGD(t, g, webAppRGD)

	// The RGD is accepted, its CRD registered, and the order follows the references.
	rgd := waitRGDActive(g, "it-webapp")
	g.Expect(rgd.Status.TopologicalOrder).To(gomega.Equal([]string{"config", "deployment", "service"}))
	for _, c := range []string{"GraphAccepted", "KindReady", "ControllerReady", "Ready"} {
		g.Expect(rgdCondition(g, "it-webapp", c).Status).To(gomega.Equal(metav1.ConditionTrue), c)
	}
	crd := &apiextensionsv1.CustomResourceDefinition{}
	g.Expect(env.client.Get(ctx, client.ObjectKey{Name: "itwebapps.kro.run"}, crd)).To(gomega.Succeed())
	g.Expect(crd.Labels).To(gomega.HaveKeyWithValue(metadata.ResourceGraphDefinitionNameLabel, "it-webapp"))
	g.Expect(crd.Spec.Versions[0].Subresources.Status).NotTo(gomega.BeNil())

	ns := newNamespace(t, g)
	inst := object(g, `
apiVersion: kro.run/v1alpha1
kind: ItWebApp
metadata: {name: shop, namespace: %s}
spec: {name: shop, message: hi}
`, ns)
	g.Expect(env.client.Create(ctx, inst)).To(gomega.Succeed())

	t.Run("children are created with values wired from schema and other resources", func(t *testing.T) {
		g := gomega.NewWithT(t)
		g.Eventually(func(g gomega.Gomega) {
			cm := get(g, configMapGVK, ns, "shop-config")
			g.Expect(cm).NotTo(gomega.BeNil())
			g.Expect(str(cm, "data", "MESSAGE")).To(gomega.Equal("hi from shop"))
			dep := get(g, deploymentGVK, ns, "shop")
			g.Expect(dep).NotTo(gomega.BeNil())
			replicas, _, _ := unstructured.NestedInt64(dep.Object, "spec", "replicas")
			g.Expect(replicas).To(gomega.Equal(int64(1)))
			svc := get(g, serviceGVK, ns, "shop")
			g.Expect(svc).NotTo(gomega.BeNil())
			sel, _, _ := unstructured.NestedStringMap(svc.Object, "spec", "selector")
			g.Expect(sel).To(gomega.Equal(map[string]string{"app": "shop", "tier": "web"}))
			g.Expect(svc.GetLabels()).To(gomega.HaveKeyWithValue(metadata.NodeIDLabel, "service"))
			g.Expect(svc.GetLabels()).To(gomega.HaveKeyWithValue(metadata.InstanceNameLabel, "shop"))
			g.Expect(svc.GetLabels()).To(gomega.HaveKeyWithValue(metadata.ManagedByLabel, "kro"))
		}).Should(gomega.Succeed())
	})

	t.Run("instance becomes ACTIVE with status fields and kro metadata", func(t *testing.T) {
		g := gomega.NewWithT(t)
		g.Eventually(func(g gomega.Gomega) {
			got := get(g, itWebAppGVK, ns, "shop")
			g.Expect(str(got, "status", "state")).To(gomega.Equal("ACTIVE"))
			g.Expect(str(got, "status", "deploymentName")).To(gomega.Equal("shop"))
			port, _, _ := unstructured.NestedInt64(got.Object, "status", "port")
			g.Expect(port).To(gomega.Equal(int64(80)))
			g.Expect(got.GetFinalizers()).To(gomega.ContainElement(metadata.Finalizer))
			g.Expect(got.GetLabels()).To(gomega.HaveKeyWithValue(metadata.ApplySetIDLabel,
				metadata.ApplySetID("shop", ns, "ItWebApp", "kro.run")))
			g.Expect(got.GetAnnotations()).To(gomega.HaveKeyWithValue(metadata.ApplySetGroupKindsAnnotation, "ConfigMap,Deployment.apps,Service"))
			g.Expect(got.GetAnnotations()).To(gomega.HaveKeyWithValue(metadata.ApplySetAdditionalNamespacesAnnotation, ""))
			conds, _, _ := unstructured.NestedSlice(got.Object, "status", "conditions")
			types := map[string]any{}
			for _, c := range conds {
				m := c.(map[string]any)
				types[m["type"].(string)] = m["status"]
				g.Expect(m["observedGeneration"]).To(gomega.Equal(got.GetGeneration()))
			}
			// The reference's four; kstatus's Reconciling and Stalled appear only while True.
			g.Expect(types).To(gomega.Equal(map[string]any{"InstanceManaged": "True", "GraphResolved": "True", "ResourcesReady": "True", "Ready": "True"}))
		}).Should(gomega.Succeed())
	})

	t.Run("instance update propagates to children", func(t *testing.T) {
		g := gomega.NewWithT(t)
		cur := get(g, itWebAppGVK, ns, "shop")
		patch := client.MergeFrom(cur.DeepCopy())
		g.Expect(unstructured.SetNestedField(cur.Object, int64(3), "spec", "replicas")).To(gomega.Succeed())
		g.Expect(unstructured.SetNestedField(cur.Object, "bye", "spec", "message")).To(gomega.Succeed())
		g.Expect(env.client.Patch(ctx, cur, patch)).To(gomega.Succeed())
		g.Eventually(func(g gomega.Gomega) {
			dep := get(g, deploymentGVK, ns, "shop")
			replicas, _, _ := unstructured.NestedInt64(dep.Object, "spec", "replicas")
			g.Expect(replicas).To(gomega.Equal(int64(3)))
			g.Expect(str(get(g, configMapGVK, ns, "shop-config"), "data", "MESSAGE")).To(gomega.Equal("bye from shop"))
		}).Should(gomega.Succeed())
	})

	t.Run("a deleted child is recreated and an edited one repaired", func(t *testing.T) {
		g := gomega.NewWithT(t)
		cm := get(g, configMapGVK, ns, "shop-config")
		oldUID := cm.GetUID()
		g.Expect(env.client.Delete(ctx, cm)).To(gomega.Succeed())
		g.Eventually(func(g gomega.Gomega) {
			cm := get(g, configMapGVK, ns, "shop-config")
			g.Expect(cm).NotTo(gomega.BeNil())
			g.Expect(cm.GetUID()).NotTo(gomega.Equal(oldUID))
		}).Should(gomega.Succeed())

		setField(g, configMapGVK, ns, "shop-config", "tampered", "data", "MESSAGE")
		g.Eventually(func(g gomega.Gomega) {
			g.Expect(str(get(g, configMapGVK, ns, "shop-config"), "data", "MESSAGE")).To(gomega.Equal("bye from shop"))
		}).Should(gomega.Succeed())
	})

	t.Run("deleting the instance deletes dependents first", func(t *testing.T) {
		g := gomega.NewWithT(t)
		// A foreign finalizer on the Service (the last node) holds the first wave open.
		const hold = "test.kro.run/hold"
		svc := get(g, serviceGVK, ns, "shop")
		patch := client.MergeFrom(svc.DeepCopy())
		svc.SetFinalizers([]string{hold})
		g.Expect(env.client.Patch(ctx, svc, patch)).To(gomega.Succeed())

		g.Expect(env.client.Delete(ctx, get(g, itWebAppGVK, ns, "shop"))).To(gomega.Succeed())
		g.Eventually(func(g gomega.Gomega) {
			g.Expect(get(g, serviceGVK, ns, "shop").GetDeletionTimestamp()).NotTo(gomega.BeNil())
			g.Expect(str(get(g, itWebAppGVK, ns, "shop"), "status", "state")).To(gomega.Equal("DELETING"))
		}).Should(gomega.Succeed())
		g.Consistently(func(g gomega.Gomega) {
			dep := get(g, deploymentGVK, ns, "shop")
			g.Expect(dep).NotTo(gomega.BeNil())
			g.Expect(dep.GetDeletionTimestamp()).To(gomega.BeNil(), "deployment deleted before its dependent service")
			g.Expect(get(g, configMapGVK, ns, "shop-config").GetDeletionTimestamp()).To(gomega.BeNil())
		}).Should(gomega.Succeed())

		svc = get(g, serviceGVK, ns, "shop")
		patch = client.MergeFrom(svc.DeepCopy())
		svc.SetFinalizers(nil)
		g.Expect(env.client.Patch(ctx, svc, patch)).To(gomega.Succeed())
		g.Eventually(func(g gomega.Gomega) {
			g.Expect(get(g, deploymentGVK, ns, "shop")).To(gomega.BeNil())
			g.Expect(get(g, configMapGVK, ns, "shop-config")).To(gomega.BeNil())
			g.Expect(get(g, itWebAppGVK, ns, "shop")).To(gomega.BeNil())
		}).Should(gomega.Succeed())
	})
}
