package main

import (
	"context"
	"fmt"
	"log"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/kro-run/kro/bench/internal/proc"
	"github.com/kro-run/kro/bench/internal/scenario"
)

// S8 measures what a restart of kro costs with many instances ACTIVE: after S3 and S5 of the
// reference count, kro is stopped as the harness stops it (SIGTERM, wait) and started again
// on the same control plane, and measured until it makes no request for restartQuiet. Nothing
// changed while it was down, so it must write nothing; what it reads to find that out (a GET
// per object of a kind it caches as metadata only) is reported.

// restartQuiet is how long kro must make no request for S8 to call it quiet.
const restartQuiet = 3 * time.Second

// Restart is S8.
type Restart struct {
	// Instances is the number of live instances: the reference count's and S1's chain.
	Instances int `json:"instances"`
	// BeforeStop is the old process's memory just before it was stopped (its peak is the
	// peak of S1-S5).
	BeforeStop proc.Memory `json:"beforeStop"`
	// StopSeconds is SIGTERM -> the old process exited (outside the window).
	StopSeconds float64 `json:"stopSeconds"`
	// ReadySeconds is start -> the health probe answers (the RGDs' status still says Active
	// from the old process: it is no sign that the new one has started its controllers).
	ReadySeconds float64 `json:"readySeconds"`
	// QuietSeconds is start -> kro's last request before restartQuiet without one.
	QuietSeconds float64 `json:"quietSeconds"`
	// Before is what the driver listed before the stop, After what it listed after the window.
	Before Census `json:"before"`
	After  Census `json:"after"`
	// Changed counts the instances and children whose resourceVersion changed across S8.
	Changed int `json:"changed"`
	// Memory is the new process's memory after quiet (and the settle time).
	Memory proc.Memory `json:"memory"`
	// Usage is from the start of the new process until it was quiet for restartQuiet.
	Usage Usage `json:"usage"`
	PerInstance
	Error string `json:"error,omitempty"`
}

// Census is what the driver lists of the live instances and their children.
type Census struct {
	Instances int `json:"instances"`
	Active    int `json:"active"`
	Children  int `json:"children"`
	// versions maps "resource namespace/name" to its resourceVersion.
	versions map[string]string
}

// instanceSet is the instances of one scenario in one namespace.
type instanceSet struct {
	sc *scenario.Scenario
	ns string
}

// s8 restarts kro with the instances of S1 and of the reference count (in ns) live and ACTIVE.
// Every instance must still be ACTIVE afterwards with its children in place; when one is not,
// the error is recorded and the run goes on (S6 still tears the instances down).
func (b *bench) s8(ctx context.Context, c *contender, ns string) error {
	res := &Restart{}
	c.res.S8 = res
	fail := func(err error) error {
		res.Error = err.Error()
		return err
	}
	sets := []instanceSet{{scenario.Chain, c.name + "-s1"}, {scenario.Five, ns}}
	before, err := b.census(ctx, c, sets)
	if err != nil {
		return fail(fmt.Errorf("before the restart: %w", err))
	}
	res.Before, res.Instances = before, before.Instances
	log.Printf("[%s] S8: restarting kro with %d instances (%d ACTIVE), %d children", c.name, before.Instances, before.Active, before.Children)

	res.BeforeStop = b.memory(c)
	stopped := time.Now()
	c.stop()
	res.StopSeconds = time.Since(stopped).Seconds()
	c.proc = nil

	w := b.begin(c)
	p, err := b.startKro(ctx, &ContenderResult{}, contenderRGDs)
	if p != nil {
		c.proc = p
	}
	if err != nil {
		return fail(fmt.Errorf("starting kro again: %w", err))
	}
	res.ReadySeconds = time.Since(w.start).Seconds()
	last, quietErr := b.waitQuiet(ctx, c.user, w.start, waitTimeout(before.Instances))
	res.QuietSeconds = last.Sub(w.start).Seconds()
	res.Usage = b.end(c, w)
	res.PerInstance = perInstance(res.Usage, max(before.Instances, 1))
	if quietErr != nil {
		return fail(quietErr)
	}
	// The memory once kro has returned what the burst left to the OS, as S2's settle allows.
	sleep(ctx, b.cfg.Settle)
	res.Memory = b.memory(c)

	after, err := b.census(ctx, c, sets)
	if err != nil {
		return fail(fmt.Errorf("after the restart: %w", err))
	}
	res.After = after
	res.Changed = changedVersions(before, after)
	u := res.Usage.Requests
	log.Printf("[%s] S8: ready after %.2f s, quiet after %.2f s; %d requests (%d reads, %d writes), %d ACTIVE, %d children, %d changed",
		c.name, res.ReadySeconds, res.QuietSeconds, u.Total, u.Reads, u.Writes, after.Active, after.Children, res.Changed)
	if msg := censusDiff(before, after); msg != "" {
		res.Error = msg
		log.Printf("[%s] S8: %s", c.name, msg)
	}
	return ctx.Err()
}

// waitQuiet waits until user made no request for restartQuiet (after since), and returns when
// the API server received the last one (since when there was none).
func (b *bench) waitQuiet(ctx context.Context, user string, since time.Time, timeout time.Duration) (time.Time, error) {
	deadline := time.Now().Add(timeout)
	for {
		if err := b.audit.Sync(); err != nil {
			return since, fmt.Errorf("reading the audit log: %w", err)
		}
		last, ok := b.audit.Last(user, since)
		if !ok {
			last = since
		}
		if time.Since(last) >= restartQuiet {
			return last, nil
		}
		if time.Now().After(deadline) {
			return last, fmt.Errorf("%s not quiet for %v within %v (last request %.1f s after the start)",
				user, restartQuiet, timeout, last.Sub(since).Seconds())
		}
		select {
		case <-ctx.Done():
			return last, ctx.Err()
		case <-time.After(250 * time.Millisecond):
		}
	}
}

// census lists the instances of sets and their children (names starting with "i-").
func (b *bench) census(ctx context.Context, c *contender, sets []instanceSet) (Census, error) {
	cs := Census{versions: map[string]string{}}
	for _, s := range sets {
		insts, err := b.listInstances(ctx, s.sc.GVR(c.group), s.ns)
		if err != nil {
			return cs, err
		}
		for _, o := range insts {
			cs.Instances++
			if state, _, _ := unstructured.NestedString(o.Object, "status", "state"); state == "ACTIVE" {
				cs.Active++
			}
			cs.versions[versionKey(s.sc.GVR(c.group), o)] = o.GetResourceVersion()
		}
		for _, gvr := range childGVRs(s.sc) {
			children, err := b.listInstances(ctx, gvr, s.ns)
			if err != nil {
				return cs, err
			}
			cs.Children += len(children)
			for _, o := range children {
				cs.versions[versionKey(gvr, o)] = o.GetResourceVersion()
			}
		}
	}
	return cs, nil
}

// listInstances lists the objects of gvr in ns whose names start with "i-" (instances and
// their children).
func (b *bench) listInstances(ctx context.Context, gvr schema.GroupVersionResource, ns string) ([]unstructured.Unstructured, error) {
	list, err := b.dyn.Resource(gvr).Namespace(ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, fmt.Errorf("listing %s in %s: %w", gvr.Resource, ns, err)
	}
	var out []unstructured.Unstructured
	for _, o := range list.Items {
		if strings.HasPrefix(o.GetName(), "i-") {
			out = append(out, o)
		}
	}
	return out, nil
}

// childGVRs are the distinct kinds of a scenario's children.
func childGVRs(sc *scenario.Scenario) []schema.GroupVersionResource {
	var out []schema.GroupVersionResource
	seen := map[schema.GroupVersionResource]bool{}
	for _, ch := range sc.Children {
		if !seen[ch.GVR] {
			seen[ch.GVR] = true
			out = append(out, ch.GVR)
		}
	}
	return out
}

func versionKey(gvr schema.GroupVersionResource, o unstructured.Unstructured) string {
	return gvr.Resource + "." + gvr.Group + " " + o.GetNamespace() + "/" + o.GetName()
}

// changedVersions counts the objects of before that are gone or at another resourceVersion
// after, and the objects after that were not there before.
func changedVersions(before, after Census) int {
	n := 0
	for k, v := range before.versions {
		if after.versions[k] != v {
			n++
		}
	}
	for k := range after.versions {
		if _, ok := before.versions[k]; !ok {
			n++
		}
	}
	return n
}

// censusDiff says what a restart must not change and did ("" when nothing).
func censusDiff(before, after Census) string {
	var diffs []string
	if after.Instances != before.Instances || after.Active != after.Instances {
		diffs = append(diffs, fmt.Sprintf("%d of %d instances ACTIVE after the restart (%d of %d before)",
			after.Active, after.Instances, before.Active, before.Instances))
	}
	if after.Children != before.Children {
		diffs = append(diffs, fmt.Sprintf("%d children after the restart, %d before", after.Children, before.Children))
	}
	return strings.Join(diffs, "; ")
}
