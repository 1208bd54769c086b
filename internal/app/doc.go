// Package app wires the kro controller: flags into Options with documented defaults, the
// controller-runtime manager with its two caches (instances, RGDs, CRDs and externalRefs in the
// manager's; the objects kro applies, and only those, in the owned cache), the RGD controller,
// the engine that serves generated kinds, and the release of memory after bursts.
package app
