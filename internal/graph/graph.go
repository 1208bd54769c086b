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
	// EachVariable is the item of a collection in its readyWhen.
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

	byID map[string]*Node
}

// Node returns the node with id, or nil.
func (g *Graph) Node(id string) *Node { return g.byID[id] }

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
