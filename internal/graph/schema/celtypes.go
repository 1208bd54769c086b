package schema

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apiservercel "k8s.io/apiserver/pkg/cel"
	"k8s.io/kube-openapi/pkg/validation/spec"
)

// maxDepth bounds the conversion of (possibly recursive) schemas; deeper fields are dyn.
const maxDepth = 64

// DeclType converts an OpenAPI schema into a CEL declaration type whose object types are
// named after name and their path. Free-form objects (x-kubernetes-preserve-unknown-fields
// without properties), int-or-string and untyped schemas are dyn, so anything may be read
// from them.
func DeclType(s *spec.Schema, name string) *apiservercel.DeclType {
	return declType(s, name, 0)
}

func declType(s *spec.Schema, path string, depth int) *apiservercel.DeclType {
	if s == nil || depth > maxDepth {
		return apiservercel.DynType
	}
	if isIntOrString(s) {
		return apiservercel.DynType
	}
	switch schemaType(s) {
	case "string":
		if s.Format == "byte" {
			return apiservercel.BytesType
		}
		return apiservercel.StringType
	case "integer":
		return apiservercel.IntType
	case "number":
		return apiservercel.DoubleType
	case "boolean":
		return apiservercel.BoolType
	case "array":
		var items *spec.Schema
		if s.Items != nil {
			items = s.Items.Schema
		}
		return apiservercel.NewListType(declType(items, path+"[@]", depth+1), -1)
	case "object":
		if len(s.Properties) == 0 {
			if s.AdditionalProperties != nil && s.AdditionalProperties.Schema != nil {
				return apiservercel.NewMapType(apiservercel.StringType, declType(s.AdditionalProperties.Schema, path+"{@}", depth+1), -1)
			}
			if preservesUnknown(s) || s.AdditionalProperties != nil && s.AdditionalProperties.Allows {
				return apiservercel.DynType
			}
			// An object without properties accepts nothing but {}; as a map it reads empty.
			return apiservercel.NewMapType(apiservercel.StringType, apiservercel.DynType, -1)
		}
		fields := make(map[string]*apiservercel.DeclField, len(s.Properties))
		required := map[string]bool{}
		for _, r := range s.Required {
			required[r] = true
		}
		for _, k := range slices.Sorted(maps.Keys(s.Properties)) {
			prop := s.Properties[k]
			fields[k] = apiservercel.NewDeclField(k, declType(&prop, path+"."+k, depth+1), required[k], nil, nil)
		}
		return apiservercel.NewObjectType(path, fields)
	}
	return apiservercel.DynType
}

func schemaType(s *spec.Schema) string {
	if len(s.Type) == 1 {
		return s.Type[0]
	}
	if len(s.Properties) > 0 {
		return "object"
	}
	return ""
}

func isIntOrString(s *spec.Schema) bool {
	v, _ := s.Extensions.GetBool("x-kubernetes-int-or-string")
	return v
}

func preservesUnknown(s *spec.Schema) bool {
	v, _ := s.Extensions.GetBool("x-kubernetes-preserve-unknown-fields")
	return v
}

// FromCRD converts a CRD's JSONSchemaProps into a spec.Schema, adding apiVersion, kind and
// ObjectMeta as the API server does for every resource.
func FromCRD(props *apiextensionsv1.JSONSchemaProps) (*spec.Schema, error) {
	raw, err := json.Marshal(props)
	if err != nil {
		return nil, err
	}
	s := &spec.Schema{}
	if err := json.Unmarshal(raw, s); err != nil {
		return nil, fmt.Errorf("converting CRD schema: %w", err)
	}
	if s.Properties == nil {
		s.Properties = map[string]spec.Schema{}
	}
	s.Properties["apiVersion"] = *spec.StringProperty()
	s.Properties["kind"] = *spec.StringProperty()
	s.Properties["metadata"] = objectMeta()
	return s, nil
}

// objectMeta is the part of ObjectMeta that expressions may read from an instance.
func objectMeta() spec.Schema {
	str := *spec.StringProperty()
	strMap := *spec.MapProperty(spec.StringProperty())
	return spec.Schema{SchemaProps: spec.SchemaProps{
		Type: []string{"object"},
		Properties: map[string]spec.Schema{
			"name":              str,
			"generateName":      str,
			"namespace":         str,
			"uid":               str,
			"resourceVersion":   str,
			"creationTimestamp": str,
			"generation":        *spec.Int64Property(),
			"labels":            strMap,
			"annotations":       strMap,
			"finalizers":        *spec.ArrayProperty(spec.StringProperty()),
		},
	}}
}
