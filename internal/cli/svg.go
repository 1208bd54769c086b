package cli

import (
	"fmt"
	"io"
	"math"
	"strings"
	"unicode/utf8"
)

// SVG geometry, in pixels.
const (
	svgMargin    = 20
	svgTitle     = 28
	svgNodeH     = 52
	svgHGap      = 32
	svgVGap      = 48
	svgCharWidth = 7.2
	svgMinNodeW  = 110
)

// svg draws the diagram as a layered graph: one row per level, dependencies above their
// dependents, edges as curves from the bottom of a node to the top of its dependent.
func (d *diagram) svg(w io.Writer) {
	nodeW := float64(svgMinNodeW)
	for _, n := range d.nodes {
		for _, line := range []string{n.id, n.kind, n.note} {
			nodeW = max(nodeW, float64(utf8.RuneCountInString(line))*svgCharWidth+24)
		}
	}
	widest := 0
	for _, level := range d.levels {
		widest = max(widest, len(level))
	}
	rowW := func(n int) float64 { return float64(n)*nodeW + float64(max(n-1, 0))*svgHGap }
	width := max(rowW(widest), float64(utf8.RuneCountInString(d.title))*svgCharWidth) + 2*svgMargin
	height := float64(svgMargin*2+svgTitle) + float64(len(d.levels))*svgNodeH + float64(max(len(d.levels)-1, 0))*svgVGap

	type point struct{ x, y float64 }
	at := map[string]point{}
	for li, level := range d.levels {
		x0 := (width - rowW(len(level))) / 2
		y := float64(svgMargin+svgTitle) + float64(li)*(svgNodeH+svgVGap)
		for i, id := range level {
			at[id] = point{x0 + float64(i)*(nodeW+svgHGap), y}
		}
	}

	fmt.Fprintf(w, `<svg xmlns="http://www.w3.org/2000/svg" width="%.0f" height="%.0f" viewBox="0 0 %.0f %.0f" font-family="Helvetica, Arial, sans-serif" font-size="12">`+"\n", width, height, width, height)
	fmt.Fprintln(w, `  <defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="8" markerHeight="8" orient="auto-start-reverse"><path d="M 0 0 L 10 5 L 0 10 z" fill="#555"/></marker></defs>`)
	fmt.Fprintf(w, `  <rect width="100%%" height="100%%" fill="white"/>`+"\n")
	fmt.Fprintf(w, `  <text x="%.1f" y="%d" text-anchor="middle" font-size="14" font-weight="bold">%s</text>`+"\n", width/2, svgMargin+12, xmlEscape(d.title))
	level := map[string]int{}
	for li, ids := range d.levels {
		for _, id := range ids {
			level[id] = li
		}
	}
	// gaps are the x of the vertical lanes beside and between the nodes of a level, where an
	// edge that spans several levels passes.
	gaps := func(li int) []float64 {
		ids := d.levels[li]
		out := []float64{at[ids[0]].x - svgHGap/2}
		for _, id := range ids {
			out = append(out, at[id].x+nodeW+svgHGap/2)
		}
		return out
	}
	for _, e := range d.edges {
		from, to := at[e[0]], at[e[1]]
		x1, y1 := from.x+nodeW/2, from.y+svgNodeH
		x2, y2 := to.x+nodeW/2, to.y
		points := []point{{x1, y1}}
		for li := level[e[0]] + 1; li < level[e[1]]; li++ {
			top := float64(svgMargin+svgTitle) + float64(li)*(svgNodeH+svgVGap)
			straight := x1 + (x2-x1)*(top-y1)/(y2-y1)
			lane := gaps(li)[0]
			for _, g := range gaps(li) {
				if math.Abs(g-straight) < math.Abs(lane-straight) {
					lane = g
				}
			}
			points = append(points, point{lane, top}, point{lane, top + svgNodeH})
		}
		points = append(points, point{x2, y2})
		var path strings.Builder
		fmt.Fprintf(&path, "M %.1f %.1f", points[0].x, points[0].y)
		for i := 1; i < len(points); i++ {
			a, b := points[i-1], points[i]
			dy := (b.y - a.y) / 2
			fmt.Fprintf(&path, " C %.1f %.1f, %.1f %.1f, %.1f %.1f", a.x, a.y+dy, b.x, b.y-dy, b.x, b.y)
		}
		dash := ""
		if d.nodes[e[1]].conditional {
			dash = ` stroke-dasharray="4 3"`
		}
		fmt.Fprintf(w, `  <path d="%s" fill="none" stroke="#555" stroke-width="1.2"%s marker-end="url(#arrow)"/>`+"\n", path.String(), dash)
	}
	for _, level := range d.levels {
		for _, id := range level {
			n, p := d.nodes[id], at[id]
			style := `fill="#eef4ff" stroke="#3b6fd4" stroke-width="1.5"`
			switch {
			case n.external:
				style = `fill="#f4f4f4" stroke="#777" stroke-width="1.5" stroke-dasharray="6 4"`
			case n.conditional:
				style = `fill="#fff8e6" stroke="#c98a00" stroke-width="1.5" stroke-dasharray="2 3"`
			}
			if n.collection {
				fmt.Fprintf(w, `  <rect x="%.1f" y="%.1f" width="%.1f" height="%d" rx="6" %s/>`+"\n", p.x+4, p.y-4, nodeW, svgNodeH, style)
			}
			fmt.Fprintf(w, `  <rect x="%.1f" y="%.1f" width="%.1f" height="%d" rx="6" %s/>`+"\n", p.x, p.y, nodeW, svgNodeH, style)
			lines := []string{n.id, n.kind}
			if n.note != "" {
				lines = append(lines, n.note)
			}
			top := p.y + svgNodeH/2 - float64(len(lines)-1)*7 + 4
			for i, line := range lines {
				attr := ""
				switch i {
				case 0:
					attr = ` font-weight="bold"`
				case 2:
					attr = ` font-style="italic" fill="#555" font-size="11"`
				}
				fmt.Fprintf(w, `  <text x="%.1f" y="%.1f" text-anchor="middle"%s>%s</text>`+"\n", p.x+nodeW/2, top+float64(i)*14, attr, xmlEscape(line))
			}
		}
	}
	fmt.Fprintln(w, "</svg>")
}

var xmlEscaper = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", `"`, "&quot;", "'", "&apos;")

func xmlEscape(s string) string { return xmlEscaper.Replace(s) }
