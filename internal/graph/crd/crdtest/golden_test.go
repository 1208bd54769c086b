package crdtest

import (
	"bytes"
	"context"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/yaml"

	"github.com/kro-run/kro/api/v1alpha1"
	"github.com/kro-run/kro/internal/graph"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden.yaml with the current output")

// mapper serves the kinds the test inputs template.
func mapper() meta.RESTMapper {
	m := meta.NewDefaultRESTMapper(nil)
	m.Add(schema.GroupVersionKind{Version: "v1", Kind: "ConfigMap"}, meta.RESTScopeNamespace)
	m.Add(schema.GroupVersionKind{Version: "v1", Kind: "Service"}, meta.RESTScopeNamespace)
	m.Add(schema.GroupVersionKind{Version: "v1", Kind: "Namespace"}, meta.RESTScopeRoot)
	m.Add(schema.GroupVersionKind{Group: "apps", Version: "v1", Kind: "Deployment"}, meta.RESTScopeNamespace)
	return m
}

// render builds rgd and returns its CRD as YAML, or the error text.
func render(t *testing.T, rgd *v1alpha1.ResourceGraphDefinition) []byte {
	t.Helper()
	g, err := graph.NewBuilder(mapper()).Build(context.Background(), rgd.DeepCopy())
	if err != nil {
		return []byte("error: " + err.Error() + "\n")
	}
	obj, err := runtime.DefaultUnstructuredConverter.ToUnstructured(g.CRD)
	if err != nil {
		t.Fatalf("converting CRD: %v", err)
	}
	// The status is the API server's to write; the generated CRD carries only zero values.
	delete(obj, "status")
	out, err := yaml.Marshal(obj)
	if err != nil {
		t.Fatalf("yaml.Marshal: %v", err)
	}
	return out
}

func TestGolden(t *testing.T) {
	inputs, err := filepath.Glob(filepath.Join("testdata", "*.input.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if len(inputs) == 0 {
		t.Fatal("no golden inputs in testdata")
	}
	for _, input := range inputs {
		name := strings.TrimSuffix(filepath.Base(input), ".input.yaml")
		t.Run(name, func(t *testing.T) {
			raw, err := os.ReadFile(input)
			if err != nil {
				t.Fatal(err)
			}
			rgd := &v1alpha1.ResourceGraphDefinition{}
			if err := yaml.UnmarshalStrict(raw, rgd); err != nil {
				t.Fatalf("decoding %s: %v", input, err)
			}
			got := render(t, rgd)
			if again := render(t, rgd); !bytes.Equal(got, again) {
				t.Fatalf("Build(%s) is not deterministic: -first, +second:\n%s", input, cmp.Diff(string(got), string(again)))
			}

			golden := filepath.Join("testdata", name+".golden.yaml")
			if *update {
				if err := os.WriteFile(golden, got, 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("reading golden file (run with -update to create it): %v", err)
			}
			if diff := cmp.Diff(string(want), string(got)); diff != "" {
				t.Errorf("Build(%s).CRD: -want, +got:\n%s", input, diff)
			}
		})
	}
}
