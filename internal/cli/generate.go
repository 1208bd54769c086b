package cli

import "github.com/spf13/cobra"

func newGenerateCommand(o *globalOptions) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "generate",
		Short: "Generate the CRD, an example instance or a diagram of an RGD",
		Args:  exactArgs(0),
	}
	return cmd
}
