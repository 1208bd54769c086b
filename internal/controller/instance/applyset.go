package instance

import (
	"sort"
	"strings"

	"github.com/kro-run/kro/internal/graph"
	"github.com/kro-run/kro/internal/metadata"
)

// applySetAnnotations are the ApplySet parent annotations of an instance: the tooling, every
// group-kind the graph can create, and the namespaces other than the instance's. Group-kinds
// and namespaces recorded before are kept (current is the instance's annotations) until a
// prune has removed their objects: the inventory must stay a superset of what exists.
func applySetAnnotations(g *graph.Graph, instanceNamespace string, current map[string]string) map[string]string {
	gks := splitSet(current[metadata.ApplySetGroupKindsAnnotation])
	namespaces := splitSet(current[metadata.ApplySetAdditionalNamespacesAnnotation])
	for k := range graphGroupKinds(g) {
		gks[k] = true
	}
	for _, n := range g.Nodes {
		if n.External != nil {
			continue
		}
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

// graphGroupKinds are the group-kinds a graph creates, in the ApplySet annotation format.
func graphGroupKinds(g *graph.Graph) map[string]bool {
	gks := map[string]bool{}
	for _, n := range g.Nodes {
		if n.External != nil {
			continue
		}
		gk := n.GVK.Kind
		if n.GVK.Group != "" {
			gk += "." + n.GVK.Group
		}
		gks[gk] = true
	}
	return gks
}

func splitSet(s string) map[string]bool {
	set := map[string]bool{}
	for _, item := range strings.Split(s, ",") {
		if item != "" {
			set[item] = true
		}
	}
	return set
}
