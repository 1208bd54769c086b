package main

import (
	"fmt"
	"io"
	"math"
	"os"
	"runtime"
	"sort"
	"strings"
	"time"

	"github.com/kro-run/kro/bench/internal/audit"
	"github.com/kro-run/kro/bench/internal/chart"
	"github.com/kro-run/kro/bench/internal/proc"
	"github.com/kro-run/kro/bench/internal/scenario"
	"github.com/kro-run/kro/bench/internal/stats"
)

// Results is everything one run measured (results.json).
type Results struct {
	Started      time.Time          `json:"started"`
	Finished     time.Time          `json:"finished"`
	Host         Host               `json:"host"`
	Config       config             `json:"config"`
	Contenders   []*ContenderResult `json:"contenders"`
	Targets      []Target           `json:"targets"`
	GoBenchmarks string             `json:"goBenchmarks,omitempty"`
}

// Host describes the machine.
type Host struct {
	LoadAvgStart float64 `json:"loadAvgStart"`
	LoadAvgEnd   float64 `json:"loadAvgEnd"`
	CPUs         int     `json:"cpus"`
	GoVersion    string  `json:"goVersion"`
	Hostname     string  `json:"hostname"`
}

// ContenderResult holds the scenarios of kro or one floor variant.
type ContenderResult struct {
	Name    string         `json:"name"`
	Command string         `json:"command"`
	S1      *Latency       `json:"s1ChainLatency,omitempty"`
	S2      []*Throughput  `json:"s2Throughput,omitempty"`
	S3      *Idle          `json:"s3Idle,omitempty"`
	S4      Memory         `json:"s4Memory"`
	S5      *Latency       `json:"s5DriftRepair,omitempty"`
	S6      []*Teardown    `json:"s6Teardown,omitempty"`
	S7      *Unrelated     `json:"s7Unrelated,omitempty"`
	S8      *Restart       `json:"s8Restart,omitempty"`
	S9      *UnrelatedCRDs `json:"s9UnrelatedCRDs,omitempty"`
}

// Usage is what one scenario cost: its contender's API requests (audit log) and CPU time.
type Usage struct {
	Seconds         float64      `json:"windowSeconds"`
	Requests        audit.Counts `json:"requests"`
	APIServerCPUms  float64      `json:"apiserverCpuMs"`
	EtcdCPUms       float64      `json:"etcdCpuMs"`
	ControllerCPUms float64      `json:"controllerCpuMs"`
	// HostBusyCPUms is the whole machine's busy CPU time in the window; OtherCPUms the part
	// used by processes other than the bench's (noise), OtherCores the same as average cores.
	HostBusyCPUms float64 `json:"hostBusyCpuMs"`
	OtherCPUms    float64 `json:"otherCpuMs"`
	OtherCores    float64 `json:"otherCores"`
}

// Latency is a latency distribution (S1, S5).
type Latency struct {
	Count     int             `json:"count"`
	Summary   stats.Summary   `json:"summary"`
	SamplesMs []float64       `json:"samplesMs"`
	Usage     Usage           `json:"usage"`
	samples   []time.Duration `json:"-"`
}

func (l *Latency) add(d time.Duration) {
	l.samples = append(l.samples, d)
	l.SamplesMs = append(l.SamplesMs, stats.Ms(d))
}

func (l *Latency) finish() { l.Summary = stats.Summarize(l.samples) }

// Throughput is S2 for one instance count.
type Throughput struct {
	Latency
	Active        int     `json:"active"`
	CreateSeconds float64 `json:"createSeconds"`
	// Seconds from the first create to the last instance seen ACTIVE.
	Seconds   float64 `json:"seconds"`
	PerSecond float64 `json:"instancesPerSecond"`
	Error     string  `json:"error,omitempty"`
	PerInstance
}

// PerInstance divides a scenario's usage by its instance count.
type PerInstance struct {
	RequestsPerInstance    float64            `json:"requestsPerInstance"`
	WritesPerInstance      float64            `json:"writesPerInstance"`
	ReadsPerInstance       float64            `json:"readsPerInstance"`
	ByKeyPerInstance       map[string]float64 `json:"byKeyPerInstance"`
	APIServerCPUmsPerInst  float64            `json:"apiserverCpuMsPerInstance"`
	EtcdCPUmsPerInst       float64            `json:"etcdCpuMsPerInstance"`
	ControllerCPUmsPerInst float64            `json:"controllerCpuMsPerInstance"`
}

func perInstance(u Usage, n int) PerInstance {
	f := float64(n)
	p := PerInstance{
		RequestsPerInstance: float64(u.Requests.Total) / f, WritesPerInstance: float64(u.Requests.Writes) / f,
		ReadsPerInstance: float64(u.Requests.Reads) / f, ByKeyPerInstance: map[string]float64{},
		APIServerCPUmsPerInst: u.APIServerCPUms / f, EtcdCPUmsPerInst: u.EtcdCPUms / f, ControllerCPUmsPerInst: u.ControllerCPUms / f,
	}
	for k, v := range u.Requests.ByKey {
		p.ByKeyPerInstance[k] = float64(v) / f
	}
	return p
}

func (t *Throughput) finish() {
	t.Latency.finish()
	t.PerInstance = perInstance(t.Usage, t.Count)
}

// Idle is S3.
type Idle struct {
	Usage Usage `json:"usage"`
}

// Memory is S4: RSS and peak RSS (VmRSS/VmHWM) of the contender's process.
type Memory struct {
	Baseline proc.Memory   `json:"baseline"`
	AfterS2  []MemoryPoint `json:"afterS2"`
	AfterS3  *MemoryPoint  `json:"afterS3,omitempty"`
	Final    proc.Memory   `json:"final"`
}

// MemoryPoint is the memory with Instances instances live.
type MemoryPoint struct {
	Instances int         `json:"instances"`
	Memory    proc.Memory `json:"memory"`
}

// Teardown is S6 for one instance count.
type Teardown struct {
	Count                int     `json:"count"`
	DeleteSeconds        float64 `json:"deleteRequestsSeconds"`
	ChildrenGoneSeconds  float64 `json:"childrenGoneSeconds"`
	InstancesGoneSeconds float64 `json:"instancesGoneSeconds"`
	Error                string  `json:"error,omitempty"`
	Usage                Usage   `json:"usage"`
	PerInstance
}

func (t *Teardown) finish() { t.PerInstance = perInstance(t.Usage, t.Count) }

func newResults(c config) *Results {
	h, _ := os.Hostname()
	return &Results{Started: time.Now(), Config: c, Host: Host{LoadAvgStart: proc.LoadAvg(), CPUs: runtime.NumCPU(), GoVersion: runtime.Version(), Hostname: h}}
}

func (r *Results) add(c *ContenderResult) { r.Contenders = append(r.Contenders, c) }

func (r *Results) get(name string) *ContenderResult {
	for _, c := range r.Contenders {
		if c.Name == name {
			return c
		}
	}
	return nil
}

func s2At(c *ContenderResult, n int) *Throughput {
	if c == nil {
		return nil
	}
	for _, t := range c.S2 {
		if t.Count == n {
			return t
		}
	}
	return nil
}

func s6At(c *ContenderResult, n int) *Teardown {
	if c == nil {
		return nil
	}
	for _, t := range c.S6 {
		if t.Count == n {
			return t
		}
	}
	return nil
}

// unrelatedTable is S7's section of the summary (kro only).
func (r *Results) unrelatedTable() string {
	kro := r.get("kro")
	if kro == nil || kro.S7 == nil {
		return ""
	}
	u := kro.S7
	var b strings.Builder
	fmt.Fprintf(&b, "\nS7 unrelated objects: kro without / with %d ConfigMaps + %d Secrets of %d bytes it does not own (created before kro starts)\n",
		u.Objects, u.Objects, u.ObjectBytes)
	fmt.Fprintf(&b, "S7 instances: %s\n", s7Instances(u.Instances, u.ExternalInstances))
	if u.Error != "" {
		fmt.Fprintf(&b, "  error: %s\n", u.Error)
	}
	fmt.Fprintf(&b, "%-44s %11s %11s %11s\n", "metric", "without", "with", "difference")
	fmt.Fprintf(&b, "%s\n", strings.Repeat("-", 80))
	line := func(label string, without, with float64, prec int) {
		fmt.Fprintf(&b, "%-44s %11.*f %11.*f %+11.*f\n", label, prec, without, prec, with, prec, with-without)
	}
	line("RSS when ready (MiB)", mib(u.Without.Ready.RSS), mib(u.With.Ready.RSS), 1)
	line(fmt.Sprintf("RSS settled, %s after ACTIVE (MiB)", r.Config.S7Settle), mib(u.Without.Settled.RSS), mib(u.With.Settled.RSS), 1)
	line("peak RSS, VmHWM (MiB)", mib(u.Without.Settled.Peak), mib(u.With.Settled.Peak), 1)
	line("first create -> all ACTIVE (s)", u.Without.ActiveSeconds, u.With.ActiveSeconds, 2)
	line("API requests", float64(u.Without.Usage.Requests.Total), float64(u.With.Usage.Requests.Total), 0)
	line("  reads", float64(u.Without.Usage.Requests.Reads), float64(u.With.Usage.Requests.Reads), 0)
	line("controller CPU (ms)", u.Without.Usage.ControllerCPUms, u.With.Usage.ControllerCPUms, 0)
	line("noise: other processes (cores)", u.Without.Usage.OtherCores, u.With.Usage.OtherCores, 2)
	fmt.Fprintf(&b, "target: RSS settled with <= without + 10 MiB (creating the unrelated objects took %.1f s)\n", u.CreateSeconds)
	return b.String()
}

// s7Instances names what a fresh kro of S7 (and S9) serves.
func s7Instances(five, external int) string {
	return fmt.Sprintf("%d five + %d external-ref (%s: ConfigMap %s by name and the %d Secrets labelled %s=true by selector, in the instances' namespace, created before kro starts)",
		five, external, scenario.External.Kind, scenario.ExternalSourceName, scenario.ExternalSecrets, scenario.ExternalSourceLabel)
}

// unrelatedCRDsTable is S9's section of the summary (kro only).
func (r *Results) unrelatedCRDsTable() string {
	kro := r.get("kro")
	if kro == nil || kro.S9 == nil {
		return ""
	}
	u := kro.S9
	var b strings.Builder
	fmt.Fprintf(&b, "\nS9 unrelated CRDs: kro with %d five + %d external-ref instances (S7's), without / with %d CRDs of other groups it does not use (created before kro starts; \"without\" is %s's run)\n",
		u.Instances, u.ExternalInstances, u.CRDs, u.WithoutFrom)
	fmt.Fprintf(&b, "S9 CRDs: openAPIV3Schema %.0f bytes each (asked %d), %d of %d with the last-applied annotation; %.1f MB of CRD JSON in all; created and Established in %.1f s, deleted in %.1f s\n",
		u.SchemaBytesMean, u.SchemaBytes, u.Annotated, u.CRDs, float64(u.CRDBytes)/1e6, u.CreateSeconds, u.DeleteSeconds)
	if u.Error != "" {
		fmt.Fprintf(&b, "S9 error: %s\n", u.Error)
	}
	if u.CleanupError != "" {
		fmt.Fprintf(&b, "S9 cleanup error: %s\n", u.CleanupError)
	}
	fmt.Fprintf(&b, "%-48s %11s %11s %11s\n", "metric", "without", "with", "difference")
	fmt.Fprintf(&b, "%s\n", strings.Repeat("-", 84))
	line := func(label string, without, with float64, prec int) {
		fmt.Fprintf(&b, "%-48s %11.*f %11.*f %+11.*f\n", "S9 "+label, prec, without, prec, with, prec, with-without)
	}
	line("start -> ready (s)", u.Without.ReadySeconds, u.With.ReadySeconds, 2)
	line("controller CPU, start to ready + settle (ms)", u.Without.StartCPUms, u.With.StartCPUms, 0)
	line("RSS when ready (MiB)", mib(u.Without.Ready.RSS), mib(u.With.Ready.RSS), 1)
	line(fmt.Sprintf("RSS settled, %s after ACTIVE (MiB)", r.Config.S7Settle), mib(u.Without.Settled.RSS), mib(u.With.Settled.RSS), 1)
	line("peak RSS, VmHWM (MiB)", mib(u.Without.Settled.Peak), mib(u.With.Settled.Peak), 1)
	line("first create -> all ACTIVE (s)", u.Without.ActiveSeconds, u.With.ActiveSeconds, 2)
	line("API requests", float64(u.Without.Usage.Requests.Total), float64(u.With.Usage.Requests.Total), 0)
	line("controller CPU, create to settled (ms)", u.Without.Usage.ControllerCPUms, u.With.Usage.ControllerCPUms, 0)
	line("noise: other processes (cores)", u.Without.Usage.OtherCores, u.With.Usage.OtherCores, 2)
	if u.With.Settled.RSS > 0 {
		fmt.Fprintf(&b, "S9 RSS settled difference: %+.1f MiB, %+.1f KiB per CRD", u.DiffMiB, u.KiBPerCRD)
		if u.CRDBytes > 0 {
			fmt.Fprintf(&b, ", %.2f bytes of RSS per byte of CRD JSON", float64(u.With.Settled.RSS-u.Without.Settled.RSS)/float64(u.CRDBytes))
		}
		b.WriteString("\n")
	}
	b.WriteString("S9 target: RSS settled with <= without + 10 MiB\n")
	return b.String()
}

// peakRSS is the highest VmHWM of the contender's processes in S1-S6: the one S8 stopped, and
// the one that ran to the end.
func peakRSS(c *ContenderResult) int64 {
	p := c.S4.Final.Peak
	if c.S8 != nil && c.S8.BeforeStop.Peak > p {
		p = c.S8.BeforeStop.Peak
	}
	return p
}

// restartTable is S8's section of the summary (kro only).
func (r *Results) restartTable() string {
	kro := r.get("kro")
	if kro == nil || kro.S8 == nil {
		return ""
	}
	s := kro.S8
	u := s.Usage
	var b strings.Builder
	fmt.Fprintf(&b, "\nS8 restart: kro stopped (SIGTERM) and started again with %d instances live (S2 %d and S1), nothing changed meanwhile; measured until %s without a request from kro\n",
		s.Instances, r.Config.refCount(), restartQuiet)
	if s.Error != "" {
		fmt.Fprintf(&b, "  error: %s\n", s.Error)
	}
	fmt.Fprintf(&b, "%-52s %11s %11s\n", "metric", "total", "/instance")
	fmt.Fprintf(&b, "%s\n", strings.Repeat("-", 76))
	line := func(label string, v float64, prec int, perInst bool) {
		l := fmt.Sprintf("%-52s %11.*f", label, prec, v)
		if perInst && s.Instances > 0 {
			l += fmt.Sprintf(" %11.3f", v/float64(s.Instances))
		}
		b.WriteString(l + "\n")
	}
	line("S8 old kro: SIGTERM -> exited (s)", s.StopSeconds, 3, false)
	line("S8 start -> ready: health probe (s)", s.ReadySeconds, 2, false)
	line(fmt.Sprintf("S8 start -> quiet: last request before %s (s)", restartQuiet), s.QuietSeconds, 2, false)
	line("S8 API requests", float64(u.Requests.Total), 0, true)
	line("S8   writes", float64(u.Requests.Writes), 0, true)
	line("S8   reads", float64(u.Requests.Reads), 0, true)
	for _, kc := range audit.Top(u.Requests.ByVerb) {
		line("S8     "+kc.Key, float64(kc.Count), 0, true)
	}
	line("S8 controller CPU (ms)", u.ControllerCPUms, 0, true)
	line("S8 apiserver CPU (ms)", u.APIServerCPUms, 0, true)
	line("S8 etcd CPU (ms)", u.EtcdCPUms, 0, true)
	line("S8 RSS of the old kro before the stop (MiB)", mib(s.BeforeStop.RSS), 1, false)
	line("S8 RSS after quiet (MiB)", mib(s.Memory.RSS), 1, false)
	line("S8 peak RSS of the new kro, VmHWM (MiB)", mib(s.Memory.Peak), 1, false)
	line("S8 noise: other processes (cores)", u.OtherCores, 2, false)
	fmt.Fprintf(&b, "S8 instances ACTIVE: %d of %d before, %d of %d after; children: %d before, %d after; objects at another resourceVersion: %d\n",
		s.Before.Active, s.Before.Instances, s.After.Active, s.After.Instances, s.Before.Children, s.After.Children, s.Changed)
	fmt.Fprintf(&b, "S8 kro's requests by verb and resource (window %.1f s)\n", u.Seconds)
	for _, kc := range audit.Top(u.Requests.ByKey) {
		fmt.Fprintf(&b, "  %-50s %11d %11.3f\n", kc.Key, kc.Count, float64(kc.Count)/float64(max(s.Instances, 1)))
	}
	return b.String()
}

// --- the table ------------------------------------------------------------------------------------

type row struct {
	label   string
	val     func(c *ContenderResult) (float64, bool)
	unit    string
	prec    int
	noRatio bool
}

// columns are the contenders that ran, kro first, then the unthrottled floor (the reference of
// the ratios and targets), then the throttled floor.
func (r *Results) columns() []*ContenderResult {
	var cols []*ContenderResult
	for _, n := range []string{"kro", "floor-unthrottled", "floor-finalizer", "floor"} {
		if c := r.get(n); c != nil {
			cols = append(cols, c)
		}
	}
	return cols
}

var shortName = map[string]string{"kro": "kro", "floor-unthrottled": "floor-unthr", "floor-finalizer": "floor-fin", "floor": "floor"}

func (r *Results) table() string {
	var b strings.Builder
	cols := r.columns()
	fmt.Fprintf(&b, "kro vs the floor — %s, %d CPUs, %s; floor-unthrottled = no client rate limit (the reference of the ratios and targets)",
		r.Started.Format(time.RFC3339), r.Host.CPUs, r.Host.GoVersion)
	if r.get("floor-finalizer") != nil {
		b.WriteString(", floor-fin = unthrottled with kro's finalizer protocol (finalizer before the children, removed after their deletion)")
	}
	if r.get("floor") != nil {
		fmt.Fprintf(&b, ", floor = same client QPS/burst/workers as kro (%.0f/%d/%d)", r.Config.FloorQPS, r.Config.FloorBurst, r.Config.FloorWorkers)
	}
	fmt.Fprintf(&b, "\n\nhost load average (1 min): %.2f at start, %.2f at end; noise rows show the CPU other processes used during a window\n", r.Host.LoadAvgStart, r.Host.LoadAvgEnd)
	if r.Config.KroBin != "" {
		fmt.Fprintf(&b, "kro binary: %s\n", r.Config.KroBin)
	}
	b.WriteString("\n")
	// Ratios of kro to every floor that ran.
	var ratioCols []int
	head := fmt.Sprintf("%-52s", "metric")
	for i, c := range cols {
		head += fmt.Sprintf(" %11s", shortName[c.Name])
		if c.Name != "kro" && cols[0].Name == "kro" {
			ratioCols = append(ratioCols, i)
		}
	}
	for _, i := range ratioCols {
		head += fmt.Sprintf(" %11s", "kro/"+strings.TrimPrefix(shortName[cols[i].Name], "floor-"))
	}
	b.WriteString(head + "\n")
	fmt.Fprintf(&b, "%s\n", strings.Repeat("-", len(head)))
	emit := func(rw row) {
		vals := make([]string, len(cols))
		v := make([]float64, len(cols))
		ok := make([]bool, len(cols))
		for i, c := range cols {
			vals[i] = "-"
			if v[i], ok[i] = rw.val(c); ok[i] {
				vals[i] = fmt.Sprintf("%.*f", rw.prec, v[i])
			}
		}
		label := rw.label
		if rw.unit != "" {
			label += " (" + rw.unit + ")"
		}
		line := fmt.Sprintf("%-52s", label)
		for _, s := range vals {
			line += fmt.Sprintf(" %11s", s)
		}
		for _, j := range ratioCols {
			s := "-"
			// No ratio of figures that print as zero (a watch renewed in a window of 10,000
			// instances is 0.0001 per instance).
			if !rw.noRatio && ok[0] && ok[j] && !printsZero(v[0], rw.prec) && !printsZero(v[j], rw.prec) {
				s = fmt.Sprintf("%.2fx", v[0]/v[j])
			}
			line += fmt.Sprintf(" %11s", s)
		}
		b.WriteString(strings.TrimRight(line, " ") + "\n")
	}
	emitp := func(label string, val func(c *ContenderResult) (float64, bool), unit string, prec int) {
		emit(row{label: label, val: val, unit: unit, prec: prec})
	}
	fromValue := func(get func(c *ContenderResult) value) func(c *ContenderResult) (float64, bool) {
		return func(c *ContenderResult) (float64, bool) { x := get(c); return x.v, x.ok }
	}
	lat := func(get func(c *ContenderResult) *Latency, pick func(s stats.Summary) float64) func(c *ContenderResult) (float64, bool) {
		return func(c *ContenderResult) (float64, bool) {
			l := get(c)
			if l == nil || l.Summary.N == 0 {
				return 0, false
			}
			return pick(l.Summary), true
		}
	}
	s1 := func(c *ContenderResult) *Latency { return c.S1 }
	s5 := func(c *ContenderResult) *Latency { return c.S5 }
	p50 := func(s stats.Summary) float64 { return s.P50 }
	p95 := func(s stats.Summary) float64 { return s.P95 }
	emitp(fmt.Sprintf("S1 chain create->ACTIVE p50 (n=%d)", r.Config.S1Count), lat(s1, p50), "ms", 1)
	emitp("S1 chain create->ACTIVE p95", lat(s1, p95), "ms", 1)
	emitp("S1 API requests/instance", func(c *ContenderResult) (float64, bool) {
		if c.S1 == nil {
			return 0, false
		}
		return float64(c.S1.Usage.Requests.Total) / float64(c.S1.Count), true
	}, "", 2)
	for _, n := range r.Config.counts() {
		t := func(f func(t *Throughput) float64) func(c *ContenderResult) (float64, bool) {
			return fromValue(func(c *ContenderResult) value { return s2Val(c, n, f) })
		}
		emitp(fmt.Sprintf("S2 %d: first create -> all ACTIVE", n), t(func(x *Throughput) float64 { return x.Seconds }), "s", 2)
		emitp(fmt.Sprintf("S2 %d: throughput", n), t(func(x *Throughput) float64 { return x.PerSecond }), "inst/s", 1)
		emitp(fmt.Sprintf("S2 %d: create->ACTIVE p50", n), t(func(x *Throughput) float64 { return x.Summary.P50 }), "ms", 0)
		emitp(fmt.Sprintf("S2 %d: create->ACTIVE p95", n), t(func(x *Throughput) float64 { return x.Summary.P95 }), "ms", 0)
		emitp(fmt.Sprintf("S2 %d: API requests/instance", n), t(func(x *Throughput) float64 { return x.RequestsPerInstance }), "", 2)
		emitp(fmt.Sprintf("S2 %d:   writes/instance", n), t(func(x *Throughput) float64 { return x.WritesPerInstance }), "", 2)
		emitp(fmt.Sprintf("S2 %d:   reads/instance", n), t(func(x *Throughput) float64 { return x.ReadsPerInstance }), "", 2)
		emitp(fmt.Sprintf("S2 %d: apiserver CPU/instance", n), t(func(x *Throughput) float64 { return x.APIServerCPUmsPerInst }), "ms", 2)
		emitp(fmt.Sprintf("S2 %d: etcd CPU/instance", n), t(func(x *Throughput) float64 { return x.EtcdCPUmsPerInst }), "ms", 2)
		emitp(fmt.Sprintf("S2 %d: controller CPU/instance", n), t(func(x *Throughput) float64 { return x.ControllerCPUmsPerInst }), "ms", 2)
		if n == r.Config.S2Large && n > 0 && r.Config.refCount() > 0 {
			ref := r.Config.refCount()
			emit(row{label: fmt.Sprintf("S2 %d: controller CPU/instance / at %d (linearity)", n, ref), prec: 2, noRatio: true,
				val: fromValue(func(c *ContenderResult) value { return linearity(c, ref, n) })})
		}
		emitp(fmt.Sprintf("S4 RSS after S2 %d", n), fromValue(func(c *ContenderResult) value {
			return rssAfterS2(c, n, r.Config.S1Count)
		}), "MiB", 1)
		if n == r.Config.S2Large && n > 0 {
			emitp(fmt.Sprintf("S4 RSS per live instance after S2 %d", n), fromValue(func(c *ContenderResult) value {
				return rssPerInstance(c, n, r.Config.S1Count)
			}), "KiB", 1)
		}
	}
	idle := func(f func(u Usage) float64) func(c *ContenderResult) (float64, bool) {
		return func(c *ContenderResult) (float64, bool) {
			if c.S3 == nil {
				return 0, false
			}
			return f(c.S3.Usage), true
		}
	}
	emit(row{label: "S3 idle: window", val: idle(func(u Usage) float64 { return u.Seconds }), unit: "s", noRatio: true})
	emitp("S3 idle: writes", idle(func(u Usage) float64 { return float64(u.Requests.Writes) }), "", 0)
	emitp("S3 idle: reads", idle(func(u Usage) float64 { return float64(u.Requests.Reads) }), "", 0)
	emitp("S3 idle: apiserver CPU", idle(func(u Usage) float64 { return u.APIServerCPUms }), "ms", 0)
	emitp("S3 idle: controller CPU", idle(func(u Usage) float64 { return u.ControllerCPUms }), "ms", 0)
	emitp("S4 RSS at start", func(c *ContenderResult) (float64, bool) {
		return mib(c.S4.Baseline.RSS), c.S4.Baseline.RSS > 0
	}, "MiB", 1)
	emitp(fmt.Sprintf("S4 RSS after S3 (%d ACTIVE instances)", r.Config.refCount()), fromValue(rssAfterS3), "MiB", 1)
	emitp("S4 peak RSS (VmHWM)", func(c *ContenderResult) (float64, bool) {
		p := peakRSS(c)
		return mib(p), p > 0
	}, "MiB", 1)
	emitp("S4 RSS growth per live instance after S3", func(c *ContenderResult) (float64, bool) {
		if c.S4.AfterS3 == nil || c.S4.AfterS3.Instances == 0 {
			return 0, false
		}
		return float64(c.S4.AfterS3.Memory.RSS-c.S4.Baseline.RSS) / float64(c.S4.AfterS3.Instances) / 1024, true
	}, "KiB", 1)
	emitp(fmt.Sprintf("S5 drift repair p50 (n=%d)", r.Config.S5Count), lat(s5, p50), "ms", 1)
	emitp("S5 drift repair p95", lat(s5, p95), "ms", 1)
	for _, n := range r.Config.counts() {
		t := func(f func(t *Teardown) float64) func(c *ContenderResult) (float64, bool) {
			return fromValue(func(c *ContenderResult) value { return s6Val(c, n, f) })
		}
		emitp(fmt.Sprintf("S6 %d: delete -> all children gone", n), t(func(x *Teardown) float64 { return x.ChildrenGoneSeconds }), "s", 2)
		emitp(fmt.Sprintf("S6 %d: delete -> all instances gone", n), t(func(x *Teardown) float64 { return x.InstancesGoneSeconds }), "s", 2)
		emitp(fmt.Sprintf("S6 %d: API requests/instance", n), t(func(x *Teardown) float64 { return x.RequestsPerInstance }), "", 2)
		emitp(fmt.Sprintf("S6 %d: apiserver CPU/instance", n), t(func(x *Teardown) float64 { return x.APIServerCPUmsPerInst }), "ms", 2)
		emitp(fmt.Sprintf("S6 %d: controller CPU/instance", n), t(func(x *Teardown) float64 { return x.ControllerCPUmsPerInst }), "ms", 2)
	}

	noise := func(label string, get func(c *ContenderResult) *Usage) {
		emit(row{label: "noise: other processes during " + label, val: func(c *ContenderResult) (float64, bool) {
			u := get(c)
			if u == nil {
				return 0, false
			}
			return u.OtherCores, true
		}, unit: "cores", prec: 2, noRatio: true})
	}
	noise("S1", func(c *ContenderResult) *Usage {
		if c.S1 == nil {
			return nil
		}
		return &c.S1.Usage
	})
	for _, n := range r.Config.counts() {
		noise(fmt.Sprintf("S2 %d", n), func(c *ContenderResult) *Usage {
			if t := s2At(c, n); t != nil {
				return &t.Usage
			}
			return nil
		})
	}
	noise("S5", func(c *ContenderResult) *Usage {
		if c.S5 == nil {
			return nil
		}
		return &c.S5.Usage
	})
	for _, n := range r.Config.counts() {
		noise(fmt.Sprintf("S6 %d", n), func(c *ContenderResult) *Usage {
			if t := s6At(c, n); t != nil {
				return &t.Usage
			}
			return nil
		})
	}

	b.WriteString(r.unrelatedTable())
	b.WriteString(r.unrelatedCRDsTable())
	b.WriteString(r.restartTable())
	b.WriteString(r.targetsText())

	// Where the requests go: per instance, by verb and resource, for the reference count.
	fl := r.refFloor()
	flName := "floor"
	if fl != nil {
		flName = fl.Name
	}
	perInst := func(c *ContenderResult) map[string]float64 {
		if c == nil || c.S1 == nil {
			return nil
		}
		return perInstance(c.S1.Usage, c.S1.Count).ByKeyPerInstance
	}
	fmt.Fprintf(&b, "\nAPI requests per instance by verb and resource, S1 chain (kro | %s)\n", flName)
	b.WriteString(breakdown(perInst(r.get("kro")), perInst(fl)))
	if n := r.Config.refCount(); n > 0 {
		fmt.Fprintf(&b, "\nAPI requests per instance by verb and resource, S2 %d (kro | %s)\n", n, flName)
		b.WriteString(breakdown(byKey(s2At(r.get("kro"), n)), byKey(s2At(fl, n))))
		fmt.Fprintf(&b, "\nAPI requests per instance by verb and resource, S6 %d (kro | %s)\n", n, flName)
		var k6, f6 map[string]float64
		if x := s6At(r.get("kro"), n); x != nil {
			k6 = x.ByKeyPerInstance
		}
		if x := s6At(fl, n); x != nil {
			f6 = x.ByKeyPerInstance
		}
		b.WriteString(breakdown(k6, f6))
	}
	if k := r.get("kro"); k != nil && k.S3 != nil && k.S3.Usage.Requests.Total > 0 {
		fmt.Fprintf(&b, "\nkro's requests while idle (S3, %.0f s)\n", k.S3.Usage.Seconds)
		for _, kc := range audit.Top(k.S3.Usage.Requests.ByKey) {
			fmt.Fprintf(&b, "  %-50s %d\n", kc.Key, kc.Count)
		}
	}
	if k := r.get("kro"); k != nil && k.S5 != nil {
		fmt.Fprintf(&b, "\nkro's requests during S5 (%d repairs)\n", k.S5.Count)
		for _, kc := range audit.Top(k.S5.Usage.Requests.ByKey) {
			fmt.Fprintf(&b, "  %-50s %d\n", kc.Key, kc.Count)
		}
	}
	return b.String()
}

// printsZero reports whether v prints as zero with prec decimals.
func printsZero(v float64, prec int) bool {
	return math.Abs(v) < 0.5*math.Pow(10, -float64(prec))
}

func byKey(t *Throughput) map[string]float64 {
	if t == nil {
		return nil
	}
	return t.ByKeyPerInstance
}

// instanceKey names the instance resources of either group alike, so kro's and the floor's
// rows line up.
func instanceKey(k string) string {
	for _, g := range []string{".floor.bench.kro.run", ".kro.run"} {
		for _, kind := range []string{"benchfives", "benchchains"} {
			k = strings.Replace(k, kind+g, kind+" (instances)", 1)
		}
	}
	return k
}

func normalize(m map[string]float64) map[string]float64 {
	out := map[string]float64{}
	for k, v := range m {
		out[instanceKey(k)] += v
	}
	return out
}

func breakdown(kro, floor map[string]float64) string {
	kro, floor = normalize(kro), normalize(floor)
	keys := map[string]bool{}
	for k := range kro {
		keys[k] = true
	}
	for k := range floor {
		keys[k] = true
	}
	list := make([]string, 0, len(keys))
	for k := range keys {
		list = append(list, k)
	}
	sort.Slice(list, func(i, j int) bool {
		if kro[list[i]] != kro[list[j]] {
			return kro[list[i]] > kro[list[j]]
		}
		return list[i] < list[j]
	})
	var b strings.Builder
	for _, k := range list {
		fmt.Fprintf(&b, "  %-50s %8.3f | %8.3f\n", k, kro[k], floor[k])
	}
	return b.String()
}

// --- the chart ------------------------------------------------------------------------------------

var colors = map[string]string{"kro": "#d62728", "floor": "#1f77b4", "floor-unthrottled": "#2ca02c", "floor-finalizer": "#9467bd"}

func (r *Results) chart(w io.Writer) error {
	var panels []chart.Panel
	series := func(get func(c *ContenderResult) *Latency) []chart.Series {
		var out []chart.Series
		for _, c := range r.Contenders {
			if l := get(c); l != nil {
				out = append(out, chart.Series{Name: c.Name, Color: colors[c.Name], Samples: l.samples})
			}
		}
		return out
	}
	panels = append(panels, chart.Panel{Title: fmt.Sprintf("S1 chain: create -> ACTIVE, %d sequential instances", r.Config.S1Count),
		Series: series(func(c *ContenderResult) *Latency { return c.S1 })})
	for _, n := range r.Config.counts() {
		panels = append(panels, chart.Panel{Title: fmt.Sprintf("S2: create -> ACTIVE, %d instances at once", n),
			Series: series(func(c *ContenderResult) *Latency {
				if t := s2At(c, n); t != nil {
					return &t.Latency
				}
				return nil
			})})
	}
	panels = append(panels, chart.Panel{Title: fmt.Sprintf("S5 drift: child delete -> recreated, %d repairs", r.Config.S5Count),
		Series: series(func(c *ContenderResult) *Latency { return c.S5 })})
	return chart.Write(w, "kro vs the floor: latency distributions (empirical CDF) — "+r.Started.Format(time.RFC3339), panels)
}
