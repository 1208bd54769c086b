package instance

import (
	"sync"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// inflightWrites holds, per object, kro's write whose answer has not been read yet. The watch
// can deliver the write's own event before the answer that tells its resourceVersion, and
// without this record that early echo would look like someone else's change and reconcile the
// instance again, for nothing (at 10,000 instances created at once, almost one extra reconcile
// per instance). An event of an object being written is held back; when the answer comes, an
// event held back at another resourceVersion than the write's means someone else wrote the
// object around the same time, and the instance is reconciled again. Events of deletions are
// never held back.
type inflightWrites struct {
	m sync.Map // objectKey → *inflightWrite
}

// inflightWrite is one write and the resourceVersions of the events held back during it.
type inflightWrite struct {
	key  objectKey
	mu   sync.Mutex
	done bool
	held []string
}

// begin records a write of the object of key.
func (w *inflightWrites) begin(key objectKey) *inflightWrite {
	write := &inflightWrite{key: key}
	w.m.Store(key, write)
	return write
}

// hold reports whether an event of the object of key, at resourceVersion rv, is held back
// because kro is writing the object.
func (w *inflightWrites) hold(key objectKey, rv string) bool {
	v, ok := w.m.Load(key)
	if !ok {
		return false
	}
	write := v.(*inflightWrite)
	write.mu.Lock()
	defer write.mu.Unlock()
	if write.done {
		return false
	}
	write.held = append(write.held, rv)
	return true
}

// end records the answer to the write: rv is the resourceVersion it left ("" when it failed).
// It reports whether an event held back during the write was not the write's own.
func (w *inflightWrites) end(write *inflightWrite, rv string) bool {
	write.mu.Lock()
	write.done = true
	held := write.held
	write.mu.Unlock()
	w.m.CompareAndDelete(write.key, write)
	for _, h := range held {
		if rv == "" || h != rv {
			return true
		}
	}
	return false
}

// resourceVersionOf is the resourceVersion a write left, or "" when it failed.
func resourceVersionOf(obj *unstructured.Unstructured, err error) string {
	if err != nil || obj == nil {
		return ""
	}
	return obj.GetResourceVersion()
}
