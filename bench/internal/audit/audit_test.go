package audit

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

const sample = `{"kind":"Event","level":"Metadata","auditID":"1","stage":"ResponseComplete","verb":"patch","user":{"username":"kro"},"objectRef":{"resource":"configmaps","namespace":"ns","name":"a","apiVersion":"v1"},"responseStatus":{"code":200},"requestReceivedTimestamp":"2026-01-01T00:00:01.000000Z"}
{"kind":"Event","level":"Metadata","auditID":"2","stage":"ResponseStarted","verb":"watch","user":{"username":"kro"},"objectRef":{"resource":"configmaps","apiVersion":"v1"},"responseStatus":{"code":200},"requestReceivedTimestamp":"2026-01-01T00:00:02.000000Z"}
{"kind":"Event","level":"Metadata","auditID":"3","stage":"ResponseComplete","verb":"patch","user":{"username":"kro"},"objectRef":{"resource":"benchfives","apiGroup":"kro.run","subresource":"status","apiVersion":"kro.run/v1alpha1"},"responseStatus":{"code":409},"requestReceivedTimestamp":"2026-01-01T00:00:03.000000Z"}
{"kind":"Event","level":"Metadata","auditID":"2","stage":"ResponseComplete","verb":"watch","user":{"username":"kro"},"objectRef":{"resource":"configmaps","apiVersion":"v1"},"responseStatus":{"code":200},"requestReceivedTimestamp":"2026-01-01T00:00:02.000000Z"}
{"kind":"Event","level":"Metadata","auditID":"4","stage":"ResponseComplete","verb":"get","user":{"username":"floor"},"requestURI":"/readyz","responseStatus":{"code":200},"requestReceivedTimestamp":"2026-01-01T00:00:04.000000Z"}
{"kind":"Event","level":"Metadata","auditID":"5","stage":"ResponseComplete","verb":"create","user":{"username":"kro"},"objectRef":{"resource":"events","apiGroup":"events.k8s.io"},"responseStatus":{"code":201},"requestReceivedTimestamp":"2026-01-01T00:00:09.000000Z"}
`

func TestCount(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.log")
	// Write the log in two parts, cutting a line in the middle, to exercise partial lines.
	cut := len(sample) - 40
	if err := os.WriteFile(path, []byte(sample[:cut]), 0o644); err != nil {
		t.Fatal(err)
	}
	l, err := Open(path, false)
	if err != nil {
		t.Fatal(err)
	}
	if err := l.Sync(); err != nil {
		t.Fatal(err)
	}
	f, _ := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	_, _ = f.WriteString(sample[cut:])
	f.Close()
	if err := l.Sync(); err != nil {
		t.Fatal(err)
	}
	if l.Len() != 5 {
		t.Fatalf("events = %d, want 5 (the watch counted once)", l.Len())
	}
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	c := l.Count("kro", base, base.Add(5*time.Second))
	if c.Total != 3 || c.Reads != 1 || c.Writes != 2 || c.Errors != 1 {
		t.Fatalf("counts = %+v", c)
	}
	if c.ByKey["patch benchfives.kro.run/status"] != 1 || c.ByKey["watch configmaps"] != 1 {
		t.Fatalf("byKey = %v", c.ByKey)
	}
	if all := l.Count("kro", base, base.Add(time.Minute)); all.Total != 4 || all.ByVerb["create"] != 1 {
		t.Fatalf("all = %+v", all)
	}
	if fl := l.Count("floor", base, base.Add(time.Minute)); fl.Total != 1 || fl.ByKey["get (non-resource)"] != 1 {
		t.Fatalf("floor = %+v", fl)
	}
	top := Top(map[string]int{"a": 1, "b": 3, "c": 3})
	if top[0].Key != "b" || top[1].Key != "c" || top[2].Key != "a" {
		t.Fatalf("top = %v", top)
	}
}

func TestLast(t *testing.T) {
	l, _ := Open(filepath.Join(t.TempDir(), "none.log"), false)
	for _, line := range strings.Split(strings.TrimSpace(sample), "\n") {
		if err := l.ParseLine([]byte(line)); err != nil {
			t.Fatal(err)
		}
	}
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	if at, ok := l.Last("kro", base); !ok || !at.Equal(base.Add(9*time.Second)) {
		t.Fatalf("last of kro = %v, %v", at, ok)
	}
	if at, ok := l.Last("floor", base); !ok || !at.Equal(base.Add(4*time.Second)) {
		t.Fatalf("last of floor = %v, %v", at, ok)
	}
	if _, ok := l.Last("kro", base.Add(10*time.Second)); ok {
		t.Fatal("a request after the last one")
	}
	if _, ok := l.Last("admin", base); ok {
		t.Fatal("a request of a user who made none")
	}
}
