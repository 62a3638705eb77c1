#!/usr/bin/env bash
# Runs the make targets named as arguments one after another and prints one
# line per stage with its wall time, then a one-line summary, so a slow CI run
# shows where its minutes went. Stops at the first failing stage (the summary
# still prints and names it).
#
# A stage that runs go test also names its slowest packages (their test run
# time as go test reports it, compile not included), and the summary ends
# with the 1-minute load average at the start and the end: on a shared
# machine the same run takes twice as long at load 4 as at load 1.
#
#   == make test: check-fmt 0s · emulators 0s · unit 420s (cmd/playplane 224s, functions/paymentwebhook 144s) · infra-test 47s (pulumi 8s, infra/stack 1s) · cfn-lint 7s · total 474s · load 1.2→3.4
set -uo pipefail

make_cmd="${MAKE:-make}"
summary=()
total_start=$SECONDS
load() { cut -d' ' -f1 /proc/loadavg 2>/dev/null || echo '?'; }
load_start=$(load)
log="$(mktemp)"
trap 'rm -f "$log"' EXIT

# slowest LOG: the two packages of go test's "ok"/"FAIL" lines with the
# longest run time, module prefix dropped: "cmd/playplane 224s, events 1s".
slowest() {
	awk -F'\t' '($1 ~ /^(ok|FAIL) *$/) && $3 ~ /^[0-9.]+s/ {
		t = $3; sub(/s.*/, "", t); p = $2; sub(/^github\.com\/playplane\/playplane\/?/, "", p)
		if (p == "") p = "."
		printf "%s\t%d\n", p, t + 0.5
	}' "$1" | sort -t$'\t' -k2,2nr | head -2 | awk -F'\t' '{printf "%s%s %ds", (NR > 1 ? ", " : ""), $1, $2}'
}

status=0
for stage in "$@"; do
	start=$SECONDS
	"$make_cmd" --no-print-directory "$stage" | tee "$log"
	status=${PIPESTATUS[0]}
	took=$((SECONDS - start))
	slow="$(slowest "$log")"
	if [[ $status -ne 0 ]]; then
		summary+=("$stage FAILED ${took}s${slow:+ ($slow)}")
		echo "== stage $stage failed after ${took}s" >&2
		break
	fi
	summary+=("$stage ${took}s${slow:+ ($slow)}")
	echo "== stage $stage ${took}s"
done
line="$(IFS='|'; echo "${summary[*]}")"
echo "== make test: ${line//|/ · } · total $((SECONDS - total_start))s · load ${load_start}→$(load)"
exit $status
