// Package runtime evaluates a compiled graph.Graph for one instance during one reconcile: it
// renders the desired objects from the instance and the observed state of their
// dependencies, evaluates readyWhen and includeWhen, and projects the instance status. It is
// cheap to create, holds no API clients and never mutates the Graph.
package runtime
