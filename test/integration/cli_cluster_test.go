package integration

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/onsi/gomega"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	"github.com/kro-run/kro/internal/cli"
)

// kubeconfig writes a kubeconfig for the test control plane.
func kubeconfig(t *testing.T) string {
	t.Helper()
	c := clientcmdapi.NewConfig()
	c.Clusters["env"] = &clientcmdapi.Cluster{Server: env.cfg.Host, CertificateAuthorityData: env.cfg.CAData}
	c.AuthInfos["env"] = &clientcmdapi.AuthInfo{ClientCertificateData: env.cfg.CertData, ClientKeyData: env.cfg.KeyData, Token: env.cfg.BearerToken}
	c.Contexts["env"] = &clientcmdapi.Context{Cluster: "env", AuthInfo: "env"}
	c.CurrentContext = "env"
	path := filepath.Join(t.TempDir(), "kubeconfig")
	if err := clientcmd.WriteToFile(*c, path); err != nil {
		t.Fatal(err)
	}
	return path
}

// runCLI runs the kro CLI in-process.
func runCLI(args ...string) (stdout, stderr string, code int) {
	var out, errOut bytes.Buffer
	code = cli.Run(context.Background(), "kro", args, cli.Streams{In: strings.NewReader(""), Out: &out, Err: &errOut})
	return out.String(), errOut.String(), code
}

const cliRGD = `
apiVersion: kro.run/v1alpha1
kind: ResourceGraphDefinition
metadata:
  name: it-cli
spec:
  schema:
    apiVersion: v1alpha1
    kind: ItCli
    spec:
      message: string | default="hello"
      extra: boolean | default=true
  resources:
  - id: config
    template:
      apiVersion: v1
      kind: ConfigMap
      metadata: {name: "${schema.metadata.name}-config"}
      data: {message: "${schema.spec.message}"}
  - id: extra
    includeWhen: ["${schema.spec.extra}"]
    template:
      apiVersion: v1
      kind: ConfigMap
      metadata: {name: "${schema.metadata.name}-extra"}
  - id: deployment
    readyWhen: ["${deployment.status.?availableReplicas.orValue(0) == deployment.spec.replicas}"]
    template:
      apiVersion: apps/v1
      kind: Deployment
      metadata: {name: "${schema.metadata.name}"}
      spec:
        replicas: 1
        selector: {matchLabels: {app: "${schema.metadata.name}"}}
        template:
          metadata: {labels: {app: "${schema.metadata.name}"}}
          spec: {containers: [{name: app, image: nginx}]}
  - id: after
    template:
      apiVersion: v1
      kind: ConfigMap
      metadata: {name: "${deployment.metadata.name}-after"}
`

// TestCLIAgainstCluster runs validate --cluster, explain and diff on the real control plane,
// on an instance whose Deployment never becomes available (envtest runs no controllers).
func TestCLIAgainstCluster(t *testing.T) {
	g := gomega.NewWithT(t)
	ctx := context.Background()
	kc := kubeconfig(t)
	dir := t.TempDir()
	rgdFile := filepath.Join(dir, "rgd.yaml")
	g.Expect(os.WriteFile(rgdFile, []byte(cliRGD), 0o644)).To(gomega.Succeed())
	applyRGD(t, g, cliRGD)
	waitRGDActive(g, "it-cli")
	ns := newNamespace(t, g)
	inst := object(g, "apiVersion: kro.run/v1alpha1\nkind: ItCli\nmetadata: {name: demo, namespace: %s}\nspec: {}\n", ns)
	g.Expect(env.client.Create(ctx, inst)).To(gomega.Succeed())
	t.Cleanup(func() { _ = env.client.Delete(context.Background(), inst) })
	g.Eventually(func(g gomega.Gomega) {
		got := get(g, instanceGVK("ItCli"), ns, "demo")
		g.Expect(str(got, "status", "state")).To(gomega.Equal("IN_PROGRESS"))
		g.Expect(get(g, configMapGVK, ns, "demo-extra")).NotTo(gomega.BeNil())
		g.Expect(get(g, deploymentGVK, ns, "demo")).NotTo(gomega.BeNil())
	}).Should(gomega.Succeed())

	t.Run("validate --cluster checks against the cluster's schemas", func(t *testing.T) {
		g := gomega.NewWithT(t)
		out, errOut, code := runCLI("validate", "--cluster", "--kubeconfig", kc, "-f", rgdFile)
		g.Expect(code).To(gomega.Equal(cli.ExitOK), "stdout: %s\nstderr: %s", out, errOut)
		g.Expect(out).To(gomega.ContainSubstring(`ResourceGraphDefinition "it-cli" is valid`))
	})

	t.Run("explain shows each resource's state and what it waits on", func(t *testing.T) {
		g := gomega.NewWithT(t)
		out, errOut, code := runCLI("explain", "itcli/demo", "-n", ns, "--kubeconfig", kc, "-o", "json")
		g.Expect(code).To(gomega.Equal(cli.ExitOK), "stderr: %s", errOut)
		var e cli.Explanation
		g.Expect(json.Unmarshal([]byte(out), &e)).To(gomega.Succeed())
		g.Expect(e.State).To(gomega.Equal("IN_PROGRESS"))
		g.Expect(e.RGD).To(gomega.Equal("it-cli"))
		byID := map[string]cli.NodeExplanation{}
		for _, r := range e.Resources {
			byID[r.ID] = r
		}
		g.Expect(byID["config"].State).To(gomega.Equal("Ready"))
		g.Expect(byID["config"].Objects).To(gomega.Equal([]string{ns + "/demo-config"}))
		g.Expect(byID["extra"].State).To(gomega.Equal("Ready"))
		dep := byID["deployment"]
		g.Expect(dep.State).To(gomega.Equal("NotReady"))
		g.Expect(dep.ReadyWhen).To(gomega.Equal([]cli.ExpressionValue{{
			Expression: "deployment.status.?availableReplicas.orValue(0) == deployment.spec.replicas", Value: "false"}}))
		g.Expect(dep.LastError).To(gomega.ContainSubstring("ResourcesReady NotReady"))
		after := byID["after"]
		g.Expect(after.State).To(gomega.Equal(cli.StatePending))
		g.Expect(after.WaitingOn).To(gomega.Equal([]string{"deployment"}))

		text, _, code := runCLI("explain", "itclis.kro.run/demo", "-n", ns, "--kubeconfig", kc)
		g.Expect(code).To(gomega.Equal(cli.ExitOK))
		t.Logf("kro explain:\n%s", text)
		g.Expect(text).To(gomega.ContainSubstring("deployment (Deployment): NotReady"))
		g.Expect(text).To(gomega.ContainSubstring("waiting on: deployment"))
	})

	t.Run("diff of the applied RGD changes nothing", func(t *testing.T) {
		g := gomega.NewWithT(t)
		out, errOut, code := runCLI("diff", "--kubeconfig", kc, "-f", rgdFile)
		g.Expect(code).To(gomega.Equal(cli.ExitOK), "stdout: %s\nstderr: %s", out, errOut)
		g.Expect(out).To(gomega.ContainSubstring("no changes"))
		g.Expect(out).To(gomega.ContainSubstring(`resource "after" pending`))
	})

	t.Run("diff of an edited RGD shows updates and prunes, and writes nothing", func(t *testing.T) {
		g := gomega.NewWithT(t)
		edited := strings.Replace(cliRGD, `message: "${schema.spec.message}"`, `message: "${schema.spec.message}!"`, 1)
		edited = strings.Replace(edited, `includeWhen: ["${schema.spec.extra}"]`, `includeWhen: ["${!schema.spec.extra}"]`, 1)
		editedFile := filepath.Join(dir, "edited.yaml")
		g.Expect(os.WriteFile(editedFile, []byte(edited), 0o644)).To(gomega.Succeed())
		out, errOut, code := runCLI("diff", "--kubeconfig", kc, "-f", editedFile, "-o", "json")
		g.Expect(code).To(gomega.Equal(cli.ExitFindings), "stdout: %s\nstderr: %s", out, errOut)
		var changes []cli.ObjectChange
		g.Expect(json.Unmarshal([]byte(out), &changes)).To(gomega.Succeed())
		actions := map[string]string{}
		for _, c := range changes {
			actions[c.Object] = c.Action
			if c.Resource == "config" {
				g.Expect(c.Diff).To(gomega.ContainSubstring("-  message: hello\n+  message: hello!\n"))
			}
		}
		g.Expect(actions).To(gomega.Equal(map[string]string{
			"ConfigMap " + ns + "/demo-config": "Update",
			"ConfigMap " + ns + "/demo-extra":  "Prune",
		}))
		// A dry run: the cluster is unchanged.
		g.Expect(str(get(g, configMapGVK, ns, "demo-config"), "data", "message")).To(gomega.Equal("hello"))
		g.Expect(get(g, configMapGVK, ns, "demo-extra")).NotTo(gomega.BeNil())

		// An instance file: its spec is what changes.
		instFile := filepath.Join(dir, "instance.yaml")
		g.Expect(os.WriteFile(instFile, []byte("apiVersion: kro.run/v1alpha1\nkind: ItCli\nmetadata: {name: demo, namespace: "+ns+"}\nspec: {message: bye}\n"), 0o644)).To(gomega.Succeed())
		out, _, code = runCLI("diff", "--kubeconfig", kc, "-f", rgdFile, "-i", instFile)
		g.Expect(code).To(gomega.Equal(cli.ExitFindings))
		t.Logf("kro diff -i:\n%s", out)
		g.Expect(out).To(gomega.ContainSubstring("# ItCli " + ns + "/demo: update ConfigMap " + ns + "/demo-config"))
		g.Expect(out).To(gomega.ContainSubstring("+  message: bye"))
		g.Expect(out).NotTo(gomega.ContainSubstring("instance-id"), "the live instance's uid is used")
	})
}
