package graph

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/kube-openapi/pkg/validation/spec"
)

// staticSchemas is a schema resolver over hand-written schemas of a few core kinds.
type staticSchemas map[schema.GroupVersionKind]*spec.Schema

func (s staticSchemas) ResolveSchema(_ context.Context, gvk schema.GroupVersionKind) (*spec.Schema, error) {
	if sch, ok := s[gvk]; ok {
		return sch, nil
	}
	return nil, fmt.Errorf("no schema for %s", gvk)
}

const objectMetaJSON = `{"type":"object","properties":{
  "name":{"type":"string"},"namespace":{"type":"string"},
  "labels":{"type":"object","additionalProperties":{"type":"string"}},
  "annotations":{"type":"object","additionalProperties":{"type":"string"}}}}`

func mustSchema(t *testing.T, js string) *spec.Schema {
	t.Helper()
	s := &spec.Schema{}
	if err := json.Unmarshal([]byte(js), s); err != nil {
		t.Fatalf("schema: %v", err)
	}
	return s
}

func testSchemas(t *testing.T) staticSchemas {
	return staticSchemas{
		{Version: "v1", Kind: "ConfigMap"}: mustSchema(t, `{"type":"object","properties":{
		  "apiVersion":{"type":"string"},"kind":{"type":"string"},"metadata":`+objectMetaJSON+`,
		  "data":{"type":"object","additionalProperties":{"type":"string"}},
		  "immutable":{"type":"boolean"}}}`),
		{Group: "apps", Version: "v1", Kind: "Deployment"}: mustSchema(t, `{"type":"object","properties":{
		  "apiVersion":{"type":"string"},"kind":{"type":"string"},"metadata":`+objectMetaJSON+`,
		  "spec":{"type":"object","properties":{
		    "replicas":{"type":"integer","format":"int32"},
		    "paused":{"type":"boolean"},
		    "selector":{"type":"object","properties":{"matchLabels":{"type":"object","additionalProperties":{"type":"string"}}}},
		    "template":{"type":"object","x-kubernetes-preserve-unknown-fields":true},
		    "strategy":{"type":"object","properties":{"rollingUpdate":{"type":"object","properties":{
		      "maxSurge":{"x-kubernetes-int-or-string":true}}}}}}},
		  "status":{"type":"object","properties":{"availableReplicas":{"type":"integer"},
		    "conditions":{"type":"array","items":{"type":"object","properties":{"type":{"type":"string"},"status":{"type":"string"}}}}}}}}`),
	}
}

func typedRGD(t *testing.T, resources string) string {
	return `
  - id: deployment
    template:
      apiVersion: apps/v1
      kind: Deployment
      metadata: {name: "${schema.spec.name}"}
      spec:
        replicas: ${schema.spec.replicas}
        selector: {matchLabels: {app: "${schema.spec.name}"}}` + resources
}

func buildTyped(t *testing.T, resources string) error {
	t.Helper()
	rgd := rgdFrom(t, resources)
	rgd.Spec.Schema.Spec.Raw = []byte(`{"name":"string | default=x","replicas":"integer | default=1","enabled":"boolean","labels":"map[string]string","ports":"[]integer","values":"object"}`)
	rgd.Spec.Schema.Status.Raw = nil
	_, err := NewBuilder(testMapper(), WithSchemaResolver(testSchemas(t))).Build(context.Background(), rgd)
	return err
}

func TestTypeCheck(t *testing.T) {
	cases := map[string]struct {
		reason    string
		resources string
		want      string // substring of the error; empty means no error
	}{
		"Valid": {
			reason: "well-typed expressions, optional access, int-or-string and free-form fields pass",
			resources: typedRGD(t, `
  - id: cm
    template:
      apiVersion: v1
      kind: ConfigMap
      metadata:
        name: ${deployment.metadata.name}-cm
        labels: ${schema.spec.labels}
      data:
        replicas: ${string(deployment.status.?availableReplicas.orValue(0))}
        first: "${deployment.status.conditions.size() > 0 ? deployment.status.conditions[0].type : ''}"
        free: ${string(schema.spec.values.anything)}
      immutable: ${schema.spec.enabled}`),
		},
		"StringIntoInteger": {
			reason:    "the type of a standalone expression must fit the target field",
			resources: typedRGD(t, "") + "\n  - id: d2\n    template:\n      apiVersion: apps/v1\n      kind: Deployment\n      metadata: {name: x}\n      spec: {replicas: \"${schema.spec.name}\"}",
			want:      `resource "d2" field "spec.replicas": expression "schema.spec.name" returns string, expected integer`,
		},
		"UnknownFieldInExpression": {
			reason:    "fields are checked against the referenced resource's schema",
			resources: typedRGD(t, "\n  - id: cm\n    template:\n      apiVersion: v1\n      kind: ConfigMap\n      metadata: {name: \"${deployment.spec.nope}\"}"),
			want:      `resource "cm" field "metadata.name": expression "deployment.spec.nope": ERROR: <input>:1:16: undefined field 'nope'`,
		},
		"UnknownFieldInTemplate": {
			reason:    "template fields must exist in the kind's schema",
			resources: typedRGD(t, "\n  - id: cm\n    template:\n      apiVersion: v1\n      kind: ConfigMap\n      metadata: {name: x}\n      datum: {a: b}"),
			want:      `resource "cm": field "datum": unknown field`,
		},
		"LiteralWrongType": {
			reason:    "literal values are checked too",
			resources: typedRGD(t, "\n  - id: cm\n    template:\n      apiVersion: v1\n      kind: ConfigMap\n      metadata: {name: x}\n      immutable: \"yes\""),
			want:      `resource "cm": field "immutable": value "yes" is a string, expected boolean`,
		},
		"StringTemplateIntoBoolean": {
			reason:    "a string template yields a string",
			resources: typedRGD(t, "\n  - id: cm\n    template:\n      apiVersion: v1\n      kind: ConfigMap\n      metadata: {name: x}\n      immutable: \"x${schema.spec.name}\""),
			want:      `resource "cm" field "immutable": a string template yields a string, expected boolean`,
		},
		"ListIntoMap": {
			reason:    "lists and maps are checked structurally",
			resources: typedRGD(t, "\n  - id: cm\n    template:\n      apiVersion: v1\n      kind: ConfigMap\n      metadata: {name: x}\n      data: ${schema.spec.ports}"),
			want:      `resource "cm" field "data": expression "schema.spec.ports" returns list(int), expected map of string`,
		},
		"MapValueType": {
			reason:    "map values must fit",
			resources: typedRGD(t, "\n  - id: cm\n    template:\n      apiVersion: v1\n      kind: ConfigMap\n      metadata: {name: x}\n      data: \"${{'a': 1}}\""),
			want:      `resource "cm" field "data": expression "{'a': 1}": map value: returns int, expected string`,
		},
		"ObjectSubset": {
			reason:    "an object from another resource must be a subset of the target",
			resources: typedRGD(t, "\n  - id: d2\n    template:\n      apiVersion: apps/v1\n      kind: Deployment\n      metadata: {name: x}\n      spec:\n        selector: ${deployment.spec.selector}\n        strategy: ${deployment.spec.selector}"),
			want:      `resource "d2" field "spec.strategy": expression "deployment.spec.selector" returns an object with field "matchLabels", which object does not have`,
		},
		"SelectorReadyWhenEach": {
			reason: "readyWhen of a selector externalRef reads each selected object as each, typed with its kind's schema",
			resources: typedRGD(t, `
  - id: crew
    externalRef:
      apiVersion: v1
      kind: ConfigMap
      metadata:
        selector: {matchLabels: {crew: x}}
    readyWhen: ['${each.data.?ready.orValue("") == "true"}']`),
		},
		"SelectorReadyWhenNotEach": {
			reason: "readyWhen of a selector externalRef reads the item, not the list",
			resources: typedRGD(t, `
  - id: crew
    externalRef:
      apiVersion: v1
      kind: ConfigMap
      metadata:
        selector: {matchLabels: {crew: x}}
    readyWhen: ['${crew.size() > 0}']`),
			want: `resource "crew" field "readyWhen[0]": expression "crew.size() > 0": ERROR: <input>:1:1: undeclared reference to 'crew'`,
		},
		"SelectorReadyWhenTyped": {
			reason: "each is typed",
			resources: typedRGD(t, `
  - id: crew
    externalRef:
      apiVersion: v1
      kind: ConfigMap
      metadata:
        selector: {matchLabels: {crew: x}}
    readyWhen: ['${each.spec.replicas > 0}']`),
			want: `resource "crew" field "readyWhen[0]": expression "each.spec.replicas > 0": ERROR: <input>:1:5: undefined field 'spec'`,
		},
		"ReadyWhenTyped": {
			reason:    "readyWhen is typed with the node's own schema",
			resources: typedRGD(t, "") + "\n    readyWhen: ['${deployment.status.availableReplicas == deployment.spec.replicas}', '${deployment.status.availableReplicas}']",
			want:      `resource "deployment" field "readyWhen[1]": expression "deployment.status.availableReplicas" returns int, expected bool`,
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			err := buildTyped(t, tc.resources)
			switch {
			case tc.want == "" && err != nil:
				t.Errorf("%s\nBuild(...): unexpected error: %v", tc.reason, err)
			case tc.want != "" && err == nil:
				t.Errorf("%s\nBuild(...): want error %q, got none", tc.reason, tc.want)
			case tc.want != "" && !strings.Contains(err.Error(), tc.want):
				t.Errorf("%s\nBuild(...) error:\n got: %v\nwant: %s", tc.reason, err, tc.want)
			}
		})
	}
}
