package graph

import (
	"context"
	"testing"

	"github.com/google/go-cmp/cmp"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// TestMetadataOnly: kro caches only the metadata of the objects of a kind when no expression
// reads one and no readyWhen tests one; a single read resource makes its whole kind read.
func TestMetadataOnly(t *testing.T) {
	configMap := schema.GroupVersionKind{Version: "v1", Kind: "ConfigMap"}
	deployment := schema.GroupVersionKind{Group: "apps", Version: "v1", Kind: "Deployment"}
	secret := schema.GroupVersionKind{Version: "v1", Kind: "Secret"}
	const deploymentRes = `
  - id: deployment
    template:
      apiVersion: apps/v1
      kind: Deployment
      metadata: {name: "${schema.spec.name}"}
      spec: {replicas: 1}`
	cases := map[string]struct {
		reason    string
		resources string
		status    string
		want      map[schema.GroupVersionKind]bool
	}{
		"NothingRead": {
			reason:    "resources that only read the instance are applied, pruned and deleted by metadata",
			resources: deploymentRes + cm("a", "${schema.spec.name}-a"),
			want:      map[schema.GroupVersionKind]bool{configMap: true, deployment: true, secret: false},
		},
		"ReadByAResource": {
			reason:    "a resource whose object another template reads is cached whole",
			resources: deploymentRes + cm("a", "${deployment.metadata.name}-a"),
			want:      map[schema.GroupVersionKind]bool{configMap: true, deployment: false},
		},
		"ReadByStatus": {
			reason:    "a resource a status field reads is cached whole",
			resources: deploymentRes + cm("a", "${schema.spec.name}-a"),
			status:    `{"name":"${a.metadata.name}"}`,
			want:      map[schema.GroupVersionKind]bool{configMap: false, deployment: true},
		},
		"ReadyWhen": {
			reason:    "readyWhen reads the object",
			resources: deploymentRes + "\n    readyWhen: ['${deployment.spec.replicas == 1}']" + cm("a", "${schema.spec.name}-a"),
			want:      map[schema.GroupVersionKind]bool{configMap: true, deployment: false},
		},
		"OneReadResourceOfAKind": {
			reason:    "one informer serves a kind: when one of its resources is read, all are",
			resources: cm("a", "${schema.spec.name}-a") + cm("b", "${schema.spec.name}-b"),
			status:    `{"name":"${b.metadata.name}"}`,
			want:      map[schema.GroupVersionKind]bool{configMap: false},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			rgd := rgdFrom(t, tc.resources)
			rgd.Spec.Schema.Status.Raw = []byte(tc.status)
			if tc.status == "" {
				rgd.Spec.Schema.Status.Raw = nil
			}
			g, err := NewBuilder(testMapper(), WithSchemaResolver(testSchemas(t))).Build(context.Background(), rgd)
			if err != nil {
				t.Fatalf("Build: %v", err)
			}
			got := map[schema.GroupVersionKind]bool{}
			for gvk := range tc.want {
				got[gvk] = g.MetadataOnly(gvk)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("%s: MetadataOnly (-want +got):\n%s", tc.reason, diff)
			}
		})
	}
}
