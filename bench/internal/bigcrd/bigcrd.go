// Package bigcrd generates large CustomResourceDefinitions like those of cloud providers'
// Crossplane packages: one cluster-scoped kind per CRD, in a group of its own, with an
// openAPIV3Schema of many described string, integer, boolean, array and object fields nested a
// few levels deep (spec.forProvider and spec.initProvider hold the same fields,
// status.atProvider the observed ones), and the kubectl.kubernetes.io/last-applied-configuration
// annotation that `kubectl apply` leaves, which holds the CRD's JSON a second time.
//
// Generation is deterministic: CRD i is the same on every run, and differs from CRD j in its
// field names and descriptions, as CRDs of different kinds do.
package bigcrd

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"strings"
)

const (
	// GroupSuffix ends every generated CRD's group.
	GroupSuffix = "bench.example.com"
	// LabelKey and LabelValue mark the generated CRDs (the driver deletes them by label).
	LabelKey   = "bench.example.com/scenario"
	LabelValue = "s9-unrelated-crds"
	// LastApplied is the annotation `kubectl apply` (client side) leaves on what it applies.
	LastApplied = "kubectl.kubernetes.io/last-applied-configuration"
	// MaxAnnotationBytes is the API server's limit on an object's annotations, keys and values
	// together. A CRD whose JSON does not fit gets no annotation (kubectl apply fails on it).
	MaxAnnotationBytes = 256 * 1024
	// Version is the generated CRDs' only version.
	Version = "v1beta1"
	// maxDepth bounds the nesting of object fields below forProvider.
	maxDepth = 4
)

// Group is the API group of CRD i.
func Group(i int) string { return fmt.Sprintf("s9-%d.%s", i, GroupSuffix) }

// Kind is the kind of CRD i.
func Kind(i int) string { return fmt.Sprintf("Unrelated%d", i) }

// Plural is the resource of CRD i.
func Plural(i int) string { return strings.ToLower(Kind(i)) + "s" }

// Name is the name of CRD i.
func Name(i int) string { return Plural(i) + "." + Group(i) }

// CRD is one generated CustomResourceDefinition.
type CRD struct {
	// Object is the CRD, ready for the dynamic client.
	Object map[string]any
	// SchemaBytes is the size of its openAPIV3Schema as JSON.
	SchemaBytes int
	// Bytes is the size of the whole object as JSON, the annotation included.
	Bytes int
	// Annotated tells whether it carries the last-applied-configuration annotation.
	Annotated bool
}

// New generates CRD i with an openAPIV3Schema of about schemaBytes bytes of JSON (at least the
// skeleton's, about 3 KB).
func New(i, schemaBytes int) (CRD, error) {
	schema, err := Schema(i, schemaBytes)
	if err != nil {
		return CRD{}, err
	}
	raw, err := json.Marshal(schema)
	if err != nil {
		return CRD{}, fmt.Errorf("CRD %s: schema: %w", Name(i), err)
	}
	obj := manifest(i, schema)
	applied, err := json.Marshal(obj)
	if err != nil {
		return CRD{}, fmt.Errorf("CRD %s: %w", Name(i), err)
	}
	c := CRD{Object: obj, SchemaBytes: len(raw)}
	// kubectl stores the manifest it applied, as compact JSON with a newline.
	if value := string(applied) + "\n"; len(LastApplied)+len(value) <= MaxAnnotationBytes {
		meta := obj["metadata"].(map[string]any)
		meta["annotations"] = map[string]any{LastApplied: value}
		c.Annotated = true
	}
	full, err := json.Marshal(obj)
	if err != nil {
		return CRD{}, fmt.Errorf("CRD %s: %w", Name(i), err)
	}
	c.Bytes = len(full)
	return c, nil
}

// manifest is CRD i as a user would apply it: no status, no annotation.
func manifest(i int, schema map[string]any) map[string]any {
	kind := Kind(i)
	return map[string]any{
		"apiVersion": "apiextensions.k8s.io/v1",
		"kind":       "CustomResourceDefinition",
		"metadata": map[string]any{
			"name":   Name(i),
			"labels": map[string]any{LabelKey: LabelValue},
		},
		"spec": map[string]any{
			"group": Group(i),
			"names": map[string]any{
				"kind": kind, "listKind": kind + "List", "plural": Plural(i), "singular": strings.ToLower(kind),
				"categories": []any{"bench", "managed"},
			},
			"scope": "Cluster",
			"versions": []any{map[string]any{
				"name": Version, "served": true, "storage": true,
				"schema":       map[string]any{"openAPIV3Schema": schema},
				"subresources": map[string]any{"status": map[string]any{}},
				"additionalPrinterColumns": []any{
					printerColumn("READY", "string", `.status.conditions[?(@.type=='Ready')].status`),
					printerColumn("SYNCED", "string", `.status.conditions[?(@.type=='Synced')].status`),
					printerColumn("EXTERNAL-NAME", "string", `.metadata.annotations.crossplane\.io/external-name`),
					printerColumn("AGE", "date", ".metadata.creationTimestamp"),
				},
			}},
		},
	}
}

func printerColumn(name, typ, path string) map[string]any {
	return map[string]any{"name": name, "type": typ, "jsonPath": path}
}

// Schema is the openAPIV3Schema of CRD i, of about schemaBytes bytes of JSON: the skeleton of
// a managed resource, then generated fields until the size is reached. Each field is added to
// spec.forProvider, spec.initProvider and status.atProvider; references to other resources to
// the first two only.
func Schema(i, schemaBytes int) (map[string]any, error) {
	g := &gen{rng: rand.New(rand.NewPCG(uint64(i), 0x5339)), kind: Kind(i)}
	forProvider, initProvider, atProvider := map[string]any{}, map[string]any{}, map[string]any{}
	root := g.skeleton(forProvider, initProvider, atProvider)
	raw, err := json.Marshal(root)
	if err != nil {
		return nil, fmt.Errorf("schema of %s: %w", g.kind, err)
	}
	// A field that would take the schema past the size by more than slack is left out: deep
	// fields are large, and each one counts three times.
	size, slack := len(raw), max(schemaBytes/50, 4096)
	for size < schemaBytes {
		props := g.field(forProvider, 1)
		add, err := propsBytes(props)
		if err != nil {
			return nil, fmt.Errorf("schema of %s: %w", g.kind, err)
		}
		if size+add > schemaBytes+slack {
			continue
		}
		for _, p := range props {
			forProvider[p.name], initProvider[p.name] = p.schema, p.schema
			if !p.specOnly {
				atProvider[p.name] = p.schema
			}
		}
		size += add
	}
	return root, nil
}

// prop is a generated field.
type prop struct {
	name   string
	schema map[string]any
	// specOnly fields (references) are not observed: they are not in status.atProvider.
	specOnly bool
}

// propsBytes is what props add to the schema's JSON: `"name":{...},` in each map they go to.
func propsBytes(props []prop) (int, error) {
	n := 0
	for _, p := range props {
		raw, err := json.Marshal(p.schema)
		if err != nil {
			return 0, fmt.Errorf("field %s: %w", p.name, err)
		}
		copies := 3
		if p.specOnly {
			copies = 2
		}
		n += copies * (len(p.name) + 4 + len(raw))
	}
	return n, nil
}

// gen generates the fields of one CRD.
type gen struct {
	rng  *rand.Rand
	kind string
}

// skeleton is the part every managed resource has; the providers' fields go into the three
// maps given.
func (g *gen) skeleton(forProvider, initProvider, atProvider map[string]any) map[string]any {
	spec := object(sentence("%sSpec defines the desired state of %s", g.kind, g.kind), map[string]any{
		"deletionPolicy": withEnum(str(sentence("DeletionPolicy specifies what will happen to the underlying external when this managed resource is deleted")), "Orphan", "Delete"),
		"forProvider":    object(sentence("ForProvider holds the fields the provider reconciles"), forProvider),
		"initProvider":   object(sentence("THIS IS A BETA FIELD. InitProvider holds the same fields as ForProvider, set only on creation"), initProvider),
		"managementPolicies": map[string]any{
			"type": "array", "description": sentence("ManagementPolicies specify the array of actions Crossplane is allowed to take on the managed and external resources"),
			"items": withEnum(str(sentence("A ManagementAction represents an action that the Crossplane controllers can take on an external resource")), "Observe", "Create", "Update", "Delete", "LateInitialize", "*"),
		},
		"providerConfigRef":                g.reference("ProviderConfigReference specifies how the provider that will be used to create, observe, update, and delete this managed resource should be configured"),
		"writeConnectionSecretToReference": object(sentence("WriteConnectionSecretToReference specifies the namespace and name of a Secret to which any connection details for this managed resource should be written"), map[string]any{"name": str(sentence("Name of the secret")), "namespace": str(sentence("Namespace of the secret"))}),
	})
	spec["required"] = []any{"forProvider"}
	condition := object(sentence("A Condition that may apply to a resource"), map[string]any{
		"lastTransitionTime": withFormat(str(sentence("LastTransitionTime is the last time this condition transitioned from one status to another")), "date-time"),
		"message":            str(sentence("A Message containing details about this condition's last transition from one status to another, if any")),
		"observedGeneration": withFormat(integer(sentence("ObservedGeneration represents the .metadata.generation that the condition was set based upon")), "int64"),
		"reason":             str(sentence("A Reason for this condition's last transition from one status to another")),
		"status":             str(sentence("Status of this condition; is it currently True, False, or Unknown")),
		"type":               str(sentence("Type of this condition. At most one of each condition type may apply to a resource at any point in time")),
	})
	condition["required"] = []any{"lastTransitionTime", "reason", "status", "type"}
	status := object(sentence("%sStatus defines the observed state of %s", g.kind, g.kind), map[string]any{
		"atProvider": object(sentence("AtProvider holds the observed fields"), atProvider),
		"conditions": map[string]any{
			"type": "array", "description": sentence("Conditions of the resource"), "items": condition,
			"x-kubernetes-list-map-keys": []any{"type"}, "x-kubernetes-list-type": "map",
		},
		"observedGeneration": withFormat(integer(sentence("ObservedGeneration is the latest metadata.generation which resulted in either a ready state, or stalled due to error it can not recover from without human intervention")), "int64"),
	})
	root := object(sentence("%s is the Schema for the %ss API", g.kind, g.kind), map[string]any{
		"apiVersion": str("APIVersion defines the versioned schema of this representation of an object. Servers should convert recognized schemas to the latest internal value, and may reject unrecognized values."),
		"kind":       str("Kind is a string value representing the REST resource this object represents. Servers may infer this from the endpoint the client submits requests to. Cannot be updated. In CamelCase."),
		"metadata":   map[string]any{"type": "object"},
		"spec":       spec,
		"status":     status,
	})
	root["required"] = []any{"spec"}
	return root
}

// reference is a Crossplane reference to another object: a name and a resolution policy.
func (g *gen) reference(desc string) map[string]any {
	r := object(sentence("%s", desc), map[string]any{
		"name": str(sentence("Name of the referenced object")),
		"policy": object(sentence("Policies for referencing"), map[string]any{
			"resolution": withDefault(withEnum(str(sentence("Resolution specifies whether resolution of this reference is required")), "Required", "Optional"), "Required"),
			"resolve":    withEnum(str(sentence("Resolve specifies when this reference should be resolved")), "Always", "IfNotPresent"),
		}),
	})
	r["required"] = []any{"name"}
	return r
}

// selector is a Crossplane selector of another object.
func (g *gen) selector(desc string) map[string]any {
	return object(sentence("%s", desc), map[string]any{
		"matchControllerRef": boolean(sentence("MatchControllerRef ensures an object with the same controller reference as the selecting object is selected")),
		"matchLabels": map[string]any{
			"type": "object", "description": sentence("MatchLabels ensures an object with matching labels is selected"),
			"additionalProperties": map[string]any{"type": "string"},
		},
	})
}

// field generates a field whose name is not in props, with its siblings: a field that names
// another resource comes with a reference and a selector of it. Nothing is added to props.
func (g *gen) field(props map[string]any, depth int) []prop {
	name := g.name(props)
	desc := sentence("%s", g.describe(name))
	one := func(s map[string]any) []prop { return []prop{{name: name, schema: s}} }
	switch r := g.rng.IntN(100); {
	case depth < maxDepth && r < 14:
		return one(object(desc, g.fields(depth+1)))
	case depth < maxDepth && r < 24:
		return one(map[string]any{"type": "array", "description": desc, "items": object("", g.fields(depth+1))})
	case r < 34:
		return one(map[string]any{"type": "array", "description": desc, "items": map[string]any{"type": "string"}})
	case r < 44:
		return one(map[string]any{"type": "object", "description": desc, "additionalProperties": map[string]any{"type": "string"},
			"x-kubernetes-map-type": "granular"})
	case r < 56:
		return one(integer(desc))
	case r < 64:
		return one(boolean(desc))
	case r < 68:
		return one(map[string]any{"type": "number", "description": desc})
	case r < 74 && depth == 1:
		target := g.word()
		return []prop{
			{name: name, schema: str(desc)},
			{name: name + "Ref", schema: g.reference(fmt.Sprintf("Reference to a %s to populate %s", target, name)), specOnly: true},
			{name: name + "Selector", schema: g.selector(fmt.Sprintf("Selector for a %s to populate %s", target, name)), specOnly: true},
		}
	default:
		return one(str(desc))
	}
}

// fields are the 2 to 8 fields of a nested object.
func (g *gen) fields(depth int) map[string]any {
	props := map[string]any{}
	for range 2 + g.rng.IntN(7) {
		for _, p := range g.field(props, depth) {
			props[p.name] = p.schema
		}
	}
	return props
}

// name is a camelCase name of one to three words that is not yet in props.
func (g *gen) name(props map[string]any) string {
	for {
		var b strings.Builder
		for k := range 1 + g.rng.IntN(3) {
			w := g.word()
			if k > 0 {
				w = strings.ToUpper(w[:1]) + w[1:]
			}
			b.WriteString(w)
		}
		name := b.String()
		if !taken(props, name) && !taken(props, name+"Ref") && !taken(props, name+"Selector") {
			return name
		}
	}
}

func taken(props map[string]any, name string) bool { _, ok := props[name]; return ok }

// describe is a description of 2 to 4 sentences about field name.
func (g *gen) describe(name string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s of the %s.", name, strings.ToLower(g.kind))
	for range 1 + g.rng.IntN(3) {
		b.WriteString(" ")
		n := 6 + g.rng.IntN(14)
		for k := range n {
			w := g.word()
			if k == 0 {
				w = strings.ToUpper(w[:1]) + w[1:]
			}
			b.WriteString(w)
			if k < n-1 {
				b.WriteString(" ")
			}
		}
		b.WriteString(".")
	}
	if g.rng.IntN(4) == 0 {
		b.WriteString(" Changing this forces a new resource to be created.")
	}
	return b.String()
}

// sentence formats a description that ends with a period. The skeleton's are the same in
// every CRD, as the Crossplane runtime's are, except those that name the kind.
func sentence(format string, args ...any) string {
	s := fmt.Sprintf(format, args...)
	if !strings.HasSuffix(s, ".") {
		s += "."
	}
	return s
}

func (g *gen) word() string { return words[g.rng.IntN(len(words))] }

func object(desc string, props map[string]any) map[string]any {
	o := map[string]any{"type": "object", "properties": props}
	if desc != "" {
		o["description"] = desc
	}
	return o
}

func str(desc string) map[string]any { return map[string]any{"type": "string", "description": desc} }
func integer(desc string) map[string]any {
	return map[string]any{"type": "integer", "description": desc}
}
func boolean(desc string) map[string]any {
	return map[string]any{"type": "boolean", "description": desc}
}

func withEnum(s map[string]any, values ...string) map[string]any {
	e := make([]any, len(values))
	for i, v := range values {
		e[i] = v
	}
	s["enum"] = e
	return s
}

func withDefault(s map[string]any, v any) map[string]any { s["default"] = v; return s }

func withFormat(s map[string]any, f string) map[string]any { s["format"] = f; return s }

// words make the names and descriptions.
var words = strings.Fields(`
access account address alarm alias allocation analytics application archive association
attachment audit authentication authorization autoscaling availability backup bandwidth
billing bucket cache capacity certificate channel cidr cluster code compute condition
configuration connection consumer container content cost credential cron database
delivery deployment description destination detector device directory disk domain
encryption endpoint engine environment event expiration export failover filter firewall
function gateway grant group health host identity image import instance integration
interval inventory key kms label lambda launch layer lifecycle limit listener location
log maintenance member metric mode monitor mount name namespace network node notification
option origin owner parameter partition password peering permission pipeline placement
policy pool port principal priority profile protocol provider queue quota record region
replica replication repository request resource retention revision role route rule
schedule schema scope secret security segment sensitive server service session setting
shard size snapshot source stage state storage stream subnet subscription table tag target
template threshold throughput timeout token topic traffic trigger type user value vault
version volume window workload zone the a of to for is when this if must be used and with
which not that will only are specified default value allowed valid enabled configured
`)
