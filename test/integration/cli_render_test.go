package integration

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	goruntime "runtime"
	"sort"
	"strings"
	"testing"

	"github.com/onsi/gomega"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	"github.com/kro-run/kro/api/v1alpha1"
	"github.com/kro-run/kro/internal/cli"
	"github.com/kro-run/kro/internal/metadata"
)

// exampleFile is a file of the examples/ directory.
func exampleFile(t *testing.T, parts ...string) []byte {
	t.Helper()
	_, file, _, _ := goruntime.Caller(0)
	raw, err := os.ReadFile(filepath.Join(append([]string{filepath.Dir(file), "..", "..", "examples"}, parts...)...))
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

// writeYAML writes objects as a YAML stream to a file in dir.
func writeYAML(t *testing.T, g gomega.Gomega, dir, name string, objs ...map[string]any) string {
	t.Helper()
	var b bytes.Buffer
	for _, o := range objs {
		raw, err := yaml.Marshal(o)
		g.Expect(err).NotTo(gomega.HaveOccurred())
		b.WriteString("---\n")
		b.Write(raw)
	}
	path := filepath.Join(dir, name)
	g.Expect(os.WriteFile(path, b.Bytes(), 0o644)).To(gomega.Succeed())
	return path
}

// TestCLIRenderMatchesController runs the webapp example on the real control plane and checks
// that `kro render`, given the live RGD, instance and children, prints exactly the objects the
// controller applied: the same set of objects, each with the same desired-state hash (a hash
// of the complete object kro applies) and every rendered field equal on the live object.
func TestCLIRenderMatchesController(t *testing.T) {
	g := gomega.NewWithT(t)
	ctx := context.Background()
	rgdYAML := exampleFile(t, "webapp", "rgd.yaml")
	applyRGD(t, g, string(rgdYAML))
	waitRGDActive(g, "webapp")

	ns := newNamespace(t, g)
	inst := &unstructured.Unstructured{}
	g.Expect(yaml.Unmarshal(exampleFile(t, "webapp", "instance.yaml"), &inst.Object)).To(gomega.Succeed())
	inst.SetNamespace(ns)
	// Argo CD's tracking id is copied to the children: render must do the same.
	inst.SetAnnotations(map[string]string{metadata.ArgoCDTrackingAnnotation: "shop:kro.run/WebApp:" + ns + "/demo"})
	g.Expect(env.client.Create(ctx, inst)).To(gomega.Succeed())
	t.Cleanup(func() { _ = env.client.Delete(context.Background(), inst) })

	// envtest runs no Deployment controller: report the Deployment available, as one would,
	// so that the Service (which waits for it) is applied too.
	g.Eventually(func(g gomega.Gomega) {
		dep := get(g, deploymentGVK, ns, "demo")
		g.Expect(dep).NotTo(gomega.BeNil())
		patch := client.MergeFrom(dep.DeepCopy())
		for _, f := range []string{"replicas", "readyReplicas", "availableReplicas"} {
			g.Expect(unstructured.SetNestedField(dep.Object, int64(2), "status", f)).To(gomega.Succeed())
		}
		g.Expect(env.client.Status().Patch(ctx, dep, patch)).To(gomega.Succeed())
	}).Should(gomega.Succeed())
	webAppGVK := instanceGVK("WebApp")
	g.Eventually(func(g gomega.Gomega) {
		got := get(g, webAppGVK, ns, "demo")
		g.Expect(str(got, "status", "state")).To(gomega.Equal("ACTIVE"))
		g.Expect(get(g, serviceGVK, ns, "demo")).NotTo(gomega.BeNil())
	}).Should(gomega.Succeed())

	// The live children, found as the controller finds them: by their ApplySet label.
	setID := metadata.ApplySetID("demo", ns, "WebApp", "kro.run")
	var live []*unstructured.Unstructured
	for _, gvk := range []schema.GroupVersionKind{configMapGVK, deploymentGVK, serviceGVK} {
		list := &unstructured.UnstructuredList{}
		list.SetGroupVersionKind(gvk.GroupVersion().WithKind(gvk.Kind + "List"))
		g.Expect(env.client.List(ctx, list, client.InNamespace(ns), client.MatchingLabels{metadata.ApplySetPartOfLabel: setID})).To(gomega.Succeed())
		for i := range list.Items {
			live = append(live, &list.Items[i])
		}
	}
	g.Expect(live).To(gomega.HaveLen(3))

	// kro render with what a user would pass: the RGD and instance as the cluster has them
	// (kubectl get -o yaml) and the live children as observed state.
	dir := t.TempDir()
	rgd := &v1alpha1.ResourceGraphDefinition{}
	g.Expect(env.client.Get(ctx, client.ObjectKey{Name: "webapp"}, rgd)).To(gomega.Succeed())
	rgdObj := map[string]any{}
	raw, err := json.Marshal(rgd)
	g.Expect(err).NotTo(gomega.HaveOccurred())
	g.Expect(json.Unmarshal(raw, &rgdObj)).To(gomega.Succeed())
	rgdObj["apiVersion"], rgdObj["kind"] = v1alpha1.GroupVersion.String(), "ResourceGraphDefinition"
	liveInst := get(g, webAppGVK, ns, "demo")
	var liveObjs []map[string]any
	for _, o := range live {
		liveObjs = append(liveObjs, o.Object)
	}
	rgdFile := writeYAML(t, g, dir, "rgd.yaml", rgdObj)
	instFile := writeYAML(t, g, dir, "instance.yaml", liveInst.Object)
	obsFile := writeYAML(t, g, dir, "observed.yaml", liveObjs...)

	var stdout, stderr bytes.Buffer
	code := cli.Run(ctx, "kro", []string{"render", "-f", rgdFile, "-i", instFile, "--observed", obsFile, "-o", "json"},
		cli.Streams{In: strings.NewReader(""), Out: &stdout, Err: &stderr})
	g.Expect(code).To(gomega.Equal(cli.ExitOK), "stderr: %s", stderr.String())
	var results []cli.RenderResult
	g.Expect(json.Unmarshal(stdout.Bytes(), &results)).To(gomega.Succeed())
	g.Expect(results).To(gomega.HaveLen(1))
	rendered := results[0].Objects

	key := func(o map[string]any) string {
		u := &unstructured.Unstructured{Object: o}
		return u.GetKind() + " " + u.GetNamespace() + "/" + u.GetName()
	}
	var renderedKeys, liveKeys []string
	for _, o := range rendered {
		renderedKeys = append(renderedKeys, key(o))
	}
	for _, o := range live {
		liveKeys = append(liveKeys, key(o.Object))
	}
	sort.Strings(renderedKeys)
	sort.Strings(liveKeys)
	g.Expect(renderedKeys).To(gomega.Equal(liveKeys), "the rendered objects are the live children")

	for _, want := range rendered {
		var got *unstructured.Unstructured
		for _, o := range live {
			if key(o.Object) == key(want) {
				got = o
			}
		}
		w := &unstructured.Unstructured{Object: want}
		// The hash covers the whole object kro applied: equal hashes, equal objects.
		g.Expect(w.GetAnnotations()[metadata.DesiredHashAnnotation]).NotTo(gomega.BeEmpty())
		g.Expect(got.GetAnnotations()[metadata.DesiredHashAnnotation]).To(
			gomega.Equal(w.GetAnnotations()[metadata.DesiredHashAnnotation]), "desired hash of %s", key(want))
		// And each rendered field is on the live object, as applied (server-set fields aside).
		g.Expect(subsetDiff(want, got.Object, "")).To(gomega.BeEmpty(), "%s differs from the live object", key(want))
	}
}

// subsetDiff lists the paths where a field of want is absent from, or different on, got.
func subsetDiff(want, got any, path string) []string {
	switch w := want.(type) {
	case map[string]any:
		g, ok := got.(map[string]any)
		if !ok {
			return []string{path}
		}
		var out []string
		for k, v := range w {
			out = append(out, subsetDiff(v, g[k], path+"."+k)...)
		}
		return out
	case []any:
		g, ok := got.([]any)
		if !ok || len(g) != len(w) {
			return []string{path}
		}
		var out []string
		for i := range w {
			out = append(out, subsetDiff(w[i], g[i], path+"[]")...)
		}
		return out
	case float64:
		if gi, ok := got.(int64); ok && float64(gi) == w {
			return nil
		}
	case int64:
		if gf, ok := got.(float64); ok && gf == float64(w) {
			return nil
		}
	}
	wj, _ := json.Marshal(want)
	gj, _ := json.Marshal(got)
	if !bytes.Equal(wj, gj) {
		return []string{path + ": " + string(wj) + " != " + string(gj)}
	}
	return nil
}
