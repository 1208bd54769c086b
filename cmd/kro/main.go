// Command kro is the kro command-line tool: it validates ResourceGraphDefinitions, generates
// their CRDs, example instances and diagrams, and renders what the controller would apply,
// with the controller's own code. Named kubectl-kro it is the kubectl plugin "kubectl kro".
package main

import (
	"os"

	"github.com/kro-run/kro/internal/cli"
)

func main() {
	os.Exit(cli.Main())
}
