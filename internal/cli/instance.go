package cli

import (
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/spf13/cobra"
	yamlv3 "go.yaml.in/yaml/v3"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"

	"github.com/kro-run/kro/internal/graph"
)

func newGenerateInstanceCommand(o *globalOptions) *cobra.Command {
	var files []string
	var name, namespace string
	cmd := &cobra.Command{
		Use:   "instance -f rgd.yaml",
		Short: "Print an example instance of an RGD's kind with every field",
		Long: `instance prints an instance of the kind each ResourceGraphDefinition of the input defines,
with every spec field: defaults filled in, other fields with an empty value of their type,
each commented with its type and constraints (YAML output).`,
		Example: `  kro generate instance -f examples/webapp/rgd.yaml > instance.yaml
  kro generate instance -f rgd.yaml --name demo -n team-a -o json`,
		Args: exactArgs(0),
	}
	addFileFlag(cmd, &files, "RGDs")
	cmd.Flags().StringVar(&name, "name", "example", "name of the instance")
	cmd.Flags().StringVarP(&namespace, "namespace", "n", "default", "namespace of the instance (namespaced kinds)")
	out := addOutputFlag(cmd, "yaml", "json")
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		rgds, err := o.loadValid(cmd, files)
		if err != nil {
			return err
		}
		if out.value == "json" {
			objs := make([]map[string]any, 0, len(rgds))
			for _, l := range rgds {
				_, obj := exampleInstance(l, name, namespace)
				objs = append(objs, obj)
			}
			return printObjects(o.streams.Out, "json", objs)
		}
		for i, l := range rgds {
			if i > 0 {
				fmt.Fprintln(o.streams.Out, "---")
			}
			node, _ := exampleInstance(l, name, namespace)
			enc := yamlv3.NewEncoder(o.streams.Out)
			enc.SetIndent(2)
			if err := enc.Encode(node); err != nil {
				return err
			}
			if err := enc.Close(); err != nil {
				return err
			}
		}
		return nil
	}
	return cmd
}

// exampleInstance builds an example instance of l's kind, as a commented YAML node and as
// JSON values.
func exampleInstance(l *loaded, name, namespace string) (*yamlv3.Node, map[string]any) {
	g := l.graph
	gvk := g.Instance.GVK
	md := map[string]any{"name": name}
	if g.Instance.Namespaced {
		md["namespace"] = namespace
	}
	obj := map[string]any{
		"apiVersion": gvk.GroupVersion().String(),
		"kind":       gvk.Kind,
		"metadata":   md,
	}
	root := mapping()
	add(root, "apiVersion", scalar(obj["apiVersion"]), "")
	add(root, "kind", scalar(gvk.Kind), "")
	mdNode := mapping()
	add(mdNode, "name", scalar(name), "")
	if g.Instance.Namespaced {
		add(mdNode, "namespace", scalar(namespace), "")
	}
	add(root, "metadata", mdNode, "")

	spec := specSchema(g)
	if spec != nil && len(spec.Properties) > 0 {
		order := definitionNode(l.doc, "spec", "schema", "spec")
		node, value := example(spec, order, 0)
		add(root, "spec", node, "")
		obj["spec"] = value
	}
	return root, obj
}

// specSchema is the schema of the generated CRD's spec.
func specSchema(g *graph.Graph) *apiextensionsv1.JSONSchemaProps {
	v := g.CRD.Spec.Versions[0]
	if v.Schema == nil || v.Schema.OpenAPIV3Schema == nil {
		return nil
	}
	s, ok := v.Schema.OpenAPIV3Schema.Properties["spec"]
	if !ok {
		return nil
	}
	return &s
}

// definitionNode is the node at path in the document, nil when absent or not a mapping.
func definitionNode(d *Document, path ...string) *yamlv3.Node {
	n := d.Node
	for _, p := range path {
		if n, _ = child(n, p); n == nil {
			return nil
		}
	}
	if n.Kind != yamlv3.MappingNode {
		return nil
	}
	return n
}

// maxExampleDepth bounds the example of recursive or very deep schemas.
const maxExampleDepth = 16

// example returns an example value of schema s: its default, or an empty value of its type;
// objects with every property, in the order of def (the SimpleSchema definition) where known.
func example(s *apiextensionsv1.JSONSchemaProps, def *yamlv3.Node, depth int) (*yamlv3.Node, any) {
	if s.Default != nil && s.Type != "object" {
		var v any
		if err := json.Unmarshal(s.Default.Raw, &v); err == nil {
			return valueNode(v), v
		}
	}
	switch {
	case s.Type == "object" && len(s.Properties) > 0 && depth < maxExampleDepth:
		node, value := mapping(), map[string]any{}
		for _, k := range propertyOrder(s, def) {
			p := s.Properties[k]
			var childDef *yamlv3.Node
			if def != nil {
				if c, _ := child(def, k); c != nil && c.Kind == yamlv3.MappingNode {
					childDef = c
				}
			}
			n, v := example(&p, childDef, depth+1)
			add(node, k, n, describe(&p, slices.Contains(s.Required, k)))
			value[k] = v
		}
		return node, value
	case s.Type == "object":
		v := map[string]any{}
		return valueNode(v), v
	case s.Type == "array":
		if s.Items != nil && s.Items.Schema != nil && s.Items.Schema.Type == "object" && len(s.Items.Schema.Properties) > 0 && depth < maxExampleDepth {
			n, v := example(s.Items.Schema, nil, depth+1)
			seq := &yamlv3.Node{Kind: yamlv3.SequenceNode, Content: []*yamlv3.Node{n}}
			return seq, []any{v}
		}
		v := []any{}
		return valueNode(v), v
	}
	v := zero(s)
	return valueNode(v), v
}

// propertyOrder lists the properties of s in the order of the definition, then the others
// sorted.
func propertyOrder(s *apiextensionsv1.JSONSchemaProps, def *yamlv3.Node) []string {
	var out []string
	seen := map[string]bool{}
	if def != nil {
		for i := 0; i+1 < len(def.Content); i += 2 {
			k := def.Content[i].Value
			if _, ok := s.Properties[k]; ok && !seen[k] {
				out = append(out, k)
				seen[k] = true
			}
		}
	}
	var rest []string
	for k := range s.Properties {
		if !seen[k] {
			rest = append(rest, k)
		}
	}
	sort.Strings(rest)
	return append(out, rest...)
}

// zero is the example value of a scalar: the first enum value, the minimum, or the zero value.
func zero(s *apiextensionsv1.JSONSchemaProps) any {
	if len(s.Enum) > 0 {
		var v any
		if err := json.Unmarshal(s.Enum[0].Raw, &v); err == nil {
			return v
		}
	}
	switch s.Type {
	case "integer":
		if s.Minimum != nil {
			return int64(*s.Minimum)
		}
		return int64(0)
	case "number":
		if s.Minimum != nil {
			return *s.Minimum
		}
		return 0.0
	case "boolean":
		return false
	case "string":
		return ""
	}
	return nil
}

// describe is the comment of a field: its type and constraints.
func describe(s *apiextensionsv1.JSONSchemaProps, required bool) string {
	parts := []string{typeName(s)}
	if required {
		parts = append(parts, "required")
	}
	if s.Default != nil {
		parts = append(parts, "default "+string(s.Default.Raw))
	}
	if len(s.Enum) > 0 {
		vals := make([]string, len(s.Enum))
		for i, e := range s.Enum {
			vals[i] = string(e.Raw)
		}
		parts = append(parts, "one of "+strings.Join(vals, ", "))
	}
	if s.Minimum != nil {
		parts = append(parts, fmt.Sprintf("minimum %v", *s.Minimum))
	}
	if s.Maximum != nil {
		parts = append(parts, fmt.Sprintf("maximum %v", *s.Maximum))
	}
	if s.MinLength != nil {
		parts = append(parts, fmt.Sprintf("minLength %d", *s.MinLength))
	}
	if s.MaxLength != nil {
		parts = append(parts, fmt.Sprintf("maxLength %d", *s.MaxLength))
	}
	if s.MinItems != nil {
		parts = append(parts, fmt.Sprintf("minItems %d", *s.MinItems))
	}
	if s.MaxItems != nil {
		parts = append(parts, fmt.Sprintf("maxItems %d", *s.MaxItems))
	}
	if s.Pattern != "" {
		parts = append(parts, "pattern "+s.Pattern)
	}
	for _, r := range s.XValidations {
		if r.Rule == "self == oldSelf" {
			parts = append(parts, "immutable")
		} else {
			parts = append(parts, "validation "+r.Rule)
		}
	}
	if s.Description != "" {
		parts = append(parts, s.Description)
	}
	return strings.Join(parts, ", ")
}

// typeName names a schema's type in SimpleSchema words.
func typeName(s *apiextensionsv1.JSONSchemaProps) string {
	switch s.Type {
	case "array":
		if s.Items != nil && s.Items.Schema != nil {
			return "[]" + typeName(s.Items.Schema)
		}
		return "[]object"
	case "object":
		if len(s.Properties) == 0 && s.AdditionalProperties != nil && s.AdditionalProperties.Schema != nil {
			return "map[string]" + typeName(s.AdditionalProperties.Schema)
		}
		return "object"
	case "number":
		return "float"
	case "":
		return "any"
	}
	return s.Type
}

func mapping() *yamlv3.Node { return &yamlv3.Node{Kind: yamlv3.MappingNode} }

func scalar(v any) *yamlv3.Node { return valueNode(v) }

// valueNode encodes a JSON value as a YAML node (flow style for empty and scalar lists).
func valueNode(v any) *yamlv3.Node {
	n := &yamlv3.Node{}
	if err := n.Encode(v); err != nil {
		return &yamlv3.Node{Kind: yamlv3.ScalarNode, Tag: "!!null", Value: "null"}
	}
	if n.Kind == yamlv3.SequenceNode || n.Kind == yamlv3.MappingNode {
		n.Style = yamlv3.FlowStyle
	}
	return n
}

// add appends key: value to a mapping node, with a comment on the key's line.
func add(m *yamlv3.Node, key string, value *yamlv3.Node, comment string) {
	k := &yamlv3.Node{Kind: yamlv3.ScalarNode, Tag: "!!str", Value: key}
	if comment != "" {
		if value.Kind == yamlv3.ScalarNode || value.Style == yamlv3.FlowStyle {
			value.LineComment = comment
		} else {
			k.LineComment = comment
		}
	}
	m.Content = append(m.Content, k, value)
}
