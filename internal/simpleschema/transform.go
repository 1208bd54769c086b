package simpleschema

import (
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
)

const (
	specPath  = "spec"
	typesPath = "types"

	// maxSchemaNodes bounds the total number of schema nodes produced by one
	// conversion. Inlining custom types that reference each other several
	// times can otherwise grow the output exponentially.
	maxSchemaNodes = 100000
)

// ToOpenAPISpec converts a SimpleSchema `spec` map (and custom `types`) into
// the OpenAPI v3 schema of an object.
//
// Field values are either nested maps (objects with properties) or strings of
// the form "<type> | <markers>". Custom types are resolved in dependency order
// and inlined; cycles are rejected. Errors name the offending field path, e.g.
// `field "spec.replicas": marker "minimum": invalid integer "abc"`.
func ToOpenAPISpec(spec map[string]interface{}, types map[string]interface{}) (*apiextensionsv1.JSONSchemaProps, error) {
	b, err := newBuilder(types)
	if err != nil {
		return nil, err
	}
	return b.buildObject(specPath, spec)
}

// builder converts SimpleSchema definitions using already resolved custom
// types. It lives for a single conversion.
type builder struct {
	types map[string]*apiextensionsv1.JSONSchemaProps
	// sizes holds the node count of each resolved custom type.
	sizes map[string]int
	// nodes counts the schema nodes produced so far, see maxSchemaNodes.
	nodes int
}

// grow accounts for n new schema nodes and fails once the budget is exceeded.
func (b *builder) grow(n int) error {
	b.nodes += n
	if b.nodes > maxSchemaNodes {
		return fmt.Errorf("schema too large: more than %d nodes after inlining custom types", maxSchemaNodes)
	}
	return nil
}

// newBuilder validates and resolves all custom types in dependency order.
func newBuilder(types map[string]interface{}) (*builder, error) {
	b := &builder{
		types: make(map[string]*apiextensionsv1.JSONSchemaProps, len(types)),
		sizes: make(map[string]int, len(types)),
	}
	names := slices.Sorted(maps.Keys(types))
	deps := make(map[string][]string, len(names))
	for _, name := range names {
		path := typesPath + "." + name
		if _, ok := builtinOpenAPIType(name); ok {
			return nil, fmt.Errorf("type %q: custom type name %q conflicts with a built-in type", path, name)
		}
		if !isIdentifier(name) {
			return nil, fmt.Errorf("type %q: invalid custom type name %q", path, name)
		}
		deps[name] = typeDeps(types[name], types)
	}
	order, err := topoSort(names, deps)
	if err != nil {
		return nil, err
	}
	for _, name := range order {
		path := typesPath + "." + name
		before := b.nodes
		var schema *apiextensionsv1.JSONSchemaProps
		switch def := types[name].(type) {
		case map[string]interface{}:
			schema, err = b.buildObject(path, def)
		case string:
			schema, _, err = b.buildTyped(path, def, false)
		default:
			err = fmt.Errorf("type %q: %s", path, unsupportedValue(def))
		}
		if err != nil {
			return nil, err
		}
		b.types[name] = schema
		b.sizes[name] = b.nodes - before
	}
	return b, nil
}

// buildObject converts a nested map into an object schema with properties.
func (b *builder) buildObject(path string, fields map[string]interface{}) (*apiextensionsv1.JSONSchemaProps, error) {
	if err := b.grow(1); err != nil {
		return nil, fmt.Errorf("field %q: %w", path, err)
	}
	schema := &apiextensionsv1.JSONSchemaProps{Type: "object"}
	names := slices.Sorted(maps.Keys(fields))
	if len(names) > 0 {
		schema.Properties = make(map[string]apiextensionsv1.JSONSchemaProps, len(names))
	}
	for _, name := range names {
		fieldPath := path + "." + name
		if strings.TrimSpace(name) == "" {
			return nil, fmt.Errorf("field %q: empty field name", fieldPath)
		}
		var (
			prop     *apiextensionsv1.JSONSchemaProps
			required bool
			err      error
		)
		switch v := fields[name].(type) {
		case map[string]interface{}:
			prop, err = b.buildObject(fieldPath, v)
		case string:
			prop, required, err = b.buildTyped(fieldPath, v, true)
		default:
			err = fmt.Errorf("field %q: %s", fieldPath, unsupportedValue(v))
		}
		if err != nil {
			return nil, err
		}
		schema.Properties[name] = *prop
		if required {
			schema.Required = append(schema.Required, name)
		}
	}
	sort.Strings(schema.Required)
	defaultEmptyObject(schema)
	return schema, nil
}

// buildTyped converts a "<type> | <markers>" definition. It reports whether
// the field is marked required.
func (b *builder) buildTyped(path, def string, allowRequired bool) (*apiextensionsv1.JSONSchemaProps, bool, error) {
	typePart, markerPart := splitDefinition(def)
	expr, err := parseTypeExpr(typePart)
	if err != nil {
		return nil, false, fmt.Errorf("field %q: %w", path, err)
	}
	schema, err := b.schemaFor(expr)
	if err != nil {
		return nil, false, fmt.Errorf("field %q: %w", path, err)
	}
	markers, err := parseMarkers(markerPart)
	if err != nil {
		return nil, false, fmt.Errorf("field %q: %w", path, err)
	}
	required, err := applyMarkers(schema, markers, allowRequired)
	if err != nil {
		return nil, false, fmt.Errorf("field %q: %w", path, err)
	}
	return schema, required, nil
}

// schemaFor returns a fresh schema for a parsed type expression.
func (b *builder) schemaFor(t *typeExpr) (*apiextensionsv1.JSONSchemaProps, error) {
	size := 1
	if t.kind == kindCustom {
		size = b.sizes[t.name]
	}
	if err := b.grow(size); err != nil {
		return nil, err
	}
	switch t.kind {
	case kindArray, kindMap:
		elem, err := b.schemaFor(t.elem)
		if err != nil {
			return nil, err
		}
		if t.kind == kindArray {
			return &apiextensionsv1.JSONSchemaProps{
				Type:  "array",
				Items: &apiextensionsv1.JSONSchemaPropsOrArray{Schema: elem},
			}, nil
		}
		return &apiextensionsv1.JSONSchemaProps{
			Type:                 "object",
			AdditionalProperties: &apiextensionsv1.JSONSchemaPropsOrBool{Allows: true, Schema: elem},
		}, nil
	case kindCustom:
		custom, ok := b.types[t.name]
		if !ok {
			return nil, fmt.Errorf("unknown type %q", t.name)
		}
		return custom.DeepCopy(), nil
	}
	schema := &apiextensionsv1.JSONSchemaProps{Type: t.name}
	if t.name == "object" {
		preserve := true
		schema.XPreserveUnknownFields = &preserve
	}
	return schema, nil
}

// defaultEmptyObject gives an object `default: {}` when at least one child has
// a default and no child is required, so nested defaults materialise even if
// the object itself is omitted. Objects are built bottom-up, so this applies
// recursively.
func defaultEmptyObject(s *apiextensionsv1.JSONSchemaProps) {
	if s.Default != nil || len(s.Required) > 0 {
		return
	}
	for _, p := range s.Properties {
		if p.Default != nil {
			s.Default = &apiextensionsv1.JSON{Raw: []byte("{}")}
			return
		}
	}
}

// typeDeps returns the sorted, de-duplicated custom type names that a type
// definition references. Unparsable definitions contribute nothing here; they
// are reported when the type is built.
func typeDeps(def interface{}, types map[string]interface{}) []string {
	var refs []string
	var walk func(v interface{})
	walk = func(v interface{}) {
		switch v := v.(type) {
		case map[string]interface{}:
			for _, k := range slices.Sorted(maps.Keys(v)) {
				walk(v[k])
			}
		case string:
			typePart, _ := splitDefinition(v)
			if expr, err := parseTypeExpr(typePart); err == nil {
				refs = expr.customRefs(refs)
			}
		}
	}
	walk(def)
	sort.Strings(refs)
	out := refs[:0]
	for i, r := range refs {
		if _, ok := types[r]; ok && (i == 0 || r != refs[i-1]) {
			out = append(out, r)
		}
	}
	return out
}

// topoSort orders custom types so that every type comes after the types it
// depends on. A cycle is reported as "custom type cycle: A -> B -> A".
func topoSort(names []string, deps map[string][]string) ([]string, error) {
	const (
		unvisited = iota
		visiting
		done
	)
	state := make(map[string]int, len(names))
	order := make([]string, 0, len(names))
	var stack []string
	var visit func(n string) error
	visit = func(n string) error {
		switch state[n] {
		case done:
			return nil
		case visiting:
			for i, s := range stack {
				if s == n {
					cycle := append(append([]string{}, stack[i:]...), n)
					return fmt.Errorf("custom type cycle: %s", strings.Join(cycle, " -> "))
				}
			}
		}
		state[n] = visiting
		stack = append(stack, n)
		for _, d := range deps[n] {
			if err := visit(d); err != nil {
				return err
			}
		}
		stack = stack[:len(stack)-1]
		state[n] = done
		order = append(order, n)
		return nil
	}
	for _, n := range names {
		if err := visit(n); err != nil {
			return nil, err
		}
	}
	return order, nil
}

// unsupportedValue describes a leaf that is neither a string nor a map.
func unsupportedValue(v interface{}) string {
	if v == nil {
		return "missing definition: expected a type string or a nested map"
	}
	return fmt.Sprintf("unsupported value of type %T: expected a type string or a nested map", v)
}
