// Package features owns kro's feature gates: the names the reference kro accepts on
// --feature-gates, with their defaults. It does not decide what a gate changes; the packages
// that read a gate do.
package features

import (
	"slices"

	"k8s.io/component-base/featuregate"
)

// Feature gates of the reference kro, accepted with the same names and defaults so that the
// same flags work with either controller.
const (
	// CELOmitFunction enables omit() in templates in the reference. kro always offers omit(),
	// so the gate changes nothing here.
	CELOmitFunction featuregate.Feature = "CELOmitFunction"
	// InstanceConditionEvents emits events on instance condition transitions in the
	// reference. Accepted; kro emits events on state transitions whatever its value.
	InstanceConditionEvents featuregate.Feature = "InstanceConditionEvents"
	// InstanceConditionMetrics exports per-instance condition metrics in the reference.
	// Accepted; no effect (kro's metric labels are bounded and never name an instance).
	InstanceConditionMetrics featuregate.Feature = "InstanceConditionMetrics"
	// GraphKind starts the reference's Graph API controller. Accepted; kro has no Graph API.
	GraphKind featuregate.Feature = "GraphKind"
	// ConservativeCRDComparison adds stricter CRD schema change checks in the reference.
	// Accepted; no effect yet.
	ConservativeCRDComparison featuregate.Feature = "ConservativeCRDComparison"
	// DeletionPolicy enables a resource's deletionPolicy field in the reference's newest
	// releases. Accepted; kro always honours deletionPolicy (docs/resource-lifecycle.md).
	DeletionPolicy featuregate.Feature = "DeletionPolicy"
)

var defaults = map[featuregate.Feature]featuregate.FeatureSpec{
	CELOmitFunction:           {Default: false, PreRelease: featuregate.Alpha},
	InstanceConditionEvents:   {Default: false, PreRelease: featuregate.Alpha},
	InstanceConditionMetrics:  {Default: false, PreRelease: featuregate.Alpha},
	GraphKind:                 {Default: false, PreRelease: featuregate.Alpha},
	ConservativeCRDComparison: {Default: false, PreRelease: featuregate.Alpha},
	DeletionPolicy:            {Default: false, PreRelease: featuregate.Alpha},
}

// New returns a gate holding kro's features at their defaults. Each controller has its own,
// so that tests can run several with different gates.
func New() featuregate.MutableFeatureGate {
	g := featuregate.NewFeatureGate()
	if err := g.Add(defaults); err != nil {
		panic(err) // the table above is constant
	}
	return g
}

// Known lists kro's feature gates, sorted.
func Known() []featuregate.Feature {
	out := make([]featuregate.Feature, 0, len(defaults))
	for f := range defaults {
		out = append(out, f)
	}
	slices.Sort(out)
	return out
}
