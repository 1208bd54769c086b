package runtime

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"

	krocel "github.com/kro-run/kro/internal/cel"
	"github.com/kro-run/kro/internal/graph"
	"github.com/kro-run/kro/internal/graph/parser"
)

// ErrDataPending is returned (wrapped) when an expression reads data that does not exist yet.
var ErrDataPending = krocel.ErrDataPending

// Runtime is the evaluation state of one instance in one reconcile. It is not safe for
// concurrent use.
type Runtime struct {
	graph *graph.Graph
	// namespace is the instance's namespace, the default of namespaced children.
	namespace string
	// vars are the CEL variables: schema and every observed resource.
	vars map[string]any
}

// New returns a Runtime for instance.
func New(g *graph.Graph, instance *unstructured.Unstructured) *Runtime {
	schema := map[string]any{}
	for k, v := range instance.Object {
		if k != "status" {
			schema[k] = v
		}
	}
	return &Runtime{
		graph:     g,
		namespace: instance.GetNamespace(),
		vars:      map[string]any{graph.SchemaVariable: schema},
	}
}

// SetObserved records the live state of a node's object; dependents read it from now on.
func (r *Runtime) SetObserved(id string, obj *unstructured.Unstructured) {
	r.vars[id] = r.celView(id, obj.Object)
}

// celView is how expressions see an object: byte fields decoded from base64.
func (r *Runtime) celView(id string, obj map[string]any) map[string]any {
	for _, path := range r.graph.Node(id).BytesPaths {
		obj = decodeBytes(obj, path).(map[string]any)
	}
	return obj
}

// Observed reports whether a node's object has been observed.
func (r *Runtime) Observed(id string) bool {
	_, ok := r.vars[id]
	return ok
}

// Render returns the desired object of a single-object node (or the reference of an
// externalRef). Errors wrapping ErrDataPending mean an input is not there yet.
func (r *Runtime) Render(ctx context.Context, id string) (*unstructured.Unstructured, error) {
	n := r.graph.Node(id)
	if n == nil {
		return nil, fmt.Errorf("unknown resource %q", id)
	}
	return r.render(ctx, n, r.vars)
}

// RenderItem returns the desired object of one item of a collection.
func (r *Runtime) RenderItem(ctx context.Context, id string, item Item) (*unstructured.Unstructured, error) {
	n := r.graph.Node(id)
	if n == nil {
		return nil, fmt.Errorf("unknown resource %q", id)
	}
	vars := make(map[string]any, len(r.vars)+len(item.Vars))
	for k, v := range r.vars {
		vars[k] = v
	}
	for k, v := range item.Vars {
		vars[k] = v
	}
	return r.render(ctx, n, vars)
}

func (r *Runtime) render(ctx context.Context, n *graph.Node, vars map[string]any) (*unstructured.Unstructured, error) {
	obj := runtime.DeepCopyJSON(n.Template)
	omitted := false
	for _, f := range n.Fields {
		v, err := evalField(ctx, f, vars)
		if err != nil {
			return nil, fmt.Errorf("resource %q field %q: %w", n.ID, f.Path, err)
		}
		if krocel.IsOmit(v) {
			if f.Path == "metadata.name" || f.Path == "metadata.namespace" {
				return nil, fmt.Errorf("resource %q field %q: omit() cannot remove the object's identity", n.ID, f.Path)
			}
			removePath(obj, f.Elems)
			omitted = true
			continue
		}
		if err := setPath(obj, f.Elems, krocel.PruneOmit(v)); err != nil {
			return nil, fmt.Errorf("resource %q field %q: %w", n.ID, f.Path, err)
		}
	}
	if omitted {
		obj = krocel.PruneOmit(obj).(map[string]any)
	}
	u := &unstructured.Unstructured{Object: obj}
	if n.Namespaced && u.GetNamespace() == "" && (n.External == nil || !n.External.Selector) {
		u.SetNamespace(r.namespace)
	}
	return u, nil
}

// Item is one element of a collection: the value of each iterator and its position.
type Item struct {
	Vars  map[string]any
	Index int
}

// Expand evaluates a collection's iterators and returns the cartesian product of their
// lists, first iterator outermost. It fails when the product exceeds maxSize.
func (r *Runtime) Expand(ctx context.Context, id string, maxSize int) ([]Item, error) {
	n := r.graph.Node(id)
	lists := make([][]any, len(n.ForEach))
	size := 1
	for i, it := range n.ForEach {
		v, err := evalProgram(ctx, it.Program, r.vars)
		if err != nil {
			return nil, fmt.Errorf("resource %q forEach %q: %w", id, it.Name, err)
		}
		l, ok := v.([]any)
		if !ok {
			return nil, fmt.Errorf("resource %q forEach %q: expression %q returned %T, expected a list", id, it.Name, it.Program.Expression, v)
		}
		lists[i] = l
		size *= len(l)
		if size > maxSize {
			return nil, fmt.Errorf("resource %q: the collection has more than %d items (--rgd-max-collection-size)", id, maxSize)
		}
	}
	items := make([]Item, 0, size)
	if size == 0 {
		return items, nil
	}
	idx := make([]int, len(lists))
	for {
		vars := make(map[string]any, len(lists))
		for d, l := range lists {
			vars[n.ForEach[d].Name] = l[idx[d]]
		}
		items = append(items, Item{Vars: vars, Index: len(items)})
		// Advance the innermost (last) iterator first.
		d := len(idx) - 1
		for ; d >= 0; d-- {
			idx[d]++
			if idx[d] < len(lists[d]) {
				break
			}
			idx[d] = 0
		}
		if d < 0 {
			return items, nil
		}
	}
}

// SetObservedList records the live objects of a collection or selector externalRef, which
// other nodes read as a list.
func (r *Runtime) SetObservedList(id string, objs []*unstructured.Unstructured) {
	l := make([]any, len(objs))
	for i, o := range objs {
		l[i] = r.celView(id, o.Object)
	}
	r.vars[id] = l
}

// Included reports whether all includeWhen expressions of a node are true.
func (r *Runtime) Included(ctx context.Context, id string) (bool, error) {
	for _, prg := range r.graph.Node(id).IncludeWhen {
		ok, err := prg.EvalBool(ctx, r.vars)
		if err != nil {
			return false, fmt.Errorf("resource %q includeWhen %q: %w", id, prg.Expression, err)
		}
		if !ok {
			return false, nil
		}
	}
	return true, nil
}

// Ready reports whether an observed single object satisfies all its readyWhen expressions;
// when it does not, the returned string is the first expression that is not true yet.
func (r *Runtime) Ready(ctx context.Context, id string) (bool, string, error) {
	obj, ok := r.vars[id].(map[string]any)
	if !ok {
		return false, "", nil
	}
	return r.ReadyObject(ctx, id, obj)
}

// ReadyObject evaluates a node's readyWhen against obj: the node itself, or one object of a
// list node, an item of a collection or an object a selector externalRef selects (bound to
// `each`).
func (r *Runtime) ReadyObject(ctx context.Context, id string, obj map[string]any) (bool, string, error) {
	n := r.graph.Node(id)
	name := id
	if n.IsList() {
		name = graph.EachVariable
	}
	if n.KroInstance && len(n.ReadyWhen) == 0 {
		// A chained RGD instance is ready when it says so.
		if state, _, _ := unstructured.NestedString(obj, "status", "state"); state != "ACTIVE" {
			return false, "status.state == 'ACTIVE'", nil
		}
		return true, "", nil
	}
	vars := map[string]any{name: r.celView(id, obj)}
	for _, prg := range n.ReadyWhen {
		ok, err := prg.EvalBool(ctx, vars)
		if errors.Is(err, ErrDataPending) || err == nil && !ok {
			return false, prg.Expression, nil
		}
		if err != nil {
			return false, prg.Expression, fmt.Errorf("resource %q readyWhen %q: %w", id, prg.Expression, err)
		}
	}
	return true, "", nil
}

// Status returns the user-defined status fields whose inputs exist. Fields whose inputs are
// pending are left out; other errors are returned after the fields that could be computed.
func (r *Runtime) Status(ctx context.Context) (map[string]any, error) {
	out := map[string]any{}
	var errs []error
	for _, f := range r.graph.Instance.Status {
		v, err := evalField(ctx, f, r.vars)
		if errors.Is(err, ErrDataPending) {
			continue
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("status field %q: %w", f.Path, err))
			continue
		}
		if err := setPath(out, f.Elems, v); err != nil {
			errs = append(errs, fmt.Errorf("status field %q: %w", f.Path, err))
		}
	}
	return out, errors.Join(errs...)
}

// evalField evaluates a templated string: the value of its single expression, or the
// concatenation of its parts.
func evalField(ctx context.Context, f *graph.Field, vars map[string]any) (any, error) {
	if f.Standalone {
		return evalProgram(ctx, f.Programs[0], vars)
	}
	var b strings.Builder
	i := 0
	for _, seg := range f.Segments {
		if !seg.IsExpr() {
			b.WriteString(seg.Literal)
			continue
		}
		v, err := evalProgram(ctx, f.Programs[i], vars)
		i++
		if err != nil {
			return nil, err
		}
		s, ok := v.(string)
		if !ok {
			return nil, fmt.Errorf("expression %q returned %T, expected string in a string template", seg.Expr, v)
		}
		b.WriteString(s)
	}
	return b.String(), nil
}

func evalProgram(ctx context.Context, prg *krocel.Program, vars map[string]any) (any, error) {
	for _, ref := range prg.References {
		if _, ok := vars[ref]; !ok {
			return nil, fmt.Errorf("%w: expression %q: resource %q is not observed yet", ErrDataPending, prg.Expression, ref)
		}
	}
	v, err := prg.Eval(ctx, vars)
	if err != nil {
		return nil, fmt.Errorf("expression %q: %w", prg.Expression, err)
	}
	return v, nil
}

// removePath deletes the value at the path in obj: a map key is removed, a list element
// dropped.
func removePath(obj map[string]any, elems []parser.PathElem) {
	if len(elems) == 0 {
		return
	}
	parentElems, last := elems[:len(elems)-1], elems[len(elems)-1]
	var parent any = obj
	for _, e := range parentElems {
		switch p := parent.(type) {
		case map[string]any:
			parent = p[e.Key]
		case []any:
			if e.Index < 0 || e.Index >= len(p) {
				return
			}
			parent = p[e.Index]
		default:
			return
		}
	}
	switch p := parent.(type) {
	case map[string]any:
		delete(p, last.Key)
	case []any:
		// Lists hold the marker and are compacted by the caller's PruneOmit pass.
		if last.Index >= 0 && last.Index < len(p) {
			p[last.Index] = krocel.Omit
		}
	}
}

// setPath sets v at the path in obj, creating maps on the way. Lists must exist already: a
// template's lists are part of the template.
func setPath(obj map[string]any, elems []parser.PathElem, v any) error {
	if len(elems) == 0 {
		return fmt.Errorf("empty path")
	}
	var cur any = obj
	for i, e := range elems {
		last := i == len(elems)-1
		if e.IsIndex {
			l, ok := cur.([]any)
			if !ok || e.Index < 0 || e.Index >= len(l) {
				return fmt.Errorf("index %d out of range", e.Index)
			}
			if last {
				l[e.Index] = v
				return nil
			}
			cur = l[e.Index]
			continue
		}
		m, ok := cur.(map[string]any)
		if !ok {
			return fmt.Errorf("key %q: parent is not an object", e.Key)
		}
		if last {
			m[e.Key] = v
			return nil
		}
		next, ok := m[e.Key]
		if !ok {
			next = map[string]any{}
			m[e.Key] = next
		}
		cur = next
	}
	return nil
}
