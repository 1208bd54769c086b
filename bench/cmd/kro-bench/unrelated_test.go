package main

import (
	"strings"
	"testing"
	"time"

	"github.com/kro-run/kro/bench/internal/proc"
)

// s7Result is an S7 with kro's RSS settled without and with the unrelated objects (MiB).
func s7Result(without, with float64) *Unrelated {
	u := &Unrelated{Objects: 10000, ObjectBytes: 4096, Instances: 10, ExternalInstances: 10, CreateSeconds: 40,
		DiffMiB: with - without}
	u.Without.Settled = proc.Memory{RSS: int64(without * (1 << 20)), Peak: int64((without + 5) * (1 << 20))}
	u.With.Settled = proc.Memory{RSS: int64(with * (1 << 20)), Peak: int64((with + 5) * (1 << 20))}
	return u
}

func TestUnrelatedTable(t *testing.T) {
	r := &Results{Config: config{S7Settle: 10 * time.Second}}
	if r.unrelatedTable() != "" {
		t.Fatal("a section without kro")
	}
	k := &ContenderResult{Name: "kro"}
	r.add(k)
	k.S7 = s7Result(60, 66.5)
	text := strings.Join(strings.Fields(strings.ReplaceAll(r.unrelatedTable(), "\n", " | ")), " ")
	for _, want := range []string{
		"S7 unrelated objects: kro without / with 10000 ConfigMaps + 10000 Secrets of 4096 bytes it does not own",
		"| S7 instances: 10 five + 10 external-ref (ExternalBench: ConfigMap s7-source by name and the 3 Secrets labelled bench.example.com/s7-source=true by selector, in the instances' namespace, created before kro starts) |",
		"| RSS settled, 10s after ACTIVE (MiB) 60.0 66.5 +6.5 |",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("S7 section lacks %q:\n%s", want, r.unrelatedTable())
		}
	}
	r.evaluate()
	if s7 := find(t, r.Targets, "S7 RSS"); !s7.Measured || !s7.Met || s7.Limit != 70 {
		t.Errorf("S7 target at +6.5 MiB: %+v", s7)
	}
}

func TestS7Baseline(t *testing.T) {
	res := &UnrelatedCRDs{Instances: 10, ExternalInstances: 10}
	if !s7Baseline(s7Result(60, 70), res) {
		t.Error("S7's run without is not S9's baseline")
	}
	for name, s7 := range map[string]*Unrelated{
		"no S7":                      nil,
		"S7 failed":                  func() *Unrelated { u := s7Result(60, 70); u.Error = "x"; return u }(),
		"other S2 count":             func() *Unrelated { u := s7Result(60, 70); u.Instances = 5; return u }(),
		"without external instances": func() *Unrelated { u := s7Result(60, 70); u.ExternalInstances = 0; return u }(),
		"no RSS":                     s7Result(0, 70),
	} {
		if s7Baseline(s7, res) {
			t.Errorf("%s: S7's run is S9's baseline", name)
		}
	}
}
