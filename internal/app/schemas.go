package app

import (
	"context"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	toolscache "k8s.io/client-go/tools/cache"
	"sigs.k8s.io/controller-runtime/pkg/cache"

	kroschema "github.com/kro-run/kro/internal/graph/schema"
)

// invalidateOnCRDChange drops cached schemas of a CRD's group whenever the CRD changes, so
// RGDs are checked against the schema the API server serves now. It runs until ctx ends.
func invalidateOnCRDChange(ctx context.Context, c cache.Cache, schemas *kroschema.CachedResolver) error {
	inf, err := c.GetInformer(ctx, &apiextensionsv1.CustomResourceDefinition{})
	if err != nil {
		return err
	}
	invalidate := func(obj any) {
		if tomb, ok := obj.(toolscache.DeletedFinalStateUnknown); ok {
			obj = tomb.Obj
		}
		if crd, ok := obj.(*apiextensionsv1.CustomResourceDefinition); ok {
			schemas.Invalidate(crd.Spec.Group)
		}
	}
	reg, err := inf.AddEventHandler(toolscache.ResourceEventHandlerFuncs{
		AddFunc:    invalidate,
		UpdateFunc: func(_, obj any) { invalidate(obj) },
		DeleteFunc: invalidate,
	})
	if err != nil {
		return err
	}
	<-ctx.Done()
	return inf.RemoveEventHandler(reg)
}
