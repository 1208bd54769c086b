package integration

import (
	"context"

	"github.com/onsi/gomega"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/client-go/util/retry"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	"github.com/kro-run/kro/api/v1alpha1"
)

// updateRGD replaces the spec of RGD name with the spec of manifest, and sets annotations
// (nil keeps them), retrying on conflicts. It returns the error of the last update.
func updateRGD(g gomega.Gomega, name, manifest string, annotations map[string]string) error {
	want := &v1alpha1.ResourceGraphDefinition{}
	g.Expect(yaml.UnmarshalStrict([]byte(manifest), want)).To(gomega.Succeed())
	return retry.RetryOnConflict(retry.DefaultRetry, func() error {
		rgd := getRGD(g, name)
		rgd.Spec = want.Spec
		if annotations != nil {
			rgd.Annotations = annotations
		}
		return env.client.Update(context.Background(), rgd)
	})
}

// getCRD reads a CRD, returning nil when it does not exist.
func getCRD(g gomega.Gomega, name string) *apiextensionsv1.CustomResourceDefinition {
	crd := &apiextensionsv1.CustomResourceDefinition{}
	err := env.client.Get(context.Background(), client.ObjectKey{Name: name}, crd)
	if client.IgnoreNotFound(err) == nil && err != nil {
		return nil
	}
	g.Expect(err).NotTo(gomega.HaveOccurred())
	return crd
}

// specSchema is the schema of the instance spec in a CRD's first version.
func specSchema(crd *apiextensionsv1.CustomResourceDefinition) apiextensionsv1.JSONSchemaProps {
	return crd.Spec.Versions[0].Schema.OpenAPIV3Schema.Properties["spec"]
}

// columnNames lists the printer columns of a CRD's first version.
func columnNames(crd *apiextensionsv1.CustomResourceDefinition) []string {
	var names []string
	for _, c := range crd.Spec.Versions[0].AdditionalPrinterColumns {
		names = append(names, c.Name)
	}
	return names
}
