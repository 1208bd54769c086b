package main

import (
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/kro-run/kro/bench/internal/proc"
)

// s9Result is an S9 of n CRDs with kro's RSS settled without and with them (MiB).
func s9Result(n int, without, with float64, err string) *UnrelatedCRDs {
	u := &UnrelatedCRDs{CRDs: n, SchemaBytes: 100000, SchemaBytesMean: 100500, CRDBytes: int64(n) * 207000, Annotated: n,
		Instances: 10, ExternalInstances: 10, WithoutFrom: "S7", CreateSeconds: 30, DeleteSeconds: 4, Error: err}
	u.Without.Settled = proc.Memory{RSS: int64(without * mb), Peak: int64((without + 5) * mb)}
	u.With.Settled = proc.Memory{RSS: int64(with * mb), Peak: int64((with + 5) * mb)}
	if with > 0 {
		u.DiffMiB = with - without
		u.KiBPerCRD = (with - without) * 1024 / float64(n)
	}
	return u
}

func TestEvaluateUnrelatedCRDs(t *testing.T) {
	const target, perCRD = "S9 RSS with", "S9 RSS difference per unrelated CRD"
	for _, c := range []struct {
		name              string
		s9                *UnrelatedCRDs
		measured, met     bool
		kro, limit, ratio float64
		note              string
		perCRD            float64
	}{
		{name: "skipped"},
		{"within 10 MiB", s9Result(200, 60, 65, ""), true, true, 65, 70, 65.0 / 60, "", 5 * 1024 / 200.0},
		{"schemas cached", s9Result(200, 60, 480, ""), true, false, 480, 70, 8, "", 420 * 1024 / 200.0},
		{"kro not ACTIVE with the CRDs", s9Result(200, 60, 0, "with unrelated CRDs: 9 of 10 instances ACTIVE"), true, false, 0, 70, 0, "kro: with unrelated CRDs", 0},
		{"no baseline", s9Result(200, 0, 0, "without unrelated CRDs: kro-controller exited"), false, false, 0, 0, 0, "", 0},
	} {
		r := &Results{Config: config{S1Count: 50, S2Counts: []int{1000}}}
		k := result("kro", 20, 4, 4, 36, 95, 450, 14, 25)
		k.S9 = c.s9
		r.add(k)
		r.add(result("floor-unthrottled", 18, 2, 2, 30, 80, 400, 10, 1))
		r.evaluate()
		x, per := find(t, r.Targets, target), find(t, r.Targets, perCRD)
		if x.Measured != c.measured || x.Met != c.met || x.Group != groupCRDs || x.Info || !strings.Contains(x.Note, c.note) {
			t.Errorf("%s: target %+v", c.name, x)
		}
		if c.measured && (math.Abs(x.Kro-c.kro) > 1e-9 || math.Abs(x.Limit-c.limit) > 1e-9) {
			t.Errorf("%s: kro %.2f, limit %.2f; want %.2f, %.2f", c.name, x.Kro, x.Limit, c.kro, c.limit)
		}
		if !per.Info || per.Group != groupCRDs || per.Measured != (c.perCRD != 0) || math.Abs(per.Kro-c.perCRD) > 1e-9 {
			t.Errorf("%s: per CRD %+v", c.name, per)
		}
		verdict := map[bool]string{true: "ok  ", false: "MISS"}[c.met]
		if !c.measured {
			verdict = "n/a "
		}
		name := "S9 RSS with unrelated CRDs <= RSS without + 10 MiB"
		if c.s9 != nil {
			name = "S9 RSS with 200 unrelated CRDs <= RSS without + 10 MiB"
		}
		text := r.targetsText()
		if !strings.Contains(text, "\nS9 unrelated CRDs targets (kro alone)\n  "+verdict+"  "+name) {
			t.Errorf("%s: targets text:\n%s", c.name, text)
		}
		if c.ratio > 0 && !strings.Contains(x.line(), fmt.Sprintf("; without %.2f MiB (%.2fx); limit %.2f MiB", 60.0, c.ratio, c.limit)) {
			t.Errorf("%s: line %q", c.name, x.line())
		}
	}
}

func TestUnrelatedCRDsTable(t *testing.T) {
	r := &Results{Config: config{S7Settle: 10 * time.Second}}
	if r.unrelatedCRDsTable() != "" {
		t.Fatal("a section without kro")
	}
	k := &ContenderResult{Name: "kro"}
	r.add(k)
	if r.unrelatedCRDsTable() != "" {
		t.Fatal("a section without S9")
	}
	k.S9 = s9Result(200, 60, 160, "")
	k.S9.Without.ReadySeconds, k.S9.With.ReadySeconds = 0.5, 2.25
	text := strings.Join(strings.Fields(strings.ReplaceAll(r.unrelatedCRDsTable(), "\n", " | ")), " ")
	for _, want := range []string{
		"S9 unrelated CRDs: kro with 10 five + 10 external-ref instances (S7's), without / with 200 CRDs of other groups it does not use",
		`"without" is S7's run`,
		"| S9 CRDs: openAPIV3Schema 100500 bytes each (asked 100000), 200 of 200 with the last-applied annotation; 41.4 MB of CRD JSON in all; created and Established in 30.0 s, deleted in 4.0 s |",
		"| S9 start -> ready (s) 0.50 2.25 +1.75 |",
		"| S9 RSS settled, 10s after ACTIVE (MiB) 60.0 160.0 +100.0 |",
		"| S9 peak RSS, VmHWM (MiB) 65.0 165.0 +100.0 |",
		"| S9 RSS settled difference: +100.0 MiB, +512.0 KiB per CRD, 2.53 bytes of RSS per byte of CRD JSON |",
		"| S9 target: RSS settled with <= without + 10 MiB |",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("S9 section lacks %q:\n%s", want, r.unrelatedCRDsTable())
		}
	}
	if strings.Contains(text, "error") {
		t.Errorf("an error line without an error:\n%s", text)
	}
	k.S9.CleanupError = "unrelated CRDs not gone: timed out after 5m0s"
	if !strings.Contains(r.unrelatedCRDsTable(), "\nS9 cleanup error: unrelated CRDs not gone") {
		t.Errorf("no cleanup error:\n%s", r.unrelatedCRDsTable())
	}
}
