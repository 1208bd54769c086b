package memory

import (
	"context"
	"runtime/debug"
	"runtime/metrics"
	"time"

	"github.com/go-logr/logr"
)

// Options configure a Releaser. Field comments state the defaults.
type Options struct {
	// Interval is how often the allocations are sampled. Default 1s.
	Interval time.Duration
	// Quiet is how long the process must have allocated less than QuietBytes per Interval to
	// be idle. Default 3s.
	Quiet time.Duration
	// QuietBytes is what the process may allocate per Interval and still be quiet. Default
	// 1 MiB.
	QuietBytes uint64
	// MinBurst is what the process must have allocated since the last release for another one
	// to be worth its collection. Default 64 MiB.
	MinBurst uint64
	// Allocated returns the bytes the process allocated since it started. Default: the Go
	// runtime's /gc/heap/allocs:bytes.
	Allocated func() uint64
	// Release collects garbage and returns the free memory to the operating system. Default
	// debug.FreeOSMemory.
	Release func()
	// Log is the releaser's logger. Default: discard.
	Log logr.Logger
}

// Releaser releases memory once the process is idle after a burst. It is a manager.Runnable.
type Releaser struct {
	opts Options
	// last is the allocation count of the previous sample, quiet how long allocations have
	// stayed under QuietBytes per Interval, burst what was allocated since the last release.
	// Only the goroutine of Start uses them.
	last, burst uint64
	quiet       time.Duration
}

// New returns a Releaser.
func New(opts Options) *Releaser {
	if opts.Interval <= 0 {
		opts.Interval = time.Second
	}
	if opts.Quiet <= 0 {
		opts.Quiet = 3 * time.Second
	}
	if opts.QuietBytes == 0 {
		opts.QuietBytes = 1 << 20
	}
	if opts.MinBurst == 0 {
		opts.MinBurst = 64 << 20
	}
	if opts.Allocated == nil {
		opts.Allocated = allocated
	}
	if opts.Release == nil {
		opts.Release = debug.FreeOSMemory
	}
	if opts.Log.GetSink() == nil {
		opts.Log = logr.Discard()
	}
	return &Releaser{opts: opts}
}

// Start samples the allocations until ctx ends.
func (r *Releaser) Start(ctx context.Context) error {
	r.last = r.opts.Allocated()
	t := time.NewTicker(r.opts.Interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
			r.sample()
		}
	}
}

// NeedLeaderElection is false: a replica waiting for the lease has memory to return too.
func (r *Releaser) NeedLeaderElection() bool { return false }

// sample takes one sample and releases memory when the process has gone quiet after a burst.
func (r *Releaser) sample() {
	now := r.opts.Allocated()
	delta := now - r.last
	r.last = now
	r.burst += delta
	if delta >= r.opts.QuietBytes {
		r.quiet = 0
		return
	}
	r.quiet += r.opts.Interval
	if r.quiet < r.opts.Quiet || r.burst < r.opts.MinBurst {
		return
	}
	r.opts.Log.V(1).Info("Releasing memory after a burst", "allocatedBytes", r.burst)
	r.opts.Release()
	r.burst = 0
	r.last = r.opts.Allocated()
}

// allocated reads the Go runtime's count of allocated heap bytes.
func allocated() uint64 {
	s := []metrics.Sample{{Name: "/gc/heap/allocs:bytes"}}
	metrics.Read(s)
	if s[0].Value.Kind() != metrics.KindUint64 {
		return 0
	}
	return s[0].Value.Uint64()
}
