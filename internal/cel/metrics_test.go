package cel

import (
	"context"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"
	dto "github.com/prometheus/client_model/go"

	"github.com/kro-run/kro/internal/metrics"
)

// TestEvalMetrics checks that every evaluation is counted by result and its cost observed.
func TestEvalMetrics(t *testing.T) {
	cases := map[string]struct {
		expr   string
		result string
	}{
		"Success": {expr: "schema.spec.name + '-x'", result: "success"},
		"Pending": {expr: "schema.spec.missing", result: "pending"},
		"Error":   {expr: "1 / (schema.spec.replicas - 3)", result: "error"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			prg := testEnvProgram(t, tc.expr)
			before := testutil.ToFloat64(metrics.CELEvaluations.WithLabelValues(tc.result))
			costs := costCount(t)
			_, _ = prg.Eval(context.Background(), testVars())
			if got := testutil.ToFloat64(metrics.CELEvaluations.WithLabelValues(tc.result)) - before; got != 1 {
				t.Errorf("Eval(%q): kro_cel_evaluations_total{result=%q} grew by %v, want 1", tc.expr, tc.result, got)
			}
			if got := costCount(t) - costs; got != 1 {
				t.Errorf("Eval(%q): kro_cel_evaluation_cost observed %d evaluations, want 1", tc.expr, got)
			}
		})
	}
}

func costCount(t *testing.T) uint64 {
	t.Helper()
	m := &dto.Metric{}
	if err := metrics.CELCost.Write(m); err != nil {
		t.Fatal(err)
	}
	return m.GetHistogram().GetSampleCount()
}
