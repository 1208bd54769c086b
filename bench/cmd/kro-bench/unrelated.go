package main

import (
	"context"
	"encoding/base64"
	"fmt"
	"log"
	"reflect"
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

// S7 measures what objects kro does not own cost it: kro's memory with a few S2 instances and
// as many instances of S7's external-ref graph (scenario.External, which reads a ConfigMap by
// name and Secrets by label selector), once on the cluster as the other scenarios left it and
// once with many unrelated ConfigMaps and Secrets (the kinds of the instances' children and of
// the externalRefs) created before kro starts. A kro that caches every object of its child
// kinds, or every object of a kind an externalRef reads, grows with them; one that caches only
// what carries an ApplySet label, and of the externalRefs' kinds only what instances read
// (and the metadata of the rest), grows little.

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
	// Instances is the number of S2 instances (scenario.Five), ExternalInstances of
	// external-ref instances (scenario.External), in each run.
	Instances         int `json:"instances"`
	ExternalInstances int `json:"externalInstances"`
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
	res := &Unrelated{Objects: per, ObjectBytes: b.cfg.UnrelatedBytes, Instances: n, ExternalInstances: n}
	c := b.kroContender()
	c.res.S7 = res
	fail := func(err error) error {
		res.Error = err.Error()
		return err
	}

	log.Printf("[kro] S7: %d five + %d external-ref instances without unrelated objects", n, n)
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

	log.Printf("[kro] S7: %d five + %d external-ref instances with the unrelated objects", n, n)
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

// freshKinds are the instance kinds of a fresh run: S2's and S7's external-ref graph.
var freshKinds = []*scenario.Scenario{scenario.Five, scenario.External}

// freshRun creates namespace ns with the objects the external-ref instances read, starts a
// fresh kro, creates S7Instances instances of each of freshKinds in ns, waits until they are
// ACTIVE and kro has settled, reads its memory, checks what the external-ref instances wrote,
// then deletes the instances and the source objects and stops kro (S7, S9).
func (b *bench) freshRun(ctx context.Context, c *contender, ns string, run *UnrelatedRun) error {
	// Everything kro will find is there before it starts: the namespace, the source objects, the
	// RGDs and their CRDs.
	if err := b.createNamespace(ctx, ns); err != nil {
		return err
	}
	defer b.deleteExternalSources(ns)
	if err := b.createExternalSources(ctx, ns); err != nil {
		return err
	}
	if err := b.prepareMemoryRGDs(ctx); err != nil {
		return err
	}
	b.quiesce(ctx)
	start := time.Now()
	p, err := b.startKro(ctx, &ContenderResult{}, memoryRGDs)
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

	n, k := b.cfg.S7Instances, len(freshKinds)
	trackers := make([]*tracker, k)
	for j, sc := range freshKinds {
		tr, err := newTracker(ctx, b.dyn, sc.GVR(c.group), ns, "i-")
		if err != nil {
			return err
		}
		defer tr.stop()
		trackers[j] = tr
	}
	w := b.begin(c)
	// The kinds interleaved: instance i of each kind in turn.
	b.parallel(k*n, func(i int) {
		sc, name := freshKinds[i%k], instanceName(i/k)
		_, err := b.dyn.Resource(sc.GVR(c.group)).Namespace(ns).Create(ctx, sc.Instance(c.group, ns, name, fmt.Sprintf("v%d", i/k)), metav1.CreateOptions{})
		if err != nil {
			log.Printf("creating %s %s/%s: %v", sc.Kind, ns, name, err)
		}
	})
	deadline := time.Now().Add(2 * time.Minute)
	for j, tr := range trackers {
		if err := tr.wait(ctx, time.Until(deadline), func() bool { return len(tr.activeAt) == n }); err != nil {
			return fmt.Errorf("%d of %d %s instances ACTIVE: %w", tr.activeCount(), n, freshKinds[j].Kind, err)
		}
	}
	run.ActiveSeconds = time.Since(w.start).Seconds()
	sleep(ctx, b.cfg.S7Settle)
	run.Settled, _ = proc.ReadMemory(p.pid())
	run.Usage = b.end(c, w)
	log.Printf("[kro] %s: ready in %.2f s, ACTIVE in %.2f s; RSS %.1f MiB when ready, %.1f MiB settled (peak %.1f MiB)",
		ns, run.ReadySeconds, run.ActiveSeconds, mib(run.Ready.RSS), mib(run.Settled.RSS), mib(run.Settled.Peak))
	if err := b.checkExternalChildren(ctx, ns, n); err != nil {
		return err
	}

	bg := metav1.DeletePropagationBackground
	b.parallel(k*n, func(i int) {
		sc, name := freshKinds[i%k], instanceName(i/k)
		err := b.dyn.Resource(sc.GVR(c.group)).Namespace(ns).Delete(ctx, name, metav1.DeleteOptions{PropagationPolicy: &bg})
		if err != nil && !apierrors.IsNotFound(err) {
			log.Printf("deleting %s %s/%s: %v", sc.Kind, ns, name, err)
		}
	})
	for j, tr := range trackers {
		if err := tr.wait(ctx, time.Until(deadline.Add(2*time.Minute)), func() bool { return len(tr.present) == 0 }); err != nil {
			return fmt.Errorf("%s instances not gone: %w", freshKinds[j].Kind, err)
		}
	}
	return nil
}

// prepareMemoryRGDs makes the RGDs of a fresh run Active and their CRDs Established before
// the first fresh run: when one is missing, it creates it and starts a kro that is not
// measured until they are, then stops it. Every measured kro then finds the same RGDs and CRDs
// (the first one would otherwise also generate the external-ref graph's CRD).
func (b *bench) prepareMemoryRGDs(ctx context.Context) error {
	ready := true
	for _, sc := range memoryRGDs {
		active, _ := b.rgdActive(ctx, sc.Name)
		ready = ready && active && b.established(ctx, sc.CRDName(scenario.KroGroup))
	}
	if ready {
		return nil
	}
	log.Printf("[kro] a kro that is not measured makes the RGDs %v Active", rgdNames(memoryRGDs))
	if err := b.createRGDs(ctx, memoryRGDs); err != nil {
		return err
	}
	p, err := b.startKro(ctx, &ContenderResult{}, memoryRGDs)
	if p != nil {
		p.stop()
	}
	return err
}

func rgdNames(rgds []*scenario.Scenario) []string {
	var names []string
	for _, sc := range rgds {
		names = append(names, sc.Name)
	}
	return names
}

// createExternalSources creates in ns the objects the external-ref instances read.
func (b *bench) createExternalSources(ctx context.Context, ns string) error {
	for _, obj := range scenario.ExternalSources(ns) {
		gvr := configMapGVR
		if obj.GetKind() == "Secret" {
			gvr = secretGVR
		}
		if _, err := b.dyn.Resource(gvr).Namespace(ns).Create(ctx, obj, metav1.CreateOptions{}); err != nil {
			return fmt.Errorf("creating %s %s/%s: %w", obj.GetKind(), ns, obj.GetName(), err)
		}
	}
	return nil
}

// deleteExternalSources deletes the objects createExternalSources created in ns.
func (b *bench) deleteExternalSources(ns string) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for _, obj := range scenario.ExternalSources(ns) {
		gvr := configMapGVR
		if obj.GetKind() == "Secret" {
			gvr = secretGVR
		}
		if err := b.dyn.Resource(gvr).Namespace(ns).Delete(ctx, obj.GetName(), metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
			log.Printf("deleting %s %s/%s: %v", obj.GetKind(), ns, obj.GetName(), err)
		}
	}
}

// checkExternalChildren checks that each of the n external-ref instances in ns wrote its
// ConfigMap from the values of the objects it reads.
func (b *bench) checkExternalChildren(ctx context.Context, ns string, n int) error {
	sc := scenario.External
	child := sc.Children[0]
	for i := 0; i < n; i++ {
		name := scenario.ChildName(instanceName(i), child.ID)
		obj, err := b.dyn.Resource(child.GVR).Namespace(ns).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return fmt.Errorf("%s child of %s/%s: %w", sc.Kind, ns, instanceName(i), err)
		}
		got, _, _ := unstructured.NestedMap(obj.Object, "data")
		if want := scenario.ExternalData(fmt.Sprintf("v%d", i)); !reflect.DeepEqual(got, want) {
			return fmt.Errorf("%s %s/%s has data %v, want %v", child.Kind, ns, name, got, want)
		}
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
