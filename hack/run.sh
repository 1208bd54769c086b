#!/usr/bin/env bash
# `make run`: a local cluster (hack/local-cluster.sh) with kro-controller running against it and
# the webapp example applied, then waits until Ctrl-C and tears everything down.
#
# Expects the binaries to be built already (make run does: hack/build-controlplane.sh all and
# bin/kro-controller). Everything lives under the run dir (KRO_RUN_DIR, default tmp/run),
# which is removed at the end; the controller's log is $RUN/logs/kro-controller.log.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=local-cluster.sh
source "$root/hack/local-cluster.sh"

CONTROLLER=${KRO_CONTROLLER:-$BIN/kro-controller}
METRICS_ADDR=127.0.0.1:8078
HEALTH_ADDR=127.0.0.1:8079
RGD_FILE=$root/examples/webapp/rgd.yaml
INSTANCE_FILE=$root/examples/webapp/instance.yaml
RGD_TIMEOUT=60
# Generous: the first instance waits for the RGD's CRD, the dynamic controller and a Deployment
# rollout on the fake node.
INSTANCE_TIMEOUT=${KRO_INSTANCE_TIMEOUT:-120}

say() { printf '[run     %5ss] %s\n' "$(elapsed)" "$*"; }

# yaml_top FILE KEY and yaml_meta FILE KEY read a top-level or metadata scalar of the first
# document: enough for the example files, without needing a YAML tool or a server.
yaml_top() { awk -v k="$2" '/^---/ && NR > 1 {exit} /^[^ ]/ && $1 == k":" {print $2; exit}' "$1" 2>/dev/null | tr -d "\"'"; }
yaml_meta() {
	# Only keys at metadata's own indentation: not e.g. a "name" label under metadata.labels.
	awk -v k="$2" '/^---/ && NR > 1 {exit} /^metadata:/ {m = 1; next} /^[^ #]/ {m = 0}
		m && NF && $1 !~ /^#/ {i = match($0, /[^ ]/); if (!ind) ind = i; if (i == ind && $1 == k":") {print $2; exit}}' \
		"$1" 2>/dev/null | tr -d "\"'"
}

# Names from the example files, with the intended values as fallbacks.
RGD_NAME=$(yaml_meta "$RGD_FILE" name)
RGD_NAME=${RGD_NAME:-webapp}
INSTANCE_KIND=$(yaml_top "$INSTANCE_FILE" kind)
INSTANCE_KIND=${INSTANCE_KIND:-WebApp}
INSTANCE_NAME=$(yaml_meta "$INSTANCE_FILE" name)
INSTANCE_NAME=${INSTANCE_NAME:-demo}
INSTANCE_NS=$(yaml_meta "$INSTANCE_FILE" namespace)
INSTANCE_NS=${INSTANCE_NS:-default}
# kubectl resolves a kind through discovery, so the kind itself names the resource.
INSTANCE_RES=$(tr '[:upper:]' '[:lower:]' <<<"$INSTANCE_KIND")

cleaned_up=
cleanup() {
	local rc=$?
	[ -z "$cleaned_up" ] || return 0
	cleaned_up=1
	# A second Ctrl-C must not interrupt the ordered shutdown and leave processes behind.
	trap '' INT TERM HUP
	# Nothing to stop when we failed before cluster_up created the run dir (lock held by someone
	# else, port in use): that run dir may belong to the running instance.
	if [ -n "$CLUSTER_CREATED" ]; then
		echo
		say "stopping kro-controller and the cluster"
		cluster_down
	fi
	exit "$rc"
}

controller_tail() {
	echo "--- last lines of $RUN/logs/kro-controller.log"
	tail -n "${1:-30}" "$RUN/logs/kro-controller.log" 2>/dev/null || true
	echo "---"
}

# Fail before starting anything when make run cannot work.
[ -x "$CONTROLLER" ] || die "$CONTROLLER is missing; build it with: go build -o bin/kro-controller ./cmd/kro-controller"
cluster_lock run
check_ports "${METRICS_ADDR##*:}:kro-controller metrics" "${HEALTH_ADDR##*:}:kro-controller health probes"

trap cleanup EXIT
# Exiting runs the EXIT trap; 130 is the usual status for an interrupt.
trap 'exit 130' INT TERM HUP

cluster_up

crds=("$root"/config/crd/bases/*.yaml)
if [ -e "${crds[0]}" ]; then
	say "installing kro CRDs from config/crd/bases"
	kc apply --server-side -f "$root/config/crd/bases/" >/dev/null
	kc wait --for=condition=Established -f "$root/config/crd/bases/" --timeout=30s >/dev/null
else
	say "warning: no CRDs in config/crd/bases; starting the controller anyway"
fi

start_proc kro-controller "$CONTROLLER" --kubeconfig "$RUN/kubeconfig" \
	--metrics-bind-address "$METRICS_ADDR" --health-probe-bind-address "$HEALTH_ADDR"
wait_until kro-controller 60 "kro-controller /readyz" curl -fs "http://$HEALTH_ADDR/readyz"
say "kro-controller ready"

# The demo: RGD -> CRD -> instance -> Deployment/Service/ConfigMap on the fake node. A failure
# here keeps everything running, so the state can be inspected before Ctrl-C.
demo() {
	local i out
	if [ ! -f "$RGD_FILE" ] || [ ! -f "$INSTANCE_FILE" ]; then
		say "warning: ${RGD_FILE#"$root"/} or ${INSTANCE_FILE#"$root"/} not found; skipping the example"
		return 0
	fi
	say "applying ${RGD_FILE#"$root"/} (rgd/$RGD_NAME)"
	kc apply -f "$RGD_FILE" >/dev/null
	if ! kc wait --for=jsonpath='{.status.state}'=Active "rgd/$RGD_NAME" --timeout="${RGD_TIMEOUT}s" >/dev/null; then
		say "rgd/$RGD_NAME did not become Active within ${RGD_TIMEOUT}s"
		kc get rgd "$RGD_NAME" -o yaml || true
		controller_tail
		return 0
	fi
	say "rgd/$RGD_NAME Active"

	# The instance CRD was just created: retry while kubectl's discovery catches up with it.
	say "applying ${INSTANCE_FILE#"$root"/} ($INSTANCE_KIND $INSTANCE_NS/$INSTANCE_NAME)"
	for ((i = 0; ; i++)); do
		out=$(kc apply -f "$INSTANCE_FILE" 2>&1) && break
		if [ "$i" -ge 30 ]; then
			echo "$out"
			say "could not apply the instance"
			return 0
		fi
		sleep 1
	done
	if ! kc wait --for=jsonpath='{.status.state}'=ACTIVE "$INSTANCE_RES/$INSTANCE_NAME" -n "$INSTANCE_NS" \
		--timeout="${INSTANCE_TIMEOUT}s" >/dev/null; then
		say "$INSTANCE_KIND $INSTANCE_NS/$INSTANCE_NAME did not become ACTIVE within ${INSTANCE_TIMEOUT}s"
		kc get "$INSTANCE_RES" "$INSTANCE_NAME" -n "$INSTANCE_NS" -o yaml || true
		controller_tail 40
	else
		say "$INSTANCE_KIND $INSTANCE_NS/$INSTANCE_NAME ACTIVE"
	fi
	echo
	kc get rgd -o wide || true
	echo
	kc get "$INSTANCE_RES" -n "$INSTANCE_NS" -o wide || true
	echo
	kc get deploy,svc,cm -A -l "kro.run/instance-name=$INSTANCE_NAME" -o wide || true
}
demo

cat <<EOF

kro is running against a local cluster (all on 127.0.0.1). In another terminal:
  export KUBECONFIG=$RUN/kubeconfig
  export PATH=$BIN:\$PATH      # bin/kubectl matches the server; a system kubectl may be older
  kubectl get rgd,$INSTANCE_RES -A
Logs: $RUN/logs/ (kro-controller.log, kube-apiserver.log, ...)
Press Ctrl-C to stop everything and remove $RUN.
EOF

# Sleep in the background and `wait` for it: bash runs a trap only between commands, and `wait`
# returns at once on a signal, so Ctrl-C is handled immediately.
warned=
while :; do
	sleep 2 &
	wait $! || true
	if [ -z "$warned" ] && ! alive "$(pid_of kro-controller)"; then
		warned=1
		say "kro-controller exited; the cluster keeps running for inspection"
		controller_tail
	fi
done
