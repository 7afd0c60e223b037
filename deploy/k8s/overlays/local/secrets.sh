#!/bin/sh
# Writes secrets.env for the local overlay (once): random passwords for the
# in-cluster PostgreSQL and MinIO and a random API token. The file is
# git-ignored and kustomize's secretGenerator turns it into the Secret rat.
# Read the token with: grep api-token secrets.env
set -eu
cd "$(dirname "$0")"
[ -e secrets.env ] && { echo "secrets.env exists; delete it to make new secrets" >&2; exit 0; }
rand() { od -An -N"$1" -tx1 /dev/urandom | tr -d ' \n'; }
pg=$(rand 16)
umask 077
cat >secrets.env <<END
postgres-password=$pg
catalog-url=postgres://rat:$pg@rat-postgres:5432/rat?sslmode=disable
s3-access-key=rat$(rand 8)
s3-secret-key=$(rand 20)
api-token=$(rand 32)
END
echo "wrote $(pwd)/secrets.env" >&2
