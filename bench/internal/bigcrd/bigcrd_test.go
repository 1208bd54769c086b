package bigcrd

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"k8s.io/apiextensions-apiserver/pkg/apis/apiextensions"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	structuralschema "k8s.io/apiextensions-apiserver/pkg/apiserver/schema"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

func TestSize(t *testing.T) {
	for _, target := range []int{10000, 100000, 400000} {
		for _, i := range []int{0, 1, 77} {
			c, err := New(i, target)
			if err != nil {
				t.Fatal(err)
			}
			// Each field counts three times, so the schema may pass the target by the slack.
			if c.SchemaBytes < target || c.SchemaBytes > target+max(target/50, 4096) {
				t.Errorf("CRD %d, target %d: schema of %d bytes", i, target, c.SchemaBytes)
			}
			raw, err := json.Marshal(c.Object)
			if err != nil {
				t.Fatal(err)
			}
			if c.Bytes != len(raw) {
				t.Errorf("CRD %d: Bytes %d, JSON %d", i, c.Bytes, len(raw))
			}
		}
	}
}

func TestLastApplied(t *testing.T) {
	c, err := New(3, 100000)
	if err != nil {
		t.Fatal(err)
	}
	meta := c.Object["metadata"].(map[string]any)
	value, _ := meta["annotations"].(map[string]any)[LastApplied].(string)
	if !c.Annotated || !strings.HasSuffix(value, "}\n") {
		t.Fatalf("annotated %v, annotation of %d bytes", c.Annotated, len(value))
	}
	// The annotation is the manifest without itself: the object doubles.
	var applied map[string]any
	if err := json.Unmarshal([]byte(value), &applied); err != nil {
		t.Fatal(err)
	}
	if _, ok := applied["metadata"].(map[string]any)["annotations"]; ok {
		t.Error("the annotation holds an annotation")
	}
	if !reflect.DeepEqual(applied["spec"], roundTrip(t, c.Object["spec"])) {
		t.Error("the annotation's spec is not the CRD's")
	}
	if c.Bytes < 2*c.SchemaBytes {
		t.Errorf("CRD of %d bytes with a schema of %d and the annotation", c.Bytes, c.SchemaBytes)
	}

	// Past the API server's limit on annotations, kubectl apply would fail: no annotation.
	big, err := New(3, MaxAnnotationBytes)
	if err != nil {
		t.Fatal(err)
	}
	if big.Annotated || big.Object["metadata"].(map[string]any)["annotations"] != nil {
		t.Error("a CRD too large for the annotation has it")
	}
}

func roundTrip(t *testing.T, v any) any {
	t.Helper()
	raw, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	var out any
	if err := json.Unmarshal(raw, &out); err != nil {
		t.Fatal(err)
	}
	return out
}

func TestDeterministicAndDistinct(t *testing.T) {
	a, _ := Schema(5, 50000)
	b, _ := Schema(5, 50000)
	c, _ := Schema(6, 50000)
	if !reflect.DeepEqual(a, b) {
		t.Error("CRD 5 differs between two runs")
	}
	fa, _ := json.Marshal(a["properties"].(map[string]any)["spec"])
	fc, _ := json.Marshal(c["properties"].(map[string]any)["spec"])
	if string(fa) == string(fc) {
		t.Error("CRDs 5 and 6 have the same spec")
	}
	if Name(6) != "unrelated6s.s9-6.bench.example.com" || Kind(6) != "Unrelated6" {
		t.Errorf("names of CRD 6: %s, %s", Name(6), Kind(6))
	}
}

// TestValid checks that the schemas are structural, as the API server requires of a v1 CRD
// (the rest of its checks are left to the run), and that the names agree.
func TestValid(t *testing.T) {
	for _, i := range []int{0, 1, 2, 41} {
		c, err := New(i, 100000)
		if err != nil {
			t.Fatal(err)
		}
		var v1 apiextensionsv1.CustomResourceDefinition
		if err := runtime.DefaultUnstructuredConverter.FromUnstructured(roundTrip(t, c.Object).(map[string]any), &v1); err != nil {
			t.Fatal(err)
		}
		if v1.Name != v1.Spec.Names.Plural+"."+v1.Spec.Group || len(v1.Spec.Versions) != 1 {
			t.Fatalf("CRD %d: name %s, %d versions", i, v1.Name, len(v1.Spec.Versions))
		}
		var props apiextensions.JSONSchemaProps
		if err := apiextensionsv1.Convert_v1_JSONSchemaProps_To_apiextensions_JSONSchemaProps(v1.Spec.Versions[0].Schema.OpenAPIV3Schema, &props, nil); err != nil {
			t.Fatal(err)
		}
		s, err := structuralschema.NewStructural(&props)
		if err != nil {
			t.Fatalf("CRD %d: %v", i, err)
		}
		if errs := structuralschema.ValidateStructural(field.NewPath("openAPIV3Schema"), s); len(errs) > 0 {
			t.Fatalf("CRD %d: %v", i, errs.ToAggregate())
		}
	}
}
