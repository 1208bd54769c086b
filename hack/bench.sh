#!/usr/bin/env bash
# `make bench`: measure kro against the physical floor (see bench/README.md).
#
# Builds what is missing, runs the Go micro-benchmarks, starts a FRESH etcd + kube-apiserver
# (its own ports and run dir, so it coexists with `make run`), with a Metadata-level JSON audit
# log and one identity each for the driver (admin), kro (kro) and the floor program (floor), then
# runs bin/kro-bench, which starts kro and the floor in turn and measures them. Results go to
# bench/results/<timestamp>/ (results.json, summary.txt, latency.svg, go-bench.txt, logs/).
# Everything is stopped, by PID and in order, on exit or Ctrl-C.
#
# Knobs (environment):
#   BENCH_QUICK=1          small run: S2 with 50 instances, no large count, short idle windows
#                          (about 3 minutes)
#   BENCH_S1_COUNT         S1 instances, one after another            (default 50)
#   BENCH_S2_COUNTS        S2 instance counts created at once; the last is the count the targets
#                          are stated for, S3 and S5 run after it     (default "500 1000"; quick "50")
#   BENCH_S2_LARGE         S2 and S6 at this count after the others: linearity of the controller
#                          CPU per instance, RSS per instance; 0 skips (default 10000; quick 0)
#   BENCH_S3_IDLE          S3 idle seconds measured for kro            (default 60; quick 15)
#   BENCH_FLOOR_IDLE       idle seconds measured for the floor         (default 10; quick 5)
#   BENCH_S5_COUNT         S5 repairs, one at a time                   (default 20)
#   BENCH_UNRELATED        S7: unrelated ConfigMaps, and as many Secrets, created before a
#                          fresh kro starts; 0 skips S7                  (default 10000; quick 1000)
#   BENCH_UNRELATED_BYTES  S7: payload of each unrelated object         (default 4096)
#   BENCH_S7_INSTANCES     S7 and S9: S2 instances, and as many external-ref instances (S7x),
#                          kro serves in each run                      (default 10)
#   BENCH_UNRELATED_CRDS   S9: unrelated CRDs, each in a group of its own like a cloud
#                          provider's, created before a fresh kro starts; 0 skips S9
#                                                                        (default 200; quick 50)
#   BENCH_UNRELATED_CRD_BYTES  S9: JSON size of each one's openAPIV3Schema (default 100000); each
#                          CRD also carries its JSON again in a last-applied-configuration
#                          annotation, as `kubectl apply` leaves it (if it fits in 256 KiB)
#   BENCH_S8=0             skip S8: kro restarted with the last S2 count's instances ACTIVE,
#                          measured until quiet (kro only; default on, in BENCH_QUICK too)
#   BENCH_CONTENDERS       what runs, in order (kro must come first)  (default "kro floor-unthrottled";
#                          add "floor" for the floor at kro's client QPS/burst, "floor-finalizer"
#                          for the unthrottled floor with kro's finalizer protocol)
#   BENCH_KRO_ARGS         extra kro-controller flags, e.g. "--client-qps 200"
#   BENCH_KRO_BIN          a kro-controller binary to measure instead of building bin/kro-controller
#                          from this tree (e.g. one built from an older commit, for before/after
#                          figures); the bench programs and the CRDs still come from this tree
#   BENCH_GO=0             skip the Go benchmarks; BENCH_GO_BENCHTIME (default 1s)
#   BENCH_KEEP_AUDIT=1     keep the audit log (gzipped) in the results dir
#   KRO_BENCH_RUN_DIR      run dir (default tmp/bench); BENCH_PORT_BASE (default 23000)
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
BIN=$root/bin
RUN=${KRO_BENCH_RUN_DIR:-$root/tmp/bench}
[[ "$RUN" = /* ]] || RUN=$root/$RUN
LOCK=$root/tmp/bench.lock
base=${BENCH_PORT_BASE:-23000}
ETCD_PORT=$((base + 379)) ETCD_PEER_PORT=$((base + 380)) ETCD_METRICS_PORT=$((base + 381))
APISERVER_PORT=$((base + 443)) KRO_METRICS_PORT=$((base + 78)) KRO_HEALTH_PORT=$((base + 79))

if [ -n "${BENCH_QUICK:-}" ] && [ "${BENCH_QUICK}" != 0 ]; then
	: "${BENCH_S2_COUNTS:=50}" "${BENCH_S2_LARGE:=0}" "${BENCH_S3_IDLE:=15}" "${BENCH_FLOOR_IDLE:=5}" "${BENCH_UNRELATED:=1000}" \
		"${BENCH_UNRELATED_CRDS:=50}"
fi
S1_COUNT=${BENCH_S1_COUNT:-50}
S2_COUNTS=${BENCH_S2_COUNTS:-500 1000}
S2_LARGE=${BENCH_S2_LARGE:-10000}
S3_IDLE=${BENCH_S3_IDLE:-60}
FLOOR_IDLE=${BENCH_FLOOR_IDLE:-10}
S5_COUNT=${BENCH_S5_COUNT:-20}
UNRELATED=${BENCH_UNRELATED:-10000}
UNRELATED_BYTES=${BENCH_UNRELATED_BYTES:-4096}
S7_INSTANCES=${BENCH_S7_INSTANCES:-10}
UNRELATED_CRDS=${BENCH_UNRELATED_CRDS:-200}
UNRELATED_CRD_BYTES=${BENCH_UNRELATED_CRD_BYTES:-100000}
S8=${BENCH_S8:-1}
if [ "$S8" = 0 ]; then S8=false; else S8=true; fi
CONTENDERS=${BENCH_CONTENDERS:-kro floor-unthrottled}

_t0=$(date +%s)
log() { printf '[bench %4ss] %s\n' "$(($(date +%s) - _t0))" "$*"; }
die() {
	printf 'error: %s\n' "$*" >&2
	exit 1
}

# --- build what is missing ------------------------------------------------------------------
log "building: control plane (envtest set, skipped when present), kro-controller, bench programs"
hack/build-controlplane.sh envtest
if [ -n "${BENCH_KRO_BIN:-}" ]; then
	KRO_BIN=$(cd "$(dirname "$BENCH_KRO_BIN")" && pwd)/$(basename "$BENCH_KRO_BIN")
	[ -x "$KRO_BIN" ] || die "BENCH_KRO_BIN=$BENCH_KRO_BIN is not an executable file"
	log "kro-controller: $KRO_BIN (BENCH_KRO_BIN; not built from this tree)"
else
	KRO_BIN=$BIN/kro-controller
	go build -o "$KRO_BIN" ./cmd/kro-controller
fi
go build -o "$BIN/bench-floor" ./bench/cmd/floor
go build -o "$BIN/kro-bench" ./bench/cmd/kro-bench

OUT=$root/bench/results/$(date +%Y%m%d-%H%M%S)
mkdir -p "$OUT"
log "results: ${OUT#"$root"/}"

# --- Go micro-benchmarks (before the cluster, so they do not compete for the 2 cores) ----------
if [ "${BENCH_GO:-1}" != 0 ]; then
	log "Go benchmarks (internal/graph, internal/cel, internal/runtime)"
	if ! go test -run '^$' -bench . -benchmem -benchtime "${BENCH_GO_BENCHTIME:-1s}" \
		./internal/graph/... ./internal/cel/... ./internal/runtime/... >"$OUT/go-bench.txt" 2>&1; then
		log "warning: the Go benchmarks failed; see $OUT/go-bench.txt"
	fi
	grep -E '^(Benchmark|ok|FAIL)' "$OUT/go-bench.txt" | sed 's/^/    /' || true
fi

# --- the control plane ----------------------------------------------------------------------
mkdir -p "$(dirname "$LOCK")"
exec 9<>"$LOCK"
flock -n 9 || die "another make bench holds $LOCK ($(cat "$LOCK" 2>/dev/null | tr '\n' ' '))"
printf 'pid=%s\nrun_dir=%s\n' "$$" "$RUN" >"$LOCK"

for entry in "$APISERVER_PORT:kube-apiserver" "$ETCD_PORT:etcd" "$ETCD_PEER_PORT:etcd peer" \
	"$ETCD_METRICS_PORT:etcd metrics" "$KRO_METRICS_PORT:kro metrics" "$KRO_HEALTH_PORT:kro health"; do
	port=${entry%%:*}
	if [ -n "$(ss -Hltn "sport = :$port" 2>/dev/null | head -1)" ]; then
		die "port $port (bench ${entry#*:}) is in use; set BENCH_PORT_BASE to move the bench's ports"
	fi
done

pid_of() { cat "$RUN/pids/$1" 2>/dev/null || true; }
alive() {
	local state
	state=$(sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | cut -c1) || return 1
	[ -n "$state" ] && [ "$state" != Z ]
}
start_proc() {
	local name=$1
	shift
	setsid "$@" >"$RUN/logs/$name.log" 2>&1 </dev/null &
	echo $! >"$RUN/pids/$name"
}
stop_proc() {
	local name=$1 pid i
	pid=$(pid_of "$name")
	[ -n "$pid" ] && alive "$pid" || return 0
	# Only our own process: its command line names the run dir or is one of our binaries.
	tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qE "$RUN|$BIN/" || return 0
	kill -TERM "$pid" 2>/dev/null || true
	for ((i = 0; i < 300; i++)); do
		alive "$pid" || break
		sleep 0.1
	done
	alive "$pid" && kill -KILL "$pid" 2>/dev/null || true
	wait "$pid" 2>/dev/null || true
}
wait_http() {
	local name=$1 url=$2 i
	for ((i = 0; i < 600; i++)); do
		curl -fsk -H "Authorization: Bearer admintoken" "$url" >/dev/null 2>&1 && return 0
		alive "$(pid_of "$name")" || {
			tail -n 20 "$RUN/logs/$name.log" >&2
			die "$name exited"
		}
		sleep 0.1
	done
	die "$name not ready at $url"
}

created=
cleanup() {
	local rc=$?
	trap '' INT TERM HUP
	if [ -n "$created" ]; then
		log "stopping kro, the floor, kube-apiserver and etcd"
		for p in kro-bench kro-controller floor floor-unthrottled floor-finalizer; do stop_proc "$p"; done
		stop_proc kube-apiserver
		stop_proc etcd
		mkdir -p "$OUT/logs"
		for f in "$RUN"/logs/*.log; do
			[ -e "$f" ] || continue
			# Keep the logs, bounded: the apiserver's can be large.
			tail -c 20000000 "$f" >"$OUT/logs/$(basename "$f")"
		done
		if [ "${BENCH_KEEP_AUDIT:-0}" != 0 ] && [ -f "$RUN/audit.log" ]; then
			gzip -c "$RUN/audit.log" >"$OUT/audit.log.gz"
		fi
		case "$RUN" in "" | / | "$root") ;; *) rm -rf "$RUN" ;; esac
	fi
	log "done (exit $rc); results in ${OUT#"$root"/}"
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

[ -d "$RUN" ] && rm -rf "$RUN" # debris of a crashed run: the lock says nothing else uses it
mkdir -p "$RUN/logs" "$RUN/pids" "$RUN/certs"
created=1

openssl genrsa -out "$RUN/sa.key" 2048 2>/dev/null
openssl rsa -in "$RUN/sa.key" -pubout -out "$RUN/sa.pub" 2>/dev/null
# One identity per actor, so the audit log tells their requests apart.
cat >"$RUN/tokens.csv" <<EOF
admintoken,admin,admin,system:masters
krotoken,kro,kro,system:masters
floortoken,floor,floor,system:masters
EOF
kubeconfig() {
	cat >"$RUN/$1.kubeconfig" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: bench
  cluster:
    server: https://127.0.0.1:$APISERVER_PORT
    insecure-skip-tls-verify: true
users:
- name: $1
  user:
    token: $2
contexts:
- name: bench
  context: {cluster: bench, user: $1}
current-context: bench
EOF
}
kubeconfig admin admintoken
kubeconfig kro krotoken
kubeconfig floor floortoken
# Every request at Metadata level; RequestReceived omitted (a request is one line, a watch two).
cat >"$RUN/audit-policy.yaml" <<EOF
apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: ["RequestReceived"]
rules:
- level: Metadata
EOF

log "starting etcd (--unsafe-no-fsync) on :$ETCD_PORT"
start_proc etcd "$BIN/etcd" --name default --data-dir "$RUN/etcd" --unsafe-no-fsync \
	--listen-client-urls "http://127.0.0.1:$ETCD_PORT" --advertise-client-urls "http://127.0.0.1:$ETCD_PORT" \
	--listen-peer-urls "http://127.0.0.1:$ETCD_PEER_PORT" --initial-advertise-peer-urls "http://127.0.0.1:$ETCD_PEER_PORT" \
	--initial-cluster "default=http://127.0.0.1:$ETCD_PEER_PORT" --listen-metrics-urls "http://127.0.0.1:$ETCD_METRICS_PORT"
wait_http etcd "http://127.0.0.1:$ETCD_PORT/health"

log "starting kube-apiserver on :$APISERVER_PORT (audit log $RUN/audit.log)"
# A /16 service range: S2 creates a ClusterIP Service per instance.
start_proc kube-apiserver "$BIN/kube-apiserver" --etcd-servers "http://127.0.0.1:$ETCD_PORT" \
	--bind-address 127.0.0.1 --advertise-address 127.0.0.1 --secure-port "$APISERVER_PORT" \
	--endpoint-reconciler-type none \
	--cert-dir "$RUN/certs" --service-cluster-ip-range 10.96.0.0/16 \
	--service-account-issuer https://kubernetes.default.svc.cluster.local \
	--service-account-key-file "$RUN/sa.pub" --service-account-signing-key-file "$RUN/sa.key" \
	--token-auth-file "$RUN/tokens.csv" --authorization-mode RBAC \
	--allow-privileged=true --disable-admission-plugins ServiceAccount \
	--audit-policy-file "$RUN/audit-policy.yaml" --audit-log-path "$RUN/audit.log" \
	--audit-log-format json --audit-log-mode blocking --audit-log-maxsize 100000
wait_http kube-apiserver "https://127.0.0.1:$APISERVER_PORT/readyz"

kc() { "$BIN/kubectl" --kubeconfig "$RUN/admin.kubeconfig" "$@"; }
kc apply --server-side -f config/crd/bases/ >/dev/null
kc wait --for=condition=Established -f config/crd/bases/ --timeout=30s >/dev/null
log "control plane ready; kro CRDs installed"

"$BIN/kro-bench" \
	-admin-kubeconfig "$RUN/admin.kubeconfig" -kro-kubeconfig "$RUN/kro.kubeconfig" -floor-kubeconfig "$RUN/floor.kubeconfig" \
	-kro-bin "$KRO_BIN" -floor-bin "$BIN/bench-floor" -kro-args "${BENCH_KRO_ARGS:-}" \
	-kro-metrics-addr "127.0.0.1:$KRO_METRICS_PORT" -kro-health-addr "127.0.0.1:$KRO_HEALTH_PORT" \
	-apiserver-pid "$(pid_of kube-apiserver)" -etcd-pid "$(pid_of etcd)" -audit-log "$RUN/audit.log" \
	-run-dir "$RUN" -out "$OUT" -go-bench "$OUT/go-bench.txt" \
	-s1-count "$S1_COUNT" -s2-counts "$S2_COUNTS" -s2-large "$S2_LARGE" -s3-idle "${S3_IDLE}s" -floor-idle "${FLOOR_IDLE}s" \
	-s5-count "$S5_COUNT" -unrelated "$UNRELATED" -unrelated-bytes "$UNRELATED_BYTES" -s7-instances "$S7_INSTANCES" -s8="$S8" \
	-unrelated-crds "$UNRELATED_CRDS" -unrelated-crd-bytes "$UNRELATED_CRD_BYTES" \
	-contenders "$CONTENDERS" &
echo $! >"$RUN/pids/kro-bench"
wait "$(pid_of kro-bench)"
