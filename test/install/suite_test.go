package install

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-logr/logr"
	"github.com/onsi/gomega"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/rest"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"

	"github.com/kro-run/kro/internal/app"
)

// The control plane is started by the first test that needs one, so that the render tests run
// without it (go test -run 'Render|Chart|Kustomize').
var cp struct {
	once sync.Once
	env  *envtest.Environment
	cfg  *rest.Config
	err  error
}

// controlPlane returns the admin config of the package's kube-apiserver, starting it once.
func controlPlane(t *testing.T) *rest.Config {
	t.Helper()
	cp.once.Do(func() {
		te := &envtest.Environment{BinaryAssetsDirectory: filepath.Join(Root(), "bin")}
		te.ControlPlane.GetAPIServer().Configure().
			Set("advertise-address", "127.0.0.1").
			Set("endpoint-reconciler-type", "none")
		cp.cfg, cp.err = te.Start()
		cp.env = te
	})
	if cp.err != nil {
		t.Fatalf("starting control plane (run make controlplane first): %v", cp.err)
	}
	return rest.CopyConfig(cp.cfg)
}

func TestMain(m *testing.M) {
	log := logr.Discard()
	if os.Getenv("KRO_TEST_LOG") != "" {
		log = zap.New(zap.UseDevMode(true))
	}
	ctrl.SetLogger(log)
	code := m.Run()
	if cp.env != nil {
		if err := cp.env.Stop(); err != nil {
			fmt.Fprintln(os.Stderr, "stopping control plane:", err)
		}
	}
	os.Exit(code)
}

const (
	timeout  = 90 * time.Second
	interval = 200 * time.Millisecond
)

// warnings collects the API server's warnings (deprecations, unknown fields, Pod Security).
type warnings struct {
	mu   sync.Mutex
	list []string
}

func (w *warnings) HandleWarningHeader(_ int, _ string, text string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.list = append(w.list, text)
}

func (w *warnings) take() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := w.list
	w.list = nil
	return out
}

// newClient is an admin client whose warnings go to w.
func newClient(t *testing.T, w *warnings) client.Client {
	t.Helper()
	cfg := controlPlane(t)
	cfg.WarningHandler = w
	scheme, err := app.Scheme()
	if err != nil {
		t.Fatal(err)
	}
	c, err := client.New(cfg, client.Options{Scheme: scheme})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// fieldOwner is the field manager of everything the tests apply, as kubectl apply
// --server-side would with its own name.
const fieldOwner = client.FieldOwner("kro-install-test")

// applyAll server-side applies objs the way `kubectl apply --server-side` does a bundle:
// namespaces and CRDs first (waiting until the CRDs are established), then the rest. It fails
// the test on the first refusal, naming the object.
func applyAll(ctx context.Context, t *testing.T, c client.Client, objs []*unstructured.Unstructured) {
	t.Helper()
	first := func(o *unstructured.Unstructured) bool {
		return o.GetKind() == "Namespace" || o.GetKind() == "CustomResourceDefinition"
	}
	sorted := append([]*unstructured.Unstructured(nil), objs...)
	sort.SliceStable(sorted, func(i, j int) bool { return first(sorted[i]) && !first(sorted[j]) })
	var crds []string
	waited := false
	for _, o := range sorted {
		if !first(o) && !waited {
			waitEstablished(t, c, crds)
			waited = true
		}
		if err := c.Apply(ctx, client.ApplyConfigurationFromUnstructured(o.DeepCopy()), fieldOwner, client.ForceOwnership); err != nil {
			t.Fatalf("applying %s %s/%s: %v", o.GetKind(), o.GetNamespace(), o.GetName(), err)
		}
		if o.GetKind() == "CustomResourceDefinition" {
			crds = append(crds, o.GetName())
		}
	}
	if !waited {
		waitEstablished(t, c, crds)
	}
}

func waitEstablished(t *testing.T, c client.Client, names []string) {
	t.Helper()
	g := gomega.NewWithT(t)
	for _, name := range names {
		g.Eventually(func(g gomega.Gomega) {
			crd := &apiextensionsv1.CustomResourceDefinition{}
			g.Expect(c.Get(context.Background(), client.ObjectKey{Name: name}, crd)).To(gomega.Succeed())
			established := false
			for _, cond := range crd.Status.Conditions {
				if cond.Type == apiextensionsv1.Established && cond.Status == apiextensionsv1.ConditionTrue {
					established = true
				}
			}
			g.Expect(established).To(gomega.BeTrue(), "CRD %s established", name)
		}, timeout, interval).Should(gomega.Succeed())
	}
}

// noWarnings fails the test when the API server warned about anything.
func noWarnings(t *testing.T, w *warnings, what string) {
	t.Helper()
	if got := w.take(); len(got) != 0 {
		t.Errorf("%s: the API server warned:\n%s", what, strings.Join(got, "\n"))
	}
}
