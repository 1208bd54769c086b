// Command kro-controller runs the kro controller: flags -> app.Options -> app.Run.
package main

import (
	"flag"
	"fmt"
	"os"

	ctrl "sigs.k8s.io/controller-runtime"

	"github.com/kro-run/kro/internal/app"
)

func main() {
	opts := app.DefaultOptions()
	opts.BindFlags(flag.CommandLine)
	flag.Parse()

	log, err := app.NewLogger(opts, os.Stderr)
	if err != nil {
		fmt.Fprintln(os.Stderr, "kro-controller:", err)
		os.Exit(2)
	}
	ctrl.SetLogger(log)
	ctx := ctrl.LoggerInto(ctrl.SetupSignalHandler(), log)
	if err := app.Run(ctx, opts); err != nil {
		fmt.Fprintln(os.Stderr, "kro-controller:", err)
		os.Exit(1)
	}
}
