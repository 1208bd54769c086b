package integration

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/onsi/gomega"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/kro-run/kro/api/v1alpha1"
	"github.com/kro-run/kro/internal/metadata"
)

const validatedRGD = `
apiVersion: kro.run/v1alpha1
kind: ResourceGraphDefinition
metadata:
  name: it-crd-validated
spec:
  schema:
    apiVersion: v1alpha1
    kind: ItCrdValidated
    spec:
      name: string | required=true immutable=true
      tier: string | enum="gold,silver" default="silver"
      replicas: integer | minimum=1 default=2
      host: string | pattern="^[a-z.]+$"
      tags: "[]string | maxItems=2"
      ingress:
        enabled: boolean | default=false
        tls:
          port: integer | default=443
`

var itCrdValidatedGVK = schema.GroupVersionKind{Group: "kro.run", Version: "v1alpha1", Kind: "ItCrdValidated"}

// TestCRDValidation checks that the generated CRD makes the API server enforce the SimpleSchema
// markers and fill in defaults.
func TestCRDValidation(t *testing.T) {
	g := gomega.NewWithT(t)
	ctx := context.Background()
	applyRGD(t, g, validatedRGD)
	waitRGDActive(g, "it-crd-validated")
	ns := newNamespace(t, g)

	t.Run("invalid instances are rejected with the API server's message", func(t *testing.T) {
		cases := map[string]struct {
			spec    string
			message string
		}{
			"Required": {spec: `{tier: gold}`, message: "spec.name: Required value"},
			"Enum":     {spec: `{name: a, tier: bronze}`, message: `spec.tier: Unsupported value: "bronze"`},
			"Minimum":  {spec: `{name: a, replicas: 0}`, message: "spec.replicas: Invalid value: 0: spec.replicas in body should be greater than or equal to 1"},
			"Pattern":  {spec: `{name: a, host: "Not-A-Host"}`, message: "spec.host in body should match '^[a-z.]+$'"},
			"MaxItems": {spec: `{name: a, tags: [x, y, z]}`, message: "spec.tags: Too many: 3: must have at most 2 items"},
		}
		for name, tc := range cases {
			t.Run(name, func(t *testing.T) {
				g := gomega.NewWithT(t)
				inst := object(g, "apiVersion: kro.run/v1alpha1\nkind: ItCrdValidated\nmetadata: {generateName: bad-, namespace: %s}\nspec: %s\n", ns, tc.spec)
				err := env.client.Create(ctx, inst)
				g.Expect(apierrors.IsInvalid(err)).To(gomega.BeTrue(), "create error: %v", err)
				g.Expect(err.Error()).To(gomega.ContainSubstring(tc.message))
			})
		}
	})

	t.Run("defaults are filled in, nested ones through default: {}", func(t *testing.T) {
		g := gomega.NewWithT(t)
		inst := object(g, "apiVersion: kro.run/v1alpha1\nkind: ItCrdValidated\nmetadata: {name: defaulted, namespace: %s}\nspec: {name: web}\n", ns)
		g.Expect(env.client.Create(ctx, inst)).To(gomega.Succeed())
		got := get(g, itCrdValidatedGVK, ns, "defaulted")
		spec, _, _ := unstructured.NestedMap(got.Object, "spec")
		g.Expect(spec).To(gomega.Equal(map[string]any{
			"name":     "web",
			"tier":     "silver",
			"replicas": int64(2),
			"ingress":  map[string]any{"enabled": false, "tls": map[string]any{"port": int64(443)}},
		}))
	})

	t.Run("an immutable field cannot be updated", func(t *testing.T) {
		g := gomega.NewWithT(t)
		inst := object(g, "apiVersion: kro.run/v1alpha1\nkind: ItCrdValidated\nmetadata: {name: frozen, namespace: %s}\nspec: {name: web}\n", ns)
		g.Expect(env.client.Create(ctx, inst)).To(gomega.Succeed())
		patch := client.MergeFrom(inst.DeepCopy())
		g.Expect(unstructured.SetNestedField(inst.Object, "changed", "spec", "name")).To(gomega.Succeed())
		err := env.client.Patch(ctx, inst, patch)
		g.Expect(apierrors.IsInvalid(err)).To(gomega.BeTrue(), "patch error: %v", err)
		g.Expect(err.Error()).To(gomega.ContainSubstring("spec.name: Invalid value: \"changed\": field is immutable"))
	})
}

const breakingRGD = `
apiVersion: kro.run/v1alpha1
kind: ResourceGraphDefinition
metadata:
  name: it-crd-breaking
spec:
  schema:
    apiVersion: v1alpha1
    kind: ItCrdBreaking
    spec:
      %s
`

// TestCRDBreakingChanges checks that safe schema changes apply, breaking ones are refused with
// the paths they touch, and the allow-breaking-changes annotation lets them through.
func TestCRDBreakingChanges(t *testing.T) {
	g := gomega.NewWithT(t)
	const name, crdName = "it-crd-breaking", "itcrdbreakings.kro.run"
	applyRGD(t, g, fmt.Sprintf(breakingRGD, `{name: string, size: integer}`))
	waitRGDActive(g, name)

	t.Run("a safe change is applied", func(t *testing.T) {
		g := gomega.NewWithT(t)
		g.Expect(updateRGD(g, name, fmt.Sprintf(breakingRGD, `{name: string, size: integer, image: "string | default=nginx"}`), nil)).To(gomega.Succeed())
		g.Eventually(func(g gomega.Gomega) {
			g.Expect(specSchema(getCRD(g, crdName)).Properties).To(gomega.HaveKey("image"))
			rgd := getRGD(g, name)
			g.Expect(rgd.Status.State).To(gomega.Equal(v1alpha1.ResourceGraphDefinitionStateActive))
			g.Expect(rgdCondition(g, name, "KindReady").ObservedGeneration).To(gomega.Equal(rgd.Generation))
		}).Should(gomega.Succeed())
	})

	breaking := fmt.Sprintf(breakingRGD, `{name: "string | pattern=\"^[a-z]+$\"", image: "string | default=nginx"}`)
	t.Run("a breaking change is refused naming the paths", func(t *testing.T) {
		g := gomega.NewWithT(t)
		g.Expect(updateRGD(g, name, breaking, nil)).To(gomega.Succeed())
		g.Eventually(func(g gomega.Gomega) {
			rgd := getRGD(g, name)
			c := rgdCondition(g, name, "KindReady")
			g.Expect(c.ObservedGeneration).To(gomega.Equal(rgd.Generation))
			g.Expect(c.Status).To(gomega.Equal(metav1.ConditionFalse))
			g.Expect(c.Reason).To(gomega.Equal("BreakingChanges"))
			g.Expect(c.Message).To(gomega.HavePrefix(`breaking changes detected: spec.name: pattern "^[a-z]+$" added; spec.size: field removed`))
			g.Expect(rgd.Status.State).To(gomega.Equal(v1alpha1.ResourceGraphDefinitionStateInactive))
		}).Should(gomega.Succeed())
		g.Consistently(func(g gomega.Gomega) {
			g.Expect(specSchema(getCRD(g, crdName)).Properties).To(gomega.HaveKey("size"))
		}).Should(gomega.Succeed())
	})

	t.Run("the annotation lets the breaking change through", func(t *testing.T) {
		g := gomega.NewWithT(t)
		g.Expect(updateRGD(g, name, breaking, map[string]string{metadata.AllowBreakingChangesAnnotation: "true"})).To(gomega.Succeed())
		g.Eventually(func(g gomega.Gomega) {
			spec := specSchema(getCRD(g, crdName))
			g.Expect(spec.Properties).NotTo(gomega.HaveKey("size"))
			g.Expect(spec.Properties["name"].Pattern).To(gomega.Equal("^[a-z]+$"))
			g.Expect(getRGD(g, name).Status.State).To(gomega.Equal(v1alpha1.ResourceGraphDefinitionStateActive))
		}).Should(gomega.Succeed())
	})
}

const restoredRGD = `
apiVersion: kro.run/v1alpha1
kind: ResourceGraphDefinition
metadata:
  name: it-crd-restored
spec:
  schema:
    apiVersion: v1alpha1
    kind: ItCrdRestored
    spec:
      name: string | pattern="^[a-z]+$"
`

// TestCRDRestored checks that a CRD edited or deleted by hand is restored, even when restoring
// tightens it again.
func TestCRDRestored(t *testing.T) {
	g := gomega.NewWithT(t)
	ctx := context.Background()
	const name, crdName = "it-crd-restored", "itcrdrestoreds.kro.run"
	applyRGD(t, g, restoredRGD)
	waitRGDActive(g, name)

	t.Run("a printer column and a pattern removed by hand come back", func(t *testing.T) {
		g := gomega.NewWithT(t)
		crd := getCRD(g, crdName)
		g.Expect(columnNames(crd)).To(gomega.Equal([]string{"State", "Ready", "Age"}))
		patch := client.MergeFrom(crd.DeepCopy())
		crd.Spec.Versions[0].AdditionalPrinterColumns = crd.Spec.Versions[0].AdditionalPrinterColumns[:1]
		spec := specSchema(crd)
		nameSchema := spec.Properties["name"]
		nameSchema.Pattern = ""
		spec.Properties["name"] = nameSchema
		crd.Spec.Versions[0].Schema.OpenAPIV3Schema.Properties["spec"] = spec
		g.Expect(env.client.Patch(ctx, crd, patch)).To(gomega.Succeed())
		g.Eventually(func(g gomega.Gomega) {
			crd := getCRD(g, crdName)
			g.Expect(columnNames(crd)).To(gomega.Equal([]string{"State", "Ready", "Age"}))
			g.Expect(specSchema(crd).Properties["name"].Pattern).To(gomega.Equal("^[a-z]+$"))
		}).Should(gomega.Succeed())
		g.Expect(getRGD(g, name).Status.State).To(gomega.Equal(v1alpha1.ResourceGraphDefinitionStateActive))
	})

	t.Run("a CRD deleted by hand is recreated", func(t *testing.T) {
		g := gomega.NewWithT(t)
		crd := getCRD(g, crdName)
		oldUID := crd.UID
		g.Expect(env.client.Delete(ctx, crd)).To(gomega.Succeed())
		g.Eventually(func(g gomega.Gomega) {
			crd := getCRD(g, crdName)
			g.Expect(crd).NotTo(gomega.BeNil())
			g.Expect(crd.UID).NotTo(gomega.Equal(oldUID))
			g.Expect(crd.Status.Conditions).To(gomega.ContainElement(gomega.And(
				gomega.HaveField("Type", apiextensionsv1.Established),
				gomega.HaveField("Status", apiextensionsv1.ConditionTrue))))
		}).Should(gomega.Succeed())
		// The RGD worker can be held for up to one reconcile timeout (a minute) while the
		// engine waits for the informer of the recreated kind to sync; allow for it.
		start := time.Now()
		g.Eventually(func(g gomega.Gomega) {
			g.Expect(getRGD(g, name).Status.State).To(gomega.Equal(v1alpha1.ResourceGraphDefinitionStateActive))
		}).WithTimeout(2 * time.Minute).Should(gomega.Succeed())
		if d := time.Since(start); d > 10*time.Second {
			t.Logf("RGD became Active %s after its CRD was recreated", d.Round(time.Second))
		}
	})
}

// TestRGDSchemaImmutable checks that the RGD CRD refuses changing the generated kind.
func TestRGDSchemaImmutable(t *testing.T) {
	g := gomega.NewWithT(t)
	const manifest = `
apiVersion: kro.run/v1alpha1
kind: ResourceGraphDefinition
metadata:
  name: it-crd-immutable
spec:
  schema:
    apiVersion: v1alpha1
    kind: %s
`
	applyRGD(t, g, fmt.Sprintf(manifest, "ItCrdImmutable"))
	err := updateRGD(g, "it-crd-immutable", fmt.Sprintf(manifest, "ItCrdImmutableRenamed"), nil)
	g.Expect(apierrors.IsInvalid(err)).To(gomega.BeTrue(), "update error: %v", err)
	g.Expect(err.Error()).To(gomega.ContainSubstring("kind is immutable"))
}
