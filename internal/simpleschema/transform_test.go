package simpleschema

import (
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
)

func raw(s string) *apiextensionsv1.JSON { return &apiextensionsv1.JSON{Raw: []byte(s)} }

func ptr[T any](v T) *T { return &v }

func TestToOpenAPISpec(t *testing.T) {
	cases := map[string]struct {
		spec    map[string]interface{}
		types   map[string]interface{}
		want    *apiextensionsv1.JSONSchemaProps
		wantErr string
	}{
		"nil spec": {
			want: &apiextensionsv1.JSONSchemaProps{Type: "object"},
		},
		"scalars and required": {
			spec: map[string]interface{}{
				"b": "string | required",
				"a": "integer|required=true",
				"c": "boolean | required=false",
				"d": "float",
				"e": "object",
			},
			want: &apiextensionsv1.JSONSchemaProps{
				Type:     "object",
				Required: []string{"a", "b"},
				Properties: map[string]apiextensionsv1.JSONSchemaProps{
					"a": {Type: "integer"},
					"b": {Type: "string"},
					"c": {Type: "boolean"},
					"d": {Type: "number"},
					"e": {Type: "object", XPreserveUnknownFields: ptr(true)},
				},
			},
		},
		"collections": {
			spec: map[string]interface{}{
				"list": "[][]integer | minItems=1",
				"dict": "map[string][]string",
			},
			want: &apiextensionsv1.JSONSchemaProps{
				Type: "object",
				Properties: map[string]apiextensionsv1.JSONSchemaProps{
					"list": {
						Type:     "array",
						MinItems: ptr(int64(1)),
						Items: &apiextensionsv1.JSONSchemaPropsOrArray{Schema: &apiextensionsv1.JSONSchemaProps{
							Type:  "array",
							Items: &apiextensionsv1.JSONSchemaPropsOrArray{Schema: &apiextensionsv1.JSONSchemaProps{Type: "integer"}},
						}},
					},
					"dict": {
						Type: "object",
						AdditionalProperties: &apiextensionsv1.JSONSchemaPropsOrBool{Allows: true, Schema: &apiextensionsv1.JSONSchemaProps{
							Type:  "array",
							Items: &apiextensionsv1.JSONSchemaPropsOrArray{Schema: &apiextensionsv1.JSONSchemaProps{Type: "string"}},
						}},
					},
				},
			},
		},
		"markers": {
			spec: map[string]interface{}{
				"name": `string | pattern="^[a-z]+$" minLength=1 maxLength=5 enum="ab, cd" default=ab description="The name" immutable=true validation="self != 'x'"`,
				"tags": "[]string | uniqueItems=true maxItems=3",
			},
			want: &apiextensionsv1.JSONSchemaProps{
				Type:    "object",
				Default: raw("{}"),
				Properties: map[string]apiextensionsv1.JSONSchemaProps{
					"name": {
						Type:        "string",
						Pattern:     "^[a-z]+$",
						MinLength:   ptr(int64(1)),
						MaxLength:   ptr(int64(5)),
						Enum:        []apiextensionsv1.JSON{*raw(`"ab"`), *raw(`"cd"`)},
						Default:     raw(`"ab"`),
						Description: "The name",
						XValidations: apiextensionsv1.ValidationRules{
							{Rule: "self == oldSelf", Message: "field is immutable"},
							{Rule: "self != 'x'", Message: "validation failed: self != 'x'"},
						},
					},
					"tags": {
						Type:      "array",
						MaxItems:  ptr(int64(3)),
						XListType: ptr("set"),
						Items:     &apiextensionsv1.JSONSchemaPropsOrArray{Schema: &apiextensionsv1.JSONSchemaProps{Type: "string"}},
					},
				},
			},
		},
		"nested defaults stop at required": {
			spec: map[string]interface{}{
				"a": map[string]interface{}{
					"b": map[string]interface{}{"c": "integer | default=1"},
					"d": "string | required",
				},
			},
			want: &apiextensionsv1.JSONSchemaProps{
				Type: "object",
				Properties: map[string]apiextensionsv1.JSONSchemaProps{
					"a": {
						Type:     "object",
						Required: []string{"d"},
						Properties: map[string]apiextensionsv1.JSONSchemaProps{
							"b": {
								Type:    "object",
								Default: raw("{}"),
								Properties: map[string]apiextensionsv1.JSONSchemaProps{
									"c": {Type: "integer", Default: raw("1")},
								},
							},
							"d": {Type: "string"},
						},
					},
				},
			},
		},
		"custom types inlined with overrides": {
			spec: map[string]interface{}{
				"port":  "Port | maximum=100 default=80",
				"owner": "Person | required",
			},
			types: map[string]interface{}{
				"Port":   "integer | minimum=1 maximum=65535",
				"Person": map[string]interface{}{"port": "Port"},
			},
			want: &apiextensionsv1.JSONSchemaProps{
				Type:     "object",
				Required: []string{"owner"},
				Properties: map[string]apiextensionsv1.JSONSchemaProps{
					"port": {Type: "integer", Minimum: ptr(1.0), Maximum: ptr(100.0), Default: raw("80")},
					"owner": {
						Type: "object",
						Properties: map[string]apiextensionsv1.JSONSchemaProps{
							"port": {Type: "integer", Minimum: ptr(1.0), Maximum: ptr(65535.0)},
						},
					},
				},
			},
		},
		"non-string leaf": {
			spec:    map[string]interface{}{"a": map[string]interface{}{"b": true}},
			wantErr: `field "spec.a.b": unsupported value of type bool`,
		},
		"nil leaf": {
			spec:    map[string]interface{}{"a": nil},
			wantErr: `field "spec.a": missing definition`,
		},
		"empty field name": {
			spec:    map[string]interface{}{"": "string"},
			wantErr: `field "spec.": empty field name`,
		},
		"invalid marker value names path and marker": {
			spec:    map[string]interface{}{"replicas": "integer | minimum=abc"},
			wantErr: `field "spec.replicas": marker "minimum": invalid integer "abc"`,
		},
		"unknown type": {
			spec:    map[string]interface{}{"a": "[]Missing"},
			wantErr: `field "spec.a": unknown type "Missing"`,
		},
		"error in types": {
			spec:    map[string]interface{}{"a": "string"},
			types:   map[string]interface{}{"Person": map[string]interface{}{"age": "integer | maximum=x"}},
			wantErr: `field "types.Person.age": marker "maximum": invalid integer "x"`,
		},
		"cycle": {
			spec: map[string]interface{}{"a": "A"},
			types: map[string]interface{}{
				"A": map[string]interface{}{"b": "B"},
				"B": "map[string]A",
			},
			wantErr: "custom type cycle: A -> B -> A",
		},
		"wrong type marker on alias use": {
			spec:    map[string]interface{}{"p": "Port | pattern=x"},
			types:   map[string]interface{}{"Port": "integer"},
			wantErr: `field "spec.p": marker "pattern": not supported on type "integer"`,
		},
		"alias bounds conflict with field": {
			spec:    map[string]interface{}{"p": "Port | maximum=0"},
			types:   map[string]interface{}{"Port": "integer | minimum=1"},
			wantErr: `field "spec.p": marker "minimum": 1 is greater than maximum 0`,
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			got, err := ToOpenAPISpec(tc.spec, tc.types)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("ToOpenAPISpec(...) error = %v, want containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("ToOpenAPISpec(...): unexpected error: %v", err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("ToOpenAPISpec(...): -want, +got:\n%s", diff)
			}
		})
	}
}

func TestToOpenAPISpecSizeLimit(t *testing.T) {
	types := map[string]interface{}{"T30": "string"}
	for i := 0; i < 30; i++ {
		next := fmt.Sprintf("T%d", i+1)
		types[fmt.Sprintf("T%d", i)] = map[string]interface{}{"a": next, "b": next}
	}
	_, err := ToOpenAPISpec(map[string]interface{}{"root": "T0"}, types)
	if err == nil || !strings.Contains(err.Error(), "schema too large") {
		t.Fatalf("ToOpenAPISpec(exponential types) error = %v, want schema too large", err)
	}
}

// TestToOpenAPISpecDoesNotAliasCustomTypes checks that inlined custom types
// are independent copies.
func TestToOpenAPISpecDoesNotAliasCustomTypes(t *testing.T) {
	got, err := ToOpenAPISpec(map[string]interface{}{
		"a": "Person | description=first",
		"b": "Person",
	}, map[string]interface{}{"Person": map[string]interface{}{"name": "string"}})
	if err != nil {
		t.Fatal(err)
	}
	a, b := got.Properties["a"], got.Properties["b"]
	a.Properties["name"] = apiextensionsv1.JSONSchemaProps{Type: "integer"}
	if b.Description != "" || b.Properties["name"].Type != "string" {
		t.Errorf("custom type copies share state: b = %+v", b)
	}
}
