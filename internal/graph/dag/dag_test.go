package dag

import (
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// edge is one AddDependencies call.
type edge struct {
	id   string
	deps []string
}

func build(t *testing.T, vertices []string, edges []edge) *DAG {
	t.Helper()
	d := New()
	for _, v := range vertices {
		if err := d.AddVertex(v); err != nil {
			t.Fatalf("AddVertex(%q): %v", v, err)
		}
	}
	for _, e := range edges {
		if err := d.AddDependencies(e.id, e.deps); err != nil {
			t.Fatalf("AddDependencies(%q, %v): %v", e.id, e.deps, err)
		}
	}
	return d
}

func TestTopologicalSort(t *testing.T) {
	cases := map[string]struct {
		reason    string
		vertices  []string
		edges     []edge
		want      []string
		wantCycle []string
	}{
		"Empty": {
			reason: "An empty graph sorts to nothing.",
			want:   []string{},
		},
		"NoEdgesKeepsDeclarationOrder": {
			reason:   "Independent vertices keep declaration order, not name order.",
			vertices: []string{"c", "a", "b"},
			want:     []string{"c", "a", "b"},
		},
		"Chain": {
			reason:   "Dependencies come first even when declared later.",
			vertices: []string{"app", "svc", "db"},
			edges:    []edge{{"app", []string{"svc"}}, {"svc", []string{"db"}}},
			want:     []string{"db", "svc", "app"},
		},
		"TiesByDeclarationOrder": {
			reason:   "Among ready vertices the one declared first is placed first.",
			vertices: []string{"z", "y", "x", "w"},
			edges:    []edge{{"z", []string{"w"}}, {"x", []string{"w"}}},
			want:     []string{"y", "w", "z", "x"},
		},
		"Diamond": {
			reason:   "A diamond places the shared dependency first and the join last.",
			vertices: []string{"top", "left", "right", "bottom"},
			edges: []edge{
				{"top", []string{"left", "right"}},
				{"left", []string{"bottom"}},
				{"right", []string{"bottom", "bottom"}},
			},
			want: []string{"bottom", "left", "right", "top"},
		},
		"TwoCycle": {
			reason:    "A 2-cycle is reported starting from the first declared vertex.",
			vertices:  []string{"a", "b"},
			edges:     []edge{{"a", []string{"b"}}, {"b", []string{"a"}}},
			wantCycle: []string{"a", "b", "a"},
		},
		"ThreeCycle": {
			reason:    "A 3-cycle is named in dependency direction.",
			vertices:  []string{"a", "b", "c"},
			edges:     []edge{{"a", []string{"b"}}, {"b", []string{"c"}}, {"c", []string{"a"}}},
			wantCycle: []string{"a", "b", "c", "a"},
		},
		"CycleBehindAcyclicPrefix": {
			reason:    "Vertices leading into a cycle are not part of the reported cycle.",
			vertices:  []string{"entry", "ok", "x", "y"},
			edges:     []edge{{"entry", []string{"ok", "x"}}, {"x", []string{"y"}}, {"y", []string{"x"}}},
			wantCycle: []string{"x", "y", "x"},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			d := build(t, tc.vertices, tc.edges)
			got, err := d.TopologicalSort()
			if tc.wantCycle != nil {
				var ce *CycleError
				if !errors.As(err, &ce) {
					t.Fatalf("%s\nTopologicalSort(): want *CycleError, got %v, %v", tc.reason, got, err)
				}
				if diff := cmp.Diff(tc.wantCycle, ce.Cycle); diff != "" {
					t.Errorf("%s\nTopologicalSort() cycle: -want, +got:\n%s", tc.reason, diff)
				}
				return
			}
			if err != nil {
				t.Fatalf("%s\nTopologicalSort(): unexpected error: %v", tc.reason, err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("%s\nTopologicalSort(): -want, +got:\n%s", tc.reason, diff)
			}
		})
	}
}

func TestCycleErrorMessage(t *testing.T) {
	err := error(&CycleError{Cycle: []string{"a", "b", "a"}})
	if got, want := err.Error(), "graph contains a cycle: a -> b -> a"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
}

func TestAddErrors(t *testing.T) {
	cases := map[string]struct {
		reason  string
		do      func(d *DAG) error
		wantErr string
	}{
		"DuplicateVertex": {
			reason:  "A vertex may be declared once.",
			do:      func(d *DAG) error { return d.AddVertex("a") },
			wantErr: `resource "a" is already declared`,
		},
		"SelfReference": {
			reason:  "A resource may not depend on itself.",
			do:      func(d *DAG) error { return d.AddDependencies("a", []string{"b", "a"}) },
			wantErr: `resource "a" references itself`,
		},
		"UnknownDependency": {
			reason:  "Dependencies must be declared.",
			do:      func(d *DAG) error { return d.AddDependencies("a", []string{"b", "nope"}) },
			wantErr: `resource "a" references unknown resource "nope"`,
		},
		"UnknownVertex": {
			reason:  "The dependent must be declared.",
			do:      func(d *DAG) error { return d.AddDependencies("nope", []string{"a"}) },
			wantErr: `unknown resource "nope"`,
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			d := build(t, []string{"a", "b"}, nil)
			err := tc.do(d)
			if err == nil || err.Error() != tc.wantErr {
				t.Fatalf("%s\nwant error %q, got %v", tc.reason, tc.wantErr, err)
			}
			if got := d.Dependencies("a"); got != nil {
				t.Errorf("%s\nfailed call changed the graph: Dependencies(a) = %v", tc.reason, got)
			}
		})
	}
}

func TestQueries(t *testing.T) {
	d := build(t, []string{"web", "svc", "cfg", "db", "lone"}, []edge{
		{"web", []string{"svc", "cfg"}},
		{"svc", []string{"db"}},
		{"cfg", []string{"db"}},
	})
	cases := map[string]struct {
		reason string
		got    []string
		want   []string
	}{
		"Dependencies":            {reason: "Direct dependencies, sorted.", got: d.Dependencies("web"), want: []string{"cfg", "svc"}},
		"DependenciesNone":        {reason: "A leaf has none.", got: d.Dependencies("db"), want: nil},
		"DependenciesUnknown":     {reason: "An unknown id has none.", got: d.Dependencies("x"), want: nil},
		"Dependents":              {reason: "Direct dependents, sorted.", got: d.Dependents("db"), want: []string{"cfg", "svc"}},
		"TransitiveDependents":    {reason: "All dependents, sorted, without duplicates.", got: d.TransitiveDependents("db"), want: []string{"cfg", "svc", "web"}},
		"TransitiveDependentsTop": {reason: "Nothing depends on the top.", got: d.TransitiveDependents("web"), want: nil},
		"Vertices":                {reason: "Declaration order.", got: d.Vertices(), want: []string{"web", "svc", "cfg", "db", "lone"}},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			if diff := cmp.Diff(tc.want, tc.got); diff != "" {
				t.Errorf("%s\n-want, +got:\n%s", tc.reason, diff)
			}
		})
	}
}

func TestTransitiveDependentsInCycle(t *testing.T) {
	d := build(t, []string{"a", "b", "c"}, []edge{{"a", []string{"b"}}, {"b", []string{"a"}}, {"c", []string{"a"}}})
	if diff := cmp.Diff([]string{"b", "c"}, d.TransitiveDependents("a")); diff != "" {
		t.Errorf("TransitiveDependents(a): -want, +got:\n%s", diff)
	}
}
