#!/usr/bin/env bash
# A real local Kubernetes control plane on 127.0.0.1, for `make run` and manual testing:
# etcd, kube-apiserver, kube-controller-manager, kube-scheduler and kwok with one fake Node
# (kwok fakes the kubelet, so Deployments become Available without containers).
#
#   hack/local-cluster.sh up       start everything, wait until the node is Ready
#   hack/local-cluster.sh down     stop everything (by PID, in order) and remove the run dir
#   hack/local-cluster.sh status   show which processes are running
#
# Binaries come from bin/ (hack/build-controlplane.sh all). Everything the cluster writes lives
# under the run dir (KRO_RUN_DIR, default tmp/run): etcd data, certs, kubeconfig, logs/<name>.log,
# pids/<name>. Flags and pitfalls behind the choices below: /work/shared/control-plane.md.
#
# The file can also be sourced (hack/run.sh does): it then only defines the cluster_* functions.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
RUN=${KRO_RUN_DIR:-$root/tmp/run}
# Absolute, because `down` recognises its processes by the run dir in their command lines.
[[ "$RUN" = /* ]] || RUN=$PWD/$RUN
BIN=${KRO_BIN_DIR:-$root/bin}
# The lock is not in the run dir: it must outlive `down` (which removes the run dir), and the
# ports it protects are the same whatever run dir is used.
LOCK=${KRO_LOCK_FILE:-$root/tmp/run.lock}
# Loopback only, throwaway cluster: a fixed admin token is fine.
ADMIN_TOKEN=admintoken
CLUSTER_CREATED=
NODE_NAME=kwok-node-0

ETCD_PORT=2379 ETCD_PEER_PORT=2380 ETCD_METRICS_PORT=2381
APISERVER_PORT=6443 KCM_PORT=10257 SCHEDULER_PORT=10259 KWOK_PORT=10247
# port:who, checked before anything starts so a clash fails with a clear message instead of a
# process dying later with "address already in use" buried in its log.
CLUSTER_PORTS=(
	"$APISERVER_PORT:kube-apiserver" "$ETCD_PORT:etcd" "$ETCD_PEER_PORT:etcd peer"
	"$ETCD_METRICS_PORT:etcd metrics" "$KCM_PORT:kube-controller-manager"
	"$SCHEDULER_PORT:kube-scheduler" "$KWOK_PORT:kwok"
)
# Stop order: clients before the apiserver, the apiserver before etcd (an apiserver whose etcd
# went away first sits retrying instead of exiting). kro-controller is started by hack/run.sh but
# recorded here too, so `down` also cleans up after a run.sh that was killed.
STOP_ORDER=(kro-controller kwok kube-scheduler kube-controller-manager kube-apiserver etcd)

_t0=$(date +%s.%N)
elapsed() { awk -v a="$_t0" -v b="$(date +%s.%N)" 'BEGIN {printf "%.1f", b - a}'; }
log() { printf '[cluster %5ss] %s\n' "$(elapsed)" "$*"; }
die() {
	printf 'error: %s\n' "$*" >&2
	exit 1
}

kc() { "$BIN/kubectl" --kubeconfig "$RUN/kubeconfig" "$@"; }

# --- lock ---------------------------------------------------------------------------------

# cluster_lock MODE: take the lock or fail with a message saying who holds it. MODE ("run" for
# make run, "up" for hack/local-cluster.sh up) only shapes that message.
#
# The lock is an flock on fd 9, which every process started afterwards inherits. So it stays
# held exactly as long as any cluster process is alive, even after the shell that took it has
# exited (`up`) or was killed: a free lock means nothing is left running.
cluster_lock() {
	local mode=$1
	mkdir -p "$(dirname "$LOCK")"
	exec 9<>"$LOCK"
	if ! flock -n 9; then
		exec 9>&-
		die "$(lock_holder_message)"
	fi
	# Written through a new descriptor after locking: the holder's info is never truncated by a
	# loser, and the flock on fd 9 is unaffected.
	printf 'pid=%s\nmode=%s\nrun_dir=%s\n' "$$" "$mode" "$RUN" >"$LOCK"
}

lock_holder_message() {
	local pid mode dir down_cmd=hack/local-cluster.sh
	pid=$(sed -n 's/^pid=//p' "$LOCK" 2>/dev/null)
	mode=$(sed -n 's/^mode=//p' "$LOCK" 2>/dev/null)
	dir=$(sed -n 's/^run_dir=//p' "$LOCK" 2>/dev/null)
	[ "$dir" = "$root/tmp/run" ] || down_cmd="KRO_RUN_DIR=$dir $down_cmd"
	if [ "$mode" = run ] && [ -n "$pid" ] && alive "$pid"; then
		echo "make run is already running (pid $pid, run dir $dir); stop it with Ctrl-C first"
	elif [ "$mode" = run ]; then
		echo "processes left over from a make run that is gone (pid ${pid:-?}) still hold $LOCK; stop them with: $down_cmd down"
	else
		echo "a local cluster is already running (started by hack/local-cluster.sh up, run dir ${dir:-?}); stop it with: $down_cmd down"
	fi
}

# check_ports PORT:WHO...: fail naming the first port something already listens on.
check_ports() {
	local entry port who holder
	for entry in "$@"; do
		port=${entry%%:*} who=${entry#*:}
		holder=$(ss -Hltnp "sport = :$port" 2>/dev/null | head -1)
		if [ -n "$holder" ]; then
			holder=$(grep -o 'users:(([^)]*' <<<"$holder" | sed 's/users:((//') || true
			die "port $port (needed by $who) is already in use${holder:+ by $holder}; is another cluster or make run running outside this repo? stop it first"
		fi
	done
}

# --- processes ----------------------------------------------------------------------------

pid_of() { cat "$RUN/pids/$1" 2>/dev/null || true; }

# alive PID: running and not a zombie (our own children stay zombies until reaped, and kill -0
# succeeds on a zombie).
alive() {
	local state
	state=$(sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | cut -c1) || return 1
	[ -n "$state" ] && [ "$state" != Z ]
}

# ours PID: the process's command line mentions the run dir, so a recycled PID is never killed.
ours() { tr '\0' ' ' <"/proc/$1/cmdline" 2>/dev/null | grep -qF "$RUN"; }

# start_proc NAME CMD...: run CMD in the background, logging to logs/NAME.log.
# setsid puts it in its own session: Ctrl-C in the terminal then reaches only the script,
# whose trap stops everything in order, instead of every process dying at once.
start_proc() {
	local name=$1
	shift
	setsid "$@" >"$RUN/logs/$name.log" 2>&1 </dev/null &
	echo $! >"$RUN/pids/$name"
	log "started $name (pid $!, log $RUN/logs/$name.log)"
}

# wait_until NAME TIMEOUT DESC CMD...: poll CMD until it succeeds; fail early, with the end of
# NAME's log, if NAME exits, or after TIMEOUT seconds.
wait_until() {
	local name=$1 timeout=$2 desc=$3 pid deadline
	shift 3
	pid=$(pid_of "$name")
	deadline=$(($(date +%s) + timeout))
	until "$@" >/dev/null 2>&1; do
		if ! alive "$pid"; then
			echo "--- last lines of $RUN/logs/$name.log" >&2
			tail -n 25 "$RUN/logs/$name.log" >&2 || true
			die "$name exited while waiting for $desc"
		fi
		if [ "$(date +%s)" -ge "$deadline" ]; then
			echo "--- last lines of $RUN/logs/$name.log" >&2
			tail -n 25 "$RUN/logs/$name.log" >&2 || true
			die "timed out after ${timeout}s waiting for $desc"
		fi
		sleep 0.1
	done
}

# stop_procs NAME...: SIGTERM all of them, wait for all to exit (SIGKILL after a grace period).
stop_procs() {
	local name pid pids=() i
	for name in "$@"; do
		pid=$(pid_of "$name")
		[ -n "$pid" ] && alive "$pid" && ours "$pid" || continue
		log "stopping $name (pid $pid)"
		kill -TERM "$pid" 2>/dev/null || true
		pids+=("$pid")
	done
	for pid in ${pids[@]+"${pids[@]}"}; do
		# Graceful apiserver shutdown takes a few seconds; 30 s covers a loaded machine.
		for ((i = 0; i < 300; i++)); do
			alive "$pid" || break
			sleep 0.1
		done
		if alive "$pid"; then
			log "pid $pid did not exit after 30s; killing it"
			kill -KILL "$pid" 2>/dev/null || true
		fi
		# Reap it when it is our own child (run.sh sources this file); harmless otherwise.
		wait "$pid" 2>/dev/null || true
	done
}

# --- up / down ----------------------------------------------------------------------------

write_kubeconfig() {
	cat >"$RUN/kubeconfig" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: kro-local
  cluster:
    server: https://127.0.0.1:$APISERVER_PORT
    # The apiserver's serving cert is self-signed at start (--cert-dir); loopback only.
    insecure-skip-tls-verify: true
users:
- name: admin
  user:
    token: $ADMIN_TOKEN
contexts:
- name: kro-local
  context:
    cluster: kro-local
    user: admin
current-context: kro-local
EOF
}

# kwok_stages: the stages file kwok needs (it does nothing without one). build-controlplane.sh
# links it into bin/; generate it into the run dir if that has not happened.
kwok_stages() {
	if [ -s "$BIN/kwok-stages.yaml" ]; then
		echo "$BIN/kwok-stages.yaml"
	else
		"$root/hack/kwok-stages.sh" "$RUN/kwok-stages.yaml"
		echo "$RUN/kwok-stages.yaml"
	fi
}

# cluster_up: start the cluster. The caller holds the lock (cluster_lock).
cluster_up() {
	local b stages
	for b in etcd kube-apiserver kube-controller-manager kube-scheduler kwok kubectl; do
		[ -x "$BIN/$b" ] || die "$BIN/$b is missing; build it with: hack/build-controlplane.sh all"
	done
	check_ports "${CLUSTER_PORTS[@]}"

	# With the lock held, nothing of an earlier run can still be alive (every cluster process
	# holds the lock), so a leftover run dir is just debris from a crash.
	if [ -d "$RUN" ]; then
		log "removing leftover run dir $RUN"
		rm -rf "$RUN"
	fi
	mkdir -p "$RUN/logs" "$RUN/pids" "$RUN/certs"
	# From here on a failure leaves something to clean up (see the EXIT traps).
	CLUSTER_CREATED=1
	log "run dir $RUN"

	openssl genrsa -out "$RUN/sa.key" 2048 2>/dev/null
	openssl rsa -in "$RUN/sa.key" -pubout -out "$RUN/sa.pub" 2>/dev/null
	echo "$ADMIN_TOKEN,admin,admin,system:masters" >"$RUN/tokens.csv"
	write_kubeconfig

	# --unsafe-no-fsync: the data is thrown away on `down`; fsync only slows every write.
	start_proc etcd "$BIN/etcd" --name default --data-dir "$RUN/etcd" --unsafe-no-fsync \
		--listen-client-urls "http://127.0.0.1:$ETCD_PORT" --advertise-client-urls "http://127.0.0.1:$ETCD_PORT" \
		--listen-peer-urls "http://127.0.0.1:$ETCD_PEER_PORT" --initial-advertise-peer-urls "http://127.0.0.1:$ETCD_PEER_PORT" \
		--initial-cluster "default=http://127.0.0.1:$ETCD_PEER_PORT" --listen-metrics-urls "http://127.0.0.1:$ETCD_METRICS_PORT"
	wait_until etcd 30 "etcd /health" curl -fs "http://127.0.0.1:$ETCD_PORT/health"
	log "etcd ready"

	# --endpoint-reconciler-type=none: with a loopback advertise address the default reconciler
	# refuses to start. ServiceAccount admission is off so pods need no token volume.
	start_proc kube-apiserver "$BIN/kube-apiserver" --etcd-servers "http://127.0.0.1:$ETCD_PORT" \
		--bind-address 127.0.0.1 --advertise-address 127.0.0.1 --secure-port "$APISERVER_PORT" \
		--endpoint-reconciler-type none \
		--cert-dir "$RUN/certs" --service-cluster-ip-range 10.0.0.0/24 \
		--service-account-issuer https://kubernetes.default.svc.cluster.local \
		--service-account-key-file "$RUN/sa.pub" --service-account-signing-key-file "$RUN/sa.key" \
		--token-auth-file "$RUN/tokens.csv" --authorization-mode RBAC \
		--allow-privileged=true --disable-admission-plugins ServiceAccount
	wait_until kube-apiserver 60 "kube-apiserver /readyz" \
		curl -fsk -H "Authorization: Bearer $ADMIN_TOKEN" "https://127.0.0.1:$APISERVER_PORT/readyz"
	log "kube-apiserver ready (kubeconfig $RUN/kubeconfig)"

	# The rest only need the apiserver, so they start together. The admin kubeconfig serves for
	# delegated authn/authz too; leader election is pointless with one replica.
	local common=(--kubeconfig "$RUN/kubeconfig" --authentication-kubeconfig "$RUN/kubeconfig"
		--authorization-kubeconfig "$RUN/kubeconfig" --bind-address 127.0.0.1 --leader-elect=false)
	start_proc kube-controller-manager "$BIN/kube-controller-manager" "${common[@]}" \
		--secure-port "$KCM_PORT" --cert-dir "$RUN/certs/kcm" --controllers '*' \
		--service-account-private-key-file "$RUN/sa.key" --use-service-account-credentials=false
	start_proc kube-scheduler "$BIN/kube-scheduler" "${common[@]}" \
		--secure-port "$SCHEDULER_PORT" --cert-dir "$RUN/certs/scheduler"
	stages=$(kwok_stages)
	# The heartbeat stage plus a node lease keep the node Ready; without them the node
	# controller marks it NotReady after about 40 s and evicts its pods.
	start_proc kwok "$BIN/kwok" --kubeconfig "$RUN/kubeconfig" --config "$stages" \
		--manage-all-nodes=false --manage-nodes-with-annotation-selector kwok.x-k8s.io/node=fake \
		--node-lease-duration-seconds 40 --node-ip 127.0.0.1 --cidr 10.244.0.1/24 \
		--server-address "127.0.0.1:$KWOK_PORT"

	kc create -f "$root/hack/kwok-node.yaml" >/dev/null
	log "created node $NODE_NAME"
	wait_until kube-controller-manager 60 "kube-controller-manager /healthz" \
		curl -fsk "https://127.0.0.1:$KCM_PORT/healthz"
	wait_until kube-scheduler 60 "kube-scheduler /healthz" \
		curl -fsk "https://127.0.0.1:$SCHEDULER_PORT/healthz"
	log "kube-controller-manager and kube-scheduler ready"
	wait_until kwok 60 "node $NODE_NAME Ready" \
		kc wait --for=condition=Ready "node/$NODE_NAME" --timeout=2s
	log "node $NODE_NAME Ready: cluster up"
}

# cluster_down: stop whatever is running under the run dir and remove it.
cluster_down() {
	case "$RUN" in
	"" | / | "$HOME" | "$root") die "refusing to remove run dir '$RUN'" ;;
	esac
	if [ ! -d "$RUN" ]; then
		log "nothing to stop: $RUN does not exist"
		return 0
	fi
	stop_procs "${STOP_ORDER[@]:0:4}"    # clients first, together
	stop_procs kube-apiserver            # then the apiserver, waiting for it to exit
	stop_procs etcd
	rm -rf "$RUN"
	log "stopped; removed $RUN"
}

cluster_status() {
	local name pid
	[ -d "$RUN" ] || {
		echo "not running ($RUN does not exist)"
		return 0
	}
	for name in "${STOP_ORDER[@]}"; do
		pid=$(pid_of "$name")
		[ -n "$pid" ] || continue
		if alive "$pid" && ours "$pid"; then
			printf '%-24s running  pid %s\n' "$name" "$pid"
		else
			printf '%-24s exited   (pid %s)\n' "$name" "$pid"
		fi
	done
	echo "export KUBECONFIG=$RUN/kubeconfig"
}

# --- main (not when sourced) --------------------------------------------------------------

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
	case "${1:-}" in
	up)
		cluster_lock up
		# A half-started cluster would hold the lock and the ports: stop it on failure or Ctrl-C,
		# ignoring further interrupts so the ordered stop completes.
		on_exit() {
			local rc=$?
			trap - EXIT
			trap '' INT TERM HUP
			if [ "$rc" -ne 0 ] && [ -n "$CLUSTER_CREATED" ]; then
				log "up failed; stopping what was started"
				cluster_down
			fi
			exit "$rc"
		}
		trap on_exit EXIT
		trap 'exit 130' INT TERM HUP
		cluster_up
		trap - EXIT INT TERM HUP
		echo
		echo "Use the cluster:"
		echo "  export KUBECONFIG=$RUN/kubeconfig"
		echo "  $BIN/kubectl get nodes"
		echo "Stop it with: hack/local-cluster.sh down"
		;;
	down) cluster_down ;;
	status) cluster_status ;;
	*)
		echo "usage: $0 up|down|status" >&2
		exit 2
		;;
	esac
fi
