// Package rgd reconciles ResourceGraphDefinitions: it builds and checks the graph, applies the
// generated CRD and waits for it, and asks the engine to serve the new kind, reporting each
// step as a condition. A deleted RGD stays, still served, until its last instance is gone (with
// --allow-crd-deletion it deletes the instances, then the CRD). RGDs are re-checked when a CRD
// they own or use changes. It does not reconcile instances.
package rgd
