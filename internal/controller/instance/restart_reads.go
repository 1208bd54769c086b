package instance

import (
	"context"
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// restartReads serves the full objects of metadata-only kinds (graph.MetadataOnly) that kro
// compares after it starts. It then knows no resourceVersion it left, so every such object
// would cost a GET; instead, the first object of a kind needed in the reconciler's first
// restartListWindow reads all the graph's objects of that kind in one paginated LIST. A listed
// object is handed out once, and only at the resourceVersion it was listed at (else the caller
// reads it alone); what is not used within listedObjectsTTL is dropped. Only what the metadata
// cache does not hold is kept: the objects without their metadata.
type restartReads struct {
	reader   client.Reader
	selector client.MatchingLabels
	now      func() time.Time
	start    time.Time
	// window is how long after start a kind is listed; ttl how long listed objects are kept.
	window, ttl time.Duration
	pageSize    int64

	mu    sync.Mutex
	kinds map[schema.GroupVersionKind]*listedKind
	// listing makes the kinds' lists one at a time: each page decoded is garbage soon after,
	// and lists of several kinds at once raise kro's peak memory.
	listing sync.Mutex
}

// listedKind is one LIST of a kind: done is closed when objs is filled (or err set), at
// listedAt.
type listedKind struct {
	done     chan struct{}
	err      error
	listedAt time.Time
	objs     map[client.ObjectKey]listedObject // guarded by restartReads.mu
}

// listedObject is a listed object's content without its metadata, and its resourceVersion.
type listedObject struct {
	resourceVersion string
	content         map[string]any
}

const (
	restartListWindow = time.Minute
	listedObjectsTTL  = 5 * time.Minute
	restartListPage   = 100
	// restartListTimeout bounds the list of one kind (the kinds are listed one at a time).
	restartListTimeout = 2 * time.Minute
)

func newRestartReads(reader client.Reader, selector client.MatchingLabels) *restartReads {
	return &restartReads{
		reader: reader, selector: selector, now: time.Now, start: time.Now(),
		window: restartListWindow, ttl: listedObjectsTTL, pageSize: restartListPage,
		kinds: map[schema.GroupVersionKind]*listedKind{},
	}
}

// get returns the content (all but metadata) of the listed object of gvk at key if its
// resourceVersion is rv; the caller owns it. ok is false when the caller must read the object
// itself: too late to list, the list failed, or the object was not listed, already handed out
// or listed at another resourceVersion.
func (s *restartReads) get(ctx context.Context, gvk schema.GroupVersionKind, key client.ObjectKey, rv string) (content map[string]any, ok bool) {
	if s == nil || s.reader == nil {
		return nil, false
	}
	s.mu.Lock()
	lk, listed := s.kinds[gvk]
	if !listed {
		if s.now().Sub(s.start) > s.window {
			s.mu.Unlock()
			return nil, false
		}
		lk = &listedKind{done: make(chan struct{})}
		s.kinds[gvk] = lk
		s.mu.Unlock()
		// The list serves every reconcile that needs the kind: it does not end with the
		// context of the one that started it.
		go s.fill(context.WithoutCancel(ctx), gvk, lk)
	} else {
		s.mu.Unlock()
	}
	select {
	case <-lk.done:
	case <-ctx.Done():
		return nil, false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if lk.err != nil {
		return nil, false
	}
	if s.now().Sub(lk.listedAt) > s.ttl {
		lk.objs = nil
		return nil, false
	}
	obj, listed := lk.objs[key]
	delete(lk.objs, key)
	if !listed || obj.resourceVersion != rv {
		return nil, false
	}
	return obj.content, true
}

// fill lists the objects of gvk into lk, within restartListTimeout once its turn came.
func (s *restartReads) fill(ctx context.Context, gvk schema.GroupVersionKind, lk *listedKind) {
	s.listing.Lock()
	ctx, cancel := context.WithTimeout(ctx, restartListTimeout)
	objs, err := s.list(ctx, gvk)
	cancel()
	s.listing.Unlock()
	s.mu.Lock()
	lk.objs, lk.err, lk.listedAt = objs, err, s.now()
	s.mu.Unlock()
	close(lk.done)
	if err == nil {
		// Frees what no reconcile asked for; get refuses it after the TTL anyway.
		time.AfterFunc(s.ttl, func() {
			s.mu.Lock()
			lk.objs = nil
			s.mu.Unlock()
		})
	}
}

// list reads every object of gvk with the selector's labels, page by page.
func (s *restartReads) list(ctx context.Context, gvk schema.GroupVersionKind) (map[client.ObjectKey]listedObject, error) {
	objs := map[client.ObjectKey]listedObject{}
	for cont := ""; ; {
		page := &unstructured.UnstructuredList{}
		page.SetGroupVersionKind(gvk.GroupVersion().WithKind(gvk.Kind + "List"))
		if err := s.reader.List(ctx, page, s.selector, client.Limit(s.pageSize), client.Continue(cont)); err != nil {
			return nil, err
		}
		for i := range page.Items {
			obj := &page.Items[i]
			key, rv := client.ObjectKeyFromObject(obj), obj.GetResourceVersion()
			delete(obj.Object, "metadata")
			objs[key] = listedObject{resourceVersion: rv, content: obj.Object}
		}
		if cont = page.GetContinue(); cont == "" {
			return objs, nil
		}
	}
}
