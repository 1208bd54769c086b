package app

import (
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	toolscache "k8s.io/client-go/tools/cache"

	"github.com/kro-run/kro/internal/metadata"
)

// The manager cache's transforms beyond intern.Table.Transform: what kro caches of the objects
// it only routes events of or reads by name.

// leanCRDs is the transform of the CRD informer, after next (which drops the copy of the CRD
// kubectl apply leaves in an annotation). A CRD kro did not generate is cached without its
// versions' schemas: with that annotation they make most of a CRD's size (a cluster can hold hundreds of CRDs of up to a
// megabyte each), and kro reads a schema only to check an RGD that uses the kind (crdOfKind
// then reads the CRD whole). Its names, versions and labels stay.
func leanCRDs(next toolscache.TransformFunc) toolscache.TransformFunc {
	return func(in any) (any, error) {
		out, err := next(in)
		if err != nil {
			return out, err
		}
		crd, ok := out.(*apiextensionsv1.CustomResourceDefinition)
		if !ok || crd.Labels[metadata.OwnedLabel] == "true" {
			return out, nil
		}
		for i := range crd.Spec.Versions {
			crd.Spec.Versions[i].Schema = nil
		}
		return crd, nil
	}
}

// schemaDropped reports whether leanCRDs dropped the CRD's schemas: an apiextensions/v1 CRD
// has one for every version.
func schemaDropped(crd *apiextensionsv1.CustomResourceDefinition) bool {
	for _, v := range crd.Spec.Versions {
		if v.Schema == nil {
			return true
		}
	}
	return false
}

// leanExternalMetadata is the transform of the manager cache, after next. Its metadata-only
// objects are those of every object of the kinds instances read through externalRefs (engine
// scope all-metadata): kro routes their events by name and labels and reads the objects it
// needs from the API server, so their annotations, owner references and finalizers are dropped.
func leanExternalMetadata(next toolscache.TransformFunc) toolscache.TransformFunc {
	return func(in any) (any, error) {
		out, err := next(in)
		if m, ok := out.(*metav1.PartialObjectMetadata); ok && err == nil {
			m.Annotations, m.OwnerReferences, m.Finalizers = nil, nil, nil
		}
		return out, err
	}
}
