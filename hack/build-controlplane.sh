#!/usr/bin/env bash
# Builds a local Kubernetes control plane from Go modules (no downloads except the Go module
# proxy) and links the binaries into bin/.
#
#   hack/build-controlplane.sh          envtest set: etcd, kube-apiserver, kubectl
#   hack/build-controlplane.sh all      + kube-controller-manager, kube-scheduler, kwok and
#                                       kwok-stages.yaml (kwok's stages, for hack/local-cluster.sh)
#
# Binaries are kept in a cache outside the work tree (KRO_TESTBIN_CACHE, default
# ${XDG_CACHE_HOME:-$HOME/.cache}/kro-testbin/<k8s version>) with a stamp per binary, so a re-run
# with everything present returns at once. Each throwaway build module lives in a temp dir and
# never touches the project's go.mod.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=versions.env
source "$root/hack/versions.env"

set_name=${1:-envtest}
cache=${KRO_TESTBIN_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/kro-testbin/$K8S_VERSION}
mkdir -p "$cache" "$root/bin"

log() { printf '[controlplane %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

# fresh NAME VERSION: true when NAME is built at VERSION.
fresh() { [ -x "$cache/$1" ] && [ "$(cat "$cache/$1.version" 2>/dev/null)" = "$2" ]; }
stamp() { echo "$2" >"$cache/$1.version"; }
link() { ln -sfn "$cache/$1" "$root/bin/$1"; }

kube_cmds=(kube-apiserver kubectl)
[ "$set_name" = all ] && kube_cmds+=(kube-controller-manager kube-scheduler)

want=()
for c in "${kube_cmds[@]}"; do fresh "$c" "$K8S_VERSION" || want+=("$c"); done

tmp=$(mktemp -d)
trap 'chmod -R u+w "$tmp" 2>/dev/null; rm -rf "$tmp"' EXIT

if [ ${#want[@]} -gt 0 ]; then
	log "building ${want[*]} $K8S_VERSION from k8s.io/kubernetes (cold: about 5 minutes)"
	mod="$tmp/kube"
	mkdir -p "$mod"
	cd "$mod"
	# The staging modules are published as k8s.io/<name> v0.<minor>.<patch>; pin every one named
	# in kubernetes' own go.mod so the list stays complete across releases.
	staging_version="v0.${K8S_VERSION#v1.}"
	kgomod=$(go mod download -json "k8s.io/kubernetes@$K8S_VERSION" | sed -n 's/.*"GoMod": "\(.*\)",/\1/p')
	{
		echo "module kro.local/controlplane/kube"
		echo
		echo "go 1.26.0"
		echo
		echo "require k8s.io/kubernetes $K8S_VERSION"
		echo
		echo "replace ("
		grep -oE '^\s*k8s.io/[a-z0-9-]+ => ./staging/src/k8s.io/[a-z0-9-]+' "$kgomod" |
			awk -v v="$staging_version" '{print "\t" $1 " => " $1 " " v}'
		echo ")"
	} >go.mod
	{
		echo "//go:build tools"
		echo "package tools"
		echo "import ("
		for c in "${want[@]}"; do echo "	_ \"k8s.io/kubernetes/cmd/$c\""; done
		echo ")"
	} >tools.go
	log "resolving modules"
	go mod tidy >/dev/null
	minor=${K8S_VERSION#v1.}
	minor=${minor%%.*}
	ldf="-s -w"
	for p in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
		ldf="$ldf -X $p.gitVersion=$K8S_VERSION -X $p.gitMajor=1 -X $p.gitMinor=$minor -X $p.gitTreeState=clean"
	done
	pkgs=()
	for c in "${want[@]}"; do pkgs+=("k8s.io/kubernetes/cmd/$c"); done
	log "compiling (progress: go build -v package count below)"
	go build -v -trimpath -ldflags "$ldf" -o "$tmp/out/" "${pkgs[@]}" 2>&1 |
		awk '{n++} n%500==0 {printf "[controlplane] %d packages compiled\n", n > "/dev/stderr"}'
	for c in "${want[@]}"; do
		mv "$tmp/out/$c" "$cache/$c"
		stamp "$c" "$K8S_VERSION"
	done
	log "built ${want[*]}"
fi

if ! fresh etcd "$ETCD_VERSION"; then
	log "building etcd $ETCD_VERSION (cold: about 30 seconds)"
	mod="$tmp/etcd"
	mkdir -p "$mod"
	cd "$mod"
	cat >go.mod <<GOMOD
module kro.local/controlplane/etcd

go 1.26.0

require go.etcd.io/etcd/server/v3 $ETCD_VERSION
GOMOD
	cat >main.go <<'GO'
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() { etcdmain.Main(os.Args) }
GO
	go mod tidy >/dev/null
	go build -trimpath -ldflags "-s -w" -o "$cache/etcd" .
	stamp etcd "$ETCD_VERSION"
	log "built etcd"
fi

if [ "$set_name" = all ] && ! fresh kwok "$KWOK_VERSION"; then
	log "building kwok $KWOK_VERSION (cold: about 1 minute)"
	GOBIN="$tmp/kwokbin" go install -trimpath -ldflags "-s -w" "sigs.k8s.io/kwok/cmd/kwok@$KWOK_VERSION"
	mv "$tmp/kwokbin/kwok" "$cache/kwok"
	stamp kwok "$KWOK_VERSION"
	log "built kwok"
fi

# kwok does nothing without stages (--config); hack/kwok-stages.sh takes them from the kwok module
# source. The stamp holds the kwok version and a checksum of that script, so a change to either
# regenerates the file and a re-run with both unchanged skips it.
stages_stamp="$KWOK_VERSION $(cksum <"$root/hack/kwok-stages.sh" | cut -d' ' -f1)"
if [ "$set_name" = all ] && ! { [ -s "$cache/kwok-stages.yaml" ] &&
	[ "$(cat "$cache/kwok-stages.yaml.version" 2>/dev/null)" = "$stages_stamp" ]; }; then
	log "writing kwok stages from sigs.k8s.io/kwok@$KWOK_VERSION"
	"$root/hack/kwok-stages.sh" "$cache/kwok-stages.yaml"
	stamp kwok-stages.yaml "$stages_stamp"
fi

for c in etcd "${kube_cmds[@]}"; do link "$c"; done
if [ "$set_name" = all ]; then
	link kwok
	link kwok-stages.yaml
fi
log "control plane binaries ready in bin/ ($set_name)"
