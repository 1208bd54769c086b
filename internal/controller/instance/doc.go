// Package instance reconciles the instances of one RGD-generated kind: it applies each
// resource of the graph in dependency order with server-side apply, reports progress in the
// instance status, and deletes the resources in reverse order when the instance goes. It
// reads what it applies from a cache of the objects of some ApplySet, instances and
// externalRefs from the manager's cache, and gets its graph from the engine.
package instance
