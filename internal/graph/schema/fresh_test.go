package schema

import (
	"context"
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	k8sschema "k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/kube-openapi/pkg/validation/spec"
	"sigs.k8s.io/yaml"
)

// publishedResolver returns one published schema for every kind.
type publishedResolver struct{ s *spec.Schema }

func (r publishedResolver) ResolveSchema(context.Context, k8sschema.GroupVersionKind) (*spec.Schema, error) {
	return r.s, nil
}

func TestFreshResolver(t *testing.T) {
	published := &spec.Schema{}
	if err := yaml.Unmarshal([]byte(`
type: object
properties:
  apiVersion: {type: string}
  kind: {type: string}
  metadata: {type: object, properties: {name: {type: string}}}
  spec:
    type: object
    properties:
      size: {type: integer}
      tags: {type: array, items: {type: object, properties: {key: {type: string}}}}
      labels: {type: object, additionalProperties: {type: string}}
`), published); err != nil {
		t.Fatal(err)
	}
	crd := func(spec string) *apiextensionsv1.CustomResourceDefinition {
		t.Helper()
		c := &apiextensionsv1.CustomResourceDefinition{}
		if err := yaml.UnmarshalStrict([]byte(`
spec:
  group: example.com
  names: {kind: Gadget, plural: gadgets}
  scope: Namespaced
  versions:
  - name: v1
    served: true
    storage: true
    schema:
      openAPIV3Schema:
        type: object
        properties:
          metadata: {type: object, properties: {name: {type: string, maxLength: 10}}}
          spec: `+spec), c); err != nil {
			t.Fatal(err)
		}
		return c
	}
	cases := map[string]struct {
		reason  string
		crd     *apiextensionsv1.CustomResourceDefinition
		wantErr error
	}{
		"BuiltIn": {
			reason: "A kind no CRD defines is taken as published.",
		},
		"UpToDate": {
			reason: "The published schema has every field of the CRD.",
			crd:    crd(`{type: object, properties: {size: {type: integer}, tags: {type: array, items: {type: object, properties: {key: {type: string}}}}}}`),
		},
		"FieldAdded": {
			reason:  "A field the CRD just gained is not published yet.",
			crd:     crd(`{type: object, properties: {size: {type: integer}, color: {type: string}}}`),
			wantErr: ErrSchemaStale,
		},
		"NestedFieldAdded": {
			reason:  "Fields of list items are compared too.",
			crd:     crd(`{type: object, properties: {tags: {type: array, items: {type: object, properties: {value: {type: string}}}}}}`),
			wantErr: ErrSchemaStale,
		},
		"TypeChanged": {
			reason:  "A field whose type changed is stale.",
			crd:     crd(`{type: object, properties: {size: {type: string}}}`),
			wantErr: ErrSchemaStale,
		},
		"MapValueTypeChanged": {
			reason:  "Map values are compared too.",
			crd:     crd(`{type: object, properties: {labels: {type: object, additionalProperties: {type: integer}}}}`),
			wantErr: ErrSchemaStale,
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			r := NewFreshResolver(publishedResolver{s: published}, func(context.Context, k8sschema.GroupKind) (*apiextensionsv1.CustomResourceDefinition, error) {
				return tc.crd, nil
			})
			_, err := r.ResolveSchema(context.Background(), k8sschema.GroupVersionKind{Group: "example.com", Version: "v1", Kind: "Gadget"})
			if diff := cmp.Diff(tc.wantErr, err, cmpopts.EquateErrors()); diff != "" {
				t.Errorf("%s\nResolveSchema(...): -want, +got:\n%s", tc.reason, diff)
			}
			if tc.wantErr != nil && !errors.Is(err, tc.wantErr) {
				t.Errorf("%s\nResolveSchema(...) = %v, want %v", tc.reason, err, tc.wantErr)
			}
		})
	}
}
