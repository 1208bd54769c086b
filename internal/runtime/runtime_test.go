package runtime_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	kruntime "k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/yaml"

	"github.com/kro-run/kro/api/v1alpha1"
	"github.com/kro-run/kro/internal/graph"
	"github.com/kro-run/kro/internal/runtime"
)

func testMapper() meta.RESTMapper {
	m := meta.NewDefaultRESTMapper(nil)
	m.Add(schema.GroupVersionKind{Version: "v1", Kind: "ConfigMap"}, meta.RESTScopeNamespace)
	m.Add(schema.GroupVersionKind{Version: "v1", Kind: "Namespace"}, meta.RESTScopeRoot)
	m.Add(schema.GroupVersionKind{Group: "apps", Version: "v1", Kind: "Deployment"}, meta.RESTScopeNamespace)
	return m
}

// testRGD is an RGD exercising standalone and template expressions, both scopes, a dependency
// between resources, readyWhen, includeWhen and status fields.
const testRGD = `
metadata: {name: test, uid: u1}
spec:
  schema:
    apiVersion: v1alpha1
    kind: App
    spec:
      name: string
      replicas: integer | default=1
      labels: "map[string]string"
      enabled: boolean | default=true
    status:
      configName: ${config.metadata.name}
      replicas: ${schema.spec.replicas}
      greeting: "hello-${schema.spec.name}"
      endpoint:
        host: ${config.data.host}
        url: "https://${config.data.host}/${schema.spec.name}"
  resources:
  - id: config
    readyWhen:
    - ${config.data.ready == "true"}
    template:
      apiVersion: v1
      kind: ConfigMap
      metadata:
        name: ${schema.spec.name}-config
        labels: ${schema.spec.labels}
      data:
        name: "${schema.spec.name}"
        literal: unchanged
  - id: ns
    template:
      apiVersion: v1
      kind: Namespace
      metadata:
        name: ns-${schema.spec.name}
  - id: deploy
    includeWhen:
    - ${schema.spec.enabled}
    template:
      apiVersion: apps/v1
      kind: Deployment
      metadata:
        name: ${schema.spec.name}
        namespace: fixed
      spec:
        replicas: ${schema.spec.replicas}
        template:
          spec:
            containers:
            - name: app
              image: nginx
              env:
              - name: HOST
                value: ${config.data.host}
              - name: GREETING
                value: "${config.metadata.name}@${ns.metadata.name}"
  - id: gated
    includeWhen:
    - ${config.data.ready == "true"}
    template:
      apiVersion: v1
      kind: ConfigMap
      metadata:
        name: gated
`

func buildGraph(t *testing.T) *graph.Graph {
	t.Helper()
	rgd := &v1alpha1.ResourceGraphDefinition{}
	if err := yaml.UnmarshalStrict([]byte(testRGD), rgd); err != nil {
		t.Fatalf("decoding RGD: %v", err)
	}
	g, err := graph.NewBuilder(testMapper()).Build(context.Background(), rgd)
	if err != nil {
		t.Fatalf("Build(...): %v", err)
	}
	return g
}

func instance(name, namespace string, replicas int64) *unstructured.Unstructured {
	return &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "kro.run/v1alpha1",
		"kind":       "App",
		"metadata":   map[string]any{"name": name, "namespace": namespace},
		"spec": map[string]any{
			"name":     name,
			"replicas": replicas,
			"labels":   map[string]any{"app": name},
			"enabled":  true,
		},
		"status": map[string]any{"replicas": int64(99)},
	}}
}

func observedConfig(name string, data map[string]any) *unstructured.Unstructured {
	return &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "v1",
		"kind":       "ConfigMap",
		"metadata":   map[string]any{"name": name, "namespace": "default"},
		"data":       data,
	}}
}

func observedNamespace(name string) *unstructured.Unstructured {
	return &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "v1",
		"kind":       "Namespace",
		"metadata":   map[string]any{"name": name},
	}}
}

func TestRender(t *testing.T) {
	cases := map[string]struct {
		reason   string
		instance *unstructured.Unstructured
		observed map[string]*unstructured.Unstructured
		id       string
		want     map[string]any
	}{
		"StandaloneMapAndTemplate": {
			reason:   "a standalone expression returning a map replaces the field; strings are templated; the instance's namespace is the default",
			instance: instance("web", "team-a", 2),
			id:       "config",
			want: map[string]any{
				"apiVersion": "v1",
				"kind":       "ConfigMap",
				"metadata": map[string]any{
					"name":      "web-config",
					"namespace": "team-a",
					"labels":    map[string]any{"app": "web"},
				},
				"data": map[string]any{"name": "web", "literal": "unchanged"},
			},
		},
		"ClusterScopedHasNoNamespace": {
			reason:   "cluster-scoped resources do not get the instance's namespace",
			instance: instance("web", "team-a", 2),
			id:       "ns",
			want: map[string]any{
				"apiVersion": "v1",
				"kind":       "Namespace",
				"metadata":   map[string]any{"name": "ns-web"},
			},
		},
		"ObservedValuesAndIntAndExplicitNamespace": {
			reason:   "observed values flow into dependents, an int expression stays an int64, an explicit namespace is kept",
			instance: instance("web", "team-a", 3),
			observed: map[string]*unstructured.Unstructured{
				"config": observedConfig("web-config", map[string]any{"host": "web.example.com"}),
				"ns":     observedNamespace("ns-web"),
			},
			id: "deploy",
			want: map[string]any{
				"apiVersion": "apps/v1",
				"kind":       "Deployment",
				"metadata":   map[string]any{"name": "web", "namespace": "fixed"},
				"spec": map[string]any{
					"replicas": int64(3),
					"template": map[string]any{"spec": map[string]any{"containers": []any{
						map[string]any{
							"name":  "app",
							"image": "nginx",
							"env": []any{
								map[string]any{"name": "HOST", "value": "web.example.com"},
								map[string]any{"name": "GREETING", "value": "web-config@ns-web"},
							},
						},
					}}},
				},
			},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			rt := runtime.New(buildGraph(t), tc.instance)
			for id, obj := range tc.observed {
				rt.SetObserved(id, obj)
			}
			got, err := rt.Render(context.Background(), tc.id)
			if err != nil {
				t.Fatalf("%s\nRender(%q): %v", tc.reason, tc.id, err)
			}
			if diff := cmp.Diff(tc.want, got.Object); diff != "" {
				t.Errorf("%s\nRender(%q): -want, +got:\n%s", tc.reason, tc.id, diff)
			}
		})
	}
}

func TestRenderErrors(t *testing.T) {
	cases := map[string]struct {
		reason      string
		observed    map[string]*unstructured.Unstructured
		id          string
		wantPending bool
		wantErr     string
	}{
		"DependencyNotObserved": {
			reason:      "reading a resource that has not been observed is pending",
			id:          "deploy",
			wantPending: true,
			wantErr:     `resource "config" is not observed yet`,
		},
		"OneDependencyNotObserved": {
			reason: "every referenced resource must be observed",
			observed: map[string]*unstructured.Unstructured{
				"config": observedConfig("web-config", map[string]any{"host": "h"}),
			},
			id:          "deploy",
			wantPending: true,
			wantErr:     `resource "ns" is not observed yet`,
		},
		"ObservedFieldMissing": {
			reason: "an observed resource without the field read is pending",
			observed: map[string]*unstructured.Unstructured{
				"config": observedConfig("web-config", map[string]any{}),
				"ns":     observedNamespace("ns-web"),
			},
			id:          "deploy",
			wantPending: true,
			wantErr:     `no such key: host`,
		},
		"UnknownResource": {
			reason:  "an unknown id is an error, not pending",
			id:      "nope",
			wantErr: `unknown resource "nope"`,
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			rt := runtime.New(buildGraph(t), instance("web", "team-a", 1))
			for id, obj := range tc.observed {
				rt.SetObserved(id, obj)
			}
			got, err := rt.Render(context.Background(), tc.id)
			if err == nil {
				t.Fatalf("%s\nRender(%q): want error, got %v", tc.reason, tc.id, got)
			}
			if diff := cmp.Diff(tc.wantPending, errors.Is(err, runtime.ErrDataPending)); diff != "" {
				t.Errorf("%s\nerrors.Is(Render(%q), ErrDataPending) (error %v): -want, +got:\n%s", tc.reason, tc.id, err, diff)
			}
			if !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("%s\nRender(%q) error:\n got: %v\nwant: ...%s...", tc.reason, tc.id, err, tc.wantErr)
			}
		})
	}
}

func TestRenderDoesNotMutateGraph(t *testing.T) {
	g := buildGraph(t)
	before := map[string]map[string]any{}
	for _, n := range g.Nodes {
		before[n.ID] = kruntime.DeepCopyJSON(n.Template)
	}
	render := func(inst *unstructured.Unstructured) map[string]map[string]any {
		rt := runtime.New(g, inst)
		rt.SetObserved("config", observedConfig(inst.GetName()+"-config", map[string]any{"host": inst.GetName() + ".io"}))
		rt.SetObserved("ns", observedNamespace("ns-"+inst.GetName()))
		out := map[string]map[string]any{}
		for _, id := range []string{"config", "ns", "deploy"} {
			u, err := rt.Render(context.Background(), id)
			if err != nil {
				t.Fatalf("Render(%q) for %s: %v", id, inst.GetName(), err)
			}
			out[id] = u.Object
		}
		return out
	}
	first := render(instance("one", "ns-1", 1))
	firstCopy := map[string]map[string]any{}
	for id, obj := range first {
		firstCopy[id] = kruntime.DeepCopyJSON(obj)
	}
	second := render(instance("two", "ns-2", 2))

	after := map[string]map[string]any{}
	for _, n := range g.Nodes {
		after[n.ID] = n.Template
	}
	if diff := cmp.Diff(before, after); diff != "" {
		t.Errorf("graph templates after Render(...): -want, +got:\n%s", diff)
	}
	if diff := cmp.Diff(firstCopy, first); diff != "" {
		t.Errorf("first render after the second Render(...): -want, +got:\n%s", diff)
	}
	if got := second["deploy"]["metadata"].(map[string]any)["name"]; got != "two" {
		t.Errorf("second Render(deploy).metadata.name = %v, want two", got)
	}
	if got := second["config"]["metadata"].(map[string]any)["namespace"]; got != "ns-2" {
		t.Errorf("second Render(config).metadata.namespace = %v, want ns-2", got)
	}

	// Mutating a rendered object must not leak into the graph or a later render.
	first["config"]["data"].(map[string]any)["name"] = "changed"
	first["config"]["metadata"].(map[string]any)["labels"].(map[string]any)["app"] = "changed"
	third := render(instance("one", "ns-1", 1))
	if diff := cmp.Diff(firstCopy, third); diff != "" {
		t.Errorf("render after mutating an earlier result: -want, +got:\n%s", diff)
	}
}

func TestReady(t *testing.T) {
	cases := map[string]struct {
		reason   string
		id       string
		observed *unstructured.Unstructured
		want     bool
		wantExpr string
	}{
		"NotObserved": {
			reason: "a resource not observed yet is not ready",
			id:     "config",
			want:   false,
		},
		"True": {
			reason:   "readyWhen true",
			id:       "config",
			observed: observedConfig("web-config", map[string]any{"ready": "true"}),
			want:     true,
		},
		"False": {
			reason:   "readyWhen false names the expression",
			id:       "config",
			observed: observedConfig("web-config", map[string]any{"ready": "false"}),
			want:     false,
			wantExpr: `config.data.ready == "true"`,
		},
		"PendingData": {
			reason:   "a field readyWhen reads that does not exist yet means not ready, not an error",
			id:       "config",
			observed: observedConfig("web-config", map[string]any{}),
			want:     false,
			wantExpr: `config.data.ready == "true"`,
		},
		"NoReadyWhen": {
			reason:   "an observed resource without readyWhen is ready",
			id:       "ns",
			observed: observedNamespace("ns-web"),
			want:     true,
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			rt := runtime.New(buildGraph(t), instance("web", "default", 1))
			if tc.observed != nil {
				rt.SetObserved(tc.id, tc.observed)
			}
			got, expr, err := rt.Ready(context.Background(), tc.id)
			if err != nil {
				t.Fatalf("%s\nReady(%q): %v", tc.reason, tc.id, err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("%s\nReady(%q): -want, +got:\n%s", tc.reason, tc.id, diff)
			}
			if diff := cmp.Diff(tc.wantExpr, expr); diff != "" {
				t.Errorf("%s\nReady(%q) expression: -want, +got:\n%s", tc.reason, tc.id, diff)
			}
		})
	}
}

// TestReadyObjectSelected checks readyWhen of a selector externalRef: it reads one selected
// object as each.
func TestReadyObjectSelected(t *testing.T) {
	rgd := &v1alpha1.ResourceGraphDefinition{}
	if err := yaml.UnmarshalStrict([]byte(`
metadata: {name: test, uid: u1}
spec:
  schema:
    apiVersion: v1alpha1
    kind: App
  resources:
  - id: crew
    externalRef:
      apiVersion: v1
      kind: ConfigMap
      metadata:
        selector: {matchLabels: {crew: x}}
    readyWhen:
    - ${each.data.ready == "true"}
`), rgd); err != nil {
		t.Fatalf("decoding RGD: %v", err)
	}
	g, err := graph.NewBuilder(testMapper()).Build(context.Background(), rgd)
	if err != nil {
		t.Fatalf("Build(...): %v", err)
	}
	cases := map[string]struct {
		reason   string
		item     *unstructured.Unstructured
		want     bool
		wantExpr string
	}{
		"Ready":    {reason: "readyWhen true on the item", item: observedConfig("a", map[string]any{"ready": "true"}), want: true},
		"NotReady": {reason: "readyWhen false names the expression", item: observedConfig("b", map[string]any{"ready": "false"}), wantExpr: `each.data.ready == "true"`},
		"Pending":  {reason: "a field not there yet means not ready", item: observedConfig("c", map[string]any{}), wantExpr: `each.data.ready == "true"`},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			rt := runtime.New(g, instance("web", "default", 1))
			got, expr, err := rt.ReadyObject(context.Background(), "crew", tc.item.Object)
			if err != nil {
				t.Fatalf("%s\nReadyObject(...): %v", tc.reason, err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("%s\nReadyObject(...): -want, +got:\n%s", tc.reason, diff)
			}
			if diff := cmp.Diff(tc.wantExpr, expr); diff != "" {
				t.Errorf("%s\nReadyObject(...) expression: -want, +got:\n%s", tc.reason, diff)
			}
		})
	}
}

func TestIncluded(t *testing.T) {
	cases := map[string]struct {
		reason      string
		id          string
		enabled     any
		observed    map[string]*unstructured.Unstructured
		want        bool
		wantPending bool
	}{
		"NoIncludeWhen": {
			reason: "a resource without includeWhen is included",
			id:     "config",
			want:   true,
		},
		"True": {
			reason:  "includeWhen true",
			id:      "deploy",
			enabled: true,
			want:    true,
		},
		"False": {
			reason:  "includeWhen false",
			id:      "deploy",
			enabled: false,
			want:    false,
		},
		"OnObservedTrue": {
			reason: "includeWhen reading an observed resource",
			id:     "gated",
			observed: map[string]*unstructured.Unstructured{
				"config": observedConfig("web-config", map[string]any{"ready": "true"}),
			},
			want: true,
		},
		"OnObservedFalse": {
			reason: "includeWhen reading an observed resource",
			id:     "gated",
			observed: map[string]*unstructured.Unstructured{
				"config": observedConfig("web-config", map[string]any{"ready": "no"}),
			},
			want: false,
		},
		"NotObservedIsPending": {
			reason:      "includeWhen reading a resource not observed yet is pending",
			id:          "gated",
			wantPending: true,
		},
		"MissingFieldIsPending": {
			reason: "includeWhen reading a missing field is pending",
			id:     "gated",
			observed: map[string]*unstructured.Unstructured{
				"config": observedConfig("web-config", map[string]any{}),
			},
			wantPending: true,
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			inst := instance("web", "default", 1)
			if tc.enabled != nil {
				inst.Object["spec"].(map[string]any)["enabled"] = tc.enabled
			}
			rt := runtime.New(buildGraph(t), inst)
			for id, obj := range tc.observed {
				rt.SetObserved(id, obj)
			}
			got, err := rt.Included(context.Background(), tc.id)
			if tc.wantPending {
				if !errors.Is(err, runtime.ErrDataPending) {
					t.Fatalf("%s\nIncluded(%q): want error wrapping ErrDataPending, got %v, %v", tc.reason, tc.id, got, err)
				}
				return
			}
			if err != nil {
				t.Fatalf("%s\nIncluded(%q): %v", tc.reason, tc.id, err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("%s\nIncluded(%q): -want, +got:\n%s", tc.reason, tc.id, diff)
			}
		})
	}
}

func TestStatus(t *testing.T) {
	cases := map[string]struct {
		reason   string
		observed map[string]*unstructured.Unstructured
		want     map[string]any
	}{
		"NothingObserved": {
			reason: "fields reading unobserved resources are left out; the others are returned, not the instance's old status",
			want: map[string]any{
				"replicas": int64(2),
				"greeting": "hello-web",
			},
		},
		"PartlyObserved": {
			reason: "fields whose observed input field is missing are left out",
			observed: map[string]*unstructured.Unstructured{
				"config": observedConfig("web-config", map[string]any{}),
			},
			want: map[string]any{
				"configName": "web-config",
				"replicas":   int64(2),
				"greeting":   "hello-web",
			},
		},
		"AllObserved": {
			reason: "all fields, nested ones included",
			observed: map[string]*unstructured.Unstructured{
				"config": observedConfig("web-config", map[string]any{"host": "web.io"}),
			},
			want: map[string]any{
				"configName": "web-config",
				"replicas":   int64(2),
				"greeting":   "hello-web",
				"endpoint":   map[string]any{"host": "web.io", "url": "https://web.io/web"},
			},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			rt := runtime.New(buildGraph(t), instance("web", "default", 2))
			for id, obj := range tc.observed {
				rt.SetObserved(id, obj)
			}
			got, err := rt.Status(context.Background())
			if err != nil {
				t.Fatalf("%s\nStatus(): %v", tc.reason, err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("%s\nStatus(): -want, +got:\n%s", tc.reason, diff)
			}
		})
	}
}

func TestObserved(t *testing.T) {
	rt := runtime.New(buildGraph(t), instance("web", "default", 1))
	if rt.Observed("config") {
		t.Errorf("Observed(config) before SetObserved = true, want false")
	}
	rt.SetObserved("config", observedConfig("web-config", nil))
	if !rt.Observed("config") {
		t.Errorf("Observed(config) after SetObserved = false, want true")
	}
}
