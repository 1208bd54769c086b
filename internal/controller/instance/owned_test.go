package instance

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"

	"github.com/kro-run/kro/internal/graph"
	"github.com/kro-run/kro/internal/metadata"
)

func ownedObject(name, node, partOf string, deleting bool) *unstructured.Unstructured {
	u := &unstructured.Unstructured{}
	u.SetGroupVersionKind(schema.GroupVersionKind{Version: "v1", Kind: "ConfigMap"})
	u.SetNamespace("ns")
	u.SetName(name)
	u.SetUID(types.UID("uid-" + name))
	u.SetLabels(map[string]string{metadata.NodeIDLabel: node, metadata.ApplySetPartOfLabel: partOf})
	if deleting {
		now := metav1.Now()
		u.SetDeletionTimestamp(&now)
	}
	return u
}

// TestDeleteOwned checks the one way kro deletes: only objects of the instance's ApplySet,
// not already being deleted, each with its UID as precondition and in the background.
func TestDeleteOwned(t *testing.T) {
	type deleted struct {
		Name        string
		UID         types.UID
		Propagation metav1.DeletionPropagation
	}
	cases := map[string]struct {
		reason  string
		objs    []client.Object
		failFor string
		want    []deleted
		wantErr bool
	}{
		"OwnObjects": {
			reason: "objects of this ApplySet are deleted with a UID precondition, in the background",
			objs:   []client.Object{ownedObject("a", "n", "set", false), ownedObject("b", "n", "set", false)},
			want: []deleted{
				{"a", "uid-a", metav1.DeletePropagationBackground},
				{"b", "uid-b", metav1.DeletePropagationBackground},
			},
		},
		"MetadataOnly": {
			reason: "an object of a metadata-only kind, as its cache holds it, is deleted the same way",
			objs:   []client.Object{metadataObject(ownedObject("m", "n", "set", false))},
			want:   []deleted{{"m", "uid-m", metav1.DeletePropagationBackground}},
		},
		"OtherApplySet": {
			reason: "an object of another ApplySet is never deleted",
			objs:   []client.Object{ownedObject("a", "n", "other", false), ownedObject("b", "n", "", false)},
		},
		"AlreadyDeleting": {
			reason: "an object already being deleted is not deleted again",
			objs:   []client.Object{ownedObject("a", "n", "set", true)},
		},
		"Replaced": {
			reason:  "a UID precondition failure is an error to retry, not success",
			objs:    []client.Object{ownedObject("a", "n", "set", false)},
			failFor: "a",
			want:    []deleted{{"a", "uid-a", metav1.DeletePropagationBackground}},
			wantErr: true,
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			var (
				mu  sync.Mutex
				got []deleted
			)
			c := fake.NewClientBuilder().WithInterceptorFuncs(interceptor.Funcs{
				Delete: func(_ context.Context, _ client.WithWatch, obj client.Object, opts ...client.DeleteOption) error {
					o := &client.DeleteOptions{}
					o.ApplyOptions(opts)
					d := deleted{Name: obj.GetName()}
					if o.Preconditions != nil && o.Preconditions.UID != nil {
						d.UID = *o.Preconditions.UID
					}
					if o.PropagationPolicy != nil {
						d.Propagation = *o.PropagationPolicy
					}
					mu.Lock()
					got = append(got, d)
					mu.Unlock()
					if obj.GetName() == tc.failFor {
						return apierrors.NewConflict(schema.GroupResource{Resource: "configmaps"}, obj.GetName(), errors.New("precondition failed"))
					}
					return nil
				},
			}).Build()
			r := New(&graph.Graph{}, Options{Client: c})
			_, err := r.removeOwned(context.Background(), tc.objs, "set", "test")
			slices.SortFunc(got, func(a, b deleted) int { return strings.Compare(a.Name, b.Name) })
			if (err != nil) != tc.wantErr {
				t.Fatalf("%s\nremoveOwned(): error %v, want error %v", tc.reason, err, tc.wantErr)
			}
			if err != nil && !isClusterError(err) {
				t.Errorf("%s\nremoveOwned(): error %v is not retried as a cluster error", tc.reason, err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("%s\nremoveOwned(): -want, +got:\n%s", tc.reason, diff)
			}
		})
	}
}

// metadataObject is u as the cache of a metadata-only kind holds it.
func metadataObject(u *unstructured.Unstructured) *metav1.PartialObjectMetadata {
	m := &metav1.PartialObjectMetadata{}
	m.SetGroupVersionKind(u.GroupVersionKind())
	m.SetNamespace(u.GetNamespace())
	m.SetName(u.GetName())
	m.SetUID(u.GetUID())
	m.SetLabels(u.GetLabels())
	m.SetAnnotations(u.GetAnnotations())
	m.SetDeletionTimestamp(u.GetDeletionTimestamp())
	return m
}

// TestDeletionWaves checks the order of deletion: objects of unknown nodes first, then the
// graph's levels from the last to the first.
func TestDeletionWaves(t *testing.T) {
	g := &graph.Graph{Levels: [][]string{{"config"}, {"deploy", "svc"}, {"ingress"}}}
	owned := []client.Object{
		ownedObject("c", "config", "set", false),
		ownedObject("d", "deploy", "set", false),
		ownedObject("s", "svc", "set", false),
		ownedObject("i", "ingress", "set", false),
		ownedObject("old", "removed", "set", false),
	}
	var got [][]string
	for _, wave := range deletionWaves(g, owned) {
		var names []string
		for _, o := range wave {
			names = append(names, o.GetName())
		}
		got = append(got, names)
	}
	want := [][]string{{"old"}, {"i"}, {"d", "s"}, {"c"}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("deletionWaves(): -want, +got:\n%s", diff)
	}
	// Written by the reference kro (or an earlier graph): its apply order wins over the graph.
	byReference := ownedObject("r", "config", "set", false)
	byReference.SetAnnotations(map[string]string{metadata.ApplyOrderAnnotation: "3"})
	owned = append(owned, byReference)
	got = nil
	for _, wave := range deletionWaves(g, owned) {
		var names []string
		for _, o := range wave {
			names = append(names, o.GetName())
		}
		got = append(got, names)
	}
	want = [][]string{{"old"}, {"i", "r"}, {"d", "s"}, {"c"}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("deletionWaves() with apply-order annotations: -want, +got:\n%s", diff)
	}
}
