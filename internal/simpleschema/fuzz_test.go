package simpleschema

import (
	"encoding/json"
	"reflect"
	"testing"

	"sigs.k8s.io/yaml"
)

// FuzzToOpenAPISpec feeds arbitrary YAML documents (spec + types) through the
// converter. It asserts that conversion never panics and is deterministic.
func FuzzToOpenAPISpec(f *testing.F) {
	seeds := []string{
		"spec:\n  name: string | required=true\n",
		"spec:\n  replicas: integer | default=3 minimum=1 maximum=10\n",
		"spec:\n  ports: \"[]Port\"\ntypes:\n  Port: integer | minimum=1 maximum=65535\n",
		"spec:\n  a: A\ntypes:\n  A:\n    b: B\n  B:\n    a: A\n",
		"spec:\n  x: \"map[string][]map[string]T | default={}\"\ntypes:\n  T:\n    y: string | default=\"q\"\n",
		"spec:\n  t: \"[]string | listType=map listMapKey=a listMapKey=a\"\n",
		"spec:\n  d: 'string | description=\"unterminated'\n",
		"spec:\n  d: 'object | default={\"a\": [1, {\"b\": \"]\"}]}'\n",
		"spec:\n  p: 'string | pattern=\"(\" enum=\",,\"'\n",
		"spec:\n  n:\n    m:\n      o: float | default=1e308 minimum=-1e308\n",
		"spec:\n  bad: 5\n",
		"spec: {}\ntypes:\n  string: integer\n",
	}
	for _, s := range seeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, doc string) {
		var in goldenInput
		if err := yaml.Unmarshal([]byte(doc), &in); err != nil {
			return
		}
		first, err1 := ToOpenAPISpec(in.Spec, in.Types)
		second, err2 := ToOpenAPISpec(in.Spec, in.Types)
		if (err1 == nil) != (err2 == nil) || (err1 != nil && err1.Error() != err2.Error()) {
			t.Fatalf("non-deterministic error: %v vs %v", err1, err2)
		}
		if err1 != nil {
			return
		}
		if !reflect.DeepEqual(first, second) {
			t.Fatalf("non-deterministic schema for %q", doc)
		}
		if _, err := json.Marshal(first); err != nil {
			t.Fatalf("schema does not marshal: %v", err)
		}
	})
}

// FuzzParseMarkers asserts the marker tokenizer never panics, is
// deterministic and only yields valid marker names.
func FuzzParseMarkers(f *testing.F) {
	for _, s := range []string{
		"", "required", `default="a \"b\"" description=x`, `default=[1, "]", {"a": "}"}]`,
		`default={`, `x="`, "=", `pattern=[a-z]+$`, `a=[}`, `enum="a,b" listMapKey=k listMapKey=j`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		first, err1 := parseMarkers(s)
		second, err2 := parseMarkers(s)
		if (err1 == nil) != (err2 == nil) || !reflect.DeepEqual(first, second) {
			t.Fatalf("non-deterministic parse of %q", s)
		}
		for _, m := range first {
			if !isMarkerName(m.key) {
				t.Fatalf("parseMarkers(%q) produced invalid marker name %q", s, m.key)
			}
		}
		// Applying arbitrary markers to any schema type must not panic.
		for _, typ := range []string{"string", "integer", "number", "boolean", "object", "array"} {
			def := map[string]interface{}{"f": map[string]string{
				"string": "string", "integer": "integer", "number": "float",
				"boolean": "boolean", "object": "object", "array": "[]string",
			}[typ] + " | " + s}
			_, _ = ToOpenAPISpec(def, nil)
		}
	})
}
