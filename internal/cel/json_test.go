package cel

import "testing"

func TestJSONLibrary(t *testing.T) {
	cases := map[string]exprCase{
		"MarshalSortedCompact": {
			reason: "object keys are sorted and the output compact",
			expr:   `json.marshal({"b": 1, "a": [true, null, 1.5, "x"]})`,
			want:   `{"a":[true,null,1.5,"x"],"b":1}`,
		},
		"MarshalIntStaysInt": {
			reason: "ints are written without a fraction",
			expr:   `json.marshal(schema.spec.replicas)`,
			want:   `3`,
		},
		"MarshalData": {
			reason: "maps and lists of the data",
			expr:   `json.marshal(schema.spec.labels) + json.marshal(schema.spec.ports)`,
			want:   `{"app":"web"}[80,443]`,
		},
		"MarshalBytes": {
			reason: "bytes become base64 strings, as everywhere else",
			expr:   `json.marshal(b"hi")`,
			want:   `"aGk="`,
		},
		"MarshalHTMLEscaped": {
			reason: "<, > and & are escaped exactly as the reference's encoding/json output",
			expr:   `json.marshal("<a&b>")`,
			want:   `"\u003ca\u0026b\u003e"`,
		},
		"MarshalOptional": {
			reason: "an empty optional is null",
			expr:   `json.marshal({"x": schema.?spec.?missing})`,
			want:   `{"x":null}`,
		},
		"MarshalNonStringKey": {
			reason:  "JSON object keys are strings",
			expr:    `json.marshal({1: "a"})`,
			wantErr: "json.marshal: map key 1 is int, expected string",
		},
		"MarshalOmit": {
			reason:  "omit() cannot be encoded",
			expr:    `json.marshal({"a": omit()})`,
			wantErr: "omit() must be removed",
		},
		"UnmarshalObject": {
			reason: "every JSON number is a double, integers included, as in the reference (encoding/json into any)",
			expr:   `json.unmarshal('{"a": 1, "b": 1.5, "c": [1e2, -3, 2.0], "d": null, "e": "x", "f": true}')`,
			want: map[string]any{
				"a": 1.0, "b": 1.5, "c": []any{100.0, -3.0, 2.0},
				"d": nil, "e": "x", "f": true,
			},
		},
		"UnmarshalIntegerIsDouble": {
			reason: "the reference's json.unmarshal('{\"a\": 1}').a is the double 1.0",
			expr:   `type(json.unmarshal('{"a": 1}').a) == double && json.unmarshal('{"a": 1}').a == 1`,
			want:   true,
		},
		"UnmarshalIntArithmetic": {
			reason:  "a JSON number is a double, so int arithmetic needs int(), as in the reference",
			expr:    `json.unmarshal('{"n": 2}').n + 1`,
			wantErr: "no such overload",
		},
		"UnmarshalIntConversion": {
			reason: "int() turns a JSON number into an int",
			expr:   `int(json.unmarshal('{"n": 2}').n) + 1`,
			want:   int64(3),
		},
		"UnmarshalBigInteger": {
			reason: "a large integer is rounded to the nearest double, as in the reference",
			expr:   `json.unmarshal('9007199254740993')`,
			want:   9007199254740992.0,
		},
		"UnmarshalMarshalNumbers": {
			reason: "a whole double is written without a fraction, so integers survive a round trip as text",
			expr:   `json.marshal(json.unmarshal('{"a": 1, "b": 2.5, "c": -3}'))`,
			want:   `{"a":1,"b":2.5,"c":-3}`,
		},
		"UnmarshalScalar": {
			reason: "any JSON value, not only objects",
			expr:   `json.unmarshal('"x"')`,
			want:   "x",
		},
		"RoundTrip": {
			reason: "unmarshal inverts marshal",
			expr:   `json.unmarshal(json.marshal(schema.spec)) == schema.spec`,
			want:   true,
		},
		"UnmarshalInvalid": {
			reason:  "invalid JSON is an error",
			expr:    `json.unmarshal('{')`,
			wantErr: "json.unmarshal: invalid JSON",
		},
		"UnmarshalTrailingData": {
			reason:  "only one value is allowed",
			expr:    `json.unmarshal('1 2')`,
			wantErr: "json.unmarshal: invalid JSON: data after the first value",
		},
		"UnmarshalEmpty": {
			reason:  "the empty string is not JSON",
			expr:    `json.unmarshal('')`,
			wantErr: "json.unmarshal: invalid JSON",
		},
		"UnmarshalOutOfRange": {
			reason:  "a number beyond float64 is an error, not infinity",
			expr:    `json.unmarshal('[1e400]')`,
			wantErr: "json.unmarshal: number 1e400 is out of range",
		},
		"UnmarshalNotAString": {
			reason:  "the argument is a string",
			expr:    `json.unmarshal(1)`,
			wantErr: "found no matching overload for 'json.unmarshal'",
		},
	}
	runExprCases(t, libraryEnv(t), libraryVars(), cases)
}
