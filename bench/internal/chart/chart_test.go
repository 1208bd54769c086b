package chart

import (
	"encoding/xml"
	"strings"
	"testing"
	"time"
)

func TestWrite(t *testing.T) {
	var b strings.Builder
	err := Write(&b, "t <&>", []Panel{
		{Title: "S1", Series: []Series{
			{Name: "kro", Color: "red", Samples: []time.Duration{3 * time.Millisecond, 40 * time.Millisecond, time.Second}},
			{Name: "floor", Color: "blue", Samples: []time.Duration{2 * time.Millisecond}},
		}},
		{Title: "empty"},
	})
	if err != nil {
		t.Fatal(err)
	}
	// Well-formed XML.
	d := xml.NewDecoder(strings.NewReader(b.String()))
	for {
		if _, err := d.Token(); err != nil {
			if err.Error() == "EOF" {
				break
			}
			t.Fatalf("bad svg: %v\n%s", err, b.String())
		}
	}
	for _, want := range []string{"polyline", "kro  p50 40ms", "no samples", "1s"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("svg lacks %q", want)
		}
	}
}
