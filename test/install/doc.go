// Package install renders kro's install manifests the way kubectl kustomize and helm template
// do, in Go (the kustomize API and Helm's chart loader and template engine, no binaries), so
// that tests can check them and apply them to a real kube-apiserver. Its tests also run a kro
// manager and scrape its metrics endpoint, as an operator's Prometheus would.
package install
