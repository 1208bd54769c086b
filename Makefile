# kro — see README.md. Every target works on a fresh machine with only Go installed.
SHELL := /usr/bin/env bash
include hack/versions.env

BIN := $(CURDIR)/bin
CONTROLLER_GEN := $(BIN)/controller-gen
export KUBEBUILDER_ASSETS := $(BIN)
GO_TEST_FLAGS ?=

.PHONY: run test unit integration generate manifests verify-generated controlplane controlplane-all build vet fmt bench openapi-snapshot install chaos image

## run: start a local control plane, kro, and the webapp example; Ctrl-C stops everything.
run: controlplane-all build
	hack/run.sh

## test: unit tests, generated-files check and integration tests against a real apiserver.
test: vet verify-generated controlplane
	go test $(GO_TEST_FLAGS) ./...

## unit: tests that need no control plane.
unit:
	go test $(GO_TEST_FLAGS) $$(go list ./... | grep -v -e /test/integration -e /test/install -e /test/chaos)

## chaos: the long fault-injection run (500 instances, 20 controller kills, an apiserver restart,
## network partitions; `make test` runs a short one). Knobs: CHAOS_INSTANCES, CHAOS_KILLS,
## CHAOS_APISERVER_RESTARTS, CHAOS_PARTITIONS, CHAOS_SEED (replay), CHAOS_RACE=1, CHAOS_AUDIT=1;
## see test/chaos/doc.go.
chaos: controlplane
	CHAOS_INSTANCES=$${CHAOS_INSTANCES:-500} CHAOS_KILLS=$${CHAOS_KILLS:-20} go test ./test/chaos/ -run TestChaos -v -count=1 -timeout 60m

## image: the kro-controller container image (Dockerfile), with docker or podman (CONTAINER_TOOL).
IMAGE ?= ghcr.io/kro-run/kro/kro-controller:$(shell git describe --tags --always 2>/dev/null || echo dev)
CONTAINER_TOOL ?= $(shell command -v docker 2>/dev/null || command -v podman 2>/dev/null)
image:
	@test -n "$(CONTAINER_TOOL)" || { echo "make image needs docker or podman"; exit 1; }
	$(CONTAINER_TOOL) build --build-arg VERSION=$(lastword $(subst :, ,$(IMAGE))) -t $(IMAGE) .

build:
	go build -o $(BIN)/kro-controller ./cmd/kro-controller
	go build -o $(BIN)/kro ./cmd/kro

## bench: measure kro against the physical floor on a fresh local control plane (21-27 min on
## 2 cores, 16-21 of them the 10,000-instance scenario; BENCH_QUICK=1 for a short run; knobs in
## hack/bench.sh). Not part of `make test`.
bench:
	hack/bench.sh

controlplane:
	hack/build-controlplane.sh envtest

controlplane-all:
	hack/build-controlplane.sh all

$(CONTROLLER_GEN): hack/versions.env
	GOBIN=$(BIN) go install sigs.k8s.io/controller-tools/cmd/controller-gen@$(CONTROLLER_TOOLS_VERSION)
	@touch $@

## generate: deepcopy and the CRDs (RGD, GraphRevision) from api/.
generate: $(CONTROLLER_GEN)
	$(CONTROLLER_GEN) object:headerFile=hack/boilerplate.go.txt paths=./api/...
	$(CONTROLLER_GEN) crd paths=./api/... output:crd:artifacts:config=config/crd/bases

## manifests: the CRDs (make generate), copied into the Helm chart; then renders the install
## bundles (kustomize config/default and config/aggregation, charts/kro) in Go and checks them.
manifests: generate
	rm -f charts/kro/crds/*.yaml
	cp config/crd/bases/*.yaml charts/kro/crds/
	go test -count=1 -run 'TestChartCRDsInSync|TestKustomizeBundles|TestHelmChart' ./test/install/

## verify-generated: fail when generated files are out of date.
verify-generated: $(CONTROLLER_GEN)
	hack/verify-generated.sh

vet:
	go vet ./...
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go' -not -path './bin/*')); \
	  if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

fmt:
	gofmt -w $$(git ls-files '*.go')

## openapi-snapshot: refresh the OpenAPI schemas of Kubernetes' own kinds that the kro CLI embeds
## for offline checks, from the locally built kube-apiserver (bin/).
openapi-snapshot: controlplane
	go run ./hack/openapi-snapshot -o internal/cli/offline/openapi.json.gz -bin $(BIN)

## install: install the kro CLI into $(go env GOBIN) (or $(go env GOPATH)/bin).
install:
	go install ./cmd/kro
