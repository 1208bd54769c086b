package conditions

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestSet(t *testing.T) {
	t0 := metav1.NewTime(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	t1 := metav1.NewTime(t0.Add(time.Hour))
	existing := metav1.Condition{Type: "Ready", Status: metav1.ConditionTrue, Reason: "Ready", LastTransitionTime: t0}
	cases := map[string]struct {
		reason string
		in     metav1.Condition
		want   metav1.Time
	}{
		"Unchanged": {reason: "same status, reason and message keep the time", in: New("Ready", metav1.ConditionTrue, "Ready", "", 2), want: t0},
		"Status":    {reason: "a new status moves the time", in: New("Ready", metav1.ConditionFalse, "Ready", "", 2), want: t1},
		"Message":   {reason: "a new message moves the time", in: New("Ready", metav1.ConditionTrue, "Ready", "x", 2), want: t1},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			got := Set([]metav1.Condition{existing}, tc.in, t1)
			if diff := cmp.Diff(tc.want, got[0].LastTransitionTime); diff != "" {
				t.Errorf("%s\nSet(...): -want, +got:\n%s", tc.reason, diff)
			}
			if len(got) != 1 || got[0].ObservedGeneration != 2 {
				t.Errorf("Set(...) = %+v, want one condition with observedGeneration 2", got)
			}
		})
	}
}

func TestSummary(t *testing.T) {
	conds := []metav1.Condition{
		New("A", metav1.ConditionTrue, "Ok", "", 1),
		New("B", metav1.ConditionFalse, "Broken", "b is broken", 1),
	}
	got := Summary(conds, "Ready", 1, "A", "B")
	want := New("Ready", metav1.ConditionFalse, "Broken", "b is broken", 1)
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Summary(...): -want, +got:\n%s", diff)
	}
	if got := Summary(conds[:1], "Ready", 1, "A"); got.Status != metav1.ConditionTrue {
		t.Errorf("Summary(all true) = %s, want True", got.Status)
	}
}

func TestKeepTransitionTimes(t *testing.T) {
	t0 := metav1.NewTime(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	t1 := metav1.NewTime(t0.Add(time.Hour))
	before := []metav1.Condition{
		{Type: "A", Status: metav1.ConditionTrue, Reason: "Ok", LastTransitionTime: t0},
		{Type: "B", Status: metav1.ConditionTrue, Reason: "Ok", LastTransitionTime: t0},
	}
	// A was set to Unknown and back to True in one reconcile; B really changed; C is new.
	conds := []metav1.Condition{
		{Type: "A", Status: metav1.ConditionTrue, Reason: "Ok", LastTransitionTime: t1},
		{Type: "B", Status: metav1.ConditionFalse, Reason: "Broken", LastTransitionTime: t1},
		{Type: "C", Status: metav1.ConditionTrue, Reason: "Ok", LastTransitionTime: t1},
	}
	KeepTransitionTimes(before, conds)
	got := map[string]metav1.Time{}
	for _, c := range conds {
		got[c.Type] = c.LastTransitionTime
	}
	want := map[string]metav1.Time{"A": t0, "B": t1, "C": t1}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("KeepTransitionTimes(...): lastTransitionTime -want, +got:\n%s", diff)
	}
}
