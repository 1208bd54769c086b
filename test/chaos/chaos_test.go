package chaos

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	"github.com/kro-run/kro/api/v1alpha1"
)

var namespaces = []string{"chaos-0", "chaos-1", "chaos-2"}

// TestChaos creates instances, deletes a random half and changes the shards of some of the
// others while kro-controller is SIGKILLed, the kube-apiserver restarted and the network
// between them cut at random points, then checks the end state. See the package doc for the
// knobs.
func TestChaos(t *testing.T) {
	if testing.Short() {
		t.Skip("chaos test skipped in -short mode")
	}
	k, err := knobsFromEnv()
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	t.Logf("seed %d (replay the same choices with CHAOS_SEED=%d CHAOS_INSTANCES=%d CHAOS_KILLS=%d CHAOS_APISERVER_RESTARTS=%d CHAOS_PARTITIONS=%d)",
		k.seed, k.seed, k.instances, k.kills, k.apiserverRestarts, k.partitions)
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
		if _, _, exits := ctl.Counts(); len(exits) > 0 {
			gomega.StopTrying(fmt.Sprintf("kro-controller exits by itself: %v", exits)).Now()
		}
		got := &v1alpha1.ResourceGraphDefinition{}
		g.Expect(env.client.Get(ctx, client.ObjectKey{Name: rgdName}, got)).To(gomega.Succeed())
		g.Expect(got.Status.State).To(gomega.Equal(v1alpha1.ResourceGraphDefinitionStateActive), "conditions: %s", describeConditions(got.Status.Conditions))
	}).WithTimeout(2 * time.Minute).WithPolling(200 * time.Millisecond).Should(gomega.Succeed())
	if err := rec.Watch(ctx, instanceGVR, instanceGVK.Kind); err != nil {
		t.Fatal(err)
	}

	s := newScenario(t, k, rec, ctl, env.proxy, cancel)
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
