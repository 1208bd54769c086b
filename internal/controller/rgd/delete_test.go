package rgd

import (
	"context"
	"testing"

	"github.com/google/go-cmp/cmp"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/kro-run/kro/api/v1alpha1"
	"github.com/kro-run/kro/internal/conditions"
	"github.com/kro-run/kro/internal/graph"
	"github.com/kro-run/kro/internal/metadata"
)

// recordingEngine records what the reconciler asks of the engine.
type recordingEngine struct {
	registered   []schema.GroupVersionKind
	unregistered []schema.GroupVersionKind
	// revisions are the revisions of the registered graphs.
	revisions []int64
}

func (e *recordingEngine) Register(_ context.Context, g *graph.Graph) error {
	e.registered = append(e.registered, g.Instance.GVK)
	e.revisions = append(e.revisions, g.Revision)
	return nil
}

func (e *recordingEngine) Unregister(gvk schema.GroupVersionKind) {
	e.unregistered = append(e.unregistered, gvk)
}

func (e *recordingEngine) Stopped(schema.GroupVersionKind) error { return nil }

var appGVK = schema.GroupVersionKind{Group: "kro.run", Version: "v1alpha1", Kind: "App"}

func appInstance(name string) *unstructured.Unstructured {
	u := &unstructured.Unstructured{}
	u.SetGroupVersionKind(appGVK)
	u.SetNamespace("default")
	u.SetName(name)
	u.SetUID("uid-" + "name")
	return u
}

func TestReconcileDelete(t *testing.T) {
	cases := map[string]struct {
		reason           string
		allowCRDDeletion bool
		// owner is the RGD named in the CRD's labels; "" means no CRD.
		owner     string
		instances []string
		// refusedEdit changes the RGD's spec, after revision 1 and its CRD, in a way the
		// CRD refuses as breaking.
		refusedEdit bool
		// want is the outcome.
		wantFinalizer    bool
		wantCRD          bool
		wantInstances    int
		wantRegistered   []schema.GroupVersionKind
		wantUnregistered []schema.GroupVersionKind
		// wantServed are the revisions of the registered graphs, when checked.
		wantServed []int64
		wantReady  string
	}{
		"KeptByDefault": {
			reason:           "Without --allow-crd-deletion the CRD survives its RGD.",
			owner:            "app",
			wantCRD:          true,
			wantRegistered:   []schema.GroupVersionKind{appGVK},
			wantUnregistered: []schema.GroupVersionKind{appGVK},
		},
		"Deleted": {
			reason:           "With --allow-crd-deletion the CRD goes with its RGD.",
			allowCRDDeletion: true,
			owner:            "app",
			wantRegistered:   []schema.GroupVersionKind{appGVK},
			wantUnregistered: []schema.GroupVersionKind{appGVK},
		},
		"OtherOwnerKept": {
			reason:           "A CRD of another RGD is never deleted, and its kind stays served.",
			allowCRDDeletion: true,
			owner:            "other",
			wantCRD:          true,
		},
		"NoCRD": {
			reason:           "Without its CRD the kind has no instances: the RGD goes.",
			wantUnregistered: []schema.GroupVersionKind{appGVK},
		},
		"WaitsForInstances": {
			reason:         "An RGD with instances stays, serving them, and says how many hold it.",
			owner:          "app",
			instances:      []string{"a", "b"},
			wantFinalizer:  true,
			wantCRD:        true,
			wantInstances:  2,
			wantRegistered: []schema.GroupVersionKind{appGVK},
			wantReady:      "False/WaitingForInstances/2 instances of App.kro.run must be deleted first",
		},
		"RefusedEditServedWithLastGood": {
			reason:         "Instances of an RGD whose last edit was refused are served with the revision whose CRD they have.",
			owner:          "app",
			instances:      []string{"a"},
			refusedEdit:    true,
			wantFinalizer:  true,
			wantCRD:        true,
			wantInstances:  1,
			wantRegistered: []schema.GroupVersionKind{appGVK},
			wantServed:     []int64{1},
			wantReady:      "False/WaitingForInstances/1 instance of App.kro.run must be deleted first",
		},
		"DeletesInstancesFirst": {
			reason:           "With --allow-crd-deletion the instances are deleted first, by their still running controller.",
			allowCRDDeletion: true,
			owner:            "app",
			instances:        []string{"a"},
			wantFinalizer:    true,
			wantCRD:          true,
			wantRegistered:   []schema.GroupVersionKind{appGVK},
			wantReady:        "False/WaitingForInstances/deleting 1 instance of App.kro.run before the CRD",
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			rgd := testRGD(t, 1, `{name: string}`, nil)
			first := rgd
			var objs []client.Object
			if tc.refusedEdit {
				rgd = testRGD(t, 2, `{name: integer}`, nil)
				objs = append(objs, ownedRevision(first, 1))
			}
			rgd.Finalizers = []string{metadata.Finalizer}
			objs = append(objs, rgd)
			if tc.owner != "" {
				live := liveCRD(t, first)
				live.Labels[metadata.ResourceGraphDefinitionNameLabel] = tc.owner
				objs = append(objs, live)
			}
			for _, n := range tc.instances {
				objs = append(objs, appInstance(n))
			}
			mapper := meta.NewDefaultRESTMapper(nil)
			mapper.Add(appGVK, meta.RESTScopeNamespace)
			mapper.Add(apiextensionsv1.SchemeGroupVersion.WithKind("CustomResourceDefinition"), meta.RESTScopeRoot)
			mapper.Add(v1alpha1.GroupVersion.WithKind("ResourceGraphDefinition"), meta.RESTScopeRoot)
			c := fakeClient(t).WithRESTMapper(mapper).
				WithObjects(objs...).WithStatusSubresource(rgd).Build()
			// The RGD is deleted; its finalizer keeps it.
			if err := c.Delete(context.Background(), rgd); err != nil {
				t.Fatalf("Delete(rgd): %v", err)
			}
			if err := c.Get(context.Background(), client.ObjectKeyFromObject(rgd), rgd); err != nil {
				t.Fatalf("Get(rgd): %v", err)
			}
			engine := &recordingEngine{}
			r := New(Options{Client: c, Engine: engine, Builder: graph.NewBuilder(mapper), AllowCRDDeletion: tc.allowCRDDeletion})
			if _, err := r.reconcileDelete(context.Background(), rgd); err != nil {
				t.Fatalf("reconcileDelete(...): %v", err)
			}

			got := &v1alpha1.ResourceGraphDefinition{}
			err := c.Get(context.Background(), client.ObjectKeyFromObject(rgd), got)
			if diff := cmp.Diff(tc.wantFinalizer, err == nil); diff != "" {
				t.Errorf("%s\nRGD exists after reconcileDelete: -want, +got:\n%s (get error: %v)", tc.reason, diff, err)
			}
			ready := ""
			if cond := conditions.Get(got.Status.Conditions, v1alpha1.ConditionReady); cond != nil {
				ready = string(cond.Status) + "/" + cond.Reason + "/" + cond.Message
			}
			if diff := cmp.Diff(tc.wantReady, ready); diff != "" {
				t.Errorf("%s\nReady: -want, +got:\n%s", tc.reason, diff)
			}
			err = c.Get(context.Background(), client.ObjectKey{Name: "apps.kro.run"}, &apiextensionsv1.CustomResourceDefinition{})
			if diff := cmp.Diff(tc.wantCRD, err == nil); diff != "" {
				t.Errorf("%s\nCRD exists after reconcileDelete: -want, +got:\n%s (get error: %v)", tc.reason, diff, err)
			}
			list := &unstructured.UnstructuredList{}
			list.SetGroupVersionKind(appGVK.GroupVersion().WithKind("AppList"))
			if err := c.List(context.Background(), list); err != nil {
				t.Fatalf("listing instances: %v", err)
			}
			if diff := cmp.Diff(tc.wantInstances, len(list.Items)); diff != "" {
				t.Errorf("%s\ninstances left: -want, +got:\n%s", tc.reason, diff)
			}
			if diff := cmp.Diff(tc.wantRegistered, engine.registered); diff != "" {
				t.Errorf("%s\nregistered kinds: -want, +got:\n%s", tc.reason, diff)
			}
			if diff := cmp.Diff(tc.wantUnregistered, engine.unregistered); diff != "" {
				t.Errorf("%s\nunregistered kinds: -want, +got:\n%s", tc.reason, diff)
			}
			if diff := cmp.Diff(tc.wantServed, engine.revisions); tc.wantServed != nil && diff != "" {
				t.Errorf("%s\nserved revisions: -want, +got:\n%s", tc.reason, diff)
			}
		})
	}
}
