package instance

import (
	"context"
	"sort"
	"strings"

	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/kro-run/kro/internal/graph"
	"github.com/kro-run/kro/internal/metadata"
)

// applySetAnnotations are the ApplySet parent annotations kro sets before applying anything:
// the tooling and every group-kind the graph can create, added to those recorded before (the
// inventory must stay a superset of what exists until a prune removes the rest). The
// additional namespaces are only known once objects are rendered; see syncInventory.
func applySetAnnotations(g *graph.Graph, current map[string]string) map[string]string {
	gks := splitSet(current[metadata.ApplySetGroupKindsAnnotation])
	for k := range graphGroupKinds(g) {
		gks[k] = true
	}
	return map[string]string{
		metadata.ApplySetToolingAnnotation:    metadata.Tooling(),
		metadata.ApplySetGroupKindsAnnotation: joinSorted(gks),
		// Present from the start, empty until an object lands outside the instance's
		// namespace, as the reference writes it.
		metadata.ApplySetAdditionalNamespacesAnnotation: current[metadata.ApplySetAdditionalNamespacesAnnotation],
	}
}

// syncInventory keeps the ApplySet annotations exact after a pass: the namespaces of the
// objects applied (other than the instance's) are added; after a complete pass and prune
// (exact), group-kinds and namespaces are set to exactly those of the graph and the pass.
func (r *Reconciler) syncInventory(ctx context.Context, g *graph.Graph, p *pass, exact bool) error {
	current := p.inst.GetAnnotations()
	namespaces := map[string]bool{}
	gks := graphGroupKinds(g)
	if !exact {
		namespaces = splitSet(current[metadata.ApplySetAdditionalNamespacesAnnotation])
		for k := range splitSet(current[metadata.ApplySetGroupKindsAnnotation]) {
			gks[k] = true
		}
	}
	for key := range p.keep {
		if key.namespace != "" && key.namespace != p.inst.GetNamespace() {
			namespaces[key.namespace] = true
		}
	}
	want := map[string]string{
		metadata.ApplySetGroupKindsAnnotation:           joinSorted(gks),
		metadata.ApplySetAdditionalNamespacesAnnotation: joinSorted(namespaces),
	}
	if hasAll(current, want) {
		return nil
	}
	before := p.inst.DeepCopy()
	annotations := p.inst.GetAnnotations()
	if annotations == nil {
		annotations = map[string]string{}
	}
	for k, v := range want {
		annotations[k] = v
	}
	p.inst.SetAnnotations(annotations)
	return r.opts.Client.Patch(ctx, p.inst, client.MergeFrom(before))
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

func joinSorted(set map[string]bool) string {
	out := make([]string, 0, len(set))
	for k := range set {
		out = append(out, k)
	}
	sort.Strings(out)
	return strings.Join(out, ",")
}

// hasAll reports whether m has every key of want, with its value (an empty value included).
func hasAll(m, want map[string]string) bool {
	for k, v := range want {
		if cur, ok := m[k]; !ok || cur != v {
			return false
		}
	}
	return true
}
