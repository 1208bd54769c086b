// Package engine starts, updates and stops the per-kind instance controllers at runtime, so a
// new RGD is served without restarting kro. It owns each controller's lifecycle and its
// watches (the instance kind and every child kind, routed back to the owning instance by
// label); it does not know how an instance is reconciled.
package engine
