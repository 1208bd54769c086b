package instance

import (
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/util/json"
)

func testInstance() *unstructured.Unstructured {
	return &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "kro.run/v1alpha1",
		"kind":       "App",
		"metadata":   map[string]any{"name": "web", "namespace": "default", "generation": int64(2)},
		"spec":       map[string]any{"name": "web"},
	}}
}

// reconcileStatus computes the status the way Reconcile does and returns merged's result.
func reconcileStatus(t *testing.T, inst *unstructured.Unstructured, res result) (map[string]any, bool) {
	t.Helper()
	st := newStatus(inst)
	st.set(ConditionInstanceManaged, metav1.ConditionTrue, "Managed", "instance is properly managed with finalizers and labels")
	st.apply(res)
	out, _, changed, err := st.merged(inst)
	if err != nil {
		t.Fatalf("merged(...): %v", err)
	}
	return out, changed
}

// roundTrip encodes and decodes the object as the API server and the client do.
func roundTrip(t *testing.T, obj map[string]any) map[string]any {
	t.Helper()
	js, err := json.Marshal(obj)
	if err != nil {
		t.Fatalf("json.Marshal(...): %v", err)
	}
	var out map[string]any
	if err := json.Unmarshal(js, &out); err != nil {
		t.Fatalf("json.Unmarshal(...): %v", err)
	}
	return out
}

func TestStatusMergedUnchanged(t *testing.T) {
	cases := map[string]struct {
		reason    string
		res       result
		roundTrip bool
	}{
		"Active": {
			reason: "an active instance with user status fields",
			res: result{userStatus: map[string]any{
				"name":     "web-config",
				"replicas": int64(3),
				"ready":    true,
				"endpoint": map[string]any{"host": "web.io", "ports": []any{int64(80), int64(443)}},
			}},
		},
		"ActiveRoundTrip": {
			reason: "the same after the status went through JSON, as it does through the API server",
			res: result{userStatus: map[string]any{
				"name":     "web-config",
				"replicas": int64(3),
				"ratio":    0.5,
				"endpoint": map[string]any{"host": "web.io", "ports": []any{int64(80), int64(443)}},
			}},
			roundTrip: true,
		},
		"Waiting": {
			reason:    "an instance waiting on resources",
			res:       result{waiting: []string{`resource "a" is not ready: readyWhen "x"`, `resource "b" is waiting for "a"`}},
			roundTrip: true,
		},
		"Error": {
			reason:    "an instance with an error",
			res:       result{err: errors.New("boom"), permanent: true, userStatus: map[string]any{"name": "x"}},
			roundTrip: true,
		},
		"NoUserStatus": {
			reason:    "an instance without user status fields",
			res:       result{},
			roundTrip: true,
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			inst := testInstance()
			first, changed := reconcileStatus(t, inst, tc.res)
			if !changed {
				t.Fatalf("%s\nmerged(...) on an instance without status: changed = false, want true", tc.reason)
			}
			inst.Object["status"] = first
			if tc.roundTrip {
				inst.Object = roundTrip(t, inst.Object)
			}
			second, changed := reconcileStatus(t, inst, tc.res)
			if changed {
				t.Errorf("%s\nmerged(...) on an instance whose status is already the computed one: changed = true, want false\ndiff -current, +computed:\n%s",
					tc.reason, cmp.Diff(inst.Object["status"], second))
			}
		})
	}
}

func TestStatusMergedChanged(t *testing.T) {
	cases := map[string]struct {
		reason string
		first  result
		second result
		want   bool
	}{
		"SameResult": {
			reason: "the same outcome writes nothing",
			first:  result{userStatus: map[string]any{"a": "x"}},
			second: result{userStatus: map[string]any{"a": "x"}},
			want:   false,
		},
		"UserFieldChanged": {
			reason: "a changed user status field is written",
			first:  result{userStatus: map[string]any{"a": "x"}},
			second: result{userStatus: map[string]any{"a": "y"}},
			want:   true,
		},
		"UserFieldPendingKept": {
			reason: "a user status field whose inputs became pending keeps its old value and writes nothing",
			first:  result{userStatus: map[string]any{"a": "x", "b": int64(1)}},
			second: result{userStatus: map[string]any{"b": int64(1)}},
			want:   false,
		},
		"StateChanged": {
			reason: "a new state is written",
			first:  result{},
			second: result{waiting: []string{"waiting"}},
			want:   true,
		},
		"MessageChanged": {
			reason: "a new condition message is written",
			first:  result{waiting: []string{"waiting for a"}},
			second: result{waiting: []string{"waiting for b"}},
			want:   true,
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			inst := testInstance()
			first, _ := reconcileStatus(t, inst, tc.first)
			inst.Object["status"] = first
			inst.Object = roundTrip(t, inst.Object)
			_, got := reconcileStatus(t, inst, tc.second)
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("%s\nmerged(...) changed: -want, +got:\n%s", tc.reason, diff)
			}
		})
	}
}

func TestStatusMergedKeepsTransitionTime(t *testing.T) {
	inst := testInstance()
	first, _ := reconcileStatus(t, inst, result{})
	inst.Object["status"] = first
	inst.Object = roundTrip(t, inst.Object)
	second, _ := reconcileStatus(t, inst, result{})
	times := func(status map[string]any) map[string]any {
		out := map[string]any{}
		for _, c := range status["conditions"].([]any) {
			m := c.(map[string]any)
			out[m["type"].(string)] = m["lastTransitionTime"]
		}
		return out
	}
	if diff := cmp.Diff(times(first), times(second)); diff != "" {
		t.Errorf("lastTransitionTime of unchanged conditions: -want, +got:\n%s", diff)
	}
}

// TestStatusKstatusAbnormalTrue: Reconciling and Stalled appear only while True, so an ACTIVE
// instance carries the reference's four conditions and nothing more; a condition the instance
// had before and no longer needs is removed.
func TestStatusKstatusAbnormalTrue(t *testing.T) {
	cases := map[string]struct {
		res  result
		want map[string]string // condition type -> status
	}{
		"active": {
			res:  result{},
			want: map[string]string{"InstanceManaged": "True", "GraphResolved": "True", "ResourcesReady": "True", "Ready": "True"},
		},
		"in progress": {
			res: result{waiting: []string{`resource "db" is not ready`}},
			want: map[string]string{"InstanceManaged": "True", "GraphResolved": "True", "ResourcesReady": "False", "Ready": "False",
				"Reconciling": "True"},
		},
		"error": {
			res: result{err: errors.New("boom")},
			want: map[string]string{"InstanceManaged": "True", "GraphResolved": "False", "ResourcesReady": "False", "Ready": "False",
				"Stalled": "True"},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			// The instance was in ERROR before: Stalled True is on the wire.
			inst := testInstance()
			prev, _ := reconcileStatus(t, inst, result{err: errors.New("before")})
			inst.Object["status"] = roundTrip(t, prev)
			out, _ := reconcileStatus(t, inst, tc.res)
			got := map[string]string{}
			for _, c := range out["conditions"].([]any) {
				m := c.(map[string]any)
				got[m["type"].(string)] = m["status"].(string)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("conditions (-want +got):\n%s", diff)
			}
		})
	}
}
