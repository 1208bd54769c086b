package crd

import (
	"fmt"
	"maps"
	"slices"
	"sort"
	"strconv"
	"strings"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
)

// immutableRule is the transition rule of SimpleSchema's immutable=true marker.
const immutableRule = "self == oldSelf"

// schemaDiff collects the breaking changes of one schema comparison.
type schemaDiff struct {
	changes []Change
}

func (d *schemaDiff) add(path string, kind ChangeKind, format string, args ...any) {
	if path == "" {
		path = "schema"
	}
	d.changes = append(d.changes, Change{Path: path, Kind: kind, Detail: fmt.Sprintf(format, args...)})
}

// compareNode compares the schemas of one field and recurses into its children.
func (d *schemaDiff) compareNode(path string, o, n *apiextensionsv1.JSONSchemaProps) {
	if ot, nt := typeName(o), typeName(n); ot != nt {
		d.add(path, TypeChanged, "type changed from %s to %s", ot, nt)
		return
	}
	if preserves(o) && !preserves(n) {
		d.add(path, FieldRemoved, "unknown fields no longer preserved")
	}
	d.comparePattern(path, o, n)
	d.compareEnum(path, o, n)
	d.compareBounds(path, o, n)
	d.compareLists(path, o, n)
	d.compareValidations(path, o, n)
	d.compareProperties(path, o, n)

	if o.Items != nil && o.Items.Schema != nil && n.Items != nil && n.Items.Schema != nil {
		d.compareNode(path+"[*]", o.Items.Schema, n.Items.Schema)
	}
	oldMap := o.AdditionalProperties != nil && o.AdditionalProperties.Schema != nil
	newMap := n.AdditionalProperties != nil && n.AdditionalProperties.Schema != nil
	switch {
	case oldMap && newMap:
		d.compareNode(childPath(path, "*"), o.AdditionalProperties.Schema, n.AdditionalProperties.Schema)
	case oldMap && !preserves(n):
		d.add(path, FieldRemoved, "map entries no longer allowed")
	}
}

func (d *schemaDiff) comparePattern(path string, o, n *apiextensionsv1.JSONSchemaProps) {
	switch {
	case o.Pattern == n.Pattern || n.Pattern == "":
	case o.Pattern == "":
		d.add(path, PatternChanged, "pattern %q added", n.Pattern)
	default:
		d.add(path, PatternChanged, "pattern changed from %q to %q", o.Pattern, n.Pattern)
	}
}

func (d *schemaDiff) compareEnum(path string, o, n *apiextensionsv1.JSONSchemaProps) {
	if len(n.Enum) == 0 {
		return
	}
	if len(o.Enum) == 0 {
		d.add(path, EnumNarrowed, "enum [%s] added", strings.Join(enumValues(n.Enum), ", "))
		return
	}
	allowed := map[string]bool{}
	for _, v := range enumValues(n.Enum) {
		allowed[v] = true
	}
	var removed []string
	for _, v := range enumValues(o.Enum) {
		if !allowed[v] {
			removed = append(removed, v)
		}
	}
	if len(removed) > 0 {
		d.add(path, EnumNarrowed, "enum values %s removed", strings.Join(removed, ", "))
	}
}

func (d *schemaDiff) compareBounds(path string, o, n *apiextensionsv1.JSONSchemaProps) {
	lowerFloat(d, path, "minimum", o.Minimum, n.Minimum)
	upperFloat(d, path, "maximum", o.Maximum, n.Maximum)
	if !o.ExclusiveMinimum && n.ExclusiveMinimum {
		d.add(path, BoundTightened, "minimum made exclusive")
	}
	if !o.ExclusiveMaximum && n.ExclusiveMaximum {
		d.add(path, BoundTightened, "maximum made exclusive")
	}
	lowerInt(d, path, "minLength", o.MinLength, n.MinLength)
	upperInt(d, path, "maxLength", o.MaxLength, n.MaxLength)
	lowerInt(d, path, "minItems", o.MinItems, n.MinItems)
	upperInt(d, path, "maxItems", o.MaxItems, n.MaxItems)
	lowerInt(d, path, "minProperties", o.MinProperties, n.MinProperties)
	upperInt(d, path, "maxProperties", o.MaxProperties, n.MaxProperties)
}

func lowerFloat(d *schemaDiff, path, name string, o, n *float64) {
	switch {
	case n == nil:
	case o == nil:
		d.add(path, BoundTightened, "%s %s added", name, formatFloat(*n))
	case *n > *o:
		d.add(path, BoundTightened, "%s raised from %s to %s", name, formatFloat(*o), formatFloat(*n))
	}
}

func upperFloat(d *schemaDiff, path, name string, o, n *float64) {
	switch {
	case n == nil:
	case o == nil:
		d.add(path, BoundTightened, "%s %s added", name, formatFloat(*n))
	case *n < *o:
		d.add(path, BoundTightened, "%s lowered from %s to %s", name, formatFloat(*o), formatFloat(*n))
	}
}

func lowerInt(d *schemaDiff, path, name string, o, n *int64) {
	switch {
	case n == nil:
	case o == nil:
		d.add(path, BoundTightened, "%s %d added", name, *n)
	case *n > *o:
		d.add(path, BoundTightened, "%s raised from %d to %d", name, *o, *n)
	}
}

func upperInt(d *schemaDiff, path, name string, o, n *int64) {
	switch {
	case n == nil:
	case o == nil:
		d.add(path, BoundTightened, "%s %d added", name, *n)
	case *n < *o:
		d.add(path, BoundTightened, "%s lowered from %d to %d", name, *o, *n)
	}
}

// compareLists reports a changed list type or list map key, which refuse lists accepted
// before. (CRDs cannot use uniqueItems; sets are x-kubernetes-list-type.)
func (d *schemaDiff) compareLists(path string, o, n *apiextensionsv1.JSONSchemaProps) {
	if ot, nt := listType(o), listType(n); ot != nt {
		d.add(path, ListTypeChanged, "list type changed from %s to %s", ot, nt)
		return
	}
	if strings.Join(o.XListMapKeys, ",") != strings.Join(n.XListMapKeys, ",") {
		d.add(path, ListTypeChanged, "list map keys changed from [%s] to [%s]",
			strings.Join(o.XListMapKeys, ", "), strings.Join(n.XListMapKeys, ", "))
	}
}

func (d *schemaDiff) compareValidations(path string, o, n *apiextensionsv1.JSONSchemaProps) {
	had := map[string]bool{}
	for _, r := range o.XValidations {
		had[r.Rule] = true
	}
	for _, r := range n.XValidations {
		switch {
		case had[r.Rule]:
		case r.Rule == immutableRule:
			d.add(path, ValidationAdded, "field made immutable")
		default:
			d.add(path, ValidationAdded, "validation rule %q added", r.Rule)
		}
	}
}

// compareProperties reports removed and newly required fields and recurses into the fields
// both schemas have. A field that becomes required with a default is safe: the API server
// defaults stored objects when it reads them.
func (d *schemaDiff) compareProperties(path string, o, n *apiextensionsv1.JSONSchemaProps) {
	for _, name := range slices.Sorted(maps.Keys(o.Properties)) {
		child := childPath(path, name)
		op := o.Properties[name]
		np, ok := n.Properties[name]
		switch {
		case ok:
			d.compareNode(child, &op, &np)
		case n.AdditionalProperties != nil && n.AdditionalProperties.Schema != nil:
			// The field is now a map entry, validated by the map's value schema.
			d.compareNode(child, &op, n.AdditionalProperties.Schema)
		case !preserves(n):
			d.add(child, FieldRemoved, "field removed")
		}
	}
	wasRequired := map[string]bool{}
	for _, r := range o.Required {
		wasRequired[r] = true
	}
	required := append([]string(nil), n.Required...)
	sort.Strings(required)
	for _, name := range required {
		np := n.Properties[name]
		op, existed := o.Properties[name]
		switch {
		case wasRequired[name]:
			if op.Default != nil && np.Default == nil {
				d.add(childPath(path, name), DefaultRemoved, "default removed from required field")
			}
		case np.Default != nil:
		case existed:
			d.add(childPath(path, name), RequiredAdded, "field made required")
		default:
			d.add(childPath(path, name), RequiredAdded, "required field added")
		}
	}
}

// typeName is the OpenAPI type of s, "any" for a free-form value without one.
func typeName(s *apiextensionsv1.JSONSchemaProps) string {
	switch {
	case s.XIntOrString:
		return "int-or-string"
	case s.Type != "":
		return s.Type
	default:
		return "any"
	}
}

func preserves(s *apiextensionsv1.JSONSchemaProps) bool {
	return s.XPreserveUnknownFields != nil && *s.XPreserveUnknownFields
}

// listType is the x-kubernetes-list-type of an array, atomic when unset.
func listType(s *apiextensionsv1.JSONSchemaProps) string {
	if s.XListType == nil || *s.XListType == "" {
		return "atomic"
	}
	return *s.XListType
}

func enumValues(vals []apiextensionsv1.JSON) []string {
	out := make([]string, 0, len(vals))
	for _, v := range vals {
		out = append(out, string(v.Raw))
	}
	return out
}

func childPath(path, name string) string {
	if path == "" {
		return name
	}
	return path + "." + name
}

func formatFloat(f float64) string { return strconv.FormatFloat(f, 'g', -1, 64) }
