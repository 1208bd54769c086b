# The kro-controller image: a static binary on a distroless base, run as a non-root user.
#   docker build -t ghcr.io/kro-run/kro/kro-controller:$(git describe --tags --always) .
# (or `make image`; podman works the same). The chart (charts/kro) and config/ run this image.
ARG GO_VERSION=1.26
FROM golang:${GO_VERSION} AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY api/ api/
COPY cmd/ cmd/
COPY internal/ internal/
ARG VERSION=dev
RUN CGO_ENABLED=0 go build -trimpath \
      -ldflags "-s -w -X github.com/kro-run/kro/internal/version.Version=${VERSION}" \
      -o /out/kro-controller ./cmd/kro-controller

FROM gcr.io/distroless/static:nonroot
COPY --from=build /out/kro-controller /kro-controller
USER 65532:65532
ENTRYPOINT ["/kro-controller"]
