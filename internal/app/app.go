package app

import (
	"context"
	"fmt"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	kruntime "k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/discovery"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/config"
	"sigs.k8s.io/controller-runtime/pkg/healthz"
	"sigs.k8s.io/controller-runtime/pkg/manager"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	"github.com/kro-run/kro/api/v1alpha1"
	"github.com/kro-run/kro/internal/controller/instance"
	"github.com/kro-run/kro/internal/controller/rgd"
	"github.com/kro-run/kro/internal/engine"
	"github.com/kro-run/kro/internal/graph"
	kroschema "github.com/kro-run/kro/internal/graph/schema"
)

// Scheme returns the scheme of the typed objects kro reads.
func Scheme() (*kruntime.Scheme, error) {
	s := kruntime.NewScheme()
	for _, add := range []func(*kruntime.Scheme) error{clientgoscheme.AddToScheme, apiextensionsv1.AddToScheme, v1alpha1.AddToScheme} {
		if err := add(s); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// RESTConfig loads the client configuration and applies the client limits.
func RESTConfig(opts Options) (*rest.Config, error) {
	var cfg *rest.Config
	var err error
	if opts.Kubeconfig != "" {
		cfg, err = clientcmd.BuildConfigFromFlags("", opts.Kubeconfig)
	} else {
		cfg, err = ctrl.GetConfig()
	}
	if err != nil {
		return nil, fmt.Errorf("loading kubeconfig: %w", err)
	}
	cfg.QPS = float32(opts.ClientQPS)
	cfg.Burst = opts.ClientBurst
	return cfg, nil
}

// NewManager builds the manager with the RGD controller and the engine registered.
func NewManager(cfg *rest.Config, opts Options) (manager.Manager, error) {
	scheme, err := Scheme()
	if err != nil {
		return nil, err
	}
	mgr, err := ctrl.NewManager(cfg, ctrl.Options{
		Scheme:                  scheme,
		Metrics:                 metricsserver.Options{BindAddress: opts.MetricsAddr},
		HealthProbeBindAddress:  opts.ProbeAddr,
		LeaderElection:          opts.LeaderElect,
		LeaderElectionID:        "kro.run",
		LeaderElectionNamespace: opts.LeaderElectionNamespace,
		GracefulShutdownTimeout: &opts.GracefulShutdownTimeout,
		Controller:              config.Controller{SkipNameValidation: &opts.SkipControllerNameValidation},
		// Children and instances are unstructured; reading them from the cache is what keeps
		// steady state free of API reads.
		Client: client.Options{Cache: &client.CacheOptions{Unstructured: true}},
		// kro never reads managedFields; server-side applied objects carry large ones.
		Cache: cache.Options{DefaultTransform: cache.TransformStripManagedFields()},
	})
	if err != nil {
		return nil, fmt.Errorf("creating manager: %w", err)
	}
	if err := Setup(mgr, opts); err != nil {
		return nil, err
	}
	if err := mgr.AddHealthzCheck("healthz", healthz.Ping); err != nil {
		return nil, err
	}
	if err := mgr.AddReadyzCheck("readyz", healthz.Ping); err != nil {
		return nil, err
	}
	return mgr, nil
}

// Setup registers kro's controllers with mgr.
func Setup(mgr manager.Manager, opts Options) error {
	dc, err := discovery.NewDiscoveryClientForConfig(mgr.GetConfig())
	if err != nil {
		return fmt.Errorf("discovery client: %w", err)
	}
	schemas := kroschema.NewCachedResolver(kroschema.NewDiscoveryResolver(dc), kroschema.CacheOptions{})
	if err := mgr.Add(manager.RunnableFunc(func(ctx context.Context) error {
		return invalidateOnCRDChange(ctx, mgr.GetCache(), schemas)
	})); err != nil {
		return err
	}

	eng := engine.New(engine.Options{
		Cache:   mgr.GetCache(),
		Workers: opts.InstanceWorkers,
		Log:     mgr.GetLogger().WithName("engine"),
		NewReconciler: func(g *graph.Graph) engine.InstanceReconciler {
			return instance.New(g, instance.Options{
				Client:            mgr.GetClient(),
				Cache:             mgr.GetCache(),
				APIReader:         mgr.GetAPIReader(),
				Recorder:          mgr.GetEventRecorder("kro-instance-controller"),
				MaxCollectionSize: opts.MaxCollectionSize,
			})
		},
	})
	if err := mgr.Add(eng); err != nil {
		return err
	}
	return rgd.New(rgd.Options{
		Client: mgr.GetClient(),
		Builder: graph.NewBuilder(mgr.GetRESTMapper(),
			graph.WithSchemaResolver(schemas), graph.WithKroKinds(kroKinds(mgr.GetClient()))),
		Engine:           eng,
		Recorder:         mgr.GetEventRecorder("kro-rgd-controller"),
		AllowCRDDeletion: opts.AllowCRDDeletion,
		Workers:          opts.RGDWorkers,
	}).SetupWithManager(mgr)
}

// Run starts kro and blocks until ctx ends.
func Run(ctx context.Context, opts Options) error {
	cfg, err := RESTConfig(opts)
	if err != nil {
		return err
	}
	mgr, err := NewManager(cfg, opts)
	if err != nil {
		return err
	}
	ctrl.LoggerFrom(ctx).Info("Starting kro controller")
	return mgr.Start(ctx)
}
