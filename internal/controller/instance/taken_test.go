package instance

import (
	"testing"

	"k8s.io/apimachinery/pkg/types"
)

// TestTakenObjects checks when the record of an object kro took ends: once an event shows
// the object kro's write answered with (same UID) in the ApplySet, or gone, whichever of the
// event and the answer comes first; never on an event of another object of the same name, of
// another ApplySet or of none, nor when the write failed.
func TestTakenObjects(t *testing.T) {
	const set = "applyset-a"
	type event struct {
		set     string
		uid     types.UID
		deleted bool
		// metadata: the event of a metadata-only kind's cache.
		metadata bool
	}
	for _, tc := range []struct {
		name string
		// before and after are the events of object "a" before and after the write answered.
		before, after []event
		answer        types.UID // "" when the write failed
		want          int
	}{
		{name: "event after the answer", answer: "uid-a", after: []event{{set: set, uid: "uid-a"}}, want: 0},
		{name: "event before the answer", before: []event{{set: set, uid: "uid-a"}}, answer: "uid-a", want: 0},
		{name: "event of a metadata-only kind", answer: "uid-a", after: []event{{set: set, uid: "uid-a", metadata: true}}, want: 0},
		{name: "deleted", answer: "uid-a", after: []event{{set: set, uid: "uid-a", deleted: true}}, want: 0},
		{name: "no event yet", answer: "uid-a", want: 1},
		{name: "write failed", before: []event{{set: set, uid: "uid-a"}}, want: 1},
		{name: "an older object of the same name", answer: "uid-a", after: []event{{set: set, uid: "uid-old", deleted: true}}, want: 1},
		{name: "an older object's event before the answer", before: []event{{set: set, uid: "uid-old"}}, answer: "uid-a", want: 1},
		{name: "the older object's event, then the new one's, before the answer", before: []event{{set: set, uid: "uid-old"}, {set: set, uid: "uid-a"}}, answer: "uid-a", want: 0},
		{name: "of another ApplySet", answer: "uid-a", after: []event{{set: "applyset-b", uid: "uid-a"}}, want: 1},
		{name: "of no ApplySet", answer: "uid-a", after: []event{{set: "", uid: "uid-a"}}, want: 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := &Reconciler{}
			obj := ownedObject("a", "n", set, false)
			key := keyOf(obj)
			send := func(events []event) {
				for _, e := range events {
					o := ownedObject("a", "n", e.set, false)
					o.SetUID(e.uid)
					if e.metadata {
						r.Echo(metadataObject(o), e.deleted)
						continue
					}
					r.Echo(o, e.deleted)
				}
			}
			r.taken.begin(set, key, obj.GroupVersionKind())
			send(tc.before)
			if tc.answer != "" {
				r.taken.answered(set, key, tc.answer)
			}
			send(tc.after)
			if got := len(r.taken.unconfirmed(set)); got != tc.want {
				t.Fatalf("%d objects are unconfirmed, want %d", got, tc.want)
			}
			if tc.want == 0 && len(r.taken.bySet) != 0 {
				t.Fatalf("the ApplySet's record stays: %v", r.taken.bySet)
			}
		})
	}
}
