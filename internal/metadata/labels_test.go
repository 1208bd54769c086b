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
