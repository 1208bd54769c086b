package instance

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	"github.com/kro-run/kro/internal/graph"
)

// TestDeleteObjectReportsGone: a DELETE answered with the object as deleted, or a Success
// status, means the object is gone; the object marked for deletion means its deletion is
// pending. Each request carries the UID precondition and background propagation, on the
// object's own path.
func TestDeleteObjectReportsGone(t *testing.T) {
	pending := &metav1.PartialObjectMetadata{ObjectMeta: metav1.ObjectMeta{Name: "a", Finalizers: []string{"x"},
		DeletionTimestamp: &metav1.Time{Time: time.Date(2026, 11, 30, 0, 0, 0, 0, time.UTC)}}}
	cases := map[string]struct {
		answer   string
		wantGone bool
	}{
		"Deleted":           {`{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"a"}}`, true},
		"DeletedWithStatus": {`{"apiVersion":"v1","kind":"Service","metadata":{"name":"a"},"status":{"loadBalancer":{}}}`, true},
		"SuccessStatus":     {`{"apiVersion":"v1","kind":"Status","status":"Success"}`, true},
		"Pending":           {`{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"a","deletionTimestamp":"2026-11-30T00:00:00Z","finalizers":["x"]}}`, false},
		"FailureStatus":     {`{"apiVersion":"v1","kind":"Status","status":"Failure"}`, false},
		// What the API server answers to the Accept header kro sends: metadata or a Status, in
		// protobuf.
		"DeletedMetadataProtobuf": {protobufAnswer(t, &metav1.PartialObjectMetadata{ObjectMeta: metav1.ObjectMeta{Name: "a"}}), true},
		"SuccessStatusProtobuf":   {protobufAnswer(t, &metav1.Status{Status: metav1.StatusSuccess}), true},
		"PendingProtobuf":         {protobufAnswer(t, pending), false},
		"FailureStatusProtobuf":   {protobufAnswer(t, &metav1.Status{Status: metav1.StatusFailure}), false},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			var path, accept string
			var opts metav1.DeleteOptions
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
				path = req.Method + " " + req.URL.Path
				accept = req.Header.Get("Accept")
				body, _ := io.ReadAll(req.Body)
				_ = json.Unmarshal(body, &opts)
				w.Header().Set("Content-Type", contentTypeOf(tc.answer))
				_, _ = w.Write([]byte(tc.answer))
			}))
			defer srv.Close()
			rc := NewRESTClients(&rest.Config{Host: srv.URL})
			mapper := meta.NewDefaultRESTMapper(nil)
			mapper.Add(schema.GroupVersionKind{Version: "v1", Kind: "ConfigMap"}, meta.RESTScopeNamespace)
			r := New(&graph.Graph{}, Options{Client: fake.NewClientBuilder().WithRESTMapper(mapper).Build(), REST: rc})

			gone, err := r.deleteObject(context.Background(), ownedObject("a", "n", "set", false))
			if err != nil {
				t.Fatal(err)
			}
			if gone != tc.wantGone {
				t.Errorf("gone = %v, want %v", gone, tc.wantGone)
			}
			if want := "DELETE /api/v1/namespaces/ns/configmaps/a"; path != want {
				t.Errorf("request %q, want %q", path, want)
			}
			if accept != metadataAnswer {
				t.Errorf("Accept %q, want %q", accept, metadataAnswer)
			}
			if opts.Preconditions == nil || opts.Preconditions.UID == nil || *opts.Preconditions.UID != "uid-a" {
				t.Errorf("preconditions %+v, want the object's UID", opts.Preconditions)
			}
			if opts.PropagationPolicy == nil || *opts.PropagationPolicy != metav1.DeletePropagationBackground {
				t.Errorf("propagation %v, want Background", opts.PropagationPolicy)
			}
			if r.gone.has("uid-a") != tc.wantGone {
				t.Errorf("remembered as gone: %v, want %v", r.gone.has("uid-a"), tc.wantGone)
			}
		})
	}
}

// TestEcho: only an object exactly as kro's own write left it, or an object kro deleted, is an
// echo; any other state of it (someone's change, someone's delete) is news.
func TestEcho(t *testing.T) {
	r := New(&graph.Graph{}, Options{})
	obj := ownedObject("a", "n", "set", false)
	obj.SetResourceVersion("10")
	r.appliedVersions.Store(keyOf(obj), appliedVersion{rv: "10"})
	r.gone.add("uid-deleted")

	changed := obj.DeepCopy()
	changed.SetResourceVersion("11")
	deletedByKro := ownedObject("b", "n", "set", false)
	deletedByKro.SetUID("uid-deleted")
	cases := []struct {
		name    string
		obj     *unstructured.Unstructured
		deleted bool
		want    bool
	}{
		{"as kro wrote it", obj, false, true},
		{"changed since", changed, false, false},
		{"deleted by someone else", obj, true, false},
		{"deleted by kro", deletedByKro, true, true},
		{"never written", ownedObject("c", "n", "set", false), false, false},
	}
	for _, c := range cases {
		if got := r.Echo(c.obj, c.deleted); got != c.want {
			t.Errorf("%s: Echo = %v, want %v", c.name, got, c.want)
		}
	}
}

// TestApplyObject: the apply is a PATCH of the object's own path with kro's field manager and
// forced ownership, and the answer comes back as the stored object; a refusal comes back as the
// API server's own error, with its reason and message, also when the configuration the REST
// clients are made from names a group version (as the manager's does).
func TestApplyObject(t *testing.T) {
	const applied = `{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"a","namespace":"ns","resourceVersion":"7",` +
		`"labels":{"kro.run/owned":"true"},"managedFields":[{"manager":"kro.run/applyset","operation":"Apply","fieldsType":"FieldsV1",` +
		`"fieldsV1":{"f:data":{"f:k":{}}}}]},"data":{"k":"v"}}`
	cases := map[string]struct {
		code         int
		answer       string
		metadataOnly bool
		wantErr      string
		want         map[string]any
	}{
		"Applied": {code: 200, answer: applied, want: map[string]any{"apiVersion": "v1", "kind": "ConfigMap",
			"metadata": map[string]any{"name": "a", "namespace": "ns", "resourceVersion": "7", "labels": map[string]any{"kro.run/owned": "true"},
				"managedFields": []any{map[string]any{"manager": "kro.run/applyset", "operation": "Apply", "fieldsType": "FieldsV1",
					"fieldsV1": map[string]any{"f:data": map[string]any{"f:k": map[string]any{}}}}}},
			"data": map[string]any{"k": "v"}}},
		// An API server that cannot answer with metadata only answers with the object as JSON.
		"AppliedMetadataOnly": {code: 200, answer: applied, metadataOnly: true, want: map[string]any{"apiVersion": "v1", "kind": "ConfigMap",
			"metadata": map[string]any{"name": "a", "namespace": "ns", "resourceVersion": "7", "labels": map[string]any{"kro.run/owned": "true"}}}},
		"AppliedMetadataOnlyProtobuf": {code: 200, metadataOnly: true, answer: protobufAnswer(t, &metav1.PartialObjectMetadata{ObjectMeta: metav1.ObjectMeta{
			Name: "a", Namespace: "ns", ResourceVersion: "7", Labels: map[string]string{"kro.run/owned": "true"},
			ManagedFields: []metav1.ManagedFieldsEntry{{Manager: "kro.run/applyset", Operation: "Apply", FieldsType: "FieldsV1",
				FieldsV1: &metav1.FieldsV1{Raw: []byte(`{"f:data":{"f:k":{}}}`)}}}}}),
			want: map[string]any{"apiVersion": "v1", "kind": "ConfigMap",
				"metadata": map[string]any{"name": "a", "namespace": "ns", "resourceVersion": "7", "labels": map[string]any{"kro.run/owned": "true"}}}},
		"Invalid": {code: 422, answer: `{"apiVersion":"v1","kind":"Status","status":"Failure","reason":"Invalid","code":422,` +
			`"message":"ConfigMap \"a\" is invalid: spec.ports[0].port: Invalid value: 70000"}`, wantErr: "70000"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			var request, accept string
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
				request = req.Method + " " + req.URL.Path + "?" + req.URL.RawQuery + " " + req.Header.Get("Content-Type")
				accept = req.Header.Get("Accept")
				w.Header().Set("Content-Type", contentTypeOf(tc.answer))
				w.WriteHeader(tc.code)
				_, _ = w.Write([]byte(tc.answer))
			}))
			defer srv.Close()
			rc := NewRESTClients(&rest.Config{Host: srv.URL, ContentConfig: rest.ContentConfig{GroupVersion: &metav1.SchemeGroupVersion}})
			mapper := meta.NewDefaultRESTMapper(nil)
			mapper.Add(schema.GroupVersionKind{Version: "v1", Kind: "ConfigMap"}, meta.RESTScopeNamespace)
			r := New(&graph.Graph{}, Options{Client: fake.NewClientBuilder().WithRESTMapper(mapper).Build(), REST: rc})

			got, err := r.applyObject(context.Background(), schema.GroupVersionKind{Version: "v1", Kind: "ConfigMap"}, ownedObject("a", "n", "set", false), tc.metadataOnly)
			if want := "PATCH /api/v1/namespaces/ns/configmaps/a?fieldManager=kro.run%2Fapplyset&force=true application/apply-patch+yaml"; request != want {
				t.Errorf("request %q, want %q", request, want)
			}
			// Only the metadata of a metadata-only kind is asked for; kro reads the rest of others.
			if wantMeta := tc.metadataOnly; (accept == metadataAnswer) != wantMeta {
				t.Errorf("Accept %q, metadata only %v", accept, wantMeta)
			}
			if tc.wantErr != "" {
				if err == nil || !apierrors.IsInvalid(err) || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error %v, want the API server's Invalid error naming %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, got.Object); diff != "" {
				t.Errorf("applied object (-want +got):\n%s", diff)
			}
		})
	}
}

// protobufAnswer is obj as the API server encodes an answer in protobuf.
func protobufAnswer(t *testing.T, obj runtime.Object) string {
	t.Helper()
	switch obj.(type) {
	case *metav1.Status:
		obj.GetObjectKind().SetGroupVersionKind(schema.GroupVersionKind{Version: "v1", Kind: "Status"})
	default:
		obj.GetObjectKind().SetGroupVersionKind(metav1.SchemeGroupVersion.WithKind("PartialObjectMetadata"))
	}
	var b strings.Builder
	if err := metaProtobuf().Encode(obj, &b); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// contentTypeOf is the Content-Type of an answer made by protobufAnswer or written as JSON.
func contentTypeOf(answer string) string {
	if strings.HasPrefix(answer, "{") {
		return "application/json"
	}
	return "application/vnd.kubernetes.protobuf"
}
