package graph

import (
	"testing"

	"github.com/google/cel-go/cel"
	"github.com/google/go-cmp/cmp"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
)

func TestSchemaForCELType(t *testing.T) {
	yes := true
	str := apiextensionsv1.JSONSchemaProps{Type: "string"}
	integer := apiextensionsv1.JSONSchemaProps{Type: "integer"}
	cases := map[string]struct {
		in   *cel.Type
		want apiextensionsv1.JSONSchemaProps
	}{
		"String": {in: cel.StringType, want: str},
		"Int":    {in: cel.IntType, want: integer},
		"Double": {in: cel.DoubleType, want: apiextensionsv1.JSONSchemaProps{Type: "number"}},
		"Bool":   {in: cel.BoolType, want: apiextensionsv1.JSONSchemaProps{Type: "boolean"}},
		"ListOfInt": {in: cel.ListType(cel.IntType), want: apiextensionsv1.JSONSchemaProps{Type: "array",
			Items: &apiextensionsv1.JSONSchemaPropsOrArray{Schema: &integer}}},
		"MapOfString": {in: cel.MapType(cel.StringType, cel.StringType), want: apiextensionsv1.JSONSchemaProps{Type: "object",
			AdditionalProperties: &apiextensionsv1.JSONSchemaPropsOrBool{Allows: true, Schema: &str}}},
		"Object":   {in: cel.ObjectType("kro.resource.x"), want: apiextensionsv1.JSONSchemaProps{Type: "object", XPreserveUnknownFields: &yes}},
		"Dyn":      {in: cel.DynType, want: apiextensionsv1.JSONSchemaProps{XPreserveUnknownFields: &yes}},
		"Optional": {in: cel.OptionalType(cel.StringType), want: str},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			if diff := cmp.Diff(tc.want, SchemaForCELType(tc.in)); diff != "" {
				t.Errorf("SchemaForCELType(%s): -want, +got:\n%s", tc.in, diff)
			}
		})
	}
}
