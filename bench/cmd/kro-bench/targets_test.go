package main

import (
	"math"
	"strings"
	"testing"
	"time"

	"github.com/kro-run/kro/bench/internal/audit"
	"github.com/kro-run/kro/bench/internal/proc"
	"github.com/kro-run/kro/bench/internal/stats"
)

const mb = 1 << 20

// result builds a result with S2/S6 at 1,000 and 10,000 instances and S3 (50 S1 instances).
func result(name string, s2s, ctl1k, ctl10k, api, rssS3, rss10k float64, s6children, s6instances float64) *ContenderResult {
	c := &ContenderResult{Name: name}
	c.S1 = &Latency{Count: 50, Summary: summaryP50(40), Usage: Usage{Requests: audit.Counts{Total: 200}}}
	for _, n := range []int{1000, 10000} {
		ctl := ctl1k
		if n == 10000 {
			ctl = ctl10k
		}
		c.S2 = append(c.S2, &Throughput{Latency: Latency{Count: n}, Seconds: s2s * float64(n) / 1000,
			PerInstance: PerInstance{ControllerCPUmsPerInst: ctl, APIServerCPUmsPerInst: api, RequestsPerInstance: 6}})
		c.S6 = append(c.S6, &Teardown{Count: n, ChildrenGoneSeconds: s6children, InstancesGoneSeconds: s6instances,
			PerInstance: PerInstance{APIServerCPUmsPerInst: api}})
	}
	c.S3 = &Idle{}
	c.S4.Baseline = proc.Memory{RSS: 50 * mb}
	c.S4.AfterS3 = &MemoryPoint{Instances: 1050, Memory: proc.Memory{RSS: int64(rssS3 * mb)}}
	c.S4.AfterS2 = []MemoryPoint{{Instances: 10050, Memory: proc.Memory{RSS: int64(rss10k * mb)}}}
	c.S5 = &Latency{Count: 20, Summary: summaryP50(10)}
	return c
}

func summaryP50(ms float64) stats.Summary { return stats.Summary{N: 10, P50: ms} }

func find(t *testing.T, ts []Target, prefix string) Target {
	t.Helper()
	for _, x := range ts {
		if strings.HasPrefix(x.Name, prefix) {
			return x
		}
	}
	t.Fatalf("no target %q", prefix)
	return Target{}
}

func TestEvaluate(t *testing.T) {
	r := &Results{Config: config{S1Count: 50, S2Counts: []int{1000}, S2Large: 10000}}
	// kro: S6 children 1.4x, instances 2.5x the floor's children; controller CPU 2x; RSS +15 MiB;
	// apiserver CPU 1.2x; CPU per instance 4.0 -> 4.6 ms (1.15x: not linear).
	r.add(result("kro", 20, 4, 4.6, 36, 95, 450, 14, 25))
	r.add(result("floor-unthrottled", 18, 2, 2, 30, 80, 400, 10, 1))
	r.add(result("floor", 40, 2, 2, 30, 80, 400, 30, 1)) // throttled: not the reference
	r.evaluate()

	for _, c := range []struct {
		prefix    string
		met       bool
		kro, lim  float64
		reference float64
	}{
		{"S6 1000: delete -> all children gone", true, 14, 15, 10},
		{"S6 1000: delete -> all instances gone", false, 25, 20, 10},
		{"S2 1000: controller CPU/instance", false, 4, 3, 2},
		{"S4 RSS with 1000 ACTIVE instances", true, 95, 100, 80},
		{"S2 1000: create -> all ACTIVE", true, 20, 27, 18},
		{"S2 1000: apiserver CPU/instance (create)", true, 36, 39, 30},
		{"S6 1000: apiserver CPU/instance (delete)", true, 36, 39, 30},
		{"S2 10000: controller CPU/instance <= 1.1x kro's at 1000", false, 4.6, 4.4, 4},
	} {
		x := find(t, r.Targets, c.prefix)
		if !x.Measured || x.Met != c.met || math.Abs(x.Kro-c.kro) > 1e-9 || math.Abs(x.Limit-c.lim) > 1e-9 || math.Abs(x.Ref-c.reference) > 1e-9 {
			t.Errorf("%s: %+v", c.prefix, x)
		}
		if x.Group != groupIssue {
			t.Errorf("%s: group %q", c.prefix, x.Group)
		}
	}
	rss := find(t, r.Targets, "S2 10000: RSS per live instance")
	// (450-50) MiB over 10,050 instances = 40.76 KiB; the floor's (400-50) MiB: 35.66 KiB.
	if !rss.Info || !rss.Measured || math.Abs(rss.Kro-400*1024/10050.0) > 1e-6 || math.Abs(rss.Ref-350*1024/10050.0) > 1e-6 {
		t.Errorf("RSS per instance: %+v", rss)
	}
	if s3 := find(t, r.Targets, "S3 idle: 0 writes"); !s3.Met || s3.Group != groupEarlier || !strings.HasSuffix(s3.line(), "kro 0.00 req; limit 0.00 req\n") {
		t.Errorf("S3: %+v", s3)
	}
	if s7 := find(t, r.Targets, "S7 RSS"); s7.Measured {
		t.Errorf("S7 without S7: %+v", s7)
	}
	text := r.targetsText()
	for _, want := range []string{
		"Targets of issue #13 (floor = floor-unthrottled)",
		"  ok    S6 1000: delete -> all children gone <= 1.5x floor",
		"kro 14.00 s; floor-unthrottled 10.00 s (1.40x); limit 15.00 s",
		"  MISS  S2 10000: controller CPU/instance <= 1.1x kro's at 1000 (linear)",
		"kro 4.60 ms; kro at 1000 4.00 ms (1.15x); limit 4.40 ms  [floor-unthrottled's own ratio: 1.00x]",
		"  info  S2 10000: RSS per live instance, reported",
		"  n/a   S7 RSS with unrelated CMs+Secrets <= without + 10 MiB\n",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("targets text lacks %q:\n%s", want, text)
		}
	}
	if strings.Index(text, "S6 1000: delete -> all children gone") > strings.Index(text, "Earlier targets") {
		t.Error("the issue's targets come first")
	}
}

func TestEvaluateSkippedAndFailed(t *testing.T) {
	// A quick run: no large count, only the throttled floor; kro's S2 did not finish.
	r := &Results{Config: config{S1Count: 50, S2Counts: []int{50}}}
	k := result("kro", 1, 4, 4, 30, 60, 0, 1, 1)
	k.S2[0].Count, k.S6[0].Count = 50, 50
	k.S2[0].Error = "49 of 50 ACTIVE"
	f := result("floor", 2, 2, 2, 30, 60, 0, 1, 1)
	f.S2[0].Count, f.S6[0].Count = 50, 50
	r.add(k)
	r.add(f)
	r.evaluate()
	if x := find(t, r.Targets, "S2 50: create -> all ACTIVE"); !x.Measured || x.Met || !strings.Contains(x.Note, "49 of 50") || x.RefName != "floor" {
		t.Errorf("failed S2: %+v", x)
	}
	if x := find(t, r.Targets, "S2 large count: controller CPU/instance"); x.Measured {
		t.Errorf("linearity without a large count: %+v", x)
	}
	if x := find(t, r.Targets, "S2 large count: RSS per live instance"); x.Measured {
		t.Errorf("RSS per instance without a large count: %+v", x)
	}
	issue := 0
	for _, x := range r.Targets {
		if x.Group == groupIssue {
			issue++
		}
	}
	// S6 children, S6 instances, controller CPU, RSS, S2 time (one count), apiserver CPU x2,
	// S7, linearity, RSS per instance.
	if issue != 10 {
		t.Errorf("%d targets of the issue, want 10", issue)
	}
}

func TestLinearity(t *testing.T) {
	c := &ContenderResult{S2: []*Throughput{
		{Latency: Latency{Count: 1000}, PerInstance: PerInstance{ControllerCPUmsPerInst: 4}},
		{Latency: Latency{Count: 10000}, PerInstance: PerInstance{ControllerCPUmsPerInst: 4.2}},
	}}
	if v := linearity(c, 1000, 10000); !v.ok || math.Abs(v.v-1.05) > 1e-9 {
		t.Fatalf("linearity = %+v", v)
	}
	if v := linearity(c, 1000, 5000); v.ok {
		t.Fatalf("linearity without the large count = %+v", v)
	}
	c.S2[0].ControllerCPUmsPerInst = 0
	if v := linearity(c, 1000, 10000); v.ok {
		t.Fatalf("linearity against zero = %+v", v)
	}
}

func TestCountsAndWindows(t *testing.T) {
	c := config{S2Counts: []int{500, 1000}, S2Large: 10000}
	if got := c.counts(); len(got) != 3 || got[2] != 10000 || c.refCount() != 1000 {
		t.Fatalf("counts %v, ref %d", got, c.refCount())
	}
	c.S2Large = 0
	if got := c.counts(); len(got) != 2 {
		t.Fatalf("counts %v", got)
	}
	if settleFor(2*time.Second, 1000) != 2*time.Second || settleFor(2*time.Second, 10000) != 20*time.Second || settleFor(2*time.Second, 50) != 2*time.Second {
		t.Fatal("settle does not scale with the count")
	}
	if waitTimeout(10000) != 51*time.Minute || waitTimeout(1000) != 6*time.Minute {
		t.Fatalf("wait timeouts %v %v", waitTimeout(10000), waitTimeout(1000))
	}
}

func TestPrintsZero(t *testing.T) {
	if !printsZero(0.0001, 2) || !printsZero(-0.004, 2) || printsZero(0.005, 2) || printsZero(1, 0) || !printsZero(0.4, 0) {
		t.Fatal("printsZero")
	}
}

func TestEvaluateRestart(t *testing.T) {
	eval := func(s8 *Restart) *Results {
		r := &Results{Config: config{S1Count: 50, S2Counts: []int{1000}}}
		k := result("kro", 20, 4, 4, 36, 95, 450, 14, 25)
		k.S8 = s8
		r.add(k)
		r.add(result("floor-unthrottled", 18, 2, 2, 30, 80, 400, 10, 1))
		r.evaluate()
		return r
	}
	restart := func(writes, reads int, err string) *Restart {
		s := &Restart{Instances: 1050, Error: err,
			Usage: Usage{Requests: audit.Counts{Total: writes + reads, Writes: writes, Reads: reads}}}
		s.PerInstance = perInstance(s.Usage, s.Instances)
		return s
	}
	const writes, reads = "S8 restart writes == 0", "S8 restart reads/instance"
	for _, c := range []struct {
		name      string
		s8        *Restart
		measured  bool
		met       bool
		note      string
		readsInst float64
	}{
		{"skipped", nil, false, false, "", 0},
		{"nothing written", restart(0, 5250, ""), true, true, "", 5},
		{"a status written again", restart(3, 5250, ""), true, false, "", 5},
		{"an instance no longer ACTIVE", restart(0, 5250, "1049 of 1050 instances ACTIVE"), true, false, "kro: 1049 of 1050", 5},
	} {
		r := eval(c.s8)
		w, rd := find(t, r.Targets, writes), find(t, r.Targets, reads)
		if w.Measured != c.measured || w.Met != c.met || w.Group != groupRestart || w.Limit != 0 || !strings.Contains(w.Note, c.note) {
			t.Errorf("%s: writes target %+v", c.name, w)
		}
		if !rd.Info || rd.Measured != c.measured || math.Abs(rd.Kro-c.readsInst) > 1e-9 || rd.Group != groupRestart {
			t.Errorf("%s: reads target %+v", c.name, rd)
		}
		text := r.targetsText()
		verdict := map[bool]string{true: "ok  ", false: "MISS"}[c.met]
		if !c.measured {
			verdict = "n/a "
		}
		if !strings.Contains(text, "\nS8 restart targets (kro alone)\n  "+verdict+"  "+writes) {
			t.Errorf("%s: targets text:\n%s", c.name, text)
		}
	}
}

// TestEvaluateFinalizerFloor: when the floor with kro's finalizer protocol ran, the rows
// compared with the floor say where kro stands against it too; the verdicts stay against the
// unthrottled floor. Without it, no such note.
func TestEvaluateFinalizerFloor(t *testing.T) {
	r := &Results{Config: config{S1Count: 50, S2Counts: []int{1000}, S2Large: 10000}}
	r.add(result("kro", 20, 4, 4.6, 36, 95, 450, 14, 25))
	r.add(result("floor-unthrottled", 18, 2, 2, 30, 80, 400, 8, 1))
	r.add(result("floor-finalizer", 19, 3.2, 3.2, 32, 85, 420, 12.5, 12.6))
	r.evaluate()
	for _, c := range []struct{ prefix, note string }{
		{"S6 1000: delete -> all children gone", "floor-finalizer 12.50 s: kro 1.12x of it"},
		{"S6 1000: delete -> all instances gone", "floor-finalizer 12.60 s: kro 1.98x of it"},
		{"S2 1000: controller CPU/instance", "floor-finalizer 3.20 ms: kro 1.25x of it"},
		{"S6 1000: apiserver CPU/instance (delete)", "floor-finalizer 32.00 ms: kro 1.12x of it"},
	} {
		x := find(t, r.Targets, c.prefix)
		if x.Note != c.note || !strings.HasPrefix(x.RefName, "floor-unthrottled") {
			t.Errorf("%s: note %q against %s, want %q against floor-unthrottled", c.prefix, x.Note, x.RefName, c.note)
		}
	}
	if x := find(t, r.Targets, "S2 10000: controller CPU/instance <= 1.1x"); !strings.HasSuffix(x.Note, "floor-finalizer's: 1.00x") {
		t.Errorf("linearity note %q, want the finalizer floor's own ratio too", x.Note)
	}
	if x := find(t, r.Targets, "S6 1000: delete -> all children gone"); x.Met {
		t.Errorf("S6 children gone 14 s met against the unthrottled floor's 8 s (limit 12 s)")
	}

	r = &Results{Config: config{S1Count: 50, S2Counts: []int{1000}, S2Large: 10000}}
	r.add(result("kro", 20, 4, 4.6, 36, 95, 450, 14, 25))
	r.add(result("floor-unthrottled", 18, 2, 2, 30, 80, 400, 8, 1))
	r.evaluate()
	if x := find(t, r.Targets, "S6 1000: delete -> all children gone"); x.Note != "" {
		t.Errorf("note %q without the finalizer floor", x.Note)
	}
}
