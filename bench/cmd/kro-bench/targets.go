package main

import (
	"fmt"
	"strings"
)

// Target is one performance target and whether kro met it. Its limit is computed from a
// reference figure: the floor's (the unthrottled floor when it ran) or, for linearity, kro's
// own figure at the reference count.
type Target struct {
	// Group is "issue #13" for the rows of the issue's table, "earlier" for the older targets,
	// "restart" for S8's, "crds" for S9's.
	Group string  `json:"group"`
	Name  string  `json:"name"`
	Unit  string  `json:"unit"`
	Kro   float64 `json:"kro"`
	// Ref is the figure the limit is computed from, RefName what it is.
	Ref     float64 `json:"ref"`
	RefName string  `json:"refName"`
	Limit   float64 `json:"limit"`
	// Measured is false when kro's or the reference figure is missing (a skipped scenario).
	Measured bool `json:"measured"`
	Met      bool `json:"met"`
	// Info targets are reported without a limit.
	Info bool   `json:"info,omitempty"`
	Note string `json:"note,omitempty"`
}

const (
	groupIssue   = "issue #13"
	groupEarlier = "earlier"
	groupRestart = "restart"
	groupCRDs    = "crds"
)

// limit is ref×factor + plus.
type limit struct{ factor, plus float64 }

func times(f float64) limit { return limit{factor: f} }
func plus(p float64) limit  { return limit{factor: 1, plus: p} }

func (l limit) String() string {
	if l.plus != 0 {
		return fmt.Sprintf("+ %g", l.plus)
	}
	return fmt.Sprintf("%gx", l.factor)
}

// value is a measured figure; err is set when the scenario it comes from did not complete.
type value struct {
	v   float64
	ok  bool
	err string
}

func val(v float64) value { return value{v: v, ok: true} }

// check builds a target from kro's figure, the reference figure and the limit.
func check(group, name, unit string, kro, ref value, refName string, l limit) Target {
	t := Target{Group: group, Name: name, Unit: unit, RefName: refName, Measured: kro.ok && ref.ok}
	if !t.Measured {
		return t
	}
	t.Kro, t.Ref = kro.v, ref.v
	t.Limit = ref.v*l.factor + l.plus
	t.Met = t.Kro <= t.Limit
	switch {
	case ref.err != "":
		// A reference that did not complete is no reference.
		t.Measured, t.Met, t.Note = false, false, refName+": "+ref.err
	case kro.err != "":
		// kro did not complete: a miss, whatever its partial figure.
		t.Met, t.Note = false, "kro: "+kro.err
	}
	return t
}

// info builds a reported-only target.
func info(group, name, unit string, kro, ref value, refName string) Target {
	t := Target{Group: group, Name: name, Unit: unit, RefName: refName, Info: true, Measured: kro.ok}
	t.Kro, t.Ref = kro.v, ref.v
	if !ref.ok {
		t.RefName = ""
	}
	if kro.err != "" {
		t.Note = "kro: " + kro.err
	}
	return t
}

// refCount is the instance count the targets are stated for: the last of the S2 counts (1,000
// by default), after which S3 and S5 run.
func (c config) refCount() int {
	if len(c.S2Counts) == 0 {
		return 0
	}
	return c.S2Counts[len(c.S2Counts)-1]
}

// counts are all S2/S6 counts in the order they run: the S2 counts, then the large one.
func (c config) counts() []int {
	out := append([]int(nil), c.S2Counts...)
	if c.S2Large > 0 {
		out = append(out, c.S2Large)
	}
	return out
}

// refFloor is the floor the targets are computed against: the unthrottled floor, or the
// throttled one when only that ran.
func (r *Results) refFloor() *ContenderResult {
	if f := r.get("floor-unthrottled"); f != nil {
		return f
	}
	return r.get("floor")
}

func s2Val(c *ContenderResult, n int, f func(*Throughput) float64) value {
	t := s2At(c, n)
	if t == nil {
		return value{}
	}
	return value{v: f(t), ok: true, err: t.Error}
}

func s6Val(c *ContenderResult, n int, f func(*Teardown) float64) value {
	t := s6At(c, n)
	if t == nil {
		return value{}
	}
	return value{v: f(t), ok: true, err: t.Error}
}

// linearity is the controller CPU per instance at the large count divided by the one at the
// reference count: 1 is perfectly linear work, more means each instance costs more when there
// are more of them.
func linearity(c *ContenderResult, ref, large int) value {
	a, b := s2At(c, ref), s2At(c, large)
	if a == nil || b == nil || a.ControllerCPUmsPerInst <= 0 {
		return value{}
	}
	v := value{v: b.ControllerCPUmsPerInst / a.ControllerCPUmsPerInst, ok: true, err: b.Error}
	if a.Error != "" {
		v.err = a.Error
	}
	return v
}

// rssAfterS2 is the contender's RSS (MiB) read right after S2 at count n.
func rssAfterS2(c *ContenderResult, n, s1 int) value {
	if c == nil {
		return value{}
	}
	for _, p := range c.S4.AfterS2 {
		if p.Instances == n+s1 && p.Memory.RSS > 0 {
			return val(mib(p.Memory.RSS))
		}
	}
	return value{}
}

// rssPerInstance is the RSS growth per live instance (KiB) after S2 at count n: RSS then minus
// RSS at start, divided by the live instances (n, and S1's chain instances).
func rssPerInstance(c *ContenderResult, n, s1 int) value {
	if c == nil || c.S4.Baseline.RSS == 0 {
		return value{}
	}
	for _, p := range c.S4.AfterS2 {
		if p.Instances == n+s1 && p.Instances > 0 && p.Memory.RSS > 0 {
			return val(float64(p.Memory.RSS-c.S4.Baseline.RSS) / float64(p.Instances) / 1024)
		}
	}
	return value{}
}

// rssAfterS3 is the contender's RSS (MiB) after S3, with the reference count's instances live.
func rssAfterS3(c *ContenderResult) value {
	if c == nil || c.S4.AfterS3 == nil || c.S4.AfterS3.Memory.RSS == 0 {
		return value{}
	}
	return val(mib(c.S4.AfterS3.Memory.RSS))
}

// restartVal is a figure of kro's S8; its err is S8's error (kro not restarted, not quiet in
// time, an instance no longer ACTIVE or a child gone).
func restartVal(c *ContenderResult, f func(*Restart) float64) value {
	if c == nil || c.S8 == nil {
		return value{}
	}
	return value{v: f(c.S8), ok: true, err: c.S8.Error}
}

// s9Vals are kro's RSS settled (MiB) with the unrelated CRDs, and without; and the difference
// per CRD (KiB). A run with the CRDs that did not complete is a miss (err); without the
// baseline there is nothing to compare with.
func s9Vals(c *ContenderResult) (with, without, perCRD value) {
	if c == nil || c.S9 == nil {
		return value{}, value{}, value{}
	}
	u := c.S9
	if u.Without.Settled.RSS > 0 {
		without = val(mib(u.Without.Settled.RSS))
	}
	with = value{v: mib(u.With.Settled.RSS), ok: true, err: u.Error}
	if u.With.Settled.RSS > 0 && u.Without.Settled.RSS > 0 && u.CRDs > 0 {
		perCRD = value{v: u.KiBPerCRD, ok: true, err: u.Error}
	}
	return with, without, perCRD
}

// evaluate checks the targets: first every row of issue #13's table (listed also when a
// scenario was skipped, as n/a), then the earlier targets that still hold.
func (r *Results) evaluate() {
	kro, fl := r.get("kro"), r.refFloor()
	fname := "floor"
	if fl != nil {
		fname = fl.Name
	}
	n, big, s1 := r.Config.refCount(), r.Config.S2Large, r.Config.S1Count
	var ts []Target
	add := func(t Target) { ts = append(ts, t) }
	// A row compared with the floor also says where kro stands against the floor with kro's
	// finalizer protocol, when that ran; the verdict stays against the reference floor.
	fin := r.get("floor-finalizer")
	againstFin := func(t Target, get func(c *ContenderResult) value) Target {
		x := get(fin)
		if fin == nil || !t.Measured || t.Note != "" || !x.ok || x.err != "" || x.v == 0 {
			return t
		}
		t.Note = fmt.Sprintf("floor-finalizer %.2f %s: kro %.2fx of it", x.v, t.Unit, t.Kro/x.v)
		return t
	}
	vs := func(get func(c *ContenderResult) value, l limit) func(group, name, unit string) Target {
		return func(group, name, unit string) Target {
			return againstFin(check(group, name, unit, get(kro), get(fl), fname, l), get)
		}
	}
	childrenGone := func(x *Teardown) float64 { return x.ChildrenGoneSeconds }
	instancesGone := func(x *Teardown) float64 { return x.InstancesGoneSeconds }
	ctlCPU := func(x *Throughput) float64 { return x.ControllerCPUmsPerInst }
	apiCPU := func(x *Throughput) float64 { return x.APIServerCPUmsPerInst }
	allActive := func(x *Throughput) float64 { return x.Seconds }

	// Issue #13, in the order of its table.
	add(vs(func(c *ContenderResult) value { return s6Val(c, n, childrenGone) }, times(1.5))(groupIssue,
		fmt.Sprintf("S6 %d: delete -> all children gone <= 1.5x floor", n), "s"))
	add(againstFin(check(groupIssue, fmt.Sprintf("S6 %d: delete -> all instances gone <= 2x floor's children gone", n), "s",
		s6Val(kro, n, instancesGone), s6Val(fl, n, childrenGone), fname+" children gone", times(2)),
		func(c *ContenderResult) value { return s6Val(c, n, instancesGone) }))
	add(vs(func(c *ContenderResult) value { return s2Val(c, n, ctlCPU) }, times(1.5))(groupIssue,
		fmt.Sprintf("S2 %d: controller CPU/instance <= 1.5x floor", n), "ms"))
	add(vs(rssAfterS3, plus(20))(groupIssue,
		fmt.Sprintf("S4 RSS with %d ACTIVE instances (after S3) <= floor + 20 MiB", n), "MiB"))
	for _, m := range r.Config.S2Counts {
		add(vs(func(c *ContenderResult) value { return s2Val(c, m, allActive) }, times(1.5))(groupIssue,
			fmt.Sprintf("S2 %d: create -> all ACTIVE <= 1.5x floor", m), "s"))
	}
	add(vs(func(c *ContenderResult) value { return s2Val(c, n, apiCPU) }, times(1.3))(groupIssue,
		fmt.Sprintf("S2 %d: apiserver CPU/instance (create) <= 1.3x floor", n), "ms"))
	add(vs(func(c *ContenderResult) value {
		return s6Val(c, n, func(x *Teardown) float64 { return x.APIServerCPUmsPerInst })
	}, times(1.3))(groupIssue, fmt.Sprintf("S6 %d: apiserver CPU/instance (delete) <= 1.3x floor", n), "ms"))
	s7 := Target{Group: groupIssue, Name: "S7 RSS with unrelated CMs+Secrets <= without + 10 MiB", Unit: "MiB", RefName: "without"}
	if kro != nil && kro.S7 != nil {
		u := kro.S7
		without, with := val(mib(u.Without.Settled.RSS)), val(mib(u.With.Settled.RSS))
		without.err = u.Error
		s7 = check(groupIssue, fmt.Sprintf("S7 RSS with %d unrelated CMs+Secrets <= without + 10 MiB", u.Objects), "MiB",
			with, without, "without", plus(10))
	}
	add(s7)
	bigName := "large count"
	if big > 0 {
		bigName = fmt.Sprint(big)
	}
	lin := check(groupIssue, fmt.Sprintf("S2 %s: controller CPU/instance <= 1.1x kro's at %d (linear)", bigName, n), "ms",
		s2Val(kro, big, ctlCPU), s2Val(kro, n, ctlCPU), fmt.Sprintf("kro at %d", n), times(1.1))
	if own := linearity(fl, n, big); lin.Note == "" && own.ok && own.err == "" {
		// The floor's own ratio tells what the control plane adds at that count.
		lin.Note = fmt.Sprintf("%s's own ratio: %.2fx", fname, own.v)
		if own := linearity(fin, n, big); own.ok && own.err == "" {
			lin.Note += fmt.Sprintf(", floor-finalizer's: %.2fx", own.v)
		}
	}
	add(lin)
	add(info(groupIssue, fmt.Sprintf("S2 %s: RSS per live instance, reported", bigName), "KiB",
		rssPerInstance(kro, big, s1), rssPerInstance(fl, big, s1), fname))

	// Earlier targets.
	lat := func(get func(c *ContenderResult) *Latency) func(c *ContenderResult) value {
		return func(c *ContenderResult) value {
			if c == nil || get(c) == nil || get(c).Summary.N == 0 {
				return value{}
			}
			return val(get(c).Summary.P50)
		}
	}
	add(vs(lat(func(c *ContenderResult) *Latency { return c.S1 }), times(1.5))(groupEarlier, "S1 p50 <= 1.5x floor", "ms"))
	add(vs(func(c *ContenderResult) value {
		if c == nil || c.S1 == nil || c.S1.Count == 0 {
			return value{}
		}
		return val(float64(c.S1.Usage.Requests.Total) / float64(c.S1.Count))
	}, times(1.5))(groupEarlier, "S1 API requests/instance <= 1.5x floor", "req"))
	for _, m := range r.Config.S2Counts {
		add(vs(func(c *ContenderResult) value {
			return s2Val(c, m, func(x *Throughput) float64 { return x.RequestsPerInstance })
		}, times(1.5))(groupEarlier, fmt.Sprintf("S2 %d: API requests/instance <= 1.5x floor", m), "req"))
	}
	idle := func(f func(u Usage) float64) value {
		if kro == nil || kro.S3 == nil {
			return value{}
		}
		return val(f(kro.S3.Usage))
	}
	add(check(groupEarlier, "S3 idle: 0 writes", "req", idle(func(u Usage) float64 { return float64(u.Requests.Writes) }), val(0), "", times(1)))
	add(check(groupEarlier, "S3 idle: 0 reads", "req", idle(func(u Usage) float64 { return float64(u.Requests.Reads) }), val(0), "", times(1)))
	add(vs(lat(func(c *ContenderResult) *Latency { return c.S5 }), times(2))(groupEarlier, "S5 drift repair p50 <= 2x floor", "ms"))

	// S8: nothing changed while kro was down, so its restart writes nothing.
	add(check(groupRestart, "S8 restart writes == 0 (nothing changed while kro was down)", "req",
		restartVal(kro, func(s *Restart) float64 { return float64(s.Usage.Requests.Writes) }), val(0), "", times(1)))
	add(info(groupRestart, "S8 restart reads/instance, reported", "req",
		restartVal(kro, func(s *Restart) float64 { return s.ReadsPerInstance }), value{}, ""))

	// S9: CRDs kro does not use cost it (almost) nothing.
	crds := "unrelated CRDs"
	if kro != nil && kro.S9 != nil {
		crds = fmt.Sprintf("%d unrelated CRDs", kro.S9.CRDs)
	}
	with, without, perCRD := s9Vals(kro)
	add(check(groupCRDs, fmt.Sprintf("S9 RSS with %s <= RSS without + 10 MiB", crds), "MiB", with, without, "without", plus(10)))
	add(info(groupCRDs, "S9 RSS difference per unrelated CRD, reported", "KiB", perCRD, value{}, ""))
	r.Targets = ts
}

// line formats one target for the summary.
func (t Target) line() string {
	verdict := "MISS"
	switch {
	case !t.Measured:
		verdict = "n/a"
	case t.Info:
		verdict = "info"
	case t.Met:
		verdict = "ok"
	}
	s := fmt.Sprintf("  %-4s  %-66s", verdict, t.Name)
	if t.Measured {
		s += fmt.Sprintf(" kro %.2f %s", t.Kro, t.Unit)
		if t.RefName != "" {
			s += fmt.Sprintf("; %s %.2f %s", t.RefName, t.Ref, t.Unit)
			if t.Ref != 0 {
				s += fmt.Sprintf(" (%.2fx)", t.Kro/t.Ref)
			}
		}
		if !t.Info {
			s += fmt.Sprintf("; limit %.2f %s", t.Limit, t.Unit)
		}
	}
	if t.Note != "" {
		s += "  [" + t.Note + "]"
	}
	return strings.TrimRight(s, " ") + "\n"
}

// targetsText is the Targets section of the summary.
func (r *Results) targetsText() string {
	var b strings.Builder
	ref := "floor"
	if fl := r.refFloor(); fl != nil {
		ref = fl.Name
	}
	for _, g := range []string{groupIssue, groupEarlier, groupRestart, groupCRDs} {
		switch g {
		case groupIssue:
			fmt.Fprintf(&b, "\nTargets of issue #13 (floor = %s)\n", ref)
		case groupEarlier:
			fmt.Fprintf(&b, "\nEarlier targets (floor = %s)\n", ref)
		case groupRestart:
			b.WriteString("\nS8 restart targets (kro alone)\n")
		default:
			b.WriteString("\nS9 unrelated CRDs targets (kro alone)\n")
		}
		for _, t := range r.Targets {
			if t.Group == g {
				b.WriteString(t.line())
			}
		}
	}
	return b.String()
}
