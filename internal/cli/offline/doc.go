// Package offline lets the kro CLI build graphs without a cluster: a REST mapper and an OpenAPI
// schema resolver backed by a snapshot of a kube-apiserver's discovery and /openapi/v3
// documents (embedded, refreshed by `make openapi-snapshot`) plus the CRDs the user passes.
// It owns nothing the controller uses.
package offline
