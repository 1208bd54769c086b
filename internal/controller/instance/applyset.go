package instance

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/kro-run/kro/internal/graph"
	"github.com/kro-run/kro/internal/metadata"
)

// The instance is the parent of an ApplySet (the kubectl ApplySet KEP). Its annotations list
// the group-kinds and the namespaces (other than its own) that hold members, with the reference
// kro's checksum of both. kro writes them as the reference does, so that either controller
// finds the other's objects: before an object is applied its kind and namespace are added;
// after a complete pass they are exactly those of the objects applied (external references
// excluded).

// inventory is an instance's ApplySet inventory as a pass has written it. Nodes of a level
// are applied in parallel, so it is guarded.
type inventory struct {
	mu              sync.Mutex
	gks, namespaces map[string]bool
}

func inventoryOf(inst *unstructured.Unstructured) *inventory {
	a := inst.GetAnnotations()
	return &inventory{
		gks:        splitSet(a[metadata.ApplySetGroupKindsAnnotation]),
		namespaces: splitSet(a[metadata.ApplySetAdditionalNamespacesAnnotation]),
	}
}

// inventoryAnnotations are the annotations that record gks and namespaces.
func inventoryAnnotations(setID string, gks, namespaces map[string]bool) map[string]string {
	return map[string]string{
		metadata.ApplySetGroupKindsAnnotation:           joinSorted(gks),
		metadata.ApplySetAdditionalNamespacesAnnotation: joinSorted(namespaces),
		metadata.ApplySetInventoryHashAnnotation:        inventoryHash(setID, gks, namespaces),
	}
}

// inventoryHash is the reference kro's checksum of an inventory (metadata.InventoryHash).
func inventoryHash(setID string, gks, namespaces map[string]bool) string {
	return metadata.InventoryHash(setID, slices.Collect(maps.Keys(gks)), slices.Collect(maps.Keys(namespaces)))
}

// applySetAnnotations are the ApplySet annotations kro sets with its finalizer, before
// applying anything: the tooling, and the inventory with the kinds of the resources every pass
// applies (see alwaysApplied) added to what it held. The other kinds are added when an object
// of them is about to be applied.
func applySetAnnotations(g *graph.Graph, setID string, current map[string]string) map[string]string {
	gks := splitSet(current[metadata.ApplySetGroupKindsAnnotation])
	for _, n := range alwaysApplied(g) {
		gks[groupKindString(n.GVK.Group, n.GVK.Kind)] = true
	}
	out := inventoryAnnotations(setID, gks, splitSet(current[metadata.ApplySetAdditionalNamespacesAnnotation]))
	out[metadata.ApplySetToolingAnnotation] = metadata.Tooling()
	return out
}

// alwaysApplied are the resources of which every pass applies an object: neither external,
// collections nor with includeWhen, and depending on no such resource.
func alwaysApplied(g *graph.Graph) []*graph.Node {
	conditional := map[string]bool{}
	var out []*graph.Node
	for _, level := range g.Levels {
		for _, id := range level {
			n := g.Node(id)
			c := len(n.IncludeWhen) > 0 || n.IsCollection() || firstIn(n.Dependencies, conditional) != ""
			conditional[id] = c
			if !c && n.External == nil {
				out = append(out, n)
			}
		}
	}
	return out
}

// recordMember makes sure the instance's inventory names obj's kind and namespace before obj is
// applied, so that an object kro writes is always found again, whatever happens next.
func (r *Reconciler) recordMember(ctx context.Context, p *pass, obj *unstructured.Unstructured) error {
	gvk := obj.GroupVersionKind()
	gk := groupKindString(gvk.Group, gvk.Kind)
	ns := obj.GetNamespace()
	extra := ns != "" && ns != p.inst.GetNamespace()
	inv := p.inventory
	inv.mu.Lock()
	defer inv.mu.Unlock()
	if inv.gks[gk] && (!extra || inv.namespaces[ns]) {
		return nil
	}
	gks, namespaces := maps.Clone(inv.gks), maps.Clone(inv.namespaces)
	gks[gk] = true
	if extra {
		namespaces[ns] = true
	}
	if err := r.patchInventory(ctx, p, gks, namespaces); err != nil {
		return err
	}
	inv.gks, inv.namespaces = gks, namespaces
	return nil
}

// syncInventory brings the inventory up to date after a pass: the kinds and namespaces of the
// objects it applied are added; after a complete pass and prune (exact), the inventory is
// exactly those.
func (r *Reconciler) syncInventory(ctx context.Context, p *pass, exact bool) error {
	inv := p.inventory
	inv.mu.Lock()
	defer inv.mu.Unlock()
	gks, namespaces := map[string]bool{}, map[string]bool{}
	if !exact {
		gks, namespaces = maps.Clone(inv.gks), maps.Clone(inv.namespaces)
	}
	for key := range p.keep {
		gks[groupKindString(key.group, key.kind)] = true
		if key.namespace != "" && key.namespace != p.inst.GetNamespace() {
			namespaces[key.namespace] = true
		}
	}
	if maps.Equal(gks, inv.gks) && maps.Equal(namespaces, inv.namespaces) {
		return nil
	}
	if err := r.patchInventory(ctx, p, gks, namespaces); err != nil {
		return err
	}
	inv.gks, inv.namespaces = gks, namespaces
	return nil
}

// patchInventory writes the inventory annotations of the pass's instance.
func (r *Reconciler) patchInventory(ctx context.Context, p *pass, gks, namespaces map[string]bool) error {
	patch, err := json.Marshal(map[string]any{"metadata": map[string]any{
		"annotations": inventoryAnnotations(p.setID, gks, namespaces),
	}})
	if err != nil {
		return err
	}
	// A copy: the pass's instance is read concurrently.
	target := &unstructured.Unstructured{}
	target.SetGroupVersionKind(p.inst.GroupVersionKind())
	target.SetNamespace(p.inst.GetNamespace())
	target.SetName(p.inst.GetName())
	again, err := r.patchInstanceMetadata(ctx, target, patch)
	if again {
		p.again.Store(true)
	}
	if err != nil {
		return clusterError(fmt.Errorf("recording the ApplySet inventory: %w", err))
	}
	return nil
}

// checkInventory verifies the inventory of an instance against its checksum, as the reference
// kro does before deleting: a partly edited inventory could hide members, and deleting then
// would orphan them. An instance without a checksum (written by an older kro) passes.
func checkInventory(inst *unstructured.Unstructured, setID string) error {
	a := inst.GetAnnotations()
	got, ok := a[metadata.ApplySetInventoryHashAnnotation]
	if !ok {
		return nil
	}
	inv := inventoryOf(inst)
	if want := inventoryHash(setID, inv.gks, inv.namespaces); got != want {
		return fmt.Errorf("the ApplySet inventory of the instance does not match its checksum (%s is %q, the group-kinds and namespaces give %q); restore %s and %s, or remove the checksum to accept them as they are",
			metadata.ApplySetInventoryHashAnnotation, got, want,
			metadata.ApplySetGroupKindsAnnotation, metadata.ApplySetAdditionalNamespacesAnnotation)
	}
	return nil
}

// groupKindString is a group-kind in the ApplySet annotation format: Kind.group, or Kind for
// the core group.
func groupKindString(group, kind string) string {
	if group == "" {
		return kind
	}
	return kind + "." + group
}

func splitSet(s string) map[string]bool {
	set := map[string]bool{}
	for _, item := range strings.Split(s, ",") {
		if item = strings.TrimSpace(item); item != "" {
			set[item] = true
		}
	}
	return set
}

func joinSorted(set map[string]bool) string {
	return strings.Join(slices.Sorted(maps.Keys(set)), ",")
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
