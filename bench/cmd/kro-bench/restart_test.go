package main

import (
	"strings"
	"testing"

	"github.com/kro-run/kro/bench/internal/audit"
	"github.com/kro-run/kro/bench/internal/proc"
	"github.com/kro-run/kro/bench/internal/scenario"
)

func TestCensusDiff(t *testing.T) {
	before := Census{Instances: 3, Active: 3, Children: 15, versions: map[string]string{"a": "1", "b": "2", "c": "3"}}
	same := before
	if d := censusDiff(before, same); d != "" || changedVersions(before, same) != 0 {
		t.Fatalf("nothing changed: %q, %d changed", d, changedVersions(before, same))
	}
	// b written, c gone, d new.
	after := Census{Instances: 3, Active: 2, Children: 14, versions: map[string]string{"a": "1", "b": "5", "d": "4"}}
	if n := changedVersions(before, after); n != 3 {
		t.Fatalf("changed = %d, want 3", n)
	}
	d := censusDiff(before, after)
	if !strings.Contains(d, "2 of 3 instances ACTIVE after the restart (3 of 3 before)") || !strings.Contains(d, "14 children after the restart, 15 before") {
		t.Fatalf("diff = %q", d)
	}
}

func TestChildGVRs(t *testing.T) {
	if got := childGVRs(scenario.Chain); len(got) != 1 || got[0].Resource != "configmaps" {
		t.Fatalf("chain: %v", got)
	}
	// Five: two ConfigMaps, a Secret, a Service, a ServiceAccount.
	if got := childGVRs(scenario.Five); len(got) != 4 {
		t.Fatalf("five: %v", got)
	}
}

func TestRestartTable(t *testing.T) {
	r := &Results{Config: config{S1Count: 50, S2Counts: []int{1000}}}
	if r.restartTable() != "" {
		t.Fatal("a section without kro")
	}
	k := &ContenderResult{Name: "kro"}
	k.S4.Final = proc.Memory{RSS: 80 * mb, Peak: 90 * mb}
	r.add(k)
	if r.restartTable() != "" || peakRSS(k) != 90*mb {
		t.Fatal("a section without S8")
	}
	k.S8 = &Restart{Instances: 1050, QuietSeconds: 9.5, BeforeStop: proc.Memory{Peak: 120 * mb},
		Before: Census{Instances: 1050, Active: 1050, Children: 5150}, After: Census{Instances: 1050, Active: 1050, Children: 5150},
		Usage: Usage{ControllerCPUms: 2100, Requests: audit.Counts{Total: 5160, Reads: 5160,
			ByVerb: map[string]int{"get": 5150, "list": 5, "watch": 5}, ByKey: map[string]int{"get configmaps": 3150}}}}
	// Compared with runs of spaces squashed, so the test does not depend on column widths.
	text := strings.Join(strings.Fields(strings.ReplaceAll(r.restartTable(), "\n", " | ")), " ")
	for _, want := range []string{
		"S8 restart: kro stopped (SIGTERM) and started again with 1050 instances live (S2 1000 and S1)",
		"| S8 start -> quiet: last request before 3s (s) 9.50 |",
		"| S8 writes 0 0.000 |",
		"| S8 get 5150 4.905 |",
		"| S8 list 5 0.005 |",
		"| S8 controller CPU (ms) 2100 2.000 |",
		"| S8 instances ACTIVE: 1050 of 1050 before, 1050 of 1050 after; children: 5150 before, 5150 after",
		"| get configmaps 3150 3.000 |",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("S8 section lacks %q:\n%s", want, r.restartTable())
		}
	}
	if peakRSS(k) != 120*mb {
		t.Fatalf("peak RSS %d: the stopped process's peak counts", peakRSS(k))
	}
}
