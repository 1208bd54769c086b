package cli

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"
)

// ValidationResult is the outcome of validating one RGD.
type ValidationResult struct {
	File string `json:"file"`
	Line int    `json:"line"`
	Name string `json:"name"`
	// Valid is true when the controller would accept the RGD (GraphAccepted True).
	Valid bool `json:"valid"`
	// Kind is the generated kind, "Kind.group/version", when valid.
	Kind string `json:"kind,omitempty"`
	// TopologicalOrder is the creation order of the resources, when valid.
	TopologicalOrder []string  `json:"topologicalOrder,omitempty"`
	Errors           []Finding `json:"errors,omitempty"`
	Warnings         []Finding `json:"warnings,omitempty"`
}

func newValidateCommand(o *globalOptions) *cobra.Command {
	var files []string
	var quiet bool
	cmd := &cobra.Command{
		Use:   "validate -f rgd.yaml [--crd crds/]...",
		Short: "Check ResourceGraphDefinitions as the controller would, without a cluster",
		Long: `validate builds every ResourceGraphDefinition of the input with the controller's graph
builder: SimpleSchema, resource ids, CEL syntax and types against the OpenAPI schemas of the
kinds used, dependencies and cycles. It reports what the controller would put in the RGD's
GraphAccepted condition, one problem per line:

  file:line: resource "x" field "spec.y": message

The line is that of the resource's entry (or of the schema field) in the file. Exit code 1
when a problem is found.`,
		Example: `  kro validate -f examples/webapp/rgd.yaml
  kro validate -f rgds/ --crd crds/ -o json
  cat rgd.yaml | kro validate -f -`,
		Args: exactArgs(0),
	}
	addFileFlag(cmd, &files, "RGDs to validate")
	cmd.Flags().BoolVarP(&quiet, "quiet", "q", false, "print only problems")
	out := addOutputFlag(cmd, "text", "json", "yaml")
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		if err := requireFiles(files); err != nil {
			return err
		}
		rgds, _, err := o.loadRGDs(cmd.Context(), files)
		if err != nil {
			return err
		}
		results := make([]ValidationResult, 0, len(rgds))
		problems := 0
		for _, l := range rgds {
			r := ValidationResult{File: l.doc.Source, Line: l.doc.Node.Line, Name: l.name(), Errors: l.errors, Warnings: l.warnings}
			if l.graph != nil {
				gvk := l.graph.Instance.GVK
				r.Valid = true
				r.Kind = fmt.Sprintf("%s.%s/%s", gvk.Kind, gvk.Group, gvk.Version)
				r.TopologicalOrder = l.graph.Order
			}
			problems += len(r.Errors)
			results = append(results, r)
		}
		if out.value != "text" {
			if err := printStructured(o.streams.Out, out.value, results); err != nil {
				return err
			}
		} else {
			printValidation(o.streams, results, quiet)
		}
		if problems > 0 {
			return &findingsError{n: problems}
		}
		return nil
	}
	return cmd
}

func printValidation(s Streams, results []ValidationResult, quiet bool) {
	for _, r := range results {
		for _, f := range r.Errors {
			fmt.Fprintln(s.Out, f.String())
		}
		for _, f := range r.Warnings {
			fmt.Fprintln(s.Err, f.String())
		}
		if r.Valid && !quiet {
			fmt.Fprintf(s.Out, "%s:%d: ResourceGraphDefinition %q is valid: kind %s, resources in order: %s\n",
				r.File, r.Line, r.Name, r.Kind, orNone(strings.Join(r.TopologicalOrder, ", ")))
		}
	}
}

func orNone(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}
