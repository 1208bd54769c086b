package graph

import (
	"fmt"
	"strings"

	"github.com/google/cel-go/cel"
	"github.com/google/cel-go/common/ast"
	"github.com/google/cel-go/common/types"

	krocel "github.com/kro-run/kro/internal/cel"
)

// BuiltinConditionTypes are kro's own instance conditions (SPEC §6): the only condition types
// a custom condition may read from the instance with runtime.condition(schema, type).
var BuiltinConditionTypes = []string{"InstanceManaged", "GraphResolved", "ResourcesReady", "Ready"}

// compileConditions compiles the custom status conditions: each entry an expression returning
// a condition (runtime.newCondition) or a list of them.
func compileConditions(c *exprCompiler, env *cel.Env, raw any) ([]*krocel.Program, error) {
	if raw == nil {
		return nil, nil
	}
	list, ok := raw.([]any)
	if !ok {
		return nil, fmt.Errorf("spec.schema.status.conditions: must be a list of ${...} expressions")
	}
	env, err := env.Extend(krocel.RuntimeLibrary())
	if err != nil {
		return nil, err
	}
	var out []*krocel.Program
	paths := make([]string, 0, len(list))
	exprs := make([]string, 0, len(list))
	for i, item := range list {
		path := fmt.Sprintf("spec.schema.status.conditions[%d]", i)
		src, ok := item.(string)
		if !ok {
			return nil, fmt.Errorf("%s: must be a ${...} expression", path)
		}
		expr, err := standaloneExpression(src)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		prg, err := c.compile(env, path, expr)
		if err != nil {
			return nil, err
		}
		switch prg.OutputType.Kind() {
		case types.MapKind, types.ListKind, types.DynKind:
		default:
			return nil, fmt.Errorf("%s: expression %q returns %s, expected a condition (runtime.newCondition) or a list of them", path, expr, prg.OutputType)
		}
		out = append(out, prg)
		paths = append(paths, path)
		exprs = append(exprs, expr)
	}
	if err := checkConditionRules(env, paths, exprs); err != nil {
		return nil, err
	}
	return out, nil
}

// checkConditionRules applies the reference kro's static rules to the custom condition
// entries (exprs, each named by the RGD field path in paths), after they compiled:
//
//   - runtime.condition(schema, 'X') with a literal X must name a built-in type; a type that
//     an entry declares is a self-reference (custom conditions cannot reference each other),
//     any other name is unknown (a typo). Lookups on other objects and computed types are left
//     to evaluation.
//   - No two entries declare the same literal type with runtime.newCondition; one entry may
//     (in both branches of a ternary). Which branch runs is not considered.
//   - A literal status is True, False or Unknown and a literal type is not empty; computed
//     values are checked at evaluation.
func checkConditionRules(env *cel.Env, paths, exprs []string) error {
	roots := make([]ast.Expr, len(exprs))
	for i, expr := range exprs {
		parsed, iss := env.Parse(expr)
		if iss.Err() != nil {
			return fmt.Errorf("%s: expression %q: %w", paths[i], expr, iss.Err())
		}
		roots[i] = parsed.NativeRep().Expr()
	}
	var errs errorList
	declaredBy := map[string]int{}
	for i, root := range roots {
		for _, typ := range literalConditionTypes(root) {
			if first, dup := declaredBy[typ]; dup && first != i {
				errs.add(fmt.Errorf("%s: condition type %q is declared by more than one conditions entry (also by conditions[%d]) in expression %q", paths[i], typ, first, exprs[i]))
				continue
			}
			declaredBy[typ] = i
		}
	}
	builtin := map[string]bool{}
	for _, t := range BuiltinConditionTypes {
		builtin[t] = true
	}
	for i, root := range roots {
		ast.PreOrderVisit(root, ast.NewExprVisitor(func(e ast.Expr) {
			switch {
			case isRuntimeCall(e, "condition"):
				args := e.AsCall().Args()
				if len(args) != 2 || args[0].Kind() != ast.IdentKind || args[0].AsIdent() != SchemaVariable {
					return
				}
				typ, ok := literalString(args[1])
				_, declared := declaredBy[typ]
				switch {
				case !ok || builtin[typ]:
				case declared:
					errs.add(fmt.Errorf("%s: runtime.condition(schema, %q): custom conditions cannot reference each other in expression %q", paths[i], typ, exprs[i]))
				default:
					errs.add(fmt.Errorf("%s: runtime.condition(schema, %q): unknown condition type; only kro's built-in types (%s) can be read from schema in expression %q",
						paths[i], typ, strings.Join(BuiltinConditionTypes, ", "), exprs[i]))
				}
			case isRuntimeCall(e, "newCondition"):
				args := e.AsCall().Args()
				if len(args) != 1 {
					return
				}
				if status, ok := mapLiteralString(args[0], "status"); ok && !krocel.IsConditionStatus(status) {
					errs.add(fmt.Errorf("%s: runtime.newCondition: status must be one of True, False, Unknown (got %q) in expression %q", paths[i], status, exprs[i]))
				}
				if typ, ok := mapLiteralString(args[0], "type"); ok && typ == "" {
					errs.add(fmt.Errorf("%s: runtime.newCondition: type must not be empty in expression %q", paths[i], exprs[i]))
				}
			}
		}))
	}
	return errs.err()
}

// literalConditionTypes returns the literal types of the runtime.newCondition calls under
// root, each once, in the order they appear.
func literalConditionTypes(root ast.Expr) []string {
	var out []string
	seen := map[string]bool{}
	ast.PreOrderVisit(root, ast.NewExprVisitor(func(e ast.Expr) {
		if !isRuntimeCall(e, "newCondition") || len(e.AsCall().Args()) != 1 {
			return
		}
		if typ, ok := mapLiteralString(e.AsCall().Args()[0], "type"); ok && !seen[typ] {
			seen[typ] = true
			out = append(out, typ)
		}
	}))
	return out
}

// isRuntimeCall reports whether e is runtime.<name>(...).
func isRuntimeCall(e ast.Expr, name string) bool {
	if e.Kind() != ast.CallKind {
		return false
	}
	call := e.AsCall()
	if !call.IsMemberFunction() || call.FunctionName() != name {
		return false
	}
	target := call.Target()
	return target.Kind() == ast.IdentKind && target.AsIdent() == "runtime"
}

// literalString is the value of a string literal.
func literalString(e ast.Expr) (string, bool) {
	if e.Kind() != ast.LiteralKind {
		return "", false
	}
	s, ok := e.AsLiteral().(types.String)
	return string(s), ok
}

// mapLiteralString is the value of key in a map literal when it is a string literal. The
// runtime.newCondition macro has turned bare keys into string literals.
func mapLiteralString(e ast.Expr, key string) (string, bool) {
	if e.Kind() != ast.MapKind {
		return "", false
	}
	for _, entry := range e.AsMap().Entries() {
		me := entry.AsMapEntry()
		if k, ok := literalString(me.Key()); ok && k == key {
			return literalString(me.Value())
		}
	}
	return "", false
}
