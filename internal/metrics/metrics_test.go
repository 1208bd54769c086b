package metrics

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus/testutil"
	dto "github.com/prometheus/client_model/go"
	ctrlmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"
)

func TestObserveGraphBuild(t *testing.T) {
	before := testutil.ToFloat64(GraphBuilds.WithLabelValues("rejected"))
	ObserveGraphBuild(time.Now(), errors.New("bad graph"))
	if got := testutil.ToFloat64(GraphBuilds.WithLabelValues("rejected")) - before; got != 1 {
		t.Errorf("kro_graph_builds_total{result=rejected} grew by %v, want 1", got)
	}
	// The metrics are served by controller-runtime's registry under kro_ names.
	n, err := testutil.GatherAndCount(ctrlmetrics.Registry, "kro_graph_builds_total", "kro_graph_build_duration_seconds")
	if err != nil || n == 0 {
		t.Errorf("GatherAndCount(...) = %d, %v; want kro metrics registered", n, err)
	}
}

// TestNames checks kro's names: counters end in _total; histograms measure seconds, except
// the CEL cost, whose unit is cel-go's.
func TestNames(t *testing.T) {
	ObserveCELEvaluation(CELSuccess, new(uint64))
	ObserveGraphBuild(time.Now(), nil)
	families, err := ctrlmetrics.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range families {
		name := mf.GetName()
		if !strings.HasPrefix(name, "kro_") {
			continue
		}
		switch mf.GetType() {
		case dto.MetricType_COUNTER:
			if !strings.HasSuffix(name, "_total") {
				t.Errorf("counter %s does not end in _total", name)
			}
		case dto.MetricType_HISTOGRAM:
			if !strings.HasSuffix(name, "_seconds") && name != "kro_cel_evaluation_cost" {
				t.Errorf("histogram %s does not end in _seconds", name)
			}
		}
	}
}

func TestObserveCELEvaluation(t *testing.T) {
	cases := map[string]struct {
		result CELResult
		cost   *uint64
		label  string
	}{
		"Success": {result: CELSuccess, cost: ptr(uint64(12)), label: "success"},
		"Pending": {result: CELPending, cost: ptr(uint64(3)), label: "pending"},
		"Error":   {result: CELError, label: "error"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			before := testutil.ToFloat64(CELEvaluations.WithLabelValues(tc.label))
			costs := histogramCount(t)
			ObserveCELEvaluation(tc.result, tc.cost)
			if got := testutil.ToFloat64(CELEvaluations.WithLabelValues(tc.label)) - before; got != 1 {
				t.Errorf("kro_cel_evaluations_total{result=%s} grew by %v, want 1", tc.label, got)
			}
			want := costs
			if tc.cost != nil {
				want++
			}
			if got := histogramCount(t); got != want {
				t.Errorf("kro_cel_evaluation_cost count = %d, want %d", got, want)
			}
		})
	}
}

func histogramCount(t *testing.T) uint64 {
	t.Helper()
	m := &dto.Metric{}
	if err := CELCost.Write(m); err != nil {
		t.Fatal(err)
	}
	return m.GetHistogram().GetSampleCount()
}

func ptr[T any](v T) *T { return &v }

func TestInstanceCollector(t *testing.T) {
	t.Cleanup(func() { SetInstanceCounter(nil) })
	SetInstanceCounter(InstanceCounterFn(func(context.Context) []InstanceCount {
		return []InstanceCount{{RGD: "webapp", State: "ACTIVE", Count: 3}, {RGD: "webapp", State: "ERROR", Count: 1}}
	}))
	want := `
# HELP kro_instances Instances of the kinds kro serves, by RGD and state (status.state; UNKNOWN before kro wrote one).
# TYPE kro_instances gauge
kro_instances{rgd="webapp",state="ACTIVE"} 3
kro_instances{rgd="webapp",state="ERROR"} 1
`
	if err := testutil.GatherAndCompare(ctrlmetrics.Registry, strings.NewReader(want), "kro_instances"); err != nil {
		t.Error(err)
	}
	SetInstanceCounter(nil)
	n, err := testutil.GatherAndCount(ctrlmetrics.Registry, "kro_instances")
	if diff := cmp.Diff(0, n); diff != "" || err != nil {
		t.Errorf("kro_instances without a counter: %v; -want, +got:\n%s", err, diff)
	}
}
