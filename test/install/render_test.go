package install

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	kruntime "k8s.io/apimachinery/pkg/runtime"

	"github.com/kro-run/kro/internal/app"
)

// TestChartCRDsInSync fails when the chart's CRDs drift from the generated ones in
// config/crd/bases. `make manifests` copies them.
func TestChartCRDsInSync(t *testing.T) {
	generated := filepath.Join(Root(), "config", "crd", "bases")
	chart := filepath.Join(Root(), "charts", "kro", "crds")
	want := yamlFiles(t, generated)
	got := yamlFiles(t, chart)
	if diff := cmp.Diff(sortedKeys(want), sortedKeys(got)); diff != "" {
		t.Fatalf("charts/kro/crds files (run make manifests): -want (config/crd/bases), +got:\n%s", diff)
	}
	for name, data := range want {
		if !bytes.Equal(data, got[name]) {
			t.Errorf("charts/kro/crds/%s differs from config/crd/bases/%s; run make manifests", name, name)
		}
	}
}

func yamlFiles(t *testing.T, dir string) map[string][]byte {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]byte{}
	for _, e := range entries {
		if e.IsDir() || filepath.Ext(e.Name()) != ".yaml" {
			continue
		}
		data, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		out[e.Name()] = data
	}
	return out
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// names lists objects as "Kind namespace/name" (cluster-scoped: "Kind name"), sorted.
func names(objs []*unstructured.Unstructured) []string {
	out := make([]string, 0, len(objs))
	for _, o := range objs {
		n := o.GetName()
		if o.GetNamespace() != "" {
			n = o.GetNamespace() + "/" + n
		}
		out = append(out, o.GetKind()+" "+n)
	}
	sort.Strings(out)
	return out
}

func TestKustomizeBundles(t *testing.T) {
	common := []string{
		"ClusterRole kro:controller",
		"ClusterRole kro:controller:static",
		"ClusterRole kro-edit",
		"ClusterRole kro-view",
		"ClusterRoleBinding kro:controller",
		"CustomResourceDefinition graphrevisions.internal.kro.run",
		"CustomResourceDefinition resourcegraphdefinitions.kro.run",
		"Deployment kro-system/kro",
		"Namespace kro-system",
		"Role kro-system/kro:controller:leader-election",
		"RoleBinding kro-system/kro:controller:leader-election",
		"Service kro-system/kro-metrics",
		"ServiceAccount kro-system/kro",
	}
	cases := map[string]struct {
		reason string
		dir    string
		want   []string
	}{
		"Default": {
			reason: "config/default installs kro with RBAC in unrestricted mode, as the reference does",
			dir:    "config/default",
			want:   append([]string{"ClusterRole kro:controller:unrestricted"}, common...),
		},
		"Aggregation": {
			reason: "config/aggregation installs kro with only its static role aggregated",
			dir:    "config/aggregation",
			want:   common,
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			objs, err := Kustomize(tc.dir)
			if err != nil {
				t.Fatal(err)
			}
			want := append([]string(nil), tc.want...)
			sort.Strings(want)
			if diff := cmp.Diff(want, names(objs)); diff != "" {
				t.Errorf("\n%s\nKustomize(%s): -want, +got:\n%s", tc.reason, tc.dir, diff)
			}
			checkRBAC(t, objs, "kro:controller", "kro-system", "kro")
			opts := checkDeployment(t, objs, "kro")
			if !opts.LeaderElect || opts.MetricsAddr != ":8078" || opts.ProbeAddr != ":8079" {
				t.Errorf("Kustomize(%s): controller options %+v, want leader election and the reference's ports", tc.dir, opts)
			}
		})
	}
}

func TestHelmChart(t *testing.T) {
	rel := Release{Name: "kro", Namespace: "kro-system"}
	base := []string{
		"ClusterRole kro-edit",
		"ClusterRole kro-view",
		"ClusterRole kro:controller",
		"ClusterRole kro:controller:static",
		"ClusterRoleBinding kro:controller",
		"Deployment kro-system/kro",
		"ServiceAccount kro-system/kro",
	}
	leader := []string{
		"Role kro-system/kro:controller:leader-election",
		"RoleBinding kro-system/kro:controller:leader-election",
	}
	cases := map[string]struct {
		reason string
		values map[string]any
		want   []string
		check  func(t *testing.T, opts app.Options)
	}{
		"Defaults": {
			reason: "by default the chart installs kro in unrestricted mode with leader election",
			want:   concat(base, leader, []string{"ClusterRole kro:controller:unrestricted"}),
			check: func(t *testing.T, opts app.Options) {
				if !opts.LeaderElect || opts.InstanceWorkers != 10 || opts.MaxGraphRevisions != 5 || opts.LogFormat != "json" {
					t.Errorf("default chart: controller options %+v", opts)
				}
			},
		},
		"Aggregation": {
			reason: "rbac.mode aggregation installs only the static role, aggregated",
			values: map[string]any{"rbac": map[string]any{"mode": "aggregation"}},
			want:   concat(base, leader),
		},
		"Metrics": {
			reason: "a ServiceMonitor brings its Service",
			values: map[string]any{"metrics": map[string]any{"serviceMonitor": map[string]any{
				"enabled": true, "additionalLabels": map[string]any{"release": "prometheus"},
				"relabelings": []any{map[string]any{"action": "replace", "targetLabel": "cluster", "replacement": "c1"}},
			}}},
			want: concat(base, leader, []string{"ClusterRole kro:controller:unrestricted",
				"Service kro-system/kro-metrics", "ServiceMonitor kro-system/kro"}),
		},
		"Config": {
			reason: "config.* values become the controller's flags",
			values: map[string]any{"config": map[string]any{
				"enableLeaderElection": false, "allowCRDDeletion": true, "clientQps": 50, "clientBurst": 75,
				"argocdTrackingPropagation":             false,
				"dynamicControllerConcurrentReconciles": 4, "resourceGraphDefinitionConcurrentReconciles": 2,
				"rgd":          map[string]any{"maxGraphRevisions": 0, "maxCollectionSize": 20000000},
				"featureGates": map[string]any{"DeletionPolicy": true, "CELOmitFunction": false},
				"logLevel":     2, "logFormat": "console", "gracefulShutdownTimeout": "1m",
			}},
			want: concat(base, []string{"ClusterRole kro:controller:unrestricted"}),
			check: func(t *testing.T, opts app.Options) {
				want := app.DefaultOptions()
				want.AllowCRDDeletion, want.ClientQPS, want.ClientBurst = true, 50, 75
				want.ArgoCDTracking = false
				want.InstanceWorkers, want.RGDWorkers = 4, 2
				want.MaxGraphRevisions, want.MaxCollectionSize = 0, 20000000
				want.LogLevel, want.LogFormat = "2", "console"
				want.GracefulShutdownTimeout = opts.GracefulShutdownTimeout
				if opts.GracefulShutdownTimeout.String() != "1m0s" {
					t.Errorf("--graceful-shutdown-timeout: got %v, want 1m", opts.GracefulShutdownTimeout)
				}
				if !opts.FeatureGates.Enabled("DeletionPolicy") || opts.FeatureGates.Enabled("CELOmitFunction") {
					t.Errorf("--feature-gates: DeletionPolicy=%v CELOmitFunction=%v, want true, false",
						opts.FeatureGates.Enabled("DeletionPolicy"), opts.FeatureGates.Enabled("CELOmitFunction"))
				}
				opts.FeatureGates, want.FeatureGates = nil, nil
				if diff := cmp.Diff(want, opts); diff != "" {
					t.Errorf("controller options: -want, +got:\n%s", diff)
				}
			},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			ch, err := HelmTemplate(rel, tc.values)
			if err != nil {
				t.Fatal(err)
			}
			want := append([]string(nil), tc.want...)
			sort.Strings(want)
			if diff := cmp.Diff(want, names(ch.Objects)); diff != "" {
				t.Errorf("\n%s\nHelmTemplate(...): -want, +got:\n%s", tc.reason, diff)
			}
			if diff := cmp.Diff([]string{
				"CustomResourceDefinition graphrevisions.internal.kro.run",
				"CustomResourceDefinition resourcegraphdefinitions.kro.run",
			}, names(ch.CRDs)); diff != "" {
				t.Errorf("chart CRDs: -want, +got:\n%s", diff)
			}
			if !strings.Contains(ch.Notes, "rbac.kro.run/aggregate-to-controller") {
				t.Errorf("NOTES.txt does not explain RBAC aggregation:\n%s", ch.Notes)
			}
			checkRBAC(t, ch.Objects, "kro:controller", "kro-system", "kro")
			opts := checkDeployment(t, ch.Objects, "kro")
			if tc.check != nil {
				tc.check(t, opts)
			}
		})
	}
}

// TestOperationsDocYAML checks that every YAML block of docs/operations.md is a valid object
// (the example role is also applied and used by TestAggregationRBACAndMetrics).
func TestOperationsDocYAML(t *testing.T) {
	objs := docYAML(t, filepath.Join(Root(), "docs", "operations.md"))
	if len(objs) == 0 {
		t.Fatal("docs/operations.md has no YAML")
	}
	for _, o := range objs {
		switch o.GetKind() {
		case "ClusterRole":
			typed[rbacv1.ClusterRole](t, o)
		default:
			t.Errorf("docs/operations.md: %s %s is not checked by this test", o.GetKind(), o.GetName())
		}
	}
}

// TestOperationsDocFlags checks that docs/operations.md's flags table has every flag of
// kro-controller.
func TestOperationsDocFlags(t *testing.T) {
	doc, err := os.ReadFile(filepath.Join(Root(), "docs", "operations.md"))
	if err != nil {
		t.Fatal(err)
	}
	fs := flag.NewFlagSet("kro-controller", flag.ContinueOnError)
	opts := app.DefaultOptions()
	opts.BindFlags(fs)
	fs.VisitAll(func(f *flag.Flag) {
		if !bytes.Contains(doc, []byte("`--"+f.Name+"`")) {
			t.Errorf("docs/operations.md: the flags table has no row for --%s", f.Name)
		}
	})
}

// TestHelmNotesExampleRole checks that the example role of the chart's NOTES (aggregation
// mode) is the one of docs/operations.md, which TestAggregationRBACAndMetrics uses.
func TestHelmNotesExampleRole(t *testing.T) {
	ch, err := HelmTemplate(Release{Name: "kro", Namespace: "kro-system"},
		map[string]any{"rbac": map[string]any{"mode": "aggregation"}})
	if err != nil {
		t.Fatal(err)
	}
	start := strings.Index(ch.Notes, "  apiVersion: rbac.authorization.k8s.io/v1")
	end := strings.Index(ch.Notes[max(start, 0):], "\n\n")
	if start < 0 || end < 0 {
		t.Fatalf("NOTES.txt in aggregation mode has no example ClusterRole:\n%s", ch.Notes)
	}
	var lines []string
	for _, l := range strings.Split(ch.Notes[start:start+end], "\n") {
		lines = append(lines, strings.TrimPrefix(l, "  "))
	}
	got, err := Decode([]byte(strings.Join(lines, "\n")))
	if err != nil || len(got) != 1 {
		t.Fatalf("NOTES.txt example role: %d objects, %v", len(got), err)
	}
	if diff := cmp.Diff(docsExampleRole(t).Object, got[0].Object); diff != "" {
		t.Errorf("NOTES.txt example role: -want (docs/operations.md), +got:\n%s", diff)
	}
}

func TestHelmChartRejectsUnknownRBACMode(t *testing.T) {
	_, err := HelmTemplate(Release{Name: "kro", Namespace: "kro-system"},
		map[string]any{"rbac": map[string]any{"mode": "everything"}})
	if err == nil || !strings.Contains(err.Error(), "rbac.mode") {
		t.Errorf("HelmTemplate(rbac.mode=everything): error %v, want one naming rbac.mode", err)
	}
}

func TestHelmChartFullnameOverride(t *testing.T) {
	ch, err := HelmTemplate(Release{Name: "platform", Namespace: "ops"},
		map[string]any{"rbac": map[string]any{"mode": "aggregation"}})
	if err != nil {
		t.Fatal(err)
	}
	// A release named otherwise prefixes every object, so two releases do not collide.
	checkRBAC(t, ch.Objects, "platform-kro:controller", "ops", "platform-kro")
	checkDeployment(t, ch.Objects, "platform-kro")
}

func concat(lists ...[]string) []string {
	var out []string
	for _, l := range lists {
		out = append(out, l...)
	}
	return out
}

func typed[T any](t *testing.T, o *unstructured.Unstructured) *T {
	t.Helper()
	out := new(T)
	if err := kruntime.DefaultUnstructuredConverter.FromUnstructuredWithValidation(o.Object, out, true); err != nil {
		t.Fatalf("%s %s: %v", o.GetKind(), o.GetName(), err)
	}
	return out
}

func find(objs []*unstructured.Unstructured, kind, name string) *unstructured.Unstructured {
	for _, o := range objs {
		if o.GetKind() == kind && o.GetName() == name {
			return o
		}
	}
	return nil
}

// checkRBAC checks that the ServiceAccount is bound to the aggregating ClusterRole, which
// selects the static role by its label.
func checkRBAC(t *testing.T, objs []*unstructured.Unstructured, role, namespace, serviceAccount string) {
	t.Helper()
	cr := find(objs, "ClusterRole", role)
	crb := find(objs, "ClusterRoleBinding", role)
	static := find(objs, "ClusterRole", role+":static")
	if cr == nil || crb == nil || static == nil {
		t.Fatalf("ClusterRole %s, its binding and %s:static: got %v", role, role, names(objs))
	}
	agg := typed[rbacv1.ClusterRole](t, cr).AggregationRule
	if agg == nil || len(agg.ClusterRoleSelectors) != 1 ||
		agg.ClusterRoleSelectors[0].MatchLabels["rbac.kro.run/aggregate-to-controller"] != "true" {
		t.Errorf("ClusterRole %s aggregationRule = %+v, want rbac.kro.run/aggregate-to-controller=true", role, agg)
	}
	if static.GetLabels()["rbac.kro.run/aggregate-to-controller"] != "true" {
		t.Errorf("ClusterRole %s:static is not labelled for aggregation", role)
	}
	b := typed[rbacv1.ClusterRoleBinding](t, crb)
	wantSubjects := []rbacv1.Subject{{Kind: "ServiceAccount", Name: serviceAccount, Namespace: namespace}}
	if b.RoleRef.Name != role || !cmp.Equal(wantSubjects, b.Subjects) {
		t.Errorf("ClusterRoleBinding %s: roleRef %s, subjects %+v; want %s, %+v", role, b.RoleRef.Name, b.Subjects, role, wantSubjects)
	}
	// Everything kro itself needs is in the static role.
	rules := typed[rbacv1.ClusterRole](t, static).Rules
	for _, need := range []struct{ group, resource, verb string }{
		{"kro.run", "resourcegraphdefinitions", "watch"},
		{"kro.run", "resourcegraphdefinitions/status", "patch"},
		{"kro.run", "resourcegraphdefinitions/finalizers", "update"},
		{"internal.kro.run", "graphrevisions", "create"},
		{"internal.kro.run", "graphrevisions", "delete"},
		{"internal.kro.run", "graphrevisions/status", "patch"},
		{"apiextensions.k8s.io", "customresourcedefinitions", "create"},
		{"apiextensions.k8s.io", "customresourcedefinitions", "delete"},
		{"apiextensions.k8s.io", "customresourcedefinitions", "watch"},
		{"", "events", "create"},
		{"events.k8s.io", "events", "create"},
		{"", "namespaces", "list"},
	} {
		if !allows(rules, need.group, need.resource, need.verb) {
			t.Errorf("ClusterRole %s:static does not allow %s %s/%s", role, need.verb, need.group, need.resource)
		}
	}
	if allows(rules, "", "secrets", "get") {
		t.Errorf("ClusterRole %s:static allows reading Secrets", role)
	}
}

func allows(rules []rbacv1.PolicyRule, group, resource, verb string) bool {
	in := func(list []string, v string) bool {
		for _, x := range list {
			if x == v || x == "*" {
				return true
			}
		}
		return false
	}
	for _, r := range rules {
		if in(r.APIGroups, group) && in(r.Resources, resource) && in(r.Verbs, verb) {
			return true
		}
	}
	return false
}

// checkDeployment checks the controller Deployment is hardened (non-root, no privileges or
// capabilities, seccomp RuntimeDefault, read-only root filesystem), probes kro's health
// endpoints and passes flags that kro-controller accepts; it returns the options they set.
func checkDeployment(t *testing.T, objs []*unstructured.Unstructured, name string) app.Options {
	t.Helper()
	o := find(objs, "Deployment", name)
	if o == nil {
		t.Fatalf("no Deployment %s in %v", name, names(objs))
	}
	d := typed[appsv1.Deployment](t, o)
	pod := d.Spec.Template.Spec
	if len(pod.Containers) != 1 {
		t.Fatalf("Deployment %s: %d containers, want 1", name, len(pod.Containers))
	}
	c := pod.Containers[0]
	psc, sc := pod.SecurityContext, c.SecurityContext
	if psc == nil || sc == nil {
		t.Fatalf("Deployment %s: pod or container securityContext missing", name)
	}
	if psc.RunAsNonRoot == nil || !*psc.RunAsNonRoot || psc.RunAsUser == nil || *psc.RunAsUser == 0 {
		t.Errorf("Deployment %s: pod does not run as a non-root user: %+v", name, psc)
	}
	if psc.SeccompProfile == nil || psc.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault {
		t.Errorf("Deployment %s: seccompProfile %+v, want RuntimeDefault", name, psc.SeccompProfile)
	}
	if sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation ||
		sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem ||
		sc.Capabilities == nil || !cmp.Equal(sc.Capabilities.Drop, []corev1.Capability{"ALL"}) {
		t.Errorf("Deployment %s: container securityContext %+v, want no privilege escalation, read-only root, drop ALL", name, sc)
	}
	if pod.ServiceAccountName != name {
		t.Errorf("Deployment %s: serviceAccountName %q", name, pod.ServiceAccountName)
	}
	ports := map[string]int32{}
	for _, p := range c.Ports {
		ports[p.Name] = p.ContainerPort
	}
	if diff := cmp.Diff(map[string]int32{"metrics": 8078, "probes": 8079}, ports); diff != "" {
		t.Errorf("Deployment %s ports: -want, +got:\n%s", name, diff)
	}
	for probe, want := range map[*corev1.Probe]string{c.LivenessProbe: "/healthz", c.ReadinessProbe: "/readyz"} {
		if probe == nil || probe.HTTPGet == nil || probe.HTTPGet.Path != want || probe.HTTPGet.Port.String() != "probes" {
			t.Errorf("Deployment %s: probe %+v, want GET %s on port probes", name, probe, want)
		}
	}
	if len(c.Command) != 0 {
		t.Errorf("Deployment %s: command %v, want the image's entrypoint", name, c.Command)
	}
	fs := flag.NewFlagSet("kro-controller", flag.ContinueOnError)
	opts := app.DefaultOptions()
	opts.BindFlags(fs)
	if err := fs.Parse(c.Args); err != nil {
		t.Fatalf("Deployment %s: kro-controller refuses its arguments %q: %v", name, c.Args, err)
	}
	if fs.NArg() != 0 {
		t.Errorf("Deployment %s: arguments left over after the flags: %q", name, fs.Args())
	}
	return opts
}

var runtimeConverter = kruntime.DefaultUnstructuredConverter
