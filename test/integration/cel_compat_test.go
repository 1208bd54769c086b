package integration

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/onsi/gomega"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// TestReferenceExpressions builds an RGD of expressions from the reference kro's docs that a
// static cost estimate used to refuse (sorting a label-selected list, sorting a literal list)
// next to the common libraries, and checks it becomes Active and computes the reference's
// values on a live cluster.
func TestReferenceExpressions(t *testing.T) {
	g := gomega.NewWithT(t)
	ctx := context.Background()
	status := [][2]string{
		{"replicas", `json.unmarshal('{"replicas": 3}').replicas`},
		{"labels", `{"app": "web"}.merge(schema.spec.labels)`},
		{"gold", `members.filter(c, c.data.?tier.orValue("") == "gold").map(c, c.metadata.name)`},
	}
	data := [][2]string{
		{"sorted", `members.sortBy(c, c.metadata.name).map(c, c.metadata.name).join(",")`},
		{"literal", `json.marshal([{"n": "b"}, {"n": "a"}].sortBy(e, e.n).map(e, e.n))`},
		{"sha", `"%x".format([hash.sha256("abc")])`},
		{"decoded", `string(base64.decode("aGVsbG8="))`},
		{"suffix", `random.seededString(8, schema.metadata.uid)`},
		{"fits", `string(quantity("1Gi").isGreaterThan(quantity(schema.spec.memory)))`},
		{"minor", `string(semver("v1.2", true).minor())`},
		{"owner", `schema.spec.labels[?"owner"].orValue("nobody")`},
		{"edited", `lists.insertAtIndex(["b"], 0, "a").join(",")`},
		{"all", `string(members.all(c, c.metadata.name.startsWith("m-")))`},
	}
	applyRGD(t, g, `
apiVersion: kro.run/v1alpha1
kind: ResourceGraphDefinition
metadata:
  name: it-cel-compat
spec:
  schema:
    apiVersion: v1alpha1
    kind: ItCelCompat
    spec:
      team: string
      memory: string | default="512Mi"
      labels: map[string]string
    status: `+expressionFields(g, status)+`
  resources:
  - id: members
    externalRef:
      apiVersion: v1
      kind: ConfigMap
      metadata:
        selector:
          matchLabels: {team: "${schema.spec.team}"}
  - id: out
    template:
      apiVersion: v1
      kind: ConfigMap
      metadata: {name: "${schema.metadata.name}-out"}
      data: `+expressionFields(g, data)+`
`)
	waitRGDActive(g, "it-cel-compat")

	ns := newNamespace(t, g)
	for _, name := range []string{"m-c", "m-a", "m-b"} {
		tier := "silver"
		if name == "m-b" {
			tier = "gold"
		}
		g.Expect(env.client.Create(ctx, object(g, "{apiVersion: v1, kind: ConfigMap, metadata: {name: %s, namespace: %s, labels: {team: blue}}, data: {tier: %s}}", name, ns, tier))).To(gomega.Succeed())
	}
	gvk := instanceGVK("ItCelCompat")
	g.Expect(env.client.Create(ctx, object(g, "{apiVersion: kro.run/v1alpha1, kind: ItCelCompat, metadata: {name: cc, namespace: %s}, spec: {team: blue, labels: {owner: ops}}}", ns))).To(gomega.Succeed())

	g.Eventually(func(g gomega.Gomega) {
		out := get(g, configMapGVK, ns, "cc-out")
		g.Expect(out).NotTo(gomega.BeNil())
		data, _, _ := unstructured.NestedStringMap(out.Object, "data")
		g.Expect(data).To(gomega.HaveKeyWithValue("sorted", "m-a,m-b,m-c"))
		g.Expect(data).To(gomega.HaveKeyWithValue("literal", `["a","b"]`))
		g.Expect(data).To(gomega.HaveKeyWithValue("sha", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"))
		g.Expect(data).To(gomega.HaveKeyWithValue("decoded", "hello"))
		g.Expect(data["suffix"]).To(gomega.MatchRegexp(`^[0-9a-z]{8}$`))
		g.Expect(data).To(gomega.HaveKeyWithValue("fits", "true"))
		g.Expect(data).To(gomega.HaveKeyWithValue("minor", "2"))
		g.Expect(data).To(gomega.HaveKeyWithValue("owner", "ops"))
		g.Expect(data).To(gomega.HaveKeyWithValue("edited", "a,b"))
		g.Expect(data).To(gomega.HaveKeyWithValue("all", "true"))

		inst := get(g, gvk, ns, "cc")
		g.Expect(inst).NotTo(gomega.BeNil())
		g.Expect(str(inst, "status", "state")).To(gomega.Equal("ACTIVE"))
		// A JSON number is a double in CEL and a plain 3 in the object.
		replicas, found, err := unstructured.NestedFieldNoCopy(inst.Object, "status", "replicas")
		g.Expect(err).NotTo(gomega.HaveOccurred())
		g.Expect(found).To(gomega.BeTrue())
		g.Expect(replicas).To(gomega.BeEquivalentTo(3))
		labels, _, _ := unstructured.NestedStringMap(inst.Object, "status", "labels")
		g.Expect(labels).To(gomega.Equal(map[string]string{"app": "web", "owner": "ops"}))
		gold, _, _ := unstructured.NestedStringSlice(inst.Object, "status", "gold")
		g.Expect(gold).To(gomega.Equal([]string{"m-b"}))
	}).Should(gomega.Succeed())
}

// expressionFields is a flow mapping of fields, each a standalone ${...} expression.
func expressionFields(g gomega.Gomega, fields [][2]string) string {
	var b strings.Builder
	b.WriteString("{")
	for i, f := range fields {
		v, err := json.Marshal("${" + f[1] + "}")
		g.Expect(err).NotTo(gomega.HaveOccurred())
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "%s: %s", f[0], v)
	}
	b.WriteString("}")
	return b.String()
}

// TestRuntimeCostLimitOnInstance checks that an expression whose cost depends on its input is
// accepted, works on small input, and that an evaluation running past the runtime cost limit
// is reported on the instance naming the resource, the field and the expression.
func TestRuntimeCostLimitOnInstance(t *testing.T) {
	g := gomega.NewWithT(t)
	ctx := context.Background()
	const expr = `string(lists.range(schema.spec.count).map(i, lists.range(schema.spec.count).map(j, i * j)).size())`
	applyRGD(t, g, `
apiVersion: kro.run/v1alpha1
kind: ResourceGraphDefinition
metadata:
  name: it-cel-cost
spec:
  schema:
    apiVersion: v1alpha1
    kind: ItCelCost
    spec:
      count: integer | default=3
  resources:
  - id: out
    template:
      apiVersion: v1
      kind: ConfigMap
      metadata: {name: "${schema.metadata.name}-out"}
      data: `+expressionFields(g, [][2]string{{"count", expr}})+`
`)
	waitRGDActive(g, "it-cel-cost")

	ns := newNamespace(t, g)
	gvk := instanceGVK("ItCelCost")
	g.Expect(env.client.Create(ctx, object(g, "{apiVersion: kro.run/v1alpha1, kind: ItCelCost, metadata: {name: cost, namespace: %s}}", ns))).To(gomega.Succeed())
	g.Eventually(func(g gomega.Gomega) {
		out := get(g, configMapGVK, ns, "cost-out")
		g.Expect(out).NotTo(gomega.BeNil())
		g.Expect(str(out, "data", "count")).To(gomega.Equal("3"))
		g.Expect(str(get(g, gvk, ns, "cost"), "status", "state")).To(gomega.Equal("ACTIVE"))
	}).Should(gomega.Succeed())

	patchSpec(g, gvk, ns, "cost", map[string]any{"count": int64(3000)})
	g.Eventually(func(g gomega.Gomega) {
		inst := get(g, gvk, ns, "cost")
		g.Expect(str(inst, "status", "state")).To(gomega.Equal("ERROR"))
		c := condition(inst, "ResourcesReady")
		g.Expect(c).NotTo(gomega.BeNil())
		g.Expect(c["status"]).To(gomega.Equal(string(metav1.ConditionFalse)))
		g.Expect(c["message"]).To(gomega.ContainSubstring(`resource "out" field "data.count": expression "` + expr + `": evaluation ran past the cost limit of 1000000`))
	}).Should(gomega.Succeed())
	// The object keeps its last good value.
	g.Expect(str(get(g, configMapGVK, ns, "cost-out"), "data", "count")).To(gomega.Equal("3"))
}

// TestCustomConditionRulesOnRGD checks the reference's static rules for custom conditions on a
// live RGD: reading a custom type from schema is refused, naming the entry and expression.
func TestCustomConditionRulesOnRGD(t *testing.T) {
	g := gomega.NewWithT(t)
	applyRGD(t, g, `
apiVersion: kro.run/v1alpha1
kind: ResourceGraphDefinition
metadata:
  name: it-cel-conditions
spec:
  schema:
    apiVersion: v1alpha1
    kind: ItCelConditions
    spec:
      name: string
    status:
      conditions:
      - "${runtime.newCondition({type: 'PrimaryReady', status: 'True', reason: '', message: ''})}"
      - "${runtime.newCondition({type: 'Ready', status: runtime.condition(schema, 'PrimaryReady').status, reason: '', message: ''})}"
  resources:
  - id: config
    template:
      apiVersion: v1
      kind: ConfigMap
      metadata: {name: "${schema.spec.name}"}
`)
	g.Eventually(func(g gomega.Gomega) {
		c := rgdCondition(g, "it-cel-conditions", "GraphAccepted")
		g.Expect(c.Status).To(gomega.Equal(metav1.ConditionFalse))
		g.Expect(c.Message).To(gomega.ContainSubstring(`spec.schema.status.conditions[1]: runtime.condition(schema, "PrimaryReady"): custom conditions cannot reference each other in expression`))
	}).Should(gomega.Succeed())
}
