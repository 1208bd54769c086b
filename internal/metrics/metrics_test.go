package metrics

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
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
	names, _ := ctrlmetrics.Registry.Gather()
	for _, mf := range names {
		if strings.HasPrefix(mf.GetName(), "kro_") && !strings.HasSuffix(mf.GetName(), "_total") &&
			!strings.HasSuffix(mf.GetName(), "_seconds") && !strings.HasPrefix(mf.GetName(), "kro_engine_") {
			t.Errorf("metric %s: counters end in _total, durations in _seconds", mf.GetName())
		}
	}
}
