package cel

import (
	"strings"
	"testing"
	"time"

	"github.com/google/cel-go/common/types"
	"github.com/google/cel-go/common/types/ref"
	"github.com/google/go-cmp/cmp"
)

func TestToNative(t *testing.T) {
	reg, err := types.NewRegistry()
	if err != nil {
		t.Fatalf("types.NewRegistry(): %v", err)
	}
	cases := map[string]struct {
		reason  string
		in      ref.Val
		want    any
		wantErr string
	}{
		"Null": {
			reason: "null becomes nil",
			in:     types.NullValue,
			want:   nil,
		},
		"Bool": {
			reason: "bool stays bool",
			in:     types.True,
			want:   true,
		},
		"Int": {
			reason: "int stays int64, as decoded JSON integers are",
			in:     types.Int(42),
			want:   int64(42),
		},
		"Uint": {
			reason: "uint becomes int64",
			in:     types.Uint(7),
			want:   int64(7),
		},
		"UintOverflow": {
			reason:  "a uint above MaxInt64 cannot be represented",
			in:      types.Uint(1 << 63),
			wantErr: "overflows int64",
		},
		"Double": {
			reason: "double becomes float64",
			in:     types.Double(1.5),
			want:   1.5,
		},
		"String": {
			reason: "string stays string",
			in:     types.String("hello"),
			want:   "hello",
		},
		"Bytes": {
			reason: "bytes become a base64 string, as JSON encodes []byte",
			in:     types.Bytes("hi"),
			want:   "aGk=",
		},
		"List": {
			reason: "lists become []any with converted items",
			in:     reg.NativeToValue([]any{int64(1), "a", true}),
			want:   []any{int64(1), "a", true},
		},
		"EmptyList": {
			reason: "an empty list is an empty, non-nil []any",
			in:     reg.NativeToValue([]any{}),
			want:   []any{},
		},
		"MapStringKeys": {
			reason: "maps with string keys become map[string]any",
			in:     reg.NativeToValue(map[string]any{"a": int64(1), "b": "x"}),
			want:   map[string]any{"a": int64(1), "b": "x"},
		},
		"MapNonStringKey": {
			reason:  "JSON objects only have string keys",
			in:      reg.NativeToValue(map[int64]any{1: "a"}),
			wantErr: "expected string",
		},
		"Nested": {
			reason: "nested maps and lists are converted recursively",
			in: reg.NativeToValue(map[string]any{
				"l": []any{map[string]any{"n": int64(1)}, []any{2.5}},
				"m": map[string]any{"b": []byte("hi")},
			}),
			want: map[string]any{
				"l": []any{map[string]any{"n": int64(1)}, []any{2.5}},
				"m": map[string]any{"b": "aGk="},
			},
		},
		"OptionalWithValue": {
			reason: "an optional with a value becomes the value",
			in:     types.OptionalOf(types.Int(3)),
			want:   int64(3),
		},
		"OptionalNone": {
			reason: "an empty optional becomes nil",
			in:     types.OptionalNone,
			want:   nil,
		},
		"Duration": {
			reason: "a duration becomes its string form",
			in:     types.Duration{Duration: 90 * time.Second},
			want:   "1m30s",
		},
		"Timestamp": {
			reason: "a timestamp becomes RFC3339 in UTC",
			in:     types.Timestamp{Time: time.Date(2026, 1, 2, 4, 4, 5, 0, time.FixedZone("x", 3600))},
			want:   "2026-01-02T03:04:05Z",
		},
		"Omit": {
			reason: "omit() becomes the Go marker Omit",
			in:     omitValue{},
			want:   Omit,
		},
		"Error": {
			reason:  "a CEL error value is returned as an error",
			in:      types.NewErr("boom"),
			wantErr: "boom",
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			got, err := ToNative(tc.in)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("%s\nToNative(...): want error containing %q, got %v (value %v)", tc.reason, tc.wantErr, err, got)
				}
				return
			}
			if err != nil {
				t.Fatalf("%s\nToNative(...): %v", tc.reason, err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("%s\nToNative(...): -want, +got:\n%s", tc.reason, diff)
			}
		})
	}
}
