package parser

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestParseTemplate(t *testing.T) {
	cases := map[string]struct {
		reason  string
		in      map[string]interface{}
		want    []Field
		wantErr string
	}{
		"NoExpressions": {
			reason: "A template without expressions yields no fields.",
			in: map[string]interface{}{
				"apiVersion": "v1",
				"kind":       "ConfigMap",
				"data":       map[string]interface{}{"a": "$b", "n": 1, "t": true, "z": nil},
			},
			want: nil,
		},
		"NestedMapsAndLists": {
			reason: "Fields are found in nested maps and lists, in sorted key order, with paths.",
			in: map[string]interface{}{
				"spec": map[string]interface{}{
					"replicas": "${schema.spec.replicas}",
					"template": map[string]interface{}{
						"spec": map[string]interface{}{
							"containers": []interface{}{
								map[string]interface{}{
									"name":  "web",
									"image": "${schema.spec.image}:${schema.spec.tag}",
									"args":  []interface{}{"--port", "${string(schema.spec.port)}"},
								},
							},
						},
					},
				},
				"metadata": map[string]interface{}{
					"name": "${schema.metadata.name}-app",
					"labels": map[string]interface{}{
						"app.kubernetes.io/name": "${schema.metadata.name}",
						"${not.scanned}":         "plain",
					},
				},
				"matrix": []interface{}{[]interface{}{1, "${m}"}},
			},
			want: []Field{
				{Path: "matrix[0][1]", Segments: []Segment{expr("m")}, Standalone: true},
				{Path: `metadata.labels["app.kubernetes.io/name"]`, Segments: []Segment{expr("schema.metadata.name")}, Standalone: true},
				{Path: "metadata.name", Segments: []Segment{expr("schema.metadata.name"), lit("-app")}},
				{Path: "spec.replicas", Segments: []Segment{expr("schema.spec.replicas")}, Standalone: true},
				{Path: "spec.template.spec.containers[0].args[1]", Segments: []Segment{expr("string(schema.spec.port)")}, Standalone: true},
				{Path: "spec.template.spec.containers[0].image", Segments: []Segment{expr("schema.spec.image"), lit(":"), expr("schema.spec.tag")}},
			},
		},
		"TypedCollections": {
			reason: "Typed string maps and slices are walked too.",
			in: map[string]interface{}{
				"data":  map[string]string{"k": "${a}"},
				"items": []string{"x", "${b}"},
				"objs":  []map[string]interface{}{{"f": "${c}"}},
			},
			want: []Field{
				{Path: "data.k", Segments: []Segment{expr("a")}, Standalone: true},
				{Path: "items[1]", Segments: []Segment{expr("b")}, Standalone: true},
				{Path: "objs[0].f", Segments: []Segment{expr("c")}, Standalone: true},
			},
		},
		"TopLevelOddKey": {
			reason: "A top-level key that is not an identifier is bracketed.",
			in:     map[string]interface{}{"a b": map[string]interface{}{"c": "${x}"}},
			want:   []Field{{Path: `["a b"].c`, Segments: []Segment{expr("x")}, Standalone: true}},
		},
		"ErrorNamesPath": {
			reason: "A malformed string reports its path.",
			in: map[string]interface{}{
				"spec": map[string]interface{}{"ports": []interface{}{map[string]interface{}{"port": "${schema.spec.port"}}},
			},
			wantErr: `field "spec.ports[0].port": unterminated expression at offset 0`,
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			got, err := ParseTemplate(tc.in)
			if tc.wantErr != "" {
				if err == nil || err.Error() != tc.wantErr {
					t.Fatalf("%s\nParseTemplate(...): want error %q, got %v", tc.reason, tc.wantErr, err)
				}
				return
			}
			if err != nil {
				t.Fatalf("%s\nParseTemplate(...): unexpected error: %v", tc.reason, err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("%s\nParseTemplate(...): -want, +got:\n%s", tc.reason, diff)
			}
		})
	}
}

func TestFieldExpressions(t *testing.T) {
	f := Field{Segments: []Segment{lit("a"), expr("x"), lit("-"), expr("y")}}
	if diff := cmp.Diff([]string{"x", "y"}, f.Expressions()); diff != "" {
		t.Errorf("Expressions(): -want, +got:\n%s", diff)
	}
}
