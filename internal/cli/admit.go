package cli

import (
	"context"
	"fmt"
	"sort"

	apiextensions "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	structuralschema "k8s.io/apiextensions-apiserver/pkg/apiserver/schema"
	structuralcel "k8s.io/apiextensions-apiserver/pkg/apiserver/schema/cel"
	structuraldefaulting "k8s.io/apiextensions-apiserver/pkg/apiserver/schema/defaulting"
	structuralpruning "k8s.io/apiextensions-apiserver/pkg/apiserver/schema/pruning"
	apiservervalidation "k8s.io/apiextensions-apiserver/pkg/apiserver/validation"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	celconfig "k8s.io/apiserver/pkg/apis/cel"
)

// admit does to a new instance what the API server does when it is created with kubectl's
// strict field validation, using the API server's own code and the generated CRD's schema:
// unknown fields are errors, defaults are applied, and the OpenAPI and CEL
// (x-kubernetes-validations) rules are checked. It returns the problems, one message each.
func admit(ctx context.Context, crd *apiextensionsv1.CustomResourceDefinition, obj *unstructured.Unstructured) ([]string, error) {
	v := crd.Spec.Versions[0]
	internal := &apiextensions.JSONSchemaProps{}
	if err := apiextensionsv1.Convert_v1_JSONSchemaProps_To_apiextensions_JSONSchemaProps(v.Schema.OpenAPIV3Schema, internal, nil); err != nil {
		return nil, fmt.Errorf("converting the CRD schema: %w", err)
	}
	ss, err := structuralschema.NewStructural(internal)
	if err != nil {
		return nil, fmt.Errorf("the CRD schema is not structural: %w", err)
	}
	var problems []string
	// The API server leaves metadata to its own validation; so does the pruning here.
	unknown := structuralpruning.PruneWithOptions(obj.Object, ss, true, structuralschema.UnknownFieldPathOptions{TrackUnknownFieldPaths: true})
	for _, path := range unknown {
		problems = append(problems, fmt.Sprintf("unknown field %q", path))
	}
	structuraldefaulting.Default(obj.Object, ss)
	// As the API server: a null where null is not allowed and there is no default is dropped.
	structuraldefaulting.PruneNonNullableNullsWithoutDefaults(obj.Object, ss)

	validator, _, err := apiservervalidation.NewSchemaValidator(internal)
	if err != nil {
		return nil, err
	}
	for _, e := range apiservervalidation.ValidateCustomResource(nil, obj.Object, validator) {
		problems = append(problems, e.Error())
	}
	if cel := structuralcel.NewValidator(ss, true, celconfig.PerCallLimit); cel != nil {
		errs, _ := cel.Validate(ctx, nil, ss, obj.Object, nil, celconfig.RuntimeCELCostBudget)
		for _, e := range errs {
			problems = append(problems, e.Error())
		}
	}
	// The API server's validators report in map order.
	sort.Strings(problems)
	return problems, nil
}
