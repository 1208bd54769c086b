package install

import (
	"bytes"
	"context"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/onsi/gomega"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	authorizationv1 "k8s.io/api/authorization/v1"
	coordinationv1 "k8s.io/api/coordination/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/rest"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/kro-run/kro/internal/app"
)

// serviceAccount is the user kro runs as in config/aggregation.
const serviceAccount = "system:serviceaccount:kro-system:kro"

// instanceName is the name of the test's instance: no metric label may carry it.
const instanceName = "scrape-probe"

// TestAggregationRBACAndMetrics runs kro as its ServiceAccount under the RBAC of
// config/aggregation, with the example per-RGD ClusterRole of docs/operations.md, leader
// election on: it serves examples/webapp (an RGD it may not serve until the example role is
// there), and its health and metrics endpoints answer as an operator's probes and Prometheus
// would see them.
func TestAggregationRBACAndMetrics(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	g := gomega.NewWithT(t)
	w := &warnings{}
	c := newClient(t, w)

	bundle, err := Kustomize("config/aggregation")
	if err != nil {
		t.Fatal(err)
	}
	applyAll(ctx, t, c, bundle)
	// Another test may have installed config/default's unrestricted role, which would grant
	// everything once aggregated; this test is about the aggregation mode alone.
	unrestricted := &rbacv1.ClusterRole{}
	unrestricted.Name = "kro:controller:unrestricted"
	if err := c.Delete(ctx, unrestricted); err != nil && !apierrors.IsNotFound(err) {
		t.Fatal(err)
	}
	aggregate(ctx, t, c, "kro:controller:static")
	// The API server's RBAC authorizer sees role changes through its informers, a moment later.
	g.Eventually(func() bool { return allowed(ctx, t, c, "kro.run", "resourcegraphdefinitions", "watch") },
		timeout, interval).Should(gomega.BeTrue(), "kro may watch RGDs")
	g.Eventually(func() bool { return allowed(ctx, t, c, "apps", "deployments", "create") },
		timeout, interval).Should(gomega.BeFalse(), "kro may not create Deployments yet")
	g.Expect(allowed(ctx, t, c, "", "secrets", "list")).To(gomega.BeFalse(), "kro may not list Secrets")

	metricsAddr, probeAddr := freeAddr(t), freeAddr(t)
	stop := startKro(t, metricsAddr, probeAddr)
	defer stop()

	examples := filepath.Join(Root(), "examples", "webapp")
	rgd := decodeFile(t, filepath.Join(examples, "rgd.yaml"))
	applyAll(ctx, t, c, []*unstructured.Unstructured{rgd})
	// Leave the cluster as found (while kro still runs: it removes its finalizer), so that the
	// test can run again on it (go test -count=2).
	defer cleanup(ctx, t, c, rgd)
	// Without the example role kro cannot watch WebApps, Deployments, Services and ConfigMaps:
	// the RGD is not Active.
	g.Eventually(func() error {
		return c.Get(ctx, client.ObjectKey{Name: "webapps.kro.run"}, &unstructured.Unstructured{Object: map[string]any{
			"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition"}})
	}, timeout, interval).Should(gomega.Succeed(), "kro generates the WebApp CRD")
	g.Consistently(func() string { return rgdState(ctx, g, c) }, 3*time.Second, interval).ShouldNot(gomega.Equal("Active"))

	// The docs' example role, aggregated, is all kro needs.
	applyAll(ctx, t, c, []*unstructured.Unstructured{docsExampleRole(t)})
	aggregate(ctx, t, c, "kro:controller:static", "kro:rgd:webapp")
	g.Eventually(func() string { return rgdState(ctx, g, c) }, timeout, interval).Should(gomega.Equal("Active"))

	inst := decodeFile(t, filepath.Join(examples, "instance.yaml"))
	inst.SetName(instanceName)
	g.Expect(unstructured.SetNestedField(inst.Object, instanceName, "spec", "name")).To(gomega.Succeed())
	applyAll(ctx, t, c, []*unstructured.Unstructured{inst})
	// No kubelet or deployment controller: play them, so that readyWhen holds.
	deployment := &unstructured.Unstructured{}
	deployment.SetGroupVersionKind(schema.GroupVersionKind{Group: "apps", Version: "v1", Kind: "Deployment"})
	g.Eventually(func() error {
		return c.Get(ctx, client.ObjectKey{Namespace: "default", Name: instanceName}, deployment)
	}, timeout, interval).Should(gomega.Succeed(), "kro creates the Deployment")
	patch := client.MergeFrom(deployment.DeepCopy())
	g.Expect(unstructured.SetNestedMap(deployment.Object, map[string]any{
		"observedGeneration": deployment.GetGeneration(), "replicas": int64(2), "readyReplicas": int64(2),
		"availableReplicas": int64(2), "updatedReplicas": int64(2),
	}, "status")).To(gomega.Succeed())
	g.Expect(c.Status().Patch(ctx, deployment, patch)).To(gomega.Succeed())
	g.Eventually(func() string { return instanceState(ctx, g, c, inst) }, timeout, interval).Should(gomega.Equal("ACTIVE"))

	// Leader election worked with the leader election Role.
	lease := &coordinationv1.Lease{}
	g.Expect(c.Get(ctx, client.ObjectKey{Namespace: "kro-system", Name: app.LeaderElectionID}, lease)).To(gomega.Succeed())
	g.Expect(lease.Spec.HolderIdentity).NotTo(gomega.BeNil())

	for _, path := range []string{"/healthz", "/readyz"} {
		resp, err := http.Get("http://" + probeAddr + path)
		g.Expect(err).NotTo(gomega.HaveOccurred())
		_ = resp.Body.Close()
		g.Expect(resp.StatusCode).To(gomega.Equal(http.StatusOK), path)
	}

	families := scrape(t, metricsAddr)
	checkLabelsBounded(t, families)
	for _, want := range []struct {
		name   string
		labels map[string]string
		min    float64
	}{
		{"controller_runtime_reconcile_total", map[string]string{"controller": "resourcegraphdefinition"}, 1},
		{"controller_runtime_reconcile_total", map[string]string{"controller": "WebApp.kro.run"}, 1},
		{"controller_runtime_reconcile_errors_total", map[string]string{"controller": "WebApp.kro.run"}, 0},
		{"controller_runtime_reconcile_time_seconds", map[string]string{"controller": "WebApp.kro.run"}, 1},
		{"controller_runtime_reconcile_time_seconds", map[string]string{"controller": "resourcegraphdefinition"}, 1},
		{"workqueue_depth", map[string]string{"name": "WebApp.kro.run"}, 0},
		{"workqueue_depth", map[string]string{"name": "resourcegraphdefinition"}, 0},
		{"workqueue_adds_total", map[string]string{"name": "WebApp.kro.run"}, 1},
		{"kro_graph_builds_total", map[string]string{"result": "accepted"}, 1},
		{"kro_graph_build_duration_seconds", nil, 1},
		{"kro_instance_applies_total", map[string]string{"kind": "WebApp.kro.run", "result": "success"}, 3},
		{"kro_instance_state_transitions_total", map[string]string{"kind": "WebApp.kro.run", "state": "ACTIVE"}, 1},
		{"kro_instances", map[string]string{"rgd": "webapp", "state": "ACTIVE"}, 1},
		{"kro_cel_evaluations_total", map[string]string{"result": "success"}, 1},
		{"kro_cel_evaluation_cost", nil, 1},
		{"kro_engine_controllers", nil, 1},
		{"kro_engine_watches", nil, 1},
		{"kro_engine_informers", map[string]string{"group": "apps", "version": "v1", "kind": "Deployment"}, 1},
	} {
		got, ok := value(families, want.name, want.labels)
		if !ok || got < want.min {
			t.Errorf("/metrics: %s%v = %v (found: %v), want at least %v", want.name, want.labels, got, ok, want.min)
		}
	}

	// Deleting the instance deletes its three resources; it leaves the instance count.
	g.Expect(c.Delete(ctx, inst)).To(gomega.Succeed())
	g.Eventually(func() bool {
		return apierrors.IsNotFound(c.Get(ctx, client.ObjectKeyFromObject(inst), inst.DeepCopy()))
	}, timeout, interval).Should(gomega.BeTrue(), "the instance is deleted")
	families = scrape(t, metricsAddr)
	if got, _ := value(families, "kro_instance_deletions_total", map[string]string{"kind": "WebApp.kro.run"}); got < 3 {
		t.Errorf("/metrics: kro_instance_deletions_total{kind=WebApp.kro.run} = %v, want at least 3", got)
	}
	if got, ok := value(families, "kro_instances", map[string]string{"rgd": "webapp"}); ok {
		t.Errorf("/metrics: kro_instances{rgd=webapp} = %v after the last instance went, want no series", got)
	}
	checkLabelsBounded(t, families)
	noWarnings(t, w, "installing and using kro")
}

// cleanup deletes the RGD, its CRD and the docs' example role, and waits until they are gone.
func cleanup(ctx context.Context, t *testing.T, c client.Client, rgd *unstructured.Unstructured) {
	t.Helper()
	crd := &unstructured.Unstructured{}
	crd.SetAPIVersion("apiextensions.k8s.io/v1")
	crd.SetKind("CustomResourceDefinition")
	crd.SetName("webapps.kro.run")
	role := &rbacv1.ClusterRole{}
	role.Name = "kro:rgd:webapp"
	for _, o := range []client.Object{rgd, crd, role} {
		if err := c.Delete(ctx, o); err != nil && !apierrors.IsNotFound(err) {
			t.Errorf("cleanup: deleting %s: %v", o.GetName(), err)
			continue
		}
		gomega.NewWithT(t).Eventually(func() bool {
			return apierrors.IsNotFound(c.Get(ctx, client.ObjectKeyFromObject(o), o.DeepCopyObject().(client.Object)))
		}, timeout, interval).Should(gomega.BeTrue(), "cleanup: %s is deleted", o.GetName())
	}
}

// startKro runs a kro manager as the ServiceAccount (impersonated), the way the Deployment
// would, and returns a function that stops it.
func startKro(t *testing.T, metricsAddr, probeAddr string) func() {
	t.Helper()
	cfg := controlPlane(t)
	cfg.Impersonate = rest.ImpersonationConfig{
		UserName: serviceAccount,
		Groups:   []string{"system:serviceaccounts", "system:serviceaccounts:kro-system", "system:authenticated"},
	}
	opts := app.DefaultOptions()
	opts.MetricsAddr, opts.ProbeAddr = metricsAddr, probeAddr
	opts.LeaderElect, opts.LeaderElectionNamespace = true, "kro-system"
	opts.SkipControllerNameValidation = true
	mgr, err := app.NewManager(cfg, opts)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(ctrl.LoggerInto(context.Background(), ctrl.Log))
	done := make(chan error, 1)
	go func() { done <- mgr.Start(ctx) }()
	return func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("kro stopped with: %v", err)
			}
		case <-time.After(60 * time.Second):
			t.Errorf("kro did not stop within a minute")
		}
	}
}

// aggregate does what kube-controller-manager's ClusterRole aggregation controller (not part
// of this control plane) would: kro:controller's rules become those of the named ClusterRoles,
// which its aggregationRule must select.
func aggregate(ctx context.Context, t *testing.T, c client.Client, names ...string) {
	t.Helper()
	target := &rbacv1.ClusterRole{}
	if err := c.Get(ctx, client.ObjectKey{Name: "kro:controller"}, target); err != nil {
		t.Fatal(err)
	}
	var rules []rbacv1.PolicyRule
	for _, name := range names {
		cr := &rbacv1.ClusterRole{}
		if err := c.Get(ctx, client.ObjectKey{Name: name}, cr); err != nil {
			t.Fatal(err)
		}
		selected := false
		for _, sel := range target.AggregationRule.ClusterRoleSelectors {
			matches := true
			for k, v := range sel.MatchLabels {
				matches = matches && cr.Labels[k] == v
			}
			selected = selected || matches
		}
		if !selected {
			t.Fatalf("ClusterRole %s is not selected by kro:controller's aggregationRule (labels %v)", name, cr.Labels)
		}
		rules = append(rules, cr.Rules...)
	}
	target.Rules = rules
	if err := c.Update(ctx, target); err != nil {
		t.Fatal(err)
	}
}

// allowed asks the API server whether kro's ServiceAccount may do verb on a cluster-wide
// resource.
func allowed(ctx context.Context, t *testing.T, c client.Client, group, resource, verb string) bool {
	t.Helper()
	sar := &authorizationv1.SubjectAccessReview{Spec: authorizationv1.SubjectAccessReviewSpec{
		User:               serviceAccount,
		Groups:             []string{"system:serviceaccounts", "system:serviceaccounts:kro-system", "system:authenticated"},
		ResourceAttributes: &authorizationv1.ResourceAttributes{Group: group, Resource: resource, Verb: verb},
	}}
	if err := c.Create(ctx, sar); err != nil {
		t.Fatal(err)
	}
	return sar.Status.Allowed
}

// docsExampleRole is the example per-RGD ClusterRole of docs/operations.md.
func docsExampleRole(t *testing.T) *unstructured.Unstructured {
	t.Helper()
	for _, o := range docYAML(t, filepath.Join(Root(), "docs", "operations.md")) {
		if o.GetKind() == "ClusterRole" && o.GetName() == "kro:rgd:webapp" {
			return o
		}
	}
	t.Fatal("docs/operations.md has no ClusterRole kro:rgd:webapp")
	return nil
}

// docYAML decodes the ```yaml blocks of a Markdown file.
func docYAML(t *testing.T, path string) []*unstructured.Unstructured {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out []*unstructured.Unstructured
	for i, block := range strings.Split(string(data), "```yaml\n")[1:] {
		end := strings.Index(block, "```")
		if end < 0 {
			t.Fatalf("%s: yaml block %d is not closed", path, i+1)
		}
		objs, err := Decode([]byte(block[:end]))
		if err != nil {
			t.Fatalf("%s: yaml block %d: %v", path, i+1, err)
		}
		out = append(out, objs...)
	}
	return out
}

func decodeFile(t *testing.T, path string) *unstructured.Unstructured {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	objs, err := Decode(data)
	if err != nil || len(objs) != 1 {
		t.Fatalf("%s: %d objects, %v; want one", path, len(objs), err)
	}
	return objs[0]
}

func rgdState(ctx context.Context, g gomega.Gomega, c client.Client) string {
	rgd := &unstructured.Unstructured{}
	rgd.SetGroupVersionKind(schema.GroupVersionKind{Group: "kro.run", Version: "v1alpha1", Kind: "ResourceGraphDefinition"})
	g.Expect(c.Get(ctx, client.ObjectKey{Name: "webapp"}, rgd)).To(gomega.Succeed())
	state, _, _ := unstructured.NestedString(rgd.Object, "status", "state")
	return state
}

func instanceState(ctx context.Context, g gomega.Gomega, c client.Client, inst *unstructured.Unstructured) string {
	got := &unstructured.Unstructured{}
	got.SetGroupVersionKind(inst.GroupVersionKind())
	g.Expect(c.Get(ctx, client.ObjectKeyFromObject(inst), got)).To(gomega.Succeed())
	state, _, _ := unstructured.NestedString(got.Object, "status", "state")
	return state
}

func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// scrape reads the metrics endpoint as Prometheus would.
func scrape(t *testing.T, addr string) map[string]*dto.MetricFamily {
	t.Helper()
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body bytes.Buffer
	if _, err := body.ReadFrom(resp.Body); err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /metrics: %s", resp.Status)
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(&body)
	if err != nil {
		t.Fatalf("parsing /metrics: %v", err)
	}
	return families
}

// value sums the series of a family whose labels include labels: counter and gauge values,
// histogram sample counts. ok is false when no series matches.
func value(families map[string]*dto.MetricFamily, name string, labels map[string]string) (sum float64, ok bool) {
	mf := families[name]
	if mf == nil {
		return 0, false
	}
	for _, m := range mf.GetMetric() {
		have := map[string]string{}
		for _, lp := range m.GetLabel() {
			have[lp.GetName()] = lp.GetValue()
		}
		match := true
		for k, v := range labels {
			match = match && have[k] == v
		}
		if !match {
			continue
		}
		ok = true
		switch {
		case m.Counter != nil:
			sum += m.GetCounter().GetValue()
		case m.Gauge != nil:
			sum += m.GetGauge().GetValue()
		case m.Histogram != nil:
			sum += float64(m.GetHistogram().GetSampleCount())
		}
	}
	return sum, ok
}

// checkLabelsBounded checks that kro's metrics use only bounded labels and that no series of
// any family names the instance.
func checkLabelsBounded(t *testing.T, families map[string]*dto.MetricFamily) {
	t.Helper()
	bounded := map[string]bool{"result": true, "kind": true, "reason": true, "state": true, "group": true, "version": true, "rgd": true, "cache": true}
	for name, mf := range families {
		for _, m := range mf.GetMetric() {
			for _, lp := range m.GetLabel() {
				if strings.HasPrefix(name, "kro_") && !bounded[lp.GetName()] {
					t.Errorf("/metrics: %s has label %q, not one of the bounded labels", name, lp.GetName())
				}
				if strings.Contains(lp.GetValue(), instanceName) {
					t.Errorf("/metrics: %s{%s=%q} names an instance", name, lp.GetName(), lp.GetValue())
				}
			}
		}
	}
}
