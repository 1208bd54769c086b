package graph

import (
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/kro-run/kro/api/v1alpha1"
	krocel "github.com/kro-run/kro/internal/cel"
	"github.com/kro-run/kro/internal/graph/parser"
)

const (
	// SchemaVariable is the CEL variable holding the instance (without status).
	SchemaVariable = "schema"
	// EachVariable is one object of a list node (an item of a collection, an object a
	// selector externalRef selects) in the node's readyWhen.
	EachVariable = "each"
)

// Graph is the checked, compiled form of an RGD. It is immutable once built and safe to share
// between goroutines.
type Graph struct {
	// RGDName and RGDUID identify the RGD the graph was built from.
	RGDName string
	RGDUID  string
	// Generation of the RGD the graph was built from.
	Generation int64
	// Revision is the number of the GraphRevision the graph belongs to; 0 when none was
	// issued for it. Set by the RGD controller before the graph is shared.
	Revision int64
	// Instance describes the generated API.
	Instance Instance
	// CRD is the generated CustomResourceDefinition.
	CRD *apiextensionsv1.CustomResourceDefinition
	// Nodes in declaration order.
	Nodes []*Node
	// Order lists node ids in topological (creation) order.
	Order []string
	// Levels groups Order into waves: every node of a level depends only on nodes of earlier
	// levels, so the nodes of one level can be applied in parallel.
	Levels [][]string
	// Warnings are advice for the RGD author that does not stop the graph from being used,
	// each naming the field and the expression: expressions whose estimated worst-case cost
	// is high (they fail at runtime, on the instance, if an evaluation runs past the cost
	// limit). At most ten, then a count of the rest; nil when there are none.
	Warnings []string

	byID map[string]*Node
	// metadataOnly are the kinds whose objects kro applies, prunes and deletes but never
	// reads beyond their metadata (see metadataOnlyKinds).
	metadataOnly map[schema.GroupVersionKind]bool
}

// Node returns the node with id, or nil.
func (g *Graph) Node(id string) *Node { return g.byID[id] }

// MetadataOnly reports whether kro needs only the metadata of the objects of kind gvk it
// applies: no expression reads one, no readyWhen tests one. It is false for a kind the graph
// does not apply.
func (g *Graph) MetadataOnly(gvk schema.GroupVersionKind) bool { return g.metadataOnly[gvk] }

// Applies reports whether a resource of the graph (not an externalRef) is of kind gvk.
func (g *Graph) Applies(gvk schema.GroupVersionKind) bool {
	for _, n := range g.Nodes {
		if n.External == nil && n.GVK == gvk {
			return true
		}
	}
	return false
}

// ExternalByMetadata reports whether kro caches the objects of an externalRef's kind (or of the
// kind a resource with adoptionPolicy Required waits for) by metadata only, every object of
// the kind, and reads the objects an instance references from the API server, once per
// resourceVersion. Only an RGD-generated kind is cached whole: kro holds its instances whole
// anyway.
func (n *Node) ExternalByMetadata() bool { return !n.KroInstance }

// metadataOnlyKinds returns the kinds of the resources kro applies whose objects nothing reads:
// no other resource's template, includeWhen or forEach, no status field or condition of the
// instance, and no readyWhen. An RGD-generated kind is read too (it is ready when its
// status.state is ACTIVE). Kro then caches their metadata only, which is enough to apply,
// prune and delete them; a kind of which one resource is read is read for all of them.
func metadataOnlyKinds(g *Graph) map[schema.GroupVersionKind]bool {
	read := map[string]bool{}
	for _, n := range g.Nodes {
		for _, d := range n.Dependencies {
			read[d] = true
		}
	}
	for _, f := range g.Instance.Status {
		for _, p := range f.Programs {
			for _, r := range p.References {
				read[r] = true
			}
		}
	}
	for _, p := range g.Instance.Conditions {
		for _, r := range p.References {
			read[r] = true
		}
	}
	out := map[schema.GroupVersionKind]bool{}
	readKinds := map[schema.GroupVersionKind]bool{}
	for _, n := range g.Nodes {
		switch {
		case n.External != nil:
		case read[n.ID] || len(n.ReadyWhen) > 0 || n.KroInstance:
			readKinds[n.GVK] = true
		default:
			out[n.GVK] = true
		}
	}
	for gvk := range readKinds {
		delete(out, gvk)
	}
	return out
}

// Instance describes the generated API and its status projection.
type Instance struct {
	GVK        schema.GroupVersionKind
	GVR        schema.GroupVersionResource
	Namespaced bool
	// Status are the user-defined status fields, each a template of expressions.
	Status []*Field
	// Conditions are the custom status conditions; when present they replace kro's built-in
	// conditions on the instance.
	Conditions []*krocel.Program
}

// Node is one resource of the graph.
type Node struct {
	ID string
	// GVK and GVR of the resource; Namespaced its scope.
	GVK        schema.GroupVersionKind
	GVR        schema.GroupVersionResource
	Namespaced bool
	// Template is the object with ${...} strings; never mutated.
	Template map[string]any
	// Fields are the template's strings holding expressions.
	Fields []*Field
	// ReadyWhen and IncludeWhen are boolean programs.
	ReadyWhen   []*krocel.Program
	IncludeWhen []*krocel.Program
	// Dependencies are the ids this node reads, sorted.
	Dependencies []string
	// External is set for an externalRef: kro reads the object(s), never writes them. The
	// Template then holds only apiVersion, kind and metadata (name, namespace or selector).
	External *External
	// ForEach are the iterators of a collection, outermost first; empty for single objects.
	ForEach []*Iterator
	// KroInstance is set when the kind is generated by an RGD: without readyWhen such a node
	// is ready when its status.state is ACTIVE, so readiness flows through chained RGDs.
	KroInstance bool
	// Orphan is set when the resource's deletionPolicy is Orphan: its objects are released
	// (kro's labels removed) instead of deleted.
	Orphan bool
	// Adoption is the resource's adoptionPolicy; never empty.
	Adoption v1alpha1.AdoptionPolicy
	// BytesPaths are the paths of the kind's byte fields (schema.AnyElem for any key), which
	// expressions read as bytes rather than base64 text.
	BytesPaths [][]string

	// includeWhen and readyWhen hold the sources of IncludeWhen and ReadyWhen until the
	// graph's environment exists.
	includeWhen, readyWhen []string
	forEach                []v1alpha1.ForEachDimension
}

// External describes how an externalRef selects its objects.
type External struct {
	// Selector is true when objects are selected by labels (the node is then a list).
	Selector bool
}

// Iterator is one forEach dimension.
type Iterator struct {
	Name    string
	Program *krocel.Program
}

// IsCollection reports whether the node is a forEach collection.
func (n *Node) IsCollection() bool { return len(n.forEach) > 0 }

// IsList reports whether other nodes see this node as a list of objects.
func (n *Node) IsList() bool {
	return n.IsCollection() || n.External != nil && n.External.Selector
}

// Field is a templated string of a resource or of the instance status.
type Field struct {
	parser.Field
	// Elems is Path parsed, for setting the value.
	Elems []parser.PathElem
	// Programs holds one compiled program per expression segment, in order.
	Programs []*krocel.Program
}
