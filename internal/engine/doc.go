// Package engine starts, updates and stops the per-kind instance controllers at runtime, so a
// new RGD is served without restarting kro. It owns each controller's lifecycle, its watches
// (the instance kind and every child kind, routed back to the owning instance by label) and
// the informers behind them: counted per kind across graphs and removed from the cache when no
// graph uses the kind any more or the cluster stops serving it. It retries failed instances
// with capped exponential backoff and notifies the owning RGD of instance deletions and of
// controllers that stopped by themselves. It does not know how an instance is reconciled.
package engine
