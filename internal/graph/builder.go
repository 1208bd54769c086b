package graph

import (
	"errors"
	"fmt"
	"regexp"
	"sort"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/json"
	"sigs.k8s.io/yaml"

	"github.com/kro-run/kro/api/v1alpha1"
	krocel "github.com/kro-run/kro/internal/cel"
	"github.com/kro-run/kro/internal/graph/crd"
	"github.com/kro-run/kro/internal/graph/dag"
	"github.com/kro-run/kro/internal/graph/parser"
	kroschema "github.com/kro-run/kro/internal/graph/schema"
	"github.com/kro-run/kro/internal/metadata"
	"github.com/kro-run/kro/internal/simpleschema"
)

const (
	// maxReportedErrors bounds how many errors of one RGD are reported together.
	maxReportedErrors = 10
	// maxCollectionDimensions bounds the forEach iterators of one resource.
	maxCollectionDimensions = 10
)

// ErrDependencyNotReady wraps errors that may go away without an RGD change: a kind or its
// schema the cluster does not serve yet.
var ErrDependencyNotReady = errors.New("not served by the cluster yet")

// Builder builds Graphs. It is safe for concurrent use.
type Builder struct {
	mapper  meta.RESTMapper
	schemas kroschema.Resolver
	limits  krocel.Limits
}

// BuilderOption configures a Builder.
type BuilderOption func(*Builder)

// WithSchemaResolver type-checks expressions and literal values against the schemas r
// resolves. Without it every resource is dyn and only syntax, names and dependencies are
// checked.
func WithSchemaResolver(r kroschema.Resolver) BuilderOption {
	return func(b *Builder) { b.schemas = r }
}

// WithCELLimits sets the cost limits of every expression. Default krocel.DefaultLimits():
// expressions whose estimated worst-case cost is too high are rejected at RGD time.
func WithCELLimits(l krocel.Limits) BuilderOption {
	return func(b *Builder) { b.limits = l }
}

// NewBuilder returns a Builder resolving kinds with mapper.
func NewBuilder(mapper meta.RESTMapper, opts ...BuilderOption) *Builder {
	b := &Builder{mapper: mapper, limits: krocel.DefaultLimits()}
	for _, o := range opts {
		o(b)
	}
	return b
}

var idPattern = regexp.MustCompile(`^[a-z][a-zA-Z0-9]*$`)

// Build checks rgd and compiles it into a Graph. The error lists every problem found, up to a
// bound, each naming the resource id, the field path and the expression.
func (b *Builder) Build(rgd *v1alpha1.ResourceGraphDefinition) (*Graph, error) {
	s := rgd.Spec.Schema
	if s == nil {
		return nil, errors.New("spec.schema is required")
	}
	group := s.Group
	if group == "" {
		group = "kro.run"
	}
	gvk := schema.GroupVersionKind{Group: group, Version: s.APIVersion, Kind: s.Kind}
	g := &Graph{
		RGDName:    rgd.Name,
		RGDUID:     string(rgd.UID),
		Generation: rgd.Generation,
		Instance: Instance{
			GVK:        gvk,
			GVR:        gvk.GroupVersion().WithResource(crd.Plural(s.Kind)),
			Namespaced: s.Scope != v1alpha1.ResourceScopeCluster,
		},
		byID: map[string]*Node{},
	}

	specSchema, err := b.specSchema(s)
	if err != nil {
		return nil, err
	}

	var errs errorList
	ids := make([]string, 0, len(rgd.Spec.Resources))
	for i, r := range rgd.Spec.Resources {
		if r == nil {
			errs.add(fmt.Errorf("spec.resources[%d]: empty resource", i))
			continue
		}
		node, err := b.node(r, g.Instance.Namespaced)
		if err != nil {
			errs.add(err)
			continue
		}
		if g.byID[node.ID] != nil {
			errs.add(fmt.Errorf("resource %q: duplicate id", node.ID))
			continue
		}
		g.byID[node.ID] = node
		g.Nodes = append(g.Nodes, node)
		ids = append(ids, node.ID)
	}
	if err := errs.err(); err != nil {
		return nil, err
	}

	tc, err := b.typeContext(g, specSchema)
	if err != nil {
		return nil, err
	}
	for _, n := range g.Nodes {
		if err := tc.compileNode(n); err != nil {
			errs.add(err)
			continue
		}
		if n.IsCollection() {
			errs.add(checkIdentity(n))
		}
	}
	statusFields, conditions, statusSchemas, err := compileStatus(tc.env, s, tc.limits)
	errs.add(err)
	if err := errs.err(); err != nil {
		return nil, err
	}
	g.Instance.Status = statusFields
	g.Instance.Conditions = conditions

	if g.Order, err = order(g.Nodes); err != nil {
		return nil, err
	}
	g.Levels = levels(g)

	g.CRD = crd.New(crd.Options{
		Group:          group,
		Version:        s.APIVersion,
		Kind:           s.Kind,
		Namespaced:     g.Instance.Namespaced,
		Spec:           specSchema,
		StatusFields:   statusSchemas,
		PrinterColumns: printerColumns(s.AdditionalPrinterColumns),
		ShortNames:     s.ShortNames,
		Categories:     s.Categories,
		Labels:         crdLabels(rgd, s),
		Annotations:    crdAnnotations(s),
	})
	return g, nil
}

func (b *Builder) specSchema(s *v1alpha1.Schema) (*apiextensionsv1.JSONSchemaProps, error) {
	spec, err := decodeMap(s.Spec.Raw)
	if err != nil {
		return nil, fmt.Errorf("spec.schema.spec: %w", err)
	}
	types, err := decodeMap(s.Types.Raw)
	if err != nil {
		return nil, fmt.Errorf("spec.schema.types: %w", err)
	}
	props, err := simpleschema.ToOpenAPISpec(spec, types)
	if err != nil {
		return nil, fmt.Errorf("spec.schema: %w", err)
	}
	return props, nil
}

// node checks a resource's id and template and resolves its kind.
func (b *Builder) node(r *v1alpha1.Resource, instanceNamespaced bool) (*Node, error) {
	if !idPattern.MatchString(r.ID) {
		return nil, fmt.Errorf("resource %q: id must be lowerCamelCase (%s)", r.ID, idPattern)
	}
	if reservedIDs[r.ID] {
		return nil, fmt.Errorf("resource %q: id is a reserved word", r.ID)
	}
	tmpl, ext, err := nodeTemplate(r)
	if err != nil {
		return nil, err
	}
	apiVersion, _ := tmpl["apiVersion"].(string)
	kind, _ := tmpl["kind"].(string)
	if apiVersion == "" || kind == "" {
		return nil, fmt.Errorf("resource %q: template needs apiVersion and kind", r.ID)
	}
	if parser.HasExpressions(apiVersion) || parser.HasExpressions(kind) {
		return nil, fmt.Errorf("resource %q: apiVersion and kind cannot use expressions", r.ID)
	}
	md, ok := tmpl["metadata"].(map[string]any)
	if !ok {
		return nil, fmt.Errorf("resource %q field \"metadata\": template needs metadata", r.ID)
	}
	if err := checkReservedMetadata(md); err != nil {
		return nil, fmt.Errorf("resource %q: %w", r.ID, err)
	}
	if ext != nil && len(r.ForEach) > 0 {
		return nil, fmt.Errorf("resource %q: an externalRef cannot use forEach", r.ID)
	}
	if len(r.ForEach) > maxCollectionDimensions {
		return nil, fmt.Errorf("resource %q field \"forEach\": %d dimensions, at most %d are allowed", r.ID, len(r.ForEach), maxCollectionDimensions)
	}
	gv, err := schema.ParseGroupVersion(apiVersion)
	if err != nil {
		return nil, fmt.Errorf("resource %q field \"apiVersion\": %w", r.ID, err)
	}
	gvk := gv.WithKind(kind)
	mapping, err := b.mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
	if err != nil {
		return nil, fmt.Errorf("resource %q field \"kind\": kind %q of apiVersion %q is %w: %v", r.ID, kind, apiVersion, ErrDependencyNotReady, err)
	}
	namespaced := mapping.Scope.Name() == meta.RESTScopeNameNamespace
	if _, set := md["namespace"]; set && !namespaced {
		return nil, fmt.Errorf("resource %q field \"metadata.namespace\": %s is cluster-scoped and cannot set a namespace", r.ID, kind)
	}
	if namespaced && !instanceNamespaced && ext == nil {
		if _, set := md["namespace"]; !set {
			return nil, fmt.Errorf("resource %q field \"metadata.namespace\": a cluster-scoped RGD must set the namespace of namespaced %s", r.ID, kind)
		}
	}
	fields, err := parser.ParseTemplate(tmpl)
	if err != nil {
		return nil, fmt.Errorf("resource %q: %w", r.ID, err)
	}
	n := &Node{
		ID:         r.ID,
		GVK:        gvk,
		GVR:        mapping.Resource,
		Namespaced: namespaced,
		Template:   tmpl,
		External:   ext,
		forEach:    r.ForEach,
	}
	for _, f := range fields {
		field, err := newField(f)
		if err != nil {
			return nil, fmt.Errorf("resource %q: %w", r.ID, err)
		}
		n.Fields = append(n.Fields, field)
	}
	n.readyWhen = r.ReadyWhen
	// includeWhen is compiled with the graph's environment in compileNode.
	for i, expr := range r.IncludeWhen {
		if _, err := standaloneExpression(expr); err != nil {
			return nil, fmt.Errorf("resource %q field \"includeWhen[%d]\": %w", r.ID, i, err)
		}
	}
	n.includeWhen = r.IncludeWhen
	return n, nil
}

// nodeTemplate returns the template of a resource: its own, or for an externalRef the object
// reference as a template of apiVersion, kind and metadata.
func nodeTemplate(r *v1alpha1.Resource) (map[string]any, *External, error) {
	if r.ExternalRef == nil {
		tmpl, err := decodeMap(r.Template.Raw)
		if err != nil {
			return nil, nil, fmt.Errorf("resource %q field \"template\": %w", r.ID, err)
		}
		if len(tmpl) == 0 {
			return nil, nil, fmt.Errorf("resource %q: one of template or externalRef is required", r.ID)
		}
		return tmpl, nil, nil
	}
	if len(r.Template.Raw) > 0 {
		return nil, nil, fmt.Errorf("resource %q: template and externalRef are mutually exclusive", r.ID)
	}
	ref := r.ExternalRef
	raw, err := json.Marshal(ref)
	if err != nil {
		return nil, nil, err
	}
	var tmpl map[string]any
	if err := json.Unmarshal(raw, &tmpl); err != nil {
		return nil, nil, err
	}
	hasName, hasSelector := ref.Metadata.Name != "", ref.Metadata.Selector != nil
	if hasName == hasSelector {
		return nil, nil, fmt.Errorf("resource %q field \"externalRef.metadata\": exactly one of name or selector is required", r.ID)
	}
	return tmpl, &External{Selector: hasSelector}, nil
}

func newField(f parser.Field) (*Field, error) {
	elems, err := parser.ParsePath(f.Path)
	if err != nil {
		return nil, fmt.Errorf("field %q: %w", f.Path, err)
	}
	return &Field{Field: f, Elems: elems}, nil
}

func checkReservedMetadata(md map[string]any) error {
	for _, key := range []string{"labels", "annotations"} {
		m, _ := md[key].(map[string]any)
		for k := range m {
			if metadata.IsReserved(k) {
				return fmt.Errorf("field \"metadata.%s\": key %q uses a prefix reserved for kro", key, k)
			}
		}
	}
	return nil
}

func printerColumns(in []v1alpha1.AdditionalPrinterColumn) []apiextensionsv1.CustomResourceColumnDefinition {
	out := make([]apiextensionsv1.CustomResourceColumnDefinition, 0, len(in))
	for _, c := range in {
		out = append(out, apiextensionsv1.CustomResourceColumnDefinition{
			Name: c.Name, Type: c.Type, Format: c.Format, Description: c.Description,
			Priority: c.Priority, JSONPath: c.JSONPath,
		})
	}
	return out
}

func crdLabels(rgd *v1alpha1.ResourceGraphDefinition, s *v1alpha1.Schema) map[string]string {
	labels := map[string]string{}
	if s.Metadata != nil {
		for k, v := range s.Metadata.Labels {
			labels[k] = v
		}
	}
	for k, v := range metadata.CRDLabels(rgd.Name, string(rgd.UID)) {
		labels[k] = v
	}
	return labels
}

func crdAnnotations(s *v1alpha1.Schema) map[string]string {
	if s.Metadata == nil || len(s.Metadata.Annotations) == 0 {
		return nil
	}
	return s.Metadata.Annotations
}

// order computes the dependency order of nodes.
func order(nodes []*Node) ([]string, error) {
	d := dag.New()
	for _, n := range nodes {
		if err := d.AddVertex(n.ID); err != nil {
			return nil, err
		}
	}
	for _, n := range nodes {
		if err := d.AddDependencies(n.ID, n.Dependencies); err != nil {
			return nil, err
		}
	}
	return d.TopologicalSort()
}

// levels groups the topological order into waves of independent nodes.
func levels(g *Graph) [][]string {
	level := map[string]int{}
	var out [][]string
	for _, id := range g.Order {
		l := 0
		for _, d := range g.byID[id].Dependencies {
			l = max(l, level[d]+1)
		}
		level[id] = l
		if l == len(out) {
			out = append(out, nil)
		}
		out[l] = append(out[l], id)
	}
	return out
}

func decodeMap(raw []byte) (map[string]any, error) {
	if len(raw) == 0 {
		return map[string]any{}, nil
	}
	// apimachinery's decoder keeps integers as int64, as the API server does.
	js, err := yaml.YAMLToJSON(raw)
	if err != nil {
		return nil, err
	}
	var m map[string]any
	if err := json.Unmarshal(js, &m); err != nil {
		return nil, err
	}
	if m == nil {
		m = map[string]any{}
	}
	return m, nil
}

// errorList collects up to maxReportedErrors errors.
type errorList struct {
	errs    []error
	dropped int
}

func (l *errorList) add(err error) {
	if err == nil {
		return
	}
	if len(l.errs) >= maxReportedErrors {
		l.dropped++
		return
	}
	l.errs = append(l.errs, err)
}

func (l *errorList) err() error {
	if len(l.errs) == 0 {
		return nil
	}
	if l.dropped > 0 {
		return errors.Join(append(l.errs, fmt.Errorf("and %d more errors", l.dropped))...)
	}
	return errors.Join(l.errs...)
}

func sortedUnique(in []string) []string {
	seen := map[string]bool{}
	out := []string{}
	for _, s := range in {
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	sort.Strings(out)
	return out
}
