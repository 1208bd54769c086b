package cli

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/kro-run/kro/internal/cli/offline"
	"github.com/kro-run/kro/internal/version"
)

// Exit codes of every command.
const (
	ExitOK       = 0
	ExitFindings = 1
	ExitUsage    = 2
)

// Streams are the standard streams of a command.
type Streams struct {
	In       io.Reader
	Out, Err io.Writer
}

// globalOptions are the flags every command shares.
type globalOptions struct {
	streams Streams
	// crds are the --crd files and directories.
	crds []string
	// cluster makes commands that can work offline use the cluster of the kubeconfig.
	cluster             bool
	kubeconfig, context string
	// stdin is read once; every "-" input sees all of it.
	stdin *onceReader
}

// onceReader reads a stream once and hands out its content to every reader.
type onceReader struct {
	r    io.Reader
	data []byte
	err  error
	done bool
}

// Reader returns a reader of the whole stream.
func (o *onceReader) Reader() io.Reader {
	if !o.done {
		o.data, o.err = io.ReadAll(o.r)
		o.done = true
	}
	if o.err != nil {
		return errReader{o.err}
	}
	return bytes.NewReader(o.data)
}

type errReader struct{ err error }

func (e errReader) Read([]byte) (int, error) { return 0, e.err }

// findingsError means the command found problems in its input: exit code 1. They have been
// printed already.
type findingsError struct{ n int }

func (e *findingsError) Error() string { return fmt.Sprintf("%d problems found", e.n) }

// usageError is a wrong invocation: exit code 2.
type usageError struct{ err error }

func (e *usageError) Error() string { return e.err.Error() }
func (e *usageError) Unwrap() error { return e.err }

// Main runs the CLI with os.Args and the process's streams and returns the exit code.
func Main() int {
	return Run(context.Background(), filepath.Base(os.Args[0]), os.Args[1:], Streams{In: os.Stdin, Out: os.Stdout, Err: os.Stderr})
}

// Run runs the CLI named name (argv[0]: "kubectl-kro" makes it the kubectl plugin "kubectl
// kro") with args and returns the exit code.
func Run(ctx context.Context, name string, args []string, streams Streams) int {
	root := NewRootCommand(name, streams)
	root.SetArgs(args)
	err := root.ExecuteContext(ctx)
	var findings *findingsError
	switch {
	case err == nil:
		return ExitOK
	case errors.As(err, &findings):
		return ExitFindings
	}
	fmt.Fprintf(streams.Err, "Error: %v\n", err)
	var usage *usageError
	if errors.As(err, &usage) {
		fmt.Fprintf(streams.Err, "Run '%s --help' for usage.\n", root.CommandPath())
	}
	return ExitUsage
}

// NewRootCommand returns the kro command with every subcommand.
func NewRootCommand(name string, streams Streams) *cobra.Command {
	use := "kro"
	if strings.TrimSuffix(name, ".exe") == "kubectl-kro" {
		// As a kubectl plugin, help and completion show "kubectl kro".
		use = "kubectl kro"
	}
	o := &globalOptions{streams: streams}
	o.stdin = &onceReader{r: streams.In}
	root := &cobra.Command{
		Use:   use,
		Short: "Check, render and inspect kro ResourceGraphDefinitions",
		Long: `kro checks ResourceGraphDefinitions (RGDs) and shows what the kro controller would do with
them, using the controller's own code.

validate, generate and render work offline: kinds of Kubernetes itself are built in, the kinds
of CRDs come from --crd files or directories (and from the CRDs the RGDs of the input
generate). With --cluster they use the cluster of your kubeconfig instead.

Exit codes: 0 ok, 1 problems found in the input, 2 wrong usage or unreadable input.`,
		Version:           version.Version,
		SilenceUsage:      true,
		SilenceErrors:     true,
		CompletionOptions: cobra.CompletionOptions{HiddenDefaultCmd: false},
	}
	if use != "kro" {
		root.Annotations = map[string]string{cobra.CommandDisplayNameAnnotation: use}
	}
	root.SetIn(streams.In)
	root.SetOut(streams.Out)
	root.SetErr(streams.Err)
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return &usageError{err} })

	pf := root.PersistentFlags()
	pf.StringArrayVar(&o.crds, "crd", nil, "CRD file or directory defining kinds the RGDs use (repeatable)")
	pf.BoolVar(&o.cluster, "cluster", false, "use the kinds and schemas of the cluster of the kubeconfig instead of the built-in ones")
	pf.StringVar(&o.kubeconfig, "kubeconfig", "", "path to the kubeconfig file (default: $KUBECONFIG or ~/.kube/config)")
	pf.StringVar(&o.context, "context", "", "kubeconfig context to use")

	root.AddCommand(
		newValidateCommand(o),
		newGenerateCommand(o),
		newRenderCommand(o),
		newDiffCommand(o),
		newExplainCommand(o),
	)
	return root
}

// snapshotVersion is the Kubernetes version of the built-in schemas.
func snapshotVersion() string {
	s, err := offline.Builtin()
	if err != nil {
		return "(unknown)"
	}
	return s.KubernetesVersion
}

// exactArgs is cobra.ExactArgs reporting a usage error.
func exactArgs(n int) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if err := cobra.ExactArgs(n)(cmd, args); err != nil {
			return &usageError{err}
		}
		return nil
	}
}

// requireFiles fails with a usage error when no -f was given.
func requireFiles(files []string) error {
	if len(files) == 0 {
		return &usageError{errors.New("no input: pass -f <file|directory|->")}
	}
	return nil
}
