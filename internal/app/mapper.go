package app

import (
	"sync"

	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// servedMapper is the manager's REST mapper. controller-runtime's mapper keeps the mapping of
// a kind whose CRD was deleted, so a cache read of that kind would start an informer that
// fails to list forever. servedMapper reports such kinds as not found, from the CRD's deletion
// until a CRD serves the kind again, so reads and informer starts fail fast instead.
type servedMapper struct {
	meta.RESTMapper
	// mu guards gone.
	mu sync.RWMutex
	// gone holds the kinds and resources of deleted CRDs.
	gone map[schema.GroupKind]schema.GroupResource
}

func newServedMapper(m meta.RESTMapper) *servedMapper {
	return &servedMapper{RESTMapper: m, gone: map[schema.GroupKind]schema.GroupResource{}}
}

// setServed records whether a CRD of gk (resource gr) exists.
func (m *servedMapper) setServed(gk schema.GroupKind, gr schema.GroupResource, served bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if served {
		delete(m.gone, gk)
	} else {
		m.gone[gk] = gr
	}
}

func (m *servedMapper) kindGone(gk schema.GroupKind) bool {
	m.mu.RLock()
	defer m.mu.RUnlock()
	_, ok := m.gone[gk]
	return ok
}

func (m *servedMapper) resourceGone(gvr schema.GroupVersionResource) bool {
	m.mu.RLock()
	defer m.mu.RUnlock()
	for _, gr := range m.gone {
		if gr == gvr.GroupResource() {
			return true
		}
	}
	return false
}

// RESTMapping implements meta.RESTMapper.
func (m *servedMapper) RESTMapping(gk schema.GroupKind, versions ...string) (*meta.RESTMapping, error) {
	if m.kindGone(gk) {
		return nil, &meta.NoKindMatchError{GroupKind: gk, SearchedVersions: versions}
	}
	return m.RESTMapper.RESTMapping(gk, versions...)
}

// RESTMappings implements meta.RESTMapper.
func (m *servedMapper) RESTMappings(gk schema.GroupKind, versions ...string) ([]*meta.RESTMapping, error) {
	if m.kindGone(gk) {
		return nil, &meta.NoKindMatchError{GroupKind: gk, SearchedVersions: versions}
	}
	return m.RESTMapper.RESTMappings(gk, versions...)
}

// KindFor implements meta.RESTMapper.
func (m *servedMapper) KindFor(gvr schema.GroupVersionResource) (schema.GroupVersionKind, error) {
	if m.resourceGone(gvr) {
		return schema.GroupVersionKind{}, &meta.NoResourceMatchError{PartialResource: gvr}
	}
	return m.RESTMapper.KindFor(gvr)
}

// KindsFor implements meta.RESTMapper.
func (m *servedMapper) KindsFor(gvr schema.GroupVersionResource) ([]schema.GroupVersionKind, error) {
	if m.resourceGone(gvr) {
		return nil, &meta.NoResourceMatchError{PartialResource: gvr}
	}
	return m.RESTMapper.KindsFor(gvr)
}

// ResourceFor implements meta.RESTMapper.
func (m *servedMapper) ResourceFor(gvr schema.GroupVersionResource) (schema.GroupVersionResource, error) {
	if m.resourceGone(gvr) {
		return schema.GroupVersionResource{}, &meta.NoResourceMatchError{PartialResource: gvr}
	}
	return m.RESTMapper.ResourceFor(gvr)
}

// ResourcesFor implements meta.RESTMapper.
func (m *servedMapper) ResourcesFor(gvr schema.GroupVersionResource) ([]schema.GroupVersionResource, error) {
	if m.resourceGone(gvr) {
		return nil, &meta.NoResourceMatchError{PartialResource: gvr}
	}
	return m.RESTMapper.ResourcesFor(gvr)
}
