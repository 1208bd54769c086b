package integration

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	goruntime "runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-logr/logr"
	"github.com/onsi/gomega"
	"k8s.io/client-go/rest"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"

	"github.com/kro-run/kro/internal/app"
)

// env is the shared control plane and kro instance of every test in this package.
var env struct {
	cfg    *rest.Config
	client client.Client
	// requests counts the API requests of the kro manager (not of the tests' client).
	requests requestCounter
	// kro is the running kro manager; stopKro and startKro restart it.
	kro struct {
		cancel context.CancelFunc
		done   chan error
		// owned is its cache of the objects it applies; cache the manager's cache.
		owned, cache cache.Cache
	}
	log logr.Logger
	// edit, when set, changes the options of the kro started next (tests of other flags).
	edit func(*app.Options)
}

// startKro starts a new kro manager (as a restarted process would: empty caches, nothing
// remembered).
func startKro() error {
	opts := app.DefaultOptions()
	opts.MetricsAddr = "0"
	opts.ProbeAddr = "0"
	opts.SkipControllerNameValidation = true
	if env.edit != nil {
		env.edit(&opts)
	}
	mgrCfg := rest.CopyConfig(env.cfg)
	mgrCfg.Wrap(env.requests.wrap)
	mgr, err := app.NewManager(mgrCfg, opts)
	if err != nil {
		return fmt.Errorf("creating manager: %w", err)
	}
	ctx, cancel := context.WithCancel(ctrl.LoggerInto(context.Background(), env.log))
	done := make(chan error, 1)
	go func() { done <- mgr.Start(ctx) }()
	env.kro.cancel, env.kro.done, env.kro.owned, env.kro.cache = cancel, done, mgr.Owned, mgr.GetCache()
	return nil
}

// stopKro stops the running kro manager and waits until it has stopped.
func stopKro() {
	env.kro.cancel()
	select {
	case <-env.kro.done:
	case <-time.After(30 * time.Second):
	}
}

// restartKro stops kro, runs while (the cluster changes while kro is down), and starts kro
// again.
func restartKro(t *testing.T, while func()) {
	t.Helper()
	stopKro()
	while()
	if err := startKro(); err != nil {
		t.Fatal(err)
	}
}

// requestCounter counts API requests: writes (POST, PUT, PATCH, DELETE) and reads (GET
// and LIST, excluding WATCH).
type requestCounter struct {
	writes, reads atomic.Int64
	// gets counts the reads of each URL path (GET of one object, or LIST).
	gets sync.Map
	// lastWrite describes the latest write ("PATCH /api/v1/..."), for failure messages.
	lastWrite atomic.Value
}

// LastWrite describes the latest write request.
func (c *requestCounter) LastWrite() string {
	s, _ := c.lastWrite.Load().(string)
	return s
}

// Reset zeroes both counters.
func (c *requestCounter) Reset() {
	c.writes.Store(0)
	c.reads.Store(0)
	c.gets.Clear()
}

// ReadsUnder is the number of reads since the last reset of URL paths under prefix.
func (c *requestCounter) ReadsUnder(prefix string) int64 {
	var n int64
	c.gets.Range(func(path, count any) bool {
		if strings.HasPrefix(path.(string), prefix) {
			n += count.(*atomic.Int64).Load()
		}
		return true
	})
	return n
}

// Writes is the number of write requests since the last reset.
func (c *requestCounter) Writes() int64 { return c.writes.Load() }

// Reads is the number of GET and LIST requests since the last reset.
func (c *requestCounter) Reads() int64 { return c.reads.Load() }

func (c *requestCounter) wrap(rt http.RoundTripper) http.RoundTripper {
	return roundTripperFunc(func(req *http.Request) (*http.Response, error) {
		switch req.Method {
		case http.MethodGet:
			if req.URL.Query().Get("watch") != "true" && req.URL.Query().Get("watch") != "1" {
				c.reads.Add(1)
				count, _ := c.gets.LoadOrStore(req.URL.Path, new(atomic.Int64))
				count.(*atomic.Int64).Add(1)
			}
		case http.MethodHead, http.MethodOptions:
		default:
			c.writes.Add(1)
			c.lastWrite.Store(req.Method + " " + req.URL.Path)
		}
		return rt.RoundTrip(req)
	})
}

type roundTripperFunc func(*http.Request) (*http.Response, error)

func (f roundTripperFunc) RoundTrip(req *http.Request) (*http.Response, error) { return f(req) }

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	log := logr.Discard()
	if os.Getenv("KRO_TEST_LOG") != "" {
		log = zap.New(zap.UseDevMode(true))
	}
	ctrl.SetLogger(log)

	_, file, _, _ := goruntime.Caller(0)
	root := filepath.Join(filepath.Dir(file), "..", "..")
	te := &envtest.Environment{
		CRDDirectoryPaths:     []string{filepath.Join(root, "config", "crd", "bases")},
		ErrorIfCRDPathMissing: true,
		BinaryAssetsDirectory: filepath.Join(root, "bin"),
	}
	te.ControlPlane.GetAPIServer().Configure().
		Set("advertise-address", "127.0.0.1").
		Set("endpoint-reconciler-type", "none")
	cfg, err := te.Start()
	if err != nil {
		fmt.Fprintf(os.Stderr, "starting control plane (run hack/build-controlplane.sh first): %v\n", err)
		return 1
	}
	defer func() { _ = te.Stop() }()

	env.cfg, env.log = cfg, log
	if err := startKro(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer stopKro()

	scheme, _ := app.Scheme()
	if env.client, err = client.New(cfg, client.Options{Scheme: scheme}); err != nil {
		fmt.Fprintf(os.Stderr, "creating client: %v\n", err)
		return 1
	}
	return m.Run()
}

// timeouts of Eventually in this package: generous, the machine has 2 cores.
const (
	timeout  = 60 * time.Second
	interval = 100 * time.Millisecond
)

func init() {
	gomega.SetDefaultEventuallyTimeout(timeout)
	gomega.SetDefaultEventuallyPollingInterval(interval)
	gomega.SetDefaultConsistentlyDuration(2 * time.Second)
}
