package chaos

import (
	"cmp"
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// eventKind is a kind of injected fault.
type eventKind int

const (
	// kill SIGKILLs kro-controller and starts it again after a pause.
	kill eventKind = iota
	// apiserverRestart stops the kube-apiserver and starts it again after a pause.
	apiserverRestart
	// partition cuts kro-controller off the kube-apiserver for a while (see proxy).
	partition
)

// chaosEvent is a fault injected when the workload's progress reaches at.
type chaosEvent struct {
	kind eventKind
	at   float64
}

// opKind is what the workload does to an instance.
type opKind int

const (
	create opKind = iota
	remove
	update
)

// op is one request of the workload; at orders them.
type op struct {
	kind opKind
	inst *instance
	at   float64
}

// scenario is the planned workload and chaos, every choice drawn from the seed up front.
type scenario struct {
	t     *testing.T
	k     knobs
	rec   *recorder
	ctl   *controller
	proxy *proxy

	instances []*instance
	// deletedKeys and keptKeys are the instances to delete and the others; updates counts the
	// instances to update.
	deletedKeys, keptKeys []objectKey
	updates               int
	// ops are the creates, deletions and updates in the order issued: each deletion or update
	// at a random point after its instance's create, a third of the deletions right after it,
	// so some hit an instance kro has not finished (or not even seen), others one long ACTIVE.
	ops []op
	// bursts are the ends (exclusive indexes into ops) of the bursts the ops are issued in:
	// back to back within a burst, a pause between bursts. A burst keeps kro's workers busy.
	bursts []int
	events []chaosEvent
	// newShards are the shards an updated instance gets: its first is dropped (pruned) and a
	// shard name no instance had before is added.
	newShards map[*instance][]string

	// opsRNG and chaosRNG drive the pauses of the two goroutines.
	opsRNG, chaosRNG *rand.Rand
	// abort ends the scenario early: the control plane could not be brought back.
	abort context.CancelCauseFunc

	// mu guards burstStarted and the counters below.
	mu sync.Mutex
	// burstStarted is closed when the next burst starts; nil once the workload is done.
	burstStarted                            chan struct{}
	opsDone                                 int
	created, deleted, updated               int
	killsDone, restartsDone, partitionsDone int
	apiserverDown, partitioned              time.Duration
}

func newScenario(t *testing.T, k knobs, rec *recorder, ctl *controller, px *proxy, abort context.CancelCauseFunc) *scenario {
	rng := rand.New(rand.NewPCG(k.seed, 0))
	s := &scenario{
		t: t, k: k, rec: rec, ctl: ctl, proxy: px, abort: abort,
		newShards:    map[*instance][]string{},
		opsRNG:       rand.New(rand.NewPCG(k.seed, 1)),
		chaosRNG:     rand.New(rand.NewPCG(k.seed, 2)),
		burstStarted: make(chan struct{}),
	}
	colors := []string{"red", "green", "blue"}
	width := len(fmt.Sprint(k.instances - 1))
	for i := range k.instances {
		shards := []string{"a", "b", "c"}
		rng.Shuffle(len(shards), func(a, b int) { shards[a], shards[b] = shards[b], shards[a] })
		s.instances = append(s.instances, &instance{
			namespace: namespaces[i%len(namespaces)],
			name:      fmt.Sprintf("app-%0*d", width, i),
			color:     colors[rng.IntN(len(colors))],
			shards:    shards[:1+rng.IntN(3)],
		})
	}
	// A random half is deleted; about a tenth of the others get new shards.
	for _, i := range rng.Perm(len(s.instances))[:len(s.instances)/2] {
		s.instances[i].deleted = true
		s.deletedKeys = append(s.deletedKeys, s.instances[i].key())
	}
	for _, inst := range s.instances {
		if !inst.deleted {
			s.keptKeys = append(s.keptKeys, inst.key())
		}
		if !inst.deleted && (s.updates == 0 || rng.IntN(10) == 0) {
			inst.updated = true
			s.updates++
			s.newShards[inst] = append(append([]string(nil), inst.shards[1:]...), "z")
		}
	}
	// Creates in a random order; each deletion or update at a random point after its create,
	// a third of the deletions within the next few creates.
	step := 1 / float64(len(s.instances))
	for n, i := range rng.Perm(len(s.instances)) {
		inst := s.instances[i]
		at := float64(n) * step
		s.ops = append(s.ops, op{create, inst, at})
		switch {
		case inst.deleted && rng.IntN(3) == 0:
			s.ops = append(s.ops, op{remove, inst, at + 5*step*rng.Float64()})
		case inst.deleted:
			s.ops = append(s.ops, op{remove, inst, at + (1-at)*rng.Float64()})
		case inst.updated:
			s.ops = append(s.ops, op{update, inst, at + (1-at)*rng.Float64()})
		}
	}
	slices.SortStableFunc(s.ops, func(a, b op) int { return cmp.Compare(a.at, b.at) })
	for end := 0; end < len(s.ops); {
		end = min(end+5+rng.IntN(21), len(s.ops))
		s.bursts = append(s.bursts, end)
	}

	for _, n := range []struct {
		kind  eventKind
		count int
	}{{kill, k.kills}, {apiserverRestart, k.apiserverRestarts}, {partition, k.partitions}} {
		for range n.count {
			s.events = append(s.events, chaosEvent{kind: n.kind})
		}
	}
	rng.Shuffle(len(s.events), func(a, b int) { s.events[a], s.events[b] = s.events[b], s.events[a] })
	ats := make([]float64, len(s.events))
	for i := range ats {
		ats[i] = 0.95 * rng.Float64()
	}
	slices.Sort(ats)
	for i := range s.events {
		s.events[i].at = ats[i]
	}
	return s
}

// progress is the scenario's progress from 0 to 1: requests issued, kept instances seen
// ACTIVE and deleted instances seen gone. Chaos events fire at progress points, so they hit
// the requests and kro's work on them whatever the speed of the machine.
func (s *scenario) progress() float64 {
	s.mu.Lock()
	done := s.opsDone
	s.mu.Unlock()
	active := s.rec.Active(s.keptKeys)
	gone := s.rec.Gone(s.deletedKeys)
	return float64(done+active+gone) / float64(len(s.ops)+len(s.instances))
}

// run runs the workload and the chaos concurrently and returns when both are done.
func (s *scenario) run(ctx context.Context) {
	var wg sync.WaitGroup
	wg.Go(func() {
		if err := s.workload(ctx); err != nil {
			s.abort(fmt.Errorf("workload: %w", err))
		}
	})
	wg.Go(func() {
		if err := s.chaos(ctx); err != nil {
			s.abort(fmt.Errorf("chaos: %w", err))
		}
	})
	wg.Wait()
}

// workload issues the ops burst by burst, retrying each while the apiserver is away.
func (s *scenario) workload(ctx context.Context) error {
	defer s.startBurst(false)
	burst := 0
	for n, o := range s.ops {
		if n == 0 || n == s.bursts[burst] {
			if n > 0 {
				burst++
				time.Sleep(time.Duration(300+s.opsRNG.IntN(1200)) * time.Millisecond)
			}
			s.startBurst(true)
		}
		inst := o.inst
		var err error
		switch o.kind {
		case create:
			err = retry(ctx, func() error {
				if err := env.client.Create(ctx, inst.object()); err != nil && !apierrors.IsAlreadyExists(err) {
					return err
				}
				return nil
			})
		case remove:
			err = retry(ctx, func() error { return deleteInstance(ctx, inst) })
		case update:
			shards := s.newShards[inst]
			patch := fmt.Sprintf(`{"spec":{"shards":["%s"]}}`, strings.Join(shards, `","`))
			err = retry(ctx, func() error {
				return env.client.Patch(ctx, inst.object(), client.RawPatch(types.MergePatchType, []byte(patch)))
			})
			inst.shards = shards
		}
		if err != nil {
			return fmt.Errorf("%v %s: %w", []string{"creating", "deleting", "updating"}[o.kind], inst, err)
		}
		s.mu.Lock()
		s.opsDone++
		switch o.kind {
		case create:
			s.created++
			inst.created = time.Since(s.rec.start)
		case remove:
			s.deleted++
			inst.deleteSent = time.Since(s.rec.start)
		case update:
			s.updated++
		}
		s.mu.Unlock()
		time.Sleep(time.Duration(s.opsRNG.IntN(10)) * time.Millisecond)
	}
	s.logf("all requests issued: %d instances created, %d deleted, %d updated", len(s.instances), len(s.deletedKeys), s.updates)
	return nil
}

// startBurst wakes the chaos goroutine waiting for a burst; more false says the workload is
// done and nothing waits for a burst any more.
func (s *scenario) startBurst(more bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.burstStarted == nil {
		return
	}
	close(s.burstStarted)
	s.burstStarted = nil
	if more {
		s.burstStarted = make(chan struct{})
	}
}

// nextBurst returns a channel closed when the next burst starts, or nil after the last one.
func (s *scenario) nextBurst() chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.burstStarted
}

// chaos fires the events in order, each once progress reaches its point or, when progress
// stalls (a bug, or everything is done), after a few seconds without change. While the
// workload runs, an event fires shortly after a burst starts, so it hits kro in the middle of
// its work: passes half done, deletions arriving while it is away.
func (s *scenario) chaos(ctx context.Context) error {
	for n, ev := range s.events {
		stall := time.Duration(3+s.chaosRNG.IntN(5)) * time.Second
		s.waitProgress(ctx, stall, func() bool { return s.progress() >= ev.at })
		delay := time.Duration(s.chaosRNG.IntN(150)) * time.Millisecond
		if ev.kind == kill {
			// Let the controller do some work after its last start.
			minUp := time.Duration(300+s.chaosRNG.IntN(2000)) * time.Millisecond
			for deadline := time.Now().Add(30 * time.Second); s.ctl.Uptime() < minUp && time.Now().Before(deadline); {
				time.Sleep(50 * time.Millisecond)
			}
		}
		if burst := s.nextBurst(); burst != nil {
			select {
			case <-burst:
				time.Sleep(delay)
			case <-time.After(3 * time.Second):
			case <-ctx.Done():
			}
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		what := fmt.Sprintf("event %d/%d at progress %.2f (planned %.2f)", n+1, len(s.events), s.progress(), ev.at)
		switch ev.kind {
		case apiserverRestart:
			pause := time.Duration(500+s.chaosRNG.IntN(2500)) * time.Millisecond
			s.logf("%s: restarting kube-apiserver (down %s + stop/start)", what, pause)
			s.ctl.mark("%s: restarting kube-apiserver", what)
			began := time.Now()
			stopErr, err := restartAPIServer(pause)
			if err != nil {
				return err
			}
			if stopErr != nil {
				s.logf("kube-apiserver did not stop gracefully, it was killed: %v", stopErr)
			}
			s.ctl.mark("kube-apiserver is back")
			s.mu.Lock()
			s.restartsDone++
			s.apiserverDown += time.Since(began)
			s.mu.Unlock()
			s.logf("kube-apiserver back after %.1fs", time.Since(began).Seconds())
		case partition:
			d := time.Duration(1000+s.chaosRNG.IntN(4000)) * time.Millisecond
			s.logf("%s: cutting kro-controller off the kube-apiserver for %s", what, d)
			s.ctl.mark("%s: network partition for %s", what, d)
			s.proxy.Cut(d)
			time.Sleep(d)
			s.ctl.mark("network partition healed")
			s.mu.Lock()
			s.partitionsDone++
			s.partitioned += d
			s.mu.Unlock()
		case kill:
			pause := time.Duration(100+s.chaosRNG.IntN(2900)) * time.Millisecond
			s.logf("%s: SIGKILL kro-controller after %.1fs up, restart in %s", what, s.ctl.Uptime().Seconds(), pause)
			if s.ctl.Kill(what) {
				s.mu.Lock()
				s.killsDone++
				s.mu.Unlock()
			}
			time.Sleep(pause)
			if err := s.ctl.Start(); err != nil {
				return err
			}
		}
	}
	return nil
}

// waitProgress waits until done returns true, or until the scenario's progress has not
// changed for stall (then it returns false).
func (s *scenario) waitProgress(ctx context.Context, stall time.Duration, done func() bool) bool {
	last, changed := -1.0, time.Now()
	for ctx.Err() == nil {
		if done() {
			return true
		}
		if p := s.progress(); p != last {
			last, changed = p, time.Now()
		}
		if time.Since(changed) > stall {
			return false
		}
		time.Sleep(50 * time.Millisecond)
	}
	return false
}

func (s *scenario) logf(format string, args ...any) {
	s.t.Logf("t=%.1fs: %s", time.Since(s.rec.start).Seconds(), fmt.Sprintf(format, args...))
}

// report prints the counts of the run.
func (s *scenario) report(wall time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	starts, kills, exits := s.ctl.Counts()
	names, deletions := s.rec.Counts("ConfigMap", "Secret", "Service")
	s.t.Logf("chaos summary (seed %d):\n"+
		"  instances: %d created, %d deleted, %d kept (%d of them updated), then all deleted with the RGD\n"+
		"  children: %d created (distinct names), %d deletions seen\n"+
		"  objects seen twice (more than one UID for a name): %d\n"+
		"  kro-controller: %d SIGKILLs (%d planned), %d starts, %d exits by itself %v\n"+
		"  kube-apiserver: %d restarts (%d planned), down %.1fs in all\n"+
		"  network partitions: %d (%d planned), %.1fs in all\n"+
		"  wall time: %s",
		s.k.seed,
		s.created, s.deleted, s.created-s.deleted, s.updated,
		names, deletions,
		len(s.rec.Duplicates()),
		kills, s.k.kills, starts, len(exits), exits,
		s.restartsDone, s.k.apiserverRestarts, s.apiserverDown.Seconds(),
		s.partitionsDone, s.k.partitions, s.partitioned.Seconds(),
		wall.Round(time.Second))
}
