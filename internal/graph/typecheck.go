package graph

import (
	"errors"
	"fmt"
	"strings"

	"github.com/google/cel-go/cel"
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
}

// typeContext resolves the schema of every resource and of the instance and builds the typed
// environment. Without a schema resolver everything is dyn.
func (b *Builder) typeContext(g *Graph, spec *apiextensionsv1.JSONSchemaProps) (*typeContext, error) {
	tc := &typeContext{types: map[string]*apiservercel.DeclType{}}
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
			s, err := b.schemas.ResolveSchema(n.GVK)
			if err != nil {
				errs.add(fmt.Errorf("resource %q: %w: %v", n.ID, ErrDependencyNotReady, err))
				continue
			}
			add(n.ID, kroschema.DeclType(s, "kro.resource."+n.ID))
		}
		if err := errs.err(); err != nil {
			return nil, err
		}
	}

	tc.provider = apiservercel.NewDeclTypeProvider(roots...)
	vars := []krocel.Variable{{Name: SchemaVariable, Type: tc.types[SchemaVariable].CelType()}}
	for _, n := range g.Nodes {
		vars = append(vars, krocel.Variable{Name: n.ID, Type: tc.types[n.ID].CelType()})
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
	nodeType := tc.types[n.ID]
	if err := kroschema.CheckLiteral(n.Template, nodeType, nil); err != nil {
		return fmt.Errorf("resource %q: %w", n.ID, err)
	}
	var deps []string
	for _, f := range n.Fields {
		want, err := kroschema.FieldType(nodeType, f.Elems)
		if err != nil {
			return fmt.Errorf("resource %q field %q: %w", n.ID, f.Path, err)
		}
		if !f.Standalone {
			if err := kroschema.Assignable(cel.StringType, want, tc.lookup); err != nil {
				return fmt.Errorf("resource %q field %q: a string template yields a string, expected %s", n.ID, f.Path, strings.TrimPrefix(err.Error(), "returns string, expected "))
			}
		}
		for _, expr := range f.Expressions() {
			prg, err := krocel.Compile(tc.env, expr)
			if err != nil {
				return fmt.Errorf("resource %q field %q: expression %q: %w", n.ID, f.Path, expr, err)
			}
			if f.Standalone {
				err = kroschema.Assignable(prg.OutputType, want, tc.lookup)
			} else if !isStringish(prg.OutputType) {
				err = fmt.Errorf("returns %s, expected string in a string template", prg.OutputType)
			}
			if err != nil {
				return fmt.Errorf("resource %q field %q: %w", n.ID, f.Path, expressionError(expr, err))
			}
			f.Programs = append(f.Programs, prg)
			deps = append(deps, prg.References...)
		}
	}
	for i, src := range n.includeWhen {
		prg, err := compileCondition(tc.env, src)
		if err != nil {
			return fmt.Errorf("resource %q field \"includeWhen[%d]\": %w", n.ID, i, err)
		}
		n.IncludeWhen = append(n.IncludeWhen, prg)
		deps = append(deps, prg.References...)
	}
	if len(n.readyWhen) > 0 {
		// readyWhen may read only the node itself.
		env, err := krocel.NewTypedEnv(tc.provider, krocel.Variable{Name: n.ID, Type: nodeType.CelType()})
		if err != nil {
			return err
		}
		for i, src := range n.readyWhen {
			prg, err := compileCondition(env, src)
			if err != nil {
				return fmt.Errorf("resource %q field \"readyWhen[%d]\": %w", n.ID, i, err)
			}
			n.ReadyWhen = append(n.ReadyWhen, prg)
		}
	}
	for _, d := range sortedUnique(deps) {
		if d == SchemaVariable {
			continue
		}
		if d == n.ID {
			return fmt.Errorf("resource %q references itself", n.ID)
		}
		n.Dependencies = append(n.Dependencies, d)
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
