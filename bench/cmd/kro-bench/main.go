// Command kro-bench measures kro against the physical floor: the same scenarios run by kro and
// by bench/cmd/floor (a controller that makes only the writes any controller must), against a
// fresh local control plane that hack/bench.sh starts. See bench/README.md.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/kro-run/kro/bench/internal/audit"
	"github.com/kro-run/kro/bench/internal/proc"
)

type config struct {
	AdminKubeconfig string `json:"-"`
	KroKubeconfig   string `json:"-"`
	FloorKubeconfig string `json:"-"`
	KroBin          string `json:"kroBin"`
	FloorBin        string `json:"floorBin"`
	KroArgs         string `json:"kroArgs"`
	KroHealthAddr   string `json:"kroHealthAddr"`
	KroMetricsAddr  string `json:"kroMetricsAddr"`
	APIServerPID    int    `json:"-"`
	EtcdPID         int    `json:"-"`
	AuditLog        string `json:"-"`
	RunDir          string `json:"-"`
	Out             string `json:"-"`
	GoBench         string `json:"-"`

	S1Count  int   `json:"s1Count"`
	S2Counts []int `json:"s2Counts"`
	// S2Large is the large S2/S6 count run after S2Counts (0: skipped).
	S2Large       int           `json:"s2Large"`
	S3Idle        time.Duration `json:"s3Idle"`
	FloorIdle     time.Duration `json:"floorIdle"`
	S5Count       int           `json:"s5Count"`
	CreateWorkers int           `json:"createWorkers"`
	Settle        time.Duration `json:"settle"`
	Contenders    []string      `json:"contenders"`
	// S7: unrelated ConfigMaps and Secrets (each), their payload, kro's instances (S2 and
	// external-ref, each), settle time.
	Unrelated      int           `json:"unrelated"`
	UnrelatedBytes int           `json:"unrelatedBytes"`
	S7Instances    int           `json:"s7Instances"`
	S7Settle       time.Duration `json:"s7Settle"`
	// S9: unrelated CRDs and the size of each one's openAPIV3Schema (S7Instances, S7Settle).
	UnrelatedCRDs     int `json:"unrelatedCRDs"`
	UnrelatedCRDBytes int `json:"unrelatedCRDBytes"`
	// S8: kro restarted with the reference count's instances ACTIVE.
	S8 bool `json:"s8"`

	// The floor's client settings match kro's defaults (internal/app/options.go).
	FloorQPS     float64 `json:"floorQPS"`
	FloorBurst   int     `json:"floorBurst"`
	FloorWorkers int     `json:"floorWorkers"`
}

func main() {
	var c config
	var counts, contenders string
	flag.StringVar(&c.AdminKubeconfig, "admin-kubeconfig", "", "kubeconfig of the bench driver (user admin)")
	flag.StringVar(&c.KroKubeconfig, "kro-kubeconfig", "", "kubeconfig of kro (user kro)")
	flag.StringVar(&c.FloorKubeconfig, "floor-kubeconfig", "", "kubeconfig of the floor (user floor)")
	flag.StringVar(&c.KroBin, "kro-bin", "bin/kro-controller", "kro-controller binary")
	flag.StringVar(&c.FloorBin, "floor-bin", "bin/bench-floor", "floor binary")
	flag.StringVar(&c.KroArgs, "kro-args", "", "extra kro-controller flags (space separated)")
	flag.StringVar(&c.KroHealthAddr, "kro-health-addr", "127.0.0.1:28079", "kro's health probe address")
	flag.StringVar(&c.KroMetricsAddr, "kro-metrics-addr", "127.0.0.1:28078", "kro's metrics address")
	flag.IntVar(&c.APIServerPID, "apiserver-pid", 0, "kube-apiserver pid (CPU time)")
	flag.IntVar(&c.EtcdPID, "etcd-pid", 0, "etcd pid (CPU time)")
	flag.StringVar(&c.AuditLog, "audit-log", "", "the apiserver's JSON audit log")
	flag.StringVar(&c.RunDir, "run-dir", "tmp/bench", "run dir (pids, logs)")
	flag.StringVar(&c.Out, "out", "", "results dir")
	flag.StringVar(&c.GoBench, "go-bench", "", "file with the output of the Go benchmarks to include")
	flag.IntVar(&c.S1Count, "s1-count", 50, "S1: instances created one after another")
	flag.StringVar(&counts, "s2-counts", "500 1000", "S2: instance counts created at once")
	flag.IntVar(&c.S2Large, "s2-large", 0, "S2/S6 at this count after the other counts (linearity, RSS per instance); 0 skips it")
	flag.DurationVar(&c.S3Idle, "s3-idle", 60*time.Second, "S3: idle time measured for kro")
	flag.DurationVar(&c.FloorIdle, "floor-idle", 10*time.Second, "S3: idle time measured for the floor")
	flag.IntVar(&c.S5Count, "s5-count", 20, "S5: instances whose child is deleted, one at a time")
	flag.IntVar(&c.CreateWorkers, "create-workers", 8, "concurrent creates/deletes of the driver")
	flag.DurationVar(&c.Settle, "settle", 2*time.Second, "time after a scenario's end still counted for it (trailing requests); scaled by count/1000 above 1,000 instances")
	flag.IntVar(&c.Unrelated, "unrelated", 10000, "S7: unrelated ConfigMaps, and as many Secrets, created before kro starts; 0 skips S7")
	flag.IntVar(&c.UnrelatedBytes, "unrelated-bytes", 4096, "S7: payload of each unrelated object")
	flag.IntVar(&c.S7Instances, "s7-instances", 10, "S7 and S9: S2 instances, and as many external-ref instances (S7x), kro serves in each run")
	flag.DurationVar(&c.S7Settle, "s7-settle", 10*time.Second, "S7: wait after the instances are ACTIVE before reading kro's memory")
	flag.IntVar(&c.UnrelatedCRDs, "unrelated-crds", 200, "S9: unrelated CRDs, each in a group of its own, created before kro starts; 0 skips S9")
	flag.IntVar(&c.UnrelatedCRDBytes, "unrelated-crd-bytes", 100000, "S9: size of each unrelated CRD's openAPIV3Schema (JSON bytes)")
	flag.BoolVar(&c.S8, "s8", true, "S8: restart kro with the last S2 count's instances ACTIVE, measure it until quiet (kro only)")
	flag.StringVar(&contenders, "contenders", "kro floor-unthrottled", "what to measure, in order (kro, floor-unthrottled, floor-finalizer, floor)")
	flag.Float64Var(&c.FloorQPS, "floor-qps", 500, "the throttled floor's QPS (kro's --client-qps default)")
	flag.IntVar(&c.FloorBurst, "floor-burst", 1000, "the throttled floor's burst (kro's --client-burst default)")
	flag.IntVar(&c.FloorWorkers, "floor-workers", 10, "the floor's workers (kro's instance workers default)")
	flag.Parse()
	log.SetFlags(log.Ltime)
	for _, f := range strings.Fields(counts) {
		n, err := strconv.Atoi(f)
		if err != nil || n <= 0 {
			log.Fatalf("bad -s2-counts %q", counts)
		}
		c.S2Counts = append(c.S2Counts, n)
	}
	if c.UnrelatedCRDs < 0 || c.UnrelatedCRDBytes <= 0 {
		log.Fatalf("bad -unrelated-crds %d or -unrelated-crd-bytes %d", c.UnrelatedCRDs, c.UnrelatedCRDBytes)
	}
	if c.S2Large < 0 {
		log.Fatalf("bad -s2-large %d", c.S2Large)
	}
	if slices.Contains(c.S2Counts, c.S2Large) {
		log.Fatalf("-s2-large %d is one of -s2-counts: each count runs once", c.S2Large)
	}
	c.Contenders = strings.Fields(contenders)
	if c.Out == "" || c.AdminKubeconfig == "" || c.KroKubeconfig == "" || c.FloorKubeconfig == "" || c.AuditLog == "" {
		log.Fatal("-out, -admin-kubeconfig, -kro-kubeconfig, -floor-kubeconfig and -audit-log are required")
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, c); err != nil {
		log.Fatalf("bench failed: %v", err)
	}
}

// bench is the state of one run.
type bench struct {
	cfg      config
	dyn      dynamic.Interface
	adminCfg *rest.Config
	audit    *audit.Log
	results  *Results
}

func run(ctx context.Context, c config) error {
	adminCfg, err := clientcmd.BuildConfigFromFlags("", c.AdminKubeconfig)
	if err != nil {
		return err
	}
	// The driver creates and deletes in bounded parallel (CreateWorkers), unthrottled.
	adminCfg.QPS, adminCfg.Burst = -1, 1000
	adminCfg.UserAgent = "kro-bench"
	dyn, err := dynamic.NewForConfig(adminCfg)
	if err != nil {
		return err
	}
	al, err := audit.Open(c.AuditLog, true)
	if err != nil {
		return err
	}
	b := &bench{cfg: c, dyn: dyn, adminCfg: adminCfg, audit: al, results: newResults(c)}
	if err := os.MkdirAll(c.Out, 0o755); err != nil {
		return err
	}
	if c.GoBench != "" {
		if raw, err := os.ReadFile(c.GoBench); err == nil {
			b.results.GoBenchmarks = string(raw)
		}
	}

	var runErr error
	for _, name := range c.Contenders {
		if err := b.runContender(ctx, name); err != nil {
			runErr = fmt.Errorf("%s: %w", name, err)
			log.Printf("error: %v (writing what was measured)", runErr)
			break
		}
	}
	if runErr == nil && slices.Contains(c.Contenders, "kro") {
		runErr = b.memoryScenarios(ctx)
	}
	b.results.Finished = time.Now()
	b.results.Host.LoadAvgEnd = proc.LoadAvg()
	b.results.evaluate()
	if err := b.write(); err != nil {
		return err
	}
	return runErr
}

// memoryScenarios runs S7 and then S9, each unless its knob is 0, after the contenders; one's
// error does not skip the other.
func (b *bench) memoryScenarios(ctx context.Context) error {
	var errs []error
	for _, s := range []struct {
		name string
		on   bool
		run  func(context.Context) error
	}{
		{"S7", b.cfg.Unrelated > 0, b.s7},
		{"S9", b.cfg.UnrelatedCRDs > 0, b.s9},
	} {
		if !s.on || ctx.Err() != nil {
			continue
		}
		if err := s.run(ctx); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", s.name, err))
			log.Printf("error: %s: %v (writing what was measured)", s.name, err)
		}
	}
	return errors.Join(errs...)
}

func (b *bench) write() error {
	raw, err := json.MarshalIndent(b.results, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(b.cfg.Out, "results.json"), raw, 0o644); err != nil {
		return err
	}
	table := b.results.table()
	if err := os.WriteFile(filepath.Join(b.cfg.Out, "summary.txt"), []byte(table), 0o644); err != nil {
		return err
	}
	fmt.Print("\n" + table)
	svg, err := os.Create(filepath.Join(b.cfg.Out, "latency.svg"))
	if err != nil {
		return err
	}
	defer svg.Close()
	return b.results.chart(svg)
}
