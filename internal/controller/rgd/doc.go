// Package rgd reconciles ResourceGraphDefinitions: it builds and checks the graph, applies the
// generated CRD and waits for it, and asks the engine to serve the new kind, reporting each
// step as a condition. It does not reconcile instances.
package rgd
