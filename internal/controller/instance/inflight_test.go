package instance

import (
	"testing"
)

// TestInflightWrites: events of an object arriving while kro writes it are held back; only an
// event at another resourceVersion than the write's (or any, when the write failed) asks for
// another reconcile; after the answer nothing is held back any more.
func TestInflightWrites(t *testing.T) {
	key := objectKey{kind: "ConfigMap", namespace: "ns", name: "a"}
	cases := map[string]struct {
		held      []string // events during the write
		answer    string   // the write's resourceVersion; "" for a failed write
		wantAgain bool
	}{
		"NoEvent":         {answer: "7"},
		"EarlyEcho":       {held: []string{"7"}, answer: "7"},
		"SomeoneElseToo":  {held: []string{"7", "8"}, answer: "7", wantAgain: true},
		"SomeoneElseOnly": {held: []string{"6"}, answer: "7", wantAgain: true},
		"WriteFailed":     {held: []string{"6"}, answer: "", wantAgain: true},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			var w inflightWrites
			if w.hold(key, "1") {
				t.Fatalf("an event is held back with no write in flight")
			}
			write := w.begin(key)
			for _, rv := range tc.held {
				if !w.hold(key, rv) {
					t.Fatalf("event at %s not held back during the write", rv)
				}
			}
			if w.hold(objectKey{kind: "ConfigMap", namespace: "ns", name: "b"}, "7") {
				t.Errorf("an event of another object is held back")
			}
			if got := w.end(write, tc.answer); got != tc.wantAgain {
				t.Errorf("end = %v, want %v", got, tc.wantAgain)
			}
			if w.hold(key, "9") {
				t.Errorf("an event after the answer is held back")
			}
		})
	}
}
