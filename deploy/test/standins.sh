#!/usr/bin/env bash
# deploy/test/standins.sh — local stand-ins for the PostgreSQL and MinIO images
# (sourced after lib.sh, not run).
#
# No image registry is reachable where rat's container tests run, so the
# official images named in deploy/compose and deploy/k8s
# (docker.io/library/postgres, quay.io/minio/minio) are replaced in the tests
# by images built here from localhost/rat-base:bookworm. They behave like the
# official ones for everything rat's manifests use:
#
#   localhost/rat-postgres:15      Debian's postgresql-15. On first start with
#                                  an empty /var/lib/postgresql/data (PGDATA) it
#                                  runs initdb from POSTGRES_USER (default
#                                  postgres), POSTGRES_PASSWORD (required unless
#                                  POSTGRES_HOST_AUTH_METHOD=trust) and
#                                  POSTGRES_DB (default: the user), then serves
#                                  on 5432 as the postgres user with password
#                                  auth from any address; pg_isready is on PATH.
#   localhost/rat-minio:latest-test the MinIO binary scripts/test.sh installs
#                                  (go install at its MINIO_VERSION) as
#                                  /usr/bin/minio; `minio server /data...` with
#                                  MINIO_ROOT_USER/MINIO_ROOT_PASSWORD, health
#                                  at /minio/health/live. Runs as root, like
#                                  the official image.
#
#   ensure_standins   builds both unless an image with the same content key
#                     (label rat.content-key: a hash of the build files, the
#                     base image ID and, for MinIO, the binary) exists.
#   ensure_postgres_standin / ensure_minio_standin   one of them.

POSTGRES_STANDIN=localhost/rat-postgres:15
MINIO_STANDIN=localhost/rat-minio:latest-test

# standin_key FILE...: a short content key over files and the base image ID.
standin_key() {
	{
		podman image inspect --format '{{.Id}}' "$BASE_IMAGE"
		sha256sum "$@" | cut -d' ' -f1
	} | sha256sum | cut -c1-16
}

# standin_current IMAGE KEY: true when IMAGE exists and was built from KEY.
standin_current() {
	podman image exists "$1" &&
		[[ $(podman image inspect --format '{{index .Labels "rat.content-key"}}' "$1" 2>/dev/null) == "$2" ]]
}

# standin_build IMAGE KEY DIR: podman build DIR into IMAGE, labelled with KEY.
standin_build() {
	local image=$1 key=$2 dir=$3
	dlog "building $image (content key $key)"
	podman build --quiet --label "rat.content-key=$key" -t "$image" "$dir" >"$dir/build.log" 2>&1 ||
		{ tail -n 40 "$dir/build.log" >&2; rm -rf "$dir"; ddie "podman build $image failed"; }
	rm -rf "$dir"
}

# standin_from DIR IMAGE [FILE...]: builds DIR (its Containerfile and the
# files it copies) into IMAGE unless IMAGE was built from the same content
# (Containerfile, FILEs, base image); removes DIR either way.
standin_from() {
	local dir=$1 image=$2 key
	shift 2
	key=$(standin_key "$dir/Containerfile" "$@")
	if standin_current "$image" "$key"; then
		rm -rf "$dir"
		return 0
	fi
	standin_build "$image" "$key" "$dir"
}

ensure_postgres_standin() {
	ensure_base
	local dir
	dir=$(mktemp -d "${TMPDIR:-/tmp}/rat-pg-standin.XXXXXX")
	cat >"$dir/Containerfile" <<EOF
FROM $BASE_IMAGE
RUN apt-get update -q \\
 && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends postgresql-15 \\
 && rm -rf /var/lib/apt/lists/* /var/cache/apt/archives/*.deb \\
 && rm -rf /var/lib/postgresql/15 /etc/postgresql/15 \\
 && mkdir -p /var/lib/postgresql/data /var/run/postgresql \\
 && chown -R postgres:postgres /var/lib/postgresql /var/run/postgresql \\
 && chmod 2777 /var/run/postgresql
COPY docker-entrypoint.sh /usr/local/bin/docker-entrypoint.sh
ENV PATH=/usr/lib/postgresql/15/bin:\$PATH PGDATA=/var/lib/postgresql/data LANG=C.UTF-8
VOLUME /var/lib/postgresql/data
EXPOSE 5432
STOPSIGNAL SIGINT
ENTRYPOINT ["/usr/local/bin/docker-entrypoint.sh"]
CMD ["postgres"]
EOF
	cat >"$dir/docker-entrypoint.sh" <<'EOF'
#!/bin/bash
# Stand-in for the official postgres image's entrypoint: initdb from the
# POSTGRES_* variables on first start, then run the server as postgres.
set -euo pipefail
if [[ "${1:-}" == -* ]]; then set -- postgres "$@"; fi
if [[ "${1:-}" != postgres ]]; then exec "$@"; fi

: "${PGDATA:=/var/lib/postgresql/data}"
if [[ $(id -u) == 0 ]]; then
	mkdir -p "$PGDATA" /var/run/postgresql
	chown postgres:postgres "$PGDATA" /var/run/postgresql
	chmod 700 "$PGDATA"
	exec setpriv --reuid=postgres --regid=postgres --init-groups "$0" "$@"
fi

if [[ ! -s "$PGDATA/PG_VERSION" ]]; then
	user=${POSTGRES_USER:-postgres}
	db=${POSTGRES_DB:-$user}
	auth=${POSTGRES_HOST_AUTH_METHOD:-scram-sha-256}
	if [[ -z "${POSTGRES_PASSWORD:-}" && "$auth" != trust ]]; then
		echo "error: database is uninitialized and POSTGRES_PASSWORD is not set; set it (or POSTGRES_HOST_AUTH_METHOD=trust)" >&2
		exit 1
	fi
	pwfile=$(mktemp)
	printf '%s\n' "${POSTGRES_PASSWORD:-}" >"$pwfile"
	initdb -D "$PGDATA" -U "$user" --pwfile="$pwfile" -E UTF8 --locale=C.UTF-8 --auth-local=trust --auth-host="$auth" >/dev/null
	rm -f "$pwfile"
	printf 'host all all all %s\n' "$auth" >>"$PGDATA/pg_hba.conf"
	if [[ "$db" != postgres ]]; then
		pg_ctl -D "$PGDATA" -o "-c listen_addresses=''" -w start >/dev/null
		psql -v ON_ERROR_STOP=1 -U "$user" -d postgres -q -c "CREATE DATABASE \"$db\""
		pg_ctl -D "$PGDATA" -m fast -w stop >/dev/null
	fi
	echo "PostgreSQL init process complete; ready for start up."
fi
exec "$@" -c listen_addresses='*'
EOF
	chmod 755 "$dir/docker-entrypoint.sh"
	standin_from "$dir" "$POSTGRES_STANDIN" "$dir/docker-entrypoint.sh"
}

# minio_binary: the MinIO binary scripts/test.sh uses, installed with
# `go install` at scripts/test.sh's MINIO_VERSION when missing.
minio_binary() {
	local gobin version
	gobin=$(go env GOBIN)
	[[ -n "$gobin" ]] || gobin="$(go env GOPATH | cut -d: -f1)/bin"
	if [[ ! -x "$gobin/minio" ]]; then
		version=$(sed -n 's/^MINIO_VERSION=//p' "$REPO_ROOT/scripts/test.sh")
		[[ -n "$version" ]] || ddie "no MINIO_VERSION= line in scripts/test.sh"
		dlog "installing MinIO $version with go install (once; about 4 minutes)"
		(cd "${TMPDIR:-/tmp}" && GOFLAGS= go install "github.com/minio/minio@$version") >&2 ||
			ddie "go install github.com/minio/minio@$version failed"
	fi
	echo "$gobin/minio"
}

ensure_minio_standin() {
	ensure_base
	local dir bin
	bin=$(minio_binary) || exit 1
	dir=$(mktemp -d "${TMPDIR:-/tmp}/rat-minio-standin.XXXXXX")
	cat >"$dir/Containerfile" <<EOF
FROM $BASE_IMAGE
COPY minio /usr/bin/minio
ENV MINIO_UPDATE=off
VOLUME /data
EXPOSE 9000
ENTRYPOINT ["/usr/bin/minio"]
CMD ["server", "/data"]
EOF
	cp "$bin" "$dir/minio"
	standin_from "$dir" "$MINIO_STANDIN" "$dir/minio"
}

ensure_standins() {
	ensure_postgres_standin
	ensure_minio_standin
}
