package instance

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/runtime/serializer/protobuf"
	"k8s.io/apimachinery/pkg/types"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/kro-run/kro/internal/metadata"
)

// deleteObject deletes obj in the background, on the condition that it is still the object of
// uid, and reports whether it is gone. The API server answers a DELETE with the object as it
// was deleted (or a Success status) when it is gone, and with the object marked for deletion
// (a deletionTimestamp) when deletion waits for finalizers or a grace period: only then does
// the caller have to wait for the watch. Without a REST client (unit tests), deletion is
// never reported as done.
func (r *Reconciler) deleteObject(ctx context.Context, obj client.Object) (bool, error) {
	uid := obj.GetUID()
	if r.opts.REST == nil {
		return false, r.opts.Client.Delete(ctx, obj, client.PropagationPolicy(metav1.DeletePropagationBackground),
			client.Preconditions{UID: &uid})
	}
	gvr, err := r.resourceOf(obj.GetObjectKind().GroupVersionKind())
	if err != nil {
		return false, err
	}
	background := metav1.DeletePropagationBackground
	body, err := json.Marshal(&metav1.DeleteOptions{
		TypeMeta:          metav1.TypeMeta{APIVersion: "v1", Kind: "DeleteOptions"},
		PropagationPolicy: &background,
		Preconditions:     &metav1.Preconditions{UID: &uid},
	})
	if err != nil {
		return false, err
	}
	rc, err := r.opts.REST.For(gvr)
	if err != nil {
		return false, err
	}
	raw, err := answer(objectRequest(rc.Delete(), gvr, obj.GetNamespace(), obj.GetName()).
		SetHeader("Accept", metadataAnswer).Body(body).Do(ctx))
	if err != nil {
		return false, err
	}
	if !r.opts.REST.deletedNow(raw) {
		return false, nil
	}
	r.gone.add(uid)
	return true, nil
}

// resourceOf is the resource of a kind: the one the graph resolved for its resources (a
// lookup in the REST mapper costs allocations on every request), else the REST mapper's.
func (r *Reconciler) resourceOf(gvk schema.GroupVersionKind) (schema.GroupVersionResource, error) {
	if g := r.graph.Load(); g != nil {
		for _, n := range g.Nodes {
			if n.GVK == gvk && n.GVR.Resource != "" {
				return n.GVR, nil
			}
		}
	}
	mapping, err := r.opts.Client.RESTMapper().RESTMapping(gvk.GroupKind(), gvk.Version)
	if err != nil {
		return schema.GroupVersionResource{}, err
	}
	return mapping.Resource, nil
}

// objectRequest points req at an object of gvr: the client's request builder makes the path.
func objectRequest(req *rest.Request, gvr schema.GroupVersionResource, namespace, name string) *rest.Request {
	prefix := "/apis/" + gvr.Group + "/" + gvr.Version
	if gvr.Group == "" {
		prefix = "/api/" + gvr.Version
	}
	return req.AbsPath(prefix).NamespaceIfScoped(namespace, namespace != "").Resource(gvr.Resource).Name(name)
}

// deletedNow tells from the answer to a DELETE whether the object is gone.
func (c *RESTClients) deletedNow(raw []byte) bool {
	switch obj, err := c.decodeProtobuf(raw); obj := obj.(type) {
	case *metav1.Status:
		return obj.Status == metav1.StatusSuccess
	case *metav1.PartialObjectMetadata:
		return obj.DeletionTimestamp == nil
	case nil:
		if err != nil {
			return false
		}
	default:
		return false
	}
	var answer struct {
		Kind string `json:"kind"`
		// Status is a string in a Status, an object in most kinds.
		Status   json.RawMessage `json:"status"`
		Metadata struct {
			DeletionTimestamp *metav1.Time `json:"deletionTimestamp"`
		} `json:"metadata"`
	}
	if err := json.Unmarshal(raw, &answer); err != nil {
		return false
	}
	if answer.Kind == "Status" {
		return string(answer.Status) == `"`+metav1.StatusSuccess+`"`
	}
	return answer.Metadata.DeletionTimestamp == nil
}

// goneObjects remembers the UIDs of objects kro saw deleted, until the informer caches have
// surely caught up: an object the cache still shows after kro deleted it is not deleted again.
// A UID is never reused, so the record can only spare requests, never hide a live object.
type goneObjects struct {
	uids  sync.Map // types.UID → time.Time
	added atomic.Int64
}

// goneFor is how long a deleted object's UID is remembered.
const goneFor = 2 * time.Minute

func (g *goneObjects) add(uid types.UID) {
	now := time.Now()
	g.uids.Store(uid, now)
	if g.added.Add(1)%1024 == 0 {
		g.uids.Range(func(k, v any) bool {
			if now.Sub(v.(time.Time)) > goneFor {
				g.uids.Delete(k)
			}
			return true
		})
	}
}

func (g *goneObjects) has(uid types.UID) bool {
	_, ok := g.uids.Load(uid)
	return ok
}

// RESTClients hands out a REST client for JSON requests per resource, each with its own rate
// limit from the configuration, as the manager's client has one per kind.
type RESTClients struct {
	cfg     *rest.Config
	mu      sync.Mutex
	clients map[schema.GroupVersionResource]rest.Interface
	// protobuf decodes the answers asked for with metadataAnswer.
	protobuf *protobuf.Serializer
}

// NewRESTClients returns the REST clients of cfg, the instance reconciler's Options.REST.
func NewRESTClients(cfg *rest.Config) *RESTClients {
	return &RESTClients{
		cfg:      dynamic.ConfigFor(cfg),
		clients:  map[schema.GroupVersionResource]rest.Interface{},
		protobuf: metaProtobuf(),
	}
}

// metaProtobuf is the protobuf serializer of the meta types an answer asked for with
// metadataAnswer can be: PartialObjectMetadata and Status.
func metaProtobuf() *protobuf.Serializer {
	scheme := runtime.NewScheme()
	// Neither can fail: they register the meta types, which have no conversions to clash.
	utilruntime.Must(metav1.AddMetaToScheme(scheme))
	metav1.AddToGroupVersion(scheme, schema.GroupVersion{Version: "v1"})
	return protobuf.NewSerializer(scheme, scheme)
}

// metadataAnswer is the Accept header of a write whose answer kro reads only the metadata of,
// or nothing of: the API server answers with the object's metadata (PartialObjectMetadata) in
// protobuf, which costs both sides less than the whole object as JSON. Errors still come as a
// JSON Status; an API server that cannot transform the answer sends the object as JSON.
const metadataAnswer = "application/vnd.kubernetes.protobuf;as=PartialObjectMetadata;g=meta.k8s.io;v=v1,application/json"

// decodeProtobuf decodes an answer the API server sent in protobuf (asked for by
// metadataAnswer): a PartialObjectMetadata or a Status. It returns nil for a JSON answer,
// which the caller reads itself.
func (c *RESTClients) decodeProtobuf(raw []byte) (runtime.Object, error) {
	if ok, _, _ := c.protobuf.RecognizesData(raw); !ok {
		return nil, nil
	}
	obj, _, err := c.protobuf.Decode(raw, nil, nil)
	return obj, err
}

// metadataOf is the metadata, without managed fields, of an object in the answer to a write
// sent with metadataAnswer.
func (c *RESTClients) metadataOf(raw []byte) (*metav1.PartialObjectMetadata, error) {
	switch obj, err := c.decodeProtobuf(raw); obj := obj.(type) {
	case *metav1.PartialObjectMetadata:
		obj.ManagedFields = nil
		return obj, nil
	case nil:
		if err != nil {
			return nil, err
		}
	default:
		return nil, fmt.Errorf("the answer is a %T, not an object's metadata", obj)
	}
	var meta appliedMetadata
	if err := json.Unmarshal(raw, &meta); err != nil {
		return nil, err
	}
	return &metav1.PartialObjectMetadata{ObjectMeta: meta.Metadata.ObjectMeta}, nil
}

// answer returns the body of a request's answer, or the API server's error. Result.Raw alone
// would return a generic error made from the status code, without the Status's reason and
// message.
func answer(res rest.Result) ([]byte, error) {
	if err := res.Error(); err != nil {
		return nil, err
	}
	return res.Raw()
}

// For returns the client of gvr.
func (c *RESTClients) For(gvr schema.GroupVersionResource) (rest.Interface, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if rc, ok := c.clients[gvr]; ok {
		return rc, nil
	}
	rc, err := rest.UnversionedRESTClientFor(c.cfg)
	if err != nil {
		return nil, fmt.Errorf("REST client for %s: %w", gvr, err)
	}
	c.clients[gvr] = rc
	return rc, nil
}

// applyObject server-side applies obj, with kro's field manager and forced ownership, and
// returns the object as the API server stored it, or only its metadata for a metadata-only
// kind. It sends obj's JSON as it is and decodes the answer once: the controller-runtime
// client would first convert obj into an apply configuration and decode the answer twice (once
// for its kind).
func (r *Reconciler) applyObject(ctx context.Context, gvk schema.GroupVersionKind, obj *unstructured.Unstructured, metadataOnly bool) (*unstructured.Unstructured, error) {
	if r.opts.REST == nil {
		err := r.opts.Client.Apply(ctx, client.ApplyConfigurationFromUnstructured(obj), client.ForceOwnership, client.FieldOwner(metadata.FieldManager))
		return obj, err
	}
	gvr, err := r.resourceOf(gvk)
	if err != nil {
		return nil, err
	}
	body, err := json.Marshal(obj.Object)
	if err != nil {
		return nil, err
	}
	rc, err := r.opts.REST.For(gvr)
	if err != nil {
		return nil, err
	}
	req := objectRequest(rc.Patch(types.ApplyPatchType), gvr, obj.GetNamespace(), obj.GetName()).
		Param("fieldManager", metadata.FieldManager).Param("force", "true")
	if metadataOnly {
		req.SetHeader("Accept", metadataAnswer)
	}
	raw, err := answer(req.Body(body).Do(ctx))
	if err != nil {
		return nil, err
	}
	if metadataOnly {
		meta, err := r.opts.REST.metadataOf(raw)
		if err != nil {
			return nil, fmt.Errorf("decoding the applied %s %s: %w", gvk.Kind, obj.GetName(), err)
		}
		meta.SetGroupVersionKind(gvk)
		return fromMetadata(meta), nil
	}
	out := &unstructured.Unstructured{}
	if err := out.UnmarshalJSON(raw); err != nil {
		return nil, fmt.Errorf("decoding the applied %s %s: %w", gvk.Kind, obj.GetName(), err)
	}
	return out, nil
}

// appliedMetadata is what kro reads of an applied object of a metadata-only kind: its
// metadata without managedFields, which the decoder skips instead of building (they are most of
// a server-side applied object's size).
type appliedMetadata struct {
	Metadata struct {
		metav1.ObjectMeta
		ManagedFields skipped `json:"managedFields,omitempty"`
	} `json:"metadata"`
}

// skipped is a JSON value decoded into nothing.
type skipped struct{}

func (*skipped) UnmarshalJSON([]byte) error { return nil }
