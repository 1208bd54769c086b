package intern

import (
	"sync"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
	toolscache "k8s.io/client-go/tools/cache"
)

// Options configure a Table.
type Options struct {
	// MaxEntries bounds the table: when it holds that many strings it starts over, so strings
	// of objects long gone are not kept for ever (those already shared stay shared). Default
	// 65536.
	MaxEntries int
	// MaxLength is the longest string interned; longer ones (certificates, scripts, payloads)
	// are rarely shared. Default 128.
	MaxLength int
}

// Table interns strings. It is safe for concurrent use.
type Table struct {
	opts Options
	// mu guards strs.
	mu sync.Mutex
	// strs maps a string to itself held in an interface, so that the values of the objects
	// that hold it share the interface's data too, not only the bytes.
	strs map[string]any
	// labels maps the canonical form of a metadata object's labels (labelsKey) to the one map
	// the objects with those labels share.
	labels map[string]map[string]string
}

// New returns an empty Table.
func New(opts Options) *Table {
	if opts.MaxEntries <= 0 {
		opts.MaxEntries = 1 << 16
	}
	if opts.MaxLength <= 0 {
		opts.MaxLength = 128
	}
	return &Table{opts: opts, strs: make(map[string]any), labels: make(map[string]map[string]string)}
}

// uniqueMetadata are the metadata fields whose values belong to one object: interning them
// would only fill the table.
var uniqueMetadata = map[string]bool{
	"name": true, "generateName": true, "uid": true, "resourceVersion": true, "creationTimestamp": true,
	"deletionTimestamp": true, "selfLink": true,
}

// Object interns, in place, the keys of every map of an unstructured object's content and its
// string values, except the metadata fields that identify one object and long strings. The
// content is unchanged.
func (t *Table) Object(obj map[string]any) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if len(t.strs) >= t.opts.MaxEntries {
		t.strs = make(map[string]any)
	}
	t.object(obj, false)
}

// object interns m; meta is set for an object's metadata. t.mu must be held.
func (t *Table) object(m map[string]any, meta bool) {
	for k, v := range m {
		// Assigning to an existing key replaces the map's copy of the key with the argument
		// (Go maps do so for string keys), so the key is interned without a new map.
		switch val := v.(type) {
		case map[string]any:
			t.object(val, k == "metadata" && !meta)
			m[t.key(k)] = val
		case []any:
			t.list(val)
			m[t.key(k)] = val
		case string:
			if meta && uniqueMetadata[k] {
				m[t.key(k)] = v
			} else {
				m[t.key(k)] = t.value(val, v)
			}
		default:
			m[t.key(k)] = v
		}
	}
}

// Metadata interns, in place, the namespace and the keys and values of the labels and
// annotations of a typed object's metadata. Objects with equal small sets of labels (up to
// MaxLength bytes) share one labels map: the objects of a kind often carry the same few labels,
// and a map costs far more than its strings. (Cached objects are never modified, so sharing is
// safe.)
func (t *Table) Metadata(m *metav1.ObjectMeta) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if len(t.strs) >= t.opts.MaxEntries {
		t.strs = make(map[string]any)
	}
	if len(t.labels) >= t.opts.MaxEntries/16 {
		t.labels = make(map[string]map[string]string)
	}
	m.Namespace = t.key(m.Namespace)
	for _, strs := range []map[string]string{m.Labels, m.Annotations} {
		for k, v := range strs {
			strs[t.key(k)] = t.key(v)
		}
	}
	if key, ok := labelsKey(m.Labels, t.opts.MaxLength); ok {
		if shared, ok := t.labels[key]; ok {
			m.Labels = shared
		} else {
			t.labels[key] = m.Labels
		}
	}
}

// labelsKey is the canonical form of a set of labels (labels.Set's "k=v,..." in key order;
// valid label keys and values hold neither '=' nor ','). ok is false for no labels, or when the
// form would be longer than limit.
func labelsKey(l map[string]string, limit int) (key string, ok bool) {
	n := 0
	for k, v := range l {
		n += len(k) + len(v) + 2
	}
	if n == 0 || n > limit {
		return "", false
	}
	return labels.Set(l).String(), true
}

func (t *Table) list(l []any) {
	for i, e := range l {
		switch val := e.(type) {
		case map[string]any:
			t.object(val, false)
		case []any:
			t.list(val)
		case string:
			l[i] = t.value(val, e)
		}
	}
}

// key returns the interned copy of a map key.
func (t *Table) key(s string) string {
	if v, ok := t.strs[s]; ok {
		return v.(string)
	}
	if len(s) > t.opts.MaxLength {
		return s
	}
	t.strs[s] = s
	return s
}

// value returns the interned interface holding s; boxed is s in an interface already.
func (t *Table) value(s string, boxed any) any {
	if v, ok := t.strs[s]; ok {
		return v
	}
	if len(s) > t.opts.MaxLength {
		return boxed
	}
	t.strs[s] = boxed
	return boxed
}

// Len is the number of strings in the table.
func (t *Table) Len() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.strs)
}

// Transform is the transform of kro's informer caches: managedFields and the copy of the
// object kubectl apply leaves in an annotation are dropped (kro never reads them; they are
// often the largest part of an object), and the rest is interned.
//
// An Unstructured's managed fields are deleted from its map: asking it for them first (as
// controller-runtime's TransformStripManagedFields does) would convert every entry to a typed
// one only to drop it.
func (t *Table) Transform() toolscache.TransformFunc {
	return func(in any) (any, error) {
		switch o := in.(type) {
		case *unstructured.Unstructured:
			if meta, ok := o.Object["metadata"].(map[string]any); ok {
				delete(meta, "managedFields")
				if annotations, ok := meta["annotations"].(map[string]any); ok {
					delete(annotations, corev1.LastAppliedConfigAnnotation)
				}
			}
			t.Object(o.Object)
		case *metav1.PartialObjectMetadata:
			o.ManagedFields = nil
			delete(o.Annotations, corev1.LastAppliedConfigAnnotation)
			t.Metadata(&o.ObjectMeta)
		case metav1.Object:
			// Typed objects (RGDs, GraphRevisions, CRDs): their annotations map is their own.
			o.SetManagedFields(nil)
			delete(o.GetAnnotations(), corev1.LastAppliedConfigAnnotation)
		}
		return in, nil
	}
}
