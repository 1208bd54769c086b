package cel

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strings"
	"testing"

	"github.com/google/cel-go/cel"
	"github.com/google/cel-go/common/types/ref"
	"github.com/google/go-cmp/cmp"
)

const nestedThree = `schema.spec.ports.map(x, schema.spec.ports.map(y, schema.spec.ports.map(z, x * y * z)))`

func TestEstimateCost(t *testing.T) {
	cases := map[string]struct {
		reason         string
		expr           string
		maxInputSize   uint64
		wantMaxAtMost  uint64
		wantMaxAtLeast uint64
		wantMinAtMost  uint64 // checked when set
	}{
		"Constant": {
			reason:        "constant arithmetic costs nothing to speak of",
			expr:          `1 + 2`,
			wantMaxAtMost: 1,
		},
		"HashLinear": {
			reason:         "hashing costs 0.1 per byte of a string of up to MaxInputSize bytes",
			expr:           `hash.sha256(v.s)`,
			wantMaxAtLeast: 100,
			wantMaxAtMost:  110,
		},
		"SeededStringConstantLength": {
			reason:        "a literal length bounds the result",
			expr:          `random.seededString(8, v.uid)`,
			wantMaxAtMost: 120,
		},
		"SeededStringComputedLength": {
			reason:        "a computed length is bounded by the maximum length",
			expr:          `random.seededString(v.n, v.uid)`,
			wantMaxAtMost: 10_000,
		},
		"JSONMarshalBounded": {
			reason:         "json.marshal of dyn data is linear in the assumed size, not unbounded",
			expr:           `json.marshal(v)`,
			wantMaxAtLeast: DefaultMaxInputSize,
			wantMaxAtMost:  2 * DefaultMaxInputSize,
		},
		"ListsLinear": {
			reason:         "index edits copy the list",
			expr:           `lists.insertAtIndex(v.tags, 0, "x")`,
			wantMaxAtLeast: DefaultMaxInputSize,
			wantMaxAtMost:  2 * DefaultMaxInputSize,
		},
		"DeepMergeLinear": {
			reason:         "deepMerge visits both maps",
			expr:           `{"a": 1}.deepMerge(v.deep)`,
			wantMaxAtLeast: DefaultMaxInputSize,
			wantMaxAtMost:  2 * DefaultMaxInputSize,
		},
		"SmallInputs": {
			reason:        "MaxInputSize scales the estimate",
			expr:          `lists.insertAtIndex(v.tags, 0, "x")`,
			maxInputSize:  10,
			wantMaxAtMost: 100,
		},
		"TwoNestedComprehensions": {
			reason:        "two comprehensions nested over unknown data pass the default static limit",
			expr:          `schema.spec.ports.map(x, schema.spec.ports.map(y, x * y))`,
			wantMaxAtMost: DefaultStaticCostLimit,
		},
		"RangeOfComputedSize": {
			reason:         "lists.range of a computed size may be empty: the minimum is small, the maximum unbounded",
			expr:           `lists.range(v.n).map(i, i)`,
			wantMinAtMost:  100,
			wantMaxAtLeast: math.MaxUint64,
			wantMaxAtMost:  math.MaxUint64,
		},
		"RangeOfLiteralSize": {
			reason:         "lists.range of a literal size has an exact cost",
			expr:           `lists.range(10).map(i, i)`,
			wantMaxAtLeast: 100,
			wantMaxAtMost:  200,
		},
		"ThreeNestedComprehensions": {
			reason:         "three comprehensions nested over unknown data exceed the default static limit",
			expr:           nestedThree,
			wantMaxAtLeast: DefaultStaticCostLimit + 1,
			wantMaxAtMost:  math.MaxUint64,
		},
	}
	env := libraryEnv(t)
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			checked, iss := env.Compile(tc.expr)
			if iss.Err() != nil {
				t.Fatalf("Compile(%q): %v", tc.expr, iss.Err())
			}
			got, err := EstimateCost(env, checked, tc.maxInputSize)
			if err != nil {
				t.Fatalf("%s\nEstimateCost(%q): %v", tc.reason, tc.expr, err)
			}
			if got.Max < tc.wantMaxAtLeast || got.Max > tc.wantMaxAtMost {
				t.Errorf("%s\nEstimateCost(%q).Max = %d, want in [%d, %d]", tc.reason, tc.expr, got.Max, tc.wantMaxAtLeast, tc.wantMaxAtMost)
			}
			if tc.wantMinAtMost > 0 && got.Min > tc.wantMinAtMost {
				t.Errorf("%s\nEstimateCost(%q).Min = %d, want at most %d", tc.reason, tc.expr, got.Min, tc.wantMinAtMost)
			}
			if got.Min > got.Max {
				t.Errorf("EstimateCost(%q) = %+v: min above max", tc.expr, got)
			}
		})
	}
}

func TestCompileWithLimits(t *testing.T) {
	cases := map[string]struct {
		reason       string
		expr         string
		limits       Limits
		wantExceeded bool
		wantWarning  bool
	}{
		"DefaultsAcceptSimple": {
			reason: "an ordinary expression passes without a warning",
			expr:   `{"name": schema.spec.name + "-" + random.seededString(5, v.uid), "labels": schema.spec.labels.merge({"a": "b"})}`,
			limits: DefaultLimits(),
		},
		"DefaultsWarnNested": {
			reason:      "a cubic expression over unknown data is accepted with a warning: small inputs are cheap",
			expr:        nestedThree,
			limits:      DefaultLimits(),
			wantWarning: true,
		},
		"SortByIsAccepted": {
			reason:      "sorting a list of unknown size is expensive only on large lists",
			expr:        `schema.spec.members.sortBy(c, c.metadata.name).map(c, c.metadata.name).join(",")`,
			limits:      DefaultLimits(),
			wantWarning: true,
		},
		"SortByLiteralIsAccepted": {
			reason:      "cel-go cannot bound sortBy on a literal list, which is no reason to refuse it",
			expr:        `json.marshal([{"n": "b"}, {"n": "a"}].sortBy(e, e.n).map(e, e.n))`,
			limits:      DefaultLimits(),
			wantWarning: true,
		},
		"RangeOfComputedSize": {
			reason:      "lists.range of a computed size may be small: cel-go's estimate of its minimum is not a reason to refuse",
			expr:        `lists.range(v.n).map(i, string(i))`,
			limits:      DefaultLimits(),
			wantWarning: true,
		},
		"NoStaticLimit": {
			reason: "without a static limit nothing is reported",
			expr:   nestedThree,
			limits: Limits{},
		},
		"SmallStaticLimit": {
			reason:      "a kro function's own estimate counts against the static limit",
			expr:        `lists.setAtIndex(v.tags, 0, "x")`,
			limits:      Limits{StaticCostLimit: 500},
			wantWarning: true,
		},
		"SmallInputSize": {
			reason: "a smaller assumed input size lowers the estimate below the limit",
			expr:   `lists.setAtIndex(v.tags, 0, "x")`,
			limits: Limits{StaticCostLimit: 500, MaxInputSize: 100},
		},
		"MinimumAboveRuntimeLimit": {
			reason:       "an expression that costs more than the runtime limit on every input can never succeed",
			expr:         `lists.range(2000).map(i, lists.range(2000).map(j, i * j)).size()`,
			limits:       DefaultLimits(),
			wantExceeded: true,
		},
		"MinimumAboveSmallRuntimeLimit": {
			reason:       "the minimum is compared with the runtime limit, with or without a static limit",
			expr:         `lists.setAtIndex([1, 2, 3], 0, 9)`,
			limits:       Limits{CostLimit: 5},
			wantExceeded: true,
		},
		"MinimumWithinRuntimeLimit": {
			reason: "a literal computation within the runtime limit passes",
			expr:   `lists.range(100).map(i, i * i).size()`,
			limits: DefaultLimits(),
		},
	}
	env := libraryEnv(t)
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			prg, err := CompileWithLimits(env, tc.expr, tc.limits)
			if diff := cmp.Diff(tc.wantExceeded, errors.Is(err, ErrCostLimitExceeded)); diff != "" {
				t.Errorf("%s\nerrors.Is(CompileWithLimits(%q), ErrCostLimitExceeded) (error %v): -want, +got:\n%s", tc.reason, tc.expr, err, diff)
			}
			if tc.wantExceeded {
				if err != nil && !strings.Contains(err.Error(), "on any input") {
					t.Errorf("%s\nCompileWithLimits(%q): error %q does not explain that no input is cheap enough", tc.reason, tc.expr, err)
				}
				return
			}
			if err != nil {
				t.Fatalf("%s\nCompileWithLimits(%q): %v", tc.reason, tc.expr, err)
			}
			if diff := cmp.Diff(tc.wantWarning, prg.Warning != ""); diff != "" {
				t.Errorf("%s\nCompileWithLimits(%q).Warning = %q: warning wanted: -want, +got:\n%s", tc.reason, tc.expr, prg.Warning, diff)
			}
			if tc.wantWarning && !strings.Contains(prg.Warning, "estimated worst-case cost") {
				t.Errorf("%s\nCompileWithLimits(%q).Warning = %q does not explain the estimate", tc.reason, tc.expr, prg.Warning)
			}
		})
	}
}

// TestRuntimeCost checks that kro's functions are charged by the size of their inputs at
// runtime, so the cost limit stops them on large data.
func TestRuntimeCost(t *testing.T) {
	big := make([]any, 2000)
	bigMap := map[string]any{}
	for i := range big {
		big[i] = int64(i)
		bigMap[string(rune('a'+i%26))+string(rune('a'+i/26%26))+string(rune('a'+i/676))] = int64(i)
	}
	vars := map[string]any{"schema": map[string]any{}, "a": map[string]any{}, "v": map[string]any{
		"big": big, "bigMap": bigMap, "long": strings.Repeat("x", 100_000),
	}}
	cases := map[string]struct {
		reason       string
		expr         string
		limit        uint64
		wantExceeded bool
	}{
		"ListsUnderLimit": {
			reason: "copying 2000 elements fits a limit of 5000",
			expr:   `lists.setAtIndex(v.big, 0, 1).size()`,
			limit:  5000,
		},
		"ListsOverLimit": {
			reason:       "copying 2000 elements exceeds a limit of 1000",
			expr:         `lists.setAtIndex(v.big, 0, 1).size()`,
			limit:        1000,
			wantExceeded: true,
		},
		"MergeOverLimit": {
			reason:       "merging 2000 entries exceeds a limit of 1000",
			expr:         `v.bigMap.merge({}).size()`,
			limit:        1000,
			wantExceeded: true,
		},
		"DeepMergeOverLimit": {
			reason:       "deep-merging 2000 entries exceeds a limit of 1000",
			expr:         `{}.deepMerge(v.bigMap).size()`,
			limit:        1000,
			wantExceeded: true,
		},
		"JSONMarshalOverLimit": {
			reason:       "encoding 2000 numbers exceeds a limit of 500",
			expr:         `size(json.marshal(v.big))`,
			limit:        500,
			wantExceeded: true,
		},
		"HashOverLimit": {
			reason:       "hashing 100000 bytes costs 10000",
			expr:         `size(hash.sha256(v.long))`,
			limit:        5000,
			wantExceeded: true,
		},
		"HashUnderLimit": {
			reason: "hashing 100000 bytes fits a limit of 20000",
			expr:   `size(hash.sha256(v.long))`,
			limit:  20000,
		},
		"RepeatedCalls": {
			reason:       "many cheap calls add up",
			expr:         `v.big.map(i, random.seededInt(0, 10, string(i))).size()`,
			limit:        2000,
			wantExceeded: true,
		},
	}
	env := libraryEnv(t)
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			prg, err := CompileWithLimits(env, tc.expr, Limits{CostLimit: tc.limit})
			if err != nil {
				t.Fatalf("CompileWithLimits(%q): %v", tc.expr, err)
			}
			_, err = prg.Eval(context.Background(), vars)
			if diff := cmp.Diff(tc.wantExceeded, errors.Is(err, ErrCostLimitExceeded)); diff != "" {
				t.Errorf("%s\nerrors.Is(Eval(%q), ErrCostLimitExceeded) (error %v): -want, +got:\n%s", tc.reason, tc.expr, err, diff)
			}
			if !tc.wantExceeded && err != nil {
				t.Errorf("%s\nEval(%q): %v", tc.reason, tc.expr, err)
			}
			if tc.wantExceeded && err != nil {
				if errors.Is(err, ErrDataPending) {
					t.Errorf("%s\nEval(%q): cost error %v must not be pending", tc.reason, tc.expr, err)
				}
				if want := fmt.Sprintf("cost limit of %d", tc.limit); !strings.Contains(err.Error(), want) {
					t.Errorf("%s\nEval(%q): cost error %q does not name the limit (%q)", tc.reason, tc.expr, err, want)
				}
			}
		})
	}
}

// TestEvalRecoversPanics checks that a function that panics makes Eval return an error.
func TestEvalRecoversPanics(t *testing.T) {
	env, err := libraryEnv(t).Extend(cel.Function("boom",
		cel.Overload("boom_int", []*cel.Type{cel.IntType}, cel.IntType,
			cel.UnaryBinding(func(ref.Val) ref.Val { panic("boom") }))))
	if err != nil {
		t.Fatalf("Extend(...): %v", err)
	}
	prg, err := Compile(env, `boom(1) + 1`)
	if err != nil {
		t.Fatalf("Compile(...): %v", err)
	}
	got, err := prg.Eval(context.Background(), libraryVars())
	if err == nil || !strings.Contains(err.Error(), "boom") {
		t.Errorf("Eval(boom(1) + 1): want an error mentioning the panic, got %v (value %v)", err, got)
	}
}

// TestLibrariesNeverPanic evaluates every kro function on values of every shape.
func TestLibrariesNeverPanic(t *testing.T) {
	values := []any{
		nil, true, int64(-1), int64(0), int64(1 << 40), 1.5, "", "x", []byte("b"),
		[]any{}, []any{int64(1), "a", nil}, map[string]any{},
		map[string]any{"status": int64(1)},
		map[string]any{"status": map[string]any{"conditions": []any{int64(1)}}},
		map[string]any{"status": map[string]any{"conditions": []any{map[string]any{"type": int64(1)}}}},
		map[string]any{"a": map[string]any{"b": []any{map[string]any{}}}},
	}
	exprs := []string{
		`hash.fnv64a(x)`, `hash.sha256(x)`, `hash.md5(x)`,
		`json.marshal(x)`, `json.unmarshal(x)`,
		`random.seededString(x, "s")`, `random.seededString(4, x)`,
		`random.seededInt(x, 10, "s")`, `random.seededInt(0, x, "s")`, `random.seededInt(0, 10, x)`,
		`x.merge({"a": 1})`, `{"a": 1}.merge(x)`, `x.deepMerge(x)`, `{"a": {"b": 1}}.deepMerge(x)`,
		`lists.setAtIndex(x, 0, x)`, `lists.insertAtIndex(x, 0, 1)`, `lists.removeAtIndex(x, 0)`,
		`lists.setAtIndex([1], x, 1)`, `lists.insertAtIndex([1], x, 1)`, `lists.removeAtIndex([1], x)`,
		`x == omit()`, `[x, omit()]`,
		`runtime.newCondition({type: x, status: x})`, `runtime.newCondition(x)`,
		`runtime.condition(x, "Ready")`, `runtime.condition({"status": x}, "Ready")`,
		`runtime.condition({"status": {"conditions": x}}, "Ready")`, `runtime.condition(x, x)`,
	}
	env, err := NewEnv(DynVariables("x")...)
	if err != nil {
		t.Fatalf("NewEnv(...): %v", err)
	}
	if env, err = env.Extend(RuntimeLibrary()); err != nil {
		t.Fatalf("Extend(RuntimeLibrary()): %v", err)
	}
	for _, expr := range exprs {
		prg, err := Compile(env, expr)
		if err != nil {
			t.Fatalf("Compile(%q): %v", expr, err)
		}
		for _, v := range values {
			_, err := prg.Eval(context.Background(), map[string]any{"x": v})
			if err != nil && (strings.Contains(err.Error(), "panicked") || strings.Contains(err.Error(), "internal error")) {
				t.Errorf("Eval(%q) with x = %#v: %v", expr, v, err)
			}
		}
	}
}
