// Package app wires the kro controller: flags into Options with documented defaults, the
// controller-runtime manager, the RGD controller and the engine that serves generated kinds.
package app
