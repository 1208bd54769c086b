package main

import (
	"context"
	"encoding/base64"
	"fmt"
	"log"
	"strings"
	"sync/atomic"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/kro-run/kro/bench/internal/proc"
	"github.com/kro-run/kro/bench/internal/scenario"
	"github.com/kro-run/kro/bench/internal/stats"
)

// S7 measures what objects kro does not own cost it: kro's memory with a few S2 instances,
// once on the cluster as the other scenarios left it and once with many unrelated ConfigMaps
// and Secrets (the kinds of the instances' children) created before kro starts. A kro that
// caches every object of its child kinds grows with them; one that caches only what carries
// an ApplySet label does not.

var (
	configMapGVR = schema.GroupVersionResource{Version: "v1", Resource: "configmaps"}
	secretGVR    = schema.GroupVersionResource{Version: "v1", Resource: "secrets"}
)

// unrelatedNamespace holds the unrelated objects.
const unrelatedNamespace = "s7-unrelated"

// Unrelated is S7.
type Unrelated struct {
	// Objects is the number of unrelated ConfigMaps, and of unrelated Secrets.
	Objects int `json:"objectsPerKind"`
	// ObjectBytes is the payload of each.
	ObjectBytes int `json:"objectBytes"`
	Instances   int `json:"instances"`
	// CreateSeconds is how long the driver took to create the unrelated objects.
	CreateSeconds float64      `json:"createSeconds"`
	Without       UnrelatedRun `json:"without"`
	With          UnrelatedRun `json:"with"`
	// DiffMiB is With.Settled.RSS - Without.Settled.RSS.
	DiffMiB float64 `json:"rssDiffMiB"`
	Error   string  `json:"error,omitempty"`
}

// UnrelatedRun is one kro process of S7 or S9.
type UnrelatedRun struct {
	// ReadySeconds is start -> the health probe answers and the RGDs say Active (they say so
	// from an earlier process already).
	ReadySeconds float64 `json:"readySeconds"`
	// StartCPUms is kro's CPU time from its start until Ready was read.
	StartCPUms float64 `json:"startCpuMs"`
	// Ready is kro's memory once it is ready and its RGDs are Active (informers listed).
	Ready proc.Memory `json:"ready"`
	// Settled is kro's memory after the instances are ACTIVE and kro has been quiet a while.
	Settled proc.Memory `json:"settled"`
	// ActiveSeconds is first create → all ACTIVE.
	ActiveSeconds float64 `json:"activeSeconds"`
	// Usage is from the first create until Settled was read.
	Usage Usage `json:"usage"`
}

// s7 runs kro without, then with the unrelated objects; it needs the kro contender's RGDs
// (it runs after the contenders) and removes what it created.
func (b *bench) s7(ctx context.Context) error {
	n, per := b.cfg.S7Instances, b.cfg.Unrelated
	res := &Unrelated{Objects: per, ObjectBytes: b.cfg.UnrelatedBytes, Instances: n}
	c := b.kroContender()
	c.res.S7 = res
	fail := func(err error) error {
		res.Error = err.Error()
		return err
	}

	log.Printf("[kro] S7: %d instances without unrelated objects", n)
	if err := b.freshRun(ctx, c, "kro-s7-without", &res.Without); err != nil {
		return fail(fmt.Errorf("without unrelated objects: %w", err))
	}

	log.Printf("[kro] S7: creating %d unrelated ConfigMaps and %d Secrets of %d bytes in %s", per, per, b.cfg.UnrelatedBytes, unrelatedNamespace)
	start := time.Now()
	if err := b.createUnrelated(ctx); err != nil {
		return fail(err)
	}
	res.CreateSeconds = time.Since(start).Seconds()
	defer b.deleteUnrelated()
	log.Printf("[kro] S7: created in %.1f s", res.CreateSeconds)

	log.Printf("[kro] S7: %d instances with the unrelated objects", n)
	if err := b.freshRun(ctx, c, "kro-s7-with", &res.With); err != nil {
		return fail(fmt.Errorf("with unrelated objects: %w", err))
	}
	res.DiffMiB = float64(res.With.Settled.RSS-res.Without.Settled.RSS) / (1 << 20)
	log.Printf("[kro] S7: RSS %.1f MiB without, %.1f MiB with the unrelated objects (%+.1f MiB)",
		mib(res.Without.Settled.RSS), mib(res.With.Settled.RSS), res.DiffMiB)
	return nil
}

func mib(b int64) float64 { return float64(b) / (1 << 20) }

// kroContender is kro for the memory scenarios (S7, S9), which run after the contenders and
// start a fresh kro for each measurement; their results go to kro's.
func (b *bench) kroContender() *contender {
	c := &contender{name: "kro", group: scenario.KroGroup, user: "kro", res: b.results.get("kro")}
	if c.res == nil {
		c.res = &ContenderResult{Name: "kro"}
		b.results.add(c.res)
	}
	return c
}

// freshRun starts a fresh kro, creates the S7 instances in ns, waits until they are ACTIVE
// and kro has settled, reads its memory, then deletes the instances and stops kro (S7, S9).
func (b *bench) freshRun(ctx context.Context, c *contender, ns string, run *UnrelatedRun) error {
	b.quiesce(ctx)
	start := time.Now()
	p, err := b.startKro(ctx, &ContenderResult{})
	if p != nil {
		defer p.stop()
	}
	if err != nil {
		return err
	}
	c.proc = p
	run.ReadySeconds = time.Since(start).Seconds()
	sleep(ctx, b.cfg.Settle)
	run.Ready, _ = proc.ReadMemory(p.pid())
	if cpu, err := proc.CPUTime(p.pid()); err == nil {
		run.StartCPUms = stats.Ms(cpu)
	}

	sc, n := scenario.Five, b.cfg.S7Instances
	if err := b.createNamespace(ctx, ns); err != nil {
		return err
	}
	tr, err := newTracker(ctx, b.dyn, sc.GVR(c.group), ns, "i-")
	if err != nil {
		return err
	}
	defer tr.stop()
	w := b.begin(c)
	b.parallel(n, func(i int) {
		_, err := b.dyn.Resource(sc.GVR(c.group)).Namespace(ns).Create(ctx, sc.Instance(c.group, ns, instanceName(i), fmt.Sprintf("v%d", i)), metav1.CreateOptions{})
		if err != nil {
			log.Printf("creating %s/%s: %v", ns, instanceName(i), err)
		}
	})
	if err := tr.wait(ctx, 2*time.Minute, func() bool { return len(tr.activeAt) == n }); err != nil {
		return fmt.Errorf("%d of %d instances ACTIVE: %w", tr.activeCount(), n, err)
	}
	run.ActiveSeconds = time.Since(w.start).Seconds()
	sleep(ctx, b.cfg.S7Settle)
	run.Settled, _ = proc.ReadMemory(p.pid())
	run.Usage = b.end(c, w)
	log.Printf("[kro] %s: ready in %.2f s, ACTIVE in %.2f s; RSS %.1f MiB when ready, %.1f MiB settled (peak %.1f MiB)",
		ns, run.ReadySeconds, run.ActiveSeconds, mib(run.Ready.RSS), mib(run.Settled.RSS), mib(run.Settled.Peak))

	bg := metav1.DeletePropagationBackground
	b.parallel(n, func(i int) {
		err := b.dyn.Resource(sc.GVR(c.group)).Namespace(ns).Delete(ctx, instanceName(i), metav1.DeleteOptions{PropagationPolicy: &bg})
		if err != nil && !apierrors.IsNotFound(err) {
			log.Printf("deleting %s/%s: %v", ns, instanceName(i), err)
		}
	})
	if err := tr.wait(ctx, 2*time.Minute, func() bool { return len(tr.present) == 0 }); err != nil {
		return fmt.Errorf("instances not gone: %w", err)
	}
	return nil
}

// createUnrelated creates the unrelated ConfigMaps and Secrets: no kro label, a payload of
// UnrelatedBytes each.
func (b *bench) createUnrelated(ctx context.Context) error {
	if err := b.createNamespace(ctx, unrelatedNamespace); err != nil {
		return err
	}
	payload := strings.Repeat("x", b.cfg.UnrelatedBytes)
	secret := base64.StdEncoding.EncodeToString([]byte(payload))
	var failed atomic.Int64
	var first atomic.Value
	create := func(gvr schema.GroupVersionResource, obj map[string]any) {
		_, err := b.dyn.Resource(gvr).Namespace(unrelatedNamespace).Create(ctx, &unstructured.Unstructured{Object: obj}, metav1.CreateOptions{})
		if err != nil {
			failed.Add(1)
			first.CompareAndSwap(nil, err.Error())
		}
	}
	b.parallel(2*b.cfg.Unrelated, func(i int) {
		name := fmt.Sprintf("unrelated-%05d", i/2)
		meta := map[string]any{"name": name, "namespace": unrelatedNamespace, "labels": map[string]any{"app": "unrelated"}}
		if i%2 == 0 {
			create(configMapGVR, map[string]any{"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta,
				"data": map[string]any{"payload": payload}})
			return
		}
		create(secretGVR, map[string]any{"apiVersion": "v1", "kind": "Secret", "metadata": meta, "type": "Opaque",
			"data": map[string]any{"payload": secret}})
	})
	if f := failed.Load(); f > 0 {
		return fmt.Errorf("%d unrelated objects not created, first: %v", f, first.Load())
	}
	return nil
}

// deleteUnrelated removes the unrelated objects (the namespace stays: no namespace controller
// runs to finish its deletion).
func (b *bench) deleteUnrelated() {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	for _, gvr := range []schema.GroupVersionResource{configMapGVR, secretGVR} {
		err := b.dyn.Resource(gvr).Namespace(unrelatedNamespace).DeleteCollection(ctx, metav1.DeleteOptions{},
			metav1.ListOptions{LabelSelector: "app=unrelated"})
		if err != nil {
			log.Printf("deleting the unrelated %s: %v", gvr.Resource, err)
		}
	}
}
