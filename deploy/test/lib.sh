#!/usr/bin/env bash
# deploy/test/lib.sh — shared helpers for rat's container tests (sourced, not run).
#
# No image registry is reachable on the machines rat is tested on, so every base
# image is made here: Debian bookworm from debootstrap, imported with podman.
# Images are tagged with a content key and reused by later runs.
#
#   ensure_podman   installs podman, runc, podman-compose, docker-compose and
#                   debootstrap from Debian packages when missing; exports
#                   CONTAINERS_CONF (runc, no default ulimits).
#   ensure_base     makes localhost/rat-base:bookworm (debootstrap minbase)
#                   unless it exists.

DEPLOY_TEST_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_ROOT=$(cd "$DEPLOY_TEST_DIR/../.." && pwd)
BASE_IMAGE=localhost/rat-base:bookworm
DEBIAN_MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}

dlog() { printf 'deploy-test: %s\n' "$*" >&2; }
ddie() { dlog "error: $*"; exit 1; }

# podman_usable: true when podman can start a container here.
podman_usable() { command -v podman >/dev/null 2>&1 && podman info >/dev/null 2>&1; }

ensure_podman() {
	export CONTAINERS_CONF="$DEPLOY_TEST_DIR/containers.conf"
	local need=()
	local c
	for c in podman runc podman-compose docker-compose debootstrap; do
		command -v "$c" >/dev/null 2>&1 || need+=("$c")
	done
	if ((${#need[@]} > 0)); then
		command -v apt-get >/dev/null 2>&1 || ddie "missing ${need[*]} and no apt-get: install podman, runc, podman-compose, docker-compose and debootstrap"
		[[ $(id -u) == 0 ]] || ddie "missing ${need[*]}: run as root or install podman runc podman-compose docker-compose debootstrap"
		dlog "installing podman runc podman-compose docker-compose debootstrap (once)"
		{ apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q podman runc podman-compose docker-compose debootstrap uidmap slirp4netns; } \
			>"${TMPDIR:-/tmp}/rat-apt-podman.log" 2>&1 ||
			{ tail -n 30 "${TMPDIR:-/tmp}/rat-apt-podman.log" >&2; ddie "apt-get install podman failed"; }
	fi
	podman info >/dev/null 2>&1 || ddie "podman is installed but cannot run here (podman info failed)"
}

ensure_base() {
	if podman image exists "$BASE_IMAGE"; then
		return 0
	fi
	local root
	root=$(mktemp -d "${TMPDIR:-/tmp}/rat-rootfs.XXXXXX")
	dlog "making $BASE_IMAGE with debootstrap (once, about a minute)"
	debootstrap --variant=minbase bookworm "$root" "$DEBIAN_MIRROR" >"$root.log" 2>&1 ||
		{ tail -n 30 "$root.log" >&2; rm -rf "$root" "$root.log"; ddie "debootstrap failed"; }
	rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/*
	tar -C "$root" -c . | podman import --change 'CMD ["/bin/bash"]' - "$BASE_IMAGE" >/dev/null ||
		{ rm -rf "$root" "$root.log"; ddie "podman import failed"; }
	rm -rf "$root" "$root.log"
}
