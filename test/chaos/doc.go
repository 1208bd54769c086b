// Package chaos is kro's fault-injection test. It starts a real kube-apiserver and etcd with
// controller-runtime's envtest, builds cmd/kro-controller and runs it as a separate process
// (connected through a TCP proxy of the test), then creates, updates and deletes instances of
// an RGD while it SIGKILLs the controller, restarts the kube-apiserver and cuts the network
// between them at random points. At the end it checks what must hold whatever happened: every
// live instance ACTIVE with exactly its desired children, no child without its instance, no
// instance or RGD stuck with a finalizer, no object created twice (a watch records every UID
// seen for each object name from the start of the test), and, once the RGD is deleted with its
// instances, nothing left behind.
//
// The package owns only the harness; it asserts behaviour, never timings. Knobs, by
// environment variable: CHAOS_INSTANCES (default 100), CHAOS_KILLS (5),
// CHAOS_APISERVER_RESTARTS (1), CHAOS_PARTITIONS (2), CHAOS_SEED (random; printed so a failure
// can be replayed: the same choices, not the same timing), CHAOS_RACE=1 (build the controller
// with the race detector), CHAOS_AUDIT=1 (an apiserver audit log of every request on
// instances, for post-mortems). `make chaos` runs the long version. After a failure the
// controller log (debug level), the apiserver log and the audit log stay in the directory the
// test prints.
package chaos
