package runtime_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"

	"github.com/kro-run/kro/api/v1alpha1"
	krocel "github.com/kro-run/kro/internal/cel"
	"github.com/kro-run/kro/internal/graph"
	"github.com/kro-run/kro/internal/runtime"
)

// costRGD sorts a label-selected list of ConfigMaps into another ConfigMap and a status field.
const costRGD = `
metadata: {name: cost, uid: u1}
spec:
  schema:
    apiVersion: v1alpha1
    kind: Cost
    spec:
      name: string
    status:
      names: ${members.sortBy(c, c.metadata.name).map(c, c.metadata.name)}
  resources:
  - id: members
    externalRef:
      apiVersion: v1
      kind: ConfigMap
      metadata:
        selector:
          matchLabels: {team: "${schema.spec.name}"}
  - id: out
    template:
      apiVersion: v1
      kind: ConfigMap
      metadata: {name: "${schema.spec.name}-out"}
      data:
        names: ${members.sortBy(c, c.metadata.name).map(c, c.metadata.name).join(",")}
`

func members(n int) []*unstructured.Unstructured {
	out := make([]*unstructured.Unstructured, n)
	for i := range out {
		out[i] = observedConfig(fmt.Sprintf("member-%04d", n-i), nil)
	}
	return out
}

// TestRuntimeCostLimit checks that the RGD's expressions are accepted, cheap on small lists, and
// that an evaluation running past the runtime cost limit is a clear error on the instance:
// resource (or status field), field and expression, each once, and the limit.
func TestRuntimeCostLimit(t *testing.T) {
	rgd := &v1alpha1.ResourceGraphDefinition{}
	if err := yaml.UnmarshalStrict([]byte(costRGD), rgd); err != nil {
		t.Fatalf("decoding RGD: %v", err)
	}
	const limit = 20_000
	g, err := graph.NewBuilder(testMapper(), graph.WithCELLimits(krocel.Limits{CostLimit: limit})).Build(context.Background(), rgd)
	if err != nil {
		t.Fatalf("Build(...): %v", err)
	}
	const expr = `members.sortBy(c, c.metadata.name).map(c, c.metadata.name).join(",")`

	small := runtime.New(g, instance("web", "team-a", 1))
	small.SetObservedList("members", members(3))
	out, err := small.Render(context.Background(), "out")
	if err != nil {
		t.Fatalf("Render(out) with 3 members: %v", err)
	}
	if got, want := out.Object["data"].(map[string]any)["names"], "member-0001,member-0002,member-0003"; got != want {
		t.Errorf("Render(out) data.names = %q, want %q", got, want)
	}

	large := runtime.New(g, instance("web", "team-a", 1))
	large.SetObservedList("members", members(2000))
	_, err = large.Render(context.Background(), "out")
	if !errors.Is(err, krocel.ErrCostLimitExceeded) || errors.Is(err, runtime.ErrDataPending) {
		t.Fatalf("Render(out) with 2000 members: want a cost limit error (not pending), got %v", err)
	}
	want := fmt.Sprintf(`resource "out" field "data.names": expression %q: evaluation ran past the cost limit of %d`, expr, limit)
	if !strings.HasPrefix(err.Error(), want) || strings.Count(err.Error(), fmt.Sprintf("%q", expr)) != 1 {
		t.Errorf("Render(out) error:\n got: %v\nwant: %s...", err, want)
	}
	_, err = large.Status(context.Background())
	if !errors.Is(err, krocel.ErrCostLimitExceeded) || !strings.Contains(err.Error(), `status field "names": expression "members.sortBy(`) {
		t.Errorf("Status() with 2000 members: want a cost limit error naming the status field, got %v", err)
	}
}
