#!/usr/bin/env bash
# deploy/test/image.sh — builds rat's container image from the root Dockerfile
# and runs it the way a user would (`podman run`), checking what the image
# promises: the UI and the health checks answer, `rat demo` works inside it,
# it runs as non-root, and its volume keeps the data across a restart.
#
# No registry is reachable here, so the Go build image is a stand-in made by
# ensure_golang: localhost/rat-golang:<go version>-bookworm, from the locally
# made Debian base plus Debian's gcc/g++ and this machine's Go toolchain,
# laid out like the official golang image (/usr/local/go, GOPATH=/go).
#
#   deploy/test/image.sh          # build localhost/rat:dev and test it
#   source deploy/test/image.sh   # only define the functions (run.sh does)
#
# Environment: RAT_IMAGE (default localhost/rat:dev) names the image built.

# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

RAT_IMAGE=${RAT_IMAGE:-localhost/rat:dev}
IMG_PREFIX=rat-img

# go_image_tag: the stand-in build image for this machine's Go, tagged by
# its full version (go1.26.8 → localhost/rat-golang:1.26.8-bookworm).
go_image_tag() {
	local v
	v=$(go env GOVERSION) || ddie "go not found: the stand-in build image copies this machine's Go toolchain"
	echo "localhost/rat-golang:${v#go}-bookworm"
}

# ensure_golang: makes the stand-in build image unless it exists, and also
# tags it with the Go minor version the Dockerfile names (1.26-bookworm).
ensure_golang() {
	local tag goroot ver ctx
	tag=$(go_image_tag)
	ver=${tag#localhost/rat-golang:}
	ver=${ver%-bookworm}
	if ! podman image exists "$tag"; then
		goroot=$(go env GOROOT)
		[[ -x "$goroot/bin/go" ]] || ddie "go env GOROOT ($goroot) holds no bin/go"
		ctx=$(mktemp -d "${TMPDIR:-/tmp}/rat-golang.XXXXXX")
		cat >"$ctx/Containerfile" <<EOF
FROM $BASE_IMAGE
RUN apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \\
      gcc g++ libc6-dev make pkg-config ca-certificates git tzdata && rm -rf /var/lib/apt/lists/*
# This machine's Go toolchain, mounted read-only by podman build -v.
RUN cp -a /host-goroot /usr/local/go
ENV GOLANG_VERSION=$ver GOTOOLCHAIN=local GOPATH=/go PATH=/go/bin:/usr/local/go/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
RUN mkdir -p /go/src /go/bin && chmod -R 1777 /go && go version
WORKDIR /go
EOF
		dlog "making $tag from $BASE_IMAGE and the Go toolchain in $goroot (once)"
		podman build --format docker -v "$goroot:/host-goroot:ro" -t "$tag" "$ctx" >"$ctx.log" 2>&1 ||
			{ tail -n 30 "$ctx.log" >&2; rm -rf "$ctx" "$ctx.log"; ddie "podman build of $tag failed"; }
		rm -rf "$ctx" "$ctx.log"
	fi
	podman tag "$tag" "localhost/rat-golang:${ver%.*}-bookworm"
	GO_IMAGE=$tag
}

# img_revision: the commit the image is built from (its revision label).
img_revision() { git -C "$REPO_ROOT" rev-parse HEAD 2>/dev/null || echo unknown; }

# build_image: builds $RAT_IMAGE from the root Dockerfile with the stand-in
# Go image. Modules come from this machine's module cache as a file proxy
# (no network in the build, nothing downloaded twice); the Go build cache
# is the Dockerfile's cache mount, kept by podman between builds. Sets
# BUILD_SECONDS.
build_image() {
	local modcache rev log start
	(cd "$REPO_ROOT" && go mod download) || ddie "go mod download failed: the image build takes its modules from this machine's module cache"
	modcache=$(go env GOMODCACHE)
	rev=$(img_revision)
	log=$(mktemp "${TMPDIR:-/tmp}/rat-img-build.XXXXXX")
	dlog "building $RAT_IMAGE from the Dockerfile (GO_IMAGE=$GO_IMAGE)"
	start=$SECONDS
	# --label as well as the build argument: podman 4.3's layer cache
	# ignores a changed build argument on LABEL (a stale revision).
	podman build --format docker --layers \
		--build-arg GO_IMAGE="$GO_IMAGE" --build-arg REVISION="$rev" \
		--label org.opencontainers.image.revision="$rev" \
		--build-arg GOPROXY=file:///goproxy -v "$modcache/cache/download:/goproxy:ro" \
		-t "$RAT_IMAGE" "$REPO_ROOT" >"$log" 2>&1 ||
		{ tail -n 40 "$log" >&2; rm -f "$log"; ddie "podman build of $RAT_IMAGE failed"; }
	BUILD_SECONDS=$((SECONDS - start))
	rm -f "$log"
}

# http_code URL [CURL ARGS...]: the HTTP status of a GET (000: no answer).
http_code() {
	local url=$1
	shift
	curl -s -o /dev/null -w '%{http_code}' --max-time 10 "$@" "$url" || true
}

# wait_ready URL: waits (at most 120s) for URL to answer 200.
wait_ready() {
	local i
	for i in $(seq 1 480); do
		[[ $(http_code "$1") == 200 ]] && return 0
		sleep 0.25
	done
	return 1
}

IMG_CONTAINERS=()
IMG_VOLUMES=()
IMG_FILES=()
img_cleanup() {
	local c v
	for c in "${IMG_CONTAINERS[@]}"; do podman rm -f -t 5 "$c" >/dev/null 2>&1 || true; done
	for v in "${IMG_VOLUMES[@]}"; do podman volume rm -f "$v" >/dev/null 2>&1 || true; done
	rm -f "${IMG_FILES[@]}"
}

# img_podman ARGS...: podman, without its complaint that a machine with no
# systemd cannot run health checks by timer (the test runs them itself).
img_podman() { podman "$@" 2> >(grep -v 'unable to get systemd connection' >&2); }

# img_fail CONTAINER MESSAGE: prints the container's log, then fails.
img_fail() {
	dlog "last lines of $1's log:"
	podman logs --tail 30 "$1" >&2 2>&1 || true
	ddie "$2"
}

# img_serve NAME VOLUME [PODMAN RUN ARGS...]: starts a container of
# $RAT_IMAGE with its default command (rat serve), published on a loopback
# port podman picks; sets URL.
img_serve() {
	local name=$1 vol=$2 port
	shift 2
	IMG_CONTAINERS+=("$name")
	img_podman run -d --name "$name" -p 127.0.0.1::3030 -v "$vol:/data" "$@" "$RAT_IMAGE" >/dev/null ||
		ddie "podman run $RAT_IMAGE failed"
	port=$(podman port "$name" 3030/tcp) || ddie "podman port $name: no published port"
	URL="http://127.0.0.1:${port##*:}"
}

# test_image: runs $RAT_IMAGE like a user and checks what it promises.
test_image() {
	local id=$$ vol ctr ctr2 start ready_ms code body uid tables before after size bin mem label secret served
	vol=$IMG_PREFIX-$id-data
	ctr=$IMG_PREFIX-$id-serve
	ctr2=$IMG_PREFIX-$id-again
	IMG_TOKEN=$(od -An -N32 -tx1 /dev/urandom | tr -d ' \n')
	trap img_cleanup EXIT
	command -v curl >/dev/null 2>&1 || ddie "curl not found: the image test asks the container over HTTP (apt-get install curl)"

	# The default command serves on 0.0.0.0: without a token it must refuse.
	IMG_CONTAINERS+=("$IMG_PREFIX-$id-notoken")
	body=$(podman run --name "$IMG_PREFIX-$id-notoken" "$RAT_IMAGE" 2>&1) &&
		ddie "the image served without a token; want a refusal"
	[[ $body == *"without a token"* ]] || ddie "the image without a token should say it needs one, said: $body"

	IMG_VOLUMES+=("$vol")
	podman volume create "$vol" >/dev/null || ddie "podman volume create $vol failed"
	start=$(date +%s%N)
	img_serve "$ctr" "$vol" -e RAT_API_TOKEN="$IMG_TOKEN"
	wait_ready "$URL/health/ready" || img_fail "$ctr" "$URL/health/ready did not answer 200 within 120s"
	ready_ms=$((($(date +%s%N) - start) / 1000000))

	[[ $(http_code "$URL/health/live") == 200 ]] || img_fail "$ctr" "/health/live is not 200"
	# The UI: without a token its sign-in page, with one the overview.
	body=$(curl -sfL --max-time 10 "$URL/") || img_fail "$ctr" "GET / (the UI) failed"
	[[ $body == *"<title>Sign in"* ]] || img_fail "$ctr" "GET / without a token answered no sign-in page: ${body:0:200}"
	body=$(curl -sf --max-time 10 -H "Authorization: Bearer $IMG_TOKEN" "$URL/") || img_fail "$ctr" "GET / with the token failed"
	[[ $body == *"<title>Overview"* ]] || img_fail "$ctr" "GET / with the token answered no overview page: ${body:0:200}"
	code=$(http_code "$URL/api/v1/tables")
	[[ $code == 401 ]] || img_fail "$ctr" "the API without a token answered $code, want 401"
	code=$(http_code "$URL/api/v1/tables" -H "Authorization: Bearer $IMG_TOKEN")
	[[ $code == 200 ]] || img_fail "$ctr" "the API with the token answered $code, want 200"
	podman healthcheck run "$ctr" >/dev/null || img_fail "$ctr" "podman healthcheck run $ctr failed (HEALTHCHECK rat health)"
	mem=$(podman stats --no-stream --format '{{.MemUsage}}' "$ctr" 2>/dev/null | cut -d' ' -f1) || mem=unknown
	label=$(podman image inspect --format '{{index .Labels "org.opencontainers.image.revision"}} {{index .Labels "org.opencontainers.image.licenses"}} {{index .Labels "org.opencontainers.image.source"}}' "$RAT_IMAGE")
	[[ $label == "$(img_revision) Apache-2.0 https://github.com/ratdata/rat" ]] ||
		ddie "the image's OCI labels revision, licenses and source are '$label', want '$(img_revision) Apache-2.0 https://github.com/ratdata/rat'"

	uid=$(awk '/^Uid:/ {print $2}' "/proc/$(podman inspect --format '{{.State.Pid}}' "$ctr")/status")
	[[ -n $uid && $uid != 0 ]] || img_fail "$ctr" "the server runs as uid '$uid', want non-root"

	# The demo into the served workspace (/data): the server then shows its
	# gold tables.
	body=$(podman exec "$ctr" rat demo /data 2>&1) || { printf '%s\n' "$body" >&2; img_fail "$ctr" "rat demo /data inside the container failed"; }
	tables=$(grep -xE 'gold\.[a-z0-9_]+' <<<"$body" | sort -u | wc -l) # the heading above each printed table
	((tables > 0)) || { printf '%s\n' "$body" >&2; ddie "rat demo printed no gold table"; }
	served=$(curl -sf --max-time 10 -H "Authorization: Bearer $IMG_TOKEN" "$URL/api/v1/tables" | grep -c '"table": *"gold\.' || true)
	((served == tables)) || img_fail "$ctr" "the server lists $served gold tables after the demo, want the $tables the demo printed"
	before=$(podman exec "$ctr" rat tables 2>&1) || img_fail "$ctr" "rat tables after the demo failed: $before"

	# A new container on the same volume (read-only root filesystem, as in
	# Kubernetes; its token from a mounted token file, as from a secret)
	# finds the same tables.
	img_podman rm -f -t 10 "$ctr" >/dev/null || ddie "podman rm $ctr failed"
	secret=$(mktemp "${TMPDIR:-/tmp}/rat-img-tokens.XXXXXX")
	IMG_FILES+=("$secret")
	printf 'tokens:\n  - {name: ops, token: %s, role: admin}\n' "$IMG_TOKEN" >"$secret"
	chmod 644 "$secret"
	img_serve "$ctr2" "$vol" --read-only -v "$secret:/run/secrets/rat-tokens.yaml:ro" -e RAT_TOKEN_FILE=/run/secrets/rat-tokens.yaml
	wait_ready "$URL/health/ready" || img_fail "$ctr2" "$URL/health/ready did not answer 200 within 120s after the restart"
	code=$(http_code "$URL/api/v1/tables" -H "Authorization: Bearer $IMG_TOKEN")
	[[ $code == 200 ]] || img_fail "$ctr2" "the API with the token file's token answered $code, want 200"
	after=$(podman exec "$ctr2" rat tables 2>&1) || img_fail "$ctr2" "rat tables after the restart failed: $after"
	[[ $after == "$before" ]] || ddie "the volume lost data across the restart: tables before:
$before
after:
$after"

	size=$(podman image inspect --format '{{.Size}}' "$RAT_IMAGE")
	bin=$(img_binary_size)
	IMG_REPORT=$(printf 'image %s: %d MB (binary %d MB, limit binary + 40 MB), build %ss, start to ready %d ms, idle memory %s, demo %d gold tables, uid %s' \
		"$RAT_IMAGE" $((size / 1000000)) $((bin / 1000000)) "${BUILD_SECONDS:-?}" "$ready_ms" "$mem" "$tables" "$uid")
	((size <= bin + 40000000)) || ddie "the image is larger than the binary + 40 MB: $IMG_REPORT"
	img_cleanup
	trap - EXIT
	printf 'deploy-test: %s\n' "$IMG_REPORT"
}

# img_binary_size: the size in bytes of /usr/local/bin/rat in $RAT_IMAGE.
img_binary_size() {
	local mnt size
	mnt=$(podman image mount "$RAT_IMAGE") || ddie "podman image mount $RAT_IMAGE failed"
	size=$(stat -c %s "$mnt/usr/local/bin/rat")
	podman image unmount "$RAT_IMAGE" >/dev/null 2>&1 || true
	echo "$size"
}

if [[ "${BASH_SOURCE[0]}" == "$0" ]]; then
	set -euo pipefail
	ensure_podman
	ensure_base
	ensure_golang
	build_image
	test_image
fi
