package instance

import (
	"maps"
	"sync"

	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
)

// takenObjects records, per ApplySet, the objects kro created or adopted that the cache has
// not shown as part of the ApplySet yet. The watch of an instance can be ahead of the watch of
// its children's kind: without this record, an instance deleted right after a pass created an
// object would lose its finalizer before the cache shows the object, and orphan it. The record
// only ever adds objects to what the cache shows; it never hides one.
//
// A record ends when an event shows the object, by its UID, in the ApplySet or gone (observed),
// or when listOwned finds it in the cache or not on the API server. The record is made before
// the write, as the event can come before the write's answer; an event of an older object of
// the same name (deleted and taken again) does not end it.
type takenObjects struct {
	// mu guards bySet.
	mu    sync.Mutex
	bySet map[string]map[objectKey]takenObject
}

type takenObject struct {
	gvk schema.GroupVersionKind
	// uid is the object's, once the write answered.
	uid types.UID
	// seen is the UID an event showed while the write had not answered yet.
	seen types.UID
}

// begin records the object kro is about to create or adopt.
func (t *takenObjects) begin(setID string, key objectKey, gvk schema.GroupVersionKind) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.bySet == nil {
		t.bySet = map[string]map[objectKey]takenObject{}
	}
	if t.bySet[setID] == nil {
		t.bySet[setID] = map[objectKey]takenObject{}
	}
	t.bySet[setID][key] = takenObject{gvk: gvk}
}

// answered records the UID the write that took the object answered with.
func (t *takenObjects) answered(setID string, key objectKey, uid types.UID) {
	t.mu.Lock()
	defer t.mu.Unlock()
	o, ok := t.bySet[setID][key]
	if !ok {
		return
	}
	if uid != "" && o.seen == uid {
		t.forgetLocked(setID, key)
		return
	}
	o.uid = uid
	t.bySet[setID][key] = o
}

// observed ends the record of the object an event showed in the ApplySet, or gone.
func (t *takenObjects) observed(setID string, key objectKey, uid types.UID) {
	t.mu.Lock()
	defer t.mu.Unlock()
	o, ok := t.bySet[setID][key]
	switch {
	case !ok || uid == "":
	case o.uid == uid:
		t.forgetLocked(setID, key)
	case o.uid == "":
		o.seen = uid
		t.bySet[setID][key] = o
	}
}

// unconfirmed returns a copy of the objects of setID not confirmed yet.
func (t *takenObjects) unconfirmed(setID string) map[objectKey]takenObject {
	t.mu.Lock()
	defer t.mu.Unlock()
	return maps.Clone(t.bySet[setID])
}

func (t *takenObjects) forget(setID string, key objectKey) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.forgetLocked(setID, key)
}

func (t *takenObjects) forgetLocked(setID string, key objectKey) {
	delete(t.bySet[setID], key)
	if len(t.bySet[setID]) == 0 {
		delete(t.bySet, setID)
	}
}
