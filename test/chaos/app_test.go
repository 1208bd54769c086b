package chaos

import (
	"fmt"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/kro-run/kro/internal/metadata"
)

// The RGD of the scenario: four resources with dependencies between them. The Secret reads
// the ConfigMap, the Service reads the Secret, and a forEach collection of ConfigMaps (one per
// shard of the instance's spec) reads the ConfigMap. desiredChildren mirrors the templates.
const rgdName = "chaos-app"

const rgdManifest = `
apiVersion: kro.run/v1alpha1
kind: ResourceGraphDefinition
metadata:
  name: chaos-app
spec:
  schema:
    apiVersion: v1alpha1
    kind: ChaosApp
    spec:
      color: string | default="blue"
      shards: "[]string"
    status:
      secretName: ${secret.metadata.name}
  resources:
  - id: config
    template:
      apiVersion: v1
      kind: ConfigMap
      metadata:
        name: ${schema.metadata.name}-config
      data:
        color: ${schema.spec.color}
  - id: secret
    template:
      apiVersion: v1
      kind: Secret
      metadata:
        name: ${schema.metadata.name}-secret
      stringData:
        color: ${config.data.color}
  - id: service
    template:
      apiVersion: v1
      kind: Service
      metadata:
        name: ${schema.metadata.name}-svc
        annotations:
          chaos.kro.run/secret: ${secret.metadata.name}
      spec:
        selector:
          app: ${schema.metadata.name}
        ports:
        - port: 80
          targetPort: 8080
  - id: shards
    forEach:
    - shard: ${schema.spec.shards}
    template:
      apiVersion: v1
      kind: ConfigMap
      metadata:
        name: ${schema.metadata.name}-shard-${shard}
      data:
        config: ${config.metadata.name}
        shard: ${shard}
`

var (
	instanceGVK = schema.GroupVersionKind{Group: "kro.run", Version: "v1alpha1", Kind: "ChaosApp"}
	instanceGVR = schema.GroupVersionResource{Group: "kro.run", Version: "v1alpha1", Resource: "chaosapps"}
	rgdGVR      = schema.GroupVersionResource{Group: "kro.run", Version: "v1alpha1", Resource: "resourcegraphdefinitions"}
	rgdKey      = objectKey{"ResourceGraphDefinition", "", rgdName}

	// childKinds are the kinds the RGD's templates make.
	childKinds = []childKind{
		{"ConfigMap", schema.GroupVersionResource{Version: "v1", Resource: "configmaps"}},
		{"Secret", schema.GroupVersionResource{Version: "v1", Resource: "secrets"}},
		{"Service", schema.GroupVersionResource{Version: "v1", Resource: "services"}},
	}
)

type childKind struct {
	kind string
	gvr  schema.GroupVersionResource
}

func (c childKind) gvk() schema.GroupVersionKind {
	return c.gvr.GroupVersion().WithKind(c.kind)
}

// instance is what the test asked for: one instance of the RGD's kind.
type instance struct {
	namespace, name string
	color           string
	shards          []string
	// deleted marks an instance the test deletes; updated one whose shards it changes.
	deleted, updated bool
	// created and deleteSent are when the test's create and delete requests succeeded.
	created, deleteSent time.Duration
}

func (i *instance) key() objectKey { return objectKey{instanceGVK.Kind, i.namespace, i.name} }

func (i *instance) String() string { return i.namespace + "/" + i.name }

// applySetID is the ApplySet id of the instance (SPEC §6).
func (i *instance) applySetID() string {
	return metadata.ApplySetID(i.name, i.namespace, instanceGVK.Kind, instanceGVK.Group)
}

// object is the instance as the test creates it.
func (i *instance) object() *unstructured.Unstructured {
	shards := make([]any, len(i.shards))
	for n, s := range i.shards {
		shards[n] = s
	}
	u := &unstructured.Unstructured{Object: map[string]any{
		"spec": map[string]any{"color": i.color, "shards": shards},
	}}
	u.SetGroupVersionKind(instanceGVK)
	u.SetNamespace(i.namespace)
	u.SetName(i.name)
	return u
}

// child is one object an instance should have.
type child struct {
	objectKey
	node string
}

// desiredChildren are the objects the RGD's templates make for the instance's current spec.
func (i *instance) desiredChildren() []child {
	out := []child{
		{objectKey{"ConfigMap", i.namespace, i.name + "-config"}, "config"},
		{objectKey{"Secret", i.namespace, i.name + "-secret"}, "secret"},
		{objectKey{"Service", i.namespace, i.name + "-svc"}, "service"},
	}
	for _, s := range i.shards {
		out = append(out, child{objectKey{"ConfigMap", i.namespace, fmt.Sprintf("%s-shard-%s", i.name, s)}, "shards"})
	}
	return out
}
