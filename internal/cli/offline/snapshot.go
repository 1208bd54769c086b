package offline

import (
	"bytes"
	"compress/gzip"
	_ "embed"
	"encoding/json"
	"fmt"
	"io"
	"sync"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/client-go/restmapper"
)

// Snapshot is what `make openapi-snapshot` records of a kube-apiserver: its discovery (which
// kinds exist, their resource names and scope) and the OpenAPI v3 schemas of its built-in
// groups, merged by definition name (every group-version document repeats the shared
// definitions such as ObjectMeta under the same name).
type Snapshot struct {
	// KubernetesVersion is the version of the kube-apiserver the snapshot was taken from.
	KubernetesVersion string `json:"kubernetesVersion"`
	// Groups are the API groups with their resources per version, as discovery serves them.
	Groups []*restmapper.APIGroupResources `json:"groups"`
	// Schemas are the components.schemas of every /openapi/v3 group-version document.
	Schemas map[string]json.RawMessage `json:"schemas"`
	// CRDs are kro's own CRDs (kro.run) as installed from config/crd/bases, so that RGDs can
	// be checked as the API server checks them.
	CRDs []apiextensionsv1.CustomResourceDefinition `json:"crds,omitempty"`
}

//go:embed openapi.json.gz
var builtinSnapshot []byte

var (
	loadOnce sync.Once
	loaded   *Snapshot
	loadErr  error
)

// Builtin returns the snapshot embedded in the binary. It is decoded once; callers must not
// modify it.
func Builtin() (*Snapshot, error) {
	loadOnce.Do(func() {
		loaded, loadErr = DecodeSnapshot(bytes.NewReader(builtinSnapshot))
	})
	return loaded, loadErr
}

// DecodeSnapshot reads a gzip-compressed JSON snapshot.
func DecodeSnapshot(r io.Reader) (*Snapshot, error) {
	zr, err := gzip.NewReader(r)
	if err != nil {
		return nil, fmt.Errorf("reading the OpenAPI snapshot: %w", err)
	}
	defer zr.Close()
	s := &Snapshot{}
	if err := json.NewDecoder(zr).Decode(s); err != nil {
		return nil, fmt.Errorf("decoding the OpenAPI snapshot: %w", err)
	}
	return s, nil
}

// Encode writes s as gzip-compressed JSON, deterministically (sorted keys, no timestamp in
// the gzip header), so that an unchanged cluster yields an identical file.
func (s *Snapshot) Encode(w io.Writer) error {
	zw, err := gzip.NewWriterLevel(w, gzip.BestCompression)
	if err != nil {
		return err
	}
	enc := json.NewEncoder(zw)
	if err := enc.Encode(s); err != nil {
		return err
	}
	return zw.Close()
}
