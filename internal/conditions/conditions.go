// Package conditions sets metav1.Conditions the way kro reports them: fixed types, and a
// lastTransitionTime that moves only when status, reason or message change, so that writing
// the same conditions twice is a no-op.
package conditions

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Set puts c into conds (replacing the condition of the same type) and returns the new list.
// c.LastTransitionTime is kept from the existing condition unless status, reason or message
// changed, in which case now is used.
func Set(conds []metav1.Condition, c metav1.Condition, now metav1.Time) []metav1.Condition {
	for i := range conds {
		if conds[i].Type != c.Type {
			continue
		}
		if conds[i].Status == c.Status && conds[i].Reason == c.Reason && conds[i].Message == c.Message {
			c.LastTransitionTime = conds[i].LastTransitionTime
		} else {
			c.LastTransitionTime = now
		}
		conds[i] = c
		return conds
	}
	c.LastTransitionTime = now
	return append(conds, c)
}

// KeepTransitionTimes gives every condition of conds whose status, reason and message are
// those of the same type in before the lastTransitionTime it has there. A reconciler that
// sets a condition more than once on the way to the status it writes (a default first, the
// outcome later) calls it with the status it read, so that only a real change moves the time.
func KeepTransitionTimes(before, conds []metav1.Condition) {
	for i := range conds {
		if old := Get(before, conds[i].Type); old != nil &&
			old.Status == conds[i].Status && old.Reason == conds[i].Reason && old.Message == conds[i].Message {
			conds[i].LastTransitionTime = old.LastTransitionTime
		}
	}
}

// Get returns the condition of type t, or nil.
func Get(conds []metav1.Condition, t string) *metav1.Condition {
	for i := range conds {
		if conds[i].Type == t {
			return &conds[i]
		}
	}
	return nil
}

// New returns a condition.
func New(t string, status metav1.ConditionStatus, reason, message string, generation int64) metav1.Condition {
	return metav1.Condition{Type: t, Status: status, Reason: reason, Message: message, ObservedGeneration: generation}
}

// Summary returns the root Ready condition: True when every condition in deps is True,
// otherwise carrying the reason and message of the first that is not.
func Summary(conds []metav1.Condition, readyType string, generation int64, deps ...string) metav1.Condition {
	for _, t := range deps {
		c := Get(conds, t)
		if c == nil {
			return New(readyType, metav1.ConditionUnknown, "Pending", t+" is not reported yet", generation)
		}
		if c.Status != metav1.ConditionTrue {
			return New(readyType, metav1.ConditionFalse, c.Reason, c.Message, generation)
		}
	}
	return New(readyType, metav1.ConditionTrue, "Ready", "", generation)
}
