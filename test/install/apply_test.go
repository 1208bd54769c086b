package install

import (
	"context"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// serviceMonitorCRD stands in for the Prometheus Operator's ServiceMonitor CRD, which the test
// cannot download: the fields the chart sets, with the upstream names and types, and no others,
// so that a misspelt or misplaced field is refused (pruned fields make the server warn).
const serviceMonitorCRD = `
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: servicemonitors.monitoring.coreos.com
spec:
  group: monitoring.coreos.com
  names: {kind: ServiceMonitor, listKind: ServiceMonitorList, plural: servicemonitors, singular: servicemonitor}
  scope: Namespaced
  versions:
  - name: v1
    served: true
    storage: true
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec:
            type: object
            required: [selector]
            properties:
              jobLabel: {type: string}
              targetLabels: {type: array, items: {type: string}}
              namespaceSelector:
                type: object
                properties:
                  any: {type: boolean}
                  matchNames: {type: array, items: {type: string}}
              selector:
                type: object
                properties:
                  matchLabels: {type: object, additionalProperties: {type: string}}
              endpoints:
                type: array
                items:
                  type: object
                  properties:
                    port: {type: string}
                    path: {type: string}
                    scheme: {type: string}
                    interval: {type: string, pattern: '^(0|(([0-9]+)y)?(([0-9]+)w)?(([0-9]+)d)?(([0-9]+)h)?(([0-9]+)m)?(([0-9]+)s)?(([0-9]+)ms)?)$'}
                    scrapeTimeout: {type: string, pattern: '^(0|(([0-9]+)y)?(([0-9]+)w)?(([0-9]+)d)?(([0-9]+)h)?(([0-9]+)m)?(([0-9]+)s)?(([0-9]+)ms)?)$'}
                    relabelings: &relabel
                      type: array
                      items:
                        type: object
                        properties:
                          action: {type: string}
                          modulus: {type: integer}
                          regex: {type: string}
                          replacement: {type: string}
                          separator: {type: string}
                          sourceLabels: {type: array, items: {type: string}}
                          targetLabel: {type: string}
                    metricRelabelings: *relabel
`

// TestInstall applies each install bundle to a real kube-apiserver and checks every object is
// accepted without a warning: the Pod Security "restricted" level included (the namespaces
// warn at that level), deprecated APIs and unknown fields included. Nothing runs the
// Deployments (there is no kubelet).
func TestInstall(t *testing.T) {
	ctx := context.Background()
	w := &warnings{}
	c := newClient(t, w)
	sm, err := Decode([]byte(serviceMonitorCRD))
	if err != nil {
		t.Fatal(err)
	}
	applyAll(ctx, t, c, sm)
	w.take()

	cases := map[string]struct {
		reason  string
		release *Release
		values  map[string]any
		dir     string
	}{
		"KustomizeDefault": {
			reason: "kubectl apply --server-side -k config/default installs kro with unrestricted RBAC",
			dir:    "config/default",
		},
		"KustomizeAggregation": {
			reason: "kubectl apply --server-side -k config/aggregation installs kro with aggregated RBAC",
			dir:    "config/aggregation",
		},
		"HelmUnrestricted": {
			reason:  "helm install with the default values, plus the metrics Service and ServiceMonitor",
			release: &Release{Name: "kro-helm", Namespace: "kro-helm"},
			values: map[string]any{"metrics": map[string]any{
				"service": map[string]any{"create": true},
				"serviceMonitor": map[string]any{
					"enabled": true, "additionalLabels": map[string]any{"release": "prometheus"},
					"targetLabels":      []any{"app.kubernetes.io/name"},
					"relabelings":       []any{map[string]any{"action": "replace", "targetLabel": "cluster", "replacement": "c1"}},
					"metricRelabelings": []any{map[string]any{"action": "drop", "sourceLabels": []any{"__name__"}, "regex": "go_.*"}},
				},
			}},
		},
		"HelmAggregation": {
			reason:  "helm install with rbac.mode=aggregation and the lease in another namespace",
			release: &Release{Name: "kro-agg", Namespace: "kro-agg"},
			values: map[string]any{
				"rbac":   map[string]any{"mode": "aggregation"},
				"config": map[string]any{"leaderElectionNamespace": "kro-agg-leases", "featureGates": map[string]any{"DeletionPolicy": true}},
			},
		},
	}
	for _, name := range []string{"KustomizeDefault", "KustomizeAggregation", "HelmUnrestricted", "HelmAggregation"} {
		tc := cases[name]
		t.Run(name, func(t *testing.T) {
			var objs []*unstructured.Unstructured
			if tc.dir != "" {
				if objs, err = Kustomize(tc.dir); err != nil {
					t.Fatal(err)
				}
			} else {
				ch, err := HelmTemplate(*tc.release, tc.values)
				if err != nil {
					t.Fatal(err)
				}
				// helm install --create-namespace; the namespaces warn at Pod Security
				// "restricted", so a pod template below that level makes the server warn.
				for _, ns := range []string{tc.release.Namespace, "kro-agg-leases"} {
					applyAll(ctx, t, c, []*unstructured.Unstructured{namespace(ns)})
				}
				objs = append(ch.CRDs, ch.Objects...)
			}
			applyAll(ctx, t, c, objs)
			noWarnings(t, w, tc.reason)
			for _, o := range objs {
				got := &unstructured.Unstructured{}
				got.SetGroupVersionKind(o.GroupVersionKind())
				if err := c.Get(ctx, client.ObjectKeyFromObject(o), got); err != nil {
					t.Errorf("%s: %s %s/%s not found after applying it: %v", tc.reason, o.GetKind(), o.GetNamespace(), o.GetName(), err)
				}
			}
		})
	}
}

func namespace(name string) *unstructured.Unstructured {
	ns := &corev1.Namespace{
		TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Namespace"},
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{
			"pod-security.kubernetes.io/enforce": "restricted",
			"pod-security.kubernetes.io/warn":    "restricted",
		}},
	}
	u, err := toUnstructured(ns)
	if err != nil {
		panic(err)
	}
	return u
}

func toUnstructured(o any) (*unstructured.Unstructured, error) {
	m, err := runtimeConverter.ToUnstructured(o)
	if err != nil {
		return nil, err
	}
	return &unstructured.Unstructured{Object: m}, nil
}
