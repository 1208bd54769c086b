package app

import (
	"flag"
	"fmt"
	"strconv"
	"time"

	"k8s.io/component-base/featuregate"

	"github.com/kro-run/kro/internal/features"
)

// LeaderElectionID names the leader election lease, the reference kro's, so that kro and the
// reference never run as leaders side by side.
const LeaderElectionID = "6f0f64a5.kro.run"

// Options configure the controller. Field comments state the defaults.
type Options struct {
	// Kubeconfig is the path of a kubeconfig; empty uses in-cluster config or $KUBECONFIG.
	Kubeconfig string
	// MetricsAddr serves Prometheus metrics. Default ":8078"; "0" disables.
	MetricsAddr string
	// ProbeAddr serves /healthz and /readyz. Default ":8079".
	ProbeAddr string
	// PprofAddr serves Go's net/http/pprof profiles (heap, CPU, goroutines) at /debug/pprof/.
	// Default "0": off ("" also disables). Profiles show the objects kro holds; bind it to
	// localhost or keep the port inside the cluster.
	PprofAddr string
	// LeaderElect enables leader election. Default false.
	LeaderElect bool
	// LeaderElectionNamespace holds the lease. Default: the namespace kro runs in.
	LeaderElectionNamespace string
	// AllowCRDDeletion deletes generated CRDs with their RGD. Default false.
	AllowCRDDeletion bool
	// ClientQPS and ClientBurst limit requests to the API server, per resource kind (each kind
	// has its own REST client). Default 500 and 1000: higher than the reference's 100/150 so
	// that a burst of instances is limited by the API server, not by kro (see bench/README.md);
	// the API server's priority and fairness still protects it.
	ClientQPS   float64
	ClientBurst int
	// ClientCompression asks the API server to gzip its answers and watch streams. Default
	// false: kro usually runs next to its API server, where compressing every watch event costs
	// CPU on both sides (about 5% of kro's) and saves bandwidth nobody is short of.
	ClientCompression bool
	// InstanceWorkers is the number of concurrent reconciles per generated kind. Default 10.
	InstanceWorkers int
	// RGDWorkers is the number of concurrent RGD reconciles. Default 1.
	RGDWorkers int
	// MaxCollectionSize bounds the items of one forEach collection. Default 1000.
	MaxCollectionSize int
	// ArgoCDTracking copies an instance's argocd.argoproj.io/tracking-id annotation to its
	// children. Default true.
	ArgoCDTracking bool
	// MaxGraphRevisions is how many GraphRevisions are kept per RGD, the newest; 0 keeps all.
	// Default 5, as the reference.
	MaxGraphRevisions int
	// GraphRevisionWorkers is accepted because the reference kro has the flag (its revisions
	// have their own controller); here the RGD reconciler issues revisions, so it has no
	// effect. Default 1.
	GraphRevisionWorkers int
	// GracefulShutdownTimeout bounds shutdown. Default 30s.
	GracefulShutdownTimeout time.Duration
	// FeatureGates holds the reference's feature gates (see package features). Default: all
	// off.
	FeatureGates featuregate.MutableFeatureGate
	// LogLevel is debug, info or error, or a verbosity: 0 is info, each step above shows
	// V(n) lines. Default "info".
	LogLevel string
	// LogFormat is json or console. Default "json".
	LogFormat string
	// SkipControllerNameValidation lets one process build the manager more than once (tests
	// that restart kro). Not a flag. Default false.
	SkipControllerNameValidation bool
	// DiscoveryTimeout bounds each discovery and OpenAPI request made while building graphs
	// and starting informers. Default 30s.
	DiscoveryTimeout time.Duration
}

// DefaultOptions returns the defaults.
func DefaultOptions() Options {
	return Options{
		MetricsAddr:             ":8078",
		ProbeAddr:               ":8079",
		PprofAddr:               "0",
		ClientQPS:               500,
		ClientBurst:             1000,
		InstanceWorkers:         10,
		RGDWorkers:              1,
		MaxCollectionSize:       1000,
		ArgoCDTracking:          true,
		MaxGraphRevisions:       5,
		GraphRevisionWorkers:    1,
		GracefulShutdownTimeout: 30 * time.Second,
		FeatureGates:            features.New(),
		LogLevel:                "info",
		LogFormat:               "json",
		DiscoveryTimeout:        30 * time.Second,
	}
}

// BindFlags registers the flags (reference kro's names) on fs.
func (o *Options) BindFlags(fs *flag.FlagSet) {
	// controller-runtime registers --kubeconfig on the default flag set and honours it in
	// ctrl.GetConfig; register it only on other flag sets.
	if fs.Lookup("kubeconfig") == nil {
		fs.StringVar(&o.Kubeconfig, "kubeconfig", o.Kubeconfig, "Path to a kubeconfig. Only required if out-of-cluster.")
	}
	fs.StringVar(&o.MetricsAddr, "metrics-bind-address", o.MetricsAddr, "The address the metrics endpoint binds to; \"0\" disables it.")
	fs.StringVar(&o.ProbeAddr, "health-probe-bind-address", o.ProbeAddr, "The address the health probe endpoint binds to.")
	fs.StringVar(&o.PprofAddr, "pprof-bind-address", o.PprofAddr, "The address the pprof endpoint (/debug/pprof/) binds to; \"0\" or empty disables it.")
	fs.BoolVar(&o.LeaderElect, "leader-elect", o.LeaderElect, "Enable leader election so that only one controller is active.")
	fs.StringVar(&o.LeaderElectionNamespace, "leader-election-namespace", o.LeaderElectionNamespace, "Namespace of the leader election lease.")
	fs.BoolVar(&o.AllowCRDDeletion, "allow-crd-deletion", o.AllowCRDDeletion, "Delete a generated CRD (and all its instances) when its RGD is deleted.")
	fs.Float64Var(&o.ClientQPS, "client-qps", o.ClientQPS, "Queries per second to the API server.")
	fs.IntVar(&o.ClientBurst, "client-burst", o.ClientBurst, "Burst of queries to the API server.")
	fs.BoolVar(&o.ClientCompression, "client-compression", o.ClientCompression, "Ask the API server to gzip its answers and watch streams (for a slow link to it; costs CPU on both sides).")
	fs.IntVar(&o.InstanceWorkers, "dynamic-controller-concurrent-reconciles", o.InstanceWorkers, "Concurrent instance reconciles per generated kind.")
	fs.BoolVar(&o.ArgoCDTracking, "argocd-tracking-propagation", o.ArgoCDTracking, "Copy an instance's argocd.argoproj.io/tracking-id annotation to its children (templates that set it keep theirs).")
	fs.IntVar(&o.MaxCollectionSize, "rgd-max-collection-size", o.MaxCollectionSize, "Maximum number of items of one forEach collection.")
	fs.IntVar(&o.RGDWorkers, "resource-graph-definition-concurrent-reconciles", o.RGDWorkers, "Concurrent ResourceGraphDefinition reconciles.")
	fs.IntVar(&o.GraphRevisionWorkers, "graph-revision-concurrent-reconciles", o.GraphRevisionWorkers, "Accepted for compatibility with the reference kro; no effect (the ResourceGraphDefinition controller issues revisions).")
	fs.IntVar(&o.MaxGraphRevisions, "rgd-max-graph-revisions", o.MaxGraphRevisions, "GraphRevisions kept per ResourceGraphDefinition, the newest; 0 keeps all.")
	fs.DurationVar(&o.GracefulShutdownTimeout, "graceful-shutdown-timeout", o.GracefulShutdownTimeout, "How long running reconciles may take to finish on shutdown.")
	fs.Var(gatesFlag{o.FeatureGates}, "feature-gates", "Comma-separated Name=true|false pairs of feature gates: "+gateNames()+".")
	fs.Func("log-level", "Log level: debug, info, error, or a verbosity (0 is info; n shows V(n) lines). Default "+o.LogLevel+".", func(v string) error {
		if _, err := zapLevel(v); err != nil {
			return err
		}
		o.LogLevel = v
		return nil
	})
	fs.Func("log-format", "Log format: json or console. Default "+o.LogFormat+".", func(v string) error {
		if v != "json" && v != "console" {
			return fmt.Errorf("log format %q is not json or console", v)
		}
		o.LogFormat = v
		return nil
	})
}

// gatesFlag sets feature gates from a flag; an unknown gate or a value that is not a bool is
// an error.
type gatesFlag struct {
	gate featuregate.MutableFeatureGate
}

func (f gatesFlag) String() string { return "" }

func (f gatesFlag) Set(v string) error { return f.gate.Set(v) }

func gateNames() string {
	out := ""
	for i, g := range features.Known() {
		if i > 0 {
			out += ", "
		}
		out += string(g)
	}
	return out
}

// verbosity parses a non-negative verbosity.
func verbosity(v string) (int, error) {
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("log level %q is not debug, info, error or a verbosity >= 0", v)
	}
	return n, nil
}
