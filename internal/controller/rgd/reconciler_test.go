package rgd

import (
	"context"
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/kro-run/kro/api/v1alpha1"
	"github.com/kro-run/kro/internal/conditions"
	"github.com/kro-run/kro/internal/graph"
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
