#!/usr/bin/env bash
# deploy/test/k8s.sh — runs the local Kubernetes overlay (deploy/k8s) with
# podman kube play and the demo through it.
#
#   1. deploy/k8s/kubeplay builds deploy/k8s/overlays/local (a copy, with
#      secrets made by its secrets.sh; kubectl kustomize, or kustomize through
#      go run without kubectl) and turns it into Pods podman runs: the images become the local ones (RAT_IMAGE, default
#      localhost/rat:dev from deploy/test/image.sh, and the PostgreSQL and
#      MinIO stand-ins of standins.sh); the bucket-init Job is left out (its
#      mc image has no stand-in; rat creates a missing bucket itself).
#   2. Plays PostgreSQL and the 4 MinIO nodes, waits until they answer; plays
#      the migration Job (rat db migrate), waits for it to exit 0; plays rat
#      serve and the workers, waits for /health/ready and /health/live.
#   3. The demo: `rat init --demo` makes the raw files, `rat landing upload`
#      sends them through serve's API, `rat run --server` queues the run, the
#      worker executes every node, and a query through the API must answer
#      what the same demo answers on a single node (`rat demo`).
#   4. Reports the time from the first `kube play` to ready, and removes the
#      pods, the network and the files (also on failure, after printing the
#      pods' logs).
#
# Environment: RAT_IMAGE; RAT_K8S_MAX_REPLICAS (pods per Deployment, default
# 0: as many as the overlay asks for, 2 serve and 3 workers). Podman objects
# are named rat-k8s-*.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
source "$DEPLOY_TEST_DIR/standins.sh"

RAT_IMAGE=${RAT_IMAGE:-localhost/rat:dev}
MAX_REPLICAS=${RAT_K8S_MAX_REPLICAS:-0}
NET=rat-k8s-net-$$
WORK=""

klog() { printf 'k8s.sh: %s\n' "$*" >&2; }

# ours [-a]: the names of this test's containers (the pods' infra
# containers, named by podman, aside).
ours() { podman ps "$@" --format '{{.Names}}' 2>/dev/null | grep -E '^rat-k8s-.*-(rat|postgres|minio)$' | sort || true; }

cleanup() {
	local status=$?
	trap '' INT TERM
	if [[ -n "$WORK" && -d "$WORK/play" ]]; then
		if ((status != 0)); then
			local c
			for c in $(ours -a); do
				klog "last lines of $c:"
				podman logs --tail 20 "$c" 2>&1 | sed 's/^/    /' >&2 || true
			done
		fi
		local f
		for f in apps jobs data; do
			[[ -s "$WORK/play/$f.yaml" ]] && podman kube down "$WORK/play/$f.yaml" >/dev/null 2>&1 || true
		done
	fi
	podman network exists "$NET" 2>/dev/null && podman network rm -f "$NET" >/dev/null 2>&1 || true
	[[ -n "$WORK" ]] && rm -rf "$WORK"
	return "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

if ! command -v podman >/dev/null 2>&1 && [[ ${CI:-} != true && $(id -u) != 0 ]]; then
	klog "skipped: podman is not installed and this is not CI (run as root, or install podman and runc)"
	exit 0
fi
ensure_podman
ensure_standins
podman image exists "$RAT_IMAGE" || ddie "no image $RAT_IMAGE: run deploy/test/image.sh first (or set RAT_IMAGE)"
command -v curl >/dev/null 2>&1 || ddie "curl is required (apt-get install curl)"

# addr_of NAME: the container's address on the test network.
addr_of() { podman inspect "$1" --format "{{(index .NetworkSettings.Networks \"$NET\").IPAddress}}"; }

# wait_for WHAT CMD...: runs CMD every half second until it succeeds (at most
# 10 minutes: a slow machine, never a hang); CMD exiting 99 means it never
# will.
wait_for() {
	local what=$1 i rc
	shift
	for ((i = 0; i < 1200; i++)); do
		rc=0
		"$@" >/dev/null 2>&1 || rc=$?
		((rc == 0)) && return 0
		((rc == 99)) && ddie "$what failed ($("$@" 2>&1))"
		sleep 0.5
	done
	ddie "$what did not come up within 10 minutes"
}

http_ok() { curl -sf -o /dev/null --max-time 5 "$1"; }
pg_ready() { podman exec "$1" pg_isready -q -h 127.0.0.1 -U rat -d rat; }
# exited_ok NAME: 0 once the container exited 0, 99 (saying how) when it
# exited otherwise, 1 while it runs.
exited_ok() {
	local state
	state=$(podman inspect "$1" --format '{{.State.Status}} {{.State.ExitCode}}')
	[[ $state == "exited 0" ]] && return 0
	[[ $state == exited* ]] && { echo "$1: $state"; return 99; }
	return 1
}
now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }

WORK=$(mktemp -d "${TMPDIR:-/tmp}/rat-k8s.XXXXXX")
mkdir -p "$WORK/play"
cp -r "$REPO_ROOT/deploy/k8s" "$WORK/k8s"
rm -f "$WORK/k8s/overlays/local/secrets.env"
sh "$WORK/k8s/overlays/local/secrets.sh" 2>/dev/null
TOKEN=$(sed -n 's/^api-token=//p' "$WORK/k8s/overlays/local/secrets.env")
# kubectl kustomize, or kustomize through go run where kubectl is missing.
(cd "$REPO_ROOT" && go run ./deploy/k8s/kubeplay -overlay "$WORK/k8s/overlays/local" -out "$WORK/play" \
	-image "ghcr.io/ratdata/rat=$RAT_IMAGE" \
	-image "docker.io/library/postgres=$POSTGRES_STANDIN" \
	-image "quay.io/minio/minio=$MINIO_STANDIN" \
	-skip rat-bucket-init -max-replicas "$MAX_REPLICAS")
podman network create "$NET" >/dev/null

# kube play runs each YAML file from its own directory: podman 4.3 looks for
# a build context named like an image there.
t0=$(now)
klog "playing PostgreSQL and MinIO (4 nodes)"
(cd "$WORK/play" && podman kube play --network "$NET" data.yaml >/dev/null)
wait_for "PostgreSQL" pg_ready rat-k8s-postgres-0-postgres
for i in 0 1 2 3; do
	wait_for "MinIO node $i" http_ok "http://$(addr_of rat-k8s-minio-$i-minio):9000/minio/health/ready"
done
t_data=$(since "$t0")
klog "playing the migration Job"
(cd "$WORK/play" && podman kube play --network "$NET" jobs.yaml >/dev/null)
wait_for "the migration Job" exited_ok rat-k8s-db-migrate-rat
t_jobs=$(since "$t0")
klog "playing rat serve and the workers"
(cd "$WORK/play" && podman kube play --network "$NET" apps.yaml >/dev/null)
SERVE=http://$(addr_of rat-k8s-serve-0-rat):3030
pods=$(ours)
for c in $(grep -E '^rat-k8s-serve-[0-9]+-rat$' <<<"$pods"); do
	wait_for "$c" http_ok "http://$(addr_of "$c"):3030/health/ready"
done
for c in $(grep -E '^rat-k8s-worker-[0-9]+-rat$' <<<"$pods"); do
	wait_for "$c" http_ok "http://$(addr_of "$c"):9090/health/live"
done
klog "from the first kube play to ready: $(since "$t0")s (PostgreSQL and MinIO ${t_data}s, migration done at ${t_jobs}s; $(grep -c -- '-serve-' <<<"$pods") serve, $(grep -c -- '-worker-' <<<"$pods") worker pod(s))"
podman stats --no-stream --format '{{.Name}} {{.MemUsage}}' $pods 2>/dev/null |
	sed 's/^/k8s.sh: idle memory: /' >&2 || klog "idle memory: podman stats unavailable here"

# The demo through the cluster.
mkdir -p "$WORK/demo"
chmod 777 "$WORK/demo"
rat() {
	podman run --rm --no-healthcheck --name "rat-k8s-client-$$" --network "$NET" -e RAT_API_TOKEN="$TOKEN" \
		-v "$WORK/demo:/demo" -w /demo "$RAT_IMAGE" "$@"
}
rat init /demo/ws --demo >/dev/null
for f in "$WORK"/demo/ws/landing/*/*; do
	zone=$(basename "$(dirname "$f")")
	rat landing upload "$zone" "/demo/ws/landing/$zone/$(basename "$f")" --server http://rat-k8s-serve-0:3030 >&2
done
out=$(rat run --server http://rat-k8s-serve-0:3030 2>&1) || { printf '%s\n' "$out" >&2; ddie "the demo run failed"; }
printf '%s\n' "$out" | tail -n 3 >&2
run_id=$(printf '%s\n' "$out" | sed -n 's/^run \([0-9a-z-]*\) queued.*/\1/p' | head -n 1)
[[ -n "$run_id" ]] || ddie "no run id in: $out"
workers=$(curl -sf -H "Authorization: Bearer $TOKEN" "$SERVE/api/v1/runs/$run_id" | grep -o '"worker": *"[^"]*"' | sort -u)
[[ -n "$workers" ]] && ! grep -vq 'rat-k8s-worker-' <<<"$workers" ||
	ddie "run $run_id: nodes not executed by the worker pods: ${workers:-none}"

SQL='SELECT count(*) AS days, sum(revenue) AS revenue FROM gold.daily_revenue'
got=$(curl -sf -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' \
	-d "{\"sql\": \"$SQL\"}" "$SERVE/api/v1/query" | tr -d ' \n' | sed -n 's/.*"rows":\[\[\([^]]*\)\]\].*/\1/p' | tr -d '"')
# The same demo on a single node, in a container of its own.
rat demo /demo/single >/dev/null 2>&1 || ddie "rat demo on a single node failed"
want=$(rat -C /demo/single query "$SQL" --format csv | tail -n 1)
[[ -n "$got" && "$got" == "$want" ]] || ddie "gold.daily_revenue through the cluster: '$got', on a single node: '$want'"
klog "ok: demo through serve and $(wc -l <<<"$workers") worker pod(s): $got (days,revenue), as on a single node"
