package crd

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"sigs.k8s.io/yaml"

	"github.com/kro-run/kro/internal/simpleschema"
)

// fromSimpleSchema generates the CRD of a SimpleSchema spec given as YAML.
func fromSimpleSchema(t *testing.T, spec, types string, mods ...func(*Options)) *apiextensionsv1.CustomResourceDefinition {
	t.Helper()
	var fields, typeDefs map[string]any
	if err := yaml.Unmarshal([]byte(spec), &fields); err != nil {
		t.Fatalf("decoding spec: %v", err)
	}
	if err := yaml.Unmarshal([]byte(types), &typeDefs); err != nil {
		t.Fatalf("decoding types: %v", err)
	}
	props, err := simpleschema.ToOpenAPISpec(fields, typeDefs)
	if err != nil {
		t.Fatalf("ToOpenAPISpec(%q): %v", spec, err)
	}
	opts := Options{Group: "kro.run", Version: "v1alpha1", Kind: "App", Namespaced: true, Spec: props}
	for _, m := range mods {
		m(&opts)
	}
	return New(opts)
}

func TestCompareSchemas(t *testing.T) {
	cases := map[string]struct {
		reason string
		old    string
		new    string
		// types are custom types for old and new.
		types string
		want  []Change
	}{
		"Identical": {
			reason: "An unchanged schema has no breaking changes.",
			old:    `{name: "string | required=true", port: "integer | minimum=1"}`,
			new:    `{name: "string | required=true", port: "integer | minimum=1"}`,
		},
		"FieldAdded": {
			reason: "An optional field is safe to add.",
			old:    `{name: string}`,
			new:    `{name: string, image: string, nested: {a: string}}`,
		},
		"DescriptionAndDefaultChanged": {
			reason: "Descriptions and defaults do not reject anything.",
			old:    `{name: "string | default=a description=\"old\""}`,
			new:    `{name: "string | default=b description=\"new\""}`,
		},
		"FieldRemoved": {
			reason: "A removed field is pruned from existing instances.",
			old:    `{name: string, image: string, nested: {a: string, b: string}}`,
			new:    `{name: string, nested: {a: string}}`,
			want: []Change{
				{Path: "spec.image", Kind: FieldRemoved, Detail: "field removed"},
				{Path: "spec.nested.b", Kind: FieldRemoved, Detail: "field removed"},
			},
		},
		"TypeChanged": {
			reason: "A changed type stops the comparison below it.",
			old:    `{port: string, nested: {a: string}, list: "[]string"}`,
			new:    `{port: integer, nested: string, list: "[]integer"}`,
			want: []Change{
				{Path: "spec.list[*]", Kind: TypeChanged, Detail: "type changed from string to integer"},
				{Path: "spec.nested", Kind: TypeChanged, Detail: "type changed from object to string"},
				{Path: "spec.port", Kind: TypeChanged, Detail: "type changed from string to integer"},
			},
		},
		"FreeFormNarrowed": {
			reason: "An object that preserved unknown fields no longer does.",
			old:    `{values: object}`,
			new:    `{values: {a: string}}`,
			want: []Change{
				{Path: "spec.values", Kind: FieldRemoved, Detail: "unknown fields no longer preserved"},
			},
		},
		"RequiredAdded": {
			reason: "Existing instances may lack a newly required field.",
			old:    `{name: string}`,
			new:    `{name: "string | required=true", image: "string | required=true"}`,
			want: []Change{
				{Path: "spec.image", Kind: RequiredAdded, Detail: "required field added"},
				{Path: "spec.name", Kind: RequiredAdded, Detail: "field made required"},
			},
		},
		"RequiredWithDefaultAdded": {
			reason: "A required field with a default is filled in on read.",
			old:    `{name: string}`,
			new:    `{name: "string | required=true default=x", image: "string | required=true default=y"}`,
		},
		"RequiredDefaultRemoved": {
			reason: "Clients that omitted a required field relied on its default.",
			old:    `{name: "string | required=true default=x"}`,
			new:    `{name: "string | required=true"}`,
			want: []Change{
				{Path: "spec.name", Kind: DefaultRemoved, Detail: "default removed from required field"},
			},
		},
		"RequiredRemoved": {
			reason: "Dropping required accepts more.",
			old:    `{name: "string | required=true"}`,
			new:    `{name: string}`,
		},
		"EnumNarrowed": {
			reason: "Removed enum values reject stored values.",
			old:    `{tier: "string | enum=\"gold,silver,bronze\"", port: "integer | enum=\"80,443\""}`,
			new:    `{tier: "string | enum=\"gold\"", port: "integer | enum=\"443\""}`,
			want: []Change{
				{Path: "spec.port", Kind: EnumNarrowed, Detail: "enum values 80 removed"},
				{Path: "spec.tier", Kind: EnumNarrowed, Detail: `enum values "silver", "bronze" removed`},
			},
		},
		"EnumAdded": {
			reason: "An enum where there was none restricts any value.",
			old:    `{tier: string}`,
			new:    `{tier: "string | enum=\"gold,silver\""}`,
			want: []Change{
				{Path: "spec.tier", Kind: EnumNarrowed, Detail: `enum ["gold", "silver"] added`},
			},
		},
		"EnumWidenedOrRemoved": {
			reason: "More enum values, or none, accept more.",
			old:    `{tier: "string | enum=\"gold\"", size: "string | enum=\"s,m\""}`,
			new:    `{tier: "string | enum=\"gold,silver\"", size: string}`,
		},
		"PatternAddedAndChanged": {
			reason: "A new or different pattern may reject stored values.",
			old:    `{a: string, b: "string | pattern=\"^[a-z]+$\"", c: "string | pattern=\"^x$\""}`,
			new:    `{a: "string | pattern=\"^[a-z]+$\"", b: "string | pattern=\"^[a-z0-9]+$\"", c: string}`,
			want: []Change{
				{Path: "spec.a", Kind: PatternChanged, Detail: `pattern "^[a-z]+$" added`},
				{Path: "spec.b", Kind: PatternChanged, Detail: `pattern changed from "^[a-z]+$" to "^[a-z0-9]+$"`},
			},
		},
		"BoundsTightened": {
			reason: "Every added or tightened bound is listed.",
			old:    `{num: "integer | minimum=1 maximum=10", f: float, s: "string | maxLength=10", l: "[]string | maxItems=5"}`,
			new:    `{num: "integer | minimum=2 maximum=9", f: "float | minimum=0.5", s: "string | minLength=1 maxLength=8", l: "[]string | minItems=1 maxItems=4"}`,
			want: []Change{
				{Path: "spec.f", Kind: BoundTightened, Detail: "minimum 0.5 added"},
				{Path: "spec.l", Kind: BoundTightened, Detail: "maxItems lowered from 5 to 4"},
				{Path: "spec.l", Kind: BoundTightened, Detail: "minItems 1 added"},
				{Path: "spec.num", Kind: BoundTightened, Detail: "maximum lowered from 10 to 9"},
				{Path: "spec.num", Kind: BoundTightened, Detail: "minimum raised from 1 to 2"},
				{Path: "spec.s", Kind: BoundTightened, Detail: "maxLength lowered from 10 to 8"},
				{Path: "spec.s", Kind: BoundTightened, Detail: "minLength 1 added"},
			},
		},
		"BoundsLoosened": {
			reason: "Lower minimums, higher maximums and removed bounds accept more.",
			old:    `{num: "integer | minimum=2 maximum=9", s: "string | minLength=2 maxLength=8", l: "[]string | minItems=2 maxItems=4"}`,
			new:    `{num: "integer | minimum=1", s: "string | maxLength=10", l: "[]string | minItems=1 maxItems=5"}`,
		},
		"NestedCollections": {
			reason: "Paths name array items with [*] and map values with .*.",
			old:    `{ports: "[]string", labels: "map[string]string", matrix: "[][]integer | minItems=1"}`,
			new:    `{ports: "[]integer | maxItems=2", labels: "map[string]integer", matrix: "[][]integer | maxItems=3"}`,
			want: []Change{
				{Path: "spec.labels.*", Kind: TypeChanged, Detail: "type changed from string to integer"},
				{Path: "spec.matrix", Kind: BoundTightened, Detail: "maxItems 3 added"},
				{Path: "spec.ports", Kind: BoundTightened, Detail: "maxItems 2 added"},
				{Path: "spec.ports[*]", Kind: TypeChanged, Detail: "type changed from string to integer"},
			},
		},
		"CustomTypeInCollections": {
			reason: "Fields of custom types inside lists and maps are compared too.",
			types:  `{Port: {name: "string | required=true", port: integer, proto: string}}`,
			old:    `{ports: "[]Port", byName: "map[string]Port"}`,
			new:    `{ports: "[]map[string]string", byName: "map[string]integer"}`,
			want: []Change{
				{Path: "spec.byName.*", Kind: TypeChanged, Detail: "type changed from object to integer"},
				{Path: "spec.ports[*].port", Kind: TypeChanged, Detail: "type changed from integer to string"},
			},
		},
		"ImmutableAndValidationAdded": {
			reason: "New validation rules reject updates or values accepted before.",
			old:    `{a: string, b: string, c: "string | immutable=true"}`,
			new:    `{a: "string | immutable=true", b: "string | validation=\"self != 'x'\"", c: "string | immutable=true"}`,
			want: []Change{
				{Path: "spec.a", Kind: ValidationAdded, Detail: "field made immutable"},
				{Path: "spec.b", Kind: ValidationAdded, Detail: `validation rule "self != 'x'" added`},
			},
		},
		"ListSemanticsChanged": {
			reason: "A set rejects lists with duplicates accepted before.",
			old:    `{tags: "[]string", ordered: "[]string | listType=atomic"}`,
			new:    `{tags: "[]string | uniqueItems=true", ordered: "[]string"}`,
			want: []Change{
				{Path: "spec.tags", Kind: ListTypeChanged, Detail: "list type changed from atomic to set"},
			},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			old := fromSimpleSchema(t, tc.old, tc.types)
			new := fromSimpleSchema(t, tc.new, tc.types)
			got := Compare(old, new)
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("%s\nCompare(...): -want, +got:\n%s", tc.reason, diff)
			}
		})
	}
}

func TestCompareCRD(t *testing.T) {
	cases := map[string]struct {
		reason string
		mod    func(*apiextensionsv1.CustomResourceDefinition)
		want   []Change
	}{
		"Unchanged": {
			reason: "A CRD compared with itself has no breaking changes.",
			mod:    func(*apiextensionsv1.CustomResourceDefinition) {},
		},
		"PrinterColumnsChanged": {
			reason: "Printer columns only change kubectl output.",
			mod: func(c *apiextensionsv1.CustomResourceDefinition) {
				c.Spec.Versions[0].AdditionalPrinterColumns = nil
			},
		},
		"StatusChanged": {
			reason: "kro alone writes status, so its shape may change freely.",
			mod: func(c *apiextensionsv1.CustomResourceDefinition) {
				st := c.Spec.Versions[0].Schema.OpenAPIV3Schema.Properties["status"]
				delete(st.Properties, "url")
				c.Spec.Versions[0].Schema.OpenAPIV3Schema.Properties["status"] = st
			},
		},
		"ScopeChanged": {
			reason: "Instances cannot move between scopes.",
			mod:    func(c *apiextensionsv1.CustomResourceDefinition) { c.Spec.Scope = apiextensionsv1.ClusterScoped },
			want: []Change{
				{Path: "scope", Kind: ScopeChanged, Detail: "scope changed from Namespaced to Cluster"},
			},
		},
		"VersionRenamed": {
			reason: "A renamed version removes the old one and every instance stored in it.",
			mod:    func(c *apiextensionsv1.CustomResourceDefinition) { c.Spec.Versions[0].Name = "v1" },
			want: []Change{
				{Path: "versions[v1alpha1]", Kind: VersionRemoved, Detail: "version removed"},
			},
		},
		"VersionNotServedAndNoStatus": {
			reason: "Clients lose the version or the status endpoint.",
			mod: func(c *apiextensionsv1.CustomResourceDefinition) {
				c.Spec.Versions[0].Served = false
				c.Spec.Versions[0].Subresources = nil
			},
			want: []Change{
				{Path: "versions[v1alpha1]", Kind: SubresourceRemoved, Detail: "status subresource removed"},
				{Path: "versions[v1alpha1]", Kind: VersionNotServed, Detail: "version no longer served"},
			},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			old := fromSimpleSchema(t, `{name: string}`, "", func(o *Options) {
				o.StatusFields = map[string]apiextensionsv1.JSONSchemaProps{"url": {Type: "string"}}
			})
			new := old.DeepCopy()
			tc.mod(new)
			if diff := cmp.Diff(tc.want, Compare(old, new)); diff != "" {
				t.Errorf("%s\nCompare(...): -want, +got:\n%s", tc.reason, diff)
			}
		})
	}
}

func TestSummary(t *testing.T) {
	changes := []Change{
		{Path: "spec.a", Detail: "field removed"},
		{Path: "spec.b", Detail: "type changed from string to integer"},
		{Path: "spec.c", Detail: "field removed"},
	}
	cases := map[string]struct {
		reason string
		limit  int
		want   string
	}{
		"All": {
			reason: "Up to the limit every change is listed.",
			limit:  3,
			want:   "spec.a: field removed; spec.b: type changed from string to integer; spec.c: field removed",
		},
		"Bounded": {
			reason: "Beyond the limit the rest are counted.",
			limit:  1,
			want:   "spec.a: field removed; and 2 more",
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			if diff := cmp.Diff(tc.want, Summary(changes, tc.limit)); diff != "" {
				t.Errorf("%s\nSummary(...): -want, +got:\n%s", tc.reason, diff)
			}
		})
	}
}
