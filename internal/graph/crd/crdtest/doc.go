// Package crdtest holds the golden tests of the CRDs kro generates: whole RGD manifests in
// testdata are built with the graph builder and the resulting CRD is compared with a golden
// file. It lives apart from package crd because the graph builder imports crd.
package crdtest
