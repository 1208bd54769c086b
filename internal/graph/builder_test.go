package graph

import (
	"context"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/yaml"

	"github.com/kro-run/kro/api/v1alpha1"
)

func testMapper() meta.RESTMapper {
	m := meta.NewDefaultRESTMapper(nil)
	m.Add(schema.GroupVersionKind{Version: "v1", Kind: "ConfigMap"}, meta.RESTScopeNamespace)
	m.Add(schema.GroupVersionKind{Version: "v1", Kind: "Namespace"}, meta.RESTScopeRoot)
	m.Add(schema.GroupVersionKind{Group: "apps", Version: "v1", Kind: "Deployment"}, meta.RESTScopeNamespace)
	return m
}

func rgdFrom(t *testing.T, resources string) *v1alpha1.ResourceGraphDefinition {
	t.Helper()
	rgd := &v1alpha1.ResourceGraphDefinition{}
	src := `
metadata: {name: test, uid: u1}
spec:
  schema:
    apiVersion: v1alpha1
    kind: Test
    spec:
      name: string | default="x"
    status:
      cm: ${a.metadata.name}
      count: ${size(schema.spec.name)}
  resources:` + resources
	if err := yaml.UnmarshalStrict([]byte(src), rgd); err != nil {
		t.Fatalf("decoding RGD: %v", err)
	}
	return rgd
}

func cm(id, name string, extra ...string) string {
	return `
  - id: ` + id + `
    template:
      apiVersion: v1
      kind: ConfigMap
      metadata: {name: "` + name + `"}` + strings.Join(extra, "")
}

func TestBuildOrder(t *testing.T) {
	cases := map[string]struct {
		reason     string
		resources  string
		wantOrder  []string
		wantLevels [][]string
		wantDeps   map[string][]string
	}{
		"DeclarationOrderTies": {
			reason:     "independent resources keep their declaration order",
			resources:  cm("c", "c") + cm("a", "a") + cm("b", "b"),
			wantOrder:  []string{"c", "a", "b"},
			wantLevels: [][]string{{"c", "a", "b"}},
			wantDeps:   map[string][]string{"a": nil, "b": nil, "c": nil},
		},
		"Chain": {
			reason:     "a resource comes after what it references, in templates and includeWhen",
			resources:  cm("c", "${b.metadata.name}-c") + cm("b", "${a.metadata.name}-b", "\n    includeWhen: ['${a.data != null}']") + cm("a", "a"),
			wantOrder:  []string{"a", "b", "c"},
			wantLevels: [][]string{{"a"}, {"b"}, {"c"}},
			wantDeps:   map[string][]string{"a": nil, "b": {"a"}, "c": {"b"}},
		},
		"ComprehensionVariableIsNotADependency": {
			reason:     "iteration variables are local to the expression",
			resources:  cm("a", "a") + cm("b", "${[a].map(x, x.metadata.name)[0]}"),
			wantOrder:  []string{"a", "b"},
			wantLevels: [][]string{{"a"}, {"b"}},
			wantDeps:   map[string][]string{"a": nil, "b": {"a"}},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			g, err := NewBuilder(testMapper()).Build(context.Background(), rgdFrom(t, tc.resources))
			if err != nil {
				t.Fatalf("Build(...): %v", err)
			}
			if diff := cmp.Diff(tc.wantLevels, g.Levels); diff != "" {
				t.Errorf("%s\nBuild(...).Levels: -want, +got:\n%s", tc.reason, diff)
			}
			if diff := cmp.Diff(tc.wantOrder, g.Order); diff != "" {
				t.Errorf("%s\nBuild(...).Order: -want, +got:\n%s", tc.reason, diff)
			}
			gotDeps := map[string][]string{}
			for _, n := range g.Nodes {
				gotDeps[n.ID] = n.Dependencies
			}
			if diff := cmp.Diff(tc.wantDeps, gotDeps); diff != "" {
				t.Errorf("%s\nBuild(...) dependencies: -want, +got:\n%s", tc.reason, diff)
			}
		})
	}
}

func TestBuildErrors(t *testing.T) {
	cases := map[string]struct {
		resources string
		want      string
	}{
		"Cycle": {
			resources: cm("a", "${b.metadata.name}") + cm("b", "${a.metadata.name}"),
			want:      "graph contains a cycle: a -> b -> a",
		},
		"SelfReference": {
			resources: cm("a", "${a.metadata.name}"),
			want:      `resource "a" references itself`,
		},
		"DuplicateID": {
			resources: cm("a", "x") + cm("a", "y"),
			want:      `resource "a": duplicate id`,
		},
		"ReservedID": {
			resources: cm("schema", "x"),
			want:      `resource "schema": id is a reserved word`,
		},
		"UnknownKind": {
			resources: `
  - id: w
    template: {apiVersion: example.com/v1, kind: Widget, metadata: {name: w}}`,
			want: `resource "w" field "kind": kind "Widget" of apiVersion "example.com/v1" is not served by the cluster`,
		},
		"SyntaxError": {
			resources: cm("a", "${schema.spec.name +}"),
			want:      `resource "a" field "metadata.name": expression "schema.spec.name +": ERROR: <input>:1:19: Syntax error`,
		},
		"UnterminatedExpression": {
			resources: cm("a", "${schema.spec.name"),
			want:      `resource "a": field "metadata.name": unterminated expression at offset 0`,
		},
		"NonStringInTemplate": {
			resources: cm("a", "x-${size(schema.spec.name)}"),
			want:      `resource "a" field "metadata.name": expression "size(schema.spec.name)" returns int, expected string in a string template`,
		},
		"ReservedLabel": {
			resources: `
  - id: a
    template: {apiVersion: v1, kind: ConfigMap, metadata: {name: a, labels: {kro.run/owned: "x"}}}`,
			want: `resource "a": field "metadata.labels": key "kro.run/owned" uses a prefix reserved for kro`,
		},
		"NamespaceOnClusterScoped": {
			resources: `
  - id: ns
    template: {apiVersion: v1, kind: Namespace, metadata: {name: a, namespace: b}}`,
			want: `resource "ns" field "metadata.namespace": Namespace is cluster-scoped and cannot set a namespace`,
		},
		"ReadyWhenOtherResource": {
			resources: cm("a", "a") + cm("b", "b", "\n    readyWhen: ['${a.data != null}']"),
			want:      `resource "b" field "readyWhen[0]": expression "a.data != null": ERROR: <input>:1:1: undeclared reference to 'a'`,
		},
		"IncludeWhenNotBool": {
			resources: cm("a", "a", "\n    includeWhen: ['${size(schema.spec.name)}']"),
			want:      `resource "a" field "includeWhen[0]": expression "size(schema.spec.name)" returns int, expected bool`,
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := NewBuilder(testMapper()).Build(context.Background(), rgdFrom(t, tc.resources))
			if err == nil {
				t.Fatalf("Build(...): want error containing %q, got none", tc.want)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Build(...) error:\n got: %s\nwant: %s", err, tc.want)
			}
		})
	}
}

func TestBuildCRD(t *testing.T) {
	g, err := NewBuilder(testMapper()).Build(context.Background(), rgdFrom(t, cm("a", "a")))
	if err != nil {
		t.Fatalf("Build(...): %v", err)
	}
	status := g.CRD.Spec.Versions[0].Schema.OpenAPIV3Schema.Properties["status"]
	if got := status.Properties["count"].Type; got != "integer" {
		t.Errorf("status.count type = %q, want integer (inferred from size())", got)
	}
	if got := status.Properties["cm"]; got.XPreserveUnknownFields == nil {
		t.Errorf("status.cm = %+v, want x-kubernetes-preserve-unknown-fields for a dyn expression", got)
	}
	if g.CRD.Name != "tests.kro.run" || g.Instance.GVR.Resource != "tests" {
		t.Errorf("CRD name / resource = %s / %s, want tests.kro.run / tests", g.CRD.Name, g.Instance.GVR.Resource)
	}
}
