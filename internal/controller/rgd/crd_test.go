package rgd

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"
	"sigs.k8s.io/yaml"

	internalv1alpha1 "github.com/kro-run/kro/api/internal.kro.run/v1alpha1"
	"github.com/kro-run/kro/api/v1alpha1"
	"github.com/kro-run/kro/internal/graph"
	"github.com/kro-run/kro/internal/graph/crd"
	"github.com/kro-run/kro/internal/metadata"
)

// testRGD returns an RGD of kind App with the given SimpleSchema spec.
func testRGD(t *testing.T, generation int64, spec string, annotations map[string]string) *v1alpha1.ResourceGraphDefinition {
	t.Helper()
	rgd := &v1alpha1.ResourceGraphDefinition{}
	src := `
metadata: {name: app, uid: uid-1}
spec:
  schema:
    apiVersion: v1alpha1
    kind: App
    spec: ` + spec
	if err := yaml.UnmarshalStrict([]byte(src), rgd); err != nil {
		t.Fatalf("decoding RGD: %v", err)
	}
	rgd.Generation = generation
	rgd.Annotations = annotations
	return rgd
}

// build returns the graph of rgd.
func build(t *testing.T, rgd *v1alpha1.ResourceGraphDefinition) *graph.Graph {
	t.Helper()
	g, err := graph.NewBuilder(meta.NewDefaultRESTMapper(nil)).Build(context.Background(), rgd)
	if err != nil {
		t.Fatalf("Build(%s): %v", rgd.Name, err)
	}
	return g
}

// liveCRD is the CRD as applied for rgd, as the API server returns it.
func liveCRD(t *testing.T, rgd *v1alpha1.ResourceGraphDefinition) *apiextensionsv1.CustomResourceDefinition {
	t.Helper()
	c := desiredCRD(build(t, rgd))
	c.ResourceVersion = "1"
	c.Status.Conditions = []apiextensionsv1.CustomResourceDefinitionCondition{
		{Type: apiextensionsv1.Established, Status: apiextensionsv1.ConditionTrue},
	}
	return c
}

func TestPlanCRD(t *testing.T) {
	allow := map[string]string{metadata.AllowBreakingChangesAnnotation: "true"}
	base := `{name: "string | required=true", port: "integer | minimum=1"}`
	applied := liveCRD(t, testRGD(t, 1, base, nil))
	edited := func(edit func(c *apiextensionsv1.CustomResourceDefinition)) *apiextensionsv1.CustomResourceDefinition {
		c := applied.DeepCopy()
		edit(c)
		return c
	}
	cases := map[string]struct {
		reason string
		// live is the CRD in the cluster; nil when absent.
		live *apiextensionsv1.CustomResourceDefinition
		// rgd is the RGD being reconciled.
		rgd       *v1alpha1.ResourceGraphDefinition
		wantApply bool
		wantErr   string
	}{
		"Absent": {
			reason:    "A missing CRD is created.",
			rgd:       testRGD(t, 1, base, nil),
			wantApply: true,
		},
		"UpToDate": {
			reason: "Steady state costs no write.",
			live:   applied,
			rgd:    testRGD(t, 1, base, nil),
		},
		"OwnedByAnotherRGD": {
			reason: "A CRD of another RGD is never taken over.",
			live: edited(func(c *apiextensionsv1.CustomResourceDefinition) {
				c.Labels[metadata.ResourceGraphDefinitionNameLabel] = "other"
			}),
			rgd:     testRGD(t, 1, base, nil),
			wantErr: `CRD apps.kro.run already exists and belongs to RGD "other"`,
		},
		"NotCreatedByKro": {
			reason:  "A CRD kro did not generate is never taken over.",
			live:    edited(func(c *apiextensionsv1.CustomResourceDefinition) { c.Labels = nil }),
			rgd:     testRGD(t, 1, base, nil),
			wantErr: "CRD apps.kro.run already exists and was not created by kro",
		},
		"SafeChange": {
			reason:    "A new optional field and a loosened bound are applied.",
			live:      applied,
			rgd:       testRGD(t, 2, `{name: "string | required=true", port: "integer | minimum=0", image: string}`, nil),
			wantApply: true,
		},
		"BreakingChange": {
			reason:  "A removed field and a tightened bound are refused, naming their paths.",
			live:    applied,
			rgd:     testRGD(t, 2, `{port: "integer | minimum=2"}`, nil),
			wantErr: `breaking changes detected: spec.name: field removed; spec.port: minimum raised from 1 to 2; set annotation kro.run/allow-breaking-changes: "true" on the RGD to apply them`,
		},
		"BreakingChangeAllowed": {
			reason:    "The annotation lets a breaking change through.",
			live:      applied,
			rgd:       testRGD(t, 2, `{port: "integer | minimum=2"}`, allow),
			wantApply: true,
		},
		"HandLoosened": {
			reason: "A hand edit of the CRD of the current generation is repaired, even when the repair tightens it.",
			live: edited(func(c *apiextensionsv1.CustomResourceDefinition) {
				spec := c.Spec.Versions[0].Schema.OpenAPIV3Schema.Properties["spec"]
				spec.Required = nil
				delete(spec.Properties, "port")
				c.Spec.Versions[0].Schema.OpenAPIV3Schema.Properties["spec"] = spec
			}),
			rgd:       testRGD(t, 1, base, nil),
			wantApply: true,
		},
		"PrinterColumnRemovedByHand": {
			reason: "Printer columns are restored.",
			live: edited(func(c *apiextensionsv1.CustomResourceDefinition) {
				c.Spec.Versions[0].AdditionalPrinterColumns = c.Spec.Versions[0].AdditionalPrinterColumns[:1]
			}),
			rgd:       testRGD(t, 1, base, nil),
			wantApply: true,
		},
		"LabelRemovedByHand": {
			reason:    "kro's labels are restored.",
			live:      edited(func(c *apiextensionsv1.CustomResourceDefinition) { delete(c.Labels, metadata.KroVersionLabel) }),
			rgd:       testRGD(t, 1, base, nil),
			wantApply: true,
		},
		"RecreatedRGD": {
			reason: "An RGD recreated under the same name adopts its CRD, checking compatibility.",
			live: edited(func(c *apiextensionsv1.CustomResourceDefinition) {
				c.Labels[metadata.ResourceGraphDefinitionIDLabel] = "uid-0"
			}),
			rgd:     testRGD(t, 1, `{name: "string | required=true"}`, nil),
			wantErr: "breaking changes detected: spec.port: field removed",
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			apply, err := planCRD(tc.rgd, tc.live, desiredCRD(build(t, tc.rgd)))
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("%s\nplanCRD(...) error = %v, want it to contain %q", tc.reason, err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("%s\nplanCRD(...): %v", tc.reason, err)
			}
			if diff := cmp.Diff(tc.wantApply, apply); diff != "" {
				t.Errorf("%s\nplanCRD(...) apply: -want, +got:\n%s", tc.reason, diff)
			}
		})
	}
}

func TestCRDFailure(t *testing.T) {
	cases := map[string]struct {
		reason     string
		err        error
		wantReason string
		wantRetry  bool
	}{
		"Breaking": {
			reason:     "Retrying cannot help until the RGD changes.",
			err:        &BreakingChangesError{Changes: []crd.Change{{Path: "spec.a", Detail: "field removed"}}},
			wantReason: reasonBreakingChanges,
		},
		"Conflict": {
			reason:     "The other owner may let go of the CRD.",
			err:        &CRDConflictError{CRD: "apps.kro.run", Owner: "other"},
			wantReason: reasonCRDConflict,
			wantRetry:  true,
		},
		"APIError": {
			reason:     "API errors are retried.",
			err:        errors.New("boom"),
			wantReason: reasonCRDApplyFailed,
			wantRetry:  true,
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			gotReason, gotRetry := crdFailure(tc.err)
			if diff := cmp.Diff([]any{tc.wantReason, tc.wantRetry}, []any{gotReason, gotRetry}); diff != "" {
				t.Errorf("%s\ncrdFailure(%v): -want, +got:\n%s", tc.reason, tc.err, diff)
			}
		})
	}
}

func testScheme(t *testing.T) *runtime.Scheme {
	t.Helper()
	s := runtime.NewScheme()
	for _, add := range []func(*runtime.Scheme) error{apiextensionsv1.AddToScheme, v1alpha1.AddToScheme, internalv1alpha1.AddToScheme} {
		if err := add(s); err != nil {
			t.Fatal(err)
		}
	}
	return s
}

// fakeClient is a fake client of the test scheme, with the index of graph revisions and their
// status subresource.
func fakeClient(t *testing.T) *fake.ClientBuilder {
	t.Helper()
	return fake.NewClientBuilder().WithScheme(testScheme(t)).
		WithIndex(&internalv1alpha1.GraphRevision{}, snapshotNameField, snapshotName).
		WithStatusSubresource(&internalv1alpha1.GraphRevision{})
}

// countWrites returns interceptor funcs counting every write.
func countWrites(n *int) interceptor.Funcs {
	return interceptor.Funcs{
		Create: func(ctx context.Context, c client.WithWatch, obj client.Object, opts ...client.CreateOption) error {
			*n++
			return c.Create(ctx, obj, opts...)
		},
		Update: func(ctx context.Context, c client.WithWatch, obj client.Object, opts ...client.UpdateOption) error {
			*n++
			return c.Update(ctx, obj, opts...)
		},
		Patch: func(ctx context.Context, c client.WithWatch, obj client.Object, patch client.Patch, opts ...client.PatchOption) error {
			*n++
			return c.Patch(ctx, obj, patch, opts...)
		},
		Delete: func(ctx context.Context, c client.WithWatch, obj client.Object, opts ...client.DeleteOption) error {
			*n++
			return c.Delete(ctx, obj, opts...)
		},
	}
}

func TestEnsureCRDSteadyStateWritesNothing(t *testing.T) {
	rgd := testRGD(t, 1, `{name: string}`, nil)
	writes := 0
	c := fake.NewClientBuilder().WithScheme(testScheme(t)).
		WithObjects(liveCRD(t, rgd)).
		WithInterceptorFuncs(countWrites(&writes)).Build()
	r := New(Options{Client: c})
	established, err := r.ensureCRD(context.Background(), rgd, build(t, rgd))
	if err != nil {
		t.Fatalf("ensureCRD(...): %v", err)
	}
	if !established || writes != 0 {
		t.Errorf("ensureCRD(...) = established %t after %d writes, want established after 0 writes", established, writes)
	}
}

func TestEnsureCRDWaitsForDeletion(t *testing.T) {
	rgd := testRGD(t, 1, `{name: string}`, nil)
	live := liveCRD(t, rgd)
	live.Finalizers = []string{apiextensionsv1.CustomResourceCleanupFinalizer}
	live.DeletionTimestamp = &metav1.Time{Time: time.Now()}
	writes := 0
	c := fake.NewClientBuilder().WithScheme(testScheme(t)).
		WithObjects(live).
		WithInterceptorFuncs(countWrites(&writes)).Build()
	established, err := New(Options{Client: c}).ensureCRD(context.Background(), rgd, build(t, rgd))
	if err != nil {
		t.Fatalf("ensureCRD(...): %v", err)
	}
	if established || writes != 0 {
		t.Errorf("ensureCRD(...) on a terminating CRD = established %t after %d writes, want not established after 0 writes", established, writes)
	}
}
