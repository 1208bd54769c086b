package cel

import (
	"encoding/json"
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestOmitLibrary(t *testing.T) {
	cases := map[string]exprCase{
		"Omit": {
			reason: "omit() evaluates to the Go value Omit",
			expr:   `omit()`,
			want:   Omit,
		},
		"ConditionalOmit": {
			reason: "omit() type-checks in a branch of any type",
			expr:   `schema.spec.replicas > 5 ? schema.spec.replicas : omit()`,
			want:   Omit,
		},
		"ConditionalValue": {
			reason: "the other branch is a normal value",
			expr:   `schema.spec.replicas > 1 ? {"n": schema.spec.replicas} : omit()`,
			want:   map[string]any{"n": int64(3)},
		},
		"NestedInMap": {
			reason: "an omitted map entry is kept as Omit for the caller to drop",
			expr:   `{"a": omit(), "b": 1}`,
			want:   map[string]any{"a": Omit, "b": int64(1)},
		},
		"NestedInList": {
			reason: "an omitted list element is kept as Omit for the caller to drop",
			expr:   `[1, omit(), 2]`,
			want:   []any{int64(1), Omit, int64(2)},
		},
		"NotComparable": {
			reason:  "omit() is a marker, not a value to compare",
			expr:    `omit() == omit()`,
			wantErr: "omit() cannot be compared",
		},
		"NoArguments": {
			reason:  "omit takes no argument",
			expr:    `omit(1)`,
			wantErr: "found no matching overload for 'omit'",
		},
	}
	runExprCases(t, libraryEnv(t), libraryVars(), cases)
}

func TestIsOmit(t *testing.T) {
	cases := map[string]struct {
		reason string
		in     any
		want   bool
	}{
		"Omit":      {reason: "the Go value", in: Omit, want: true},
		"Pointer":   {reason: "a pointer to it", in: &Omitted{}, want: true},
		"CELValue":  {reason: "the CEL value of omit()", in: omitValue{}, want: true},
		"Nil":       {reason: "null is a value", in: nil, want: false},
		"EmptyMap":  {reason: "an empty map is a value", in: map[string]any{}, want: false},
		"String":    {reason: "the string omit() is a value", in: "omit()", want: false},
		"EmptyList": {reason: "an empty list is a value", in: []any{}, want: false},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			if diff := cmp.Diff(tc.want, IsOmit(tc.in)); diff != "" {
				t.Errorf("%s\nIsOmit(%#v): -want, +got:\n%s", tc.reason, tc.in, diff)
			}
		})
	}
}

func TestPruneOmit(t *testing.T) {
	cases := map[string]struct {
		reason string
		in     any
		want   any
	}{
		"Scalar": {
			reason: "scalars are returned as they are",
			in:     "x",
			want:   "x",
		},
		"TopLevel": {
			reason: "a top-level Omit is left for the caller",
			in:     Omit,
			want:   Omit,
		},
		"MapEntry": {
			reason: "an omitted map entry is removed",
			in:     map[string]any{"a": Omit, "b": int64(1)},
			want:   map[string]any{"b": int64(1)},
		},
		"ListElement": {
			reason: "an omitted list element is removed",
			in:     []any{int64(1), Omit, int64(2)},
			want:   []any{int64(1), int64(2)},
		},
		"Nested": {
			reason: "omits are removed at any depth",
			in: map[string]any{
				"spec": map[string]any{"x": Omit, "l": []any{map[string]any{"y": Omit, "z": "k"}}},
				"keep": []any{"a"},
			},
			want: map[string]any{
				"spec": map[string]any{"l": []any{map[string]any{"z": "k"}}},
				"keep": []any{"a"},
			},
		},
		"AllOmitted": {
			reason: "a list whose elements are all omitted becomes empty, not nil",
			in:     []any{Omit},
			want:   []any{},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			if diff := cmp.Diff(tc.want, PruneOmit(tc.in)); diff != "" {
				t.Errorf("%s\nPruneOmit(...): -want, +got:\n%s", tc.reason, diff)
			}
		})
	}
}

func TestPruneOmitLeavesInput(t *testing.T) {
	in := map[string]any{"a": Omit, "n": map[string]any{"b": Omit}}
	_ = PruneOmit(in)
	want := map[string]any{"a": Omit, "n": map[string]any{"b": Omit}}
	if diff := cmp.Diff(want, in); diff != "" {
		t.Errorf("PruneOmit(...) changed its input: -want, +got:\n%s", diff)
	}
}

func TestOmitNotEncoded(t *testing.T) {
	_, err := json.Marshal(map[string]any{"a": Omit})
	if !errors.Is(err, errOmitEncoded) {
		t.Errorf("json.Marshal(map with Omit): want error %v, got %v", errOmitEncoded, err)
	}
}
