package crd

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
)

func TestPlural(t *testing.T) {
	cases := map[string]string{
		"WebApp":  "webapps",
		"Policy":  "policies",
		"Ingress": "ingresses",
		"Box":     "boxes",
		"Proxy":   "proxies",
	}
	for kind, want := range cases {
		if got := Plural(kind); got != want {
			t.Errorf("Plural(%q) = %q, want %q", kind, got, want)
		}
	}
}

func TestNew(t *testing.T) {
	got := New(Options{Group: "kro.run", Version: "v1alpha1", Kind: "WebApp", Namespaced: true,
		StatusFields: map[string]apiextensionsv1.JSONSchemaProps{"url": {Type: "string"}}})
	if diff := cmp.Diff("webapps.kro.run", got.Name); diff != "" {
		t.Errorf("New(...).Name: -want, +got:\n%s", diff)
	}
	v := got.Spec.Versions[0]
	if v.Name != "v1alpha1" || !v.Served || !v.Storage || v.Subresources.Status == nil {
		t.Errorf("New(...) version = %+v, want served storage v1alpha1 with status subresource", v)
	}
	if got.Spec.Scope != apiextensionsv1.NamespaceScoped || got.Spec.Names.ListKind != "WebAppList" {
		t.Errorf("New(...) scope/listKind = %s/%s", got.Spec.Scope, got.Spec.Names.ListKind)
	}
	status := v.Schema.OpenAPIV3Schema.Properties["status"]
	for _, f := range []string{"state", "conditions", "url"} {
		if _, ok := status.Properties[f]; !ok {
			t.Errorf("New(...) status schema lacks %q", f)
		}
	}
	if diff := cmp.Diff(DefaultPrinterColumns(), v.AdditionalPrinterColumns); diff != "" {
		t.Errorf("New(...) printer columns: -want, +got:\n%s", diff)
	}
}
