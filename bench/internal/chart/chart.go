// Package chart draws latency distributions as empirical CDFs in a hand-written SVG: one panel
// per measurement, one line per contender (kro, floor, unthrottled floor), log-scale time axis.
package chart

import (
	"fmt"
	"html"
	"io"
	"math"
	"strings"
	"time"

	"github.com/kro-run/kro/bench/internal/stats"
)

// Series is one contender's samples.
type Series struct {
	Name    string
	Color   string
	Samples []time.Duration
}

// Panel is one measurement.
type Panel struct {
	Title  string
	Series []Series
}

const (
	panelW, panelH = 560, 300
	marginL        = 60
	marginR        = 20
	marginT        = 40
	marginB        = 45
	cols           = 2
)

// Write renders panels as one SVG document.
func Write(w io.Writer, title string, panels []Panel) error {
	rows := (len(panels) + cols - 1) / cols
	width, height := cols*panelW, rows*panelH+40
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="sans-serif" font-size="11">`+"\n", width, height, width, height)
	fmt.Fprintf(&b, `<rect width="100%%" height="100%%" fill="white"/>`+"\n")
	fmt.Fprintf(&b, `<text x="%d" y="24" font-size="15" font-weight="bold">%s</text>`+"\n", 10, html.EscapeString(title))
	for i, p := range panels {
		x0, y0 := (i%cols)*panelW, 40+(i/cols)*panelH
		panel(&b, p, x0, y0)
	}
	b.WriteString("</svg>\n")
	_, err := io.WriteString(w, b.String())
	return err
}

func panel(b *strings.Builder, p Panel, x0, y0 int) {
	pw, ph := panelW-marginL-marginR, panelH-marginT-marginB
	left, top := x0+marginL, y0+marginT
	fmt.Fprintf(b, `<text x="%d" y="%d" font-size="13" font-weight="bold">%s</text>`+"\n", left, y0+18, html.EscapeString(p.Title))
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, s := range p.Series {
		for _, d := range s.Samples {
			v := math.Max(stats.Ms(d), 0.1)
			lo, hi = math.Min(lo, v), math.Max(hi, v)
		}
	}
	fmt.Fprintf(b, `<rect x="%d" y="%d" width="%d" height="%d" fill="none" stroke="#888"/>`+"\n", left, top, pw, ph)
	if math.IsInf(lo, 1) {
		fmt.Fprintf(b, `<text x="%d" y="%d">no samples</text>`+"\n", left+10, top+20)
		return
	}
	dlo, dhi := math.Floor(math.Log10(lo)), math.Ceil(math.Log10(hi))
	if dhi <= dlo {
		dhi = dlo + 1
	}
	xOf := func(ms float64) float64 {
		return float64(left) + (math.Log10(math.Max(ms, 0.1))-dlo)/(dhi-dlo)*float64(pw)
	}
	yOf := func(q float64) float64 { return float64(top) + (1-q)*float64(ph) }
	// Grid and axes: decades (with 2 and 5 minor lines) on x, quartiles on y.
	for d := dlo; d <= dhi; d++ {
		for _, m := range []float64{1, 2, 5} {
			v := m * math.Pow(10, d)
			if d == dhi && m > 1 {
				break
			}
			x := xOf(v)
			stroke := "#eee"
			if m == 1 {
				stroke = "#ccc"
				fmt.Fprintf(b, `<text x="%.1f" y="%d" text-anchor="middle">%s</text>`+"\n", x, top+ph+15, msLabel(v))
			}
			fmt.Fprintf(b, `<line x1="%.1f" y1="%d" x2="%.1f" y2="%d" stroke="%s"/>`+"\n", x, top, x, top+ph, stroke)
		}
	}
	for _, q := range []float64{0, 0.25, 0.5, 0.75, 0.95, 1} {
		y := yOf(q)
		fmt.Fprintf(b, `<line x1="%d" y1="%.1f" x2="%d" y2="%.1f" stroke="#eee"/>`+"\n", left, y, left+pw, y)
		fmt.Fprintf(b, `<text x="%d" y="%.1f" text-anchor="end">p%g</text>`+"\n", left-4, y+4, q*100)
	}
	fmt.Fprintf(b, `<text x="%d" y="%d" text-anchor="middle">latency (log scale)</text>`+"\n", left+pw/2, top+ph+32)
	for i, s := range p.Series {
		if len(s.Samples) == 0 {
			continue
		}
		sorted := stats.Sorted(s.Samples)
		var pts strings.Builder
		n := float64(len(sorted))
		fmt.Fprintf(&pts, "%.1f,%.1f ", xOf(stats.Ms(sorted[0])), yOf(0))
		for j, d := range sorted {
			x := xOf(stats.Ms(d))
			fmt.Fprintf(&pts, "%.1f,%.1f %.1f,%.1f ", x, yOf(float64(j)/n), x, yOf(float64(j+1)/n))
		}
		fmt.Fprintf(b, `<polyline fill="none" stroke="%s" stroke-width="1.8" points="%s"/>`+"\n", s.Color, strings.TrimSpace(pts.String()))
		sum := stats.Summarize(s.Samples)
		ly := top + 14 + i*14
		fmt.Fprintf(b, `<rect x="%d" y="%d" width="10" height="3" fill="%s"/>`+"\n", left+pw-230, ly-4, s.Color)
		fmt.Fprintf(b, `<text x="%d" y="%d">%s  p50 %s  p95 %s</text>`+"\n", left+pw-215, ly, html.EscapeString(s.Name), msLabel(sum.P50), msLabel(sum.P95))
	}
}

func msLabel(ms float64) string {
	switch {
	case ms >= 1000:
		return trim(fmt.Sprintf("%.2f", ms/1000)) + "s"
	case ms >= 1:
		return trim(fmt.Sprintf("%.1f", ms)) + "ms"
	default:
		return trim(fmt.Sprintf("%.2f", ms)) + "ms"
	}
}

func trim(s string) string {
	if strings.Contains(s, ".") {
		s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
	}
	return s
}
