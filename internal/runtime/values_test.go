package runtime_test

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/google/go-cmp/cmp"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"

	"github.com/kro-run/kro/api/v1alpha1"
	"github.com/kro-run/kro/internal/graph"
	"github.com/kro-run/kro/internal/runtime"
)

// TestRenderJSONNumbers checks what json.unmarshal's numbers become in the applied object:
// doubles in CEL (as in the reference), written as plain JSON numbers, so an integer field
// gets 3, not 3.0.
func TestRenderJSONNumbers(t *testing.T) {
	rgd := &v1alpha1.ResourceGraphDefinition{}
	if err := yaml.UnmarshalStrict([]byte(`
metadata: {name: nums, uid: u1}
spec:
  schema:
    apiVersion: v1alpha1
    kind: Nums
    spec:
      config: string
  resources:
  - id: deploy
    template:
      apiVersion: apps/v1
      kind: Deployment
      metadata: {name: x}
      spec:
        replicas: ${json.unmarshal(schema.spec.config).replicas}
        minReadySeconds: ${int(json.unmarshal(schema.spec.config).replicas) * 10}
        template:
          metadata:
            annotations:
              ratio: ${string(json.unmarshal(schema.spec.config).ratio)}
`), rgd); err != nil {
		t.Fatalf("decoding RGD: %v", err)
	}
	g, err := graph.NewBuilder(testMapper()).Build(context.Background(), rgd)
	if err != nil {
		t.Fatalf("Build(...): %v", err)
	}
	inst := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "kro.run/v1alpha1", "kind": "Nums",
		"metadata": map[string]any{"name": "n", "namespace": "default"},
		"spec":     map[string]any{"config": `{"replicas": 3, "ratio": 0.5}`},
	}}
	obj, err := runtime.New(g, inst).Render(context.Background(), "deploy")
	if err != nil {
		t.Fatalf("Render(deploy): %v", err)
	}
	spec := obj.Object["spec"].(map[string]any)
	if diff := cmp.Diff(3.0, spec["replicas"]); diff != "" {
		t.Errorf("Render(deploy) spec.replicas: a JSON number is a double: -want, +got:\n%s", diff)
	}
	b, err := json.Marshal(spec)
	if err != nil {
		t.Fatalf("json.Marshal(spec): %v", err)
	}
	want := `{"minReadySeconds":30,"replicas":3,"template":{"metadata":{"annotations":{"ratio":"0.5"}}}}`
	if diff := cmp.Diff(want, string(b)); diff != "" {
		t.Errorf("applied spec: -want, +got:\n%s", diff)
	}
}
