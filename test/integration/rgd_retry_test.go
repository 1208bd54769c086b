package integration

import (
	"context"
	"testing"

	"github.com/onsi/gomega"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/util/retry"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"
)

// sprocketCRD defines ItSprocket, a kind owned by the test that uses it; sprocketCRDv2 adds the
// field spec.color.
const sprocketCRD = `
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: itsprockets.test.kro.run
spec:
  group: test.kro.run
  scope: Namespaced
  names: {kind: ItSprocket, listKind: ItSprocketList, plural: itsprockets, singular: itsprocket}
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

// TestSchemaChangeRechecksRGDs checks that an RGD refused against a kind's live schema is
// checked again when the kind's CRD changes, without any change to the RGD: here the field it
// sets is added to the CRD.
func TestSchemaChangeRechecksRGDs(t *testing.T) {
	g := gomega.NewWithT(t)
	ctx := context.Background()
	crd := applyCRD(t, g, sprocketCRD)
	applyRGD(t, g, `
apiVersion: kro.run/v1alpha1
kind: ResourceGraphDefinition
metadata:
  name: it-sprocket
spec:
  schema:
    apiVersion: v1alpha1
    kind: ItSprocketUser
  resources:
  - id: sprocket
    template:
      apiVersion: test.kro.run/v1
      kind: ItSprocket
      metadata: {name: "${schema.metadata.name}-sprocket"}
      spec: {size: 1, color: red}
`)
	g.Eventually(func(g gomega.Gomega) {
		c := rgdCondition(g, "it-sprocket", "GraphAccepted")
		g.Expect(c.Status).To(gomega.Equal(metav1.ConditionFalse))
		g.Expect(c.Message).To(gomega.ContainSubstring(`field "spec.color": unknown field`))
	}).Should(gomega.Succeed())

	g.Expect(retry.RetryOnConflict(retry.DefaultRetry, func() error {
		live := getCRD(g, crd.Name)
		spec := live.Spec.Versions[0].Schema.OpenAPIV3Schema.Properties["spec"]
		spec.Properties["color"] = apiextensionsv1.JSONSchemaProps{Type: "string"}
		live.Spec.Versions[0].Schema.OpenAPIV3Schema.Properties["spec"] = spec
		return env.client.Update(ctx, live)
	})).To(gomega.Succeed())
	waitRGDActive(g, "it-sprocket")

	// kro caches the CRDs it did not generate without their schemas (it read this one whole
	// from the API server to check the RGD), and its own whole.
	cached := func(name string) *apiextensionsv1.CustomResourceDefinition {
		crd := &apiextensionsv1.CustomResourceDefinition{}
		g.Expect(env.kro.cache.Get(ctx, client.ObjectKey{Name: name}, crd)).To(gomega.Succeed())
		return crd
	}
	g.Expect(cached(crd.Name).Spec.Versions[0].Schema).To(gomega.BeNil(), "a foreign CRD cached with its schema")
	g.Expect(cached("itsprocketusers.kro.run").Spec.Versions[0].Schema).NotTo(gomega.BeNil(), "kro's CRD cached without its schema")
}

// TestFailingRGDDoesNotStallOthers checks that an RGD waiting for a kind the cluster does not
// serve yet is retried while other RGDs are built and serve their instances, and is accepted
// once the kind's CRD is installed.
func TestFailingRGDDoesNotStallOthers(t *testing.T) {
	g := gomega.NewWithT(t)
	applyRGD(t, g, `
apiVersion: kro.run/v1alpha1
kind: ResourceGraphDefinition
metadata:
  name: it-waits-for-kind
spec:
  schema:
    apiVersion: v1alpha1
    kind: ItWaitsForKind
  resources:
  - id: later
    template:
      apiVersion: test.kro.run/v1
      kind: ItLater
      metadata: {name: "${schema.metadata.name}-later"}
`)
	g.Eventually(func(g gomega.Gomega) {
		c := rgdCondition(g, "it-waits-for-kind", "GraphAccepted")
		g.Expect(c.Status).To(gomega.Equal(metav1.ConditionFalse))
		g.Expect(c.Message).To(gomega.ContainSubstring(`ItLater`))
	}).Should(gomega.Succeed())

	applyRGD(t, g, lifecycleRGD("it-not-stalled", "ItNotStalled"))
	waitRGDActive(g, "it-not-stalled")
	ns := newNamespace(t, g)
	createActiveInstances(g, instanceGVK("ItNotStalled"), ns, "s")
	g.Expect(env.client.Delete(context.Background(), get(g, instanceGVK("ItNotStalled"), ns, "s"))).To(gomega.Succeed())

	later := &apiextensionsv1.CustomResourceDefinition{}
	g.Expect(yaml.Unmarshal([]byte(sprocketCRD), later)).To(gomega.Succeed())
	later.Name = "itlaters.test.kro.run"
	later.Spec.Names = apiextensionsv1.CustomResourceDefinitionNames{Kind: "ItLater", ListKind: "ItLaterList", Plural: "itlaters", Singular: "itlater"}
	raw, err := yaml.Marshal(later)
	g.Expect(err).NotTo(gomega.HaveOccurred())
	applyCRD(t, g, string(raw))
	waitRGDActive(g, "it-waits-for-kind")
}
