package cel

import (
	"github.com/google/cel-go/cel"
	"github.com/google/cel-go/common/types"
	"github.com/google/cel-go/common/types/ref"
	"github.com/google/cel-go/common/types/traits"
)

// mapsLibrary combines maps:
//
//	<map(K, V)>.merge(map(K, V)) -> map(K, V)   shallow: on a shared key the argument wins
//	<dyn>.deepMerge(dyn) -> dyn                  recursive: maps under a shared key are merged,
//	                                             anything else (lists, scalars, a map against a
//	                                             non-map) is replaced by the argument's value
//
// deepMerge takes and returns dyn, like the reference, so typed objects (an OpenAPI-typed
// podSpec) can be merged with map literals; both sides must be maps at runtime.
// {"a": 1}.merge({"a": 2, "b": 2}) == {"a": 2, "b": 2}.
// Cost: linear in the entries of both maps (deepMerge: of every nested value).
type mapsLibrary struct{}

// LibraryName makes the library a singleton.
func (mapsLibrary) LibraryName() string { return "kro.maps" }

func (mapsLibrary) CompileOptions() []cel.EnvOption {
	mapType := cel.MapType(cel.TypeParamType("K"), cel.TypeParamType("V"))
	return []cel.EnvOption{
		cel.Function("merge",
			cel.MemberOverload("map_merge_map", []*cel.Type{mapType, mapType}, mapType,
				cel.BinaryBinding(mapMerge)),
		),
		cel.Function("deepMerge",
			cel.MemberOverload("dyn_deepMerge_dyn", []*cel.Type{cel.DynType, cel.DynType}, cel.DynType,
				cel.BinaryBinding(mapDeepMerge)),
		),
		costEnvOption(mapsCosts()),
	}
}

func (mapsLibrary) ProgramOptions() []cel.ProgramOption {
	return []cel.ProgramOption{costProgramOption(mapsCosts())}
}

func mapsCosts() map[string]overloadCost {
	deep := linearCost(mapCreateCost, elementCostFactor, 0, 1)
	deep.track = func(args []ref.Val, _ ref.Val) *uint64 {
		var n uint64
		for _, a := range args {
			n = addSat(n, treeSize(a))
		}
		c := addSat(callCost+mapCreateCost, n)
		return &c
	}
	return map[string]overloadCost{
		"map_merge_map":     linearCost(mapCreateCost, elementCostFactor, 0, 1),
		"dyn_deepMerge_dyn": deep,
	}
}

// mapCreateCost is what cel-go charges for building a map.
const mapCreateCost = 30

func mapMerge(lhs, rhs ref.Val) ref.Val {
	left, lok := lhs.(traits.Mapper)
	right, rok := rhs.(traits.Mapper)
	if !lok || !rok {
		return types.NewErr("merge: arguments are %s.merge(%s), expected maps", lhs.Type().TypeName(), rhs.Type().TypeName())
	}
	out := make(map[ref.Val]ref.Val, mapLen(left)+mapLen(right))
	copyEntries(out, left)
	copyEntries(out, right)
	return types.NewRefValMap(types.DefaultTypeAdapter, out)
}

func mapDeepMerge(lhs, rhs ref.Val) ref.Val {
	left, lok := lhs.(traits.Mapper)
	right, rok := rhs.(traits.Mapper)
	if !lok || !rok {
		return types.NewErr("deepMerge: arguments are %s.deepMerge(%s), expected maps", lhs.Type().TypeName(), rhs.Type().TypeName())
	}
	return deepMerge(left, right)
}

func deepMerge(left, right traits.Mapper) ref.Val {
	out := make(map[ref.Val]ref.Val, mapLen(left)+mapLen(right))
	copyEntries(out, left)
	for it := right.Iterator(); it.HasNext() == types.True; {
		k := it.Next()
		v := right.Get(k)
		if types.IsError(v) {
			return v
		}
		if rm, ok := v.(traits.Mapper); ok {
			if lm, ok := out[k].(traits.Mapper); ok {
				merged := deepMerge(lm, rm)
				if types.IsError(merged) {
					return merged
				}
				v = merged
			}
		}
		out[k] = v
	}
	return types.NewRefValMap(types.DefaultTypeAdapter, out)
}

func copyEntries(dst map[ref.Val]ref.Val, m traits.Mapper) {
	for it := m.Iterator(); it.HasNext() == types.True; {
		k := it.Next()
		dst[k] = m.Get(k)
	}
}

func mapLen(m traits.Mapper) int {
	if n, ok := m.Size().(types.Int); ok {
		return int(n)
	}
	return 0
}
