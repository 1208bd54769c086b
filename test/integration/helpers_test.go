package integration

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	"github.com/kro-run/kro/api/v1alpha1"
)

// newNamespace creates a namespace for one test.
func newNamespace(t *testing.T, g gomega.Gomega) string {
	t.Helper()
	name := strings.ToLower(strings.NewReplacer("/", "-", "_", "-").Replace(t.Name()))
	if len(name) > 50 {
		name = name[:50]
	}
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: name + "-"}}
	g.Expect(env.client.Create(context.Background(), ns)).To(gomega.Succeed())
	return ns.Name
}

// applyRGD creates an RGD from YAML and deletes it (and its CRD) when the test ends.
func applyRGD(t *testing.T, g gomega.Gomega, manifest string) *v1alpha1.ResourceGraphDefinition {
	t.Helper()
	rgd := &v1alpha1.ResourceGraphDefinition{}
	g.Expect(yaml.UnmarshalStrict([]byte(manifest), rgd)).To(gomega.Succeed())
	g.Expect(env.client.Create(context.Background(), rgd)).To(gomega.Succeed())
	t.Cleanup(func() {
		_ = env.client.Delete(context.Background(), rgd)
	})
	return rgd
}

// getRGD fetches the RGD's current state.
func getRGD(g gomega.Gomega, name string) *v1alpha1.ResourceGraphDefinition {
	rgd := &v1alpha1.ResourceGraphDefinition{}
	g.Expect(env.client.Get(context.Background(), client.ObjectKey{Name: name}, rgd)).To(gomega.Succeed())
	return rgd
}

// waitRGDActive waits until the RGD is Active.
func waitRGDActive(g gomega.Gomega, name string) *v1alpha1.ResourceGraphDefinition {
	var rgd *v1alpha1.ResourceGraphDefinition
	g.Eventually(func(g gomega.Gomega) {
		rgd = getRGD(g, name)
		g.Expect(rgd.Status.State).To(gomega.Equal(v1alpha1.ResourceGraphDefinitionStateActive), "conditions: %+v", rgd.Status.Conditions)
	}).Should(gomega.Succeed())
	return rgd
}

// rgdCondition returns a condition of an RGD, failing when it is absent.
func rgdCondition(g gomega.Gomega, name, condType string) metav1.Condition {
	for _, c := range getRGD(g, name).Status.Conditions {
		if c.Type == condType {
			return c
		}
	}
	g.Expect(condType).To(gomega.BeEmpty(), "condition not found")
	return metav1.Condition{}
}

// object builds an unstructured object from YAML, with fmt arguments.
func object(g gomega.Gomega, format string, args ...any) *unstructured.Unstructured {
	u := &unstructured.Unstructured{}
	g.Expect(yaml.Unmarshal([]byte(fmt.Sprintf(format, args...)), &u.Object)).To(gomega.Succeed())
	return u
}

// get reads an object, returning nil when it does not exist.
func get(g gomega.Gomega, gvk schema.GroupVersionKind, namespace, name string) *unstructured.Unstructured {
	u := &unstructured.Unstructured{}
	u.SetGroupVersionKind(gvk)
	err := env.client.Get(context.Background(), client.ObjectKey{Namespace: namespace, Name: name}, u)
	if apierrors.IsNotFound(err) {
		return nil
	}
	g.Expect(err).NotTo(gomega.HaveOccurred())
	return u
}

var (
	configMapGVK  = schema.GroupVersionKind{Version: "v1", Kind: "ConfigMap"}
	serviceGVK    = schema.GroupVersionKind{Version: "v1", Kind: "Service"}
	deploymentGVK = schema.GroupVersionKind{Group: "apps", Version: "v1", Kind: "Deployment"}
)

func str(u *unstructured.Unstructured, path ...string) string {
	s, _, _ := unstructured.NestedString(u.Object, path...)
	return s
}
