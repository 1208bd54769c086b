// Package cli is the kro command-line tool (cmd/kro): cobra commands that read RGDs and
// instances from files, build graphs with the controller's builder (internal/graph) and
// evaluate them with the controller's runtime (internal/runtime), offline or against a
// cluster. It owns the command-line surface, input positions and output formats; it holds no
// second implementation of what the controller does.
package cli
