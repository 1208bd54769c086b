package chaos

import (
	"flag"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	goruntime "runtime"
	"strconv"
	"testing"
	"time"

	"github.com/go-logr/logr"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	"github.com/kro-run/kro/internal/app"
)

// env is the control plane and the kro-controller build shared by the tests of this package.
var env struct {
	// dir holds the controller binary, the kubeconfig, the apiserver certificates and the
	// logs. It is removed after a successful run and kept (its path printed) after a failure.
	dir string
	te  *envtest.Environment
	// apiserverLog collects the kube-apiserver's output across restarts.
	apiserverLog string
	// kubeconfig is the file the controller process connects with, through proxy.
	kubeconfig string
	proxy      *proxy
	// controllerBin is the kro-controller built from this work tree.
	controllerBin string
	cfg           *rest.Config
	client        client.Client
	dynamic       dynamic.Interface
}

// knobs are the scenario's sizes, from the environment.
type knobs struct {
	instances, kills, apiserverRestarts, partitions int
	seed                                            uint64
	seedFromEnv                                     bool
	race                                            bool
}

func knobsFromEnv() (knobs, error) {
	k := knobs{instances: 100, kills: 5, apiserverRestarts: 1, partitions: 2, seed: uint64(time.Now().UnixNano())}
	for _, v := range []struct {
		name string
		into *int
		min  int
	}{
		{"CHAOS_INSTANCES", &k.instances, 2},
		{"CHAOS_KILLS", &k.kills, 0},
		{"CHAOS_APISERVER_RESTARTS", &k.apiserverRestarts, 0},
		{"CHAOS_PARTITIONS", &k.partitions, 0},
	} {
		s := os.Getenv(v.name)
		if s == "" {
			continue
		}
		n, err := strconv.Atoi(s)
		if err != nil || n < v.min {
			return k, fmt.Errorf("%s=%q: want an integer >= %d", v.name, s, v.min)
		}
		*v.into = n
	}
	if s := os.Getenv("CHAOS_SEED"); s != "" {
		n, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			return k, fmt.Errorf("CHAOS_SEED=%q: want an unsigned integer", s)
		}
		k.seed, k.seedFromEnv = n, true
	}
	k.race = os.Getenv("CHAOS_RACE") == "1"
	return k, nil
}

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	flag.Parse()
	if testing.Short() {
		return m.Run() // TestChaos skips itself.
	}
	ctrl.SetLogger(logr.Discard())
	k, err := knobsFromEnv()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}

	_, file, _, _ := goruntime.Caller(0)
	root := filepath.Join(filepath.Dir(file), "..", "..")
	if env.dir, err = os.MkdirTemp("", "kro-chaos-"); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	code := 1
	defer func() {
		if code == 0 {
			_ = os.RemoveAll(env.dir)
		} else {
			fmt.Fprintf(os.Stderr, "chaos: logs, kubeconfig and controller binary kept in %s\n", env.dir)
		}
	}()

	if err := buildController(root, k.race); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return code
	}
	stop, err := startControlPlane(root)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return code
	}
	defer stop()
	code = m.Run()
	return code
}

// buildController builds ./cmd/kro-controller into env.dir.
func buildController(root string, race bool) error {
	env.controllerBin = filepath.Join(env.dir, "kro-controller")
	goBin, err := exec.LookPath("go")
	if err != nil {
		goBin = filepath.Join(goruntime.GOROOT(), "bin", "go")
	}
	args := []string{"build", "-o", env.controllerBin}
	if race {
		args = append(args, "-race")
	}
	cmd := exec.Command(goBin, append(args, "./cmd/kro-controller")...)
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("building kro-controller: %v\n%s", err, out)
	}
	return nil
}

// startControlPlane starts etcd and the kube-apiserver and writes the kubeconfig. The
// apiserver's certificates live in a directory of ours, not envtest's throwaway one, so that
// restartAPIServer brings it back on the same port with the same certificates: clients built
// before the restart keep working.
func startControlPlane(root string) (func(), error) {
	te := &envtest.Environment{
		CRDDirectoryPaths:     []string{filepath.Join(root, "config", "crd", "bases")},
		ErrorIfCRDPathMissing: true,
		BinaryAssetsDirectory: filepath.Join(root, "bin"),
		// A stop that takes longer ends with a SIGKILL: a crash, which is a restart too.
		ControlPlaneStopTimeout: 30 * time.Second,
	}
	api := te.ControlPlane.GetAPIServer()
	api.CertDir = filepath.Join(env.dir, "apiserver")
	if err := os.MkdirAll(api.CertDir, 0o700); err != nil {
		return nil, err
	}
	env.apiserverLog = filepath.Join(env.dir, "kube-apiserver.log")
	logFile, err := os.OpenFile(env.apiserverLog, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	api.Out, api.Err = logFile, logFile
	api.Configure().
		Set("advertise-address", "127.0.0.1").
		Set("endpoint-reconciler-type", "none").
		// Without it a stop waits up to --request-timeout (60s) for the open watches; with it
		// the apiserver answers 429 to new requests, drains the others, then closes in 2s.
		Set("shutdown-send-retry-after", "true")
	if os.Getenv("CHAOS_AUDIT") == "1" {
		// Every request to an instance with its body, and who made it: for post-mortems.
		policy := filepath.Join(env.dir, "audit-policy.yaml")
		if err := os.WriteFile(policy, []byte(auditPolicy), 0o644); err != nil {
			return nil, err
		}
		api.Configure().
			Set("audit-policy-file", policy).
			Set("audit-log-path", filepath.Join(env.dir, "audit.log")).
			Set("audit-log-format", "json").
			Set("audit-log-mode", "blocking")
	}
	cfg, err := te.Start()
	if err != nil {
		_ = logFile.Close()
		return nil, fmt.Errorf("starting control plane (run `make controlplane` first): %w", err)
	}
	env.te = te
	stop := func() {
		_ = te.Stop()
		_ = logFile.Close()
	}

	apiURL, err := url.Parse(cfg.Host)
	if err != nil {
		stop()
		return nil, err
	}
	if env.proxy, err = newProxy(apiURL.Host); err != nil {
		stop()
		return nil, err
	}
	stop = func() {
		env.proxy.Close()
		_ = te.Stop()
		_ = logFile.Close()
	}
	// kro connects through the proxy; the serving certificate is for 127.0.0.1, any port.
	kubeconfig, err := clientcmd.Load(te.KubeConfig)
	if err != nil {
		stop()
		return nil, err
	}
	for _, c := range kubeconfig.Clusters {
		c.Server = "https://" + env.proxy.Addr()
	}
	env.kubeconfig = filepath.Join(env.dir, "kubeconfig")
	if err := clientcmd.WriteToFile(*kubeconfig, env.kubeconfig); err != nil {
		stop()
		return nil, err
	}
	// Requests of the test's own clients must not hang while the apiserver is down.
	env.cfg = rest.CopyConfig(cfg)
	env.cfg.Timeout = 30 * time.Second
	scheme, err := app.Scheme()
	if err != nil {
		stop()
		return nil, err
	}
	if env.client, err = client.New(env.cfg, client.Options{Scheme: scheme}); err != nil {
		stop()
		return nil, fmt.Errorf("creating client: %w", err)
	}
	if env.dynamic, err = dynamic.NewForConfig(env.cfg); err != nil {
		stop()
		return nil, fmt.Errorf("creating dynamic client: %w", err)
	}
	return stop, nil
}

// restartAPIServer stops the kube-apiserver, waits pause, and starts it again on the same port
// with the same certificates; etcd keeps running and keeps the data. It returns the error of
// the stop (a timeout ends in a SIGKILL) for the record; a failed start is fatal.
func restartAPIServer(pause time.Duration) (stopErr, startErr error) {
	api := env.te.ControlPlane.GetAPIServer()
	// A stop that times out has SIGKILLed the process: it is down either way.
	stopErr = api.Stop()
	time.Sleep(pause)
	var err error
	for range 5 {
		if err = api.Start(); err == nil {
			return stopErr, nil
		}
		_ = api.Stop() // A process that started but never became healthy.
		time.Sleep(time.Second)
	}
	return stopErr, fmt.Errorf("starting kube-apiserver again: %w", err)
}

// auditPolicy logs the requests on instances with their bodies, the others without.
const auditPolicy = `apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: [RequestReceived]
rules:
- level: Request
  resources: [{group: kro.run, resources: [chaosapps, chaosapps/status]}]
- level: Metadata
`
