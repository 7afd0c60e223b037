# rat's container image: the rat binary (DuckDB is linked in through cgo, so
# it needs glibc) and the few files it uses, on an otherwise empty image.
#
#   docker build -t rat .
#   docker run -d -p 3030:3030 -e RAT_API_TOKEN=$(openssl rand -hex 32) -v rat-data:/data rat
#   docker exec <container> rat demo
#
# Podman: `podman build --format docker -t rat .` (the OCI format has no
# HEALTHCHECK; the docker format keeps it).
#
# The default command is `rat serve` on 0.0.0.0:3030 (RAT_LISTEN). Off
# loopback rat refuses to start without a token of at least 32 bytes: give
# RAT_API_TOKEN (an admin token) or RAT_TOKEN_FILE (a YAML file of named
# tokens with roles, e.g. a mounted secret at /run/secrets/rat-tokens.yaml).
# See SECURITY.md and `rat serve --help`. Change the port with RAT_LISTEN,
# not --listen: the HEALTHCHECK (`rat health`) asks the RAT_LISTEN address.
# A `rat worker` container has no server there: run the worker with
# `--listen 127.0.0.1:9090` and override the health check with
# `rat health http://127.0.0.1:9090` (or disable it).
#
# The workspace (workspace.yaml, pipelines) and, unless ICEBERG_WAREHOUSE and
# RAT_CATALOG_URL point elsewhere, the SQLite catalog and local warehouse in
# .rat/ live in the volume /data (RAT_WORKSPACE). The process runs as the
# unprivileged user nonroot (uid/gid 65532), which owns /data.

# GO_IMAGE is the build stage's image: any Debian-based Go 1.26 image with a C
# compiler (the official golang image has one).
ARG GO_IMAGE=docker.io/library/golang:1.26-bookworm

FROM ${GO_IMAGE} AS build
WORKDIR /src
ENV CGO_ENABLED=1
# GOPROXY may name a module proxy or mirror (e.g. file:///some/dir for a
# build without network); empty means Go's default.
ARG GOPROXY
# Modules first: this layer is reused until go.mod or go.sum change. The
# module and build caches are cache mounts, kept by the builder between
# builds and never part of an image.
COPY go.mod go.sum ./
RUN --mount=type=cache,id=rat-gomod,target=/go/pkg/mod \
    go mod download
COPY . .
ARG VERSION=dev
# -trimpath: no build-machine paths in the binary (and build cache entries
# that do not depend on where the source is). No VCS stamp: .git is not in
# the build context (the revision is a label below).
RUN --mount=type=cache,id=rat-gomod,target=/go/pkg/mod \
    --mount=type=cache,id=rat-gobuild,target=/root/.cache/go-build \
    go build -trimpath -buildvcs=false \
      -ldflags "-s -w -X github.com/ratdata/rat/internal/cli.Version=${VERSION}" \
      -o /rootfs/usr/local/bin/rat ./cmd/rat

# The runtime root filesystem: the binary, the shared libraries it links
# (ldd: libc, libm, libstdc++, libgcc_s and the dynamic loader), CA
# certificates for S3 over TLS, time zones, a passwd/group with the user
# nonroot, /tmp, and /data (the volume) and the home directory owned by it.
RUN set -eu; \
    cd /rootfs; \
    ldd usr/local/bin/rat | awk '$2 == "=>" && $3 ~ /^\// { print $3 } $1 ~ /^\// { print $1 }' | sort -u >/tmp/libs; \
    test -s /tmp/libs; \
    while read -r lib; do cp --parents -L "$lib" /rootfs/; done </tmp/libs; \
    mkdir -p etc/ssl/certs usr/share tmp usr/share/doc/rat; \
    cp /etc/ssl/certs/ca-certificates.crt etc/ssl/certs/; \
    cp -a /usr/share/zoneinfo usr/share/; \
    cp /src/LICENSE usr/share/doc/rat/; \
    chmod 1777 tmp; \
    printf 'root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n' >etc/passwd; \
    printf 'root:x:0:\nnonroot:x:65532:\n' >etc/group; \
    printf 'hosts: files dns\n' >etc/nsswitch.conf; \
    mkdir -p /owned/data /owned/home/nonroot; \
    chown -R 65532:65532 /owned; \
    ./usr/local/bin/rat version >/dev/null

FROM scratch
COPY --from=build /rootfs/ /
COPY --from=build --chown=65532:65532 /owned/ /
# Labels after the files: a new revision does not copy them again.
ARG VERSION=dev
ARG REVISION=unknown
LABEL org.opencontainers.image.title="rat" \
      org.opencontainers.image.description="A lakehouse in one binary: SQL pipelines into tested Apache Iceberg tables, with branches, a web UI and an HTTP API" \
      org.opencontainers.image.source="https://github.com/ratdata/rat" \
      org.opencontainers.image.url="https://github.com/ratdata/rat" \
      org.opencontainers.image.documentation="https://github.com/ratdata/rat/blob/main/docs/deploy.md" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}"
ENV PATH=/usr/local/bin \
    HOME=/home/nonroot \
    RAT_WORKSPACE=/data \
    RAT_LISTEN=0.0.0.0:3030
WORKDIR /data
VOLUME ["/data"]
USER 65532:65532
EXPOSE 3030
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 CMD ["rat", "health"]
ENTRYPOINT ["rat"]
CMD ["serve"]
