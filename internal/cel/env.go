package cel

import (
	"fmt"
	"maps"
	"slices"

	"github.com/google/cel-go/cel"
	"github.com/google/cel-go/common/ast"
	"github.com/google/cel-go/ext"
	apiservercel "k8s.io/apiserver/pkg/cel"
	k8slib "k8s.io/apiserver/pkg/cel/library"
)

// Default limits of every program.
const (
	// DefaultCostLimit bounds the runtime cost of one evaluation (same order as the API
	// server's per-expression limit).
	DefaultCostLimit uint64 = 1_000_000
	// interruptCheckFrequency is how many comprehension iterations run between checks of the
	// context.
	interruptCheckFrequency = 100
)

// Variable declares a variable of the environment with its CEL type.
type Variable struct {
	Name string
	Type *cel.Type
}

// libraries are the function libraries every kro expression can use (SPEC §3).
func libraries() []cel.EnvOption {
	return []cel.EnvOption{
		cel.OptionalTypes(),
		ext.Strings(),
		ext.Lists(),
		ext.Encoders(),
		ext.Bindings(),
		ext.Math(),
		ext.Sets(),
		ext.TwoVarComprehensions(),
		k8slib.URLs(),
		k8slib.Regex(),
		k8slib.Lists(),
		k8slib.Quantity(),
		k8slib.IP(),
		k8slib.CIDR(),
		k8slib.SemverLib(k8slib.SemverVersion(1)),
		k8slib.Format(),
		cel.Lib(hashLibrary{}),
		cel.Lib(jsonLibrary{}),
		cel.Lib(randomLibrary{}),
		cel.Lib(mapsLibrary{}),
		cel.Lib(listsLibrary{}),
		cel.Lib(omitLibrary{}),
	}
}

// NewEnv returns an environment with kro's libraries and the given variables.
func NewEnv(vars ...Variable) (*cel.Env, error) {
	return NewTypedEnv(nil, vars...)
}

// NewTypedEnv returns an environment whose object types (named by the variables' types) are
// declared by types, typically built from OpenAPI schemas.
func NewTypedEnv(types *apiservercel.DeclTypeProvider, vars ...Variable) (*cel.Env, error) {
	env, err := cel.NewEnv(libraries()...)
	if err != nil {
		return nil, fmt.Errorf("building CEL environment: %w", err)
	}
	var opts []cel.EnvOption
	if types != nil {
		typeOpts, err := types.EnvOptions(env.CELTypeProvider())
		if err != nil {
			return nil, fmt.Errorf("declaring CEL types: %w", err)
		}
		opts = append(opts, typeOpts...)
	}
	for _, v := range vars {
		opts = append(opts, cel.Variable(v.Name, v.Type))
	}
	if env, err = env.Extend(opts...); err != nil {
		return nil, fmt.Errorf("building CEL environment: %w", err)
	}
	return env, nil
}

// DynVariables declares each name as a dyn-typed variable.
func DynVariables(names ...string) []Variable {
	vars := make([]Variable, 0, len(names))
	for _, n := range names {
		vars = append(vars, Variable{Name: n, Type: cel.DynType})
	}
	return vars
}

// Program is a compiled, checked expression ready to evaluate.
type Program struct {
	// Expression is the source text.
	Expression string
	// OutputType is the type the checker inferred.
	OutputType *cel.Type
	// References are the top-level variables the expression reads, sorted, each once.
	References []string
	// Warning, when not empty, says why the expression may be expensive: its estimated
	// worst-case cost exceeds Limits.StaticCostLimit. It is advice for the RGD author, not an
	// error.
	Warning string

	// costLimit is the runtime cost limit of every evaluation.
	costLimit uint64
	program   cel.Program
}

// Compile parses, type-checks and plans expr in env. The program runs under DefaultCostLimit;
// use CompileWithLimits for other limits or a worst-case cost warning.
func Compile(env *cel.Env, expr string) (*Program, error) {
	return CompileWithLimits(env, expr, Limits{})
}

// references lists the declared variables an AST reads. Comprehension variables are local and
// not declared in env, so keeping only declared names filters them out.
func references(a *ast.AST, env *cel.Env) []string {
	declared := map[string]bool{}
	for _, v := range env.Variables() {
		declared[v.Name()] = true
	}
	seen := map[string]bool{}
	visitor := ast.NewExprVisitor(func(e ast.Expr) {
		if e.Kind() == ast.IdentKind && declared[e.AsIdent()] {
			seen[e.AsIdent()] = true
		}
	})
	ast.PreOrderVisit(ast.NavigateAST(a), visitor)
	return append([]string{}, slices.Sorted(maps.Keys(seen))...)
}
