package app

import (
	"context"
	"fmt"
	"net/http"
	"time"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	kruntime "k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/discovery"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/apiutil"
	"sigs.k8s.io/controller-runtime/pkg/config"
	"sigs.k8s.io/controller-runtime/pkg/healthz"
	"sigs.k8s.io/controller-runtime/pkg/manager"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	internalv1alpha1 "github.com/kro-run/kro/api/internal.kro.run/v1alpha1"
	"github.com/kro-run/kro/api/v1alpha1"
	"github.com/kro-run/kro/internal/controller/instance"
	"github.com/kro-run/kro/internal/controller/rgd"
	"github.com/kro-run/kro/internal/engine"
	"github.com/kro-run/kro/internal/graph"
	kroschema "github.com/kro-run/kro/internal/graph/schema"
	"github.com/kro-run/kro/internal/intern"
	"github.com/kro-run/kro/internal/memory"
	"github.com/kro-run/kro/internal/metrics"
)

// Scheme returns the scheme of the typed objects kro reads.
func Scheme() (*kruntime.Scheme, error) {
	s := kruntime.NewScheme()
	for _, add := range []func(*kruntime.Scheme) error{clientgoscheme.AddToScheme, apiextensionsv1.AddToScheme, v1alpha1.AddToScheme, internalv1alpha1.AddToScheme} {
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
	cfg.DisableCompression = !opts.ClientCompression
	return cfg, nil
}

// Manager runs kro: controller-runtime's manager, with the RGD controller and the engine
// registered, and the cache of the objects kro applies.
type Manager struct {
	manager.Manager
	// Owned caches the objects of some ApplySet, and only those: what kro applies for
	// instances. Instances, RGDs, CRDs and externalRefs are in the manager's cache.
	Owned cache.Cache
}

// NewManager builds the manager with the RGD controller and the engine registered.
func NewManager(cfg *rest.Config, opts Options) (*Manager, error) {
	scheme, err := Scheme()
	if err != nil {
		return nil, err
	}
	// Both caches share one table of interned strings: instances and their children carry the
	// same label keys and values.
	strs := intern.New(intern.Options{})
	mgr, err := ctrl.NewManager(cfg, ctrl.Options{
		Scheme:                  scheme,
		Metrics:                 metricsserver.Options{BindAddress: opts.MetricsAddr},
		HealthProbeBindAddress:  opts.ProbeAddr,
		PprofBindAddress:        opts.PprofAddr,
		LeaderElection:          opts.LeaderElect,
		LeaderElectionID:        LeaderElectionID,
		LeaderElectionNamespace: opts.LeaderElectionNamespace,
		GracefulShutdownTimeout: &opts.GracefulShutdownTimeout,
		Controller:              config.Controller{SkipNameValidation: &opts.SkipControllerNameValidation},
		// Children and instances are unstructured; reading them from the cache is what keeps
		// steady state free of API reads.
		Client: client.Options{Cache: &client.CacheOptions{Unstructured: true}},
		// kro never reads managedFields; server-side applied objects carry large ones. The
		// strings cached objects have in common are kept once.
		Cache: cache.Options{
			DefaultTransform: leanExternalMetadata(strs.Transform()),
			ByObject: map[client.Object]cache.ByObject{
				// CRDs kro did not generate are cached without their schemas.
				&apiextensionsv1.CustomResourceDefinition{}: {Transform: leanCRDs(strs.Transform())},
			},
		},
		// Discovery requests of the REST mapper (made while building graphs and starting
		// informers) are bounded, so that a slow API group cannot hold an RGD worker; kinds
		// whose CRD was deleted are not found.
		MapperProvider: func(c *rest.Config, _ *http.Client) (meta.RESTMapper, error) {
			c = withTimeout(c, opts.DiscoveryTimeout)
			hc, err := rest.HTTPClientFor(c)
			if err != nil {
				return nil, fmt.Errorf("REST mapper client: %w", err)
			}
			m, err := apiutil.NewDynamicRESTMapper(c, hc)
			if err != nil {
				return nil, err
			}
			return newServedMapper(m), nil
		},
	})
	if err != nil {
		return nil, fmt.Errorf("creating manager: %w", err)
	}
	owned, err := newOwnedCache(mgr, strs)
	if err != nil {
		return nil, err
	}
	if err := Setup(mgr, owned, opts); err != nil {
		return nil, err
	}
	// After a burst of instances, kro's heap holds twice what is live until the next
	// collection, which an idle process runs only every two minutes: return it once quiet.
	if err := mgr.Add(memory.New(memory.Options{Log: mgr.GetLogger().WithName("memory")})); err != nil {
		return nil, err
	}
	if err := mgr.AddHealthzCheck("healthz", healthz.Ping); err != nil {
		return nil, err
	}
	if err := mgr.AddReadyzCheck("readyz", healthz.Ping); err != nil {
		return nil, err
	}
	return &Manager{Manager: mgr, Owned: owned}, nil
}

// withTimeout is a copy of cfg whose requests time out after d (watches must not use it).
func withTimeout(cfg *rest.Config, d time.Duration) *rest.Config {
	cfg = rest.CopyConfig(cfg)
	cfg.Timeout = d
	return cfg
}

// Setup registers kro's controllers with mgr; owned is the cache of the objects they apply (see
// newOwnedCache), which mgr runs.
func Setup(mgr manager.Manager, owned cache.Cache, opts Options) error {
	dc, err := discovery.NewDiscoveryClientForConfig(withTimeout(mgr.GetConfig(), opts.DiscoveryTimeout))
	if err != nil {
		return fmt.Errorf("discovery client: %w", err)
	}
	if err := mgr.GetFieldIndexer().IndexField(context.Background(), &apiextensionsv1.CustomResourceDefinition{},
		crdKindIndex, crdKind); err != nil {
		return fmt.Errorf("indexing CRDs by kind: %w", err)
	}
	// Schemas are read from the API server's OpenAPI documents, refused while they lag behind
	// the CRD in the cache, and cached until a CRD of their group changes.
	schemas := kroschema.NewCachedResolver(
		kroschema.NewFreshResolver(kroschema.NewDiscoveryResolver(dc), crdOfKind(mgr.GetClient(), mgr.GetAPIReader())),
		kroschema.CacheOptions{})

	// The RGD reconciler and the engine know each other: the engine serves the graphs the
	// reconciler builds and notifies it of instance deletions and stopped controllers.
	// Deletes go through clients that read the API server's answer: a wave deleted at once is
	// followed by the next without waiting for the watch.
	restClients := instance.NewRESTClients(mgr.GetConfig())
	var rgds *rgd.Reconciler
	eng := engine.New(engine.Options{
		Cache:    mgr.GetCache(),
		Owned:    owned,
		Workers:  opts.InstanceWorkers,
		Log:      mgr.GetLogger().WithName("engine"),
		Notifier: rgdNotifier{&rgds},
		NewReconciler: func(g *graph.Graph) engine.InstanceReconciler {
			return instance.New(g, instance.Options{
				Client:            mgr.GetClient(),
				Owned:             owned,
				APIReader:         mgr.GetAPIReader(),
				REST:              restClients,
				Recorder:          mgr.GetEventRecorder("kro-instance-controller"),
				MaxCollectionSize: opts.MaxCollectionSize,
				NoArgoCDTracking:  !opts.ArgoCDTracking,
			})
		},
	})
	if err := mgr.Add(eng); err != nil {
		return err
	}
	metrics.SetInstanceCounter(eng)
	if err := mgr.Add(manager.RunnableFunc(func(ctx context.Context) error {
		mapper, _ := mgr.GetRESTMapper().(*servedMapper)
		return trackServedKinds(ctx, mgr.GetCache(), mapper, eng)
	})); err != nil {
		return err
	}
	rgds = rgd.New(rgd.Options{
		Client:    mgr.GetClient(),
		APIReader: mgr.GetAPIReader(),
		Builder: graph.NewBuilder(mgr.GetRESTMapper(),
			graph.WithSchemaResolver(schemas), graph.WithKroKinds(kroKinds(mgr.GetClient()))),
		Engine:           eng,
		Schemas:          schemas,
		Recorder:         mgr.GetEventRecorder("kro-rgd-controller"),
		AllowCRDDeletion: opts.AllowCRDDeletion,
		Workers:          opts.RGDWorkers,
		MaxRevisions:     opts.MaxGraphRevisions,
	})
	return rgds.SetupWithManager(mgr)
}

// rgdNotifier hands the engine's notifications to the RGD reconciler, which is created after
// the engine.
type rgdNotifier struct{ rgds **rgd.Reconciler }

func (n rgdNotifier) Notify(name string)          { (*n.rgds).Notify(name) }
func (n rgdNotifier) InstanceDeleted(name string) { (*n.rgds).InstanceDeleted(name) }

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
