// Package metrics owns kro's Prometheus metrics (names kro_<subsystem>_<name>_<unit>), registered
// with controller-runtime's registry so they are served on the metrics endpoint next to the
// controller_runtime_* reconcile, queue and client metrics. Labels are bounded: kinds, never
// object names.
package metrics

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
	ctrlmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"
)

var (
	// GraphBuilds counts RGD graph builds by result (accepted, rejected).
	GraphBuilds = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "kro_graph_builds_total",
		Help: "ResourceGraphDefinition graph builds by result.",
	}, []string{"result"})
	// GraphBuildDuration observes how long building and type-checking an RGD takes.
	GraphBuildDuration = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name:    "kro_graph_build_duration_seconds",
		Help:    "Time to build and type-check a ResourceGraphDefinition.",
		Buckets: prometheus.ExponentialBuckets(0.001, 2, 14),
	})
	// Applies counts server-side applies of instance resources by kind and result.
	Applies = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "kro_instance_applies_total",
		Help: "Server-side applies of instance resources, by instance kind and result.",
	}, []string{"kind", "result"})
	// AppliesSkipped counts resources found up to date, which cost no API request.
	AppliesSkipped = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "kro_instance_applies_skipped_total",
		Help: "Resources found up to date without an apply, by instance kind.",
	}, []string{"kind"})
	// Deletions counts resources deleted by instance deletion or pruning.
	Deletions = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "kro_instance_deletions_total",
		Help: "Resources deleted by instance deletion or pruning, by instance kind and reason.",
	}, []string{"kind", "reason"})
	// InstanceStates counts status writes by the state written.
	InstanceStates = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "kro_instance_state_transitions_total",
		Help: "Instance state transitions, by instance kind and new state.",
	}, []string{"kind", "state"})
	// Controllers is the number of generated kinds being served.
	Controllers = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "kro_engine_controllers",
		Help: "Number of generated kinds whose instances are being served.",
	})
	// Informers is 1 for each informer the engine holds for the graphs it serves, per kind and
	// cache: "owned" (objects of some ApplySet: what kro applies; "owned-metadata" their
	// metadata), "all" (every object of the kind: instances) or "all-metadata" (the metadata of
	// every object of the kind: externalRefs); the series goes when no graph uses it any more
	// and the informer is removed.
	Informers = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "kro_engine_informers",
		Help: "Informers the engine holds for the graphs it serves (1 per kind and cache: owned, owned-metadata, all or all-metadata).",
	}, []string{"group", "version", "kind", "cache"})
	// Watches is the number of kinds watched for instances, children and external references.
	Watches = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "kro_engine_watches",
		Help: "Number of (controller, kind) watches of instances, children and external references.",
	})
	// CELEvaluations counts evaluations of CEL expressions by result: success, pending (the
	// data an expression reads is not there yet) or error (cost limit included).
	CELEvaluations = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "kro_cel_evaluations_total",
		Help: "CEL expression evaluations, by result (success, pending, error).",
	}, []string{"result"})
	// CELCost observes the runtime cost of each CEL evaluation, in cel-go cost units (the
	// unit of the runtime cost limit, 1,000,000 by default).
	CELCost = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name:    "kro_cel_evaluation_cost",
		Help:    "Runtime cost of CEL expression evaluations, in CEL cost units.",
		Buckets: prometheus.ExponentialBuckets(1, 4, 11),
	})
)

// The CEL counters of each result, resolved once: evaluations are the hottest path.
var (
	celSuccess = CELEvaluations.WithLabelValues("success")
	celPending = CELEvaluations.WithLabelValues("pending")
	celError   = CELEvaluations.WithLabelValues("error")
)

func init() {
	ctrlmetrics.Registry.MustRegister(GraphBuilds, GraphBuildDuration, Applies, AppliesSkipped,
		Deletions, InstanceStates, Controllers, Informers, Watches, CELEvaluations, CELCost,
		instances)
}

// CELResult is the outcome of one CEL evaluation.
type CELResult int

// The outcomes of a CEL evaluation.
const (
	CELSuccess CELResult = iota
	CELPending
	CELError
)

// ObserveCELEvaluation records one evaluation and, when known, its runtime cost.
func ObserveCELEvaluation(result CELResult, cost *uint64) {
	switch result {
	case CELSuccess:
		celSuccess.Inc()
	case CELPending:
		celPending.Inc()
	default:
		celError.Inc()
	}
	if cost != nil {
		CELCost.Observe(float64(*cost))
	}
}

// ObserveGraphBuild records one graph build.
func ObserveGraphBuild(start time.Time, err error) {
	GraphBuildDuration.Observe(time.Since(start).Seconds())
	if err != nil {
		GraphBuilds.WithLabelValues("rejected").Inc()
		return
	}
	GraphBuilds.WithLabelValues("accepted").Inc()
}
