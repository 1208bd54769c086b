package dag

import (
	"container/heap"
	"strings"
)

// CycleError reports a dependency cycle. Cycle starts and ends with the same
// id and each id depends on the next, e.g. [a b a].
type CycleError struct {
	Cycle []string
}

func (e *CycleError) Error() string {
	return "graph contains a cycle: " + strings.Join(e.Cycle, " -> ")
}

// TopologicalSort returns all ids ordered so that every id comes after all
// of its dependencies. The order is deterministic: among the vertices whose
// dependencies are all placed, the one declared first comes first. If the
// graph has a cycle it returns a *CycleError naming one actual cycle, found
// deterministically.
func (d *DAG) TopologicalSort() ([]string, error) {
	pending := make(map[string]int, len(d.ids))
	ready := &indexHeap{}
	for i, id := range d.ids {
		pending[id] = len(d.deps[id])
		if pending[id] == 0 {
			heap.Push(ready, i)
		}
	}
	out := make([]string, 0, len(d.ids))
	for ready.Len() > 0 {
		id := d.ids[heap.Pop(ready).(int)]
		out = append(out, id)
		for dep := range d.dependents[id] {
			pending[dep]--
			if pending[dep] == 0 {
				heap.Push(ready, d.order[dep])
			}
		}
	}
	if len(out) < len(d.ids) {
		return nil, &CycleError{Cycle: d.findCycle(pending)}
	}
	return out, nil
}

// findCycle runs a depth-first search, in declaration order, over the
// vertices Kahn's algorithm could not place (pending > 0) and returns the
// first cycle closed by a back edge. Every unplaced vertex has an unplaced
// dependency, so such a cycle always exists.
func (d *DAG) findCycle(pending map[string]int) []string {
	const (
		unvisited = iota
		onStack
		done
	)
	state := map[string]int{}
	var stack []string
	var visit func(id string) []string
	visit = func(id string) []string {
		state[id] = onStack
		stack = append(stack, id)
		for _, dep := range d.byDeclaration(d.deps[id]) {
			if pending[dep] == 0 {
				continue
			}
			switch state[dep] {
			case onStack:
				start := len(stack) - 1
				for stack[start] != dep {
					start--
				}
				cycle := append([]string{}, stack[start:]...)
				return append(cycle, dep)
			case unvisited:
				if c := visit(dep); c != nil {
					return c
				}
			}
		}
		stack = stack[:len(stack)-1]
		state[id] = done
		return nil
	}
	for _, id := range d.ids {
		if pending[id] > 0 && state[id] == unvisited {
			if c := visit(id); c != nil {
				return c
			}
		}
	}
	return nil
}

// indexHeap is a min-heap of declaration indexes.
type indexHeap []int

func (h indexHeap) Len() int           { return len(h) }
func (h indexHeap) Less(i, j int) bool { return h[i] < h[j] }
func (h indexHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *indexHeap) Push(x any)        { *h = append(*h, x.(int)) }
func (h *indexHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}
