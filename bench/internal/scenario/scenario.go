// Package scenario defines the benchmark's resource graphs twice: as a kro
// ResourceGraphDefinition (what kro runs) and as plain Go render functions (what the floor
// program applies). Both produce the same children with the same data, so the API server does
// the same work for either; only the labels differ (each side labels its children its own way,
// with a similar number of labels).
package scenario

import (
	"fmt"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// KroGroup is the API group kro gives the kinds it generates; FloorGroup holds the floor's
// copies of the same CRDs (kro's generated CRD with the group renamed).
const (
	KroGroup   = "kro.run"
	FloorGroup = "floor.bench.kro.run"
	Version    = "v1alpha1"
)

// Labels the floor puts on its children; FloorInstanceLabel is also its watch selector.
const (
	FloorInstanceLabel = "bench.kro.run/floor-instance"
	FloorNodeLabel     = "bench.kro.run/floor-node"
	FloorFieldManager  = "bench-floor"
)

// Child is one resource of a graph.
type Child struct {
	ID  string
	GVR schema.GroupVersionResource
	// APIVersion and Kind of the rendered object.
	APIVersion, Kind string
	// DependsOn is the id of the child whose applied object this one reads ("" for none).
	DependsOn string
}

// Scenario is one resource graph.
type Scenario struct {
	// Name is the RGD's name; Kind and Plural name the instance kind.
	Name, Kind, Plural string
	// Children in dependency order (a child only depends on earlier ones).
	Children []Child
	// RGD is the ResourceGraphDefinition manifest (YAML).
	RGD string
	// render returns child id of instance name with value; deps holds the applied objects of
	// earlier children.
	render func(name, value, id string, deps map[string]*unstructured.Unstructured) map[string]any
}

// GVR of the instances in group.
func (s *Scenario) GVR(group string) schema.GroupVersionResource {
	return schema.GroupVersionResource{Group: group, Version: Version, Resource: s.Plural}
}

// CRDName is the name of the instance CRD in group.
func (s *Scenario) CRDName(group string) string { return s.Plural + "." + group }

// Child returns the child with id.
func (s *Scenario) Child(id string) (Child, bool) {
	for _, c := range s.Children {
		if c.ID == id {
			return c, true
		}
	}
	return Child{}, false
}

// Levels groups the children by dependency depth: a child is one level below the child it
// depends on, and children without a dependency are on the first level. The children of one
// level are independent of each other (the floor applies them concurrently); every level only
// reads children of earlier levels. Within a level, children keep their order.
func (s *Scenario) Levels() [][]Child {
	depth := map[string]int{}
	var levels [][]Child
	for _, c := range s.Children {
		d := 0
		if c.DependsOn != "" {
			d = depth[c.DependsOn] + 1
		}
		depth[c.ID] = d
		for len(levels) <= d {
			levels = append(levels, nil)
		}
		levels[d] = append(levels[d], c)
	}
	return levels
}

// ChildName is the name of an instance's child (the same for kro and the floor).
func ChildName(instance, id string) string { return instance + "-" + id }

// Instance returns a new instance object of the scenario's kind in group.
func (s *Scenario) Instance(group, namespace, name, value string) *unstructured.Unstructured {
	return &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": group + "/" + Version,
		"kind":       s.Kind,
		"metadata":   map[string]any{"name": name, "namespace": namespace},
		"spec":       map[string]any{"value": value},
	}}
}

// Render returns the floor's desired object for child id of an instance, with the floor's
// labels. deps holds the applied (server-returned) objects of the earlier children.
func (s *Scenario) Render(namespace, name, value, id string, deps map[string]*unstructured.Unstructured) (*unstructured.Unstructured, error) {
	c, ok := s.Child(id)
	if !ok {
		return nil, fmt.Errorf("scenario %s has no child %q", s.Name, id)
	}
	body := s.render(name, value, id, deps)
	if body == nil {
		return nil, fmt.Errorf("scenario %s: child %q of %s is missing its dependency %q", s.Name, id, name, c.DependsOn)
	}
	obj := map[string]any{
		"apiVersion": c.APIVersion,
		"kind":       c.Kind,
		"metadata": map[string]any{
			"name":      ChildName(name, id),
			"namespace": namespace,
			"labels":    floorLabels(s, name, namespace, id),
		},
	}
	for k, v := range body {
		obj[k] = v
	}
	return &unstructured.Unstructured{Object: obj}, nil
}

// floorLabels mirror the number and size of the labels kro puts on a child (11 labels), so the
// objects the floor writes weigh about the same.
func floorLabels(s *Scenario, name, namespace, id string) map[string]any {
	return map[string]any{
		FloorInstanceLabel:                       name,
		FloorNodeLabel:                           id,
		"bench.kro.run/floor-owned":              "true",
		"bench.kro.run/floor-version":            "v0.0.0-bench",
		"bench.kro.run/floor-instance-namespace": namespace,
		"bench.kro.run/floor-instance-group":     FloorGroup,
		"bench.kro.run/floor-instance-version":   Version,
		"bench.kro.run/floor-instance-kind":      s.Kind,
		"bench.kro.run/floor-instance-id":        strings.Repeat("0", 36),
		"app.kubernetes.io/managed-by":           "bench-floor",
		"applyset.kubernetes.io/part-of":         "applyset-" + strings.Repeat("0", 43) + "-v1",
	}
}

func gvr(group, version, resource string) schema.GroupVersionResource {
	return schema.GroupVersionResource{Group: group, Version: version, Resource: resource}
}

func depData(deps map[string]*unstructured.Unstructured, id, key string) (string, bool) {
	d := deps[id]
	if d == nil {
		return "", false
	}
	v, ok, _ := unstructured.NestedString(d.Object, "data", key)
	return v, ok
}

// Chain is S1's graph: three ConfigMaps, each using a value of the previous one.
var Chain = &Scenario{
	Name: "bench-chain", Kind: "BenchChain", Plural: "benchchains",
	Children: []Child{
		{ID: "a", GVR: gvr("", "v1", "configmaps"), APIVersion: "v1", Kind: "ConfigMap"},
		{ID: "b", GVR: gvr("", "v1", "configmaps"), APIVersion: "v1", Kind: "ConfigMap", DependsOn: "a"},
		{ID: "c", GVR: gvr("", "v1", "configmaps"), APIVersion: "v1", Kind: "ConfigMap", DependsOn: "b"},
	},
	RGD: `apiVersion: kro.run/v1alpha1
kind: ResourceGraphDefinition
metadata:
  name: bench-chain
spec:
  schema:
    apiVersion: v1alpha1
    kind: BenchChain
    spec:
      value: string | default="v"
  resources:
  - id: a
    template:
      apiVersion: v1
      kind: ConfigMap
      metadata:
        name: ${schema.metadata.name}-a
      data:
        v: ${schema.spec.value}-a
  - id: b
    template:
      apiVersion: v1
      kind: ConfigMap
      metadata:
        name: ${schema.metadata.name}-b
      data:
        v: ${a.data.v}-b
  - id: c
    template:
      apiVersion: v1
      kind: ConfigMap
      metadata:
        name: ${schema.metadata.name}-c
      data:
        v: ${b.data.v}-c
`,
	render: func(name, value, id string, deps map[string]*unstructured.Unstructured) map[string]any {
		prev := value
		switch id {
		case "b", "c":
			var ok bool
			if prev, ok = depData(deps, map[string]string{"b": "a", "c": "b"}[id], "v"); !ok {
				return nil
			}
		}
		return map[string]any{"data": map[string]any{"v": prev + "-" + id}}
	},
}

// Five is S2's graph: five independent resources.
var Five = &Scenario{
	Name: "bench-five", Kind: "BenchFive", Plural: "benchfives",
	Children: []Child{
		{ID: "cm1", GVR: gvr("", "v1", "configmaps"), APIVersion: "v1", Kind: "ConfigMap"},
		{ID: "secret", GVR: gvr("", "v1", "secrets"), APIVersion: "v1", Kind: "Secret"},
		{ID: "svc", GVR: gvr("", "v1", "services"), APIVersion: "v1", Kind: "Service"},
		{ID: "sa", GVR: gvr("", "v1", "serviceaccounts"), APIVersion: "v1", Kind: "ServiceAccount"},
		{ID: "cm2", GVR: gvr("", "v1", "configmaps"), APIVersion: "v1", Kind: "ConfigMap"},
	},
	RGD: `apiVersion: kro.run/v1alpha1
kind: ResourceGraphDefinition
metadata:
  name: bench-five
spec:
  schema:
    apiVersion: v1alpha1
    kind: BenchFive
    spec:
      value: string | default="v"
  resources:
  - id: cm1
    template:
      apiVersion: v1
      kind: ConfigMap
      metadata:
        name: ${schema.metadata.name}-cm1
      data:
        value: ${schema.spec.value}
  - id: secret
    template:
      apiVersion: v1
      kind: Secret
      metadata:
        name: ${schema.metadata.name}-secret
      type: Opaque
      stringData:
        token: ${schema.spec.value}
  - id: svc
    template:
      apiVersion: v1
      kind: Service
      metadata:
        name: ${schema.metadata.name}-svc
      spec:
        selector:
          app: ${schema.metadata.name}
        ports:
        - port: 80
          targetPort: 8080
  - id: sa
    template:
      apiVersion: v1
      kind: ServiceAccount
      metadata:
        name: ${schema.metadata.name}-sa
  - id: cm2
    template:
      apiVersion: v1
      kind: ConfigMap
      metadata:
        name: ${schema.metadata.name}-cm2
      data:
        other: ${schema.spec.value}-2
`,
	render: func(name, value, id string, _ map[string]*unstructured.Unstructured) map[string]any {
		switch id {
		case "cm1":
			return map[string]any{"data": map[string]any{"value": value}}
		case "secret":
			return map[string]any{"type": "Opaque", "stringData": map[string]any{"token": value}}
		case "svc":
			return map[string]any{"spec": map[string]any{
				"selector": map[string]any{"app": name},
				"ports":    []any{map[string]any{"port": int64(80), "targetPort": int64(8080)}},
			}}
		case "sa":
			return map[string]any{}
		case "cm2":
			return map[string]any{"data": map[string]any{"other": value + "-2"}}
		}
		return nil
	},
}

// The objects S7's external-ref graph reads: a ConfigMap by name and Secrets by label, in the
// instances' namespace. kro never writes them; the driver creates them before kro starts.
const (
	ExternalSourceName  = "s7-source"
	ExternalSourceLabel = "bench.example.com/s7-source"
	ExternalSourceValue = "from-s7-source"
	// ExternalSecrets is how many Secrets carry ExternalSourceLabel=true.
	ExternalSecrets = 3
)

// External is S7's externalRef graph, served by kro only (it is not in All: the floor does not
// run it). It reads ConfigMap ExternalSourceName by name and the Secrets labelled
// ExternalSourceLabel=true by selector, and writes one ConfigMap from their values. Children
// holds only what it writes; the two externalRefs are its first resources.
var External = &Scenario{
	Name: "bench-external", Kind: "ExternalBench", Plural: "externalbenches",
	Children: []Child{
		{ID: "cm", GVR: gvr("", "v1", "configmaps"), APIVersion: "v1", Kind: "ConfigMap"},
	},
	RGD: `apiVersion: kro.run/v1alpha1
kind: ResourceGraphDefinition
metadata:
  name: bench-external
spec:
  schema:
    apiVersion: v1alpha1
    kind: ExternalBench
    spec:
      value: string | default="v"
  resources:
  - id: source
    externalRef:
      apiVersion: v1
      kind: ConfigMap
      metadata:
        name: ` + ExternalSourceName + `
  - id: secrets
    externalRef:
      apiVersion: v1
      kind: Secret
      metadata:
        namespace: ${schema.metadata.namespace}
        selector:
          matchLabels:
            ` + ExternalSourceLabel + `: "true"
  - id: cm
    template:
      apiVersion: v1
      kind: ConfigMap
      metadata:
        name: ${schema.metadata.name}-cm
      data:
        value: ${schema.spec.value}
        source: ${source.data.v}
        secrets: ${string(size(secrets))}
`,
	render: func(_, value, id string, _ map[string]*unstructured.Unstructured) map[string]any {
		if id != "cm" {
			return nil
		}
		return map[string]any{"data": map[string]any{
			"value": value, "source": ExternalSourceValue, "secrets": fmt.Sprint(ExternalSecrets),
		}}
	},
}

// ExternalData is the data External's child holds for an instance with value, once kro has
// read the source objects.
func ExternalData(value string) map[string]any {
	return External.render("", value, "cm", nil)["data"].(map[string]any)
}

// ExternalSources returns the objects External reads, in namespace: ConfigMap
// ExternalSourceName and ExternalSecrets Secrets with ExternalSourceLabel=true.
func ExternalSources(namespace string) []*unstructured.Unstructured {
	objs := []*unstructured.Unstructured{{Object: map[string]any{
		"apiVersion": "v1", "kind": "ConfigMap",
		"metadata": map[string]any{"name": ExternalSourceName, "namespace": namespace},
		"data":     map[string]any{"v": ExternalSourceValue},
	}}}
	for i := 0; i < ExternalSecrets; i++ {
		objs = append(objs, &unstructured.Unstructured{Object: map[string]any{
			"apiVersion": "v1", "kind": "Secret", "type": "Opaque",
			"metadata": map[string]any{
				"name": fmt.Sprintf("%s-%d", ExternalSourceName, i), "namespace": namespace,
				"labels": map[string]any{ExternalSourceLabel: "true"},
			},
			"stringData": map[string]any{"token": fmt.Sprintf("s7-secret-%d", i)},
		}})
	}
	return objs
}

// All scenarios, by name.
var All = map[string]*Scenario{Chain.Name: Chain, Five.Name: Five}

// ByKind returns the scenario of an instance kind.
func ByKind(kind string) *Scenario {
	for _, s := range All {
		if s.Kind == kind {
			return s
		}
	}
	return nil
}
