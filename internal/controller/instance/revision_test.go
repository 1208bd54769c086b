package instance

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kro-run/kro/internal/conditions"
)

func TestGraphResolvedNamesRevision(t *testing.T) {
	cases := map[string]struct {
		reason   string
		revision int64
		want     string
	}{
		"Revision":   {reason: "the graph revision the instance was resolved with", revision: 3, want: "runtime graph created and all resources resolved (graph revision 3)"},
		"NoRevision": {reason: "a graph issued from no revision", revision: 0, want: "runtime graph created and all resources resolved"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			st := newStatus(testInstance())
			st.revision = tc.revision
			st.apply(result{})
			c := conditions.Get(st.conds, ConditionGraphResolved)
			if c == nil || c.Status != metav1.ConditionTrue {
				t.Fatalf("%s\nGraphResolved = %+v, want True", tc.reason, c)
			}
			if diff := cmp.Diff(tc.want, c.Message); diff != "" {
				t.Errorf("%s\nGraphResolved message: -want, +got:\n%s", tc.reason, diff)
			}
		})
	}
}
