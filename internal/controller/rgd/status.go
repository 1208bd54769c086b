package rgd

import (
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kro-run/kro/api/v1alpha1"
	"github.com/kro-run/kro/internal/conditions"
)

// maxMessageLen bounds condition messages.
const maxMessageLen = 4096

func setCondition(rgd *v1alpha1.ResourceGraphDefinition, t string, status metav1.ConditionStatus, reason, message string) {
	if len(message) > maxMessageLen {
		message = message[:maxMessageLen-3] + "..."
	}
	rgd.Status.Conditions = conditions.Set(rgd.Status.Conditions,
		conditions.New(t, status, reason, message, rgd.Generation), now())
}

// summarize sets the root Ready condition and the state. Conditions not reached in this
// reconcile (after an earlier one failed) are marked Unknown so that stale successes never
// show.
func summarize(rgd *v1alpha1.ResourceGraphDefinition) {
	chain := []string{v1alpha1.ConditionGraphAccepted, v1alpha1.ConditionKindReady, v1alpha1.ConditionControllerReady}
	for i, t := range chain {
		c := conditions.Get(rgd.Status.Conditions, t)
		if c == nil || c.ObservedGeneration != rgd.Generation {
			setCondition(rgd, t, metav1.ConditionUnknown, "Pending", "waiting for "+chain[max(i-1, 0)])
			continue
		}
		if c.Status != metav1.ConditionTrue {
			for _, later := range chain[i+1:] {
				setCondition(rgd, later, metav1.ConditionUnknown, "Pending", "waiting for "+t)
			}
			break
		}
	}
	// GraphRevisionsResolved reports on the revision serving instances, which an invalid spec
	// does not change: it is outside the chain, but Ready needs it.
	if c := conditions.Get(rgd.Status.Conditions, v1alpha1.ConditionGraphRevisionsResolved); c == nil || c.ObservedGeneration != rgd.Generation {
		setCondition(rgd, v1alpha1.ConditionGraphRevisionsResolved, metav1.ConditionUnknown, "Pending", "waiting for "+v1alpha1.ConditionGraphAccepted)
	}
	ready := conditions.Summary(rgd.Status.Conditions, v1alpha1.ConditionReady, rgd.Generation,
		v1alpha1.ConditionGraphAccepted, v1alpha1.ConditionGraphRevisionsResolved, v1alpha1.ConditionKindReady, v1alpha1.ConditionControllerReady)
	rgd.Status.Conditions = conditions.Set(rgd.Status.Conditions, ready, now())
	if ready.Status == metav1.ConditionTrue {
		rgd.Status.State = v1alpha1.ResourceGraphDefinitionStateActive
	} else {
		rgd.Status.State = v1alpha1.ResourceGraphDefinitionStateInactive
	}
}

func now() metav1.Time { return metav1.NewTime(time.Now().Truncate(time.Second)) }
