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
#
# A stage written A+B runs target B in the background, at the lowest CPU
# priority (nice 19), while A runs, and waits for both: B only uses CPU
# that A leaves idle, so A's tests see no more contention than the
# compiles go test runs beside them anyway. make test uses it to compile
# infra-test's binaries while the unit stage's long browser tests mostly
# wait. The summary gives B's own time and how long A's end waited for it:
#   unit+infra-build 500s (…; infra-build 310s in the background, waited 0s)
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
	bg="" bg_note=""
	if [[ "$stage" == *+* ]]; then
		bg="${stage#*+}"
		bglog="$(mktemp)"
		(
			bg_start=$SECONDS
			nice -n 19 "$make_cmd" --no-print-directory "$bg" >"$bglog" 2>&1
			rc=$?
			echo "$((SECONDS - bg_start))" >"$bglog.took"
			exit $rc
		) &
		bg_pid=$!
	fi
	"$make_cmd" --no-print-directory "${stage%%+*}" | tee "$log"
	status=${PIPESTATUS[0]}
	if [[ -n "$bg" ]]; then
		fg_end=$SECONDS
		wait "$bg_pid"
		bg_status=$?
		bg_note="$bg $(cat "$bglog.took" 2>/dev/null || echo '?')s in the background, waited $((SECONDS - fg_end))s"
		if [[ $bg_status -ne 0 ]]; then
			echo "== background $bg failed:" >&2
			cat "$bglog" >&2
			bg_note="$bg FAILED"
			[[ $status -eq 0 ]] && status=$bg_status
		fi
		rm -f "$bglog" "$bglog.took"
	fi
	took=$((SECONDS - start))
	slow="$(slowest "$log")"
	slow="${slow}${bg_note:+${slow:+; }$bg_note}"
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
