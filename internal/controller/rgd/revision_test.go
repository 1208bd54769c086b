package rgd

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"

	internalv1alpha1 "github.com/kro-run/kro/api/internal.kro.run/v1alpha1"
	"github.com/kro-run/kro/api/v1alpha1"
)

func TestRevisionName(t *testing.T) {
	long := strings.Repeat("a", 250)
	dotted := strings.Repeat("a", 235) + ".-" + strings.Repeat("b", 13)
	cases := map[string]struct {
		reason   string
		rgd      string
		revision int64
		want     string
	}{
		"First":      {reason: "five digits, zero padded", rgd: "web-app", revision: 1, want: "web-app-r00001"},
		"Five":       {reason: "the largest padded number", rgd: "web-app", revision: 99999, want: "web-app-r99999"},
		"Six":        {reason: "more digits when needed", rgd: "web-app", revision: 123456, want: "web-app-r123456"},
		"Dotted":     {reason: "RGD names may hold dots", rgd: "apps.example.com", revision: 7, want: "apps.example.com-r00007"},
		"Truncated":  {reason: "a name too long is cut and suffixed with a hash of the full name", rgd: long, revision: 3, want: strings.Repeat("a", 253-len("-r00003-12345678")) + "-r00003-" + nameHash(long)},
		"TrimmedCut": {reason: "a cut that ends in a dot or dash is trimmed", rgd: dotted, revision: 3, want: strings.Repeat("a", 235) + "-r00003-" + nameHash(dotted)},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			got := revisionName(tc.rgd, tc.revision)
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("%s\nrevisionName(%q, %d): -want, +got:\n%s", tc.reason, tc.rgd, tc.revision, diff)
			}
			if errs := validation.IsDNS1123Subdomain(got); len(errs) > 0 {
				t.Errorf("revisionName(...) = %q is not a valid object name: %v", got, errs)
			}
		})
	}
	if revisionName(long, 1) == revisionName(long+"b", 1) {
		t.Errorf("revisionName(...) of two long names with the same prefix are equal")
	}
}

func graphRevision(name string, revision int64) internalv1alpha1.GraphRevision {
	return internalv1alpha1.GraphRevision{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec:       internalv1alpha1.GraphRevisionSpec{Revision: revision},
	}
}

func TestPruneCandidates(t *testing.T) {
	revs := []internalv1alpha1.GraphRevision{
		graphRevision("r4", 4), graphRevision("r1", 1), graphRevision("r7", 7), graphRevision("r2", 2), graphRevision("r5", 5),
	}
	cases := map[string]struct {
		reason string
		max    int
		want   []string
	}{
		"UnderLimit": {reason: "nothing goes while the limit holds", max: 5, want: nil},
		"OverLimit":  {reason: "the oldest go, whatever the order listed", max: 3, want: []string{"r1", "r2"}},
		"One":        {reason: "the newest always stays", max: 1, want: []string{"r1", "r2", "r4", "r5"}},
		"Unlimited":  {reason: "zero keeps every revision", max: 0, want: nil},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			var got []string
			for _, r := range pruneCandidates(revs, tc.max) {
				got = append(got, r.Name)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("%s\npruneCandidates(..., %d): -want, +got:\n%s", tc.reason, tc.max, diff)
			}
		})
	}
}

func TestSpecHash(t *testing.T) {
	spec := func(schemaSpec string, readyWhen ...string) v1alpha1.ResourceGraphDefinitionSpec {
		return v1alpha1.ResourceGraphDefinitionSpec{
			Schema: &v1alpha1.Schema{Kind: "App", APIVersion: "v1alpha1", Spec: runtime.RawExtension{Raw: []byte(schemaSpec)}},
			Resources: []*v1alpha1.Resource{{ID: "config", ReadyWhen: readyWhen,
				Template: runtime.RawExtension{Raw: []byte(`{"apiVersion":"v1","kind":"ConfigMap"}`)}}},
		}
	}
	base := spec(`{"name":"string","port":"integer"}`)
	cases := map[string]struct {
		reason string
		other  v1alpha1.ResourceGraphDefinitionSpec
		same   bool
	}{
		"Identical":  {reason: "the same spec", other: spec(`{"name":"string","port":"integer"}`), same: true},
		"Formatting": {reason: "key order and whitespace of raw fields do not matter", other: spec(`{ "port": "integer",  "name": "string" }`), same: true},
		"Changed":    {reason: "a changed value matters", other: spec(`{"name":"string","port":"string"}`), same: false},
		"ReadyWhen":  {reason: "a new expression matters", other: spec(`{"name":"string","port":"integer"}`, "${true}"), same: false},
	}
	want, err := specHash(base)
	if err != nil {
		t.Fatalf("specHash(...): %v", err)
	}
	if errs := validation.IsValidLabelValue(want); len(errs) > 0 {
		t.Errorf("specHash(...) = %q is not a valid label value: %v", want, errs)
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			got, err := specHash(tc.other)
			if err != nil {
				t.Fatalf("specHash(...): %v", err)
			}
			if diff := cmp.Diff(tc.same, got == want); diff != "" {
				t.Errorf("%s\nspecHash(...) equal: -want, +got:\n%s", tc.reason, diff)
			}
		})
	}
}

// ownedRevision is revision n of rgd's current spec, owned by rgd.
func ownedRevision(rgd *v1alpha1.ResourceGraphDefinition, n int64) *internalv1alpha1.GraphRevision {
	return &internalv1alpha1.GraphRevision{
		ObjectMeta: metav1.ObjectMeta{
			Name: revisionName(rgd.Name, n),
			OwnerReferences: []metav1.OwnerReference{{
				APIVersion: "kro.run/v1alpha1", Kind: "ResourceGraphDefinition", Name: rgd.Name, UID: rgd.UID, Controller: ptr.To(true),
			}},
		},
		Spec: internalv1alpha1.GraphRevisionSpec{Revision: n, Snapshot: internalv1alpha1.ResourceGraphDefinitionSnapshot{
			Name: rgd.Name, Generation: rgd.Generation, Spec: *rgd.Spec.DeepCopy(),
		}},
	}
}

func TestIssueRevision(t *testing.T) {
	rgd := testRGD(t, 4, `{name: string}`, nil)
	older := testRGD(t, 3, `{port: integer}`, nil)
	otherUID := ownedRevision(rgd, 5)
	otherUID.OwnerReferences[0].UID = "uid-of-an-earlier-rgd"
	cases := map[string]struct {
		reason string
		// cached are the revisions the cache shows; live those the API server has.
		cached, live  []*internalv1alpha1.GraphRevision
		lastIssued    int64
		want          int64
		wantRevisions []string
	}{
		"First": {
			reason: "an RGD without revisions gets revision 1",
			want:   1, wantRevisions: []string{"app-r00001"},
		},
		"Unchanged": {
			reason: "the newest revision holds the spec: no new one",
			cached: []*internalv1alpha1.GraphRevision{ownedRevision(older, 1), ownedRevision(rgd, 2)},
			live:   []*internalv1alpha1.GraphRevision{ownedRevision(older, 1), ownedRevision(rgd, 2)},
			want:   2, wantRevisions: []string{"app-r00001", "app-r00002"},
		},
		"CreatedBeforeCrash": {
			reason:     "a revision the cache does not show yet is found on the API server, not issued again",
			cached:     []*internalv1alpha1.GraphRevision{ownedRevision(older, 1)},
			live:       []*internalv1alpha1.GraphRevision{ownedRevision(older, 1), ownedRevision(rgd, 2)},
			lastIssued: 1,
			want:       2, wantRevisions: []string{"app-r00001", "app-r00002"},
		},
		"Changed": {
			reason:     "a new spec gets the next number",
			cached:     []*internalv1alpha1.GraphRevision{ownedRevision(older, 1)},
			live:       []*internalv1alpha1.GraphRevision{ownedRevision(older, 1)},
			lastIssued: 1,
			want:       2, wantRevisions: []string{"app-r00001", "app-r00002"},
		},
		"AfterPruned": {
			reason:     "numbers never go back: the status remembers revisions that are gone",
			cached:     []*internalv1alpha1.GraphRevision{ownedRevision(older, 3)},
			live:       []*internalv1alpha1.GraphRevision{ownedRevision(older, 3)},
			lastIssued: 8,
			want:       9, wantRevisions: []string{"app-r00003", "app-r00009"},
		},
		"EarlierRGD": {
			reason: "a revision of an earlier RGD of the same name is not adopted, but numbering goes on",
			cached: []*internalv1alpha1.GraphRevision{otherUID},
			live:   []*internalv1alpha1.GraphRevision{otherUID},
			want:   6, wantRevisions: []string{"app-r00005", "app-r00006"},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			rgd := rgd.DeepCopy()
			rgd.Status.LastIssuedRevision = tc.lastIssued
			// The API server holds tc.live; the cache shows only tc.cached of them.
			b := fakeClient(t)
			for _, rev := range tc.live {
				b = b.WithObjects(rev.DeepCopy())
			}
			apiServer := b.Build()
			cache := interceptor.NewClient(apiServer.(client.WithWatch), interceptor.Funcs{
				List: func(ctx context.Context, c client.WithWatch, list client.ObjectList, opts ...client.ListOption) error {
					if err := c.List(ctx, list, opts...); err != nil {
						return err
					}
					if revs, ok := list.(*internalv1alpha1.GraphRevisionList); ok {
						revs.Items = slices.DeleteFunc(revs.Items, func(rev internalv1alpha1.GraphRevision) bool {
							return !slices.ContainsFunc(tc.cached, func(c *internalv1alpha1.GraphRevision) bool { return c.Name == rev.Name })
						})
					}
					return nil
				},
			})
			r := New(Options{Client: cache, APIReader: apiServer})
			got, err := r.issueRevision(context.Background(), rgd, build(t, rgd))
			if err != nil {
				t.Fatalf("issueRevision(...): %v", err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("%s\nissueRevision(...): -want, +got:\n%s", tc.reason, diff)
			}
			if diff := cmp.Diff(max(tc.want, tc.lastIssued), rgd.Status.LastIssuedRevision); diff != "" {
				t.Errorf("%s\nstatus.lastIssuedRevision: -want, +got:\n%s", tc.reason, diff)
			}
			list := &internalv1alpha1.GraphRevisionList{}
			if err := apiServer.List(context.Background(), list); err != nil {
				t.Fatal(err)
			}
			var names []string
			for _, rev := range list.Items {
				names = append(names, rev.Name)
			}
			slices.Sort(names)
			want := tc.wantRevisions
			if diff := cmp.Diff(want, names); diff != "" {
				t.Errorf("%s\nrevisions after issueRevision(...): -want, +got:\n%s", tc.reason, diff)
			}
		})
	}
}
