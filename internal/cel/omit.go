package cel

import (
	"errors"
	"fmt"
	"reflect"

	"github.com/google/cel-go/cel"
	"github.com/google/cel-go/common/types"
	"github.com/google/cel-go/common/types/ref"
)

// omitLibrary provides omit(), a marker meaning "leave this field out of the applied object":
//
//	omit() -> dyn
//
//	nodeSelector: ${schema.spec.pinned ? {"kubernetes.io/hostname": schema.spec.node} : omit()}
//
// omit() is dyn so it type-checks in any branch. Evaluating to it is not an error: ToNative
// (and so Program.Eval) returns the Go value Omit, at the top level or nested inside a map or
// list, and the caller drops that field or list element (IsOmit, PruneOmit). Where a value
// cannot be dropped (string templates, includeWhen, readyWhen, forEach, metadata.name) the
// caller must reject it. omit() cannot be compared, and json.marshal of a value holding it is
// an error.
type omitLibrary struct{}

// Omitted is the type of Omit.
type Omitted struct{}

// Omit is the Go value of CEL's omit(): the field or list element holding it is to be removed.
var Omit = Omitted{}

// errOmitEncoded keeps an omit() that was not removed from being encoded silently as {}.
var errOmitEncoded = errors.New("omit() must be removed from a value before it is encoded")

// MarshalJSON fails: an Omit left in a value is a bug of the caller, not an empty object.
func (Omitted) MarshalJSON() ([]byte, error) { return nil, errOmitEncoded }

// String is the CEL spelling.
func (Omitted) String() string { return "omit()" }

// IsOmit reports whether v is omit(): the Go value Omit or the CEL value of omit().
func IsOmit(v any) bool {
	switch v.(type) {
	case Omitted, *Omitted, omitValue:
		return true
	}
	return false
}

// PruneOmit returns v without the map entries and list elements that are Omit, recursively.
// Maps and lists holding no Omit are returned as they are; the others are copied, so v is
// never changed. A top-level Omit is returned as is, for the caller to drop the whole field.
func PruneOmit(v any) any {
	if !hasNestedOmit(v) {
		return v
	}
	switch val := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(val))
		for k, item := range val {
			if !IsOmit(item) {
				out[k] = PruneOmit(item)
			}
		}
		return out
	case []any:
		out := make([]any, 0, len(val))
		for _, item := range val {
			if !IsOmit(item) {
				out = append(out, PruneOmit(item))
			}
		}
		return out
	}
	return v
}

// hasNestedOmit reports whether a map or list holds an Omit at any depth.
func hasNestedOmit(v any) bool {
	switch val := v.(type) {
	case map[string]any:
		for _, item := range val {
			if IsOmit(item) || hasNestedOmit(item) {
				return true
			}
		}
	case []any:
		for _, item := range val {
			if IsOmit(item) || hasNestedOmit(item) {
				return true
			}
		}
	}
	return false
}

// LibraryName makes the library a singleton.
func (omitLibrary) LibraryName() string { return "kro.omit" }

func (omitLibrary) CompileOptions() []cel.EnvOption {
	return []cel.EnvOption{
		cel.Function("omit",
			cel.Overload("omit", nil, cel.DynType,
				cel.FunctionBinding(func(...ref.Val) ref.Val { return omitValue{} })),
		),
	}
}

func (omitLibrary) ProgramOptions() []cel.ProgramOption { return nil }

// omitValueType is the runtime type of omit().
var omitValueType = types.NewOpaqueType("kro.omit")

// omitValue is the CEL value of omit().
type omitValue struct{}

func (omitValue) ConvertToNative(t reflect.Type) (any, error) {
	if t == reflect.TypeFor[Omitted]() || t.Kind() == reflect.Interface {
		return Omit, nil
	}
	return nil, fmt.Errorf("omit() cannot be converted to %v", t)
}

func (v omitValue) ConvertToType(t ref.Type) ref.Val {
	switch t {
	case types.TypeType:
		return omitValueType
	case omitValueType:
		return v
	}
	return types.NewErr("omit() cannot be converted to %s", t.TypeName())
}

func (omitValue) Equal(ref.Val) ref.Val {
	return types.NewErr("omit() cannot be compared")
}

func (omitValue) Type() ref.Type { return omitValueType }

func (omitValue) Value() any { return Omit }
