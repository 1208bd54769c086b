package integration

import (
	"context"
	"testing"

	"github.com/onsi/gomega"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"
)

// instanceGVK is the GroupVersionKind of an RGD-generated kind in the default group.
func instanceGVK(kind string) schema.GroupVersionKind {
	return schema.GroupVersionKind{Group: "kro.run", Version: "v1alpha1", Kind: kind}
}

// condition returns the status condition of type t of obj, or nil.
func condition(obj *unstructured.Unstructured, t string) map[string]any {
	if obj == nil {
		return nil
	}
	conds, _, _ := unstructured.NestedSlice(obj.Object, "status", "conditions")
	for _, c := range conds {
		if m, ok := c.(map[string]any); ok && m["type"] == t {
			return m
		}
	}
	return nil
}

// setAnnotation sets (or, with value "", removes) an annotation of an object.
func setAnnotation(g gomega.Gomega, gvk schema.GroupVersionKind, ns, name, key, value string) {
	cur := get(g, gvk, ns, name)
	g.Expect(cur).NotTo(gomega.BeNil())
	patch := client.MergeFrom(cur.DeepCopy())
	a := cur.GetAnnotations()
	if a == nil {
		a = map[string]string{}
	}
	if value == "" {
		delete(a, key)
	} else {
		a[key] = value
	}
	cur.SetAnnotations(a)
	g.Expect(env.client.Patch(context.Background(), cur, patch)).To(gomega.Succeed())
}

// setField sets one field of an object (a merge patch, as a person's edit).
func setField(g gomega.Gomega, gvk schema.GroupVersionKind, ns, name string, value any, path ...string) {
	cur := get(g, gvk, ns, name)
	g.Expect(cur).NotTo(gomega.BeNil())
	patch := client.MergeFrom(cur.DeepCopy())
	g.Expect(unstructured.SetNestedField(cur.Object, value, path...)).To(gomega.Succeed())
	g.Expect(env.client.Patch(context.Background(), cur, patch)).To(gomega.Succeed())
}

// setFinalizers replaces the finalizers of an object.
func setFinalizers(g gomega.Gomega, gvk schema.GroupVersionKind, ns, name string, finalizers []string) {
	cur := get(g, gvk, ns, name)
	g.Expect(cur).NotTo(gomega.BeNil())
	patch := client.MergeFrom(cur.DeepCopy())
	cur.SetFinalizers(finalizers)
	g.Expect(env.client.Patch(context.Background(), cur, patch)).To(gomega.Succeed())
}

// widgetGVK is a tiny test CRD with a status subresource: envtest runs no controllers, so the
// tests write the status of its objects themselves.
var widgetGVK = schema.GroupVersionKind{Group: "test.kro.run", Version: "v1", Kind: "ItWidget"}

const widgetCRD = `
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: itwidgets.test.kro.run
spec:
  group: test.kro.run
  scope: Namespaced
  names: {kind: ItWidget, listKind: ItWidgetList, plural: itwidgets, singular: itwidget}
  versions:
  - name: v1
    served: true
    storage: true
    subresources: {status: {}}
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec:
            type: object
            properties:
              size: {type: integer}
          status:
            type: object
            properties:
              phase: {type: string}
`

// ensureWidgetCRD installs the ItWidget CRD (once; it is shared and kept) and waits until it
// is established.
func ensureWidgetCRD(t *testing.T, g gomega.Gomega) {
	t.Helper()
	crd := &apiextensionsv1.CustomResourceDefinition{}
	g.Expect(yaml.UnmarshalStrict([]byte(widgetCRD), crd)).To(gomega.Succeed())
	if err := env.client.Create(context.Background(), crd); err != nil && !apierrors.IsAlreadyExists(err) {
		g.Expect(err).NotTo(gomega.HaveOccurred())
	}
	g.Eventually(func(g gomega.Gomega) {
		crd := getCRD(g, "itwidgets.test.kro.run")
		g.Expect(crd).NotTo(gomega.BeNil())
		established := false
		for _, c := range crd.Status.Conditions {
			if c.Type == apiextensionsv1.Established && c.Status == apiextensionsv1.ConditionTrue {
				established = true
			}
		}
		g.Expect(established).To(gomega.BeTrue())
	}).Should(gomega.Succeed())
}

// setWidgetPhase writes status.phase of an ItWidget through the status subresource.
func setWidgetPhase(g gomega.Gomega, ns, name, phase string) {
	cur := get(g, widgetGVK, ns, name)
	g.Expect(cur).NotTo(gomega.BeNil())
	patch := client.MergeFrom(cur.DeepCopy())
	g.Expect(unstructured.SetNestedField(cur.Object, phase, "status", "phase")).To(gomega.Succeed())
	g.Expect(env.client.Status().Patch(context.Background(), cur, patch)).To(gomega.Succeed())
}
