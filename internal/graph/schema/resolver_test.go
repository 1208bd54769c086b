package schema

import (
	"context"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	k8sschema "k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/kube-openapi/pkg/validation/spec"
)

// countingResolver builds a schema of width properties (each an object of width strings) per
// call and counts calls.
type countingResolver struct {
	calls atomic.Int64
	width int
	delay time.Duration
}

func (r *countingResolver) ResolveSchema(_ context.Context, gvk k8sschema.GroupVersionKind) (*spec.Schema, error) {
	r.calls.Add(1)
	time.Sleep(r.delay)
	props := map[string]spec.Schema{}
	for i := 0; i < r.width; i++ {
		inner := map[string]spec.Schema{}
		for j := 0; j < r.width; j++ {
			inner[fmt.Sprintf("f%d", j)] = *spec.StringProperty()
		}
		props[fmt.Sprintf("p%d", i)] = spec.Schema{SchemaProps: spec.SchemaProps{Type: []string{"object"}, Properties: inner}}
	}
	return &spec.Schema{SchemaProps: spec.SchemaProps{Type: []string{"object"}, Properties: props, Description: gvk.Kind}}, nil
}

func gvkN(i int) k8sschema.GroupVersionKind {
	return k8sschema.GroupVersionKind{Group: fmt.Sprintf("g%d.example.com", i%7), Version: "v1", Kind: fmt.Sprintf("Kind%d", i)}
}

func TestCachedResolver(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	next := &countingResolver{width: 2}
	c := NewCachedResolver(next, CacheOptions{Size: 2, TTL: time.Minute, Now: func() time.Time { return now }})
	resolve := func(i int) {
		t.Helper()
		if _, err := c.ResolveSchema(context.Background(), gvkN(i)); err != nil {
			t.Fatalf("ResolveSchema(%v): %v", gvkN(i), err)
		}
	}
	steps := []struct {
		reason string
		do     func()
		calls  int64
	}{
		{"first lookup resolves", func() { resolve(0) }, 1},
		{"second lookup is cached", func() { resolve(0) }, 1},
		{"another kind resolves", func() { resolve(1) }, 2},
		{"a third kind evicts the least recently used (bounded size)", func() { resolve(2); resolve(0) }, 4},
		{"expired entries resolve again", func() { now = now.Add(2 * time.Minute); resolve(0) }, 5},
		{"invalidating the group drops its kinds", func() { c.Invalidate(gvkN(0).Group); resolve(0) }, 6},
		{"invalidating another group keeps them", func() { c.Invalidate("other.example.com"); resolve(0) }, 6},
	}
	for _, s := range steps {
		s.do()
		if got := next.calls.Load(); got != s.calls {
			t.Fatalf("%s: %d resolutions, want %d", s.reason, got, s.calls)
		}
	}
	if c.Len() > 2 {
		t.Errorf("cache holds %d kinds, more than its size 2", c.Len())
	}
}

func TestCachedResolverCollapsesConcurrentLookups(t *testing.T) {
	next := &countingResolver{width: 2, delay: 50 * time.Millisecond}
	c := NewCachedResolver(next, CacheOptions{})
	var wg sync.WaitGroup
	for i := 0; i < 20; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, _ = c.ResolveSchema(context.Background(), gvkN(1))
		}()
	}
	wg.Wait()
	if got := next.calls.Load(); got != 1 {
		t.Errorf("20 concurrent lookups made %d resolutions, want 1", got)
	}
}

// BenchmarkCachedResolverManyCRDs resolves 1,000 large CRD schemas (60 objects of 60 fields
// each) and reports the live heap afterwards: bounded by the cache size, not by the number of
// CRDs in the cluster.
func BenchmarkCachedResolverManyCRDs(b *testing.B) {
	for _, size := range []int{64, 512, 100000} {
		b.Run(fmt.Sprintf("cache=%d", size), func(b *testing.B) {
			var heap float64
			for b.Loop() {
				c := NewCachedResolver(&countingResolver{width: 60}, CacheOptions{Size: size})
				for i := 0; i < 1000; i++ {
					if _, err := c.ResolveSchema(context.Background(), gvkN(i)); err != nil {
						b.Fatal(err)
					}
				}
				runtime.GC()
				var ms runtime.MemStats
				runtime.ReadMemStats(&ms)
				heap = float64(ms.HeapAlloc) / (1 << 20)
				runtime.KeepAlive(c)
			}
			b.ReportMetric(heap, "MiB-live-heap")
		})
	}
}
