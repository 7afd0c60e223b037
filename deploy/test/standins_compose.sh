#!/usr/bin/env bash
# deploy/test/standins_compose.sh — local stand-ins for the Traefik and curl
# images of deploy/compose (sourced after lib.sh and standins.sh, not run).
#
# No image registry is reachable where rat's container tests run, so the
# official images compose.yaml names are replaced in the tests by images
# built here from localhost/rat-base:bookworm:
#
#   localhost/rat-traefik:v3.6.12  Traefik itself, built from its Go module
#                                  (github.com/traefik/traefik/v3) once and
#                                  cached as $(go env GOPATH)/bin/traefik-<version>;
#                                  `traefik` on PATH and as the entrypoint,
#                                  like docker.io/library/traefik. The web
#                                  dashboard's assets are not in the module,
#                                  so the dashboard is empty (compose.yaml
#                                  does not enable it).
#   localhost/rat-curl:bookworm     Debian's curl (7.88: --aws-sigv4) and
#                                  /bin/sh, as the createbucket service uses
#                                  docker.io/curlimages/curl.
#
# Traefik v3.7.13 cannot be built from the Go module proxy reachable here (a
# nested module missing from its zip and dependencies the proxy refuses), so
# compose.yaml pins v3.6.12, the newest version that builds.
#
#   ensure_compose_standins   both, unless current (label rat.content-key).

TRAEFIK_VERSION=v3.6.12
TRAEFIK_STANDIN=localhost/rat-traefik:$TRAEFIK_VERSION
CURL_STANDIN=localhost/rat-curl:bookworm

# traefik_binary: a static Traefik binary of TRAEFIK_VERSION, built once (a
# few minutes on two cores) and reused from the Go bin directory.
traefik_binary() {
	local gobin out dir src
	gobin=$(go env GOBIN)
	[[ -n "$gobin" ]] || gobin="$(go env GOPATH | cut -d: -f1)/bin"
	out="$gobin/traefik-$TRAEFIK_VERSION"
	if [[ ! -x "$out" ]]; then
		dlog "building Traefik $TRAEFIK_VERSION from its Go module (once; several minutes)"
		dir=$(cd "${TMPDIR:-/tmp}" && GOFLAGS= go mod download -json "github.com/traefik/traefik/v3@$TRAEFIK_VERSION" |
			sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
		[[ -n "$dir" && -d "$dir" ]] || ddie "go mod download github.com/traefik/traefik/v3@$TRAEFIK_VERSION failed"
		# The module cache is read-only: build in a writable copy, as the
		# main module, so that its replace directives apply.
		src=$(mktemp -d "${TMPDIR:-/tmp}/rat-traefik-src.XXXXXX")
		cp -r "$dir/." "$src/" && chmod -R u+w "$src"
		mkdir -p "$gobin"
		(cd "$src" && CGO_ENABLED=0 GOFLAGS=-buildvcs=false go build -trimpath -ldflags "-s -w" -o "$out.tmp" ./cmd/traefik) >&2 ||
			{ rm -rf "$src" "$out.tmp"; ddie "go build of Traefik $TRAEFIK_VERSION failed"; }
		rm -rf "$src"
		mv "$out.tmp" "$out"
	fi
	echo "$out"
}

ensure_traefik_standin() {
	ensure_base
	local dir bin
	bin=$(traefik_binary) || exit 1
	dir=$(mktemp -d "${TMPDIR:-/tmp}/rat-traefik-standin.XXXXXX")
	printf '%s\n' "FROM $BASE_IMAGE" 'COPY traefik /usr/local/bin/traefik' 'EXPOSE 80' \
		'ENTRYPOINT ["/usr/local/bin/traefik"]' >"$dir/Containerfile"
	cp "$bin" "$dir/traefik"
	standin_from "$dir" "$TRAEFIK_STANDIN" "$dir/traefik"
}

ensure_curl_standin() {
	ensure_base
	local dir
	dir=$(mktemp -d "${TMPDIR:-/tmp}/rat-curl-standin.XXXXXX")
	printf '%s\n' "FROM $BASE_IMAGE" \
		'RUN apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends curl ca-certificates \' \
		' && rm -rf /var/lib/apt/lists/* /var/cache/apt/archives/*.deb' \
		'ENTRYPOINT ["curl"]' >"$dir/Containerfile"
	standin_from "$dir" "$CURL_STANDIN"
}

ensure_compose_standins() {
	ensure_traefik_standin
	ensure_curl_standin
}
