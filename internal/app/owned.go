package app

import (
	"fmt"

	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/selection"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/manager"

	"github.com/kro-run/kro/internal/intern"
	"github.com/kro-run/kro/internal/metadata"
)

// newOwnedCache builds the cache of the objects kro applies and adds it to mgr, which starts it
// with its own cache, before the controllers. Its informers list and watch only objects that
// carry an ApplySet part-of label (every object kro applies does), so that kro does not hold
// every object of a child kind (every Secret, every ConfigMap of the cluster) in memory. A
// kind is read from it only once the engine holds its informer: a read of another kind is an
// error, not a silent cluster-wide informer. Its objects share strings through strs.
func newOwnedCache(mgr manager.Manager, strs *intern.Table) (cache.Cache, error) {
	partOf, err := labels.NewRequirement(metadata.ApplySetPartOfLabel, selection.Exists, nil)
	if err != nil {
		return nil, err
	}
	c, err := cache.New(mgr.GetConfig(), cache.Options{
		HTTPClient:                  mgr.GetHTTPClient(),
		Scheme:                      mgr.GetScheme(),
		Mapper:                      mgr.GetRESTMapper(),
		DefaultLabelSelector:        labels.NewSelector().Add(*partOf),
		DefaultTransform:            strs.Transform(),
		ReaderFailOnMissingInformer: true,
	})
	if err != nil {
		return nil, fmt.Errorf("cache of owned objects: %w", err)
	}
	if err := mgr.Add(ownedCache{c}); err != nil {
		return nil, err
	}
	return c, nil
}

// ownedCache runs a cache as one of the manager's caches: started first, waited for until
// synced, stopped last.
type ownedCache struct{ cache.Cache }

// GetCache makes the manager treat the runnable as a cache.
func (c ownedCache) GetCache() cache.Cache { return c.Cache }
