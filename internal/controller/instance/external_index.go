package instance

import (
	"sync"

	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
)

// externalRef is what one instance reads of a kind it does not own: one object by name, or
// the objects a selector matches (namespace "" = all namespaces).
type externalRef struct {
	gvk       schema.GroupVersionKind
	namespace string
	name      string
	selector  labels.Selector
}

func (r externalRef) matches(gvk schema.GroupVersionKind, obj client.Object) bool {
	if r.gvk != gvk || r.namespace != "" && r.namespace != obj.GetNamespace() {
		return false
	}
	if r.selector != nil {
		return r.selector.Matches(labels.Set(obj.GetLabels()))
	}
	return r.name == obj.GetName()
}

// externalIndex routes events of referenced objects to the instances that read them, so a
// change re-reconciles exactly those instances.
type externalIndex struct {
	// mu guards refs.
	mu   sync.RWMutex
	refs map[types.NamespacedName][]externalRef
}

// add records a reference before it is read, so no event between the read and the end of the
// pass is missed.
func (x *externalIndex) add(inst types.NamespacedName, ref externalRef) {
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.refs == nil {
		x.refs = map[types.NamespacedName][]externalRef{}
	}
	x.refs[inst] = append(x.refs[inst], ref)
}

// set replaces an instance's references with those of its latest pass.
func (x *externalIndex) set(inst types.NamespacedName, refs []externalRef) {
	x.mu.Lock()
	defer x.mu.Unlock()
	if len(refs) == 0 {
		delete(x.refs, inst)
		return
	}
	if x.refs == nil {
		x.refs = map[types.NamespacedName][]externalRef{}
	}
	x.refs[inst] = refs
}

// requests lists the instances that read obj.
func (x *externalIndex) requests(gvk schema.GroupVersionKind, obj client.Object) []reconcile.Request {
	x.mu.RLock()
	defer x.mu.RUnlock()
	var out []reconcile.Request
	for inst, refs := range x.refs {
		for _, ref := range refs {
			if ref.matches(gvk, obj) {
				out = append(out, reconcile.Request{NamespacedName: inst})
				break
			}
		}
	}
	return out
}
