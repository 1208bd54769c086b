package main

import (
	"context"
	"errors"
	"fmt"
	"log"
	"sync"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/kro-run/kro/bench/internal/bigcrd"
)

// S9 measures what CustomResourceDefinitions that kro does not use cost it: kro's memory with
// S7's instances (a few S2 and as many external-ref instances), once on the cluster as the other scenarios left it and once with many
// large CRDs of other groups (like a cloud provider's Crossplane package) created before kro
// starts. kro caches the cluster's CRDs; a kro that keeps every CRD whole grows with their
// schemas (and their last-applied-configuration annotations), one that keeps only the
// metadata of CRDs it did not generate does not.

// crdWorkers is how many CRDs the driver creates at once.
const crdWorkers = 4

// crdCleanupTimeout bounds the deletion of the CRDs after S9.
const crdCleanupTimeout = 5 * time.Minute

// UnrelatedCRDs is S9.
type UnrelatedCRDs struct {
	CRDs int `json:"crds"`
	// SchemaBytes is the size asked for each CRD's openAPIV3Schema (JSON); SchemaBytesMean is
	// the mean size of those created.
	SchemaBytes     int     `json:"schemaBytes"`
	SchemaBytesMean float64 `json:"schemaBytesMean"`
	// CRDBytes is the JSON of every CRD created, the annotation included.
	CRDBytes int64 `json:"crdBytes"`
	// Annotated counts the CRDs with a last-applied-configuration annotation (all of them,
	// unless the CRD is too large for the API server's 256 KiB limit on annotations).
	Annotated int `json:"annotated"`
	// Instances and ExternalInstances are as S7's: S2 and external-ref instances in each run.
	Instances         int `json:"instances"`
	ExternalInstances int `json:"externalInstances"`
	// CreateSeconds is the first create -> every CRD Established; DeleteSeconds the delete ->
	// every CRD gone.
	CreateSeconds float64 `json:"createSeconds"`
	DeleteSeconds float64 `json:"deleteSeconds"`
	// WithoutFrom is "S7" when S7's run without unrelated objects is the baseline (same
	// cluster state: S7 removed its objects), "S9" when S9 measured its own.
	WithoutFrom string       `json:"withoutFrom"`
	Without     UnrelatedRun `json:"without"`
	With        UnrelatedRun `json:"with"`
	// DiffMiB is With.Settled.RSS - Without.Settled.RSS, KiBPerCRD the same per CRD.
	DiffMiB   float64 `json:"rssDiffMiB"`
	KiBPerCRD float64 `json:"rssDiffKiBPerCRD"`
	Error     string  `json:"error,omitempty"`
	// CleanupError is set when the CRDs were not all gone after S9; the figures still hold.
	CleanupError string `json:"cleanupError,omitempty"`
}

// s9 runs kro without, then with the unrelated CRDs; it needs the kro contender's RGDs (it
// runs after the contenders and S7) and deletes the CRDs it created.
func (b *bench) s9(ctx context.Context) (err error) {
	n := b.cfg.UnrelatedCRDs
	res := &UnrelatedCRDs{CRDs: n, SchemaBytes: b.cfg.UnrelatedCRDBytes, Instances: b.cfg.S7Instances, ExternalInstances: b.cfg.S7Instances}
	c := b.kroContender()
	c.res.S9 = res
	fail := func(err error) error {
		res.Error = err.Error()
		return err
	}

	if err := b.s9Without(ctx, c, res); err != nil {
		return fail(fmt.Errorf("without unrelated CRDs: %w", err))
	}

	log.Printf("[kro] S9: creating %d unrelated CRDs with schemas of %d bytes, %d at a time", n, b.cfg.UnrelatedCRDBytes, crdWorkers)
	defer func() {
		if cerr := b.deleteUnrelatedCRDs(res); cerr != nil {
			res.CleanupError = cerr.Error()
			log.Printf("[kro] S9: %v", cerr)
			err = errors.Join(err, cerr)
		}
	}()
	start := time.Now()
	if err := b.createUnrelatedCRDs(ctx, res); err != nil {
		return fail(err)
	}
	res.CreateSeconds = time.Since(start).Seconds()
	log.Printf("[kro] S9: %d CRDs Established in %.1f s: %.1f MB of JSON, %d with the last-applied annotation",
		n, res.CreateSeconds, float64(res.CRDBytes)/1e6, res.Annotated)

	log.Printf("[kro] S9: %d five + %d external-ref instances with the unrelated CRDs", res.Instances, res.ExternalInstances)
	if err := b.freshRun(ctx, c, "kro-s9-with", &res.With); err != nil {
		return fail(fmt.Errorf("with unrelated CRDs: %w", err))
	}
	res.DiffMiB = mib(res.With.Settled.RSS - res.Without.Settled.RSS)
	res.KiBPerCRD = float64(res.With.Settled.RSS-res.Without.Settled.RSS) / 1024 / float64(n)
	log.Printf("[kro] S9: RSS %.1f MiB without, %.1f MiB with %d unrelated CRDs (%+.1f MiB, %+.1f KiB per CRD)",
		mib(res.Without.Settled.RSS), mib(res.With.Settled.RSS), n, res.DiffMiB, res.KiBPerCRD)
	return nil
}

// s9Without is kro's memory without the CRDs: S7's run without unrelated objects when S7 ran
// (the cluster is then as S9 finds it: the same CRDs and RGDs, the same instances, and S7
// removed its objects), or a run of its own.
func (b *bench) s9Without(ctx context.Context, c *contender, res *UnrelatedCRDs) error {
	if s7 := c.res.S7; s7Baseline(s7, res) {
		res.Without, res.WithoutFrom = s7.Without, "S7"
		log.Printf("[kro] S9: without unrelated CRDs: S7's run without unrelated objects")
		return nil
	}
	res.WithoutFrom = "S9"
	log.Printf("[kro] S9: %d five + %d external-ref instances without unrelated CRDs", res.Instances, res.ExternalInstances)
	return b.freshRun(ctx, c, "kro-s9-without", &res.Without)
}

// s7Baseline reports whether S7's run without unrelated objects is S9's run without CRDs: it
// completed, with the same instances.
func s7Baseline(s7 *Unrelated, res *UnrelatedCRDs) bool {
	return s7 != nil && s7.Error == "" && s7.Instances == res.Instances && s7.ExternalInstances == res.ExternalInstances &&
		s7.Without.Settled.RSS > 0
}

// createUnrelatedCRDs creates the CRDs a few at a time and waits until each is Established.
func (b *bench) createUnrelatedCRDs(ctx context.Context, res *UnrelatedCRDs) error {
	var mu sync.Mutex
	var failed int
	var first error
	var schemaBytes int64
	parallelN(crdWorkers, res.CRDs, func(i int) {
		crd, err := b.createUnrelatedCRD(ctx, i)
		mu.Lock()
		defer mu.Unlock()
		if err != nil {
			failed++
			if first == nil {
				first = err
			}
			return
		}
		res.CRDBytes += int64(crd.Bytes)
		schemaBytes += int64(crd.SchemaBytes)
		if crd.Annotated {
			res.Annotated++
		}
	})
	if created := res.CRDs - failed; created > 0 {
		res.SchemaBytesMean = float64(schemaBytes) / float64(created)
	}
	if failed > 0 {
		return fmt.Errorf("%d of %d unrelated CRDs not created or not Established, first: %w", failed, res.CRDs, first)
	}
	return nil
}

// createUnrelatedCRD creates CRD i and waits until it is Established.
func (b *bench) createUnrelatedCRD(ctx context.Context, i int) (bigcrd.CRD, error) {
	crd, err := bigcrd.New(i, b.cfg.UnrelatedCRDBytes)
	if err != nil {
		return crd, err
	}
	if _, err := b.dyn.Resource(crdGVR).Create(ctx, &unstructured.Unstructured{Object: crd.Object}, metav1.CreateOptions{}); err != nil {
		return crd, fmt.Errorf("creating CRD %s: %w", bigcrd.Name(i), err)
	}
	return crd, b.waitEstablished(ctx, bigcrd.Name(i))
}

// deleteUnrelatedCRDs deletes the CRDs S9 created (by label) and waits until they are gone,
// so that nothing after S9 runs with them.
func (b *bench) deleteUnrelatedCRDs(res *UnrelatedCRDs) error {
	ctx, cancel := context.WithTimeout(context.Background(), crdCleanupTimeout)
	defer cancel()
	start := time.Now()
	sel := metav1.ListOptions{LabelSelector: bigcrd.LabelKey + "=" + bigcrd.LabelValue}
	if err := b.dyn.Resource(crdGVR).DeleteCollection(ctx, metav1.DeleteOptions{}, sel); err != nil {
		return fmt.Errorf("deleting the unrelated CRDs: %w", err)
	}
	sel.Limit = 1
	err := poll(ctx, crdCleanupTimeout, func() (bool, error) {
		l, err := b.dyn.Resource(crdGVR).List(ctx, sel)
		if err != nil {
			return false, err
		}
		return len(l.Items) == 0, nil
	})
	res.DeleteSeconds = time.Since(start).Seconds()
	if err != nil {
		return fmt.Errorf("unrelated CRDs not gone: %w", err)
	}
	log.Printf("[kro] S9: the unrelated CRDs are gone after %.1f s", res.DeleteSeconds)
	return nil
}
