package instance

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	kruntime "k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/json"

	"github.com/kro-run/kro/internal/conditions"
)

// stateReasons are the event reasons of state transitions.
var stateReasons = map[string]string{
	StateActive:     "Active",
	StateInProgress: "InProgress",
	StateError:      "Error",
	StateDeleting:   "Deleting",
}

// maxMessageLen bounds condition messages.
const maxMessageLen = 1024

// status is the status an instance is about to get.
type status struct {
	// conds are kro's built-in conditions.
	conds []metav1.Condition
	// custom, when the RGD declares conditions, replaces conds on the instance.
	custom []metav1.Condition
	// wire are the conditions the instance has now.
	wire       []metav1.Condition
	state      string
	user       map[string]any
	generation int64
	// revision is the graph revision of this reconcile, named in GraphResolved.
	revision int64
	now      metav1.Time
}

func newStatus(inst *unstructured.Unstructured) *status {
	st := &status{generation: inst.GetGeneration(), now: metav1.NewTime(time.Now().Truncate(time.Second))}
	raw, _, _ := unstructured.NestedSlice(inst.Object, "status", "conditions")
	for _, item := range raw {
		m, ok := item.(map[string]any)
		if !ok {
			continue
		}
		var c metav1.Condition
		if kruntime.DefaultUnstructuredConverter.FromUnstructured(m, &c) == nil {
			st.wire = append(st.wire, c)
			if c.Type != ConditionReconciling && c.Type != ConditionStalled {
				st.conds = append(st.conds, c)
			}
		}
	}
	// Keep the user fields written before until they are computed again.
	st.user, _, _ = unstructured.NestedMap(inst.Object, "status")
	if st.user == nil {
		st.user = map[string]any{}
	}
	delete(st.user, "state")
	delete(st.user, "conditions")
	return st
}

func (s *status) set(t string, status metav1.ConditionStatus, reason, message string) {
	if len(message) > maxMessageLen {
		message = message[:maxMessageLen-3] + "..."
	}
	s.conds = conditions.Set(s.conds, conditions.New(t, status, reason, message, s.generation), s.now)
}

// apply records the outcome of a sync.
func (s *status) apply(res result) {
	for k, v := range res.userStatus {
		s.user[k] = v
	}
	switch {
	case res.err != nil:
		s.state = StateError
		reason := "ReconcileError"
		if res.permanent {
			reason = "InvalidResource"
		}
		s.set(ConditionGraphResolved, metav1.ConditionFalse, reason, res.err.Error())
		s.set(ConditionResourcesReady, metav1.ConditionFalse, reason, res.err.Error())
	case len(res.waiting) > 0:
		s.state = StateInProgress
		s.set(ConditionGraphResolved, metav1.ConditionTrue, "Resolved", s.resolvedMessage())
		s.set(ConditionResourcesReady, metav1.ConditionFalse, "NotReady", strings.Join(res.waiting, "; "))
	default:
		s.state = StateActive
		s.set(ConditionGraphResolved, metav1.ConditionTrue, "Resolved", s.resolvedMessage())
		s.set(ConditionResourcesReady, metav1.ConditionTrue, "AllResourcesReady", "all resources are created and ready")
	}
}

// resolvedMessage says which graph revision the instance was resolved with.
func (s *status) resolvedMessage() string {
	if s.revision == 0 {
		return "runtime graph created and all resources resolved"
	}
	return fmt.Sprintf("runtime graph created and all resources resolved (graph revision %d)", s.revision)
}

// summarize sets the root Ready condition from the others.
func (s *status) summarize() {
	ready := conditions.Summary(s.conds, ConditionReady, s.generation,
		ConditionInstanceManaged, ConditionGraphResolved, ConditionResourcesReady)
	s.conds = conditions.Set(s.conds, ready, s.now)
}

// builtins returns kro's conditions as expressions see them.
func (s *status) builtins() ([]any, error) {
	s.summarize()
	out := make([]any, 0, len(s.conds))
	for i := range s.conds {
		m, err := kruntime.DefaultUnstructuredConverter.ToUnstructured(&s.conds[i])
		if err != nil {
			return nil, err
		}
		out = append(out, m)
	}
	return out, nil
}

// setCustom records the custom conditions computed in this reconcile. When some could not be
// computed (keepOthers), the ones written before for other types stay as they are.
func (s *status) setCustom(produced []map[string]any, keepOthers bool) {
	s.custom = []metav1.Condition{}
	seen := map[string]bool{}
	for _, m := range produced {
		str := func(k string) string { v, _ := m[k].(string); return v }
		c := conditions.New(str("type"), metav1.ConditionStatus(str("status")), str("reason"), str("message"), s.generation)
		if c.Type == "" || seen[c.Type] {
			continue
		}
		seen[c.Type] = true
		c.LastTransitionTime = s.now
		if prev := conditions.Get(s.wire, c.Type); prev != nil && prev.Status == c.Status && prev.Reason == c.Reason && prev.Message == c.Message {
			c.LastTransitionTime = prev.LastTransitionTime
		}
		s.custom = append(s.custom, c)
	}
	if keepOthers {
		for _, c := range s.wire {
			if !seen[c.Type] && c.Type != ConditionReconciling && c.Type != ConditionStalled {
				s.custom = append(s.custom, c)
			}
		}
	}
}

// Condition types of the kstatus convention, beyond the reference: GitOps tools that follow it
// (Flux, kpt, cli-utils) see an instance as InProgress while Reconciling is True, Failed while
// Stalled is True, and Current otherwise once status.observedGeneration is the generation.
const (
	ConditionReconciling = "Reconciling"
	ConditionStalled     = "Stalled"
)

// kstatus returns the Reconciling and Stalled conditions of the state, each carrying the
// message of the condition that explains it; types the RGD's own conditions declare are left
// to them. kstatus reads both with "abnormal-true" polarity, so a condition that would be False
// is left out: an ACTIVE instance carries neither, and every write and watch event of it is
// smaller.
func (s *status) kstatus() []metav1.Condition {
	why := ""
	if c := conditions.Get(s.conds, ConditionResourcesReady); c != nil {
		why = c.Message
	}
	var abnormal []metav1.Condition
	switch s.state {
	case StateInProgress:
		abnormal = append(abnormal, conditions.New(ConditionReconciling, metav1.ConditionTrue, "InProgress", why, s.generation))
	case StateDeleting:
		abnormal = append(abnormal, conditions.New(ConditionReconciling, metav1.ConditionTrue, "Deleting", "deleting the instance's resources", s.generation))
	case StateError:
		abnormal = append(abnormal, conditions.New(ConditionStalled, metav1.ConditionTrue, "Error", why, s.generation))
	}
	var out []metav1.Condition
	for _, c := range abnormal {
		if conditions.Get(s.custom, c.Type) != nil {
			continue
		}
		c.LastTransitionTime = s.now
		if prev := conditions.Get(s.wire, c.Type); prev != nil && prev.Status == c.Status && prev.Reason == c.Reason && prev.Message == c.Message {
			c.LastTransitionTime = prev.LastTransitionTime
		}
		out = append(out, c)
	}
	return out
}

// merged returns the status object to write, its JSON, and whether it differs from the
// instance's.
func (s *status) merged(inst *unstructured.Unstructured) (map[string]any, []byte, bool, error) {
	s.summarize()
	written := s.conds
	if s.custom != nil {
		written = s.custom
	}

	out := map[string]any{}
	for k, v := range s.user {
		out[k] = v
	}
	out["state"] = s.state
	out["observedGeneration"] = s.generation
	written = append(slices.Clone(written), s.kstatus()...)
	conds := make([]any, 0, len(written))
	for i := range written {
		m, err := kruntime.DefaultUnstructuredConverter.ToUnstructured(&written[i])
		if err != nil {
			return nil, nil, false, err
		}
		conds = append(conds, m)
	}
	out["conditions"] = conds
	// Compare in the form the API server returns: through JSON, where a whole float is an int.
	raw, err := json.Marshal(out)
	if err != nil {
		return nil, nil, false, err
	}
	out = map[string]any{}
	if err := json.Unmarshal(raw, &out); err != nil {
		return nil, nil, false, err
	}
	current, _, _ := unstructured.NestedMap(inst.Object, "status")
	return out, raw, !equality.Semantic.DeepEqual(current, out), nil
}
