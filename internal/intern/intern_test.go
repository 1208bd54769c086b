package intern

import (
	"maps"
	"reflect"
	"strings"
	"sync"
	"testing"
	"unsafe"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
)

// decode builds an object from JSON as the informers do: every string its own copy.
func decode(t *testing.T, js string) map[string]any {
	t.Helper()
	obj, _, err := unstructured.UnstructuredJSONScheme.Decode([]byte(js), nil, nil)
	if err != nil {
		t.Fatalf("decoding %s: %v", js, err)
	}
	return obj.(*unstructured.Unstructured).Object
}

const child = `{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"NAME","namespace":"ns",
"uid":"UID","resourceVersion":"RV","creationTimestamp":"2026-11-30T04:12:46Z",
"labels":{"kro.run/instance-name":"inst","kro.run/owned":"true"},
"managedFields":[{"manager":"kro.run/applyset","operation":"Apply"}]},
"data":{"value":"v","long":"LONG"},"list":["a",{"b":"c"}]}`

func childJSON(name, uid, rv string) string {
	return strings.NewReplacer("NAME", name, "UID", uid, "RV", rv, "LONG", strings.Repeat("x", 200)).Replace(child)
}

// same reports whether two strings share their bytes.
func same(a, b string) bool { return unsafe.StringData(a) == unsafe.StringData(b) }

func mapKey(m map[string]any, k string) string {
	for key := range m {
		if key == k {
			return key
		}
	}
	return ""
}

func TestObjectKeepsContent(t *testing.T) {
	tbl := New(Options{})
	obj := decode(t, childJSON("a", "u1", "1"))
	want := runtime.DeepCopyJSON(obj)
	tbl.Object(obj)
	if diff := cmp.Diff(want, obj); diff != "" {
		t.Errorf("Object(...) changed the content: -want, +got:\n%s", diff)
	}
}

func TestObjectShares(t *testing.T) {
	tbl := New(Options{})
	a, b := decode(t, childJSON("name-a", "u1", "1")), decode(t, childJSON("name-b", "u2", "2"))
	tbl.Object(a)
	tbl.Object(b)
	meta := func(o map[string]any) map[string]any { return o["metadata"].(map[string]any) }
	labels := func(o map[string]any) map[string]any { return meta(o)["labels"].(map[string]any) }
	cases := map[string]struct {
		reason string
		x, y   string
		want   bool
	}{
		"key": {
			reason: "map keys are shared",
			x:      mapKey(labels(a), "kro.run/instance-name"), y: mapKey(labels(b), "kro.run/instance-name"), want: true,
		},
		"value": {
			reason: "string values are shared",
			x:      labels(a)["kro.run/instance-name"].(string), y: labels(b)["kro.run/instance-name"].(string), want: true,
		},
		"list item": {
			reason: "strings in lists are shared",
			x:      a["list"].([]any)[0].(string), y: b["list"].([]any)[0].(string), want: true,
		},
		"timestamp": {
			reason: "creationTimestamp identifies one object: not interned",
			x:      meta(a)["creationTimestamp"].(string), y: meta(b)["creationTimestamp"].(string), want: false,
		},
		"long": {
			reason: "long strings are not interned",
			x:      a["data"].(map[string]any)["long"].(string), y: b["data"].(map[string]any)["long"].(string), want: false,
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			if got := same(tc.x, tc.y); got != tc.want {
				t.Errorf("%s: shared = %t, want %t", tc.reason, got, tc.want)
			}
		})
	}
	for _, k := range []string{"name-a", "name-b", "u1", "u2", "1", "2"} {
		tbl.mu.Lock()
		_, in := tbl.strs[k]
		tbl.mu.Unlock()
		if in {
			t.Errorf("the table holds %q, a name, uid or resourceVersion of one object", k)
		}
	}
}

func TestMaxEntries(t *testing.T) {
	tbl := New(Options{MaxEntries: 10})
	for i := 0; i < 5; i++ {
		tbl.Object(decode(t, childJSON("a", "u", "1")))
		if n := tbl.Len(); n > 10+20 {
			t.Fatalf("after %d objects the table holds %d strings, want it to start over at 10", i+1, n)
		}
	}
}

func TestTransform(t *testing.T) {
	tbl := New(Options{})
	u := &unstructured.Unstructured{Object: decode(t, childJSON("a", "u1", "1"))}
	out, err := tbl.Transform()(u)
	if err != nil {
		t.Fatalf("Transform: %v", err)
	}
	if got := out.(*unstructured.Unstructured).GetManagedFields(); got != nil {
		t.Errorf("Transform kept managedFields: %v", got)
	}
	if tbl.Len() == 0 {
		t.Errorf("Transform interned nothing")
	}
}

func TestConcurrent(t *testing.T) {
	tbl := New(Options{MaxEntries: 50})
	var wg sync.WaitGroup
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := 0; j < 50; j++ {
				tbl.Object(decode(t, childJSON("a", "u", "1")))
			}
		}()
	}
	wg.Wait()
}

// TestTransformMetadata: the metadata objects of the owned cache drop managedFields, keep their
// labels and annotations, and share their strings with other objects' equal ones.
func TestTransformMetadata(t *testing.T) {
	tbl := New(Options{})
	meta := func(name string) *metav1.PartialObjectMetadata {
		// strings.Clone: every string its own copy, as decoding makes them.
		return &metav1.PartialObjectMetadata{ObjectMeta: metav1.ObjectMeta{
			Name: name, Namespace: strings.Clone("team-a"),
			Labels:        map[string]string{strings.Clone("kro.run/owned"): strings.Clone("true")},
			Annotations:   map[string]string{strings.Clone("internal.kro.run/apply-order"): strings.Clone("1")},
			ManagedFields: []metav1.ManagedFieldsEntry{{Manager: "kro"}},
		}}
	}
	var got []*metav1.PartialObjectMetadata
	for _, name := range []string{"a", "b"} {
		out, err := tbl.Transform()(meta(name))
		if err != nil {
			t.Fatalf("Transform: %v", err)
		}
		got = append(got, out.(*metav1.PartialObjectMetadata))
	}
	want := meta("a")
	want.ManagedFields = nil
	if diff := cmp.Diff(want, got[0]); diff != "" {
		t.Errorf("Transform changed the metadata (-want +got):\n%s", diff)
	}
	if unsafe.StringData(got[0].Namespace) != unsafe.StringData(got[1].Namespace) ||
		unsafe.StringData(got[0].Labels["kro.run/owned"]) != unsafe.StringData(got[1].Labels["kro.run/owned"]) ||
		unsafe.StringData(got[0].Annotations["internal.kro.run/apply-order"]) != unsafe.StringData(got[1].Annotations["internal.kro.run/apply-order"]) {
		t.Errorf("equal namespace, label and annotation values of two objects are not shared")
	}
}

// TestTransformSharesLabelMaps: metadata objects with equal labels share one labels map (a
// cluster's unrelated objects often all carry the same few labels); different labels do not.
func TestTransformSharesLabelMaps(t *testing.T) {
	tbl := New(Options{})
	meta := func(name string, labels map[string]string) *metav1.PartialObjectMetadata {
		return &metav1.PartialObjectMetadata{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "ns", Labels: labels}}
	}
	transform := func(m *metav1.PartialObjectMetadata) *metav1.PartialObjectMetadata {
		out, err := tbl.Transform()(m)
		if err != nil {
			t.Fatalf("Transform: %v", err)
		}
		return out.(*metav1.PartialObjectMetadata)
	}
	a := transform(meta("a", map[string]string{"app": "web", "tier": "front"}))
	b := transform(meta("b", map[string]string{"tier": "front", "app": "web"}))
	c := transform(meta("c", map[string]string{"app": "web"}))
	if reflect.ValueOf(a.Labels).UnsafePointer() != reflect.ValueOf(b.Labels).UnsafePointer() {
		t.Error("equal labels of two objects are two maps")
	}
	if reflect.ValueOf(a.Labels).UnsafePointer() == reflect.ValueOf(c.Labels).UnsafePointer() {
		t.Error("different labels share a map")
	}
	if diff := cmp.Diff(map[string]string{"app": "web", "tier": "front"}, b.Labels); diff != "" {
		t.Errorf("labels changed (-want +got):\n%s", diff)
	}
	if d := transform(meta("d", nil)); d.Labels != nil {
		t.Errorf("no labels became %v", d.Labels)
	}
	// Large sets of labels (kro's on its children, unique per object) are left alone.
	large := map[string]string{"kro.run/instance-id": strings.Repeat("u", 100), "kro.run/node-id": "config"}
	e, f := transform(meta("e", large)), transform(meta("f", maps.Clone(large)))
	if reflect.ValueOf(e.Labels).UnsafePointer() == reflect.ValueOf(f.Labels).UnsafePointer() {
		t.Error("a large set of labels was shared")
	}
	// An object without metadata passes.
	if _, err := tbl.Transform()(&unstructured.Unstructured{Object: map[string]any{"kind": "X"}}); err != nil {
		t.Errorf("Transform of an object without metadata: %v", err)
	}
}

// TestTransformDropsWhatKroNeverReads: managed fields and the copy of an object kubectl apply
// leaves in an annotation are dropped from cached objects, whole, metadata-only and typed; other
// annotations stay.
func TestTransformDropsWhatKroNeverReads(t *testing.T) {
	const lastApplied = "kubectl.kubernetes.io/last-applied-configuration"
	annotations := func() map[string]string { return map[string]string{lastApplied: "{}", "team": "x"} }
	managed := func() []metav1.ManagedFieldsEntry {
		return []metav1.ManagedFieldsEntry{{Manager: "kro", Operation: "Apply", FieldsType: "FieldsV1",
			FieldsV1: &metav1.FieldsV1{Raw: []byte(`{"f:data":{}}`)}}}
	}
	tbl := New(Options{})
	for name, obj := range map[string]metav1.Object{
		"whole": &unstructured.Unstructured{Object: map[string]any{
			"apiVersion": "v1", "kind": "ConfigMap",
			"metadata": map[string]any{"name": "a", "annotations": map[string]any{lastApplied: `{"data":{}}`, "team": "x"},
				"managedFields": []any{map[string]any{"manager": "kro", "operation": "Apply", "fieldsType": "FieldsV1",
					"fieldsV1": map[string]any{"f:data": map[string]any{}}}}},
		}},
		"metadata-only": &metav1.PartialObjectMetadata{ObjectMeta: metav1.ObjectMeta{Name: "a", Annotations: annotations(), ManagedFields: managed()}},
		"typed":         &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "a", Annotations: annotations(), ManagedFields: managed()}},
	} {
		out, err := tbl.Transform()(obj)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(map[string]string{"team": "x"}, out.(metav1.Object).GetAnnotations()); diff != "" {
			t.Errorf("%s object's annotations (-want +got):\n%s", name, diff)
		}
		if got := out.(metav1.Object).GetManagedFields(); got != nil {
			t.Errorf("%s object kept its managed fields: %v", name, got)
		}
	}
}

// BenchmarkTransform: an informer event of a whole object with managed fields through the
// cache's transform (the object is reused: its managed fields are put back each time).
func BenchmarkTransform(b *testing.B) {
	tbl := New(Options{})
	obj := &unstructured.Unstructured{}
	if err := obj.UnmarshalJSON([]byte(childJSON("a", "u1", "1"))); err != nil {
		b.Fatal(err)
	}
	meta := obj.Object["metadata"].(map[string]any)
	// As kro's apply leaves them.
	managed := []any{map[string]any{"manager": "kro.run/applyset", "operation": "Apply", "apiVersion": "v1",
		"time": "2026-11-30T04:12:46Z", "fieldsType": "FieldsV1", "fieldsV1": map[string]any{
			"f:data":     map[string]any{"f:long": map[string]any{}, "f:value": map[string]any{}},
			"f:metadata": map[string]any{"f:labels": map[string]any{"f:kro.run/instance-name": map[string]any{}, "f:kro.run/owned": map[string]any{}}},
		}}}
	transform := tbl.Transform()
	b.ReportAllocs()
	for b.Loop() {
		meta["managedFields"] = managed
		if _, err := transform(obj); err != nil {
			b.Fatal(err)
		}
	}
}
