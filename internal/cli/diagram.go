package cli

import (
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/spf13/cobra"

	"github.com/kro-run/kro/internal/graph"
)

func newGenerateDiagramCommand(o *globalOptions) *cobra.Command {
	var files []string
	var rgdName string
	cmd := &cobra.Command{
		Use:   "diagram -f rgd.yaml [--format mermaid|dot|svg]",
		Short: "Draw the dependency graph of an RGD",
		Long: `diagram draws the resources of a ResourceGraphDefinition and their dependencies, in the
controller's creation order (top to bottom): Mermaid (for Markdown), Graphviz DOT, or an SVG
image drawn by kro itself (no Graphviz needed). An arrow goes from a resource to the ones that
read it. externalRefs are dashed, forEach collections stacked, resources with includeWhen
dotted.`,
		Example: `  kro generate diagram -f examples/webapp/rgd.yaml
  kro generate diagram -f rgd.yaml --format svg > graph.svg
  kro generate diagram -f rgd.yaml --format dot | dot -Tpng > graph.png`,
		Args: exactArgs(0),
	}
	addFileFlag(cmd, &files, "RGDs")
	cmd.Flags().StringVar(&rgdName, "rgd", "", "draw only the RGD with this name (the input may hold several)")
	format := &outputFlag{value: "mermaid", formats: []string{"mermaid", "dot", "svg"}}
	cmd.Flags().Var(format, "format", "diagram format: [mermaid dot svg]")
	_ = cmd.RegisterFlagCompletionFunc("format", cobra.FixedCompletions(format.formats, cobra.ShellCompDirectiveNoFileComp))
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		rgds, err := o.loadValid(cmd, files)
		if err != nil {
			return err
		}
		if rgdName != "" {
			rgds = filterRGD(rgds, rgdName)
			if len(rgds) == 0 {
				return &usageError{fmt.Errorf("no ResourceGraphDefinition named %q in the input", rgdName)}
			}
		}
		if format.value == "svg" && len(rgds) > 1 {
			return &usageError{fmt.Errorf("the input holds %d RGDs: choose one with --rgd for an SVG", len(rgds))}
		}
		for i, l := range rgds {
			if i > 0 {
				fmt.Fprintln(o.streams.Out)
			}
			d := newDiagram(l)
			switch format.value {
			case "mermaid":
				d.mermaid(o.streams.Out)
			case "dot":
				d.dot(o.streams.Out)
			case "svg":
				d.svg(o.streams.Out)
			}
		}
		return nil
	}
	return cmd
}

func filterRGD(rgds []*loaded, name string) []*loaded {
	var out []*loaded
	for _, l := range rgds {
		if l.rgd.Name == name {
			out = append(out, l)
		}
	}
	return out
}

// diagram is the drawable form of a graph.
type diagram struct {
	rgd, title string
	// levels are the node ids per level, ordered to reduce crossings.
	levels [][]string
	nodes  map[string]diagramNode
	// edges are dependency -> dependent, sorted.
	edges [][2]string
}

type diagramNode struct {
	id, kind string
	// note is a third line: "external", "forEach: a, b", "includeWhen".
	note                              string
	external, collection, conditional bool
}

func newDiagram(l *loaded) *diagram {
	g := l.graph
	gvk := g.Instance.GVK
	d := &diagram{
		rgd:   l.rgd.Name,
		title: fmt.Sprintf("%s (%s) — RGD %s", gvk.Kind, gvk.GroupVersion(), l.rgd.Name),
		nodes: map[string]diagramNode{},
	}
	for _, n := range g.Nodes {
		dn := diagramNode{id: n.ID, kind: n.GVK.Kind, external: n.External != nil, collection: n.IsCollection(), conditional: len(n.IncludeWhen) > 0}
		var notes []string
		if dn.external {
			notes = append(notes, "external")
		}
		if dn.collection {
			names := make([]string, len(n.ForEach))
			for i, it := range n.ForEach {
				names[i] = it.Name
			}
			notes = append(notes, "forEach: "+strings.Join(names, ", "))
		}
		if dn.conditional {
			notes = append(notes, "includeWhen")
		}
		dn.note = strings.Join(notes, "; ")
		d.nodes[n.ID] = dn
		for _, dep := range n.Dependencies {
			d.edges = append(d.edges, [2]string{dep, n.ID})
		}
	}
	sort.Slice(d.edges, func(i, j int) bool {
		if d.edges[i][0] != d.edges[j][0] {
			return d.edges[i][0] < d.edges[j][0]
		}
		return d.edges[i][1] < d.edges[j][1]
	})
	d.levels = orderLevels(g)
	return d
}

// orderLevels orders the nodes of each level by the mean position of their dependencies in
// the levels above (barycenter heuristic), ties by creation order, so that fewer edges cross.
func orderLevels(g *graph.Graph) [][]string {
	pos := map[string]float64{}
	out := make([][]string, len(g.Levels))
	for li, level := range g.Levels {
		ids := append([]string(nil), level...)
		bary := map[string]float64{}
		for i, id := range ids {
			deps := g.Node(id).Dependencies
			if li == 0 || len(deps) == 0 {
				bary[id] = float64(i)
				continue
			}
			sum := 0.0
			for _, dep := range deps {
				sum += pos[dep]
			}
			bary[id] = sum / float64(len(deps))
		}
		sort.SliceStable(ids, func(i, j int) bool { return bary[ids[i]] < bary[ids[j]] })
		for i, id := range ids {
			pos[id] = float64(i)
		}
		out[li] = ids
	}
	return out
}

func (d *diagram) mermaid(w io.Writer) {
	fmt.Fprintf(w, "---\ntitle: %s\n---\nflowchart TD\n", d.title)
	for _, level := range d.levels {
		for _, id := range level {
			n := d.nodes[id]
			label := n.id + "<br/>" + n.kind
			if n.note != "" {
				label += "<br/><i>" + n.note + "</i>"
			}
			open, closing := "[\"", "\"]"
			switch {
			case n.external:
				open, closing = "[/\"", "\"/]"
			case n.collection:
				open, closing = "[[\"", "\"]]"
			}
			fmt.Fprintf(w, "    %s%s%s%s\n", n.id, open, strings.ReplaceAll(label, `"`, "#quot;"), closing)
		}
	}
	for _, e := range d.edges {
		arrow := "-->"
		if d.nodes[e[1]].conditional {
			arrow = "-.->"
		}
		fmt.Fprintf(w, "    %s %s %s\n", e[0], arrow, e[1])
	}
	var conditional []string
	for _, level := range d.levels {
		for _, id := range level {
			if d.nodes[id].conditional {
				conditional = append(conditional, id)
			}
		}
	}
	if len(conditional) > 0 {
		fmt.Fprintln(w, "    classDef conditional stroke-dasharray: 2 2")
		fmt.Fprintf(w, "    class %s conditional\n", strings.Join(conditional, ","))
	}
}

func (d *diagram) dot(w io.Writer) {
	fmt.Fprintf(w, "digraph %q {\n", d.rgd)
	fmt.Fprintf(w, "  label=%q;\n  labelloc=t;\n  rankdir=TB;\n", d.title)
	fmt.Fprintln(w, `  node [shape=box, style=rounded, fontname="Helvetica"];`)
	for _, level := range d.levels {
		fmt.Fprint(w, "  { rank=same;")
		for _, id := range level {
			fmt.Fprintf(w, " %q;", id)
		}
		fmt.Fprintln(w, " }")
	}
	for _, level := range d.levels {
		for _, id := range level {
			n := d.nodes[id]
			label := n.id + `\n` + n.kind
			if n.note != "" {
				label += `\n(` + n.note + `)`
			}
			var attrs []string
			attrs = append(attrs, "label=\""+strings.ReplaceAll(label, `"`, `\"`)+"\"")
			switch {
			case n.external:
				attrs = append(attrs, `style="rounded,dashed"`)
			case n.conditional:
				attrs = append(attrs, `style="rounded,dotted"`)
			}
			if n.collection {
				attrs = append(attrs, "shape=box3d")
			}
			fmt.Fprintf(w, "  %q [%s];\n", id, strings.Join(attrs, ", "))
		}
	}
	for _, e := range d.edges {
		fmt.Fprintf(w, "  %q -> %q;\n", e[0], e[1])
	}
	fmt.Fprintln(w, "}")
}
