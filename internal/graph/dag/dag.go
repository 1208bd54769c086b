package dag

import (
	"fmt"
	"slices"
)

// DAG is a directed graph of resource ids where an edge a -> b means
// "a depends on b". The zero value is not usable; call New. A DAG is not
// safe for concurrent mutation.
type DAG struct {
	// order maps an id to its declaration (insertion) index.
	order map[string]int
	// ids lists vertices in declaration order.
	ids []string
	// deps[a] holds the direct dependencies of a.
	deps map[string]map[string]struct{}
	// dependents[b] holds the vertices that directly depend on b.
	dependents map[string]map[string]struct{}
}

// New returns an empty graph.
func New() *DAG {
	return &DAG{
		order:      map[string]int{},
		deps:       map[string]map[string]struct{}{},
		dependents: map[string]map[string]struct{}{},
	}
}

// AddVertex adds id. Vertices remember their insertion (declaration) order.
// Adding an id twice is an error.
func (d *DAG) AddVertex(id string) error {
	if _, ok := d.order[id]; ok {
		return fmt.Errorf("resource %q is already declared", id)
	}
	d.order[id] = len(d.ids)
	d.ids = append(d.ids, id)
	d.deps[id] = map[string]struct{}{}
	d.dependents[id] = map[string]struct{}{}
	return nil
}

// Vertices returns all ids in declaration order.
func (d *DAG) Vertices() []string {
	return slices.Clone(d.ids)
}

// AddDependencies records that id depends on each of deps. id and every
// dependency must already be vertices, and id may not depend on itself.
// Duplicate edges are ignored. On error the graph is left unchanged.
func (d *DAG) AddDependencies(id string, deps []string) error {
	if _, ok := d.order[id]; !ok {
		return fmt.Errorf("unknown resource %q", id)
	}
	for _, dep := range deps {
		if dep == id {
			return fmt.Errorf("resource %q references itself", id)
		}
		if _, ok := d.order[dep]; !ok {
			return fmt.Errorf("resource %q references unknown resource %q", id, dep)
		}
	}
	for _, dep := range deps {
		d.deps[id][dep] = struct{}{}
		d.dependents[dep][id] = struct{}{}
	}
	return nil
}

// Dependencies returns the sorted direct dependencies of id, or nil if id
// is unknown or has none.
func (d *DAG) Dependencies(id string) []string {
	return sortedSet(d.deps[id])
}

// Dependents returns the sorted ids that directly depend on id, or nil if
// id is unknown or has none.
func (d *DAG) Dependents(id string) []string {
	return sortedSet(d.dependents[id])
}

// TransitiveDependents returns the sorted ids that depend on id directly or
// indirectly, excluding id itself, or nil if there are none.
func (d *DAG) TransitiveDependents(id string) []string {
	seen := map[string]struct{}{}
	queue := []string{id}
	for len(queue) > 0 {
		cur := queue[0]
		queue = queue[1:]
		for dep := range d.dependents[cur] {
			if _, ok := seen[dep]; ok || dep == id {
				continue
			}
			seen[dep] = struct{}{}
			queue = append(queue, dep)
		}
	}
	return sortedSet(seen)
}

func sortedSet(set map[string]struct{}) []string {
	if len(set) == 0 {
		return nil
	}
	out := make([]string, 0, len(set))
	for k := range set {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// byDeclaration returns the members of set ordered by declaration.
func (d *DAG) byDeclaration(set map[string]struct{}) []string {
	out := make([]string, 0, len(set))
	for k := range set {
		out = append(out, k)
	}
	slices.SortFunc(out, func(a, b string) int { return d.order[a] - d.order[b] })
	return out
}
