package chaos

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	"github.com/kro-run/kro/api/v1alpha1"
)

var namespaces = []string{"chaos-0", "chaos-1", "chaos-2"}

// TestChaos creates instances, deletes a random half and changes the shards of some of the
// others while kro-controller is SIGKILLed and the kube-apiserver restarted at random points,
// then checks the end state. See the package doc for the knobs.
func TestChaos(t *testing.T) {
	if testing.Short() {
		t.Skip("chaos test skipped in -short mode")
	}
	k, err := knobsFromEnv()
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	t.Logf("seed %d (replay the same choices with CHAOS_SEED=%d CHAOS_INSTANCES=%d CHAOS_KILLS=%d CHAOS_APISERVER_RESTARTS=%d)",
		k.seed, k.seed, k.instances, k.kills, k.apiserverRestarts)
	ctx, cancel := context.WithCancelCause(context.Background())
	defer cancel(nil)

	rec := newRecorder(start, namespaces)
	for _, ck := range childKinds {
		if err := rec.Watch(ctx, ck.gvr, ck.kind); err != nil {
			t.Fatal(err)
		}
	}
	if err := rec.Watch(ctx, rgdGVR, rgdKey.kind); err != nil {
		t.Fatal(err)
	}
	for _, ns := range namespaces {
		if err := env.client.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}); err != nil {
			t.Fatal(err)
		}
	}

	ctl, err := newController(env.controllerBin, env.kubeconfig, filepath.Join(env.dir, "kro-controller.log"), start)
	if err != nil {
		t.Fatal(err)
	}
	if err := ctl.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(ctl.Stop)
	defer func() {
		if t.Failed() {
			t.Logf("last lines of the kro-controller log (all of it: %s; kube-apiserver log: %s):\n%s",
				ctl.logPath, env.apiserverLog, ctl.Tail(150))
		}
	}()

	rgd := &v1alpha1.ResourceGraphDefinition{}
	if err := yaml.UnmarshalStrict([]byte(rgdManifest), rgd); err != nil {
		t.Fatal(err)
	}
	if err := env.client.Create(ctx, rgd); err != nil {
		t.Fatal(err)
	}
	g := gomega.NewWithT(t)
	g.Eventually(func(g gomega.Gomega) {
		got := &v1alpha1.ResourceGraphDefinition{}
		g.Expect(env.client.Get(ctx, client.ObjectKey{Name: rgdName}, got)).To(gomega.Succeed())
		g.Expect(got.Status.State).To(gomega.Equal(v1alpha1.ResourceGraphDefinitionStateActive), "conditions: %s", describeConditions(got.Status.Conditions))
	}).WithTimeout(2 * time.Minute).WithPolling(200 * time.Millisecond).Should(gomega.Succeed())
	if err := rec.Watch(ctx, instanceGVR, instanceGVK.Kind); err != nil {
		t.Fatal(err)
	}

	s := newScenario(t, k, rec, ctl, cancel)
	t.Logf("t=%.1fs: RGD Active; %d instances (%d to delete, %d to update), %d chaos events", time.Since(start).Seconds(),
		len(s.instances), len(s.deletedKeys), s.updates, len(s.events))
	s.run(ctx)
	if err := context.Cause(ctx); err != nil {
		t.Fatalf("scenario aborted: %v", err)
	}

	// The end state, with the controller left running. A controller just restarted has done
	// nothing yet: check once it has been up a while, and check that the state then holds.
	for deadline := time.Now().Add(time.Minute); ctl.Uptime() < 5*time.Second && time.Now().Before(deadline); {
		time.Sleep(100 * time.Millisecond)
	}
	converged := waitFor(t, "after the chaos", 90*time.Second+time.Duration(k.instances)*300*time.Millisecond, func() (violations, error) {
		return checkConverged(ctx, rec, s.instances)
	})
	if converged {
		converged = holds(t, "after converging", 10*time.Second, func() (violations, error) {
			return checkConverged(ctx, rec, s.instances)
		})
	}
	dups := rec.Duplicates()
	if len(dups) > 0 {
		v := violations{invCreatedOnce: dups}
		t.Errorf("%s", v)
	}
	if converged {
		t.Logf("t=%.1fs: converged: %d instances ACTIVE with their children, %d deleted instances gone", time.Since(start).Seconds(), len(s.instances)-len(s.deletedKeys), len(s.deletedKeys))
	}

	// Deleting the RGD with its remaining instances leaves nothing behind.
	ctl.mark("deleting the RGD, then the %d remaining instances", len(s.instances)-len(s.deletedKeys))
	if err := retry(ctx, func() error { return client.IgnoreNotFound(env.client.Delete(ctx, rgd)) }); err != nil {
		t.Errorf("deleting the RGD: %v", err)
	}
	for _, inst := range s.instances {
		if !inst.deleted {
			if err := retry(ctx, func() error { return deleteInstance(ctx, inst) }); err != nil {
				t.Errorf("deleting %s: %v", inst, err)
			}
		}
	}
	waitFor(t, "after deleting the RGD and its instances", 60*time.Second+time.Duration(k.instances)*200*time.Millisecond, func() (violations, error) {
		return checkRGDDeleted(ctx, rec, s.instances)
	})
	if d := rec.Duplicates(); len(d) > len(dups) {
		t.Errorf("%s", violations{invCreatedOnce + " (while deleting the RGD)": d})
	}
	if crashes := ctl.Crashes(); len(crashes) > 0 {
		t.Errorf("kro-controller panicked or raced (%d lines):\n%s", len(crashes), strings.Join(crashes, "\n"))
	}
	s.report(time.Since(start))
}

// waitFor polls check until it reports no violation or timeout passes; then it fails the test
// with what is still broken. It reports whether the check passed.
func waitFor(t *testing.T, phase string, timeout time.Duration, check func() (violations, error)) bool {
	t.Helper()
	var last violations
	var lastErr error
	ok := gomega.NewGomega(func(string, ...int) {}).Eventually(func() bool {
		last, lastErr = check()
		return lastErr == nil && len(last) == 0
	}).WithTimeout(timeout).WithPolling(2 * time.Second).Should(gomega.BeTrue())
	if !ok {
		if lastErr != nil {
			t.Errorf("%s: still not converged after %s; the last check failed: %v", phase, timeout, lastErr)
		} else {
			t.Errorf("%s: still not converged after %s:\n%s", phase, timeout, last)
		}
	}
	return ok
}

// holds checks that check keeps reporting no violation for d, and fails the test otherwise.
func holds(t *testing.T, phase string, d time.Duration, check func() (violations, error)) bool {
	t.Helper()
	var last violations
	var lastErr error
	ok := gomega.NewGomega(func(string, ...int) {}).Consistently(func() bool {
		last, lastErr = check()
		return lastErr != nil || len(last) == 0 // The apiserver not answering is no violation.
	}).WithTimeout(d).WithPolling(2 * time.Second).Should(gomega.BeTrue())
	if !ok {
		t.Errorf("%s: the end state did not hold for %s:\n%s", phase, d, last)
	}
	return ok
}

// chaosEvent is a fault injected when the workload's progress reaches at.
type chaosEvent struct {
	apiserver bool // restart the kube-apiserver; otherwise SIGKILL the controller
	at        float64
}

// scenario is the planned workload and chaos, every choice drawn from the seed up front.
type scenario struct {
	t   *testing.T
	k   knobs
	rec *recorder
	ctl *controller

	instances []*instance
	// deletedKeys are the instances to delete; updates counts the instances to update.
	deletedKeys []objectKey
	updates     int
	// later are the deletions and updates, in the order issued once deleteAt of the instances
	// have been seen ACTIVE.
	later    []*instance
	deleteAt float64
	events   []chaosEvent
	// newShards are the shards an updated instance gets: its first is dropped (pruned) and a
	// shard name no instance had before is added.
	newShards map[*instance][]string

	// opsRNG and chaosRNG drive the pauses of the two goroutines.
	opsRNG, chaosRNG *rand.Rand
	// abort ends the scenario early: the control plane could not be brought back.
	abort context.CancelCauseFunc

	// mu guards the counters below.
	mu                       sync.Mutex
	opsDone                  bool
	killsDone, restartsDone  int
	deletesDone, updatesDone int
	createdInstances         int
	apiserverDown            time.Duration
}

func newScenario(t *testing.T, k knobs, rec *recorder, ctl *controller, abort context.CancelCauseFunc) *scenario {
	rng := rand.New(rand.NewPCG(k.seed, 0))
	s := &scenario{
		t: t, k: k, rec: rec, ctl: ctl, abort: abort,
		newShards: map[*instance][]string{},
		opsRNG:    rand.New(rand.NewPCG(k.seed, 1)),
		chaosRNG:  rand.New(rand.NewPCG(k.seed, 2)),
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
	// A random half is deleted; a tenth of the others get new shards.
	for _, i := range rng.Perm(len(s.instances))[:len(s.instances)/2] {
		s.instances[i].deleted = true
		s.deletedKeys = append(s.deletedKeys, s.instances[i].key())
		s.later = append(s.later, s.instances[i])
	}
	for _, inst := range s.instances {
		if !inst.deleted && (s.updates == 0 || rng.IntN(10) == 0) {
			inst.updated = true
			s.updates++
			s.newShards[inst] = append(append([]string(nil), inst.shards[1:]...), "z")
			s.later = append(s.later, inst)
		}
	}
	rng.Shuffle(len(s.later), func(a, b int) { s.later[a], s.later[b] = s.later[b], s.later[a] })
	rng.Shuffle(len(s.instances), func(a, b int) { s.instances[a], s.instances[b] = s.instances[b], s.instances[a] })
	s.deleteAt = 0.3 + 0.6*rng.Float64()

	for range k.kills {
		s.events = append(s.events, chaosEvent{})
	}
	for range k.apiserverRestarts {
		s.events = append(s.events, chaosEvent{apiserver: true})
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

// progress is the workload's progress from 0 to 1: instances seen ACTIVE and deleted
// instances seen gone. Chaos events fire at progress points, so they hit creation and deletion
// whatever the speed of the machine.
func (s *scenario) progress() float64 {
	active := s.rec.Active(instanceGVK.Kind)
	gone := s.rec.Gone(s.deletedKeys)
	return float64(active+gone) / float64(len(s.instances)+len(s.deletedKeys))
}

// run runs the workload and the chaos concurrently and returns when both are done.
func (s *scenario) run(ctx context.Context) {
	var wg sync.WaitGroup
	wg.Go(func() {
		if err := s.workload(ctx); err != nil {
			s.abort(fmt.Errorf("workload: %w", err))
		}
		s.mu.Lock()
		s.opsDone = true
		s.mu.Unlock()
	})
	wg.Go(func() {
		if err := s.chaos(ctx); err != nil {
			s.abort(fmt.Errorf("chaos: %w", err))
		}
	})
	wg.Wait()
}

// workload creates every instance, then, once enough of them were seen ACTIVE (or progress
// stalled), deletes a random half and updates some of the others.
func (s *scenario) workload(ctx context.Context) error {
	for _, inst := range s.instances {
		if err := retry(ctx, func() error {
			if err := env.client.Create(ctx, inst.object()); err != nil && !apierrors.IsAlreadyExists(err) {
				return err
			}
			return nil
		}); err != nil {
			return fmt.Errorf("creating %s: %w", inst, err)
		}
		s.mu.Lock()
		s.createdInstances++
		s.mu.Unlock()
		s.pause(s.opsRNG, 40*time.Millisecond)
	}
	s.logf("all %d instances created; deleting and updating once %.0f%% are ACTIVE", len(s.instances), 100*s.deleteAt)

	if !s.waitProgress(ctx, 10*time.Second, func() bool {
		return float64(s.rec.Active(instanceGVK.Kind)) >= s.deleteAt*float64(len(s.instances))
	}) {
		s.logf("ACTIVE instances stopped increasing at %d; deleting and updating anyway", s.rec.Active(instanceGVK.Kind))
	}
	s.ctl.mark("deleting %d instances and updating %d", len(s.deletedKeys), s.updates)
	for _, inst := range s.later {
		if inst.deleted {
			if err := retry(ctx, func() error { return deleteInstance(ctx, inst) }); err != nil {
				return fmt.Errorf("deleting %s: %w", inst, err)
			}
			s.mu.Lock()
			s.deletesDone++
			s.mu.Unlock()
		} else {
			shards := s.newShards[inst]
			patch := fmt.Sprintf(`{"spec":{"shards":["%s"]}}`, strings.Join(shards, `","`))
			if err := retry(ctx, func() error {
				return env.client.Patch(ctx, inst.object(), client.RawPatch(types.MergePatchType, []byte(patch)))
			}); err != nil {
				return fmt.Errorf("updating %s: %w", inst, err)
			}
			inst.shards = shards
			s.mu.Lock()
			s.updatesDone++
			s.mu.Unlock()
		}
		s.pause(s.opsRNG, 40*time.Millisecond)
	}
	s.logf("%d instances deleted, %d updated", len(s.deletedKeys), s.updates)
	return nil
}

// chaos fires the events in order, each once progress reaches its point or, when progress
// stalls (a bug, or the workload is done), after a few seconds without change.
func (s *scenario) chaos(ctx context.Context) error {
	for n, ev := range s.events {
		stall := time.Duration(3+s.chaosRNG.IntN(5)) * time.Second
		s.waitProgress(ctx, stall, func() bool { return s.progress() >= ev.at })
		// Let the controller do some work after its last start.
		minUp := time.Duration(300+s.chaosRNG.IntN(2000)) * time.Millisecond
		for deadline := time.Now().Add(30 * time.Second); s.ctl.Uptime() < minUp && time.Now().Before(deadline); {
			time.Sleep(50 * time.Millisecond)
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		p := s.progress()
		if ev.apiserver {
			pause := time.Duration(500+s.chaosRNG.IntN(2500)) * time.Millisecond
			s.logf("event %d/%d at progress %.2f (planned %.2f): restarting kube-apiserver (down %s + stop/start)", n+1, len(s.events), p, ev.at, pause)
			s.ctl.mark("restarting kube-apiserver")
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
			continue
		}
		pause := time.Duration(100+s.chaosRNG.IntN(2900)) * time.Millisecond
		s.logf("event %d/%d at progress %.2f (planned %.2f): SIGKILL kro-controller after %.1fs up, restart in %s", n+1, len(s.events), p, ev.at, s.ctl.Uptime().Seconds(), pause)
		if s.ctl.Kill(fmt.Sprintf("event %d/%d, progress %.2f", n+1, len(s.events), p)) {
			s.mu.Lock()
			s.killsDone++
			s.mu.Unlock()
		}
		time.Sleep(pause)
		if err := s.ctl.Start(); err != nil {
			return err
		}
	}
	return nil
}

// waitProgress waits until done returns true, or until the workload's progress has not changed
// for stall (then it returns false).
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

func (s *scenario) pause(rng *rand.Rand, upTo time.Duration) {
	time.Sleep(time.Duration(rng.Int64N(int64(upTo))))
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
		"  wall time: %s",
		s.k.seed,
		s.createdInstances, s.deletesDone, len(s.instances)-s.deletesDone, s.updatesDone,
		names, deletions,
		len(s.rec.Duplicates()),
		kills, s.k.kills, starts, len(exits), exits,
		s.restartsDone, s.k.apiserverRestarts, s.apiserverDown.Seconds(),
		wall.Round(time.Second))
}

func deleteInstance(ctx context.Context, inst *instance) error {
	return client.IgnoreNotFound(env.client.Delete(ctx, inst.object()))
}

// retry calls f until it succeeds, for at most two minutes: the apiserver may be restarting.
func retry(ctx context.Context, f func() error) error {
	deadline := time.Now().Add(2 * time.Minute)
	for {
		err := f()
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return errors.Join(err, ctx.Err())
		}
		time.Sleep(200 * time.Millisecond)
	}
}
