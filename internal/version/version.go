// Package version holds the kro build version, set at link time with
// -ldflags "-X github.com/kro-run/kro/internal/version.Version=<v>".
package version

// Version is the kro version stamped on labels and annotations. It is only written by the
// linker.
var Version = "dev"
