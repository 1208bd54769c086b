package app

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/kro-run/kro/internal/features"
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

// TestBindFlagsParsesEveryFlag sets every flag to a value other than its default.
func TestBindFlagsParsesEveryFlag(t *testing.T) {
	args := []string{
		"--kubeconfig=/etc/kube/config",
		"--metrics-bind-address=:9000",
		"--health-probe-bind-address=:9001",
		"--pprof-bind-address=127.0.0.1:6060",
		"--leader-elect",
		"--leader-election-namespace=kro-system",
		"--allow-crd-deletion",
		"--client-qps=50",
		"--client-burst=75",
		"--client-compression",
		"--dynamic-controller-concurrent-reconciles=3",
		"--resource-graph-definition-concurrent-reconciles=4",
		"--rgd-max-collection-size=10",
		"--rgd-max-graph-revisions=7",
		"--graph-revision-concurrent-reconciles=2",
		"--argocd-tracking-propagation=false",
		"--graceful-shutdown-timeout=45s",
		"--log-level=debug",
		"--log-format=console",
		"--feature-gates=CELOmitFunction=true,InstanceConditionEvents=true,InstanceConditionMetrics=false,GraphKind=false,ConservativeCRDComparison=true,DeletionPolicy=true",
	}
	fs := flag.NewFlagSet("test", flag.ContinueOnError)
	opts := DefaultOptions()
	opts.BindFlags(fs)
	if err := fs.Parse(args); err != nil {
		t.Fatalf("Parse(...): %v", err)
	}
	want := DefaultOptions()
	want.Kubeconfig = "/etc/kube/config"
	want.MetricsAddr = ":9000"
	want.ProbeAddr = ":9001"
	want.PprofAddr = "127.0.0.1:6060"
	want.LeaderElect = true
	want.LeaderElectionNamespace = "kro-system"
	want.AllowCRDDeletion = true
	want.ClientQPS = 50
	want.ClientBurst = 75
	want.ClientCompression = true
	want.InstanceWorkers = 3
	want.RGDWorkers = 4
	want.MaxCollectionSize = 10
	want.MaxGraphRevisions = 7
	want.GraphRevisionWorkers = 2
	want.ArgoCDTracking = false
	want.GracefulShutdownTimeout = 45 * time.Second
	want.LogLevel = "debug"
	want.LogFormat = "console"
	if diff := cmp.Diff(want, opts, cmpopts.IgnoreFields(Options{}, "FeatureGates")); diff != "" {
		t.Errorf("BindFlags then Parse(...): -want, +got:\n%s", diff)
	}
	gates := map[string]bool{}
	for _, g := range features.Known() {
		gates[string(g)] = opts.FeatureGates.Enabled(g)
	}
	wantGates := map[string]bool{
		"CELOmitFunction": true, "InstanceConditionEvents": true, "InstanceConditionMetrics": false,
		"GraphKind": false, "ConservativeCRDComparison": true, "DeletionPolicy": true,
	}
	if diff := cmp.Diff(wantGates, gates); diff != "" {
		t.Errorf("feature gates: -want, +got:\n%s", diff)
	}
	// Every registered flag was given.
	fs.VisitAll(func(f *flag.Flag) {
		for _, a := range args {
			if strings.HasPrefix(a, "--"+f.Name+"=") || a == "--"+f.Name {
				return
			}
		}
		t.Errorf("flag --%s is not covered by this test", f.Name)
	})
}

func TestDefaultOptions(t *testing.T) {
	opts := DefaultOptions()
	if opts.MaxGraphRevisions != 5 {
		t.Errorf("MaxGraphRevisions = %d, want the reference's 5", opts.MaxGraphRevisions)
	}
	for _, g := range features.Known() {
		if opts.FeatureGates.Enabled(g) {
			t.Errorf("feature gate %s is on by default, want off", g)
		}
	}
	if LeaderElectionID != "6f0f64a5.kro.run" {
		t.Errorf("LeaderElectionID = %q, want the reference's", LeaderElectionID)
	}
}

func TestBindFlagsRejects(t *testing.T) {
	cases := map[string]struct {
		reason string
		arg    string
	}{
		"UnknownGate":  {reason: "an unknown feature gate is an error", arg: "--feature-gates=NoSuchGate=true"},
		"BadGateValue": {reason: "a gate value must be a bool", arg: "--feature-gates=CELOmitFunction=maybe"},
		"LogFormat":    {reason: "log format is json or console", arg: "--log-format=xml"},
		"LogLevel":     {reason: "log level is a name or a verbosity", arg: "--log-level=loud"},
		"NegativeLog":  {reason: "a verbosity is not negative", arg: "--log-level=-1"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			fs := flag.NewFlagSet("test", flag.ContinueOnError)
			fs.SetOutput(&bytes.Buffer{})
			opts := DefaultOptions()
			opts.BindFlags(fs)
			if err := fs.Parse([]string{tc.arg}); err == nil {
				t.Errorf("%s\nParse(%q): got nil error", tc.reason, tc.arg)
			}
		})
	}
}

func TestNewLogger(t *testing.T) {
	cases := map[string]struct {
		reason    string
		level     string
		format    string
		wantDebug bool
		wantJSON  bool
	}{
		"InfoJSON":     {reason: "info hides debug lines", level: "info", format: "json", wantJSON: true},
		"DebugConsole": {reason: "debug shows V(1)", level: "debug", format: "console", wantDebug: true},
		"Verbosity":    {reason: "a number is a verbosity, as the reference's --log-level", level: "2", format: "json", wantDebug: true, wantJSON: true},
		"Zero":         {reason: "verbosity 0 is info", level: "0", format: "json", wantJSON: true},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			var buf bytes.Buffer
			opts := DefaultOptions()
			opts.LogLevel, opts.LogFormat = tc.level, tc.format
			log, err := NewLogger(opts, &buf)
			if err != nil {
				t.Fatalf("NewLogger(...): %v", err)
			}
			log.Info("Hello", "k", "v")
			log.V(1).Info("Detail")
			out := buf.String()
			if diff := cmp.Diff(tc.wantDebug, strings.Contains(out, "Detail")); diff != "" {
				t.Errorf("%s\ndebug line written: -want, +got:\n%s\n%s", tc.reason, diff, out)
			}
			if diff := cmp.Diff(tc.wantJSON, strings.HasPrefix(out, "{")); diff != "" {
				t.Errorf("%s\nJSON output: -want, +got:\n%s\n%s", tc.reason, diff, out)
			}
		})
	}
}

// TestRESTConfigCompression: kro asks for uncompressed answers unless --client-compression.
func TestRESTConfigCompression(t *testing.T) {
	kubeconfig := filepath.Join(t.TempDir(), "kubeconfig")
	if err := os.WriteFile(kubeconfig, []byte(`apiVersion: v1
kind: Config
clusters: [{name: c, cluster: {server: "https://127.0.0.1:6443"}}]
users: [{name: u, user: {token: t}}]
contexts: [{name: c, context: {cluster: c, user: u}}]
current-context: c
`), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, compression := range []bool{false, true} {
		opts := DefaultOptions()
		opts.Kubeconfig = kubeconfig
		opts.ClientCompression = compression
		cfg, err := RESTConfig(opts)
		if err != nil {
			t.Fatalf("RESTConfig: %v", err)
		}
		if cfg.DisableCompression == compression {
			t.Errorf("--client-compression=%v: DisableCompression = %v", compression, cfg.DisableCompression)
		}
	}
}
