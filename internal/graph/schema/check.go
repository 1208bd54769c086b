package schema

import (
	"fmt"
	"maps"
	"slices"

	"github.com/google/cel-go/cel"
	"github.com/google/cel-go/common/types"
	apiservercel "k8s.io/apiserver/pkg/cel"

	"github.com/kro-run/kro/internal/graph/parser"
)

// TypeLookup finds the declaration of a named object type.
type TypeLookup func(typeName string) (*apiservercel.DeclType, bool)

// FieldType returns the declared type at path in t. Paths through dyn are dyn.
func FieldType(t *apiservercel.DeclType, path []parser.PathElem) (*apiservercel.DeclType, error) {
	cur := t
	for i, e := range path {
		if isDyn(cur) {
			return apiservercel.DynType, nil
		}
		switch {
		case e.IsIndex:
			if !cur.IsList() {
				return nil, fmt.Errorf("%s is not a list", parser.FormatPath(path[:i]))
			}
			cur = cur.ElemType
		case cur.IsMap():
			cur = cur.ElemType
		case cur.IsObject():
			f, ok := cur.Fields[e.Key]
			if !ok {
				return nil, fmt.Errorf("unknown field %q", parser.FormatPath(path[:i+1]))
			}
			cur = f.Type
		default:
			return nil, fmt.Errorf("%s is %s, not an object", parser.FormatPath(path[:i]), describe(cur))
		}
	}
	return cur, nil
}

// Assignable checks that a value of CEL type out fits where want is declared: scalars must
// match (an int fits a number), lists and maps are checked element by element, and an object
// must be a structural subset of the target.
func Assignable(out *cel.Type, want *apiservercel.DeclType, lookup TypeLookup) error {
	if out == nil || want == nil || isDyn(want) {
		return nil
	}
	switch out.Kind() {
	case types.DynKind, types.AnyKind, types.TypeParamKind, types.NullTypeKind, types.ErrorKind:
		return nil
	case types.OpaqueKind:
		if out.TypeName() == "optional_type" && len(out.Parameters()) == 1 {
			return Assignable(out.Parameters()[0], want, lookup)
		}
	}
	mismatch := fmt.Errorf("returns %s, expected %s", out, describe(want))
	switch {
	case want.IsList():
		if out.Kind() != types.ListKind {
			return mismatch
		}
		if err := Assignable(out.Parameters()[0], want.ElemType, lookup); err != nil {
			return fmt.Errorf("list element: %w", err)
		}
		return nil
	case want.IsMap():
		return assignToMap(out, want, lookup, mismatch)
	case want.IsObject():
		return assignToObject(out, want, lookup, mismatch)
	}
	switch want.CelType().Kind() {
	case types.StringKind:
		if out.Kind() == types.StringKind {
			return nil
		}
	case types.IntKind:
		if out.Kind() == types.IntKind || out.Kind() == types.UintKind {
			return nil
		}
	case types.DoubleKind:
		if k := out.Kind(); k == types.DoubleKind || k == types.IntKind || k == types.UintKind {
			return nil
		}
	case types.BoolKind:
		if out.Kind() == types.BoolKind {
			return nil
		}
	case types.BytesKind:
		if k := out.Kind(); k == types.BytesKind || k == types.StringKind {
			return nil
		}
	default:
		return nil
	}
	return mismatch
}

func assignToMap(out *cel.Type, want *apiservercel.DeclType, lookup TypeLookup, mismatch error) error {
	switch out.Kind() {
	case types.MapKind:
		if err := Assignable(out.Parameters()[1], want.ElemType, lookup); err != nil {
			return fmt.Errorf("map value: %w", err)
		}
		return nil
	case types.StructKind:
		src, ok := lookup(out.TypeName())
		if !ok {
			return nil
		}
		for _, name := range slices.Sorted(maps.Keys(src.Fields)) {
			if err := Assignable(src.Fields[name].Type.CelType(), want.ElemType, lookup); err != nil {
				return fmt.Errorf("field %q: %w", name, err)
			}
		}
		return nil
	}
	return mismatch
}

func assignToObject(out *cel.Type, want *apiservercel.DeclType, lookup TypeLookup, mismatch error) error {
	switch out.Kind() {
	case types.MapKind:
		// Keys are only known at runtime; the API server validates them.
		return nil
	case types.StructKind:
		src, ok := lookup(out.TypeName())
		if !ok {
			return nil
		}
		for _, name := range slices.Sorted(maps.Keys(src.Fields)) {
			target, ok := want.Fields[name]
			if !ok {
				return fmt.Errorf("returns an object with field %q, which %s does not have", name, describe(want))
			}
			if err := Assignable(src.Fields[name].Type.CelType(), target.Type, lookup); err != nil {
				return fmt.Errorf("field %q: %w", name, err)
			}
		}
		return nil
	}
	return mismatch
}

// CheckLiteral checks a literal template value (no expressions) against its declared type.
// Strings holding expressions are skipped; they are checked after compilation.
func CheckLiteral(v any, t *apiservercel.DeclType, path []parser.PathElem) error {
	if isDyn(t) || v == nil {
		return nil
	}
	at := func(err error) error {
		return fmt.Errorf("field %q: %w", parser.FormatPath(path), err)
	}
	switch val := v.(type) {
	case string:
		if parser.HasExpressions(val) {
			return nil
		}
		if k := t.CelType().Kind(); k != types.StringKind && k != types.BytesKind {
			return at(fmt.Errorf("value %q is a string, expected %s", val, describe(t)))
		}
	case bool:
		if t.CelType().Kind() != types.BoolKind {
			return at(fmt.Errorf("value %v is a boolean, expected %s", val, describe(t)))
		}
	case int64, int, float64:
		k := t.CelType().Kind()
		_, isFloat := val.(float64)
		if k != types.DoubleKind && (k != types.IntKind || isFloat) {
			return at(fmt.Errorf("value %v is a number, expected %s", val, describe(t)))
		}
	case []any:
		if !t.IsList() {
			return at(fmt.Errorf("value is a list, expected %s", describe(t)))
		}
		for i, item := range val {
			if err := CheckLiteral(item, t.ElemType, append(path, parser.PathElem{Index: i, IsIndex: true})); err != nil {
				return err
			}
		}
	case map[string]any:
		if !t.IsMap() && !t.IsObject() {
			return at(fmt.Errorf("value is an object, expected %s", describe(t)))
		}
		for _, k := range slices.Sorted(maps.Keys(val)) {
			elem := t.ElemType
			if t.IsObject() {
				f, ok := t.Fields[k]
				if !ok {
					return fmt.Errorf("field %q: unknown field", parser.FormatPath(append(path, parser.PathElem{Key: k})))
				}
				elem = f.Type
			}
			if err := CheckLiteral(val[k], elem, append(path, parser.PathElem{Key: k})); err != nil {
				return err
			}
		}
	}
	return nil
}

func isDyn(t *apiservercel.DeclType) bool {
	return t == nil || t.CelType().Kind() == types.DynKind || t.CelType().Kind() == types.AnyKind
}

// describe names a declared type in messages with OpenAPI words.
func describe(t *apiservercel.DeclType) string {
	switch {
	case t.IsList():
		return "array of " + describe(t.ElemType)
	case t.IsMap():
		return "map of " + describe(t.ElemType)
	case t.IsObject():
		return "object"
	}
	switch t.CelType().Kind() {
	case types.IntKind:
		return "integer"
	case types.DoubleKind:
		return "number"
	case types.BoolKind:
		return "boolean"
	}
	return t.CelType().String()
}
