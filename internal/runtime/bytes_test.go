package runtime

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/kro-run/kro/internal/graph/parser"
)

func TestDecodeBytes(t *testing.T) {
	in := map[string]any{
		"data": map[string]any{"password": "c2VjcmV0", "broken": "%%%"},
		"kind": "Secret",
	}
	cases := map[string]struct {
		reason string
		path   []string
		want   any
	}{
		"AnyKey": {
			reason: "every value under data is decoded; invalid base64 stays text",
			path:   []string{"data", "*"},
			want: map[string]any{
				"data": map[string]any{"password": []byte("secret"), "broken": "%%%"},
				"kind": "Secret",
			},
		},
		"MissingPath": {
			reason: "a path that is not there changes nothing",
			path:   []string{"spec", "*"},
			want:   in,
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			got := decodeBytes(in, tc.path)
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("%s\ndecodeBytes(...): -want, +got:\n%s", tc.reason, diff)
			}
			if in["data"].(map[string]any)["password"] != "c2VjcmV0" {
				t.Errorf("decodeBytes modified its input")
			}
		})
	}
}

func TestRemovePath(t *testing.T) {
	obj := map[string]any{"spec": map[string]any{"a": int64(1), "b": int64(2)}}
	removePath(obj, []parser.PathElem{{Key: "spec"}, {Key: "a"}})
	want := map[string]any{"spec": map[string]any{"b": int64(2)}}
	if diff := cmp.Diff(want, obj); diff != "" {
		t.Errorf("removePath(...): -want, +got:\n%s", diff)
	}
}
