// Package integration tests kro end to end against a real kube-apiserver and etcd started by
// controller-runtime's envtest from the binaries in bin/ (see hack/build-controlplane.sh).
package integration
