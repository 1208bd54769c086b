package simpleschema

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"sigs.k8s.io/yaml"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden.yaml files with the current output")

// goldenInput is the layout of a testdata/*.input.yaml file.
type goldenInput struct {
	Spec  map[string]interface{} `json:"spec"`
	Types map[string]interface{} `json:"types,omitempty"`
}

// renderConversion converts input and renders the schema as YAML, or the
// error text for failing conversions.
func renderConversion(t *testing.T, in goldenInput) []byte {
	t.Helper()
	schema, err := ToOpenAPISpec(in.Spec, in.Types)
	if err != nil {
		return []byte("error: " + err.Error() + "\n")
	}
	out, err := yaml.Marshal(schema)
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
		t.Fatal("no golden inputs found in testdata")
	}
	for _, inputPath := range inputs {
		name := strings.TrimSuffix(filepath.Base(inputPath), ".input.yaml")
		t.Run(name, func(t *testing.T) {
			raw, err := os.ReadFile(inputPath)
			if err != nil {
				t.Fatal(err)
			}
			var in goldenInput
			if err := yaml.UnmarshalStrict(raw, &in); err != nil {
				t.Fatalf("parsing %s: %v", inputPath, err)
			}
			got := renderConversion(t, in)

			// Second pass: conversion must be deterministic.
			if again := renderConversion(t, in); !bytes.Equal(got, again) {
				t.Fatalf("non-deterministic output: -first, +second:\n%s", cmp.Diff(string(got), string(again)))
			}

			goldenPath := filepath.Join("testdata", name+".golden.yaml")
			if *update {
				if err := os.WriteFile(goldenPath, got, 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(goldenPath)
			if err != nil {
				t.Fatalf("reading golden file (run with -update to create it): %v", err)
			}
			if diff := cmp.Diff(string(want), string(got)); diff != "" {
				t.Errorf("ToOpenAPISpec(%s): -want, +got:\n%s", inputPath, diff)
			}
		})
	}
}
