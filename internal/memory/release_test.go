package memory

import (
	"context"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestSample(t *testing.T) {
	const mib = 1 << 20
	cases := map[string]struct {
		reason string
		// allocs are the bytes allocated before each sample.
		allocs []uint64
		// want are the samples (1-based) after which memory is released.
		want []int
	}{
		"burst then quiet": {
			reason: "64 MiB allocated, then 3 quiet samples: released once",
			allocs: []uint64{40 * mib, 30 * mib, 0, 0, 0, 0, 0, 0},
			want:   []int{5},
		},
		"still busy": {
			reason: "never quiet for 3 samples: nothing released",
			allocs: []uint64{40 * mib, 30 * mib, 0, 0, 2 * mib, 0, 0, 5 * mib},
			want:   nil,
		},
		"small burst": {
			reason: "less than MinBurst since the last release: nothing released",
			allocs: []uint64{10 * mib, 10 * mib, 0, 0, 0, 0, 0},
			want:   nil,
		},
		"two bursts": {
			reason: "each burst is released once it is over",
			allocs: []uint64{70 * mib, 0, 0, 0, 0, 0, 80 * mib, 0, 0, 0},
			want:   []int{4, 10},
		},
		"idle trickle": {
			reason: "a quiet process accumulates small allocations: released once they add up",
			allocs: []uint64{500 << 10, 500 << 10, 500 << 10, 63 * mib, 500 << 10, 500 << 10, 500 << 10, 500 << 10},
			want:   []int{7},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			var total uint64
			var got []int
			sample := 0
			r := New(Options{
				Allocated: func() uint64 { return total },
				Release:   func() { got = append(got, sample) },
			})
			r.last = 0
			for i, a := range tc.allocs {
				total += a
				sample = i + 1
				r.sample()
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("%s\nreleased after samples: -want, +got:\n%s", tc.reason, diff)
			}
		})
	}
}

func TestStartStops(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- New(Options{Interval: time.Millisecond}).Start(ctx) }()
	time.Sleep(10 * time.Millisecond)
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Start: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Start did not return after its context ended")
	}
}

func TestAllocated(t *testing.T) {
	before := allocated()
	sink = make([]byte, 1<<20)
	if after := allocated(); after < before+1<<20 {
		t.Errorf("allocated() = %d after allocating 1 MiB, was %d", after, before)
	}
}

var sink []byte
