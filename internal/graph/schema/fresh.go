package schema

import (
	"context"
	"errors"
	"fmt"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/kube-openapi/pkg/validation/spec"
)

// ErrSchemaStale means the API server still publishes the OpenAPI schema of an earlier version
// of a kind's CRD: it publishes a CRD's schema shortly after the CRD changes, and there is no
// watch on the OpenAPI documents. The lookup should be retried.
var ErrSchemaStale = errors.New("OpenAPI schema not yet published for the current CRD")

// CRDLookup returns the CRD that defines a kind, or nil when none does (a built-in kind).
type CRDLookup func(ctx context.Context, gk schema.GroupKind) (*apiextensionsv1.CustomResourceDefinition, error)

// NewFreshResolver resolves schemas with next and checks that the schema of a CRD-defined kind
// already has every field, with its type, of the CRD the cluster has now (as seen by crds,
// typically an informer cache that reports the CRD change that triggered the lookup). A schema
// that does not is refused with ErrSchemaStale, so it is neither cached nor used to check an
// RGD. Put it behind a CachedResolver.
func NewFreshResolver(next Resolver, crds CRDLookup) Resolver {
	return &freshResolver{next: next, crds: crds}
}

type freshResolver struct {
	next Resolver
	crds CRDLookup
}

func (r *freshResolver) ResolveSchema(ctx context.Context, gvk schema.GroupVersionKind) (*spec.Schema, error) {
	s, err := r.next.ResolveSchema(ctx, gvk)
	if err != nil {
		return nil, err
	}
	crd, err := r.crds(ctx, gvk.GroupKind())
	if err != nil {
		return nil, fmt.Errorf("reading the CRD of %s: %w", gvk.GroupKind(), err)
	}
	if crd == nil {
		return s, nil
	}
	for _, v := range crd.Spec.Versions {
		if v.Name != gvk.Version || v.Schema == nil || v.Schema.OpenAPIV3Schema == nil {
			continue
		}
		for name, p := range v.Schema.OpenAPIV3Schema.Properties {
			if name == "metadata" || name == "apiVersion" || name == "kind" {
				// Replaced by the standard object metadata in published schemas.
				continue
			}
			published, ok := s.Properties[name]
			if !ok {
				return nil, fmt.Errorf("%s: field %q: %w", gvk, name, ErrSchemaStale)
			}
			if err := covers(&published, &p, name); err != nil {
				return nil, fmt.Errorf("%s: %w", gvk, err)
			}
		}
	}
	return s, nil
}

// covers checks that a published schema has every property of a CRD schema, with the same
// type. The published schema may have more (embedded resources gain metadata).
func covers(published *spec.Schema, crd *apiextensionsv1.JSONSchemaProps, path string) error {
	if crd.Type != "" && len(published.Type) > 0 && !published.Type.Contains(crd.Type) {
		return fmt.Errorf("field %q: type %s, the CRD has %s: %w", path, published.Type, crd.Type, ErrSchemaStale)
	}
	for name, p := range crd.Properties {
		pp, ok := published.Properties[name]
		if !ok {
			return fmt.Errorf("field %q: %w", path+"."+name, ErrSchemaStale)
		}
		if err := covers(&pp, &p, path+"."+name); err != nil {
			return err
		}
	}
	if crd.Items != nil && crd.Items.Schema != nil && published.Items != nil && published.Items.Schema != nil {
		if err := covers(published.Items.Schema, crd.Items.Schema, path+"[]"); err != nil {
			return err
		}
	}
	if crd.AdditionalProperties != nil && crd.AdditionalProperties.Schema != nil &&
		published.AdditionalProperties != nil && published.AdditionalProperties.Schema != nil {
		if err := covers(published.AdditionalProperties.Schema, crd.AdditionalProperties.Schema, path+"{}"); err != nil {
			return err
		}
	}
	return nil
}
