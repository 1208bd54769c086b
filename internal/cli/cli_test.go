package cli

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestExitCodes(t *testing.T) {
	webapp := filepath.Join("..", "..", "examples", "webapp", "rgd.yaml")
	rgds := filepath.Join("testdata", "rgds")
	cases := map[string]struct {
		reason string
		stdin  string
		args   []string
		want   int
		// stdout and stderr, when set, must be contained in the output.
		stdout, stderr string
	}{
		"Valid": {
			reason: "A valid RGD exits 0.",
			args:   []string{"validate", "-f", webapp},
			want:   ExitOK,
			stdout: `ResourceGraphDefinition "webapp" is valid`,
		},
		"Findings": {
			reason: "An invalid RGD exits 1 and prints file:line: message.",
			args:   []string{"validate", "-f", filepath.Join(rgds, "err-types.yaml")},
			want:   ExitFindings,
			stdout: `testdata/rgds/err-types.yaml:13: resource "deployment" field "spec.replicas": expression "schema.spec.name" returns string, expected integer`,
		},
		"Directory": {
			reason: "A directory is read recursively; one invalid RGD makes the exit code 1.",
			args:   []string{"validate", "-f", rgds, "--crd", filepath.Join("testdata", "crds"), "-q"},
			want:   ExitFindings,
			stdout: `testdata/rgds/err-cycle.yaml:12: graph contains a cycle: a -> b -> a`,
		},
		"Stdin": {
			reason: "- reads stdin.",
			stdin:  "apiVersion: kro.run/v1alpha1\nkind: ResourceGraphDefinition\nmetadata: {name: s}\nspec:\n  schema: {apiVersion: v1, kind: S}\n  resources:\n  - id: c\n    template: {apiVersion: v1, kind: ConfigMap, metadata: {name: x}, data: {a: 1}}\n",
			args:   []string{"validate", "-f", "-"},
			want:   ExitFindings,
			stdout: `<stdin>:7: resource "c": field "data.a": value 1 is a number, expected string`,
		},
		"MissingCRD": {
			reason: "A kind neither built in nor given with --crd is a finding with a hint.",
			args:   []string{"validate", "-f", filepath.Join(rgds, "custom-kind.yaml")},
			want:   ExitFindings,
			stdout: `(offline, kro knows the built-in kinds of Kubernetes`,
		},
		"RenderJSON": {
			reason: "render -o json prints the objects, every resource's state and the status.",
			args:   []string{"render", "-f", webapp, "-i", filepath.Join("..", "..", "examples", "webapp", "instance.yaml"), "-o", "json"},
			want:   ExitOK,
			stdout: `"state": "Pending",`,
		},
		"InvalidInstance": {
			reason: "An instance the API server would reject is a finding: unknown fields, failed validations.",
			stdin:  "apiVersion: kro.run/v1alpha1\nkind: WebApp\nmetadata: {name: x}\nspec: {name: x, replicas: 11, colour: red}\n",
			args:   []string{"render", "-f", webapp, "-i", "-"},
			want:   ExitFindings,
			stderr: `<stdin>:1: WebApp "x": unknown field "spec.colour"`,
		},
		"UnknownInstanceKind": {
			reason: "An instance of a kind no RGD of the input defines is an input error.",
			stdin:  "apiVersion: kro.run/v1alpha1\nkind: Other\nmetadata: {name: x}\n",
			args:   []string{"render", "-f", webapp, "-i", "-"},
			want:   ExitUsage,
			stderr: "no RGD of the input defines kind Other",
		},
		"RenderWithoutInstance": {
			reason: "render needs -i.",
			args:   []string{"render", "-f", webapp},
			want:   ExitUsage,
			stderr: "no instance",
		},
		"StdinTwice": {
			reason: "- read by -f and -i is the same stdin: RGD and instance in one stream.",
			stdin:  "apiVersion: kro.run/v1alpha1\nkind: ResourceGraphDefinition\nmetadata: {name: s}\nspec:\n  schema: {apiVersion: v1, kind: S, spec: {v: string | default=x}}\n  resources:\n  - id: c\n    template: {apiVersion: v1, kind: ConfigMap, metadata: {name: c}, data: {v: '${schema.spec.v}'}}\n---\napiVersion: kro.run/v1\nkind: S\nmetadata: {name: i}\n",
			args:   []string{"render", "-f", "-", "-i", "-"},
			want:   ExitOK,
			stdout: "data:\n  v: x\n",
		},
		"NullField": {
			reason: "A null where the RGD CRD wants an object is dropped, as the API server drops it.",
			stdin:  "apiVersion: kro.run/v1alpha1\nkind: ResourceGraphDefinition\nmetadata: {name: nulls}\nspec:\n  schema: {apiVersion: v1, kind: Nulls, types: null}\n",
			args:   []string{"validate", "-f", "-"},
			want:   ExitOK,
		},
		"NoInput": {
			reason: "Without -f the usage is wrong: exit 2.",
			args:   []string{"validate"},
			want:   ExitUsage,
			stderr: "Error: no input: pass -f <file|directory|->",
		},
		"UnknownFlag": {
			reason: "An unknown flag is a usage error.",
			args:   []string{"validate", "--nope"},
			want:   ExitUsage,
			stderr: "Run 'kro --help' for usage.",
		},
		"BadOutput": {
			reason: "An unknown output format is a usage error.",
			args:   []string{"validate", "-f", webapp, "-o", "xml"},
			want:   ExitUsage,
		},
		"Unreadable": {
			reason: "A file that does not exist is an I/O error: exit 2.",
			args:   []string{"validate", "-f", "testdata/nope.yaml"},
			want:   ExitUsage,
			stderr: "no such file or directory",
		},
		"BadYAML": {
			reason: "Input that is not YAML is an input error.",
			stdin:  "a: [b\n",
			args:   []string{"validate", "-f", "-"},
			want:   ExitUsage,
			stderr: "<stdin>",
		},
		"NoRGD": {
			reason: "Input without any RGD is an input error.",
			stdin:  "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n",
			args:   []string{"validate", "-f", "-"},
			want:   ExitUsage,
			stderr: "no ResourceGraphDefinition",
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			got := run(t, tc.stdin, tc.args...)
			if diff := cmp.Diff(tc.want, got.code); diff != "" {
				t.Errorf("%s\nkro %s: exit code -want, +got:\n%s\n%s", tc.reason, strings.Join(tc.args, " "), diff, got)
			}
			if !strings.Contains(got.stdout, tc.stdout) {
				t.Errorf("%s\nkro %s: stdout does not contain %q:\n%s", tc.reason, strings.Join(tc.args, " "), tc.stdout, got.stdout)
			}
			if !strings.Contains(got.stderr, tc.stderr) {
				t.Errorf("%s\nkro %s: stderr does not contain %q:\n%s", tc.reason, strings.Join(tc.args, " "), tc.stderr, got.stderr)
			}
		})
	}
}

func TestKubectlPlugin(t *testing.T) {
	var out strings.Builder
	code := Run(context.Background(), "kubectl-kro", []string{"validate", "--help"}, Streams{In: strings.NewReader(""), Out: &out, Err: &out})
	if code != ExitOK {
		t.Fatalf("kubectl-kro validate --help: exit %d:\n%s", code, out.String())
	}
	if !strings.Contains(out.String(), "kubectl kro validate -f") {
		t.Errorf("kubectl-kro validate --help: usage does not name the plugin \"kubectl kro\":\n%s", out.String())
	}
}

func TestCompletion(t *testing.T) {
	for _, shell := range []string{"bash", "zsh", "fish", "powershell"} {
		got := run(t, "", "completion", shell)
		if got.code != ExitOK || !strings.Contains(got.stdout, "kro") {
			t.Errorf("kro completion %s: exit %d, output:\n%.200s", shell, got.code, got.stdout)
		}
	}
	got := run(t, "", "__complete", "generate", "diagram", "--format", "")
	if !strings.Contains(got.stdout, "mermaid\ndot\nsvg\n") {
		t.Errorf("completing --format: got\n%s", got.stdout)
	}
}
