package cli

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

var update = flag.Bool("update", false, "rewrite testdata/golden/*.golden with the current output")

// result is what one run of the CLI printed and returned.
type result struct {
	stdout, stderr string
	code           int
}

func (r result) String() string {
	var b strings.Builder
	b.WriteString(r.stdout)
	if r.stderr != "" {
		b.WriteString("--- stderr\n")
		b.WriteString(r.stderr)
	}
	fmt.Fprintf(&b, "--- exit %d\n", r.code)
	return b.String()
}

// run runs the CLI with args and stdin.
func run(t *testing.T, stdin string, args ...string) result {
	t.Helper()
	var out, errOut bytes.Buffer
	code := Run(context.Background(), "kro", args, Streams{In: strings.NewReader(stdin), Out: &out, Err: &errOut})
	return result{stdout: out.String(), stderr: errOut.String(), code: code}
}

// checkGolden compares got with testdata/golden/name.golden, or rewrites it with -update.
func checkGolden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", "golden", name+".golden")
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("reading golden file (run go test ./internal/cli -update): %v", err)
	}
	if diff := cmp.Diff(string(want), got); diff != "" {
		t.Errorf("%s: -want, +got:\n%s", path, diff)
	}
}

// goldenInput is an RGD file of the golden tests, with its instance when it has one.
type goldenInput struct {
	name, rgd, instance, observed string
}

// goldenInputs are every RGD of testdata/rgds and every example under examples/.
func goldenInputs(t *testing.T) []goldenInput {
	t.Helper()
	var out []goldenInput
	rgds, err := filepath.Glob(filepath.Join("testdata", "rgds", "*.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range rgds {
		name := strings.TrimSuffix(filepath.Base(f), ".yaml")
		in := goldenInput{name: name, rgd: f}
		if inst := filepath.Join("testdata", "instances", name+".yaml"); exists(inst) {
			in.instance = inst
		}
		if obs := filepath.Join("testdata", "observed", name); exists(obs) {
			in.observed = obs
		}
		out = append(out, in)
	}
	examples, err := filepath.Glob(filepath.Join("..", "..", "examples", "*", "rgd.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if len(examples) == 0 {
		t.Fatal("no examples found under examples/")
	}
	for _, f := range examples {
		dir := filepath.Dir(f)
		in := goldenInput{name: "example-" + filepath.Base(dir), rgd: f}
		if inst := filepath.Join(dir, "instance.yaml"); exists(inst) {
			in.instance = inst
		}
		if obs := filepath.Join("testdata", "observed", in.name); exists(obs) {
			in.observed = obs
		}
		out = append(out, in)
	}
	return out
}

func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

// TestGolden runs every command on every golden input, twice: the output must match the
// golden file and be the same both times.
func TestGolden(t *testing.T) {
	crds := filepath.Join("testdata", "crds")
	for _, in := range goldenInputs(t) {
		commands := map[string][]string{
			"validate": {"validate", "-f", in.rgd, "--crd", crds},
			"crd":      {"generate", "crd", "-f", in.rgd, "--crd", crds},
		}
		if !strings.HasPrefix(in.name, "err-") {
			commands["instance"] = []string{"generate", "instance", "-f", in.rgd, "--crd", crds}
			commands["mermaid"] = []string{"generate", "diagram", "-f", in.rgd, "--crd", crds}
			commands["dot"] = []string{"generate", "diagram", "--format", "dot", "-f", in.rgd, "--crd", crds}
			if in.instance != "" {
				commands["render"] = []string{"render", "-f", in.rgd, "-i", in.instance, "--crd", crds, "--all"}
			}
			if in.observed != "" {
				commands["render-observed"] = []string{"render", "-f", in.rgd, "-i", in.instance, "--crd", crds, "--all", "--observed", in.observed}
			}
			if in.name != "chained" {
				commands["svg"] = []string{"generate", "diagram", "--format", "svg", "-f", in.rgd, "--crd", crds}
			}
		}
		for cmdName, args := range commands {
			t.Run(in.name+"/"+cmdName, func(t *testing.T) {
				got := run(t, "", args...).String()
				if again := run(t, "", args...).String(); again != got {
					t.Fatalf("kro %s is not deterministic: -first, +second:\n%s", strings.Join(args, " "), cmp.Diff(got, again))
				}
				checkGolden(t, in.name+"."+cmdName, got)
			})
		}
	}
}
