package dag

import (
	"errors"
	"fmt"
	"slices"
	"testing"
)

// FuzzTopologicalSort builds a graph from bytes: the first byte picks the
// number of vertices, each following pair adds an edge. The result must be
// either an order that respects every edge or a CycleError naming a real
// cycle.
func FuzzTopologicalSort(f *testing.F) {
	f.Add([]byte{})
	f.Add([]byte{3, 0, 1, 1, 2})
	f.Add([]byte{2, 0, 1, 1, 0})
	f.Add([]byte{4, 0, 1, 0, 2, 1, 3, 2, 3})
	f.Add([]byte{5, 0, 1, 1, 2, 2, 0, 3, 4, 4, 3})
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) == 0 {
			return
		}
		n := int(data[0]%16) + 1
		d := New()
		for i := range n {
			if err := d.AddVertex(fmt.Sprint("v", i)); err != nil {
				t.Fatal(err)
			}
		}
		for i := 1; i+1 < len(data); i += 2 {
			a, b := fmt.Sprint("v", int(data[i])%n), fmt.Sprint("v", int(data[i+1])%n)
			err := d.AddDependencies(a, []string{b})
			if (err != nil) != (a == b) {
				t.Fatalf("AddDependencies(%q, [%q]): %v", a, b, err)
			}
		}
		order, err := d.TopologicalSort()
		if err != nil {
			var ce *CycleError
			if !errors.As(err, &ce) {
				t.Fatalf("TopologicalSort(): want *CycleError, got %v", err)
			}
			c := ce.Cycle
			if len(c) < 3 || c[0] != c[len(c)-1] {
				t.Fatalf("cycle %v is not closed", c)
			}
			seen := map[string]bool{}
			for i := 0; i+1 < len(c); i++ {
				if seen[c[i]] {
					t.Fatalf("cycle %v repeats %q", c, c[i])
				}
				seen[c[i]] = true
				if !slices.Contains(d.Dependencies(c[i]), c[i+1]) {
					t.Fatalf("cycle %v: %q does not depend on %q", c, c[i], c[i+1])
				}
			}
			return
		}
		if len(order) != n {
			t.Fatalf("order %v has %d ids, want %d", order, len(order), n)
		}
		pos := map[string]int{}
		for i, id := range order {
			if _, dup := pos[id]; dup {
				t.Fatalf("order %v repeats %q", order, id)
			}
			pos[id] = i
		}
		for _, id := range order {
			for _, dep := range d.Dependencies(id) {
				if pos[dep] >= pos[id] {
					t.Fatalf("order %v places %q before its dependency %q", order, id, dep)
				}
			}
		}
	})
}
