package metadata

import "testing"

func TestApplySetID(t *testing.T) {
	// Expected value computed independently: base64url(sha256("demo.default.WebApp.kro.run")).
	want := "applyset-U3nBz-wI8LCAAPv9W1lKE2gDbOQJozhnzDnFuAazn9Y-v1"
	if got := ApplySetID("demo", "default", "WebApp", "kro.run"); got != want {
		t.Errorf("ApplySetID(...) = %q, want %q", got, want)
	}
}

func TestIsReserved(t *testing.T) {
	cases := map[string]bool{
		"kro.run/owned":          true,
		"internal.kro.run/x":     true,
		"app.kubernetes.io/name": false,
		"kro.run":                false,
	}
	for key, want := range cases {
		if got := IsReserved(key); got != want {
			t.Errorf("IsReserved(%q) = %v, want %v", key, got, want)
		}
	}
}

func TestInventoryHash(t *testing.T) {
	id := "applyset-U3nBz-wI8LCAAPv9W1lKE2gDbOQJozhnzDnFuAazn9Y-v1"
	// Expected values computed independently (Python hashlib), from the reference kro's rule.
	cases := []struct {
		gks, namespaces []string
		want            string
	}{
		{nil, nil, "sha256:SswpUI6bbC9ImsZK4-xYvSL9WL9gMV5H0XA-d7TVDio"},
		{[]string{"Service", "Deployment.apps", "ConfigMap"}, []string{"team-b", "team-a"}, "sha256:IfzdPZE9Y4HYcgu_77gcDcahKvP9uL4cIP_FDLjsL44"},
	}
	for _, c := range cases {
		if got := InventoryHash(id, c.gks, c.namespaces); got != c.want {
			t.Errorf("InventoryHash(%v, %v) = %q, want %q", c.gks, c.namespaces, got, c.want)
		}
	}
}
