package schema

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"golang.org/x/sync/singleflight"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apiserver/pkg/cel/openapi/resolver"
	"k8s.io/client-go/discovery"
	"k8s.io/kube-openapi/pkg/validation/spec"
	"k8s.io/utils/lru"
)

// Resolver returns the OpenAPI schema of a kind, with every $ref resolved. It returns when
// ctx ends, at the latest.
type Resolver interface {
	ResolveSchema(ctx context.Context, gvk schema.GroupVersionKind) (*spec.Schema, error)
}

// ErrSchemaNotFound means the API server serves no schema for the kind (yet).
var ErrSchemaNotFound = resolver.ErrSchemaNotFound

// NewDiscoveryResolver resolves schemas from the API server's /openapi/v3 documents. The
// discovery client's requests take no context: give d a REST config with a Timeout so that
// each request is bounded; ctx is checked before the request.
func NewDiscoveryResolver(d discovery.DiscoveryInterface) Resolver {
	return discoveryResolver{r: &resolver.ClientDiscoveryResolver{Discovery: d}}
}

type discoveryResolver struct {
	r *resolver.ClientDiscoveryResolver
}

func (d discoveryResolver) ResolveSchema(ctx context.Context, gvk schema.GroupVersionKind) (*spec.Schema, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return d.r.ResolveSchema(gvk)
}

// CacheOptions bound a CachedResolver.
type CacheOptions struct {
	// Size is the number of kinds kept. Default 64: schemas are only read while building RGDs,
	// and a very large CRD schema can take megabytes once decoded (see
	// BenchmarkCachedResolverManyCRDs).
	Size int
	// TTL is how long a schema is trusted without an invalidation. Default 10 minutes.
	TTL time.Duration
	// Now returns the current time. Default time.Now.
	Now func() time.Time
}

// CachedResolver caches the schemas of another Resolver in a bounded LRU with a TTL and
// collapses concurrent lookups of the same kind into one request. Invalidate drops the kinds
// of a group so that CRD changes are seen at once.
type CachedResolver struct {
	next  Resolver
	opts  CacheOptions
	cache *lru.Cache // GroupVersionKind -> entry; internally locked
	calls singleflight.Group
	// mu serialises invalidation against stores so a lookup that started before an
	// invalidation cannot put its stale result back.
	mu         sync.Mutex
	generation map[string]uint64 // group -> invalidation count
}

type entry struct {
	schema  *spec.Schema
	expires time.Time
	// generation of the group when resolved; an invalidation makes the entry stale.
	generation uint64
}

// NewCachedResolver returns a CachedResolver in front of next.
func NewCachedResolver(next Resolver, opts CacheOptions) *CachedResolver {
	if opts.Size <= 0 {
		opts.Size = 64
	}
	if opts.TTL <= 0 {
		opts.TTL = 10 * time.Minute
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	return &CachedResolver{next: next, opts: opts, cache: lru.New(opts.Size), generation: map[string]uint64{}}
}

// ResolveSchema returns the cached schema of gvk or resolves it. A caller whose ctx ends
// stops waiting; the lookup it started goes on for the other callers and the cache, and is
// bounded by the next resolver.
func (c *CachedResolver) ResolveSchema(ctx context.Context, gvk schema.GroupVersionKind) (*spec.Schema, error) {
	c.mu.Lock()
	gen := c.generation[gvk.Group]
	c.mu.Unlock()
	if v, ok := c.cache.Get(gvk); ok {
		if e := v.(entry); e.generation == gen && c.opts.Now().Before(e.expires) {
			return e.schema, nil
		}
	}
	// The shared lookup must not end with the first caller's context.
	lookupCtx := context.WithoutCancel(ctx)
	ch := c.calls.DoChan(fmt.Sprintf("%s#%d", gvk, gen), func() (any, error) {
		s, err := c.next.ResolveSchema(lookupCtx, gvk)
		if err != nil {
			return nil, err
		}
		c.mu.Lock()
		defer c.mu.Unlock()
		if c.generation[gvk.Group] == gen {
			c.cache.Add(gvk, entry{schema: s, expires: c.opts.Now().Add(c.opts.TTL), generation: gen})
		}
		return s, nil
	})
	var res singleflight.Result
	select {
	case res = <-ch:
	case <-ctx.Done():
		return nil, fmt.Errorf("resolving OpenAPI schema of %s: %w", gvk, ctx.Err())
	}
	v, err := res.Val, res.Err
	if err != nil {
		if errors.Is(err, ErrSchemaNotFound) {
			return nil, fmt.Errorf("no OpenAPI schema for %s: %w", gvk, err)
		}
		return nil, fmt.Errorf("resolving OpenAPI schema of %s: %w", gvk, err)
	}
	return v.(*spec.Schema), nil
}

// Invalidate makes every cached kind of group stale; the LRU evicts the entries in time.
func (c *CachedResolver) Invalidate(group string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.generation[group]++
}

// Len is the number of cached kinds.
func (c *CachedResolver) Len() int { return c.cache.Len() }
