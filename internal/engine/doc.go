// Package engine starts, updates and stops the per-kind instance controllers at runtime, so a
// new RGD is served without restarting kro. It owns each controller's lifecycle, its watches
// and the informers behind them, in two caches: the objects kro applies are watched through
// informers that hold only objects of some ApplySet (routed back to the owning instance by
// label), and instances, externalRefs and objects awaited for adoption through informers that
// hold every object of their kind (externalRefs routed to the instances that read them).
// Informers are counted per kind and cache across graphs and removed when no graph uses them
// any more or the cluster stops serving the kind. It retries failed instances with capped
// exponential backoff and notifies the owning RGD of instance deletions and of controllers
// that stopped by themselves. It does not know how an instance is reconciled.
package engine
