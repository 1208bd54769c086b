package cel

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/google/cel-go/cel"
	"github.com/google/go-cmp/cmp"
)

// exprCase is one expression of a library test: want is the Eval result, or wantErr a
// substring of the Compile or Eval error.
type exprCase struct {
	reason  string
	expr    string
	want    any
	wantErr string
}

// libraryEnv is NewEnv with the variables of libraryVars.
func libraryEnv(t *testing.T) *cel.Env {
	t.Helper()
	env, err := NewEnv(DynVariables("schema", "a", "v")...)
	if err != nil {
		t.Fatalf("NewEnv(...): %v", err)
	}
	return env
}

func libraryVars() map[string]any {
	vars := testVars()
	vars["v"] = map[string]any{
		"deep": map[string]any{"x": map[string]any{"a": int64(1), "b": int64(2)}, "l": []any{int64(1)}},
		"n":    int64(7),
		"s":    "seed",
		"tags": []any{"a", "b", "c"},
		"uid":  "5f1c7a4e-uid",
	}
	return vars
}

// runExprCases compiles and evaluates every case in env. Errors of library functions are
// real errors: they must never be reported as pending data or as a recovered panic.
func runExprCases(t *testing.T, env *cel.Env, vars map[string]any, cases map[string]exprCase) {
	t.Helper()
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			got, err := compileAndEval(env, tc.expr, vars)
			if tc.wantErr != "" {
				if err == nil {
					t.Fatalf("%s\nEval(%q): want error containing %q, got %#v", tc.reason, tc.expr, tc.wantErr, got)
				}
				if !strings.Contains(err.Error(), tc.wantErr) {
					t.Errorf("%s\nEval(%q): want error containing %q, got %v", tc.reason, tc.expr, tc.wantErr, err)
				}
				if errors.Is(err, ErrDataPending) {
					t.Errorf("%s\nEval(%q): error %v must not be pending", tc.reason, tc.expr, err)
				}
				if msg := err.Error(); strings.Contains(msg, "panicked") || strings.Contains(msg, "internal error") {
					t.Errorf("%s\nEval(%q): error %v comes from a panic", tc.reason, tc.expr, err)
				}
				return
			}
			if err != nil {
				t.Fatalf("%s\nEval(%q): %v", tc.reason, tc.expr, err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("%s\nEval(%q): -want, +got:\n%s", tc.reason, tc.expr, diff)
			}
		})
	}
}

func compileAndEval(env *cel.Env, expr string, vars map[string]any) (any, error) {
	prg, err := Compile(env, expr)
	if err != nil {
		return nil, err
	}
	return prg.Eval(context.Background(), vars)
}
