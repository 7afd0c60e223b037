#!/usr/bin/env bash
# scripts/test.sh — rat's test command (README; .ci/run calls it).
#
# Starts a throwaway PostgreSQL and MinIO on loopback in a temp directory,
# installing them when missing (PostgreSQL from Debian packages, MinIO with
# `go install`, about 4 minutes the first time), exports RAT_TEST_POSTGRES_URL
# and RAT_TEST_S3_*, installs Debian's chromium for the browser tests when
# missing and exports RAT_TEST_CHROMIUM, runs the tests, and stops and removes
# everything on exit. The browser tests write screenshots of every page into
# RAT_TEST_SCREENSHOTS (default: a new temp directory, named in the test log).
# After the whole suite it runs the container tests, deploy/test/run.sh
# (builds the Dockerfile's image and runs it, the Compose stack and the
# Kubernetes manifests under podman); RAT_TEST_CONTAINERS=0 leaves them out,
# except under CI=true, and RAT_TEST_CONTAINERS=1 adds them to a partial run.
#
# Usage:
#   scripts/test.sh                               # go test ./...
#   scripts/test.sh ./internal/objstore/ -run S3  # arguments replace ./...
#   scripts/test.sh -run TestS3                   # flags only: ./... is kept
# Packages given as arguments (".", or anything starting with ./, ../ or
# github.com/) replace ./...; -count=1 and -timeout 60m come first, so your
# own -count or -timeout wins.
set -euo pipefail
cd "$(dirname "$0")/.."

log() { printf 'test.sh: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

WORK=$(mktemp -d "${TMPDIR:-/tmp}/rat-test.XXXXXX")
chmod 755 "$WORK" # the PostgreSQL server runs as another user and must reach its files
PG_DATA=""
PG_USER=""
MINIO_PID=""

cleanup() {
	local status=$?
	trap '' INT TERM # a second Ctrl-C must not cut the cleanup short (children inherit this)
	if [[ -n "$PG_DATA" && -f "$PG_DATA/postmaster.pid" ]]; then
		as_pg_user "$PG_BIN/pg_ctl" -D "$PG_DATA" -m fast -w stop >/dev/null 2>&1 || true
	fi
	if [[ -n "$MINIO_PID" ]]; then
		kill "$MINIO_PID" 2>/dev/null || true
		wait "$MINIO_PID" 2>/dev/null || true
	fi
	rm -rf "$WORK"
	return "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# port_in_use PORT: true when something accepts connections on 127.0.0.1:PORT.
port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# free_port START: the first port from START on that nobody listens on.
free_port() {
	local p=$1
	while port_in_use "$p"; do
		p=$((p + 1))
		((p < $1 + 200)) || die "no free port in $1..$p"
	done
	echo "$p"
}

# show_log FILE: the end of a service log, after a failed start.
show_log() { [[ -f "$1" ]] && { log "last lines of $1:"; tail -n 30 "$1" >&2; } || true; }

random_hex() { od -An -N"$1" -tx1 /dev/urandom | tr -d ' \n'; }

# ---------------------------------------------------------------- PostgreSQL

# find_pg_bin: a directory holding initdb, pg_ctl and postgres.
find_pg_bin() {
	local d
	if command -v pg_ctl >/dev/null 2>&1; then
		d=$(dirname "$(readlink -f "$(command -v pg_ctl)")")
		if [[ -x "$d/initdb" && -x "$d/postgres" ]]; then
			echo "$d"
			return 0
		fi
	fi
	# Debian keeps the server binaries out of PATH, one directory per major version.
	for d in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r); do
		if [[ -x "$d/initdb" && -x "$d/pg_ctl" && -x "$d/postgres" ]]; then
			echo "$d"
			return 0
		fi
	done
	return 1
}

if ! PG_BIN=$(find_pg_bin); then
	[[ $(id -u) -eq 0 ]] && command -v apt-get >/dev/null 2>&1 ||
		die "PostgreSQL not found: install it (apt-get install postgresql) or run this script as root"
	log "installing PostgreSQL with apt-get (once)"
	export DEBIAN_FRONTEND=noninteractive
	{ apt-get update && apt-get install -y postgresql; } >"$WORK/apt.log" 2>&1 ||
		{ show_log "$WORK/apt.log"; die "apt-get install postgresql failed"; }
	PG_BIN=$(find_pg_bin) || die "PostgreSQL installed but initdb/pg_ctl/postgres not found in PATH or /usr/lib/postgresql/*/bin"
fi

# The server refuses to run as root: use the Debian package's postgres user,
# or a dedicated one.
if [[ $(id -u) -eq 0 ]]; then
	if id postgres >/dev/null 2>&1; then
		PG_USER=postgres
	else
		id rattest >/dev/null 2>&1 || useradd --system --no-create-home --shell /usr/sbin/nologin rattest
		PG_USER=rattest
	fi
	# From $WORK: the user may not be allowed into the current directory.
	if command -v runuser >/dev/null 2>&1; then
		as_pg_user() { (cd "$WORK" && runuser -u "$PG_USER" -- "$@"); }
	else
		as_pg_user() { (cd "$WORK" && su -s /bin/sh "$PG_USER" -c "$(printf '%q ' "$@")"); }
	fi
else
	PG_USER=$(id -un)
	as_pg_user() { "$@"; }
fi

PG_PORT=$(free_port 55432)
mkdir -p "$WORK/pg"
chown "$PG_USER" "$WORK/pg"
as_pg_user test -w "$WORK/pg" ||
	die "user $PG_USER cannot write to $WORK/pg: set TMPDIR to a directory every user can traverse, such as /tmp"
PG_DATA="$WORK/pg/data"
log "starting PostgreSQL ($PG_BIN) on 127.0.0.1:$PG_PORT as $PG_USER"
as_pg_user "$PG_BIN/initdb" -D "$PG_DATA" -U "$PG_USER" --auth=trust --no-sync -E UTF8 --locale=C \
	>"$WORK/pg/initdb.log" 2>&1 || { show_log "$WORK/pg/initdb.log"; die "initdb failed"; }
cat >>"$PG_DATA/postgresql.conf" <<EOF
listen_addresses = '127.0.0.1'
port = $PG_PORT
unix_socket_directories = '$WORK/pg'
max_connections = 200
fsync = off
synchronous_commit = off
full_page_writes = off
EOF
as_pg_user "$PG_BIN/pg_ctl" -D "$PG_DATA" -l "$WORK/pg/postgres.log" -w -t 60 start >/dev/null 2>&1 ||
	{ show_log "$WORK/pg/postgres.log"; die "PostgreSQL did not start"; }
export RAT_TEST_POSTGRES_URL="postgres://$PG_USER@127.0.0.1:$PG_PORT/postgres?sslmode=disable"

# --------------------------------------------------------------------- MinIO

MINIO_VERSION=v0.0.0-20260212201848-7aac2a2c5b7c
GOBIN_DIR=$(go env GOBIN)
[[ -n "$GOBIN_DIR" ]] || GOBIN_DIR="$(go env GOPATH | cut -d: -f1)/bin"
MINIO="$GOBIN_DIR/minio"
if [[ ! -x "$MINIO" ]]; then
	if command -v minio >/dev/null 2>&1; then
		MINIO=$(command -v minio)
	else
		log "installing MinIO with go install (once; this takes about 4 minutes)"
		# Outside the module, so rat's go.mod does not influence the build.
		(cd "$WORK" && GOFLAGS= go install "github.com/minio/minio@$MINIO_VERSION") >"$WORK/minio-install.log" 2>&1 ||
			{ show_log "$WORK/minio-install.log"; die "go install github.com/minio/minio@$MINIO_VERSION failed"; }
	fi
fi

MINIO_PORT=$(free_port 59000)
MINIO_CONSOLE_PORT=$(free_port $((MINIO_PORT + 1)))
MINIO_ACCESS_KEY="rat$(random_hex 8)"
MINIO_SECRET_KEY="$(random_hex 20)"
mkdir -p "$WORK/minio/data"
log "starting MinIO on 127.0.0.1:$MINIO_PORT"
MINIO_ROOT_USER="$MINIO_ACCESS_KEY" MINIO_ROOT_PASSWORD="$MINIO_SECRET_KEY" \
	MINIO_BROWSER=off MINIO_UPDATE=off \
	"$MINIO" server --quiet --address "127.0.0.1:$MINIO_PORT" --console-address "127.0.0.1:$MINIO_CONSOLE_PORT" \
	"$WORK/minio/data" >"$WORK/minio/minio.log" 2>&1 &
MINIO_PID=$!

minio_live() {
	if command -v curl >/dev/null 2>&1; then
		curl -sf -o /dev/null "http://127.0.0.1:$MINIO_PORT/minio/health/live"
	else
		# No curl: speak just enough HTTP over bash's /dev/tcp (in a subshell,
		# so a refused connection cannot affect this shell).
		local status
		status=$(
			exec 3<>"/dev/tcp/127.0.0.1/$MINIO_PORT" &&
				printf 'GET /minio/health/live HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n' >&3 &&
				read -r -t 5 _ code _ <&3 && echo "$code"
		) || return 1
		[[ "$status" == 200 ]]
	fi
}
for i in $(seq 1 240); do
	minio_live 2>/dev/null && break
	kill -0 "$MINIO_PID" 2>/dev/null || { show_log "$WORK/minio/minio.log"; die "MinIO exited during start"; }
	((i < 240)) || { show_log "$WORK/minio/minio.log"; die "MinIO did not answer within 60s"; }
	sleep 0.25
done
export RAT_TEST_S3_ENDPOINT="http://127.0.0.1:$MINIO_PORT"
export RAT_TEST_S3_ACCESS_KEY="$MINIO_ACCESS_KEY"
export RAT_TEST_S3_SECRET_KEY="$MINIO_SECRET_KEY"
export RAT_TEST_S3_BUCKET=rat-test
export RAT_TEST_S3_REGION=us-east-1

# ------------------------------------------------------------------ Chromium

# apt_install WHAT PACKAGE ENV: installs a Debian package a test tool comes
# from (once; as root, or through sudo), or says how to get it: install it,
# or set ENV to the tool's path.
apt_install() {
	local what=$1 pkg=$2 env=$3 sudo=""
	command -v apt-get >/dev/null 2>&1 || die "$what not found and no apt-get: install it and set $env to its path"
	if [[ $(id -u) -ne 0 ]]; then
		command -v sudo >/dev/null 2>&1 || die "$what not found: install it (apt-get install $pkg) or run this script as root"
		sudo=sudo
	fi
	log "installing $pkg with apt-get (once)"
	export DEBIAN_FRONTEND=noninteractive
	{ $sudo apt-get update && $sudo apt-get install -y "$pkg"; } >"$WORK/apt-$pkg.log" 2>&1 ||
		{ show_log "$WORK/apt-$pkg.log"; die "apt-get install $pkg failed"; }
}

# The browser tests drive Debian's chromium headless (chromedp).
find_chromium() {
	local c
	for c in chromium chromium-browser; do
		command -v "$c" >/dev/null 2>&1 && { command -v "$c"; return 0; }
	done
	return 1
}
if ! CHROMIUM=$(find_chromium); then
	apt_install chromium chromium RAT_TEST_CHROMIUM
	CHROMIUM=$(find_chromium) || die "chromium installed but not on PATH"
fi
export RAT_TEST_CHROMIUM="$CHROMIUM"
log "browser tests use $CHROMIUM"

# ---------------------------------------------------------------- prometheus

# The alert rules' tests (deploy/monitoring) run Prometheus' promtool and
# server, from Debian's prometheus package.
if ! PROMTOOL=$(command -v promtool) || ! command -v prometheus >/dev/null 2>&1; then
	apt_install promtool prometheus RAT_TEST_PROMTOOL
	PROMTOOL=$(command -v promtool) || die "prometheus installed but promtool not on PATH"
fi
export RAT_TEST_PROMTOOL="$PROMTOOL"
PROMETHEUS=$(command -v prometheus) || die "prometheus installed but not on PATH"
export RAT_TEST_PROMETHEUS="$PROMETHEUS"

# ---------------------------------------------------------------------- test

whole=false # the whole suite: no arguments
(($# == 0)) && whole=true
have_pkgs=false
for a in "$@"; do
	case "$a" in . | ./* | ../* | github.com/*) have_pkgs=true ;; esac
done
$have_pkgs || set -- ./... "$@"

# The container tests (deploy/test/run.sh: the image, Compose and Kubernetes
# run under podman) follow the whole suite (no arguments);
# RAT_TEST_CONTAINERS=1 adds them to a partial run, RAT_TEST_CONTAINERS=0
# leaves them out (not under CI=true).
containers=${RAT_TEST_CONTAINERS:-}
if [[ ${CI:-} == true ]]; then
	[[ $containers == 0 ]] && log "RAT_TEST_CONTAINERS=0 is ignored under CI=true"
	$whole && containers=1
elif [[ -z $containers ]]; then
	$whole && containers=1 || containers=0
fi

log "running go test -count=1 -timeout 60m $*"
status=0
go test -count=1 -timeout 60m "$@" || status=$?
if [[ $containers == 1 ]]; then
	log "running the container tests (deploy/test/run.sh; RAT_TEST_CONTAINERS=0 skips them)"
	deploy/test/run.sh || { log "the container tests failed"; status=1; }
else
	log "container tests skipped (RAT_TEST_CONTAINERS=${RAT_TEST_CONTAINERS:-unset}; by default only the whole suite runs them)"
fi
exit "$status"
