package graph

import (
	"fmt"
	"slices"
	"sort"

	"github.com/google/cel-go/cel"
	"github.com/google/cel-go/common/types"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"

	"github.com/kro-run/kro/api/v1alpha1"
	krocel "github.com/kro-run/kro/internal/cel"
	"github.com/kro-run/kro/internal/graph/parser"
)

// reservedIDs may not be used as resource ids (SPEC §1).
var reservedIDs = func() map[string]bool {
	m := map[string]bool{}
	for _, w := range []string{
		// CEL keywords.
		"true", "false", "null", "in", "as", "break", "const", "continue", "else", "for",
		"function", "if", "import", "let", "loop", "package", "namespace", "return", "var",
		"void", "while",
		// Names with a meaning in kro.
		"apiVersion", "context", "dependency", "dependencies", "each", "externalRef",
		"externalReference", "externalRefs", "externalReferences", "graph", "instance", "item",
		"items", "kind", "kro", "metadata", "object", "resource",
		"resourcegraphdefinition", "resourceGraphDefinition", "resources", "root", "runtime",
		"schema", "self", "serviceAccountName", "spec", "status", "this", "variables", "vars",
		"version",
	} {
		m[w] = true
	}
	return m
}()

// exprCompiler compiles the expressions of one build under the builder's cost limits and
// collects the cost warnings of the programs, each naming the field and the expression.
type exprCompiler struct {
	limits   krocel.Limits
	warnings []string
	dropped  int
}

// compile compiles expr in env. where names the RGD field the expression is in, e.g.
// `resource "a" field "spec.replicas"`; errors and warnings start with it.
func (c *exprCompiler) compile(env *cel.Env, where, expr string) (*krocel.Program, error) {
	prg, err := krocel.CompileWithLimits(env, expr, c.limits)
	if err != nil {
		return nil, fmt.Errorf("%s: expression %q: %w", where, expr, err)
	}
	if prg.Warning != "" {
		if len(c.warnings) < maxReportedErrors {
			c.warnings = append(c.warnings, fmt.Sprintf("%s: expression %q: %s", where, expr, prg.Warning))
		} else {
			c.dropped++
		}
	}
	return prg, nil
}

// Warnings returns the collected warnings, the dropped ones counted in a last entry.
func (c *exprCompiler) Warnings() []string {
	if c.dropped > 0 {
		return append(slices.Clip(c.warnings), fmt.Sprintf("and %d more warnings", c.dropped))
	}
	return c.warnings
}

// compileCondition compiles a standalone `${...}` expression that must be boolean.
func (c *exprCompiler) compileCondition(env *cel.Env, where, src string) (*krocel.Program, error) {
	expr, err := standaloneExpression(src)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", where, err)
	}
	prg, err := c.compile(env, where, expr)
	if err != nil {
		return nil, err
	}
	if k := prg.OutputType.Kind(); k != types.BoolKind && k != types.DynKind {
		return nil, fmt.Errorf("%s: expression %q returns %s, expected bool", where, expr, prg.OutputType)
	}
	return prg, nil
}

// standaloneExpression returns the expression of a string that is exactly one `${...}`.
func standaloneExpression(src string) (string, error) {
	segs, err := parser.ParseString(src)
	if err != nil {
		return "", err
	}
	if len(segs) != 1 || !segs[0].IsExpr() {
		return "", fmt.Errorf("%q must be a single ${...} expression", src)
	}
	return segs[0].Expr, nil
}

func isStringish(t *cel.Type) bool {
	return t.Kind() == types.StringKind || t.Kind() == types.DynKind
}

// compileStatus compiles the instance status fields and infers their schemas.
func compileStatus(c *exprCompiler, env *cel.Env, s *v1alpha1.Schema) ([]*Field, []*krocel.Program, map[string]apiextensionsv1.JSONSchemaProps, error) {
	status, err := decodeMap(s.Status.Raw)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("spec.schema.status: %w", err)
	}
	// Custom conditions are declared under "conditions" and projected separately.
	conditions, err := compileConditions(c, env, status["conditions"])
	if err != nil {
		return nil, nil, nil, err
	}
	delete(status, "conditions")
	parsed, err := parser.ParseTemplate(status)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("spec.schema.status: %w", err)
	}
	fieldTypes := map[string]*cel.Type{}
	var fields []*Field
	for _, pf := range parsed {
		f, err := newField(pf)
		if err != nil {
			return nil, nil, nil, fmt.Errorf("spec.schema.status: %w", err)
		}
		for _, expr := range f.Expressions() {
			prg, err := c.compile(env, fmt.Sprintf("spec.schema.status field %q", f.Path), expr)
			if err != nil {
				return nil, nil, nil, err
			}
			f.Programs = append(f.Programs, prg)
		}
		if f.Standalone {
			fieldTypes[f.Path] = f.Programs[0].OutputType
		} else {
			fieldTypes[f.Path] = cel.StringType
		}
		fields = append(fields, f)
	}
	props, err := statusSchema(status, nil, fieldTypes)
	if err != nil {
		return nil, nil, nil, err
	}
	return fields, conditions, props, nil
}

// statusSchema builds the schema of a status map: templated strings typed by their
// expressions, literal values by their JSON type.
func statusSchema(m map[string]any, prefix []parser.PathElem, fieldTypes map[string]*cel.Type) (map[string]apiextensionsv1.JSONSchemaProps, error) {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	out := map[string]apiextensionsv1.JSONSchemaProps{}
	for _, k := range keys {
		elems := append(slices.Clip(prefix), parser.PathElem{Key: k})
		path := parser.FormatPath(elems)
		switch v := m[k].(type) {
		case map[string]any:
			props, err := statusSchema(v, elems, fieldTypes)
			if err != nil {
				return nil, err
			}
			out[k] = apiextensionsv1.JSONSchemaProps{Type: "object", Properties: props}
		case string:
			if t, ok := fieldTypes[path]; ok {
				out[k] = SchemaForCELType(t)
			} else {
				out[k] = apiextensionsv1.JSONSchemaProps{Type: "string"}
			}
		default:
			return nil, fmt.Errorf("spec.schema.status field %q: must be an expression or a nested object", path)
		}
	}
	return out, nil
}

// SchemaForCELType maps a CEL type to the OpenAPI schema of its JSON value: scalars exactly,
// lists and maps by their element type, objects as free-form objects. Types it cannot describe
// (dyn) accept any value.
func SchemaForCELType(t *cel.Type) apiextensionsv1.JSONSchemaProps {
	return schemaForCELType(t, 0)
}

func schemaForCELType(t *cel.Type, depth int) apiextensionsv1.JSONSchemaProps {
	if depth > 16 {
		return apiextensionsv1.JSONSchemaProps{XPreserveUnknownFields: ptrTrue()}
	}
	switch t.Kind() {
	case types.StringKind, types.BytesKind, types.DurationKind, types.TimestampKind:
		return apiextensionsv1.JSONSchemaProps{Type: "string"}
	case types.IntKind, types.UintKind:
		return apiextensionsv1.JSONSchemaProps{Type: "integer"}
	case types.DoubleKind:
		return apiextensionsv1.JSONSchemaProps{Type: "number"}
	case types.BoolKind:
		return apiextensionsv1.JSONSchemaProps{Type: "boolean"}
	case types.ListKind:
		items := schemaForCELType(t.Parameters()[0], depth+1)
		return apiextensionsv1.JSONSchemaProps{Type: "array", Items: &apiextensionsv1.JSONSchemaPropsOrArray{Schema: &items}}
	case types.MapKind:
		values := schemaForCELType(t.Parameters()[1], depth+1)
		return apiextensionsv1.JSONSchemaProps{Type: "object", AdditionalProperties: &apiextensionsv1.JSONSchemaPropsOrBool{Allows: true, Schema: &values}}
	case types.StructKind:
		return apiextensionsv1.JSONSchemaProps{Type: "object", XPreserveUnknownFields: ptrTrue()}
	case types.OpaqueKind:
		if t.TypeName() == "optional_type" && len(t.Parameters()) == 1 {
			return schemaForCELType(t.Parameters()[0], depth+1)
		}
	}
	return apiextensionsv1.JSONSchemaProps{XPreserveUnknownFields: ptrTrue()}
}

func ptrTrue() *bool { b := true; return &b }
