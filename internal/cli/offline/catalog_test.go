package offline

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/yaml"

	kroschema "github.com/kro-run/kro/internal/graph/schema"
)

func catalog(t *testing.T) *Catalog {
	t.Helper()
	snap, err := Builtin()
	if err != nil {
		t.Fatal(err)
	}
	c, err := NewCatalog(snap)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestMapper(t *testing.T) {
	c := catalog(t)
	cases := map[string]struct {
		reason    string
		gk        schema.GroupKind
		wantGVR   schema.GroupVersionResource
		wantScope meta.RESTScopeName
		wantErr   bool
	}{
		"Core": {
			reason:    "Kinds of the core group map to their resource and scope.",
			gk:        schema.GroupKind{Kind: "ConfigMap"},
			wantGVR:   schema.GroupVersionResource{Version: "v1", Resource: "configmaps"},
			wantScope: meta.RESTScopeNameNamespace,
		},
		"Irregular": {
			reason:    "Resource names come from discovery, not from guessing a plural.",
			gk:        schema.GroupKind{Kind: "Endpoints"},
			wantGVR:   schema.GroupVersionResource{Version: "v1", Resource: "endpoints"},
			wantScope: meta.RESTScopeNameNamespace,
		},
		"Cluster": {
			reason:    "Cluster-scoped kinds are known as such.",
			gk:        schema.GroupKind{Group: "rbac.authorization.k8s.io", Kind: "ClusterRole"},
			wantGVR:   schema.GroupVersionResource{Group: "rbac.authorization.k8s.io", Version: "v1", Resource: "clusterroles"},
			wantScope: meta.RESTScopeNameRoot,
		},
		"Unknown": {
			reason:  "A kind no snapshot group serves is not found.",
			gk:      schema.GroupKind{Group: "example.com", Kind: "Widget"},
			wantErr: true,
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			m, err := c.Mapper().RESTMapping(tc.gk)
			if tc.wantErr {
				if err == nil {
					t.Errorf("%s\nRESTMapping(%v): want an error", tc.reason, tc.gk)
				}
				return
			}
			if err != nil {
				t.Fatalf("%s\nRESTMapping(%v): %v", tc.reason, tc.gk, err)
			}
			if diff := cmp.Diff(tc.wantGVR, m.Resource); diff != "" {
				t.Errorf("%s\nRESTMapping(%v).Resource: -want, +got:\n%s", tc.reason, tc.gk, diff)
			}
			if diff := cmp.Diff(tc.wantScope, m.Scope.Name()); diff != "" {
				t.Errorf("%s\nRESTMapping(%v).Scope: -want, +got:\n%s", tc.reason, tc.gk, diff)
			}
		})
	}
}

func TestResolveSchema(t *testing.T) {
	c := catalog(t)
	ctx := context.Background()
	s, err := c.ResolveSchema(ctx, schema.GroupVersionKind{Group: "apps", Version: "v1", Kind: "Deployment"})
	if err != nil {
		t.Fatal(err)
	}
	replicas := s.Properties["spec"].Properties["replicas"]
	if diff := cmp.Diff([]string{"integer"}, []string(replicas.Type)); diff != "" {
		t.Errorf("Deployment spec.replicas type: -want, +got:\n%s", diff)
	}
	if _, ok := s.Properties["spec"].Properties["template"].Properties["spec"].Properties["containers"]; !ok {
		t.Errorf("Deployment: $refs are not resolved down to spec.template.spec.containers")
	}
	_, err = c.ResolveSchema(ctx, schema.GroupVersionKind{Group: "example.com", Version: "v1", Kind: "Widget"})
	if !errors.Is(err, kroschema.ErrSchemaNotFound) {
		t.Errorf("ResolveSchema(Widget) = %v, want ErrSchemaNotFound", err)
	}

	crd := &apiextensionsv1.CustomResourceDefinition{}
	if err := yaml.UnmarshalStrict([]byte(`
metadata: {name: widgets.example.com}
spec:
  group: example.com
  names: {kind: Widget, plural: widgets, singular: widget, listKind: WidgetList}
  scope: Cluster
  versions:
  - name: v1
    served: true
    storage: true
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec: {type: object, properties: {size: {type: integer}}}
`), crd); err != nil {
		t.Fatal(err)
	}
	if err := c.AddCRD(crd); err != nil {
		t.Fatal(err)
	}
	m, err := c.Mapper().RESTMapping(schema.GroupKind{Group: "example.com", Kind: "Widget"}, "v1")
	if err != nil {
		t.Fatalf("RESTMapping(Widget) after AddCRD: %v", err)
	}
	if m.Scope.Name() != meta.RESTScopeNameRoot || m.Resource.Resource != "widgets" {
		t.Errorf("RESTMapping(Widget) = %v %v, want widgets, cluster-scoped", m.Resource, m.Scope.Name())
	}
	s, err = c.ResolveSchema(ctx, schema.GroupVersionKind{Group: "example.com", Version: "v1", Kind: "Widget"})
	if err != nil {
		t.Fatal(err)
	}
	for _, field := range []string{"apiVersion", "kind", "metadata", "spec"} {
		if _, ok := s.Properties[field]; !ok {
			t.Errorf("ResolveSchema(Widget): no %s, the API server publishes one", field)
		}
	}
	if _, ok := s.Properties["metadata"].Properties["ownerReferences"]; !ok {
		t.Errorf("ResolveSchema(Widget): metadata is not the full ObjectMeta")
	}
}

// TestSnapshotHasCurrentRGDCRD fails when config/crd/bases changed without a new snapshot.
func TestSnapshotHasCurrentRGDCRD(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join("..", "..", "..", "config", "crd", "bases", "kro.run_resourcegraphdefinitions.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	want := &apiextensionsv1.CustomResourceDefinition{}
	if err := yaml.Unmarshal(raw, want); err != nil {
		t.Fatal(err)
	}
	snap, err := Builtin()
	if err != nil {
		t.Fatal(err)
	}
	for _, got := range snap.CRDs {
		if got.Name != want.Name {
			continue
		}
		// The API server defaults some fields on the way in; compare the schema.
		if diff := cmp.Diff(want.Spec.Versions[0].Schema, got.Spec.Versions[0].Schema); diff != "" {
			t.Errorf("the snapshot's RGD CRD is out of date (run make openapi-snapshot): -config/crd/bases, +snapshot:\n%s", diff)
		}
		return
	}
	t.Errorf("the snapshot has no CRD %s (run make openapi-snapshot)", want.Name)
}
