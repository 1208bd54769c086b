package main

import (
	"context"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/yaml"

	"github.com/kro-run/kro/bench/internal/proc"
	"github.com/kro-run/kro/bench/internal/scenario"
	"github.com/kro-run/kro/bench/internal/stats"
)

var (
	rgdGVR = schema.GroupVersionResource{Group: "kro.run", Version: "v1alpha1", Resource: "resourcegraphdefinitions"}
	crdGVR = schema.GroupVersionResource{Group: "apiextensions.k8s.io", Version: "v1", Resource: "customresourcedefinitions"}
	nsGVR  = schema.GroupVersionResource{Version: "v1", Resource: "namespaces"}
)

// contender is what runs the scenarios: kro, or the floor with some client settings.
type contender struct {
	name  string
	group string // API group of its instance kinds
	user  string // its identity in the audit log
	idle  time.Duration
	proc  *process
	res   *ContenderResult
}

// stop stops the contender's process, when it has one.
func (c *contender) stop() {
	if c.proc != nil {
		c.proc.stop()
	}
}

func (b *bench) runContender(ctx context.Context, name string) error {
	c := &contender{name: name}
	c.res = &ContenderResult{Name: name}
	b.results.add(c.res)
	switch name {
	case "kro":
		c.group, c.user, c.idle = scenario.KroGroup, "kro", b.cfg.S3Idle
		p, err := b.startKro(ctx, c.res, contenderRGDs)
		if p != nil {
			c.proc = p
			// c.proc, not p: S8 replaces the process.
			defer c.stop()
		}
		if err != nil {
			return err
		}
	case "floor", "floor-unthrottled", "floor-finalizer":
		c.group, c.user, c.idle = scenario.FloorGroup, "floor", b.cfg.FloorIdle
		if err := b.ensureFloorCRDs(ctx); err != nil {
			return err
		}
		qps := b.cfg.FloorQPS
		if name != "floor" {
			qps = -1
		}
		ready := filepath.Join(b.cfg.RunDir, name+".ready")
		_ = os.Remove(ready)
		args := []string{b.cfg.FloorBin, "--kubeconfig", b.cfg.FloorKubeconfig, "--qps", fmt.Sprint(qps),
			"--burst", fmt.Sprint(b.cfg.FloorBurst), "--workers", fmt.Sprint(b.cfg.FloorWorkers), "--ready-file", ready}
		if name == "floor-finalizer" {
			args = append(args, "--finalizer")
		}
		c.res.Command = strings.Join(args, " ")
		p, err := startProcess(b.cfg.RunDir, name, args...)
		if err != nil {
			return err
		}
		c.proc = p
		defer p.stop()
		if err := p.waitReady(ctx, 60*time.Second, fileExists(ready)); err != nil {
			return err
		}
		log.Printf("%s ready (pid %d)", name, p.pid())
	default:
		return fmt.Errorf("unknown contender %q (want kro, floor, floor-unthrottled or floor-finalizer)", name)
	}
	// Let start-up requests (informer lists, RGD reconcile) finish outside every window.
	sleep(ctx, b.cfg.Settle)
	c.res.S4.Baseline = b.memory(c)

	if err := b.s1(ctx, c); err != nil {
		return fmt.Errorf("S1: %w", err)
	}
	for i, n := range b.cfg.S2Counts {
		ns := fmt.Sprintf("%s-s2-%d", c.name, n)
		if err := b.s2(ctx, c, ns, n); err != nil {
			return fmt.Errorf("S2 (%d): %w", n, err)
		}
		if i == len(b.cfg.S2Counts)-1 {
			if err := b.s3(ctx, c, n); err != nil {
				return fmt.Errorf("S3: %w", err)
			}
			if err := b.s5(ctx, c, ns); err != nil {
				return fmt.Errorf("S5: %w", err)
			}
			if c.name == "kro" && b.cfg.S8 {
				if err := b.s8(ctx, c, ns); err != nil {
					return fmt.Errorf("S8: %w", err)
				}
			}
		}
		if err := b.s6(ctx, c, ns, n); err != nil {
			return fmt.Errorf("S6 (%d): %w", n, err)
		}
	}
	// The large count: linearity of the work per instance, memory per instance, teardown.
	if n := b.cfg.S2Large; n > 0 {
		ns := fmt.Sprintf("%s-s2-%d", c.name, n)
		if err := b.s2(ctx, c, ns, n); err != nil {
			return fmt.Errorf("S2 (%d): %w", n, err)
		}
		if err := b.s6(ctx, c, ns, n); err != nil {
			return fmt.Errorf("S6 (%d): %w", n, err)
		}
	}
	c.res.S4.Final = b.memory(c)
	return nil
}

// contenderRGDs are the RGDs of S1-S6 and S8, which kro and the floor both serve.
var contenderRGDs = []*scenario.Scenario{scenario.Chain, scenario.Five}

// memoryRGDs are the RGDs a fresh kro of S7 and S9 serves: the contenders' and S7's
// external-ref graph.
var memoryRGDs = []*scenario.Scenario{scenario.Chain, scenario.Five, scenario.External}

// startKro starts kro-controller, waits until it is ready and the RGDs of rgds are Active
// (they are created when missing). The process is returned (to be stopped) also when it did
// not become ready.
func (b *bench) startKro(ctx context.Context, res *ContenderResult, rgds []*scenario.Scenario) (*process, error) {
	args := []string{b.cfg.KroBin, "--kubeconfig", b.cfg.KroKubeconfig,
		"--metrics-bind-address", b.cfg.KroMetricsAddr, "--health-probe-bind-address", b.cfg.KroHealthAddr}
	args = append(args, strings.Fields(b.cfg.KroArgs)...)
	res.Command = strings.Join(args, " ")
	p, err := startProcess(b.cfg.RunDir, "kro-controller", args...)
	if err != nil {
		return nil, err
	}
	if err := p.waitReady(ctx, 60*time.Second, httpOK("http://"+b.cfg.KroHealthAddr+"/readyz")); err != nil {
		return p, err
	}
	log.Printf("kro-controller ready (pid %d)", p.pid())
	if err := b.createRGDs(ctx, rgds); err != nil {
		return p, err
	}
	return p, b.waitRGDs(ctx, rgds)
}

// settle is how long a scenario's window stays open after its end (trailing requests, and a
// controller's work after a burst, such as returning memory to the OS). It grows with the
// instance count above 1,000: Settle × n/1000 (20 s for 10,000 instances at the default 2 s).
func (b *bench) settle(n int) time.Duration {
	return settleFor(b.cfg.Settle, n)
}

func settleFor(base time.Duration, n int) time.Duration {
	if n <= 1000 {
		return base
	}
	return base * time.Duration(n) / 1000
}

// waitTimeout bounds the wait for n instances (S2: all ACTIVE; S6: all gone): a minute plus
// 300 ms per instance (51 min for 10,000; kro needs about 3 min here).
func waitTimeout(n int) time.Duration {
	return time.Minute + time.Duration(n)*300*time.Millisecond
}

func sleep(ctx context.Context, d time.Duration) {
	select {
	case <-ctx.Done():
	case <-time.After(d):
	}
}

func (b *bench) memory(c *contender) proc.Memory {
	m, err := proc.ReadMemory(c.proc.pid())
	if err != nil {
		log.Printf("reading memory of %s: %v", c.name, err)
	}
	return m
}

// --- windows: requests (audit log) and CPU time between two points --------------------------

type window struct {
	start                   time.Time
	api, etcd, controller   time.Duration
	apiErr, etcdErr, ctlErr error
	self, hostBusy          time.Duration
	hostErr                 error
}

// quiesce waits (up to 15 s) until the apiserver and etcd use less than 0.15 of a core, so one
// scenario's trailing work (the previous contender's deletions, compaction) does not land in
// the next one's window.
func (b *bench) quiesce(ctx context.Context) {
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) && ctx.Err() == nil {
		a0, _ := proc.CPUTime(b.cfg.APIServerPID)
		e0, _ := proc.CPUTime(b.cfg.EtcdPID)
		sleep(ctx, 500*time.Millisecond)
		a1, _ := proc.CPUTime(b.cfg.APIServerPID)
		e1, _ := proc.CPUTime(b.cfg.EtcdPID)
		if (a1-a0)+(e1-e0) < 75*time.Millisecond {
			return
		}
	}
}

func (b *bench) begin(c *contender) window {
	b.quiesce(context.Background())
	w := window{start: time.Now()}
	w.self, _ = proc.CPUTime(os.Getpid())
	w.hostBusy, _, w.hostErr = proc.HostCPU()
	w.api, w.apiErr = proc.CPUTime(b.cfg.APIServerPID)
	w.etcd, w.etcdErr = proc.CPUTime(b.cfg.EtcdPID)
	// A contender whose process starts inside the window (S8) starts at zero CPU time.
	if c.proc != nil {
		w.controller, w.ctlErr = proc.CPUTime(c.proc.pid())
	}
	return w
}

// end closes a window now: CPU deltas, and the contender's requests from the audit log.
func (b *bench) end(c *contender, w window) Usage {
	end := time.Now()
	u := Usage{Seconds: end.Sub(w.start).Seconds()}
	if t, err := proc.CPUTime(b.cfg.APIServerPID); err == nil && w.apiErr == nil {
		u.APIServerCPUms = stats.Ms(t - w.api)
	}
	if t, err := proc.CPUTime(b.cfg.EtcdPID); err == nil && w.etcdErr == nil {
		u.EtcdCPUms = stats.Ms(t - w.etcd)
	}
	if t, err := proc.CPUTime(c.proc.pid()); err == nil && w.ctlErr == nil {
		u.ControllerCPUms = stats.Ms(t - w.controller)
	}
	if busy, _, err := proc.HostCPU(); err == nil && w.hostErr == nil {
		self, _ := proc.CPUTime(os.Getpid())
		u.HostBusyCPUms = stats.Ms(busy - w.hostBusy)
		// Everything the machine did besides the apiserver, etcd, the contender and the driver:
		// other users' builds and tests. Divided by the window, it is the noise in cores.
		u.OtherCPUms = u.HostBusyCPUms - u.APIServerCPUms - u.EtcdCPUms - u.ControllerCPUms - stats.Ms(self-w.self)
		if u.OtherCPUms < 0 {
			u.OtherCPUms = 0
		}
		u.OtherCores = u.OtherCPUms / 1000 / u.Seconds
	}
	// The apiserver writes an audit event when the response completes: give the last ones a
	// moment to reach the file.
	time.Sleep(300 * time.Millisecond)
	if err := b.audit.Sync(); err != nil {
		log.Printf("reading the audit log: %v", err)
	}
	u.Requests = b.audit.Count(c.user, w.start, end)
	return u
}

// --- setup -------------------------------------------------------------------------------------

// createRGDs creates the RGDs of rgds that do not exist yet.
func (b *bench) createRGDs(ctx context.Context, rgds []*scenario.Scenario) error {
	for _, sc := range rgds {
		obj := &unstructured.Unstructured{}
		if err := yaml.Unmarshal([]byte(sc.RGD), &obj.Object); err != nil {
			return fmt.Errorf("RGD %s: %w", sc.Name, err)
		}
		_, err := b.dyn.Resource(rgdGVR).Create(ctx, obj, metav1.CreateOptions{})
		if err != nil && !apierrors.IsAlreadyExists(err) {
			return fmt.Errorf("creating RGD %s: %w", sc.Name, err)
		}
	}
	return nil
}

// waitRGDs waits until the RGDs of rgds are Active and their instance CRDs Established.
func (b *bench) waitRGDs(ctx context.Context, rgds []*scenario.Scenario) error {
	for _, sc := range rgds {
		err := poll(ctx, 60*time.Second, func() (bool, error) { return b.rgdActive(ctx, sc.Name) })
		if err != nil {
			return fmt.Errorf("RGD %s not Active: %w", sc.Name, err)
		}
		if err := b.waitEstablished(ctx, sc.CRDName(scenario.KroGroup)); err != nil {
			return err
		}
	}
	log.Printf("RGDs Active, CRDs established")
	return nil
}

// ensureFloorCRDs copies kro's generated CRDs into the floor's group, so kro and the floor use
// identical instance schemas.
func (b *bench) ensureFloorCRDs(ctx context.Context) error {
	for _, sc := range contenderRGDs {
		name := sc.CRDName(scenario.FloorGroup)
		if _, err := b.dyn.Resource(crdGVR).Get(ctx, name, metav1.GetOptions{}); err == nil {
			continue
		}
		src, err := b.dyn.Resource(crdGVR).Get(ctx, sc.CRDName(scenario.KroGroup), metav1.GetOptions{})
		if err != nil {
			return fmt.Errorf("the floor copies kro's generated CRD %s (run the kro contender first): %w", sc.CRDName(scenario.KroGroup), err)
		}
		spec, _, _ := unstructured.NestedMap(src.Object, "spec")
		spec["group"] = scenario.FloorGroup
		crd := &unstructured.Unstructured{Object: map[string]any{
			"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
			"metadata": map[string]any{"name": name}, "spec": spec,
		}}
		if _, err := b.dyn.Resource(crdGVR).Create(ctx, crd, metav1.CreateOptions{}); err != nil {
			return fmt.Errorf("creating CRD %s: %w", name, err)
		}
		if err := b.waitEstablished(ctx, name); err != nil {
			return err
		}
	}
	return nil
}

// rgdActive reports whether RGD name says it is Active (an earlier kro may have said so).
func (b *bench) rgdActive(ctx context.Context, name string) (bool, error) {
	rgd, err := b.dyn.Resource(rgdGVR).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return false, err
	}
	state, _, _ := unstructured.NestedString(rgd.Object, "status", "state")
	return state == "Active", nil
}

// established reports whether CRD name exists and is Established.
func (b *bench) established(ctx context.Context, name string) bool {
	crd, err := b.dyn.Resource(crdGVR).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return false
	}
	conds, _, _ := unstructured.NestedSlice(crd.Object, "status", "conditions")
	for _, c := range conds {
		m, _ := c.(map[string]any)
		if m["type"] == "Established" && m["status"] == "True" {
			return true
		}
	}
	return false
}

func (b *bench) waitEstablished(ctx context.Context, name string) error {
	err := poll(ctx, 60*time.Second, func() (bool, error) { return b.established(ctx, name), nil })
	if err != nil {
		return fmt.Errorf("CRD %s not established: %w", name, err)
	}
	return nil
}

// poll is only used for set-up; the measurements use watches.
func poll(ctx context.Context, timeout time.Duration, f func() (bool, error)) error {
	deadline := time.Now().Add(timeout)
	var last error
	for time.Now().Before(deadline) {
		ok, err := f()
		if ok {
			return nil
		}
		last = err
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
	if last != nil {
		return fmt.Errorf("timed out after %v: %w", timeout, last)
	}
	return fmt.Errorf("timed out after %v", timeout)
}

func (b *bench) createNamespace(ctx context.Context, ns string) error {
	obj := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "v1", "kind": "Namespace", "metadata": map[string]any{"name": ns},
	}}
	_, err := b.dyn.Resource(nsGVR).Create(ctx, obj, metav1.CreateOptions{})
	if apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("namespace %s exists: the bench needs a fresh control plane", ns)
	}
	return err
}

func instanceName(i int) string { return fmt.Sprintf("i-%04d", i) }

// parallel runs f(0..n-1) on the driver's bounded set of workers.
func (b *bench) parallel(n int, f func(i int)) { parallelN(b.cfg.CreateWorkers, n, f) }

// parallelN runs f(0..n-1) on that many workers.
func parallelN(workers, n int, f func(i int)) {
	var wg sync.WaitGroup
	next := make(chan int)
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				f(i)
			}
		}()
	}
	for i := 0; i < n; i++ {
		next <- i
	}
	close(next)
	wg.Wait()
}

// --- S1: chain latency ---------------------------------------------------------------------------

func (b *bench) s1(ctx context.Context, c *contender) error {
	sc, n := scenario.Chain, b.cfg.S1Count
	ns := c.name + "-s1"
	if err := b.createNamespace(ctx, ns); err != nil {
		return err
	}
	tr, err := newTracker(ctx, b.dyn, sc.GVR(c.group), ns, "i-")
	if err != nil {
		return err
	}
	defer tr.stop()
	log.Printf("[%s] S1: %d chain instances, one after another", c.name, n)
	w := b.begin(c)
	res := &Latency{Count: n}
	for i := 0; i < n; i++ {
		name := instanceName(i)
		t0 := time.Now()
		if _, err := b.dyn.Resource(sc.GVR(c.group)).Namespace(ns).Create(ctx, sc.Instance(c.group, ns, name, fmt.Sprintf("v%d", i)), metav1.CreateOptions{}); err != nil {
			return err
		}
		if err := tr.wait(ctx, 60*time.Second, func() bool { _, ok := tr.activeAt[name]; return ok }); err != nil {
			return fmt.Errorf("instance %s/%s not ACTIVE: %w", ns, name, err)
		}
		at, _ := tr.active(name)
		res.add(at.Sub(t0))
	}
	sleep(ctx, b.cfg.Settle)
	res.Usage = b.end(c, w)
	res.finish()
	c.res.S1 = res
	log.Printf("[%s] S1: p50 %.1f ms, p95 %.1f ms", c.name, res.Summary.P50, res.Summary.P95)
	return nil
}

// --- S2: throughput --------------------------------------------------------------------------------

func (b *bench) s2(ctx context.Context, c *contender, ns string, n int) error {
	sc := scenario.Five
	if err := b.createNamespace(ctx, ns); err != nil {
		return err
	}
	tr, err := newTracker(ctx, b.dyn, sc.GVR(c.group), ns, "i-")
	if err != nil {
		return err
	}
	defer tr.stop()
	log.Printf("[%s] S2: %d instances at once", c.name, n)
	starts := make([]time.Time, n)
	var mu sync.Mutex
	var createErrs []string
	w := b.begin(c)
	b.parallel(n, func(i int) {
		starts[i] = time.Now()
		_, err := b.dyn.Resource(sc.GVR(c.group)).Namespace(ns).Create(ctx, sc.Instance(c.group, ns, instanceName(i), fmt.Sprintf("v%d", i)), metav1.CreateOptions{})
		if err != nil {
			mu.Lock()
			createErrs = append(createErrs, err.Error())
			mu.Unlock()
		}
	})
	created := time.Now()
	res := &Throughput{Latency: Latency{Count: n}, CreateSeconds: created.Sub(w.start).Seconds()}
	if len(createErrs) > 0 {
		return fmt.Errorf("%d creates failed, first: %s", len(createErrs), createErrs[0])
	}
	timeout := waitTimeout(n)
	waitErr := tr.wait(ctx, timeout, func() bool { return len(tr.activeAt) == n })
	var last time.Time
	for i := 0; i < n; i++ {
		if at, ok := tr.active(instanceName(i)); ok {
			res.add(at.Sub(starts[i]))
			if at.After(last) {
				last = at
			}
		}
	}
	res.Active = tr.activeCount()
	if waitErr != nil {
		res.Error = fmt.Sprintf("%d of %d ACTIVE: %v", res.Active, n, waitErr)
		log.Printf("[%s] S2: %s", c.name, res.Error)
		last = time.Now()
	}
	res.Seconds = last.Sub(w.start).Seconds()
	res.PerSecond = float64(res.Active) / res.Seconds
	sleep(ctx, b.settle(n))
	res.Usage = b.end(c, w)
	res.finish()
	c.res.S2 = append(c.res.S2, res)
	c.res.S4.AfterS2 = append(c.res.S4.AfterS2, MemoryPoint{Instances: n + b.cfg.S1Count, Memory: b.memory(c)})
	log.Printf("[%s] S2: %d ACTIVE in %.2f s (%.1f/s), %.2f requests/instance", c.name, res.Active, res.Seconds, res.PerSecond, res.RequestsPerInstance)
	if waitErr != nil {
		return fmt.Errorf("%s", res.Error)
	}
	return nil
}

// --- S3: idle ---------------------------------------------------------------------------------------

func (b *bench) s3(ctx context.Context, c *contender, n int) error {
	log.Printf("[%s] S3: idle for %v", c.name, c.idle)
	w := b.begin(c)
	sleep(ctx, c.idle)
	u := b.end(c, w)
	c.res.S3 = &Idle{Usage: u}
	c.res.S4.AfterS3 = &MemoryPoint{Instances: n + b.cfg.S1Count, Memory: b.memory(c)}
	log.Printf("[%s] S3: %d writes, %d reads in %.0f s", c.name, u.Requests.Writes, u.Requests.Reads, u.Seconds)
	return ctx.Err()
}

// --- S5: drift repair ------------------------------------------------------------------------------

func (b *bench) s5(ctx context.Context, c *contender, ns string) error {
	sc := scenario.Five
	child, _ := sc.Child("cm1")
	tr, err := newTracker(ctx, b.dyn, child.GVR, ns, "i-")
	if err != nil {
		return err
	}
	defer tr.stop()
	n := b.cfg.S5Count
	log.Printf("[%s] S5: deleting a child of %d instances, one at a time", c.name, n)
	res := &Latency{Count: n}
	w := b.begin(c)
	for i := 0; i < n; i++ {
		name := scenario.ChildName(instanceName(i), child.ID)
		old := tr.uid(name)
		if old == "" {
			return fmt.Errorf("ConfigMap %s/%s does not exist", ns, name)
		}
		t0 := time.Now()
		err := b.dyn.Resource(child.GVR).Namespace(ns).Delete(ctx, name, metav1.DeleteOptions{})
		if err != nil {
			return err
		}
		if err := tr.wait(ctx, 60*time.Second, func() bool { u := tr.present[name]; return u != "" && u != old }); err != nil {
			return fmt.Errorf("ConfigMap %s/%s not recreated: %w", ns, name, err)
		}
		tr.mu.Lock()
		at := tr.addedAt[name]
		tr.mu.Unlock()
		res.add(at.Sub(t0))
	}
	sleep(ctx, b.cfg.Settle)
	res.Usage = b.end(c, w)
	res.finish()
	c.res.S5 = res
	log.Printf("[%s] S5: p50 %.1f ms, p95 %.1f ms", c.name, res.Summary.P50, res.Summary.P95)
	return nil
}

// --- S6: teardown ----------------------------------------------------------------------------------

func (b *bench) s6(ctx context.Context, c *contender, ns string, n int) error {
	sc := scenario.Five
	var children []*tracker
	want := map[schema.GroupVersionResource]int{}
	for _, ch := range sc.Children {
		want[ch.GVR]++
	}
	for gvr, per := range want {
		tr, err := newTracker(ctx, b.dyn, gvr, ns, "i-")
		if err != nil {
			return err
		}
		defer tr.stop()
		children = append(children, tr)
		if got := tr.count(); got != per*n {
			log.Printf("[%s] S6: %d %s before teardown, expected %d", c.name, got, gvr.Resource, per*n)
		}
	}
	insts, err := newTracker(ctx, b.dyn, sc.GVR(c.group), ns, "i-")
	if err != nil {
		return err
	}
	defer insts.stop()
	log.Printf("[%s] S6: deleting %d instances", c.name, n)
	res := &Teardown{Count: n}
	w := b.begin(c)
	bg := metav1.DeletePropagationBackground
	b.parallel(n, func(i int) {
		err := b.dyn.Resource(sc.GVR(c.group)).Namespace(ns).Delete(ctx, instanceName(i), metav1.DeleteOptions{PropagationPolicy: &bg})
		if err != nil && !apierrors.IsNotFound(err) {
			log.Printf("deleting %s/%s: %v", ns, instanceName(i), err)
		}
	})
	res.DeleteSeconds = time.Since(w.start).Seconds()
	timeout := waitTimeout(n)
	deadline := time.Now().Add(timeout)
	for _, tr := range children {
		if err := tr.wait(ctx, time.Until(deadline), func() bool { return len(tr.present) == 0 }); err != nil {
			res.Error = fmt.Sprintf("children left: %v", err)
			break
		}
	}
	res.ChildrenGoneSeconds = time.Since(w.start).Seconds()
	if err := insts.wait(ctx, time.Until(deadline)+time.Second, func() bool { return len(insts.present) == 0 }); err != nil && res.Error == "" {
		res.Error = fmt.Sprintf("instances left: %v", err)
	}
	res.InstancesGoneSeconds = time.Since(w.start).Seconds()
	sleep(ctx, b.settle(n))
	res.Usage = b.end(c, w)
	res.finish()
	c.res.S6 = append(c.res.S6, res)
	log.Printf("[%s] S6: children gone after %.2f s, instances after %.2f s", c.name, res.ChildrenGoneSeconds, res.InstancesGoneSeconds)
	if res.Error != "" {
		return fmt.Errorf("%s", res.Error)
	}
	return nil
}
