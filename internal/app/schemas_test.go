package app

import (
	"context"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"

	"github.com/kro-run/kro/internal/intern"
	"github.com/kro-run/kro/internal/metadata"
)

func testCRD(name, group, kind string, labels map[string]string) *apiextensionsv1.CustomResourceDefinition {
	return &apiextensionsv1.CustomResourceDefinition{
		ObjectMeta: metav1.ObjectMeta{
			Name:   name,
			Labels: labels,
			Annotations: map[string]string{
				corev1.LastAppliedConfigAnnotation: `{"a":"large copy of the CRD"}`,
				"team":                             "x",
			},
			ManagedFields: []metav1.ManagedFieldsEntry{{Manager: "kubectl"}},
		},
		Spec: apiextensionsv1.CustomResourceDefinitionSpec{
			Group: group,
			Names: apiextensionsv1.CustomResourceDefinitionNames{Kind: kind, Plural: "widgets"},
			Scope: apiextensionsv1.NamespaceScoped,
			Versions: []apiextensionsv1.CustomResourceDefinitionVersion{{
				Name: "v1", Served: true, Storage: true,
				Schema: &apiextensionsv1.CustomResourceValidation{OpenAPIV3Schema: &apiextensionsv1.JSONSchemaProps{
					Type:       "object",
					Properties: map[string]apiextensionsv1.JSONSchemaProps{"spec": {Type: "object"}},
				}},
			}},
		},
	}
}

// TestLeanCRDs: a CRD kro did not generate is cached without its schemas; kro's own CRDs
// keep theirs. Managed fields and the last-applied-configuration annotation go from both.
func TestLeanCRDs(t *testing.T) {
	transform := leanCRDs(intern.New(intern.Options{}).Transform())
	cases := map[string]struct {
		labels     map[string]string
		wantSchema bool
	}{
		"Foreign":   {labels: map[string]string{"app": "x"}, wantSchema: false},
		"Unlabeled": {wantSchema: false},
		"KroOwned":  {labels: metadata.CRDLabels("rgd", "uid"), wantSchema: true},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			out, err := transform(testCRD("widgets.example.com", "example.com", "Widget", tc.labels))
			if err != nil {
				t.Fatal(err)
			}
			crd := out.(*apiextensionsv1.CustomResourceDefinition)
			if got := crd.Spec.Versions[0].Schema != nil; got != tc.wantSchema {
				t.Errorf("schema kept: %v, want %v", got, tc.wantSchema)
			}
			if got := schemaDropped(crd); got == tc.wantSchema {
				t.Errorf("schemaDropped = %v, want %v", got, !tc.wantSchema)
			}
			if _, kept := crd.Annotations[corev1.LastAppliedConfigAnnotation]; kept {
				t.Error("last-applied-configuration kept")
			}
			if crd.Annotations["team"] != "x" {
				t.Errorf("other annotations dropped: %v", crd.Annotations)
			}
			if crd.ManagedFields != nil {
				t.Error("managed fields kept")
			}
			if crd.Spec.Group != "example.com" || crd.Spec.Names.Kind != "Widget" || crd.Spec.Versions[0].Name != "v1" {
				t.Errorf("names and versions changed: %+v", crd.Spec)
			}
		})
	}
}

// TestCRDOfKind: the lookup answers from the cache, and reads the whole CRD from the API server
// when the cache holds it without its schemas.
func TestCRDOfKind(t *testing.T) {
	scheme := runtime.NewScheme()
	if err := apiextensionsv1.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	full := testCRD("widgets.example.com", "example.com", "Widget", nil)
	owned := testCRD("apps.kro.run", "kro.run", "App", metadata.CRDLabels("rgd", "uid"))
	full.ManagedFields, owned.ManagedFields = nil, nil
	lean := full.DeepCopy()
	lean.Spec.Versions[0].Schema = nil
	newCache := func(objs ...client.Object) client.Reader {
		return fake.NewClientBuilder().WithScheme(scheme).WithObjects(objs...).
			WithIndex(&apiextensionsv1.CustomResourceDefinition{}, crdKindIndex, crdKind).Build()
	}
	var reads int
	apiServer := fake.NewClientBuilder().WithScheme(scheme).WithObjects(full.DeepCopy(), owned.DeepCopy()).
		WithInterceptorFuncs(interceptor.Funcs{Get: func(ctx context.Context, c client.WithWatch, key client.ObjectKey, obj client.Object, opts ...client.GetOption) error {
			reads++
			return c.Get(ctx, key, obj, opts...)
		}}).Build()
	lookup := crdOfKind(newCache(lean, owned.DeepCopy()), apiServer)
	ctx := context.Background()

	got, err := lookup(ctx, schema.GroupKind{Group: "example.com", Kind: "Widget"})
	if err != nil {
		t.Fatal(err)
	}
	if got == nil || got.Spec.Versions[0].Schema == nil {
		t.Fatalf("a CRD cached without schemas: lookup gave %v, want the whole CRD", got)
	}
	if reads != 1 {
		t.Errorf("%d reads from the API server, want 1", reads)
	}
	reads = 0
	got, err = lookup(ctx, schema.GroupKind{Group: "kro.run", Kind: "App"})
	if err != nil || got == nil || got.Spec.Versions[0].Schema == nil {
		t.Fatalf("kro's own CRD: lookup gave %v, %v; want the cached CRD", got, err)
	}
	if reads != 0 {
		t.Errorf("kro's own CRD: %d reads from the API server, want 0", reads)
	}
	if got, err := lookup(ctx, schema.GroupKind{Group: "apps", Kind: "Deployment"}); err != nil || got != nil {
		t.Errorf("a built-in kind: lookup gave %v, %v; want nil, nil", got, err)
	}
}

// TestLeanExternalMetadata: the metadata kro caches of every object of an externalRef's kind
// keeps what routes events (name, namespace, labels) and what tells a change (uid,
// resourceVersion), nothing else.
func TestLeanExternalMetadata(t *testing.T) {
	transform := leanExternalMetadata(intern.New(intern.Options{}).Transform())
	in := &metav1.PartialObjectMetadata{ObjectMeta: metav1.ObjectMeta{
		Name: "a", Namespace: "ns", UID: "u", ResourceVersion: "7",
		Labels:          map[string]string{"app": "x"},
		Annotations:     map[string]string{"meta.helm.sh/release-name": "r"},
		OwnerReferences: []metav1.OwnerReference{{Name: "o"}},
		Finalizers:      []string{"f"},
	}}
	out, err := transform(in)
	if err != nil {
		t.Fatal(err)
	}
	got := out.(*metav1.PartialObjectMetadata)
	if got.Name != "a" || got.Namespace != "ns" || got.UID != "u" || got.ResourceVersion != "7" || got.Labels["app"] != "x" {
		t.Errorf("identity or labels lost: %+v", got.ObjectMeta)
	}
	if got.Annotations != nil || got.OwnerReferences != nil || got.Finalizers != nil {
		t.Errorf("annotations, owner references or finalizers kept: %+v", got.ObjectMeta)
	}
	crd, err := transform(testCRD("widgets.example.com", "example.com", "Widget", nil))
	if err != nil || crd.(*apiextensionsv1.CustomResourceDefinition).Annotations["team"] != "x" {
		t.Errorf("a typed object's annotations changed: %v, %v", crd, err)
	}
}
