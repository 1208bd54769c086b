package app

import (
	"flag"
	"testing"
)

// TestBindFlagsOnDefaultFlagSet guards against redefining flags controller-runtime already
// registers on flag.CommandLine (which panics at startup).
func TestBindFlagsOnDefaultFlagSet(t *testing.T) {
	fs := flag.NewFlagSet("test", flag.ContinueOnError)
	fs.String("kubeconfig", "", "registered by controller-runtime")
	opts := DefaultOptions()
	opts.BindFlags(fs)
	if err := fs.Parse([]string{"--kubeconfig=/x", "--client-qps=5", "--allow-crd-deletion"}); err != nil {
		t.Fatalf("Parse: %v", err)
	}
	if opts.ClientQPS != 5 || !opts.AllowCRDDeletion {
		t.Errorf("BindFlags: got %+v", opts)
	}
}
