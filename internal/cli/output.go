package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"slices"

	"github.com/spf13/cobra"
	"sigs.k8s.io/yaml"
)

// outputFlag is an --output/-o flag restricted to formats.
type outputFlag struct {
	value   string
	formats []string
}

func (f *outputFlag) String() string { return f.value }
func (f *outputFlag) Type() string   { return "format" }
func (f *outputFlag) Set(v string) error {
	if !slices.Contains(f.formats, v) {
		return fmt.Errorf("must be one of %v", f.formats)
	}
	f.value = v
	return nil
}

// addOutputFlag adds -o/--output with the given formats, the first the default.
func addOutputFlag(cmd *cobra.Command, formats ...string) *outputFlag {
	f := &outputFlag{value: formats[0], formats: formats}
	cmd.Flags().VarP(f, "output", "o", fmt.Sprintf("output format: %v", formats))
	_ = cmd.RegisterFlagCompletionFunc("output", cobra.FixedCompletions(formats, cobra.ShellCompDirectiveNoFileComp))
	return f
}

// printStructured writes v as JSON or YAML.
func printStructured(w io.Writer, format string, v any) error {
	switch format {
	case "json":
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(v)
	case "yaml":
		out, err := yaml.Marshal(v)
		if err != nil {
			return err
		}
		_, err = w.Write(out)
		return err
	}
	return fmt.Errorf("unknown output format %q", format)
}

// addFileFlag adds -f/--filename.
func addFileFlag(cmd *cobra.Command, files *[]string, what string) {
	cmd.Flags().StringArrayVarP(files, "filename", "f", nil, what+": a file, a directory (its .yaml, .yml and .json files) or - for stdin (repeatable)")
	_ = cmd.MarkFlagFilename("filename", "yaml", "yml", "json")
}
