// Package dag is the dependency graph between the resources of a
// ResourceGraphDefinition.
//
// It owns the graph structure keyed by resource id: vertices in declaration
// order, "depends on" edges, a deterministic topological order (ties broken
// by declaration order), cycle detection that reports an actual cycle, and
// the dependents queries used to skip resources excluded by includeWhen.
//
// It does not discover dependencies: callers derive edges from the CEL
// expressions of each resource (see the parser package) and record them with
// AddDependencies. It knows nothing of Kubernetes objects or CEL.
package dag
