package cel

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/google/cel-go/cel"
	"github.com/google/cel-go/common/types"
	"github.com/google/cel-go/common/types/ref"
)

// jsonLibrary converts between CEL values and JSON text:
//
//	json.marshal(dyn) -> string     compact JSON, object keys sorted; ints stay integers,
//	                                bytes become base64 strings (the same conversions as
//	                                ToNative); <, > and & are escaped as \u003c etc., exactly
//	                                as the reference's encoding/json output
//	json.unmarshal(string) -> dyn   every JSON number becomes a double, integers included, as
//	                                in the reference (encoding/json into any): use int(x) for
//	                                int arithmetic; a whole double is written back without a
//	                                fraction, so the applied object shows 1, not 1.0; invalid
//	                                JSON, trailing data or a number beyond float64 is an error
//
// Cost: linear in the length of the JSON text.
type jsonLibrary struct{}

// LibraryName makes the library a singleton.
func (jsonLibrary) LibraryName() string { return "kro.json" }

func (jsonLibrary) CompileOptions() []cel.EnvOption {
	return []cel.EnvOption{
		cel.Function("json.marshal",
			cel.Overload("json.marshal_dyn", []*cel.Type{cel.DynType}, cel.StringType,
				cel.UnaryBinding(jsonMarshal)),
		),
		cel.Function("json.unmarshal",
			cel.Overload("json.unmarshal_string", []*cel.Type{cel.StringType}, cel.DynType,
				cel.UnaryBinding(jsonUnmarshal)),
		),
		costEnvOption(jsonCosts()),
	}
}

func (jsonLibrary) ProgramOptions() []cel.ProgramOption {
	return []cel.ProgramOption{costProgramOption(jsonCosts())}
}

func jsonCosts() map[string]overloadCost {
	marshal := linearCost(0, elementCostFactor, 0)
	// At runtime the text is known: charge for what was produced.
	marshal.track = func(_ []ref.Val, result ref.Val) *uint64 {
		c := addSat(callCost, uint64(float64(valueSize(result))*traversalCostFactor)+1)
		return &c
	}
	return map[string]overloadCost{
		"json.marshal_dyn":      marshal,
		"json.unmarshal_string": linearCost(0, traversalCostFactor, 0),
	}
}

func jsonMarshal(v ref.Val) ref.Val {
	native, err := ToNative(v)
	if err != nil {
		return types.NewErr("json.marshal: %v", err)
	}
	b, err := json.Marshal(native)
	if err != nil {
		return types.NewErr("json.marshal: %v", err)
	}
	return types.String(b)
}

func jsonUnmarshal(v ref.Val) ref.Val {
	s, ok := v.(types.String)
	if !ok {
		return types.NewErr("json.unmarshal: argument is %s, expected string", v.Type().TypeName())
	}
	dec := json.NewDecoder(strings.NewReader(string(s)))
	dec.UseNumber()
	var out any
	if err := dec.Decode(&out); err != nil {
		return types.NewErr("json.unmarshal: invalid JSON: %v", err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return types.NewErr("json.unmarshal: invalid JSON: data after the first value")
	}
	out, err := jsonNumbers(out)
	if err != nil {
		return types.NewErr("json.unmarshal: %v", err)
	}
	return types.DefaultTypeAdapter.NativeToValue(out)
}

// jsonNumbers replaces the json.Numbers of a decoded value by float64 in place. Decoding
// numbers as json.Number first lets a number beyond float64 be an error, not infinity.
func jsonNumbers(v any) (any, error) {
	var err error
	switch val := v.(type) {
	case json.Number:
		s := val.String()
		f, err := strconv.ParseFloat(s, 64)
		if err != nil {
			return nil, fmt.Errorf("number %s is out of range", s)
		}
		return f, nil
	case map[string]any:
		for k, item := range val {
			if val[k], err = jsonNumbers(item); err != nil {
				return nil, err
			}
		}
	case []any:
		for i, item := range val {
			if val[i], err = jsonNumbers(item); err != nil {
				return nil, err
			}
		}
	}
	return v, nil
}
