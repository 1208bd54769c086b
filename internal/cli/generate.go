package cli

import (
	"fmt"
	"io"

	"github.com/spf13/cobra"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/yaml"
)

func newGenerateCommand(o *globalOptions) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "generate",
		Short: "Generate the CRD, an example instance or a dependency diagram of RGDs",
		Args:  exactArgs(0),
	}
	cmd.AddCommand(newGenerateCRDCommand(o), newGenerateInstanceCommand(o), newGenerateDiagramCommand(o))
	return cmd
}

// loadValid loads the RGDs of files and fails with their findings (printed to stderr) when
// one of them is invalid.
func (o *globalOptions) loadValid(cmd *cobra.Command, files []string) ([]*loaded, error) {
	if err := requireFiles(files); err != nil {
		return nil, err
	}
	rgds, _, err := o.loadRGDs(cmd.Context(), files)
	if err != nil {
		return nil, err
	}
	problems := 0
	for _, l := range rgds {
		for _, f := range l.errors {
			fmt.Fprintln(o.streams.Err, f.String())
			problems++
		}
	}
	if problems > 0 {
		return nil, &findingsError{n: problems}
	}
	return rgds, nil
}

func newGenerateCRDCommand(o *globalOptions) *cobra.Command {
	var files []string
	cmd := &cobra.Command{
		Use:   "crd -f rgd.yaml",
		Short: "Print the CustomResourceDefinition kro registers for an RGD",
		Long: `crd prints the CustomResourceDefinition the controller generates and applies for each
ResourceGraphDefinition of the input: the same code builds it. (The controller also stamps the
RGD's uid and generation on it, which only exist in a cluster.)`,
		Example: `  kro generate crd -f examples/webapp/rgd.yaml
  kro generate crd -f rgd.yaml | kubectl apply --dry-run=server -f -`,
		Args: exactArgs(0),
	}
	addFileFlag(cmd, &files, "RGDs")
	out := addOutputFlag(cmd, "yaml", "json")
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		rgds, err := o.loadValid(cmd, files)
		if err != nil {
			return err
		}
		objs := make([]map[string]any, 0, len(rgds))
		for _, l := range rgds {
			obj, err := runtime.DefaultUnstructuredConverter.ToUnstructured(l.graph.CRD)
			if err != nil {
				return err
			}
			// The status is the API server's; the creation timestamp is unset.
			delete(obj, "status")
			if md, ok := obj["metadata"].(map[string]any); ok {
				delete(md, "creationTimestamp")
			}
			objs = append(objs, obj)
		}
		return printObjects(o.streams.Out, out.value, objs)
	}
	return cmd
}

// printObjects prints objects as a YAML stream or, in JSON, one object or a v1 List.
func printObjects(w io.Writer, format string, objs []map[string]any) error {
	if format == "json" {
		if len(objs) == 1 {
			return printStructured(w, "json", objs[0])
		}
		items := make([]any, len(objs))
		for i, obj := range objs {
			items[i] = obj
		}
		return printStructured(w, "json", map[string]any{"apiVersion": "v1", "kind": "List", "items": items})
	}
	for i, obj := range objs {
		if i > 0 {
			fmt.Fprintln(w, "---")
		}
		raw, err := yaml.Marshal(obj)
		if err != nil {
			return err
		}
		if _, err := w.Write(raw); err != nil {
			return err
		}
	}
	return nil
}
