package integration

import (
	"fmt"
	"testing"

	"github.com/onsi/gomega"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// TestRGDRejected checks that invalid graphs are refused with GraphAccepted=False and a message
// that names the resource, the field and the problem.
func TestRGDRejected(t *testing.T) {
	cases := map[string]struct {
		resources string
		message   []string
	}{
		"Cycle": {
			resources: `
  - id: a
    template:
      apiVersion: v1
      kind: ConfigMap
      metadata: {name: "${b.metadata.name}-a"}
  - id: b
    template:
      apiVersion: v1
      kind: ConfigMap
      metadata: {name: "${a.metadata.name}-b"}`,
			message: []string{"graph contains a cycle: a -> b -> a"},
		},
		"UnknownKind": {
			resources: `
  - id: widget
    template:
      apiVersion: example.com/v1
      kind: Widget
      metadata: {name: w}`,
			message: []string{`resource "widget"`, `field "kind"`, `Widget`},
		},
		"CELSyntaxError": {
			resources: `
  - id: config
    template:
      apiVersion: v1
      kind: ConfigMap
      metadata: {name: x}
      data:
        key: "${schema.spec.name +}"`,
			message: []string{`resource "config"`, `field "data.key"`, `schema.spec.name +`},
		},
		"UnknownIdentifier": {
			resources: `
  - id: config
    template:
      apiVersion: v1
      kind: ConfigMap
      metadata: {name: "${nothere.metadata.name}"}`,
			message: []string{`resource "config"`, `field "metadata.name"`, `undeclared reference to 'nothere'`},
		},
		"TypeMismatchAgainstLiveSchema": {
			resources: `
  - id: deployment
    template:
      apiVersion: apps/v1
      kind: Deployment
      metadata: {name: x}
      spec:
        replicas: ${schema.spec.name}
        selector: {matchLabels: {app: x}}
        template:
          metadata: {labels: {app: x}}
          spec: {containers: [{name: c, image: nginx}]}`,
			message: []string{`resource "deployment" field "spec.replicas": expression "schema.spec.name" returns string, expected integer`},
		},
		"UnknownFieldAgainstLiveSchema": {
			resources: `
  - id: config
    template:
      apiVersion: v1
      kind: ConfigMap
      metadata: {name: x}
      data: {a: "${schema.spec.name}"}
      datta: {b: c}`,
			message: []string{`resource "config": field "datta": unknown field`},
		},
		"UnknownFieldOfCRDKind": {
			resources: `
  - id: crd
    template:
      apiVersion: apiextensions.k8s.io/v1
      kind: CustomResourceDefinition
      metadata: {name: x}
      spec:
        group: "${schema.spec.name}"
        scopez: Namespaced`,
			message: []string{`resource "crd": field "spec.scopez": unknown field`},
		},
		"TypeMismatchOnCRDDefinedKind": {
			resources: `
  - id: widget
    template:
      apiVersion: test.kro.run/v1
      kind: ItWidget
      metadata: {name: x}
      spec:
        size: "${schema.spec.name}"`,
			message: []string{`resource "widget" field "spec.size": expression "schema.spec.name" returns string, expected integer`},
		},
		"UnknownFieldOfCRDDefinedKind": {
			resources: `
  - id: widget
    template:
      apiVersion: test.kro.run/v1
      kind: ItWidget
      metadata: {name: x}
      spec: {color: red}`,
			message: []string{`resource "widget": field "spec.color": unknown field`},
		},
		"SelfReference": {
			resources: `
  - id: config
    template:
      apiVersion: v1
      kind: ConfigMap
      metadata: {name: "${config.data.x}"}`,
			message: []string{`resource "config" references itself`},
		},
	}
	ensureWidgetCRD(t, gomega.NewWithT(t))
	i := 0
	for name, tc := range cases {
		i++
		t.Run(name, func(t *testing.T) {
			g := gomega.NewWithT(t)
			rgdName := fmt.Sprintf("it-rejected-%d", i)
			applyRGD(t, g, fmt.Sprintf(`
apiVersion: kro.run/v1alpha1
kind: ResourceGraphDefinition
metadata:
  name: %s
spec:
  schema:
    apiVersion: v1alpha1
    kind: ItRejected%d
    spec:
      name: string
  resources:%s
`, rgdName, i, tc.resources))
			g.Eventually(func(g gomega.Gomega) {
				c := rgdCondition(g, rgdName, "GraphAccepted")
				g.Expect(c.Status).To(gomega.Equal(metav1.ConditionFalse))
				g.Expect(c.Reason).To(gomega.Equal("InvalidResourceGraph"))
				for _, m := range tc.message {
					g.Expect(c.Message).To(gomega.ContainSubstring(m))
				}
				rgd := getRGD(g, rgdName)
				g.Expect(string(rgd.Status.State)).To(gomega.Equal("Inactive"))
				ready := rgdCondition(g, rgdName, "Ready")
				g.Expect(ready.Status).To(gomega.Equal(metav1.ConditionFalse))
				g.Expect(ready.Message).To(gomega.Equal(c.Message))
			}).Should(gomega.Succeed())
		})
	}
}

// TestRGDCostWarning: an expression whose worst-case cost is high but which some inputs make
// affordable is accepted, and the estimate is shown on GraphAccepted, naming field and
// expression.
func TestRGDCostWarning(t *testing.T) {
	g := gomega.NewWithT(t)
	applyRGD(t, g, `
apiVersion: kro.run/v1alpha1
kind: ResourceGraphDefinition
metadata:
  name: it-cost-warning
spec:
  schema:
    apiVersion: v1alpha1
    kind: ItCostWarning
  resources:
  - id: members
    externalRef:
      apiVersion: v1
      kind: ConfigMap
      metadata:
        selector: {matchLabels: {team: a}}
  - id: out
    template:
      apiVersion: v1
      kind: ConfigMap
      metadata: {name: "${schema.metadata.name}-out"}
      data:
        names: ${members.sortBy(c, c.metadata.name).map(c, c.metadata.name).join(",")}
`)
	waitRGDActive(g, "it-cost-warning")
	c := rgdCondition(g, "it-cost-warning", "GraphAccepted")
	g.Expect(string(c.Status)).To(gomega.Equal("True"))
	g.Expect(c.Message).To(gomega.And(gomega.ContainSubstring("warnings:"),
		gomega.ContainSubstring(`resource "out" field "data.names"`), gomega.ContainSubstring("estimated worst-case cost")))
}
