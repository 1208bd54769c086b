package integration

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	goruntime "runtime"
	"testing"

	"github.com/onsi/gomega"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

var rgdGVK = schema.GroupVersionKind{Group: "kro.run", Version: "v1alpha1", Kind: "ResourceGraphDefinition"}

// TestExamples applies every example under examples/ as a user would: existing.yaml (objects
// the example expects to exist), rgd.yaml (every RGD must become Active), then instance.yaml in
// a fresh namespace; every instance must become ACTIVE, and must be gone after deletion.
//
// There is no kube-controller-manager here, so the test plays the Deployment controller: it
// reports every Deployment of the namespace as fully available (the webapp example waits on
// that).
func TestExamples(t *testing.T) {
	_, file, _, _ := goruntime.Caller(0)
	dirs, err := filepath.Glob(filepath.Join(filepath.Dir(file), "..", "..", "examples", "*", "rgd.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if len(dirs) == 0 {
		t.Fatal("no examples found under examples/")
	}
	for _, rgdFile := range dirs {
		dir := filepath.Dir(rgdFile)
		t.Run(filepath.Base(dir), func(t *testing.T) { testExample(t, dir) })
	}
}

func testExample(t *testing.T, dir string) {
	g := gomega.NewWithT(t)
	ctx := context.Background()
	ns := newNamespace(t, g)

	// Objects the example expects to exist already.
	for _, obj := range readDocs(t, filepath.Join(dir, "existing.yaml"), false) {
		setNamespace(g, obj, ns)
		g.Expect(env.client.Create(ctx, obj)).To(gomega.Succeed(), "existing.yaml: %s %s", obj.GetKind(), obj.GetName())
	}

	// Every RGD; chained RGDs may wait for the kinds of the others, so create all, then wait.
	rgds := readDocs(t, filepath.Join(dir, "rgd.yaml"), true)
	for _, rgd := range rgds {
		g.Expect(rgd.GroupVersionKind()).To(gomega.Equal(rgdGVK), "rgd.yaml holds only RGDs")
		g.Expect(env.client.Create(ctx, rgd)).To(gomega.Succeed(), "RGD %s", rgd.GetName())
		t.Cleanup(func() { _ = env.client.Delete(context.Background(), rgd) })
	}
	for _, rgd := range rgds {
		waitRGDActive(g, rgd.GetName())
	}

	// The instances, in the fresh namespace. The client's REST mapper learns the new kinds on
	// a miss; retry while the CRDs are being served.
	instances := readDocs(t, filepath.Join(dir, "instance.yaml"), true)
	for _, inst := range instances {
		g.Eventually(func(g gomega.Gomega) {
			setNamespace(g, inst, ns)
			err := env.client.Create(ctx, inst)
			if !apierrors.IsAlreadyExists(err) {
				g.Expect(err).NotTo(gomega.HaveOccurred())
			}
		}).Should(gomega.Succeed(), "creating %s %s", inst.GetKind(), inst.GetName())
	}
	for _, inst := range instances {
		g.Eventually(func(g gomega.Gomega) {
			markDeploymentsAvailable(g, ns)
			got := get(g, inst.GroupVersionKind(), inst.GetNamespace(), inst.GetName())
			g.Expect(got).NotTo(gomega.BeNil())
			g.Expect(str(got, "status", "state")).To(gomega.Equal("ACTIVE"), "status: %v", got.Object["status"])
		}).Should(gomega.Succeed(), "%s %s/%s", inst.GetKind(), ns, inst.GetName())
	}

	// Deleting the instances removes them (and, through kro, what they created).
	for _, inst := range instances {
		err := env.client.Delete(ctx, inst)
		if !apierrors.IsNotFound(err) {
			g.Expect(err).NotTo(gomega.HaveOccurred())
		}
	}
	for _, inst := range instances {
		g.Eventually(func(g gomega.Gomega) {
			g.Expect(get(g, inst.GroupVersionKind(), inst.GetNamespace(), inst.GetName())).To(gomega.BeNil())
		}).Should(gomega.Succeed(), "deleting %s %s/%s", inst.GetKind(), ns, inst.GetName())
	}
}

// readDocs reads every non-empty YAML document of path. A missing file is an error only when
// required.
func readDocs(t *testing.T, path string, required bool) []*unstructured.Unstructured {
	t.Helper()
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) && !required {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	var out []*unstructured.Unstructured
	dec := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(data), 4096)
	for {
		obj := map[string]any{}
		if err := dec.Decode(&obj); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		if len(obj) == 0 {
			continue
		}
		out = append(out, &unstructured.Unstructured{Object: obj})
	}
	if required && len(out) == 0 {
		t.Fatalf("%s: no objects", path)
	}
	return out
}

// setNamespace puts a namespaced object into ns (cluster-scoped objects are left alone).
func setNamespace(g gomega.Gomega, obj *unstructured.Unstructured, ns string) {
	namespaced, err := env.client.IsObjectNamespaced(obj)
	g.Expect(err).NotTo(gomega.HaveOccurred())
	if namespaced {
		obj.SetNamespace(ns)
	}
}

// markDeploymentsAvailable reports every Deployment of ns as rolled out and available, as the
// Deployment controller would with a kubelet.
func markDeploymentsAvailable(g gomega.Gomega, ns string) {
	list := &unstructured.UnstructuredList{}
	list.SetGroupVersionKind(deploymentGVK.GroupVersion().WithKind("DeploymentList"))
	g.Expect(env.client.List(context.Background(), list, client.InNamespace(ns))).To(gomega.Succeed())
	for i := range list.Items {
		d := &list.Items[i]
		replicas, found, _ := unstructured.NestedInt64(d.Object, "spec", "replicas")
		if !found {
			replicas = 1
		}
		if avail, _, _ := unstructured.NestedInt64(d.Object, "status", "availableReplicas"); avail == replicas &&
			d.GetGeneration() == mustInt64(d, "status", "observedGeneration") {
			continue
		}
		patch := d.DeepCopy()
		status := map[string]any{
			"observedGeneration": d.GetGeneration(),
			"replicas":           replicas,
			"updatedReplicas":    replicas,
			"readyReplicas":      replicas,
			"availableReplicas":  replicas,
		}
		g.Expect(unstructured.SetNestedField(patch.Object, status, "status")).To(gomega.Succeed())
		err := env.client.Status().Update(context.Background(), patch)
		if !apierrors.IsConflict(err) {
			g.Expect(err).NotTo(gomega.HaveOccurred())
		}
	}
}

func mustInt64(u *unstructured.Unstructured, path ...string) int64 {
	v, _, _ := unstructured.NestedInt64(u.Object, path...)
	return v
}
