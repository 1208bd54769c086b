package instance

import (
	"encoding/json"
	"fmt"
	"testing"

	jsonpatch "github.com/evanphx/json-patch/v5"

	"github.com/google/go-cmp/cmp"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

func TestIsSubset(t *testing.T) {
	cases := map[string]struct {
		reason  string
		desired any
		live    any
		want    bool
	}{
		"EqualMaps": {
			reason:  "identical maps",
			desired: map[string]any{"a": "x", "b": int64(1)},
			live:    map[string]any{"a": "x", "b": int64(1)},
			want:    true,
		},
		"ExtraLiveFields": {
			reason:  "fields only the live object has (defaults, status, managed fields) are ignored",
			desired: map[string]any{"a": "x"},
			live:    map[string]any{"a": "x", "status": map[string]any{"phase": "Ready"}, "extra": int64(3)},
			want:    true,
		},
		"MissingLiveField": {
			reason:  "a desired field absent from the live object is a difference",
			desired: map[string]any{"a": "x", "b": "y"},
			live:    map[string]any{"a": "x"},
			want:    false,
		},
		"DifferentValue": {
			reason:  "a changed scalar is a difference",
			desired: map[string]any{"a": "x"},
			live:    map[string]any{"a": "y"},
			want:    false,
		},
		"NestedEqual": {
			reason:  "nested maps are compared recursively, extra live fields ignored at any depth",
			desired: map[string]any{"spec": map[string]any{"template": map[string]any{"image": "nginx"}}},
			live:    map[string]any{"spec": map[string]any{"template": map[string]any{"image": "nginx", "pullPolicy": "Always"}, "paused": false}},
			want:    true,
		},
		"NestedDifferent": {
			reason:  "a nested difference is found",
			desired: map[string]any{"spec": map[string]any{"template": map[string]any{"image": "nginx:2"}}},
			live:    map[string]any{"spec": map[string]any{"template": map[string]any{"image": "nginx:1"}}},
			want:    false,
		},
		"MapVersusScalar": {
			reason:  "a map desired where the live object has a scalar",
			desired: map[string]any{"a": map[string]any{"b": "c"}},
			live:    map[string]any{"a": "c"},
			want:    false,
		},
		"EqualLists": {
			reason:  "lists equal element by element",
			desired: map[string]any{"l": []any{"a", int64(1)}},
			live:    map[string]any{"l": []any{"a", int64(1)}},
			want:    true,
		},
		"ListOfMapsWithExtraLiveFields": {
			reason:  "list items that are maps may have extra live fields",
			desired: []any{map[string]any{"name": "c", "image": "nginx"}},
			live:    []any{map[string]any{"name": "c", "image": "nginx", "imagePullPolicy": "Always"}},
			want:    true,
		},
		"LiveListLonger": {
			reason:  "lists of different length differ, even if desired is a prefix",
			desired: []any{"a"},
			live:    []any{"a", "b"},
			want:    false,
		},
		"LiveListShorter": {
			reason:  "lists of different length differ",
			desired: []any{"a", "b"},
			live:    []any{"a"},
			want:    false,
		},
		"ListOrder": {
			reason:  "list order matters",
			desired: []any{"a", "b"},
			live:    []any{"b", "a"},
			want:    false,
		},
		"ListVersusMap": {
			reason:  "a list desired where the live object has a map",
			desired: []any{"a"},
			live:    map[string]any{"0": "a"},
			want:    false,
		},
		"EmptyListVersusAbsent": {
			reason:  "the API server drops empty lists, so an absent live field matches an empty desired one (no re-apply every reconcile)",
			desired: map[string]any{"l": []any{}},
			live:    map[string]any{},
			want:    true,
		},
		"Int64EqualsFloat64": {
			reason:  "an int64 desired value equals the same float64 live value",
			desired: map[string]any{"n": int64(3)},
			live:    map[string]any{"n": float64(3)},
			want:    true,
		},
		"Float64EqualsInt64": {
			reason:  "a float64 desired value equals the same int64 live value",
			desired: map[string]any{"n": float64(3)},
			live:    map[string]any{"n": int64(3)},
			want:    true,
		},
		"Int64DiffersFromFloat64": {
			reason:  "different numbers differ across types",
			desired: map[string]any{"n": int64(3)},
			live:    map[string]any{"n": 3.5},
			want:    false,
		},
		"Float64Equal": {
			reason:  "equal floats",
			desired: 1.5,
			live:    1.5,
			want:    true,
		},
		"IntVersusString": {
			reason:  "a number is not its string form",
			desired: map[string]any{"n": int64(3)},
			live:    map[string]any{"n": "3"},
			want:    false,
		},
		"NilDesiredAbsentLive": {
			reason:  "a nil desired value is satisfied by an absent live field",
			desired: map[string]any{"a": nil, "b": "x"},
			live:    map[string]any{"b": "x"},
			want:    true,
		},
		"NilDesiredNilLive": {
			reason:  "a nil desired value is satisfied by a nil live value",
			desired: map[string]any{"a": nil},
			live:    map[string]any{"a": nil},
			want:    true,
		},
		"NilDesiredPresentLive": {
			reason:  "a nil desired value is not satisfied by a live value",
			desired: map[string]any{"a": nil},
			live:    map[string]any{"a": "x"},
			want:    false,
		},
		"PresentDesiredNilLive": {
			reason:  "a desired value is not satisfied by a nil live value",
			desired: map[string]any{"a": "x"},
			live:    map[string]any{"a": nil},
			want:    false,
		},
		"Bools": {
			reason:  "bools compare by value",
			desired: map[string]any{"b": false},
			live:    map[string]any{"b": true},
			want:    false,
		},
		"EmptyDesired": {
			reason:  "an empty desired map is a subset of anything map-shaped",
			desired: map[string]any{},
			live:    map[string]any{"a": "x"},
			want:    true,
		},
		"ObjectLike": {
			reason: "a typical rendered object against its live object",
			desired: map[string]any{
				"apiVersion": "v1", "kind": "ConfigMap",
				"metadata": map[string]any{"name": "a", "namespace": "ns", "labels": map[string]any{"app": "a"}},
				"data":     map[string]any{"k": "v"},
			},
			live: map[string]any{
				"apiVersion": "v1", "kind": "ConfigMap",
				"metadata": map[string]any{
					"name": "a", "namespace": "ns", "labels": map[string]any{"app": "a", "other": "x"},
					"uid": "u", "resourceVersion": "7", "creationTimestamp": "2026-01-01T00:00:00Z",
					"managedFields": []any{map[string]any{"manager": "kro"}},
				},
				"data": map[string]any{"k": "v"},
			},
			want: true,
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			got := isSubset(tc.desired, tc.live)
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("%s\nisSubset(...): -want, +got:\n%s", tc.reason, diff)
			}
		})
	}
}

// TestMergePatchOf: the patch built from the decoded objects is the one the JSON merge patch
// library computes from their JSON, and applying it to from gives to.
func TestMergePatchOf(t *testing.T) {
	cases := map[string]struct{ from, to string }{
		"Unchanged":        {`{"state":"ACTIVE","n":1}`, `{"state":"ACTIVE","n":1}`},
		"ValueChanged":     {`{"state":"IN_PROGRESS","n":1}`, `{"state":"ACTIVE","n":1}`},
		"KeyAdded":         {`{"state":"ACTIVE"}`, `{"state":"ACTIVE","url":"http://x"}`},
		"KeyRemoved":       {`{"state":"ACTIVE","url":"http://x"}`, `{"state":"ACTIVE"}`},
		"NestedKeyRemoved": {`{"endpoint":{"host":"a","port":80}}`, `{"endpoint":{"host":"a"}}`},
		"NestedChanged":    {`{"endpoint":{"host":"a","port":80}}`, `{"endpoint":{"host":"b","port":80}}`},
		"ObjectToScalar":   {`{"endpoint":{"host":"a"}}`, `{"endpoint":"a"}`},
		"ScalarToObject":   {`{"endpoint":"a"}`, `{"endpoint":{"host":"a"}}`},
		"ListReplaced": {`{"conditions":[{"type":"Ready","status":"False"}]}`,
			`{"conditions":[{"type":"Ready","status":"True"},{"type":"GraphResolved","status":"True"}]}`},
		"FromEmpty": {`{}`, `{"state":"ACTIVE","conditions":[],"observedGeneration":2}`},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			var from, to map[string]any
			if err := json.Unmarshal([]byte(tc.from), &from); err != nil {
				t.Fatal(err)
			}
			if err := json.Unmarshal([]byte(tc.to), &to); err != nil {
				t.Fatal(err)
			}
			got, err := json.Marshal(mergePatchOf(from, to))
			if err != nil {
				t.Fatal(err)
			}
			want, err := jsonpatch.CreateMergePatch([]byte(tc.from), []byte(tc.to))
			if err != nil {
				t.Fatal(err)
			}
			if !jsonpatch.Equal(got, want) {
				t.Errorf("mergePatchOf = %s, want %s (the library's)", got, want)
			}
			applied, err := jsonpatch.MergePatch([]byte(tc.from), got)
			if err != nil {
				t.Fatal(err)
			}
			if !jsonpatch.Equal(applied, []byte(tc.to)) {
				t.Errorf("from with the patch applied = %s, want %s", applied, tc.to)
			}
		})
	}
}

// TestUpToDate: desired is compared with the object as the API server stores it; a Secret's
// write-only stringData is found in its data, base64-encoded.
func TestUpToDate(t *testing.T) {
	secret := schema.GroupVersionKind{Version: "v1", Kind: "Secret"}
	configMap := schema.GroupVersionKind{Version: "v1", Kind: "ConfigMap"}
	cases := map[string]struct {
		gvk           schema.GroupVersionKind
		desired, live map[string]any
		want          bool
	}{
		"SecretStringDataInData": {
			gvk:     secret,
			desired: map[string]any{"stringData": map[string]any{"token": "x"}, "data": map[string]any{"ca": "eQ=="}},
			live:    map[string]any{"data": map[string]any{"token": "eA==", "ca": "eQ=="}},
			want:    true,
		},
		"SecretStringDataChanged": {
			gvk:     secret,
			desired: map[string]any{"stringData": map[string]any{"token": "x"}},
			live:    map[string]any{"data": map[string]any{"token": "eQ=="}},
			want:    false,
		},
		"SecretStringDataMissing": {
			gvk:     secret,
			desired: map[string]any{"stringData": map[string]any{"token": "x"}},
			live:    map[string]any{"data": map[string]any{}},
			want:    false,
		},
		"SecretStringDataWinsOverData": {
			// The API server writes stringData over data of the same key.
			gvk:     secret,
			desired: map[string]any{"stringData": map[string]any{"token": "x"}, "data": map[string]any{"token": "eQ=="}},
			live:    map[string]any{"data": map[string]any{"token": "eA=="}},
			want:    true,
		},
		"OtherKindsKeepStringData": {
			gvk:     configMap,
			desired: map[string]any{"stringData": map[string]any{"token": "x"}},
			live:    map[string]any{"data": map[string]any{"token": "eA=="}},
			want:    false,
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			before := fmt.Sprint(tc.desired)
			if got := upToDate(tc.gvk, tc.desired, tc.live); got != tc.want {
				t.Errorf("upToDate(%v, %v) = %v, want %v", tc.desired, tc.live, got, tc.want)
			}
			if after := fmt.Sprint(tc.desired); after != before {
				t.Errorf("upToDate changed desired: %s, was %s", after, before)
			}
		})
	}
}
