package cel

import (
	"fmt"

	"github.com/google/cel-go/cel"
	"github.com/google/cel-go/common"
	"github.com/google/cel-go/common/ast"
	"github.com/google/cel-go/common/types"
	"github.com/google/cel-go/common/types/ref"
	"github.com/google/cel-go/common/types/traits"
	"github.com/google/cel-go/parser"
)

// Condition keys: the only keys runtime.newCondition accepts and the keys of every condition
// map the runtime functions return.
const (
	conditionType    = "type"
	conditionStatus  = "status"
	conditionReason  = "reason"
	conditionMessage = "message"
)

var conditionKeys = map[string]bool{conditionType: true, conditionStatus: true, conditionReason: true, conditionMessage: true}

// IsConditionStatus reports whether s is a valid condition status: True, False or Unknown.
func IsConditionStatus(s string) bool {
	return s == "True" || s == "False" || s == "Unknown"
}

// RuntimeLibrary returns the functions of status condition expressions (SPEC §3, "runtime in
// status conditions"); add it with env.Extend where those expressions are compiled. It is not
// part of NewEnv:
//
//	runtime.newCondition({type, status, reason, message}) -> map(string, string)
//	runtime.condition(dyn obj, string type) -> map(string, string)
//
// newCondition builds a condition. Keys may be written bare, as in the reference
// ({type: 'AppReady', status: 'True'}), or quoted; only the four keys are allowed, each once,
// and type and status are required (a parse error otherwise). At runtime every value must be a
// string (a literal of another type is a parse error), type must not be empty and status must
// be True, False or Unknown. The result always
// has all four keys (reason and message default to "").
//
// condition finds the condition of the given type in obj.status.conditions. As in the
// reference, a missing status, conditions list or condition gives an empty condition (all four
// keys "") rather than an error, so runtime.condition(x, 'Ready').status == 'True' is simply
// false; obj, status or conditions of the wrong shape is an error.
//
// Unlike the reference, no runtime variable has to be bound: runtime.newCondition and
// runtime.condition are namespaced functions, and declaring a runtime variable as well does not
// change that.
func RuntimeLibrary() cel.EnvOption {
	return cel.Lib(runtimeLibrary{})
}

type runtimeLibrary struct{}

// LibraryName makes the library a singleton.
func (runtimeLibrary) LibraryName() string { return "kro.runtime" }

func (runtimeLibrary) CompileOptions() []cel.EnvOption {
	condType := cel.MapType(cel.StringType, cel.StringType)
	// The argument's values are dyn, not string, so that a computed value of the wrong type
	// reaches newCondition and gets its clear error instead of cel-go's "no such overload";
	// literal values of the wrong type are rejected by the macro.
	argType := cel.MapType(cel.StringType, cel.DynType)
	return []cel.EnvOption{
		cel.Macros(parser.NewReceiverMacro("newCondition", 1, newConditionMacro)),
		cel.Function("runtime.newCondition",
			cel.Overload("runtime.newCondition_map", []*cel.Type{argType}, condType,
				cel.UnaryBinding(newCondition)),
		),
		cel.Function("runtime.condition",
			cel.Overload("runtime.condition_dyn_string", []*cel.Type{cel.DynType, cel.StringType}, condType,
				cel.BinaryBinding(findCondition)),
		),
		costEnvOption(runtimeCosts()),
	}
}

func (runtimeLibrary) ProgramOptions() []cel.ProgramOption {
	return []cel.ProgramOption{costProgramOption(runtimeCosts())}
}

func runtimeCosts() map[string]overloadCost {
	find := linearCost(mapCreateCost, elementCostFactor, 0)
	find.track = func(args []ref.Val, _ ref.Val) *uint64 {
		var n uint64
		if conds, _, err := conditionsOf(args[0]); err == nil && conds != nil {
			n = valueSize(conds)
		}
		c := addSat(callCost+mapCreateCost, n)
		return &c
	}
	return map[string]overloadCost{
		"runtime.newCondition_map":     fixedCost(callCost + mapCreateCost + 4),
		"runtime.condition_dyn_string": find,
	}
}

// newConditionMacro rewrites the bare keys of runtime.newCondition's map literal into strings
// and checks the keys at parse time. Calls on other receivers, and arguments other than a map
// literal, are left alone (the function checks them at runtime).
func newConditionMacro(eh parser.ExprHelper, target ast.Expr, args []ast.Expr) (ast.Expr, *common.Error) {
	if target == nil || target.Kind() != ast.IdentKind || target.AsIdent() != "runtime" {
		return nil, nil
	}
	if args[0].Kind() != ast.MapKind {
		return nil, nil
	}
	seen := map[string]bool{}
	entries := make([]ast.EntryExpr, 0, len(args[0].AsMap().Entries()))
	for _, e := range args[0].AsMap().Entries() {
		entry := e.AsMapEntry()
		key := entry.Key()
		var name string
		switch {
		case key.Kind() == ast.IdentKind:
			name = key.AsIdent()
		case key.Kind() == ast.LiteralKind && key.AsLiteral().Type() == types.StringType:
			name = string(key.AsLiteral().(types.String))
		default:
			return nil, eh.NewError(key.ID(), "runtime.newCondition: keys must be type, status, reason or message")
		}
		if !conditionKeys[name] {
			return nil, eh.NewError(key.ID(), fmt.Sprintf("runtime.newCondition: unknown key %q (allowed: type, status, reason, message)", name))
		}
		if seen[name] {
			return nil, eh.NewError(key.ID(), fmt.Sprintf("runtime.newCondition: duplicate key %q", name))
		}
		seen[name] = true
		if v := entry.Value(); v.Kind() == ast.LiteralKind && v.AsLiteral().Type() != types.StringType {
			return nil, eh.NewError(v.ID(), fmt.Sprintf("runtime.newCondition: %s must be a string", name))
		}
		entries = append(entries, eh.NewMapEntry(eh.NewLiteral(types.String(name)), entry.Value(), entry.IsOptional()))
	}
	for _, required := range []string{conditionType, conditionStatus} {
		if !seen[required] {
			return nil, eh.NewError(args[0].ID(), fmt.Sprintf("runtime.newCondition: %q is required", required))
		}
	}
	return eh.NewMemberCall("newCondition", target, eh.NewMap(entries...)), nil
}

func newCondition(arg ref.Val) ref.Val {
	m, ok := arg.(traits.Mapper)
	if !ok {
		return types.NewErr("runtime.newCondition: argument is %s, expected a map", arg.Type().TypeName())
	}
	cond := map[string]string{conditionType: "", conditionStatus: "", conditionReason: "", conditionMessage: ""}
	seen := map[string]bool{}
	for it := m.Iterator(); it.HasNext() == types.True; {
		k := it.Next()
		key, ok := k.(types.String)
		if !ok || !conditionKeys[string(key)] {
			return types.NewErr("runtime.newCondition: unknown key %v (allowed: type, status, reason, message)", k)
		}
		v := m.Get(k)
		if types.IsError(v) {
			return v
		}
		s, ok := v.(types.String)
		if !ok {
			return types.NewErr("runtime.newCondition: %s is %s, expected string", key, v.Type().TypeName())
		}
		cond[string(key)] = string(s)
		seen[string(key)] = true
	}
	switch {
	case !seen[conditionType] || !seen[conditionStatus]:
		return types.NewErr("runtime.newCondition: type and status are required")
	case cond[conditionType] == "":
		return types.NewErr("runtime.newCondition: type must not be empty")
	case !IsConditionStatus(cond[conditionStatus]):
		return types.NewErr("runtime.newCondition: status must be True, False or Unknown, got %q", cond[conditionStatus])
	}
	return types.NewStringStringMap(types.DefaultTypeAdapter, cond)
}

func findCondition(obj, condType ref.Val) ref.Val {
	want, ok := condType.(types.String)
	if !ok {
		return types.NewErr("runtime.condition: type is %s, expected string", condType.Type().TypeName())
	}
	conds, found, err := conditionsOf(obj)
	if err != nil {
		return types.NewErr("runtime.condition: %v", err)
	}
	empty := map[string]string{conditionType: "", conditionStatus: "", conditionReason: "", conditionMessage: ""}
	if !found {
		return types.NewStringStringMap(types.DefaultTypeAdapter, empty)
	}
	for it := conds.Iterator(); it.HasNext() == types.True; {
		item := it.Next()
		c, ok := item.(traits.Mapper)
		if !ok {
			return types.NewErr("runtime.condition: a condition is %s, expected an object", item.Type().TypeName())
		}
		if conditionField(c, conditionType) != string(want) {
			continue
		}
		out := make(map[string]string, len(conditionKeys))
		for k := range conditionKeys {
			out[k] = conditionField(c, k)
		}
		return types.NewStringStringMap(types.DefaultTypeAdapter, out)
	}
	return types.NewStringStringMap(types.DefaultTypeAdapter, empty)
}

// conditionsOf returns obj.status.conditions; found is false when status or conditions is
// missing.
func conditionsOf(obj ref.Val) (conds traits.Lister, found bool, err error) {
	m, ok := obj.(traits.Mapper)
	if !ok {
		return nil, false, fmt.Errorf("object is %s, expected an object", obj.Type().TypeName())
	}
	status, ok := m.Find(types.String("status"))
	if !ok {
		return nil, false, nil
	}
	sm, ok := status.(traits.Mapper)
	if !ok {
		return nil, false, fmt.Errorf("status is %s, expected an object", status.Type().TypeName())
	}
	list, ok := sm.Find(types.String("conditions"))
	if !ok {
		return nil, false, nil
	}
	conds, ok = list.(traits.Lister)
	if !ok {
		return nil, false, fmt.Errorf("status.conditions is %s, expected a list", list.Type().TypeName())
	}
	return conds, true, nil
}

// conditionField is a string field of a condition, "" when missing or not a string.
func conditionField(c traits.Mapper, key string) string {
	v, ok := c.Find(types.String(key))
	if !ok {
		return ""
	}
	s, ok := v.(types.String)
	if !ok {
		return ""
	}
	return string(s)
}
