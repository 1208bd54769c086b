package runtime_test

import (
	"context"
	"testing"

	"github.com/google/go-cmp/cmp"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/kro-run/kro/internal/metadata"
	"github.com/kro-run/kro/internal/runtime"
	"github.com/kro-run/kro/internal/version"
)

func TestFinalize(t *testing.T) {
	g := buildGraph(t)
	inst := instance("web", "team", 2)
	inst.SetUID("uid-1")
	childLabels := func(node string, extra ...string) map[string]string {
		l := map[string]string{
			metadata.OwnedLabel:             "true",
			metadata.KroVersionLabel:        version.Version,
			metadata.InstanceIDLabel:        "uid-1",
			metadata.InstanceNameLabel:      "web",
			metadata.InstanceNamespaceLabel: "team",
			metadata.InstanceGroupLabel:     "kro.run",
			metadata.InstanceVersionLabel:   "v1alpha1",
			metadata.InstanceKindLabel:      "App",
			metadata.ManagedByLabel:         metadata.ManagedByKro,
			metadata.NodeIDLabel:            node,
			metadata.ApplySetPartOfLabel:    "set-1",
		}
		for i := 0; i+1 < len(extra); i += 2 {
			l[extra[i]] = extra[i+1]
		}
		return l
	}
	cases := map[string]struct {
		reason         string
		node           string
		item           *runtime.Position
		wantLabels     map[string]string
		wantApplyOrder string
	}{
		"Object": {
			reason:         "A single object gets the child labels and its level as apply order.",
			node:           "config",
			wantLabels:     childLabels("config", "app", "web"),
			wantApplyOrder: "1",
		},
		"Dependent": {
			reason:         "A node of the second level has apply order 2.",
			node:           "deploy",
			wantLabels:     childLabels("deploy"),
			wantApplyOrder: "2",
		},
		"Item": {
			reason:         "An item of a collection carries its index and the collection's size.",
			node:           "ns",
			item:           &runtime.Position{Index: 1, Size: 3},
			wantLabels:     childLabels("ns", metadata.CollectionIndexLabel, "1", metadata.CollectionSizeLabel, "3"),
			wantApplyOrder: "1",
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			rt := runtime.New(g, inst)
			rt.SetObserved("config", observedConfig("web-config", map[string]any{"host": "h", "ready": "true"}))
			rt.SetObserved("ns", observedNamespace("ns-web"))
			obj, err := rt.Render(context.Background(), tc.node)
			if err != nil {
				t.Fatalf("Render(%q): %v", tc.node, err)
			}
			again := obj.DeepCopy()
			if err := runtime.Finalize(g, g.Node(tc.node), inst, "set-1", obj, runtime.FinalizeOptions{Item: tc.item}); err != nil {
				t.Fatalf("Finalize(...): %v", err)
			}
			if diff := cmp.Diff(tc.wantLabels, obj.GetLabels()); diff != "" {
				t.Errorf("%s\nFinalize(...) labels: -want, +got:\n%s", tc.reason, diff)
			}
			a := obj.GetAnnotations()
			if diff := cmp.Diff(tc.wantApplyOrder, a[metadata.ApplyOrderAnnotation]); diff != "" {
				t.Errorf("%s\nFinalize(...) apply order: -want, +got:\n%s", tc.reason, diff)
			}
			if a[metadata.DesiredHashAnnotation] == "" {
				t.Errorf("%s\nFinalize(...) set no desired hash", tc.reason)
			}
			// The hash depends only on the object: finalizing the same render again gives it.
			if err := runtime.Finalize(g, g.Node(tc.node), inst, "set-1", again, runtime.FinalizeOptions{Item: tc.item}); err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(obj, again); diff != "" {
				t.Errorf("%s\nFinalize(...) is not deterministic: -first, +second:\n%s", tc.reason, diff)
			}
		})
	}
}

func TestFinalizeHashChangesWithObject(t *testing.T) {
	g := buildGraph(t)
	inst := instance("web", "team", 2)
	hash := func(data string) string {
		obj := &unstructured.Unstructured{Object: map[string]any{
			"apiVersion": "v1", "kind": "ConfigMap",
			"metadata": map[string]any{"name": "web-config", "namespace": "team"},
			"data":     map[string]any{"k": data},
		}}
		if err := runtime.Finalize(g, g.Node("config"), inst, "set-1", obj, runtime.FinalizeOptions{}); err != nil {
			t.Fatal(err)
		}
		return obj.GetAnnotations()[metadata.DesiredHashAnnotation]
	}
	if hash("a") == hash("b") {
		t.Errorf("Finalize(...): the desired hash does not change with the object")
	}
}

func TestFinalizeArgoCDTracking(t *testing.T) {
	g := buildGraph(t)
	inst := instance("web", "team", 2)
	inst.SetAnnotations(map[string]string{metadata.ArgoCDTrackingAnnotation: "app:kro.run/App:team/web"})
	cases := map[string]struct {
		reason string
		own    string
		on     bool
		want   string
	}{
		"Copied":   {reason: "The instance's tracking id is copied to a child.", on: true, want: "app:kro.run/App:team/web"},
		"Own":      {reason: "A template that sets its own keeps it.", own: "mine", on: true, want: "mine"},
		"Disabled": {reason: "Without the option nothing is copied.", on: false, want: ""},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			obj := &unstructured.Unstructured{Object: map[string]any{
				"apiVersion": "v1", "kind": "ConfigMap",
				"metadata": map[string]any{"name": "web-config", "namespace": "team"},
			}}
			if tc.own != "" {
				obj.SetAnnotations(map[string]string{metadata.ArgoCDTrackingAnnotation: tc.own})
			}
			if err := runtime.Finalize(g, g.Node("config"), inst, "set-1", obj, runtime.FinalizeOptions{ArgoCDTracking: tc.on}); err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, obj.GetAnnotations()[metadata.ArgoCDTrackingAnnotation]); diff != "" {
				t.Errorf("%s\nFinalize(...) tracking annotation: -want, +got:\n%s", tc.reason, diff)
			}
		})
	}
}
