package cli

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/spf13/cobra"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
	kruntime "k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/kro-run/kro/internal/graph"
	"github.com/kro-run/kro/internal/metadata"
	"github.com/kro-run/kro/internal/runtime"
)

// Node states in a render.
const (
	// StateApplied: the controller applies the node's objects in this pass.
	StateApplied = "Applied"
	// StatePending: the node waits for data or for a dependency to be ready.
	StatePending = "Pending"
	// StateSkipped: includeWhen is false for the node or one of its dependencies.
	StateSkipped = "Skipped"
	// StateExternal: an externalRef, read and never applied.
	StateExternal = "External"
	// StateError: evaluating the node failed; the controller stops the pass there.
	StateError = "Error"
)

// NodeResult is what one pass of the controller does with a resource.
type NodeResult struct {
	ID    string `json:"id"`
	Kind  string `json:"kind"`
	State string `json:"state"`
	// Ready is set for applied and external nodes whose readiness is known.
	Ready *bool `json:"ready,omitempty"`
	// Reason says why the node is pending, skipped, failed or not ready.
	Reason string `json:"reason,omitempty"`
	// WaitingOn is the dependency the node waits for, when it does.
	WaitingOn string `json:"waitingOn,omitempty"`
	// NotReadyWhen is the first readyWhen expression that is not true.
	NotReadyWhen string `json:"-"`
	// Objects are the objects applied (the desired state), in order.
	Objects []*unstructured.Unstructured `json:"-"`
}

// source is where a pass sees objects: what an applied object looks like afterwards (the
// controller reads the API server's answer to its apply) and the externalRefs.
type source interface {
	// applied returns the object of node n as it is once desired is applied.
	applied(ctx context.Context, n *graph.Node, desired *unstructured.Unstructured) (*unstructured.Unstructured, error)
	// get returns an object, nil when it does not exist.
	get(ctx context.Context, gvk schema.GroupVersionKind, namespace, name string) (*unstructured.Unstructured, error)
	// list returns the objects of a kind matching selector in namespace (all when empty),
	// sorted by namespace and name as the controller sorts them.
	list(ctx context.Context, gvk schema.GroupVersionKind, namespace string, selector labels.Selector) ([]*unstructured.Unstructured, error)
}

// pass evaluates one instance the way the instance controller's sync does, level by level,
// with runtime.Runtime and runtime.Finalize; what applying does is up to the source.
type pass struct {
	g        *graph.Graph
	rt       *runtime.Runtime
	inst     *unstructured.Unstructured
	setID    string
	src      source
	opts     passOptions
	notReady map[string]bool
	skipped  map[string]bool
}

// renderPass runs one pass over the graph for inst and returns the nodes in creation order
// and the user status fields that could be computed.
// passOptions are the controller's options that change what a pass does.
type passOptions struct {
	// maxCollection is --rgd-max-collection-size.
	maxCollection int
	// argoCDTracking is --argocd-tracking-propagation.
	argoCDTracking bool
}

// addPassFlags adds the controller's flags that change a pass, with its defaults.
func addPassFlags(cmd *cobra.Command, o *passOptions) {
	cmd.Flags().IntVar(&o.maxCollection, "rgd-max-collection-size", 1000, "the controller's bound on the items of one forEach collection")
	cmd.Flags().BoolVar(&o.argoCDTracking, "argocd-tracking-propagation", true, "as the controller's flag: copy an instance's Argo CD tracking-id annotation to its children")
}

func renderPass(ctx context.Context, g *graph.Graph, inst *unstructured.Unstructured, src source, opts passOptions) ([]NodeResult, map[string]any, error) {
	gvk := g.Instance.GVK
	setID := metadata.ApplySetID(inst.GetName(), inst.GetNamespace(), gvk.Kind, gvk.Group)
	// Before the pass the controller puts its labels and finalizer on the instance, which
	// expressions then see.
	instLabels := inst.GetLabels()
	if instLabels == nil {
		instLabels = map[string]string{}
	}
	for k, v := range metadata.InstanceLabels(g.RGDName, g.RGDUID, setID) {
		instLabels[k] = v
	}
	inst.SetLabels(instLabels)
	if !slices.Contains(inst.GetFinalizers(), metadata.Finalizer) {
		inst.SetFinalizers(append(inst.GetFinalizers(), metadata.Finalizer))
	}
	p := &pass{
		g:        g,
		rt:       runtime.New(g, inst),
		inst:     inst,
		setID:    setID,
		src:      src,
		opts:     opts,
		notReady: map[string]bool{},
		skipped:  map[string]bool{},
	}
	var out []NodeResult
	var failed string
	for _, level := range g.Levels {
		for _, id := range level {
			n := g.Node(id)
			r := NodeResult{ID: id, Kind: n.GVK.Kind}
			switch {
			case failed != "":
				r.State, r.Reason = StatePending, fmt.Sprintf("not reached: the pass stops at the error of resource %q", failed)
			case firstIn(n.Dependencies, p.skipped) != "":
				r.State, r.Reason = StateSkipped, fmt.Sprintf("dependency %q is skipped", firstIn(n.Dependencies, p.skipped))
				p.skipped[id] = true
			case firstIn(n.Dependencies, p.notReady) != "":
				r.WaitingOn = firstIn(n.Dependencies, p.notReady)
				r.State, r.Reason = StatePending, fmt.Sprintf("resource %q is waiting for %q", id, r.WaitingOn)
				p.notReady[id] = true
			default:
				p.node(ctx, n, &r)
				switch r.State {
				case StateSkipped:
					p.skipped[id] = true
				case StatePending:
					p.notReady[id] = true
				case StateError:
					failed = id
				default:
					if r.Ready != nil && !*r.Ready {
						p.notReady[id] = true
					}
				}
			}
			out = append(out, r)
		}
	}
	if failed != "" {
		return out, nil, nil
	}
	status, err := p.rt.Status(ctx)
	return out, status, err
}

// node evaluates includeWhen and renders (or reads) one node.
func (p *pass) node(ctx context.Context, n *graph.Node, r *NodeResult) {
	included, err := p.rt.Included(ctx, n.ID)
	switch {
	case errors.Is(err, runtime.ErrDataPending):
		r.State, r.Reason = StatePending, err.Error()
		return
	case err != nil:
		r.State, r.Reason = StateError, err.Error()
		return
	case !included:
		r.State, r.Reason = StateSkipped, includeReason(n)
		return
	case n.External != nil:
		p.external(ctx, n, r)
	case n.IsCollection():
		p.collection(ctx, n, r)
	default:
		p.object(ctx, n, r)
	}
}

func includeReason(n *graph.Node) string {
	exprs := make([]string, len(n.IncludeWhen))
	for i, prg := range n.IncludeWhen {
		exprs[i] = prg.Expression
	}
	return fmt.Sprintf("includeWhen %q is false", strings.Join(exprs, " && "))
}

// fail records a render error: pending when data is missing.
func fail(r *NodeResult, err error) {
	if errors.Is(err, runtime.ErrDataPending) {
		r.State, r.Reason = StatePending, err.Error()
		return
	}
	r.State, r.Reason = StateError, err.Error()
}

func (p *pass) object(ctx context.Context, n *graph.Node, r *NodeResult) {
	desired, err := p.rt.Render(ctx, n.ID)
	if err != nil {
		fail(r, err)
		return
	}
	if err := runtime.Finalize(p.g, n, p.inst, p.setID, desired, runtime.FinalizeOptions{ArgoCDTracking: p.opts.argoCDTracking}); err != nil {
		fail(r, fmt.Errorf("resource %q: %w", n.ID, err))
		return
	}
	r.State, r.Objects = StateApplied, []*unstructured.Unstructured{desired}
	live, err := p.src.applied(ctx, n, desired)
	if err != nil {
		fail(r, fmt.Errorf("resource %q: %w", n.ID, err))
		return
	}
	p.rt.SetObserved(n.ID, live)
	p.ready(ctx, n, r, live, fmt.Sprintf("resource %q", n.ID))
}

// ready evaluates readyWhen on an observed object as the controller does.
func (p *pass) ready(ctx context.Context, n *graph.Node, r *NodeResult, live *unstructured.Unstructured, what string) {
	ok, expr, err := p.rt.ReadyObject(ctx, n.ID, live.Object)
	if err != nil {
		r.State, r.Reason = StateError, err.Error()
		return
	}
	if r.Ready == nil || *r.Ready {
		r.Ready = &ok
	}
	if !ok && r.Reason == "" {
		r.Reason = fmt.Sprintf("%s is not ready: readyWhen %q", what, expr)
		r.NotReadyWhen = expr
	}
}

func (p *pass) collection(ctx context.Context, n *graph.Node, r *NodeResult) {
	items, err := p.rt.Expand(ctx, n.ID, p.opts.maxCollection)
	if err != nil {
		fail(r, err)
		return
	}
	seen := map[string]int{}
	desired := make([]*unstructured.Unstructured, len(items))
	for i, item := range items {
		obj, err := p.rt.RenderItem(ctx, n.ID, item)
		if err != nil {
			fail(r, err)
			return
		}
		key := obj.GetNamespace() + "/" + obj.GetName()
		if prev, dup := seen[key]; dup {
			r.State, r.Reason = StateError, fmt.Sprintf("resource %q: items %d and %d both render %s %s", n.ID, prev, i, n.GVK.Kind, objectName(obj))
			return
		}
		seen[key] = i
		if err := runtime.Finalize(p.g, n, p.inst, p.setID, obj, runtime.FinalizeOptions{
			Item:           &runtime.Position{Index: item.Index, Size: len(items)},
			ArgoCDTracking: p.opts.argoCDTracking,
		}); err != nil {
			fail(r, fmt.Errorf("resource %q item %d: %w", n.ID, i, err))
			return
		}
		desired[i] = obj
	}
	r.State, r.Objects = StateApplied, desired
	live := make([]*unstructured.Unstructured, len(desired))
	ready := true
	r.Ready = &ready
	for i, obj := range desired {
		if live[i], err = p.src.applied(ctx, n, obj); err != nil {
			fail(r, fmt.Errorf("resource %q item %d: %w", n.ID, i, err))
			return
		}
		p.ready(ctx, n, r, live[i], fmt.Sprintf("resource %q item %d (%s)", n.ID, i, obj.GetName()))
		if r.State == StateError {
			return
		}
	}
	p.rt.SetObservedList(n.ID, live)
}

func (p *pass) external(ctx context.Context, n *graph.Node, r *NodeResult) {
	ref, err := p.rt.Render(ctx, n.ID)
	if err != nil {
		fail(r, err)
		return
	}
	r.State = StateExternal
	if !n.External.Selector {
		live, err := p.src.get(ctx, n.GVK, ref.GetNamespace(), ref.GetName())
		if err != nil {
			fail(r, fmt.Errorf("resource %q: reading external %s: %w", n.ID, n.GVK.Kind, err))
			return
		}
		if live == nil {
			r.State, r.Reason = StatePending, fmt.Sprintf("resource %q is waiting for external %s %s", n.ID, n.GVK.Kind, objectName(ref))
			return
		}
		p.rt.SetObserved(n.ID, live)
		p.ready(ctx, n, r, live, fmt.Sprintf("resource %q", n.ID))
		if r.Reason == "" {
			r.Reason = fmt.Sprintf("read %s %s", n.GVK.Kind, objectName(ref))
		}
		return
	}
	raw, _, _ := unstructured.NestedMap(ref.Object, "metadata", "selector")
	sel := &metav1.LabelSelector{}
	if err := kruntime.DefaultUnstructuredConverter.FromUnstructured(raw, sel); err != nil {
		r.State, r.Reason = StateError, fmt.Sprintf("resource %q field \"metadata.selector\": %v", n.ID, err)
		return
	}
	selector, err := metav1.LabelSelectorAsSelector(sel)
	if err != nil {
		r.State, r.Reason = StateError, fmt.Sprintf("resource %q field \"metadata.selector\": %v", n.ID, err)
		return
	}
	list, err := p.src.list(ctx, n.GVK, ref.GetNamespace(), selector)
	if err != nil {
		fail(r, fmt.Errorf("resource %q: listing external %s: %w", n.ID, n.GVK.Kind, err))
		return
	}
	p.rt.SetObservedList(n.ID, list)
	if len(n.ReadyWhen) > 0 {
		// Ready when every selected object is, as a collection; none selected is ready.
		ready := true
		r.Ready = &ready
		for i, obj := range list {
			p.ready(ctx, n, r, obj, fmt.Sprintf("resource %q item %d (%s)", n.ID, i, objectName(obj)))
			if r.State == StateError || !*r.Ready {
				return
			}
		}
	}
	r.Reason = fmt.Sprintf("selected %d %s objects (%s)", len(list), n.GVK.Kind, selector)
}

func firstIn(ids []string, set map[string]bool) string {
	for _, id := range ids {
		if set[id] {
			return id
		}
	}
	return ""
}

func objectName(u *unstructured.Unstructured) string {
	if u.GetNamespace() == "" {
		return u.GetName()
	}
	return u.GetNamespace() + "/" + u.GetName()
}

// observedSet is the source of render: the live objects given with --observed; an applied
// object not among them is seen as desired.
type observedSet struct {
	objs []*unstructured.Unstructured
}

func (s *observedSet) applied(_ context.Context, n *graph.Node, desired *unstructured.Unstructured) (*unstructured.Unstructured, error) {
	live, _ := s.get(context.Background(), n.GVK, desired.GetNamespace(), desired.GetName())
	if live == nil {
		return desired, nil
	}
	return live, nil
}

func (s *observedSet) get(_ context.Context, gvk schema.GroupVersionKind, namespace, name string) (*unstructured.Unstructured, error) {
	for _, o := range s.objs {
		ogvk := o.GroupVersionKind()
		if ogvk.Group == gvk.Group && ogvk.Kind == gvk.Kind && o.GetNamespace() == namespace && o.GetName() == name {
			return o, nil
		}
	}
	return nil, nil
}

func (s *observedSet) list(_ context.Context, gvk schema.GroupVersionKind, namespace string, selector labels.Selector) ([]*unstructured.Unstructured, error) {
	out := []*unstructured.Unstructured{}
	for _, o := range s.objs {
		ogvk := o.GroupVersionKind()
		if ogvk.Group != gvk.Group || ogvk.Kind != gvk.Kind || namespace != "" && o.GetNamespace() != namespace {
			continue
		}
		if selector.Matches(labels.Set(o.GetLabels())) {
			out = append(out, o)
		}
	}
	sortObjects(out)
	return out, nil
}

// sortObjects orders objects by namespace and name.
func sortObjects(objs []*unstructured.Unstructured) {
	sort.Slice(objs, func(i, j int) bool {
		if objs[i].GetNamespace() != objs[j].GetNamespace() {
			return objs[i].GetNamespace() < objs[j].GetNamespace()
		}
		return objs[i].GetName() < objs[j].GetName()
	})
}
