package cel

import (
	"github.com/google/cel-go/cel"
	"github.com/google/cel-go/checker"
	"github.com/google/cel-go/common/ast"
	"github.com/google/cel-go/common/types"
	"github.com/google/cel-go/common/types/ref"
	"github.com/google/cel-go/common/types/traits"
)

// listsLibrary edits lists by index, returning a new list and leaving the input unchanged:
//
//	lists.setAtIndex(list(T), int index, T value) -> list(T)      index in [0, size)
//	lists.insertAtIndex(list(T), int index, T value) -> list(T)   index in [0, size]; size appends
//	lists.removeAtIndex(list(T), int index) -> list(T)            index in [0, size)
//
// An index outside its range is an error (never "data pending": the list is all there).
// Cost: linear in the size of the list.
//
// The library also replaces the static estimate of cel-go's lists.range(n): cel-go takes a
// computed n to be as large as possible for the minimum as well as the maximum, which would
// make lists.range(schema.spec.replicas) look unaffordable on any input.
type listsLibrary struct{}

// LibraryName makes the library a singleton.
func (listsLibrary) LibraryName() string { return "kro.lists" }

func (listsLibrary) CompileOptions() []cel.EnvOption {
	t := cel.TypeParamType("T")
	listType := cel.ListType(t)
	return []cel.EnvOption{
		cel.Function("lists.setAtIndex",
			cel.Overload("lists.setAtIndex_list_int_T", []*cel.Type{listType, cel.IntType, t}, listType,
				cel.FunctionBinding(func(args ...ref.Val) ref.Val { return editList("lists.setAtIndex", args, false) })),
		),
		cel.Function("lists.insertAtIndex",
			cel.Overload("lists.insertAtIndex_list_int_T", []*cel.Type{listType, cel.IntType, t}, listType,
				cel.FunctionBinding(func(args ...ref.Val) ref.Val { return editList("lists.insertAtIndex", args, true) })),
		),
		cel.Function("lists.removeAtIndex",
			cel.Overload("lists.removeAtIndex_list_int", []*cel.Type{listType, cel.IntType}, listType,
				cel.BinaryBinding(func(l, i ref.Val) ref.Val { return editList("lists.removeAtIndex", []ref.Val{l, i}, false) })),
		),
		costEnvOption(listsCosts()),
		cel.CostEstimatorOptions(checker.OverloadCostEstimate("lists_range", estimateListsRange)),
	}
}

// estimateListsRange costs lists.range(n) like cel-go does (building a list of n ints) but
// bounds a computed n by [0, unbounded] instead of fixing it at the maximum.
func estimateListsRange(_ checker.CostEstimator, target *checker.AstNode, args []checker.AstNode) *checker.CallEstimate {
	if target != nil || len(args) != 1 {
		return nil
	}
	size := checker.UnknownSizeEstimate()
	if e := args[0].Expr(); e != nil && e.Kind() == ast.LiteralKind {
		if n, ok := e.AsLiteral().(types.Int); ok && n >= 0 {
			size = checker.FixedSizeEstimate(uint64(n))
		}
	}
	cost := size.MultiplyByCostFactor(elementCostFactor).Add(checker.FixedCostEstimate(callCost + listCreateCost))
	return &checker.CallEstimate{CostEstimate: cost, ResultSize: &size}
}

func (listsLibrary) ProgramOptions() []cel.ProgramOption {
	return []cel.ProgramOption{costProgramOption(listsCosts())}
}

// listCreateCost is what cel-go charges for building a list.
const listCreateCost = 10

func listsCosts() map[string]overloadCost {
	c := linearCost(listCreateCost, elementCostFactor, 0)
	return map[string]overloadCost{
		"lists.setAtIndex_list_int_T":    c,
		"lists.insertAtIndex_list_int_T": c,
		"lists.removeAtIndex_list_int":   c,
	}
}

// editList sets (args has a value, insert false), inserts (insert true) or removes (args has
// no value) the element at args[1] of the list args[0].
func editList(name string, args []ref.Val, insert bool) ref.Val {
	if len(args) < 2 {
		return types.NewErr("%s: got %d arguments", name, len(args))
	}
	list, ok := args[0].(traits.Lister)
	if !ok {
		return types.NewErr("%s: first argument is %s, expected a list", name, args[0].Type().TypeName())
	}
	idx, ok := args[1].(types.Int)
	if !ok {
		return types.NewErr("%s: index is %s, expected int", name, args[1].Type().TypeName())
	}
	size, ok := list.Size().(types.Int)
	if !ok {
		return types.NewErr("%s: list has no size", name)
	}
	i, n := int64(idx), int64(size)
	switch {
	case insert && (i < 0 || i > n):
		return types.NewErr("%s: index %d is outside [0, %d]", name, i, n)
	case !insert && (i < 0 || i >= n):
		return types.NewErr("%s: index %d is outside [0, %d)", name, i, n)
	}
	out := make([]ref.Val, 0, n+1)
	for j := range n {
		if j == i {
			switch {
			case len(args) == 2: // remove
				continue
			case insert:
				out = append(out, args[2])
			default: // set
				out = append(out, args[2])
				continue
			}
		}
		out = append(out, list.Get(types.Int(j)))
	}
	if insert && i == n {
		out = append(out, args[2])
	}
	return types.NewRefValList(types.DefaultTypeAdapter, out)
}
