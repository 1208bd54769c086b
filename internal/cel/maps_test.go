package cel

import "testing"

func TestMapsLibrary(t *testing.T) {
	cases := map[string]exprCase{
		"MergeRightWins": {
			reason: "on a shared key the argument wins",
			expr:   `{"a": 1}.merge({"a": 2, "b": 2})`,
			want:   map[string]any{"a": int64(2), "b": int64(2)},
		},
		"MergeEmpty": {
			reason: "merging empty maps",
			expr:   `{}.merge({})`,
			want:   map[string]any{},
		},
		"MergeIntoEmpty": {
			reason: "an empty receiver takes the argument",
			expr:   `{}.merge({"a": 1})`,
			want:   map[string]any{"a": int64(1)},
		},
		"MergeData": {
			reason: "labels from the data merged with defaults",
			expr:   `{"app": "default", "managed-by": "kro"}.merge(schema.spec.labels)`,
			want:   map[string]any{"app": "web", "managed-by": "kro"},
		},
		"MergeIsShallow": {
			reason: "nested maps are replaced, not merged",
			expr:   `{"a": {"x": 1}}.merge({"a": {"y": 2}})`,
			want:   map[string]any{"a": map[string]any{"y": int64(2)}},
		},
		"MergeLeavesInputs": {
			reason: "the receiver is unchanged",
			expr:   `cel.bind(m, {"a": 1}, [m.merge({"a": 2}), m])`,
			want:   []any{map[string]any{"a": int64(2)}, map[string]any{"a": int64(1)}},
		},
		"MergeNotAMap": {
			reason:  "the argument is a map",
			expr:    `{"a": 1}.merge([1])`,
			wantErr: "found no matching overload for 'merge'",
		},
		"MergeDynNotAMap": {
			reason:  "a dyn receiver that is not a map fails at runtime",
			expr:    `schema.spec.ports.merge({"a": 1})`,
			wantErr: "no such overload",
		},
		"DeepMerge": {
			reason: "nested maps merge, lists and scalars are replaced, the argument wins",
			expr:   `{"a": {"x": 1, "l": [1], "s": "old"}, "b": 1}.deepMerge({"a": {"y": 2, "l": [2], "s": "new"}, "c": 3})`,
			want: map[string]any{
				"a": map[string]any{"x": int64(1), "y": int64(2), "l": []any{int64(2)}, "s": "new"},
				"b": int64(1),
				"c": int64(3),
			},
		},
		"DeepMergeThreeLevels": {
			reason: "merging recurses to any depth",
			expr:   `{"a": {"b": {"c": 1, "d": 1}}}.deepMerge({"a": {"b": {"d": 2}}})`,
			want:   map[string]any{"a": map[string]any{"b": map[string]any{"c": int64(1), "d": int64(2)}}},
		},
		"DeepMergeMapReplacedByScalar": {
			reason: "a map against a non-map is replaced",
			expr:   `{"a": {"x": 1}}.deepMerge({"a": 1})`,
			want:   map[string]any{"a": int64(1)},
		},
		"DeepMergeScalarReplacedByMap": {
			reason: "a non-map against a map is replaced",
			expr:   `{"a": 1}.deepMerge({"a": {"x": 1}})`,
			want:   map[string]any{"a": map[string]any{"x": int64(1)}},
		},
		"DeepMergeData": {
			reason: "defaults layered under data read from a variable",
			expr:   `{"x": {"a": 0, "c": 3}, "z": true}.deepMerge(v.deep)`,
			want: map[string]any{
				"x": map[string]any{"a": int64(1), "b": int64(2), "c": int64(3)},
				"l": []any{int64(1)},
				"z": true,
			},
		},
		"DeepMergeNotAMap": {
			reason:  "both sides must be maps at runtime",
			expr:    `{"a": 1}.deepMerge([1])`,
			wantErr: "deepMerge: arguments are map.deepMerge(list), expected maps",
		},
		"DeepMergeDynReceiverNotAMap": {
			reason:  "a list receiver is an error",
			expr:    `schema.spec.ports.deepMerge({})`,
			wantErr: "expected maps",
		},
	}
	runExprCases(t, libraryEnv(t), libraryVars(), cases)
}
