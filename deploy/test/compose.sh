#!/usr/bin/env bash
# deploy/test/compose.sh — runs deploy/compose for real, with podman-compose,
# the way a user runs it with docker compose:
#
#   1. docker-compose (Debian's 1.29) accepts every file combination;
#   2. `podman-compose up -d` of compose.yaml + compose.tiny.yaml, the images
#      replaced by local stand-ins through the *_IMAGE variables of .env;
#   3. the demo through Traefik's published port: landing upload (API) →
#      a run whose nodes the 3 workers build → Iceberg tables on MinIO →
#      a query; one worker container is killed (SIGKILL) while it builds a
#      node, and the run still succeeds;
#   4. `down` then `up` again: the same answers (data in the named volumes);
#   5. compose.single.yaml (phase 1: one container, SQLite, local warehouse)
#      comes up and runs the demo;
#   6. a report line: seconds from `up` to ready, idle memory per service.
#
#   deploy/test/compose.sh          # everything above
#   source deploy/test/compose.sh   # only define the functions (run.sh does)
#
# Environment: RAT_IMAGE (default localhost/rat:dev, made by image.sh).
# Everything it creates is named rat-cmp-<pid>* and removed on exit.

# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
# shellcheck source=standins.sh
source "$DEPLOY_TEST_DIR/standins.sh"
# shellcheck source=standins_compose.sh
source "$DEPLOY_TEST_DIR/standins_compose.sh"

RAT_IMAGE=${RAT_IMAGE:-localhost/rat:dev}
CMP_DIR=$REPO_ROOT/deploy/compose
CMP_PROFILE=tiny
CMP_FILES="compose.yaml compose.$CMP_PROFILE.yaml"
CMP_PROJECT=""
CMP_WORK=""

# cmp_files: the -f arguments of the stack under test (CMP_FILES).
cmp_files() { local f; for f in $CMP_FILES; do echo "-f $f"; done; }

# cmp_compose ARGS...: podman-compose in the test's copy of deploy/compose
# (its .env holds the test's settings), output to the log.
#
# Two faults of podman-compose 1.0.3 are worked around here, the files stay
# as docker compose wants them: it pops "CMD" off a list-form health check
# in place, so the second replica of a service fails ("unknown healthcheck
# test type"), and it hands that list to /bin/sh -c, which an image without
# a shell (rat's) cannot run. Each container gets its own copy, and podman
# gets the exec form (a JSON array) instead.
cmp_compose() {
	# shellcheck disable=SC2046
	local py
	py=$(sed -n '1s/^#! *//p' "$(command -v podman-compose)") # the Python podman-compose runs with
	(cd "$CMP_WORK/compose" && ${py:-python3} - -p "$CMP_PROJECT" $(cmp_files) "$@" <<'PY'
import copy, json, sys
import podman_compose as pc

to_args = pc.container_to_args

def container_to_args(compose, cnt, detached=True):
    cnt = dict(cnt)
    cnt["healthcheck"] = copy.deepcopy(cnt.get("healthcheck") or {})
    test = list(cnt["healthcheck"].get("test") or [])
    args = to_args(compose, cnt, detached)
    if isinstance(test, list) and test[:1] == ["CMD"]:
        args[args.index("--healthcheck-command") + 1] = json.dumps(test[1:], separators=(",", ":"))
    return args

pc.container_to_args = container_to_args
sys.argv[0] = "podman-compose"
sys.exit(pc.main())
PY
	) >>"$CMP_WORK/compose.log" 2>&1
}

cmp_cleanup() {
	local status=$?
	[[ -n "$CMP_PROJECT" ]] || return "$status"
	local ids
	ids=$(podman ps -aq --filter "label=io.podman.compose.project=$CMP_PROJECT" 2>/dev/null) || true
	[[ -z "$ids" ]] || podman rm -f -t 0 $ids >/dev/null 2>&1 || true
	ids=$(podman volume ls -q --filter "label=io.podman.compose.project=$CMP_PROJECT" 2>/dev/null) || true
	[[ -z "$ids" ]] || podman volume rm -f $ids >/dev/null 2>&1 || true
	podman network rm -f "${CMP_PROJECT}_default" >/dev/null 2>&1 || true
	[[ -z "$CMP_WORK" ]] || rm -rf "$CMP_WORK"
	return "$status"
}

# set_env FILE KEY VALUE: replaces the KEY= line of an env file.
set_env() {
	grep -q "^$2=" "$1" || ddie "$1 has no $2= line"
	sed -i "s|^$2=.*|$2=$3|" "$1"
}

random_hex() { od -An -N"$1" -tx1 /dev/urandom | tr -d ' \n'; }

# free_port START: the first port from START on that nobody listens on.
free_port() {
	local p=$1
	while (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; do
		p=$((p + 1))
		((p < $1 + 200)) || ddie "no free port in $1..$p"
	done
	echo "$p"
}

# cmp_prepare: the test's copy of deploy/compose with its .env, and the
# demo workspace (plus a slow pipeline) that every rat container mounts.
cmp_prepare() {
	CMP_WORK=$(mktemp -d "${TMPDIR:-/tmp}/rat-cmp.XXXXXX")
	chmod 755 "$CMP_WORK"
	mkdir -p "$CMP_WORK/compose"
	cp "$CMP_DIR"/compose*.yaml "$CMP_DIR"/traefik.yaml "$CMP_DIR/.env.example" "$CMP_WORK/compose/"
	local env=$CMP_WORK/compose/.env
	cp "$CMP_DIR/.env.example" "$env"
	CMP_PORT=$(free_port 58000)
	CMP_TOKEN=$(random_hex 32)
	set_env "$env" RAT_IMAGE "$RAT_IMAGE"
	set_env "$env" POSTGRES_IMAGE "$POSTGRES_STANDIN"
	set_env "$env" MINIO_IMAGE "$MINIO_STANDIN"
	set_env "$env" CURL_IMAGE "$CURL_STANDIN"
	set_env "$env" TRAEFIK_IMAGE "$TRAEFIK_STANDIN"
	set_env "$env" RAT_PROFILE "$CMP_PROFILE"
	set_env "$env" RAT_HTTP_PORT "$CMP_PORT"
	set_env "$env" RAT_WORKSPACE_DIR "$CMP_WORK/ws"
	set_env "$env" RAT_API_TOKEN "$CMP_TOKEN"
	set_env "$env" POSTGRES_PASSWORD "$(random_hex 16)"
	set_env "$env" MINIO_ROOT_PASSWORD "$(random_hex 16)"
	set_env "$env" CLICKHOUSE_PASSWORD "$(random_hex 16)"
	chmod 600 "$env"

	cmp_workspace "$CMP_WORK/ws"
	# A node that runs until the test lets it finish: it counts up to the
	# number in slow.csv, read again by every attempt.
	printf 'n\n20000000000\n' >"$CMP_WORK/ws/slow.csv"
	cat >"$CMP_WORK/ws/pipelines/silver/slow.sql" <<'EOF'
-- @description: test only: counts up to slow.csv's n, so that a worker can be killed while it builds this
SELECT count(*) AS n FROM {{ ref('bronze.raw_orders') }} o, range((SELECT n FROM read_csv('/data/slow.csv'))) r
WHERE hash(r.range) >= 0 AND o.order_id = 1
EOF
	chmod 644 "$CMP_WORK/ws/slow.csv" "$CMP_WORK/ws/pipelines/silver/slow.sql"
}

# cmp_workspace DIR: the demo workspace in DIR, written by the image's own
# user (uid 65532), as every rat container mounts it.
cmp_workspace() {
	mkdir -p "$1"
	chown 65532:65532 "$1"
	podman run --rm --name "$CMP_PROJECT-init" -v "$1:/data" "$RAT_IMAGE" init /data --demo >>"$CMP_WORK/compose.log" 2>&1 ||
		{ tail -n 20 "$CMP_WORK/compose.log" >&2; ddie "rat init --demo in $RAT_IMAGE failed"; }
}

# cmp_config_check: Debian's docker-compose accepts every combination.
cmp_config_check() {
	local p combos=("compose.yaml" "compose.yaml compose.clickhouse.yaml" "compose.single.yaml")
	for p in tiny small medium large; do
		combos+=("compose.yaml compose.$p.yaml" "compose.yaml compose.$p.yaml compose.clickhouse.yaml")
	done
	local c f args out
	for c in "${combos[@]}"; do
		args=()
		for f in $c; do args+=(-f "$f"); done
		out=$(cd "$CMP_WORK/compose" && docker-compose "${args[@]}" config -q 2>&1) ||
			{ printf '%s\n' "$out" >&2; ddie "docker-compose config refuses $c"; }
		[[ -z "$out" ]] || printf 'docker-compose config %s: %s\n' "$c" "$out" >&2
	done
	dlog "docker-compose $(docker-compose version --short 2>/dev/null) accepts ${#combos[@]} file combinations"
}

# api METHOD PATH [BODY]: a request to rat's API through Traefik; prints the body.
api() {
	local args=(-sS --max-time 30 -H "Authorization: Bearer $CMP_TOKEN" -X "$1")
	[[ $# -lt 3 ]] || args+=(-H 'Content-Type: application/json' --data "$3")
	curl "${args[@]}" -w '\n%{http_code}' "http://127.0.0.1:$CMP_PORT$2"
}

# api_ok METHOD PATH [BODY]: api, failing unless 2xx; prints the body.
api_ok() {
	local out code
	out=$(api "$@") || ddie "$1 $2: curl failed"
	code=${out##*$'\n'}
	out=${out%$'\n'*}
	[[ $code == 2* ]] || ddie "$1 $2: HTTP $code: $out"
	printf '%s\n' "$out"
}

# json EXPR: evaluates a Python expression over the JSON document on stdin (d).
json() { python3 -c "import json,sys; d=json.load(sys.stdin); print($1)"; }

# cmp_containers SERVICE: the project's containers of a service.
cmp_containers() {
	podman ps -a --format '{{.Names}}' --filter "label=io.podman.compose.project=$CMP_PROJECT" |
		grep -E "^${CMP_PROJECT}_$1_[0-9]+\$" || true
}

# cmp_wait_ready START: every long-running container passes its own health
# check (podman healthcheck run: podman runs none on its own without
# systemd), 3 of them workers, and Traefik answers /health/ready from rat
# serve. Sets READY_SECONDS from START.
cmp_wait_ready() {
	local start=$1 deadline=$((SECONDS + 300)) c ok workers
	while :; do
		ok=1
		for c in $(podman ps -a --format '{{.Names}}' --filter "label=io.podman.compose.project=$CMP_PROJECT"); do
			case $c in *_createbucket_* | *_migrate_*) continue ;; esac
			# podman runs no health checks on its own (no systemd), so a
			# container whose depends_on waits for service_healthy may be
			# left created, never started, when its dependency was not yet
			# healthy at up: start it, as compose would once it is.
			if [[ $(podman inspect -f '{{.State.Status}}' "$c" 2>/dev/null) == created ]]; then
				dlog "$c was created but not started (its dependency was not healthy yet at up); starting it"
				podman start "$c" >>"$CMP_WORK/compose.log" 2>&1 || true
			fi
			podman healthcheck run "$c" >/dev/null 2>&1 || { ok=0; break; }
		done
		workers=$(cmp_containers worker | wc -l)
		((workers == 3)) || ok=0
		if ((ok)); then
			[[ $(curl -s -o /dev/null -w '%{http_code}' --max-time 5 "http://127.0.0.1:$CMP_PORT/health/ready") == 200 ]] && break
		fi
		if ((SECONDS > deadline)); then
			podman ps -a --filter "label=io.podman.compose.project=$CMP_PROJECT" >&2
			for c in $(podman ps -a --format '{{.Names}}' --filter "label=io.podman.compose.project=$CMP_PROJECT"); do
				dlog "--- $c"
				podman logs --tail 15 "$c" >&2 2>&1 || true
			done
			ddie "the stack is not ready 5 minutes after up"
		fi
		sleep 1
	done
	READY_SECONDS=$((SECONDS - start))
}

# psql_q SQL: one query on the stack's PostgreSQL (the catalog and queue).
psql_q() {
	podman exec "$(cmp_containers postgres | head -n1)" psql -U rat -d rat -tAc "$1"
}

# cmp_query SQL: the query's rows as CSV-ish lines, through Traefik.
cmp_query() {
	api_ok POST /api/v1/query "$(python3 -c 'import json,sys; print(json.dumps({"sql": sys.argv[1]}))' "$1")" |
		json '"\n".join(",".join(str(v) for v in r) for r in d["rows"])'
}

cmp_demo() {
	local f id state owner victim host w
	# Landing upload through Traefik (multipart, the API's upload).
	for f in customers/customers.csv orders/orders_2024_03.csv; do
		curl -sSf --max-time 60 -H "Authorization: Bearer $CMP_TOKEN" -F "file=@$CMP_WORK/ws/landing/$f" \
			"http://127.0.0.1:$CMP_PORT/api/v1/landing/${f%%/*}" >/dev/null || ddie "landing upload of $f through Traefik failed"
	done
	id=$(api_ok POST /api/v1/runs '{}' | json 'd["id"]')
	dlog "run $id queued; waiting for silver.slow to start on a worker"
	local deadline=$((SECONDS + 300))
	while :; do
		IFS='|' read -r state owner < <(psql_q "SELECT state, owner FROM rat_dag_nodes WHERE run_id = '$id' AND pipeline = 'silver.slow'") || true
		[[ "$state" == running ]] && break
		((SECONDS < deadline)) || ddie "silver.slow never ran: $(api_ok GET "/api/v1/runs/$id")"
		sleep 0.5
	done
	host=${owner%%-*}
	victim=""
	for w in $(cmp_containers worker); do
		[[ $(podman inspect -f '{{.Config.Hostname}}' "$w") == "$host" ]] && victim=$w
	done
	[[ -n "$victim" ]] || ddie "no worker container has hostname $host (node owner $owner)"
	sleep 2
	printf 'n\n1000\n' >"$CMP_WORK/ws/slow.csv" # the next attempt is quick
	podman kill "$victim" >/dev/null
	dlog "killed $victim (SIGKILL) while it built silver.slow"
	deadline=$((SECONDS + 300))
	while :; do
		state=$(api_ok GET "/api/v1/runs/$id" | json 'd["status"]')
		[[ $state == success ]] && break
		[[ $state == running || $state == queued || $state == pending ]] || ddie "run $id ended $state: $(api_ok GET "/api/v1/runs/$id")"
		((SECONDS < deadline)) || ddie "run $id still $state 5 minutes after the kill"
		sleep 1
	done
	# The run's record: silver.slow built twice, the second time elsewhere.
	local doc slow
	doc=$(api_ok GET "/api/v1/runs/$id")
	slow=$(json '" ".join(str(n.get(k, "")) for n in d["nodes"] if n["pipeline"] == "silver.slow" for k in ("attempts", "worker"))' <<<"$doc")
	[[ ${slow%% *} == 2 ]] || ddie "silver.slow: attempts and worker '$slow', want 2 attempts (the killed one, then another worker's)"
	owner=${slow#* }
	[[ ${owner%%-*} != "$host" ]] || ddie "silver.slow's second attempt ran on the killed worker ($owner)"
	local workers
	workers=$(json 'len({n["worker"].split("-")[0] for n in d["nodes"] if n.get("worker")})' <<<"$doc")
	dlog "run $id succeeded: silver.slow built again by worker ${owner%%-*} after the kill; the run's nodes ran on $workers worker container(s)"
	# The tables are on MinIO: Iceberg metadata under the warehouse prefix.
	local objects
	objects=$(podman exec "$(cmp_containers minio | head -n1)" find /data/rat/warehouse -name '*.metadata.json*' | wc -l)
	((objects > 0)) || ddie "no Iceberg metadata in MinIO's bucket rat/warehouse"
	CMP_RUN=$id
}

# cmp_answers: the answers the demo must give, before and after down/up.
cmp_answers() {
	cmp_query "SELECT count(*), count(DISTINCT order_id) FROM silver.orders"
	cmp_query "SELECT n FROM silver.slow"
	cmp_query "SELECT count(*) FROM silver.customers"
}

cmp_memory_report() {
	podman stats --no-stream --format '{{.Name}} {{.MemUsage}}' \
		$(podman ps --format '{{.Names}}' --filter "label=io.podman.compose.project=$CMP_PROJECT") 2>/dev/null |
		sed "s/^${CMP_PROJECT}_//" | awk '{print $1"="$2}' | tr '\n' ' '
}

compose_test() {
	ensure_podman
	ensure_base
	podman image exists "$RAT_IMAGE" || ddie "$RAT_IMAGE does not exist: build it first (deploy/test/image.sh)"
	ensure_standins
	ensure_compose_standins
	CMP_PROJECT=rat-cmp-$$
	trap cmp_cleanup EXIT
	cmp_prepare
	cmp_config_check

	local start=$SECONDS
	cmp_compose up -d || { tail -n 40 "$CMP_WORK/compose.log" >&2; ddie "podman-compose up failed"; }
	cmp_wait_ready "$start"
	local first_ready=$READY_SECONDS out
	# compose.tiny.yaml: each rat container is limited to 4 GiB and 1 CPU and
	# runs the tiny profile.
	for c in $(cmp_containers serve) $(cmp_containers worker); do
		[[ $(podman inspect -f '{{.HostConfig.Memory}} {{.HostConfig.NanoCpus}}' "$c") == "4294967296 1000000000" ]] ||
			ddie "$c: limits $(podman inspect -f '{{.HostConfig.Memory}} {{.HostConfig.NanoCpus}}' "$c"), want 4 GiB and 1 CPU (compose.tiny.yaml)"
		out=$(podman exec "$c" rat config 2>&1) || ddie "rat config in $c: $out"
		grep -Eq '^profile[[:space:]]+tiny[[:space:]]' <<<"$out" || ddie "$c does not run the tiny profile: $out"
	done
	# The one-shots succeeded (podman-compose may start them before what they
	# depend on is healthy: then they must succeed when started again).
	local c code
	for c in createbucket migrate; do
		c=$(cmp_containers "$c")
		[[ -n "$c" ]] || ddie "no $c container"
		code=$(podman inspect -f '{{.State.ExitCode}}' "$c")
		if [[ $code != 0 ]]; then
			dlog "$c exited $code before its dependencies were up (podman-compose ignores depends_on conditions); starting it again"
			podman start -a "$c" >>"$CMP_WORK/compose.log" 2>&1 || true
			code=$(podman inspect -f '{{.State.ExitCode}}' "$c")
			[[ $code == 0 ]] || { podman logs "$c" >&2; ddie "the one-shot $c exited $code"; }
		fi
	done
	dlog "stack ready ${first_ready}s after up (Traefik → serve ready, 3 workers live)"
	cmp_demo
	local want got
	want=$(cmp_answers)
	[[ $(echo "$want" | head -n1) == "1000,1000" ]] || ddie "silver.orders: $want"

	cmp_compose down -t 40 || ddie "podman-compose down failed"
	[[ -z $(cmp_containers serve) ]] || ddie "down left containers"
	start=$SECONDS
	cmp_compose up -d || { tail -n 40 "$CMP_WORK/compose.log" >&2; ddie "podman-compose up (again) failed"; }
	cmp_wait_ready "$start"
	got=$(cmp_answers)
	[[ "$got" == "$want" ]] || ddie "after down and up the answers changed: $got, want $want"
	[[ $(api_ok GET "/api/v1/runs/$CMP_RUN" | json 'd["status"]') == success ]] || ddie "run $CMP_RUN lost after down/up"
	dlog "after down and up: the same tables and run history (ready ${READY_SECONDS}s after up)"
	sleep 10 # idle: nothing queued
	local mem
	mem=$(cmp_memory_report)
	local again=$READY_SECONDS
	cmp_compose down -t 40 || ddie "podman-compose down failed"

	cmp_single
	echo "compose: up→ready ${first_ready}s (again after down: ${again}s); idle memory: $mem; single container: ready ${single_ready}s, demo run ${single_run}s"
}

# cmp_single: compose.single.yaml, the phase 1 container, runs the demo
# workspace (SQLite catalog, local warehouse) and answers on its port.
cmp_single() {
	CMP_FILES=compose.single.yaml
	cmp_workspace "$CMP_WORK/single-ws"
	set_env "$CMP_WORK/compose/.env" RAT_WORKSPACE_DIR "$CMP_WORK/single-ws"
	local start=$SECONDS
	cmp_compose up -d || { tail -n 40 "$CMP_WORK/compose.log" >&2; ddie "podman-compose up of compose.single.yaml failed"; }
	local c deadline=$((SECONDS + 300))
	c=$(cmp_containers rat)
	[[ -n "$c" ]] || ddie "compose.single.yaml started no rat container"
	until podman healthcheck run "$c" >/dev/null 2>&1 &&
		[[ $(curl -s -o /dev/null -w '%{http_code}' --max-time 5 "http://127.0.0.1:$CMP_PORT/health/ready") == 200 ]]; do
		((SECONDS < deadline)) || { podman logs --tail 20 "$c" >&2; ddie "the single container is not ready 5 minutes after up"; }
		sleep 1
	done
	single_ready=$((SECONDS - start))
	start=$SECONDS
	local id state
	id=$(api_ok POST /api/v1/runs '{}' | json 'd["id"]')
	while state=$(api_ok GET "/api/v1/runs/$id" | json 'd["status"]') && [[ $state != success ]]; do
		[[ $state == running || $state == queued || $state == pending ]] || ddie "single container: run $id ended $state"
		((SECONDS < deadline)) || ddie "single container: run $id still $state"
		sleep 1
	done
	single_run=$((SECONDS - start))
	[[ $(cmp_query "SELECT count(*), count(DISTINCT order_id) FROM silver.orders") == "1000,1000" ]] ||
		ddie "single container: silver.orders is not the demo's 1000 orders"
	[[ -s "$CMP_WORK/single-ws/.rat/catalog.db" ]] || ddie "single container: no SQLite catalog in the workspace volume"
	dlog "single container: ready ${single_ready}s after up, the demo run took ${single_run}s, SQLite catalog in the workspace"
	cmp_compose down -t 40 || ddie "podman-compose down of compose.single.yaml failed"
}

if [[ "${BASH_SOURCE[0]}" == "$0" ]]; then
	set -euo pipefail
	compose_test
fi
