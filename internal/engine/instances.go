package engine

import (
	"context"
	"sort"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/kro-run/kro/internal/metrics"
)

// unknownState is the state of an instance kro has not written a status.state on yet.
const unknownState = "UNKNOWN"

// CountInstances counts the instances of every served kind by RGD and status.state, from the
// cache. It holds e.mu so that no informer is removed while it lists: listing a kind without
// an informer would start one that nobody removes.
func (e *Engine) CountInstances(ctx context.Context) []metrics.InstanceCount {
	e.mu.Lock()
	defer e.mu.Unlock()
	type key struct{ rgd, state string }
	counts := map[key]int{}
	for gvk, kc := range e.controllers {
		if e.informers[Informer{GVK: gvk, Scope: ScopeAll}] == 0 {
			continue
		}
		list := &unstructured.UnstructuredList{}
		list.SetGroupVersionKind(gvk.GroupVersion().WithKind(gvk.Kind + "List"))
		if err := e.opts.Cache.List(ctx, list, client.UnsafeDisableDeepCopy); err != nil {
			e.opts.Log.V(1).Info("Counting instances for metrics", "gvk", gvk.String(), "error", err.Error())
			continue
		}
		for i := range list.Items {
			state, _, _ := unstructured.NestedString(list.Items[i].Object, "status", "state")
			if state == "" {
				state = unknownState
			}
			counts[key{kc.rgdName, state}]++
		}
	}
	out := make([]metrics.InstanceCount, 0, len(counts))
	for k, n := range counts {
		out = append(out, metrics.InstanceCount{RGD: k.rgd, State: k.state, Count: n})
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].RGD != out[j].RGD {
			return out[i].RGD < out[j].RGD
		}
		return out[i].State < out[j].State
	})
	return out
}
