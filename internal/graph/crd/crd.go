package crd

import (
	"fmt"
	"strings"

	"github.com/gobuffalo/flect"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Options describe the generated API.
type Options struct {
	Group, Version, Kind string
	// Namespaced is the scope of instances.
	Namespaced bool
	// Spec is the OpenAPI schema of the instance spec.
	Spec *apiextensionsv1.JSONSchemaProps
	// StatusFields are the schemas of the user-defined status fields; state and conditions
	// are always added.
	StatusFields map[string]apiextensionsv1.JSONSchemaProps
	// PrinterColumns replace the default columns when not empty.
	PrinterColumns []apiextensionsv1.CustomResourceColumnDefinition
	ShortNames     []string
	Categories     []string
	Labels         map[string]string
	Annotations    map[string]string
}

// Plural is the resource name of kind: the English plural of the lower-cased kind.
func Plural(kind string) string {
	return flect.Pluralize(strings.ToLower(kind))
}

// Name is the CRD name of a kind in group.
func Name(group, kind string) string {
	return fmt.Sprintf("%s.%s", Plural(kind), group)
}

// DefaultPrinterColumns are State, Ready and Age, described as the reference kro describes them.
func DefaultPrinterColumns() []apiextensionsv1.CustomResourceColumnDefinition {
	return []apiextensionsv1.CustomResourceColumnDefinition{
		{Name: "State", Type: "string", JSONPath: ".status.state", Description: "The state of a ResourceGraphDefinition instance"},
		{Name: "Ready", Type: "string", JSONPath: `.status.conditions[?(@.type=="Ready")].status`, Description: "Whether a ResourceGraphDefinition instance is ready"},
		{Name: "Age", Type: "date", JSONPath: ".metadata.creationTimestamp", Description: "Age of the resource"},
	}
}

// New returns the CRD for opts.
func New(opts Options) *apiextensionsv1.CustomResourceDefinition {
	scope := apiextensionsv1.ClusterScoped
	if opts.Namespaced {
		scope = apiextensionsv1.NamespaceScoped
	}
	columns := opts.PrinterColumns
	if len(columns) == 0 {
		columns = DefaultPrinterColumns()
	}
	spec := opts.Spec
	if spec == nil {
		spec = &apiextensionsv1.JSONSchemaProps{Type: "object"}
	}
	root := apiextensionsv1.JSONSchemaProps{
		Type: "object",
		Properties: map[string]apiextensionsv1.JSONSchemaProps{
			"apiVersion": {Type: "string"},
			"kind":       {Type: "string"},
			"metadata":   {Type: "object"},
			"spec":       *spec,
			"status":     statusSchema(opts.StatusFields),
		},
	}
	return &apiextensionsv1.CustomResourceDefinition{
		TypeMeta: metav1.TypeMeta{APIVersion: "apiextensions.k8s.io/v1", Kind: "CustomResourceDefinition"},
		ObjectMeta: metav1.ObjectMeta{
			Name:        Name(opts.Group, opts.Kind),
			Labels:      opts.Labels,
			Annotations: opts.Annotations,
		},
		Spec: apiextensionsv1.CustomResourceDefinitionSpec{
			Group: opts.Group,
			Names: apiextensionsv1.CustomResourceDefinitionNames{
				Kind:       opts.Kind,
				ListKind:   opts.Kind + "List",
				Plural:     Plural(opts.Kind),
				Singular:   strings.ToLower(opts.Kind),
				ShortNames: opts.ShortNames,
				Categories: opts.Categories,
			},
			Scope: scope,
			Versions: []apiextensionsv1.CustomResourceDefinitionVersion{{
				Name:                     opts.Version,
				Served:                   true,
				Storage:                  true,
				Schema:                   &apiextensionsv1.CustomResourceValidation{OpenAPIV3Schema: &root},
				Subresources:             &apiextensionsv1.CustomResourceSubresources{Status: &apiextensionsv1.CustomResourceSubresourceStatus{}},
				AdditionalPrinterColumns: columns,
			}},
		},
	}
}

func statusSchema(fields map[string]apiextensionsv1.JSONSchemaProps) apiextensionsv1.JSONSchemaProps {
	props := map[string]apiextensionsv1.JSONSchemaProps{}
	for k, v := range fields {
		props[k] = v
	}
	props["state"] = apiextensionsv1.JSONSchemaProps{Type: "string"}
	props["conditions"] = conditionsSchema()
	// Beyond the reference: the kstatus convention (Flux, kpt, cli-utils) compares it with
	// metadata.generation.
	props["observedGeneration"] = apiextensionsv1.JSONSchemaProps{Type: "integer", Format: "int64"}
	return apiextensionsv1.JSONSchemaProps{Type: "object", Properties: props}
}

// conditionsSchema is the schema of status.conditions, the reference kro's: no field is
// required, so that conditions written by either controller are accepted by both CRDs.
func conditionsSchema() apiextensionsv1.JSONSchemaProps {
	return apiextensionsv1.JSONSchemaProps{
		Type: "array",
		Items: &apiextensionsv1.JSONSchemaPropsOrArray{Schema: &apiextensionsv1.JSONSchemaProps{
			Type: "object",
			Properties: map[string]apiextensionsv1.JSONSchemaProps{
				"type":               {Type: "string"},
				"status":             {Type: "string"},
				"reason":             {Type: "string"},
				"message":            {Type: "string"},
				"observedGeneration": {Type: "integer"},
				"lastTransitionTime": {Type: "string"},
			},
		}},
	}
}
