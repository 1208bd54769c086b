package metrics

import (
	"context"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// InstanceCount is how many instances of an RGD's kind are in one state.
type InstanceCount struct {
	RGD, State string
	Count      int
}

// InstanceCounter counts the instances of the kinds kro serves, by RGD and state.
type InstanceCounter interface {
	CountInstances(ctx context.Context) []InstanceCount
}

// InstanceCounterFn adapts a function to an InstanceCounter.
type InstanceCounterFn func(ctx context.Context) []InstanceCount

// CountInstances calls fn.
func (fn InstanceCounterFn) CountInstances(ctx context.Context) []InstanceCount { return fn(ctx) }

// SetInstanceCounter makes kro_instances report what c counts, at every scrape; nil stops it.
// The last manager built in a process wins (tests build several).
func SetInstanceCounter(c InstanceCounter) {
	instances.counter.Store(&c)
}

// instanceCountTimeout bounds the count made for one scrape.
const instanceCountTimeout = 5 * time.Second

var instancesDesc = prometheus.NewDesc("kro_instances",
	"Instances of the kinds kro serves, by RGD and state (status.state; UNKNOWN before kro wrote one).",
	[]string{"rgd", "state"}, nil)

// instances collects kro_instances when scraped, from the instances in the cache: counted
// where they are, the gauge is right after a restart, after deletions and whatever kro missed.
var instances = &instanceCollector{}

type instanceCollector struct {
	counter atomic.Pointer[InstanceCounter]
}

func (c *instanceCollector) Describe(ch chan<- *prometheus.Desc) { ch <- instancesDesc }

func (c *instanceCollector) Collect(ch chan<- prometheus.Metric) {
	p := c.counter.Load()
	if p == nil || *p == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), instanceCountTimeout)
	defer cancel()
	for _, n := range (*p).CountInstances(ctx) {
		ch <- prometheus.MustNewConstMetric(instancesDesc, prometheus.GaugeValue, float64(n.Count), n.RGD, n.State)
	}
}
