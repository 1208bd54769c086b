package runtime_test

import (
	"context"
	"testing"

	kroruntime "github.com/kro-run/kro/internal/runtime"
)

// BenchmarkRender measures rendering a typical Deployment template (standalone and string
// template expressions reading schema and two other resources) for one instance.
func BenchmarkRender(b *testing.B) {
	g := buildGraph(&testing.T{})
	inst := instance("web", "default", 3)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		rt := kroruntime.New(g, inst)
		rt.SetObserved("config", observedConfig("web-config", map[string]any{"host": "example.com", "ready": "true"}))
		rt.SetObserved("ns", observedNamespace("ns-web"))
		if _, err := rt.Render(ctx, "deploy"); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkStatus measures projecting the instance status fields.
func BenchmarkStatus(b *testing.B) {
	g := buildGraph(&testing.T{})
	inst := instance("web", "default", 3)
	ctx := context.Background()
	rt := kroruntime.New(g, inst)
	rt.SetObserved("config", observedConfig("web-config", map[string]any{"host": "example.com", "ready": "true"}))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := rt.Status(ctx); err != nil {
			b.Fatal(err)
		}
	}
}
