package cli

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"

	"github.com/kro-run/kro/api/v1alpha1"
	"github.com/kro-run/kro/internal/graph"
)

// RenderResult is what the controller would do for one instance in one pass.
type RenderResult struct {
	// Instance is the instance as the API server would store it: defaults applied.
	Instance map[string]any `json:"instance"`
	// Objects are the objects the controller applies, in creation order.
	Objects []map[string]any `json:"objects"`
	// Resources is every resource of the graph in creation order with its state.
	Resources []NodeResult `json:"resources"`
	// Status holds the instance's status fields whose inputs exist.
	Status map[string]any `json:"status,omitempty"`
	// Error is the first error of the pass, as the instance's status would show it.
	Error string `json:"error,omitempty"`
}

type renderOptions struct {
	files, instances, observed []string
	namespace                  string
	all                        bool
	pass                       passOptions
}

func newRenderCommand(o *globalOptions) *cobra.Command {
	ro := &renderOptions{}
	cmd := &cobra.Command{
		Use:   "render -f rgd.yaml -i instance.yaml [--observed dir/] [--all]",
		Short: "Print the objects the controller would apply for an instance",
		Long: `render prints, as YAML, exactly the objects the kro controller applies for an instance, using
the controller's code: the instance gets the defaults and validation of the generated CRD, the
graph is evaluated with the controller's runtime level by level, and every object carries kro's
labels and annotations.

Nothing is read from a cluster. A resource whose objects exist is seen as the files given with
--observed show it (kubectl get -o yaml output, List documents included), otherwise as desired:
fields only the API server or other controllers set (status above all) are not there, so
resources waiting on them are listed as pending at the end of the output, with the reason.
externalRefs are only found in --observed. --all also lists the skipped resources (includeWhen)
and the instance status that could be computed.`,
		Example: `  kro render -f examples/webapp/rgd.yaml -i examples/webapp/instance.yaml
  kro render -f rgd.yaml -i instance.yaml --observed live/ --all
  kro generate instance -f rgd.yaml | kro render -f rgd.yaml -i -`,
		Args: exactArgs(0),
	}
	addFileFlag(cmd, &ro.files, "RGDs")
	cmd.Flags().StringArrayVarP(&ro.instances, "instance", "i", nil, "instances to render: a file, a directory or - for stdin (repeatable)")
	_ = cmd.MarkFlagFilename("instance", "yaml", "yml", "json")
	cmd.Flags().StringArrayVar(&ro.observed, "observed", nil, "live objects (children, externalRefs) as files or directories (repeatable)")
	cmd.Flags().StringVarP(&ro.namespace, "namespace", "n", "default", "namespace of instances that do not set one")
	cmd.Flags().BoolVar(&ro.all, "all", false, "also list skipped resources with the reason, externalRefs and the instance status")
	addPassFlags(cmd, &ro.pass)
	out := addOutputFlag(cmd, "yaml", "json")
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		if err := requireFiles(ro.files); err != nil {
			return err
		}
		if len(ro.instances) == 0 {
			return &usageError{fmt.Errorf("no instance: pass -i <file|directory|->")}
		}
		results, problems, err := o.render(cmd, ro)
		if err != nil {
			return err
		}
		if out.value == "json" {
			if err := printStructured(o.streams.Out, "json", results); err != nil {
				return err
			}
		} else {
			for i, r := range results {
				if i > 0 {
					fmt.Fprintln(o.streams.Out, "---")
				}
				if err := printRender(o.streams.Out, r, ro.all, len(results) > 1); err != nil {
					return err
				}
			}
		}
		for _, r := range results {
			if r.Error != "" {
				problems++
			}
		}
		if problems > 0 {
			return &findingsError{n: problems}
		}
		return nil
	}
	return cmd
}

// render loads the RGDs and instances and runs a pass for each instance. Invalid RGDs and
// instances are printed to stderr and counted in problems.
func (o *globalOptions) render(cmd *cobra.Command, ro *renderOptions) ([]RenderResult, int, error) {
	rgds, err := o.loadValid(cmd, ro.files)
	if err != nil {
		return nil, 0, err
	}
	instDocs, err := ReadDocuments(ro.instances, o.stdin.Reader())
	if err != nil {
		return nil, 0, err
	}
	observed := &observedSet{}
	obsDocs, err := ReadDocuments(ro.observed, o.stdin.Reader())
	if err != nil {
		return nil, 0, err
	}
	for _, d := range obsDocs {
		observed.add(&unstructured.Unstructured{Object: d.Object})
	}
	var results []RenderResult
	problems := 0
	for _, d := range instDocs {
		if isDefinition(d) {
			// cat rgd.yaml instance.yaml | kro render -f - -i -
			continue
		}
		g := graphOf(rgds, d)
		if g == nil {
			apiVersion, kind := d.Kind()
			return nil, 0, inputErrorf("%s: no RGD of the input defines kind %s of apiVersion %s", d.Pos(), kind, apiVersion)
		}
		inst, ok, err := o.prepareInstance(cmd.Context(), g, d, ro.namespace)
		if err != nil {
			return nil, 0, err
		}
		if !ok {
			problems++
			continue
		}
		nodes, status, err := renderPass(cmd.Context(), g, inst, observed, ro.pass)
		r := RenderResult{Instance: inst.Object, Resources: nodes, Status: status, Objects: []map[string]any{}}
		if err != nil {
			r.Error = err.Error()
		}
		for _, n := range nodes {
			for _, obj := range n.Objects {
				r.Objects = append(r.Objects, obj.Object)
			}
			if n.State == StateError && r.Error == "" {
				r.Error = n.Reason
			}
		}
		results = append(results, r)
	}
	return results, problems, nil
}

// prepareInstance turns an instance document into the object the controller would read:
// namespace defaulted, status dropped, admitted as the API server would (defaults). Problems
// the API server would reject it for are printed to stderr; ok is false then.
func (o *globalOptions) prepareInstance(ctx context.Context, g *graph.Graph, d *Document, namespace string) (*unstructured.Unstructured, bool, error) {
	inst := &unstructured.Unstructured{Object: d.Object}
	if g.Instance.Namespaced && inst.GetNamespace() == "" {
		inst.SetNamespace(namespace)
	}
	if !g.Instance.Namespaced {
		inst.SetNamespace("")
	}
	delete(inst.Object, "status")
	msgs, err := admit(ctx, g.CRD, inst)
	if err != nil {
		return nil, false, err
	}
	for _, m := range msgs {
		fmt.Fprintf(o.streams.Err, "%s: %s %q: %s\n", d.Pos(), g.Instance.GVK.Kind, inst.GetName(), m)
	}
	return inst, len(msgs) == 0, nil
}

// isDefinition reports whether a document is an RGD or a CRD, not an instance.
func isDefinition(d *Document) bool {
	apiVersion, kind := d.Kind()
	return kind == "ResourceGraphDefinition" && strings.HasPrefix(apiVersion, v1alpha1.GroupVersion.Group+"/") ||
		kind == "CustomResourceDefinition" && strings.HasPrefix(apiVersion, "apiextensions.k8s.io/")
}

// graphOf is the graph whose kind the document is.
func graphOf(rgds []*loaded, d *Document) *graph.Graph {
	apiVersion, kind := d.Kind()
	for _, l := range rgds {
		gvk := l.graph.Instance.GVK
		if gvk.Kind == kind && gvk.GroupVersion().String() == apiVersion {
			return l.graph
		}
	}
	return nil
}

// printRender prints the applied objects as a YAML stream, each after a comment naming its
// resource, then the pending resources (and with all the skipped and external ones, and the
// status) as comments.
func printRender(w io.Writer, r RenderResult, all, header bool) error {
	inst := &unstructured.Unstructured{Object: r.Instance}
	if header {
		fmt.Fprintf(w, "# %s %s\n", inst.GetKind(), objectName(inst))
	}
	first := true
	for _, n := range r.Resources {
		for i, obj := range n.Objects {
			if !first {
				fmt.Fprintln(w, "---")
			}
			first = false
			what := fmt.Sprintf("resource %q (%s)", n.ID, n.Kind)
			if len(n.Objects) > 1 || obj.GetLabels() != nil && obj.GetLabels()["kro.run/collection-index"] != "" {
				what = fmt.Sprintf("resource %q (%s) item %d", n.ID, n.Kind, i)
			}
			fmt.Fprintf(w, "# %s\n", what)
			raw, err := yaml.Marshal(obj.Object)
			if err != nil {
				return err
			}
			if _, err := w.Write(raw); err != nil {
				return err
			}
		}
	}
	if first {
		fmt.Fprintln(w, "# no objects to apply")
	}
	section := func(title string, keep func(NodeResult) bool) {
		var lines []string
		for _, n := range r.Resources {
			if keep(n) {
				lines = append(lines, fmt.Sprintf("#   %s (%s): %s", n.ID, n.Kind, oneLine(n.Reason)))
			}
		}
		if len(lines) > 0 {
			fmt.Fprintf(w, "# %s:\n%s\n", title, strings.Join(lines, "\n"))
		}
	}
	section("Not ready (dependents wait)", func(n NodeResult) bool {
		return n.State == StateApplied && n.Ready != nil && !*n.Ready
	})
	section("Pending", func(n NodeResult) bool { return n.State == StatePending })
	section("Error", func(n NodeResult) bool { return n.State == StateError })
	if all {
		section("Skipped", func(n NodeResult) bool { return n.State == StateSkipped })
		section("External (read, never applied)", func(n NodeResult) bool { return n.State == StateExternal })
		if len(r.Status) > 0 {
			raw, err := yaml.Marshal(r.Status)
			if err != nil {
				return err
			}
			fmt.Fprintln(w, "# Status:")
			for _, l := range strings.Split(strings.TrimRight(string(raw), "\n"), "\n") {
				fmt.Fprintf(w, "#   %s\n", l)
			}
		}
	}
	if r.Error != "" && !hasState(r.Resources, StateError) {
		fmt.Fprintf(w, "# Error: %s\n", oneLine(r.Error))
	}
	return nil
}

func hasState(nodes []NodeResult, state string) bool {
	for _, n := range nodes {
		if n.State == state {
			return true
		}
	}
	return false
}

// add adds a live object; a List adds its items.
func (s *observedSet) add(u *unstructured.Unstructured) {
	if u.IsList() {
		items, _, _ := unstructured.NestedSlice(u.Object, "items")
		for _, item := range items {
			if m, ok := item.(map[string]any); ok {
				s.add(&unstructured.Unstructured{Object: m})
			}
		}
		return
	}
	s.objs = append(s.objs, u)
}
