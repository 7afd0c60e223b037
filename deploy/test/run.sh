#!/usr/bin/env bash
# deploy/test/run.sh — rat's container tests: the entry scripts/test.sh (and
# so CI) calls. It prepares podman and the locally made base image, then
# runs, in order and each as its own process:
#
#   image.sh     builds localhost/rat:dev from the Dockerfile and runs it
#   compose.sh   the Compose stack (deploy/compose), when the file exists
#   k8s.sh       the local Kubernetes overlay (deploy/k8s), when it exists
#
# and prints a summary with each one's time. The first failure of image.sh
# stops the rest (they run its image); otherwise every test runs and the
# exit status is 1 when any failed.
#
# Under CI=true podman is installed when missing and must work: there is no
# skipping. Elsewhere, when podman cannot be installed or cannot run here,
# the tests are skipped with a message saying why (exit 0).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

if [[ ${CI:-} != true ]] && ! (ensure_podman) 2>"${TMPDIR:-/tmp}/rat-podman-check.$$"; then
	dlog "skipping the container tests: $(tail -n 1 "${TMPDIR:-/tmp}/rat-podman-check.$$" | sed 's/^deploy-test: error: //') (under CI=true this fails instead)"
	rm -f "${TMPDIR:-/tmp}/rat-podman-check.$$"
	exit 0
fi
rm -f "${TMPDIR:-/tmp}/rat-podman-check.$$"
ensure_podman
ensure_base

summary=()
failed=0
all_start=$SECONDS
for t in image compose k8s; do
	script="$DEPLOY_TEST_DIR/$t.sh"
	if [[ ! -f $script ]]; then
		summary+=("$(printf '%-8s not present (deploy/test/%s.sh)' "$t" "$t")")
		continue
	fi
	dlog "running $t.sh"
	start=$SECONDS
	status=0
	bash "$script" || status=$?
	took=$((SECONDS - start))
	if ((status == 0)); then
		summary+=("$(printf '%-8s ok      %4ds' "$t" "$took")")
	else
		summary+=("$(printf '%-8s FAILED  %4ds (exit %d)' "$t" "$took" "$status")")
		failed=1
		[[ $t == image ]] && break # the others run the image it builds
	fi
done
dlog "summary ($((SECONDS - all_start))s in all):"
for line in "${summary[@]}"; do
	dlog "  $line"
done
exit "$failed"
