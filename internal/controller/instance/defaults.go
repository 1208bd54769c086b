package instance

import (
	"fmt"
	"sync/atomic"

	"k8s.io/apiextensions-apiserver/pkg/apis/apiextensions"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	structuralschema "k8s.io/apiextensions-apiserver/pkg/apiserver/schema"
	structuraldefaulting "k8s.io/apiextensions-apiserver/pkg/apiserver/schema/defaulting"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/kro-run/kro/internal/graph"
)

// An instance is read with the defaults of the CRD the current graph generated, applied by kro
// itself. The API server applies a CRD's defaults when it serves an object, but only once it
// serves the new schema, which happens some time after the CRD update; and a relist after the
// change carries the same resourceVersions, so cached instances keep the old form. Defaulting
// here makes a graph change reach every instance at once, with no read.

// instanceDefaults is the structural schema of one graph's CRD.
type instanceDefaults struct {
	graph     *graph.Graph
	structure *structuralschema.Structural
}

// defaulter caches the structural schema of the current graph's CRD.
type defaulter struct {
	current atomic.Pointer[instanceDefaults]
}

// apply sets the defaults of g's CRD on inst, which it modifies.
func (d *defaulter) apply(g *graph.Graph, inst *unstructured.Unstructured) error {
	cur := d.current.Load()
	if cur == nil || cur.graph != g {
		s, err := structuralOf(g.CRD)
		if err != nil {
			return err
		}
		cur = &instanceDefaults{graph: g, structure: s}
		d.current.Store(cur)
	}
	if cur.structure != nil {
		structuraldefaulting.Default(inst.Object, cur.structure)
	}
	return nil
}

// structuralOf is the structural schema of crd's (only) version; nil without a schema.
func structuralOf(crd *apiextensionsv1.CustomResourceDefinition) (*structuralschema.Structural, error) {
	if crd == nil || len(crd.Spec.Versions) == 0 || crd.Spec.Versions[0].Schema == nil {
		return nil, nil
	}
	internal := &apiextensions.JSONSchemaProps{}
	if err := apiextensionsv1.Convert_v1_JSONSchemaProps_To_apiextensions_JSONSchemaProps(
		crd.Spec.Versions[0].Schema.OpenAPIV3Schema, internal, nil); err != nil {
		return nil, fmt.Errorf("converting the schema of %s: %w", crd.Name, err)
	}
	s, err := structuralschema.NewStructural(internal)
	if err != nil {
		return nil, fmt.Errorf("schema of %s: %w", crd.Name, err)
	}
	return s, nil
}
