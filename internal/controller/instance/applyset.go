package instance

import (
	"sort"
	"strings"

	"github.com/kro-run/kro/internal/graph"
	"github.com/kro-run/kro/internal/metadata"
)

// applySetAnnotations are the ApplySet parent annotations of an instance: the tooling, every
// group-kind the graph can create, and the namespaces other than the instance's.
func applySetAnnotations(g *graph.Graph, instanceNamespace string) map[string]string {
	gks := map[string]bool{}
	namespaces := map[string]bool{}
	for _, n := range g.Nodes {
		gk := n.GVK.Kind
		if n.GVK.Group != "" {
			gk += "." + n.GVK.Group
		}
		gks[gk] = true
		if ns, ok := n.Template["metadata"].(map[string]any)["namespace"].(string); ok && n.Namespaced &&
			ns != instanceNamespace && !strings.Contains(ns, "${") {
			namespaces[ns] = true
		}
	}
	return map[string]string{
		metadata.ApplySetToolingAnnotation:              metadata.Tooling(),
		metadata.ApplySetGroupKindsAnnotation:           joinSorted(gks),
		metadata.ApplySetAdditionalNamespacesAnnotation: joinSorted(namespaces),
	}
}

func joinSorted(set map[string]bool) string {
	out := make([]string, 0, len(set))
	for k := range set {
		out = append(out, k)
	}
	sort.Strings(out)
	return strings.Join(out, ",")
}
