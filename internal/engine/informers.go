package engine

import (
	"context"
	"fmt"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/kro-run/kro/api/v1alpha1"
	"github.com/kro-run/kro/internal/graph"
	"github.com/kro-run/kro/internal/metrics"
)

// Scope says which objects of a kind an informer holds, and so in which cache it lives.
type Scope int

const (
	// ScopeAll informers hold every object of their kind (Options.Cache).
	ScopeAll Scope = iota
	// ScopeOwned informers hold the objects of some ApplySet (Options.Owned).
	ScopeOwned
	// ScopeOwnedMetadata informers hold the metadata of the objects of some ApplySet
	// (Options.Owned), for kinds whose objects kro does not read (graph.MetadataOnly).
	ScopeOwnedMetadata
	// ScopeAllMetadata informers hold the metadata of every object of their kind
	// (Options.Cache), for the kinds of externalRefs and of objects awaited for adoption
	// (graph.Node.ExternalByMetadata): their events reach the instances that read them, which
	// read the objects themselves from the API server.
	ScopeAllMetadata
)

// scopes are all the scopes.
var scopes = []Scope{ScopeAll, ScopeOwned, ScopeOwnedMetadata, ScopeAllMetadata}

func (s Scope) String() string {
	switch s {
	case ScopeOwned:
		return "owned"
	case ScopeOwnedMetadata:
		return "owned-metadata"
	case ScopeAllMetadata:
		return "all-metadata"
	}
	return "all"
}

// metadata reports whether the informer holds objects' metadata only.
func (s Scope) metadata() bool { return s == ScopeOwnedMetadata || s == ScopeAllMetadata }

// owned reports whether the informer holds objects of ApplySets, whose events go to the
// instances their labels name.
func (s Scope) owned() bool { return s == ScopeOwned || s == ScopeOwnedMetadata }

// Informer names an informer the engine holds: a kind, in the cache of a scope.
type Informer struct {
	GVK   schema.GroupVersionKind
	Scope Scope
}

// labels are the informer's labels of the kro_engine_informers metric.
func (i Informer) labels() []string {
	return []string{i.GVK.Group, i.GVK.Version, i.GVK.Kind, i.Scope.String()}
}

// informersOf are the informers a graph's controller reads: every object of its instance kind,
// and those of its resources (see nodeInformers).
func informersOf(g *graph.Graph) map[Informer]bool {
	out := map[Informer]bool{{GVK: g.Instance.GVK, Scope: ScopeAll}: true}
	for _, n := range g.Nodes {
		for _, inf := range nodeInformers(g, n) {
			out[inf] = true
		}
	}
	return out
}

// object is the object the caches know the informer by: an Unstructured, or a
// PartialObjectMetadata for a metadata informer.
func (i Informer) object() client.Object {
	if i.Scope.metadata() {
		obj := &metav1.PartialObjectMetadata{}
		obj.SetGroupVersionKind(i.GVK)
		return obj
	}
	return unstructuredOf(i.GVK)
}

// nodeInformers are the informers a resource is read and watched through. What kro applies
// carries an ApplySet label: the owned informer of the kind holds it, and routes its events to
// the instance its labels name. An externalRef reads objects of no ApplySet, and a resource
// with adoptionPolicy Required waits for one to appear: they need every object of the kind,
// whose events go to the instances that read them; by metadata only, except for an
// RGD-generated kind (graph.Node.ExternalByMetadata).
func nodeInformers(g *graph.Graph, n *graph.Node) []Informer {
	var out []Informer
	switch {
	case n.External != nil:
	case g.MetadataOnly(n.GVK):
		out = append(out, Informer{GVK: n.GVK, Scope: ScopeOwnedMetadata})
	default:
		out = append(out, Informer{GVK: n.GVK, Scope: ScopeOwned})
	}
	if n.External != nil || n.Adoption == v1alpha1.AdoptionPolicyRequired {
		scope := ScopeAll
		if n.ExternalByMetadata() {
			scope = ScopeAllMetadata
		}
		out = append(out, Informer{GVK: n.GVK, Scope: scope})
	}
	return out
}

// cacheOf is the cache of a scope.
func (e *Engine) cacheOf(s Scope) cache.Cache {
	if s.owned() {
		return e.opts.Owned
	}
	return e.opts.Cache
}

// informerSyncTimeout bounds the wait for a kind's informer to sync.
const informerSyncTimeout = 15 * time.Second

// ensureInformers starts (or finds) informers and waits for them to sync. On failure the
// informers it started for nobody are removed again, so that a kind the cluster does not
// serve leaves no informer retrying forever.
func (e *Engine) ensureInformers(ctx context.Context, infs map[Informer]bool) error {
	// An informer that cannot sync (a kind just removed, say) must not hold the RGD worker.
	ctx, cancel := context.WithTimeout(ctx, informerSyncTimeout)
	defer cancel()
	for inf := range infs {
		if _, err := e.cacheOf(inf.Scope).GetInformer(ctx, inf.object()); err != nil {
			// An informer that did not sync delivers nothing to anyone: remove it even when a
			// graph uses it, with the watches on it, so it does not retry forever.
			e.mu.Lock()
			notify := e.forget(inf)
			e.releaseUnused(infs)
			e.mu.Unlock()
			e.notify(notify)
			return fmt.Errorf("watching %s: %w", inf.GVK, err)
		}
	}
	return nil
}

// acquire makes kc count infs in e.informers instead of the informers it counted before, and
// removes the informers nobody counts any more. e.mu must be held.
func (e *Engine) acquire(kc *kindController, infs map[Informer]bool) {
	for inf := range infs {
		if !kc.kinds[inf] {
			e.informers[inf]++
		}
		metrics.Informers.WithLabelValues(inf.labels()...).Set(1)
	}
	for inf := range kc.kinds {
		if infs[inf] {
			continue
		}
		e.informers[inf]--
		if e.informers[inf] <= 0 {
			delete(e.informers, inf)
			metrics.Informers.DeleteLabelValues(inf.labels()...)
			e.removeInformer(inf)
			e.opts.Log.Info("Removed informer of a kind no graph uses", "gvk", inf.GVK.String(), "cache", inf.Scope.String())
		}
	}
	kc.kinds = infs
}

// releaseUnused removes the informers that no controller counts, after a failed Register
// started them. e.mu must be held.
func (e *Engine) releaseUnused(infs map[Informer]bool) {
	for inf := range infs {
		if e.informers[inf] == 0 {
			e.removeInformer(inf)
		}
	}
}

// removeInformer stops an informer and removes it from its cache. e.mu must be held.
func (e *Engine) removeInformer(inf Informer) {
	if err := e.cacheOf(inf.Scope).RemoveInformer(e.runCtx, inf.object()); err != nil {
		e.opts.Log.Error(err, "Removing informer", "gvk", inf.GVK.String(), "cache", inf.Scope.String())
	}
}

// Informers lists the informers the engine holds for its controllers.
func (e *Engine) Informers() []Informer {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := make([]Informer, 0, len(e.informers))
	for inf := range e.informers {
		out = append(out, inf)
	}
	return out
}
