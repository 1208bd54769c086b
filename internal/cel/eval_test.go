package cel

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func testEnvProgram(t *testing.T, expr string) *Program {
	t.Helper()
	env, err := NewEnv(DynVariables("schema", "a")...)
	if err != nil {
		t.Fatalf("NewEnv(...): %v", err)
	}
	prg, err := Compile(env, expr)
	if err != nil {
		t.Fatalf("Compile(%q): %v", expr, err)
	}
	return prg
}

func testVars() map[string]any {
	return map[string]any{
		"schema": map[string]any{
			"spec": map[string]any{
				"name":     "web",
				"replicas": int64(3),
				"ports":    []any{int64(80), int64(443)},
				"labels":   map[string]any{"app": "web"},
			},
		},
		"a": map[string]any{
			"metadata": map[string]any{"name": "cm-a"},
			"data":     map[string]any{"k": "v"},
		},
	}
}

func TestCompile(t *testing.T) {
	cases := map[string]struct {
		reason         string
		expr           string
		wantRefs       []string
		wantOutputType string
	}{
		"NoReferences": {
			reason:         "a constant reads no variable",
			expr:           "1 + 2",
			wantRefs:       []string{},
			wantOutputType: "int",
		},
		"SortedUnique": {
			reason:         "references are sorted and each listed once",
			expr:           "a.metadata.name + schema.spec.name + a.data.k + schema.spec.name",
			wantRefs:       []string{"a", "schema"},
			wantOutputType: "dyn",
		},
		"ComprehensionVariable": {
			reason:         "comprehension variables are local and not references",
			expr:           "[1, 2].map(x, x * 2)",
			wantRefs:       []string{},
			wantOutputType: "list(int)",
		},
		"ComprehensionOverVariable": {
			reason:         "the iterated variable is a reference, the iteration variable is not",
			expr:           "schema.spec.ports.map(x, x + 1)",
			wantRefs:       []string{"schema"},
			wantOutputType: "list(int)",
		},
		"TwoVarComprehension": {
			reason:         "both variables of a two-variable comprehension are local",
			expr:           "schema.spec.labels.transformMap(k, v, k + v)",
			wantRefs:       []string{"schema"},
			wantOutputType: "map(dyn, dyn)",
		},
		"Bind": {
			reason:         "cel.bind variables are local",
			expr:           "cel.bind(n, a.metadata.name, n + n)",
			wantRefs:       []string{"a"},
			wantOutputType: "dyn",
		},
		"StringOutput": {
			reason:         "the checker infers the output type",
			expr:           `"x-" + string(size(schema.spec.name))`,
			wantRefs:       []string{"schema"},
			wantOutputType: "string",
		},
		"BoolOutput": {
			reason:         "comparisons are bool",
			expr:           "schema.spec.replicas > 1",
			wantRefs:       []string{"schema"},
			wantOutputType: "bool",
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			prg := testEnvProgram(t, tc.expr)
			if diff := cmp.Diff(tc.wantRefs, prg.References); diff != "" {
				t.Errorf("%s\nCompile(%q).References: -want, +got:\n%s", tc.reason, tc.expr, diff)
			}
			if diff := cmp.Diff(tc.wantOutputType, prg.OutputType.String()); diff != "" {
				t.Errorf("%s\nCompile(%q).OutputType: -want, +got:\n%s", tc.reason, tc.expr, diff)
			}
			if prg.Expression != tc.expr {
				t.Errorf("Compile(%q).Expression = %q", tc.expr, prg.Expression)
			}
		})
	}
}

func TestCompileErrors(t *testing.T) {
	cases := map[string]struct {
		reason string
		expr   string
		want   string
	}{
		"Syntax": {
			reason: "a syntax error is reported",
			expr:   "schema.spec +",
			want:   "Syntax error",
		},
		"UndeclaredVariable": {
			reason: "only declared variables can be read",
			expr:   "b.metadata.name",
			want:   "undeclared reference to 'b'",
		},
		"UnknownFunction": {
			reason: "unknown functions are rejected at compile time",
			expr:   "nope(1)",
			want:   "undeclared reference to 'nope'",
		},
	}
	env, err := NewEnv(DynVariables("schema", "a")...)
	if err != nil {
		t.Fatalf("NewEnv(...): %v", err)
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := Compile(env, tc.expr)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("%s\nCompile(%q): want error containing %q, got %v", tc.reason, tc.expr, tc.want, err)
			}
		})
	}
}

func TestEval(t *testing.T) {
	cases := map[string]struct {
		reason string
		expr   string
		want   any
	}{
		"String": {
			reason: "a field of the data",
			expr:   "schema.spec.name",
			want:   "web",
		},
		"Int64Arithmetic": {
			reason: "int64 numbers of decoded JSON are CEL ints",
			expr:   "schema.spec.replicas * 2",
			want:   int64(6),
		},
		"Int64ComparedToLiteral": {
			reason: "int64 data compares to int literals",
			expr:   "schema.spec.replicas == 3",
			want:   true,
		},
		"List": {
			reason: "a list of the data is returned as []any",
			expr:   "schema.spec.ports",
			want:   []any{int64(80), int64(443)},
		},
		"ListIndex": {
			reason: "an existing list index",
			expr:   "schema.spec.ports[1]",
			want:   int64(443),
		},
		"Map": {
			reason: "a map of the data is returned as map[string]any",
			expr:   "a.data",
			want:   map[string]any{"k": "v"},
		},
		"MapLiteral": {
			reason: "a map built by the expression",
			expr:   `{"name": a.metadata.name, "n": size(schema.spec.ports)}`,
			want:   map[string]any{"name": "cm-a", "n": int64(2)},
		},
		"HasMissing": {
			reason: "has() on a missing field is false, not pending",
			expr:   "has(a.status)",
			want:   false,
		},
		"Comprehension": {
			reason: "macros over data",
			expr:   "schema.spec.ports.map(p, p + 1)",
			want:   []any{int64(81), int64(444)},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			got, err := testEnvProgram(t, tc.expr).Eval(context.Background(), testVars())
			if err != nil {
				t.Fatalf("%s\nEval(%q): %v", tc.reason, tc.expr, err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("%s\nEval(%q): -want, +got:\n%s", tc.reason, tc.expr, diff)
			}
		})
	}
}

func TestEvalErrors(t *testing.T) {
	cases := map[string]struct {
		reason      string
		expr        string
		wantPending bool
	}{
		"MissingMapKey": {
			reason:      "a missing field of observed data is pending",
			expr:        "a.status.ready",
			wantPending: true,
		},
		"MissingMapKeyIndex": {
			reason:      "a missing key read with [] is pending",
			expr:        `a.data["missing"]`,
			wantPending: true,
		},
		"MissingNestedKey": {
			reason:      "a missing key deep in the data is pending",
			expr:        "schema.spec.labels.team",
			wantPending: true,
		},
		"MissingListIndex": {
			reason:      "a list index past the end of observed data is pending",
			expr:        "schema.spec.ports[5]",
			wantPending: true,
		},
		"MissingListIndexInComprehension": {
			reason:      "a list index past the end of a list value is pending",
			expr:        "schema.spec.ports.map(p, p)[5]",
			wantPending: true,
		},
		"DivisionByZero": {
			reason:      "a real error is not pending",
			expr:        "schema.spec.replicas / 0",
			wantPending: false,
		},
		"BadConversion": {
			reason:      "a failed conversion is not pending",
			expr:        `int("abc")`,
			wantPending: false,
		},
		"NoSuchOverload": {
			reason:      "a type mismatch at runtime is not pending",
			expr:        "schema.spec.name + schema.spec.replicas",
			wantPending: false,
		},
		"StringIndexOutOfRange": {
			reason:      "an out-of-range string index is a real error, not missing data",
			expr:        `"abc".charAt(10)`,
			wantPending: false,
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			got, err := testEnvProgram(t, tc.expr).Eval(context.Background(), testVars())
			if err == nil {
				t.Fatalf("%s\nEval(%q): want error, got %v", tc.reason, tc.expr, got)
			}
			if diff := cmp.Diff(tc.wantPending, errors.Is(err, ErrDataPending)); diff != "" {
				t.Errorf("%s\nerrors.Is(Eval(%q), ErrDataPending) (error %v): -want, +got:\n%s", tc.reason, tc.expr, err, diff)
			}
		})
	}
}

func TestEvalCostLimit(t *testing.T) {
	cases := map[string]struct {
		reason string
		expr   string
	}{
		"NestedRange": {
			reason: "a quadratic comprehension over a large list exceeds the cost limit (the size is computed, so only evaluation can tell)",
			expr:   "lists.range(schema.spec.replicas * 134).map(x, lists.range(schema.spec.replicas * 134).map(y, x * y)).size()",
		},
		"StringGrowth": {
			reason: "a string that grows tenfold per step exceeds the cost limit before it exhausts memory",
			expr:   `"x"` + strings.Repeat(`.replace("x", "xxxxxxxxxx")`, 9) + `.size()`,
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			prg := testEnvProgram(t, tc.expr)
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			done := make(chan error, 1)
			go func() {
				_, err := prg.Eval(ctx, testVars())
				done <- err
			}()
			select {
			case err := <-done:
				if err == nil {
					t.Fatalf("%s\nEval(%q): want a cost limit error, got none", tc.reason, tc.expr)
				}
				if errors.Is(err, ErrDataPending) {
					t.Errorf("%s\nEval(%q): cost limit error %v must not be pending", tc.reason, tc.expr, err)
				}
				if !errors.Is(err, ErrCostLimitExceeded) {
					t.Errorf("%s\nEval(%q): want an error wrapping ErrCostLimitExceeded, got %v", tc.reason, tc.expr, err)
				}
			case <-time.After(20 * time.Second):
				t.Fatalf("%s\nEval(%q) did not return within 20s", tc.reason, tc.expr)
			}
		})
	}
}

func TestEvalCancelledContext(t *testing.T) {
	prg := testEnvProgram(t, "lists.range(1000).map(x, x).size()")
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := prg.Eval(ctx, testVars()); err == nil {
		t.Errorf("Eval(...) with a cancelled context: want error, got none")
	}
}

func TestLibraries(t *testing.T) {
	cases := map[string]struct {
		reason string
		expr   string
		want   any
	}{
		"ExtStrings": {
			reason: "ext.Strings: split",
			expr:   `"a,b".split(",")`,
			want:   []any{"a", "b"},
		},
		"ExtStringsLowerAscii": {
			reason: "ext.Strings: lowerAscii",
			expr:   `"ABC".lowerAscii()`,
			want:   "abc",
		},
		"ExtLists": {
			reason: "ext.Lists: sort",
			expr:   `[3, 1, 2].sort()`,
			want:   []any{int64(1), int64(2), int64(3)},
		},
		"Encoders": {
			reason: "ext.Encoders: base64",
			expr:   `base64.encode(b"hi")`,
			want:   "aGk=",
		},
		"OptionalMissing": {
			reason: "optional field selection falls back to orValue",
			expr:   `schema.?spec.?x.orValue(1)`,
			want:   int64(1),
		},
		"OptionalPresent": {
			reason: "optional field selection finds existing fields",
			expr:   `schema.?spec.?replicas.orValue(1)`,
			want:   int64(3),
		},
		"OptionalResult": {
			reason: "an empty optional result is null",
			expr:   `schema.?spec.?x`,
			want:   nil,
		},
		"TwoVarComprehension": {
			reason: "ext.TwoVarComprehensions: transformMap",
			expr:   `{"a": 1}.transformMap(k, v, v + 1)`,
			want:   map[string]any{"a": int64(2)},
		},
		"Bindings": {
			reason: "ext.Bindings: cel.bind",
			expr:   `cel.bind(x, 2, x * x)`,
			want:   int64(4),
		},
		"Math": {
			reason: "ext.Math: greatest",
			expr:   `math.greatest(1, 5, 3)`,
			want:   int64(5),
		},
		"Sets": {
			reason: "ext.Sets: contains",
			expr:   `sets.contains([1, 2, 3], [2])`,
			want:   true,
		},
		"Quantity": {
			reason: "k8s quantity library",
			expr:   `quantity("1Gi").isGreaterThan(quantity("1Mi"))`,
			want:   true,
		},
		"URL": {
			reason: "k8s URL library",
			expr:   `url("https://x.io/p").getHost()`,
			want:   "x.io",
		},
		"IP": {
			reason: "k8s IP library",
			expr:   `ip("10.0.0.1").family()`,
			want:   int64(4),
		},
		"CIDR": {
			reason: "k8s CIDR library",
			expr:   `cidr("10.0.0.0/8").containsIP(ip("10.1.2.3"))`,
			want:   true,
		},
		"Semver": {
			reason: "k8s semver library",
			expr:   `isSemver("1.2.3")`,
			want:   true,
		},
		"Regex": {
			reason: "k8s regex library",
			expr:   `"abc123".find("[0-9]+")`,
			want:   "123",
		},
		"K8sLists": {
			reason: "k8s lists library",
			expr:   `[1, 2, 3].isSorted()`,
			want:   true,
		},
		"Format": {
			reason: "k8s format library",
			expr:   `format.dns1123Label().validate("Not_Valid").hasValue()`,
			want:   true,
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			got, err := testEnvProgram(t, tc.expr).Eval(context.Background(), testVars())
			if err != nil {
				t.Fatalf("%s\nEval(%q): %v", tc.reason, tc.expr, err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("%s\nEval(%q): -want, +got:\n%s", tc.reason, tc.expr, diff)
			}
		})
	}
}

func TestEvalBool(t *testing.T) {
	cases := map[string]struct {
		reason      string
		expr        string
		want        bool
		wantErr     bool
		wantPending bool
	}{
		"True": {
			reason: "a true condition",
			expr:   "schema.spec.replicas > 1",
			want:   true,
		},
		"False": {
			reason: "a false condition",
			expr:   `a.metadata.name == "other"`,
			want:   false,
		},
		"NotBool": {
			reason:  "a non-bool result is an error",
			expr:    "schema.spec.replicas",
			wantErr: true,
		},
		"Pending": {
			reason:      "a missing field is pending",
			expr:        "a.status.ready == true",
			wantErr:     true,
			wantPending: true,
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			got, err := testEnvProgram(t, tc.expr).EvalBool(context.Background(), testVars())
			if tc.wantErr {
				if err == nil {
					t.Fatalf("%s\nEvalBool(%q): want error, got %v", tc.reason, tc.expr, got)
				}
				if diff := cmp.Diff(tc.wantPending, errors.Is(err, ErrDataPending)); diff != "" {
					t.Errorf("%s\nerrors.Is(EvalBool(%q), ErrDataPending) (error %v): -want, +got:\n%s", tc.reason, tc.expr, err, diff)
				}
				return
			}
			if err != nil {
				t.Fatalf("%s\nEvalBool(%q): %v", tc.reason, tc.expr, err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("%s\nEvalBool(%q): -want, +got:\n%s", tc.reason, tc.expr, diff)
			}
		})
	}
}
