package rgd

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/client"

	internalv1alpha1 "github.com/kro-run/kro/api/internal.kro.run/v1alpha1"
	"github.com/kro-run/kro/api/v1alpha1"
	"github.com/kro-run/kro/internal/conditions"
	"github.com/kro-run/kro/internal/graph"
	"github.com/kro-run/kro/internal/metadata"
)

// stoppedEngine reports that the controller of every kind stopped with err.
type stoppedEngine struct {
	recordingEngine
	err error
}

func (e *stoppedEngine) Stopped(schema.GroupVersionKind) error { return e.err }

func TestReconcileGraphReportsStoppedController(t *testing.T) {
	rgd := testRGD(t, 1, `{name: string}`, nil)
	c := fakeClient(t).WithObjects(liveCRD(t, rgd)).Build()
	engine := &stoppedEngine{err: errors.New("watch refused")}
	r := New(Options{Client: c, Engine: engine, Builder: graph.NewBuilder(meta.NewDefaultRESTMapper(nil))})

	_, err := r.reconcileGraph(context.Background(), rgd)
	if err == nil {
		t.Fatalf("reconcileGraph(...) with a stopped controller: got nil error, want one (retried with backoff)")
	}
	cond := conditions.Get(rgd.Status.Conditions, v1alpha1.ConditionControllerReady)
	got := ""
	if cond != nil {
		got = string(cond.Status) + "/" + cond.Reason + "/" + cond.Message
	}
	if diff := cmp.Diff("False/ControllerStopped/instance controller stopped: watch refused", got); diff != "" {
		t.Errorf("ControllerReady: -want, +got:\n%s", diff)
	}
	// The stopped controller is forgotten so that the retry starts a new one.
	if diff := cmp.Diff([]schema.GroupVersionKind{appGVK}, engine.unregistered); diff != "" {
		t.Errorf("unregistered kinds: -want, +got:\n%s", diff)
	}
	if len(engine.registered) != 0 {
		t.Errorf("registered %v in the same reconcile; want the restart left to the retry", engine.registered)
	}
}

// TestReconcileGraphServesLastGood checks what serves the instances when the spec changes
// from the one of revision 1, whose CRD is applied: the new spec when it can serve them,
// otherwise revision 1 (no revision issued), with conditions that say so.
func TestReconcileGraphServesLastGood(t *testing.T) {
	allow := map[string]string{metadata.AllowBreakingChangesAnnotation: "true"}
	invalid := testRGD(t, 2, `{name: string}`, nil)
	invalid.Spec.Schema.Status.Raw = []byte(`{"x": "${nope.y}"}`)
	cases := map[string]struct {
		reason string
		// rgd is generation 2 of the RGD whose generation 1 is revision 1.
		rgd           *v1alpha1.ResourceGraphDefinition
		wantRevisions []string
		// wantServed are the revisions registered with the engine.
		wantServed []int64
		// wantCRDGeneration is the RGD generation the live CRD says it was applied from: a CRD
		// kept or applied for revision 1 says 1, so that a later breaking edit is never taken
		// for the repair of a hand edit.
		wantCRDGeneration string
		// wantConditions are status/reason of each condition.
		wantConditions map[string]string
	}{
		"Safe": {
			reason:            "A new optional field is applied, as revision 2.",
			rgd:               testRGD(t, 2, `{name: string, port: integer}`, nil),
			wantRevisions:     []string{"app-r00001", "app-r00002"},
			wantServed:        []int64{2},
			wantCRDGeneration: "2",
			wantConditions: map[string]string{
				v1alpha1.ConditionGraphAccepted: "True/Valid", v1alpha1.ConditionGraphRevisionsResolved: "True/Resolved",
				v1alpha1.ConditionKindReady: "True/Ready", v1alpha1.ConditionControllerReady: "True/Running", v1alpha1.ConditionReady: "True/Ready",
			},
		},
		"Refused": {
			reason:            "A breaking change is refused: no revision, revision 1 still served, the refusal reported.",
			rgd:               testRGD(t, 2, `{name: integer}`, nil),
			wantRevisions:     []string{"app-r00001"},
			wantServed:        []int64{1},
			wantCRDGeneration: "1",
			wantConditions: map[string]string{
				v1alpha1.ConditionGraphAccepted: "True/Valid", v1alpha1.ConditionGraphRevisionsResolved: "True/Resolved",
				v1alpha1.ConditionKindReady: "False/BreakingChanges", v1alpha1.ConditionControllerReady: "True/Running", v1alpha1.ConditionReady: "False/BreakingChanges",
			},
		},
		"Allowed": {
			reason:            "The annotation lets the breaking change through, as revision 2.",
			rgd:               testRGD(t, 2, `{name: integer}`, allow),
			wantRevisions:     []string{"app-r00001", "app-r00002"},
			wantServed:        []int64{2},
			wantCRDGeneration: "2",
			wantConditions: map[string]string{
				v1alpha1.ConditionGraphAccepted: "True/Valid", v1alpha1.ConditionGraphRevisionsResolved: "True/Resolved",
				v1alpha1.ConditionKindReady: "True/Ready", v1alpha1.ConditionControllerReady: "True/Running", v1alpha1.ConditionReady: "True/Ready",
			},
		},
		"Invalid": {
			reason:            "A spec that does not build: no revision, revision 1 still served, its kind reported as served.",
			rgd:               invalid,
			wantRevisions:     []string{"app-r00001"},
			wantServed:        []int64{1},
			wantCRDGeneration: "1",
			wantConditions: map[string]string{
				v1alpha1.ConditionGraphAccepted: "False/InvalidResourceGraph", v1alpha1.ConditionGraphRevisionsResolved: "True/Resolved",
				v1alpha1.ConditionKindReady: "True/Ready", v1alpha1.ConditionControllerReady: "True/Running", v1alpha1.ConditionReady: "False/InvalidResourceGraph",
			},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			first := testRGD(t, 1, `{name: string}`, nil)
			c := fakeClient(t).WithObjects(liveCRD(t, first), ownedRevision(first, 1)).Build()
			engine := &recordingEngine{}
			r := New(Options{Client: c, Engine: engine, Builder: graph.NewBuilder(meta.NewDefaultRESTMapper(nil))})
			rgd := tc.rgd.DeepCopy()
			rgd.Status.LastIssuedRevision = 1
			if _, err := r.reconcileGraph(context.Background(), rgd); err != nil {
				t.Fatalf("reconcileGraph(...): %v", err)
			}
			summarize(rgd)

			list := &internalv1alpha1.GraphRevisionList{}
			if err := c.List(context.Background(), list); err != nil {
				t.Fatal(err)
			}
			var revisions []string
			for _, rev := range list.Items {
				revisions = append(revisions, rev.Name)
			}
			slices.Sort(revisions)
			if diff := cmp.Diff(tc.wantRevisions, revisions); diff != "" {
				t.Errorf("%s\nrevisions: -want, +got:\n%s", tc.reason, diff)
			}
			if diff := cmp.Diff(int64(len(tc.wantRevisions)), rgd.Status.LastIssuedRevision); diff != "" {
				t.Errorf("%s\nstatus.lastIssuedRevision: -want, +got:\n%s", tc.reason, diff)
			}
			if diff := cmp.Diff(tc.wantServed, engine.revisions); diff != "" {
				t.Errorf("%s\nserved revisions: -want, +got:\n%s", tc.reason, diff)
			}
			got := map[string]string{}
			for _, cond := range rgd.Status.Conditions {
				got[cond.Type] = string(cond.Status) + "/" + cond.Reason
				if cond.ObservedGeneration != rgd.Generation {
					t.Errorf("%s\ncondition %s has observedGeneration %d, want %d", tc.reason, cond.Type, cond.ObservedGeneration, rgd.Generation)
				}
			}
			if diff := cmp.Diff(tc.wantConditions, got); diff != "" {
				t.Errorf("%s\nconditions: -want, +got:\n%s", tc.reason, diff)
			}
			crd := &apiextensionsv1.CustomResourceDefinition{}
			if err := c.Get(context.Background(), client.ObjectKey{Name: "apps.kro.run"}, crd); err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.wantCRDGeneration, crd.Annotations[generationAnnotation]); diff != "" {
				t.Errorf("%s\nCRD generation annotation: -want, +got:\n%s", tc.reason, diff)
			}
			resolved := conditions.Get(rgd.Status.Conditions, v1alpha1.ConditionGraphRevisionsResolved)
			if diff := cmp.Diff(fmt.Sprintf("revision %d compiled and active", tc.wantServed[0]), resolved.Message); diff != "" {
				t.Errorf("%s\nGraphRevisionsResolved message: -want, +got:\n%s", tc.reason, diff)
			}
		})
	}
}
