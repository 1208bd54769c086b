package graph

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/yaml"

	"github.com/kro-run/kro/api/v1alpha1"
)

// referenceMapper serves the kinds of referenceRGD.
func referenceMapper() meta.RESTMapper {
	m := testMapper().(*meta.DefaultRESTMapper)
	m.Add(schema.GroupVersionKind{Version: "v1", Kind: "Secret"}, meta.RESTScopeNamespace)
	return m
}

// referenceSchemas are testSchemas plus a Secret.
func referenceSchemas(t *testing.T) staticSchemas {
	s := testSchemas(t)
	s[schema.GroupVersionKind{Version: "v1", Kind: "Secret"}] = mustSchema(t, `{"type":"object","properties":{
	  "apiVersion":{"type":"string"},"kind":{"type":"string"},"metadata":`+objectMetaJSON+`,
	  "data":{"type":"object","additionalProperties":{"type":"string","format":"byte"}},
	  "stringData":{"type":"object","additionalProperties":{"type":"string"}},
	  "type":{"type":"string"}}}`)
	return s
}

// referenceRGD is an RGD with realistic inputs: a spec of common field types, a ConfigMap
// selected by name (shared), ConfigMaps selected by labels (members, a list), a Secret and a
// Deployment. field is put into the ConfigMap "out" (data.v, a string) or the instance status
// (status.v, any type); conditions are the expressions of the status conditions list.
func referenceRGD(t *testing.T, where, expr string, conditions ...string) *v1alpha1.ResourceGraphDefinition {
	t.Helper()
	data, status := `"static"`, `"${schema.spec.name}"`
	switch where {
	case "data":
		data = yamlString(t, "${"+expr+"}")
	case "status":
		status = yamlString(t, "${"+expr+"}")
	default:
		t.Fatalf("referenceRGD: unknown field %q", where)
	}
	var conds string
	if len(conditions) > 0 {
		conds = "\n      conditions:"
		for _, c := range conditions {
			conds += "\n      - " + yamlString(t, "${"+c+"}")
		}
	}
	src := `
metadata: {name: reference, uid: u1}
spec:
  schema:
    apiVersion: v1alpha1
    kind: Reference
    spec:
      name: string | default="app"
      accountId: string | default="123456789012"
      image: string | default="nginx:1.27.3"
      replicas: integer | default=2
      tags: '[]string'
      ports: '[]integer'
      labels: map[string]string
      config: string | default="{}"
      endpoint: string | default="https://example.com:8443/path"
      memory: string | default="512Mi"
      version: string | default="1.2.3"
      cidr: string | default="10.0.0.0/8"
      ip: string | default="10.1.2.3"
      encoded: string | default="aGVsbG8="
    status:
      v: ` + status + conds + `
  resources:
  - id: shared
    externalRef:
      apiVersion: v1
      kind: ConfigMap
      metadata: {name: platform-config}
  - id: members
    externalRef:
      apiVersion: v1
      kind: ConfigMap
      metadata:
        selector:
          matchLabels: {team: "${schema.spec.name}"}
  - id: secret
    externalRef:
      apiVersion: v1
      kind: Secret
      metadata: {name: "${schema.spec.name}-credentials"}
  - id: deployment
    template:
      apiVersion: apps/v1
      kind: Deployment
      metadata: {name: "${schema.spec.name}"}
      spec:
        replicas: ${schema.spec.replicas}
        selector: {matchLabels: {app: "${schema.spec.name}"}}
  - id: out
    template:
      apiVersion: v1
      kind: ConfigMap
      metadata: {name: "${schema.spec.name}-out"}
      data:
        v: ` + data + `
`
	rgd := &v1alpha1.ResourceGraphDefinition{}
	if err := yaml.UnmarshalStrict([]byte(src), rgd); err != nil {
		t.Fatalf("decoding RGD: %v\n%s", err, src)
	}
	return rgd
}

// yamlString quotes s for YAML (a JSON string is a YAML double-quoted scalar).
func yamlString(t *testing.T, s string) string {
	t.Helper()
	b, err := json.Marshal(s)
	if err != nil {
		t.Fatalf("quoting %q: %v", s, err)
	}
	return string(b)
}

// referenceExpressions are expressions from the reference kro's documentation and examples
// (CEL libraries page, collections, external references, status conditions), adapted to the
// inputs of referenceRGD. The reference accepts every one of them, so must we.
var referenceExpressions = map[string]struct {
	where string // "data" (a string) or "status" (any type)
	expr  string
}{
	"SortBySelectorList":      {"data", `members.sortBy(c, c.metadata.name).map(c, c.metadata.name).join(",")`},
	"SortByLiteralList":       {"data", `json.marshal([{"n": "b"}, {"n": "a"}].sortBy(e, e.n).map(e, e.n))`},
	"FilterSelectorList":      {"data", `members.filter(c, c.data.?tier.orValue("") == "gold").map(c, c.metadata.name).join(",")`},
	"AllExistsSelectorList":   {"status", `members.all(c, c.metadata.name != "") && members.exists(c, c.metadata.name == schema.spec.name)`},
	"TransformMapEntry":       {"status", `members.transformMapEntry(i, c, {c.metadata.name: i})`},
	"NestedSelectorMaps":      {"status", `members.map(c, members.filter(o, o.metadata.name < c.metadata.name).size())`},
	"Format":                  {"data", `"arn:aws:iam::%s:role/%s".format([schema.spec.accountId, schema.spec.name])`},
	"Join":                    {"data", `schema.spec.tags.join(",")`},
	"StringFunctions":         {"data", `schema.spec.name.substring(0, 2).upperAscii().replace("_", "-") + schema.spec.endpoint.split("/")[2].trim()`},
	"HashHex":                 {"data", `"%x".format([hash.sha256(schema.spec.config)])`},
	"HashBase64":              {"data", `base64.encode(hash.fnv64a(schema.metadata.uid))`},
	"Base64Decode":            {"data", `string(base64.decode(schema.spec.encoded))`},
	"SecretBytes":             {"data", `string(secret.data.?password.orValue(b""))`},
	"JSONUnmarshalField":      {"status", `json.unmarshal(schema.spec.config).database.host`},
	"JSONMarshalMap":          {"data", `json.marshal({"name": schema.spec.name, "replicas": schema.spec.replicas})`},
	"JSONRoundTrip":           {"data", `json.marshal(json.unmarshal(schema.spec.config))`},
	"SeededString":            {"data", `schema.spec.name + "-" + random.seededString(8, schema.metadata.uid)`},
	"SeededInt":               {"status", `random.seededInt(30000, 32768, schema.metadata.uid)`},
	"Merge":                   {"status", `{"app": schema.spec.name, "managed-by": "kro"}.merge(schema.spec.labels)`},
	"IndexMutation":           {"status", `lists.removeAtIndex(lists.insertAtIndex(lists.setAtIndex(schema.spec.tags, 0, "new"), 0, "DEBUG=true"), 1)`},
	"SortDistinct":            {"status", `schema.spec.tags.sort().distinct()`},
	"Range":                   {"status", `lists.range(schema.spec.replicas).map(i, schema.spec.name + "-" + string(i))`},
	"SliceFlatten":            {"status", `[schema.spec.ports, [80]].flatten().slice(0, 1)`},
	"TwoVarTransform":         {"status", `{"app": "nginx", "version": "1.19"}.transformList(k, v, k + "=" + v)`},
	"TwoVarFilterTransform":   {"status", `{"a": 1, "b": 5, "c": 3}.transformMap(k, v, v > 1, v * 10)`},
	"OptionalOrValue":         {"data", `shared.data.?LOG_LEVEL.orValue("info")`},
	"OptionalIndex":           {"data", `schema.spec.labels[?"team"].orValue(schema.spec.name)`},
	"Bind":                    {"data", `cel.bind(n, schema.spec.name, n + "-" + n)`},
	"URL":                     {"data", `url(schema.spec.endpoint).getHostname() + ":" + url(schema.spec.endpoint).getPort()`},
	"Regex":                   {"data", `schema.spec.image.find('[0-9]+\\.[0-9]+\\.[0-9]+')`},
	"Quantity":                {"status", `quantity(schema.spec.memory).isLessThan(quantity('1Gi')) && quantity('2Gi').sub(quantity(schema.spec.memory)).asInteger() > 0`},
	"Semver":                  {"status", `semver(schema.spec.version, true).compareTo(semver('2.0.0')) >= 0`},
	"SemverMajor":             {"data", `string(semver(schema.spec.version).major())`},
	"IPAndCIDR":               {"status", `isIP(schema.spec.ip) && cidr(schema.spec.cidr).containsIP(schema.spec.ip) && ip(schema.spec.ip).family() == 4`},
	"K8sLists":                {"status", `schema.spec.ports.sum() + (size(schema.spec.ports) > 0 ? schema.spec.ports.max() : 0)`},
	"ExistsOne":               {"status", `schema.spec.tags.exists_one(t, t == "prod")`},
	"DeploymentStatus":        {"status", `deployment.status.?availableReplicas.orValue(0) == schema.spec.replicas`},
	"ConditionsOfOtherObject": {"status", `deployment.status.?conditions.orValue([]).filter(c, c.type == "Available").map(c, c.status)`},
}

func TestBuildAcceptsReferenceExpressions(t *testing.T) {
	b := NewBuilder(referenceMapper(), WithSchemaResolver(referenceSchemas(t)))
	for name, tc := range referenceExpressions {
		t.Run(name, func(t *testing.T) {
			if _, err := b.Build(context.Background(), referenceRGD(t, tc.where, tc.expr)); err != nil {
				t.Errorf("Build(RGD with %s %q): %v", tc.where, tc.expr, err)
			}
		})
	}
}

func TestBuildAcceptsReferenceConditions(t *testing.T) {
	conds := []string{
		`runtime.newCondition({type: 'AppReady', status: deployment.status.?availableReplicas.orValue(0) > 0 ? 'True' : 'False', reason: 'ReplicaCount', message: ''})`,
		`runtime.newCondition({type: 'Ready', status: runtime.condition(schema, 'ResourcesReady').status == 'True' && size(members) > 0 ? 'True' : 'False', reason: 'Health', message: ''})`,
		`members.map(m, runtime.newCondition({type: 'Member-' + m.metadata.name + '-Ready', status: m.data.?ready.orValue('') == 'yes' ? 'True' : 'False', reason: 'MemberState', message: ''}))`,
	}
	b := NewBuilder(referenceMapper(), WithSchemaResolver(referenceSchemas(t)))
	for _, c := range conds {
		if _, err := b.Build(context.Background(), referenceRGD(t, "status", "schema.spec.name", c)); err != nil {
			t.Errorf("Build(RGD with condition %s): %v", c, err)
		}
	}
	if _, err := b.Build(context.Background(), referenceRGD(t, "status", "schema.spec.name", conds...)); err != nil {
		t.Errorf("Build(RGD with all conditions): %v", err)
	}
	if len(referenceExpressions) < 20 {
		t.Errorf("referenceExpressions has %d expressions, want at least 20", len(referenceExpressions))
	}
}

func TestBuildCostWarnings(t *testing.T) {
	cases := map[string]struct {
		reason       string
		where, expr  string
		wantWarnings []string // substrings, one per warning
		wantErr      string
	}{
		"Cheap": {
			reason: "an ordinary expression builds without a warning",
			where:  "data", expr: `schema.spec.tags.join(",")`,
		},
		"SortSelectorList": {
			reason: "sorting a selected list is accepted; its worst case is reported as a warning naming the field",
			where:  "data", expr: `members.sortBy(c, c.metadata.name).map(c, c.metadata.name).join(",")`,
			wantWarnings: []string{`resource "out" field "data.v": expression "members.sortBy(c, c.metadata.name).map(c, c.metadata.name).join(\",\")": estimated worst-case cost`},
		},
		"StatusField": {
			reason: "status fields are named by their path under spec.schema.status",
			where:  "status", expr: `members.map(c, members.filter(o, o.metadata.name < c.metadata.name).size())`,
			wantWarnings: []string{`spec.schema.status field "v": expression "members.map(`},
		},
		"NeverAffordable": {
			reason: "an expression that costs more than the runtime limit on every input is refused, naming resource, field and expression",
			where:  "data", expr: `string(lists.range(2000).map(i, lists.range(2000).map(j, i * j)).size())`,
			wantErr: `resource "out" field "data.v": expression "string(lists.range(2000).map(i, lists.range(2000).map(j, i * j)).size())": estimated to cost at least`,
		},
	}
	b := NewBuilder(referenceMapper(), WithSchemaResolver(referenceSchemas(t)))
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			g, err := b.Build(context.Background(), referenceRGD(t, tc.where, tc.expr))
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Errorf("%s\nBuild(...) error:\n got: %v\nwant: %s", tc.reason, err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("%s\nBuild(...): %v", tc.reason, err)
			}
			if len(g.Warnings) != len(tc.wantWarnings) {
				t.Fatalf("%s\nBuild(...).Warnings = %q, want %d warnings", tc.reason, g.Warnings, len(tc.wantWarnings))
			}
			for i, w := range tc.wantWarnings {
				if !strings.Contains(g.Warnings[i], w) {
					t.Errorf("%s\nBuild(...).Warnings[%d]:\n got: %s\nwant: %s", tc.reason, i, g.Warnings[i], w)
				}
			}
		})
	}
}
