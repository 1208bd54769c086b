package schema

import (
	"maps"
	"slices"

	"github.com/google/cel-go/common/types"
	apiservercel "k8s.io/apiserver/pkg/cel"
)

// AnyElem in a BytesPath stands for every key of a map or every element of a list.
const AnyElem = "*"

// BytesPaths lists the paths of t whose values are bytes (OpenAPI format "byte", such as a
// Secret's data). The JSON form of such a value is base64; expressions see the bytes.
func BytesPaths(t *apiservercel.DeclType) [][]string {
	var out [][]string
	var walk func(t *apiservercel.DeclType, path []string, depth int)
	walk = func(t *apiservercel.DeclType, path []string, depth int) {
		if t == nil || depth > maxDepth {
			return
		}
		switch {
		case t.IsList(), t.IsMap():
			walk(t.ElemType, append(path, AnyElem), depth+1)
		case t.IsObject():
			for _, name := range slices.Sorted(maps.Keys(t.Fields)) {
				walk(t.Fields[name].Type, append(path, name), depth+1)
			}
		case t.CelType().Kind() == types.BytesKind:
			out = append(out, append([]string(nil), path...))
		}
	}
	walk(t, nil, 0)
	return out
}
