package graph

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/google/cel-go/cel"
	"github.com/google/cel-go/common/types"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apiservercel "k8s.io/apiserver/pkg/cel"

	krocel "github.com/kro-run/kro/internal/cel"
	kroschema "github.com/kro-run/kro/internal/graph/schema"
)

// typeContext holds the declared types of an RGD's variables and the environment typed with
// them.
type typeContext struct {
	env      *cel.Env
	provider *apiservercel.DeclTypeProvider
	// types maps each variable (schema and resource ids) to its declared type.
	types map[string]*apiservercel.DeclType
	// compiler compiles every expression under the builder's cost limits.
	compiler *exprCompiler
}

// typeContext resolves the schema of every resource and of the instance and builds the typed
// environment. Without a schema resolver everything is dyn.
func (b *Builder) typeContext(ctx context.Context, g *Graph, spec *apiextensionsv1.JSONSchemaProps) (*typeContext, error) {
	tc := &typeContext{types: map[string]*apiservercel.DeclType{}, compiler: &exprCompiler{limits: b.limits}}
	var roots []*apiservercel.DeclType
	add := func(name string, t *apiservercel.DeclType) {
		tc.types[name] = t
		if t.IsObject() {
			roots = append(roots, t)
		}
	}

	if b.schemas == nil {
		add(SchemaVariable, apiservercel.DynType)
		for _, n := range g.Nodes {
			add(n.ID, apiservercel.DynType)
		}
	} else {
		instance, err := kroschema.FromCRD(&apiextensionsv1.JSONSchemaProps{
			Type:       "object",
			Properties: map[string]apiextensionsv1.JSONSchemaProps{"spec": *spec},
		})
		if err != nil {
			return nil, err
		}
		add(SchemaVariable, kroschema.DeclType(instance, "kro.schema"))
		var errs errorList
		for _, n := range g.Nodes {
			s, err := b.schemas.ResolveSchema(ctx, n.GVK)
			if err != nil {
				errs.add(fmt.Errorf("resource %q: %w: %v", n.ID, ErrDependencyNotReady, err))
				continue
			}
			t := kroschema.DeclType(s, "kro.resource."+n.ID)
			add(n.ID, t)
			n.BytesPaths = kroschema.BytesPaths(t)
		}
		if err := errs.err(); err != nil {
			return nil, err
		}
	}

	tc.provider = apiservercel.NewDeclTypeProvider(roots...)
	vars := []krocel.Variable{{Name: SchemaVariable, Type: tc.types[SchemaVariable].CelType()}}
	for _, n := range g.Nodes {
		t := tc.types[n.ID].CelType()
		if n.IsList() {
			t = cel.ListType(t)
		}
		vars = append(vars, krocel.Variable{Name: n.ID, Type: t})
	}
	env, err := krocel.NewTypedEnv(tc.provider, vars...)
	if err != nil {
		return nil, err
	}
	tc.env = env
	return tc, nil
}

func (tc *typeContext) lookup(name string) (*apiservercel.DeclType, bool) {
	return tc.provider.FindDeclType(name)
}

// compileNode compiles a node's expressions, checks every value against the node's schema
// and records the node's dependencies.
func (tc *typeContext) compileNode(n *Node) error {
	var deps []string
	env := tc.env
	if n.IsCollection() {
		iterEnv, iterDeps, err := tc.compileForEach(n)
		if err != nil {
			return err
		}
		env, deps = iterEnv, iterDeps
	}
	fieldDeps, err := tc.compileFields(env, n)
	if err != nil {
		return err
	}
	deps = append(deps, fieldDeps...)
	for i, src := range n.includeWhen {
		prg, err := tc.compiler.compileCondition(tc.env, fmt.Sprintf("resource %q field \"includeWhen[%d]\"", n.ID, i), src)
		if err != nil {
			return err
		}
		n.IncludeWhen = append(n.IncludeWhen, prg)
		deps = append(deps, prg.References...)
	}
	if err := tc.compileReadyWhen(n); err != nil {
		return err
	}
	iterators := map[string]bool{}
	for _, it := range n.ForEach {
		iterators[it.Name] = true
	}
	for _, d := range slices.Compact(slices.Sorted(slices.Values(deps))) {
		switch {
		case d == SchemaVariable || iterators[d]:
		case d == n.ID:
			return fmt.Errorf("resource %q references itself", n.ID)
		default:
			n.Dependencies = append(n.Dependencies, d)
		}
	}
	return nil
}

// compileFields compiles the template's expressions in env and checks each value against
// the node's schema. An externalRef's template only holds strings (name, namespace and
// selector values).
func (tc *typeContext) compileFields(env *cel.Env, n *Node) ([]string, error) {
	nodeType := tc.types[n.ID]
	if n.External == nil {
		if err := kroschema.CheckLiteral(n.Template, nodeType, nil); err != nil {
			return nil, fmt.Errorf("resource %q: %w", n.ID, err)
		}
	}
	var deps []string
	for _, f := range n.Fields {
		want := apiservercel.StringType
		if n.External == nil {
			var err error
			if want, err = kroschema.FieldType(nodeType, f.Elems); err != nil {
				return nil, fmt.Errorf("resource %q field %q: %w", n.ID, f.Path, err)
			}
		}
		if !f.Standalone {
			if err := kroschema.Assignable(cel.StringType, want, tc.lookup); err != nil {
				return nil, fmt.Errorf("resource %q field %q: a string template yields a string, expected %s", n.ID, f.Path, strings.TrimPrefix(err.Error(), "returns string, expected "))
			}
		}
		for _, expr := range f.Expressions() {
			prg, err := tc.compiler.compile(env, fmt.Sprintf("resource %q field %q", n.ID, f.Path), expr)
			if err != nil {
				return nil, err
			}
			if f.Standalone {
				err = kroschema.Assignable(prg.OutputType, want, tc.lookup)
			} else if !isStringish(prg.OutputType) {
				err = fmt.Errorf("returns %s, expected string in a string template", prg.OutputType)
			}
			if err != nil {
				return nil, fmt.Errorf("resource %q field %q: %w", n.ID, f.Path, expressionError(expr, err))
			}
			f.Programs = append(f.Programs, prg)
			deps = append(deps, prg.References...)
		}
	}
	return deps, nil
}

// compileForEach compiles a collection's iterators, which read schema and other resources,
// and returns the environment of its template with every iterator declared with the element
// type of its list.
func (tc *typeContext) compileForEach(n *Node) (*cel.Env, []string, error) {
	var deps []string
	var vars []cel.EnvOption
	seen := map[string]bool{}
	for i, dim := range n.forEach {
		if len(dim) != 1 {
			return nil, nil, fmt.Errorf("resource %q field \"forEach[%d]\": each entry must hold exactly one iterator", n.ID, i)
		}
		for name, src := range dim {
			path := fmt.Sprintf("forEach[%d].%s", i, name)
			switch {
			case !idPattern.MatchString(name) || reservedIDs[name]:
				return nil, nil, fmt.Errorf("resource %q field %q: %q is not a valid iterator name", n.ID, path, name)
			case seen[name] || tc.types[name] != nil:
				return nil, nil, fmt.Errorf("resource %q field %q: iterator %q is already a resource or iterator name", n.ID, path, name)
			}
			seen[name] = true
			expr, err := standaloneExpression(src)
			if err != nil {
				return nil, nil, fmt.Errorf("resource %q field %q: %w", n.ID, path, err)
			}
			prg, err := tc.compiler.compile(tc.env, fmt.Sprintf("resource %q field %q", n.ID, path), expr)
			if err != nil {
				return nil, nil, err
			}
			elem := cel.DynType
			switch prg.OutputType.Kind() {
			case types.ListKind:
				elem = prg.OutputType.Parameters()[0]
			case types.DynKind:
			default:
				return nil, nil, fmt.Errorf("resource %q field %q: expression %q returns %s, expected a list", n.ID, path, expr, prg.OutputType)
			}
			n.ForEach = append(n.ForEach, &Iterator{Name: name, Program: prg})
			vars = append(vars, cel.Variable(name, elem))
			deps = append(deps, prg.References...)
		}
	}
	env, err := tc.env.Extend(vars...)
	if err != nil {
		return nil, nil, fmt.Errorf("resource %q: %w", n.ID, err)
	}
	return env, deps, nil
}

// checkIdentity makes sure every iterator is used in metadata.name or metadata.namespace, so
// that every item of a collection is a distinct object.
func checkIdentity(n *Node) error {
	used := map[string]bool{}
	for _, f := range n.Fields {
		if f.Path != "metadata.name" && f.Path != "metadata.namespace" {
			continue
		}
		for _, prg := range f.Programs {
			for _, r := range prg.References {
				used[r] = true
			}
		}
	}
	for _, it := range n.ForEach {
		if !used[it.Name] {
			return fmt.Errorf("resource %q: iterator %q must be used in metadata.name or metadata.namespace so that every item is a distinct object", n.ID, it.Name)
		}
	}
	return nil
}

// compileReadyWhen compiles readyWhen, which may read only the node itself: as its id, or as
// `each` for one object of a list (an item of a collection, an object a selector externalRef
// selects), which is ready when each of its objects is.
func (tc *typeContext) compileReadyWhen(n *Node) error {
	if len(n.readyWhen) == 0 {
		return nil
	}
	name := n.ID
	if n.IsList() {
		name = EachVariable
	}
	env, err := krocel.NewTypedEnv(tc.provider, krocel.Variable{Name: name, Type: tc.types[n.ID].CelType()})
	if err != nil {
		return err
	}
	for i, src := range n.readyWhen {
		prg, err := tc.compiler.compileCondition(env, fmt.Sprintf("resource %q field \"readyWhen[%d]\"", n.ID, i), src)
		if err != nil {
			return err
		}
		n.ReadyWhen = append(n.ReadyWhen, prg)
	}
	return nil
}

// expressionError puts the expression in front of a type error: `expression "x" returns
// string, expected integer`.
func expressionError(expr string, err error) error {
	if strings.HasPrefix(err.Error(), "returns ") {
		return fmt.Errorf("expression %q %w", expr, err)
	}
	return fmt.Errorf("expression %q: %w", expr, err)
}

// IsDependencyNotReady reports whether a build error may resolve itself.
func IsDependencyNotReady(err error) bool { return errors.Is(err, ErrDependencyNotReady) }
