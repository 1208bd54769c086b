package stats

import (
	"testing"
	"time"
)

func TestSummarize(t *testing.T) {
	var ds []time.Duration
	for i := 100; i >= 1; i-- {
		ds = append(ds, time.Duration(i)*time.Millisecond)
	}
	s := Summarize(ds)
	if s.N != 100 || s.Min != 1 || s.Max != 100 || s.P50 != 50 || s.P95 != 95 || s.P99 != 99 || s.Mean != 50.5 {
		t.Fatalf("summary = %+v", s)
	}
	if ds[0] != 100*time.Millisecond {
		t.Fatal("input was modified")
	}
	if Summarize(nil).N != 0 || Ratio(1, 0) != 0 || Ratio(3, 2) != 1.5 {
		t.Fatal("edge cases")
	}
}
