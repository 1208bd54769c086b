package rgd

import (
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kro-run/kro/api/v1alpha1"
	"github.com/kro-run/kro/internal/conditions"
)

// maxMessageLen bounds condition messages.
const maxMessageLen = 4096

// conditionChain lists the RGD's conditions in the order a reconcile reaches them; Ready
// reports the first that is not True.
var conditionChain = []string{v1alpha1.ConditionGraphAccepted, v1alpha1.ConditionGraphRevisionsResolved,
	v1alpha1.ConditionKindReady, v1alpha1.ConditionControllerReady}

func setCondition(rgd *v1alpha1.ResourceGraphDefinition, t string, status metav1.ConditionStatus, reason, message string) {
	if len(message) > maxMessageLen {
		message = message[:maxMessageLen-3] + "..."
	}
	rgd.Status.Conditions = conditions.Set(rgd.Status.Conditions,
		conditions.New(t, status, reason, message, rgd.Generation), now())
}

// resetServing marks the conditions of serving Unknown, each waiting for the one it follows,
// until this reconcile reaches them, so that a success recorded by an earlier reconcile never
// shows when this one stops before it. A condition set more than once in one reconcile keeps
// its lastTransitionTime unless the status written differs (see writeStatus).
func resetServing(rgd *v1alpha1.ResourceGraphDefinition) {
	for i, t := range conditionChain[1:] {
		setCondition(rgd, t, metav1.ConditionUnknown, "Pending", "waiting for "+conditionChain[i])
	}
}

// summarize sets the root Ready condition and the state. A condition missing or of an earlier
// generation is marked Unknown. GraphAccepted reports on the current spec; the others on the
// graph serving instances, which is the last good one while the spec cannot serve them: an
// invalid or refused spec leaves them reporting what is served.
func summarize(rgd *v1alpha1.ResourceGraphDefinition) {
	for i, t := range conditionChain {
		if c := conditions.Get(rgd.Status.Conditions, t); c == nil || c.ObservedGeneration != rgd.Generation {
			setCondition(rgd, t, metav1.ConditionUnknown, "Pending", "waiting for "+conditionChain[max(i-1, 0)])
		}
	}
	ready := conditions.Summary(rgd.Status.Conditions, v1alpha1.ConditionReady, rgd.Generation, conditionChain...)
	rgd.Status.Conditions = conditions.Set(rgd.Status.Conditions, ready, now())
	if ready.Status == metav1.ConditionTrue {
		rgd.Status.State = v1alpha1.ResourceGraphDefinitionStateActive
	} else {
		rgd.Status.State = v1alpha1.ResourceGraphDefinitionStateInactive
	}
}

func now() metav1.Time { return metav1.NewTime(time.Now().Truncate(time.Second)) }
