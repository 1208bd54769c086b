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
	r.vars[id] = obj.Object
}

// Observed reports whether a node's object has been observed.
func (r *Runtime) Observed(id string) bool {
	_, ok := r.vars[id]
	return ok
}

// Render returns the desired object of a node. Errors wrapping ErrDataPending mean an input is
// not there yet.
func (r *Runtime) Render(ctx context.Context, id string) (*unstructured.Unstructured, error) {
	n := r.graph.Node(id)
	if n == nil {
		return nil, fmt.Errorf("unknown resource %q", id)
	}
	obj := runtime.DeepCopyJSON(n.Template)
	for _, f := range n.Fields {
		v, err := r.evalField(ctx, f)
		if err != nil {
			return nil, fmt.Errorf("resource %q field %q: %w", id, f.Path, err)
		}
		if err := setPath(obj, f.Elems, v); err != nil {
			return nil, fmt.Errorf("resource %q field %q: %w", id, f.Path, err)
		}
	}
	u := &unstructured.Unstructured{Object: obj}
	if n.Namespaced && u.GetNamespace() == "" {
		u.SetNamespace(r.namespace)
	}
	return u, nil
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

// Ready reports whether an observed node satisfies all its readyWhen expressions; when it does
// not, the returned string is the first expression that is not true yet.
func (r *Runtime) Ready(ctx context.Context, id string) (bool, string, error) {
	if !r.Observed(id) {
		return false, "", nil
	}
	vars := map[string]any{id: r.vars[id]}
	for _, prg := range r.graph.Node(id).ReadyWhen {
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
		v, err := r.evalField(ctx, f)
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
func (r *Runtime) evalField(ctx context.Context, f *graph.Field) (any, error) {
	if f.Standalone {
		return evalProgram(ctx, f.Programs[0], r.vars)
	}
	var b strings.Builder
	i := 0
	for _, seg := range f.Segments {
		if !seg.IsExpr() {
			b.WriteString(seg.Literal)
			continue
		}
		v, err := evalProgram(ctx, f.Programs[i], r.vars)
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
