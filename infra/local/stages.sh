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
# A stage written A+B+C runs targets B and C in the background, each its
# own job at nice PLAYPLANE_BACKGROUND_NICE (default 0: the same priority
# as A), all started with A, and waits for all of them after A. make test
# runs infra-test (its compile is minutes on a cold cache) and cfn-lint
# beside the unit stage. Why not a low priority, so that A's tests see less
# contention: then the background's work waits for A's end, and what is
# left of it is mostly one link or test after another, with a core idle.
# Cold runs of make test, fresh clone, nothing else running: at nice 19
# the run waited 90 s for infra-test after the unit stage (724 s in all),
# at 10 65 s (717 s), at 0 1 s (690 s); the unit stage's longest packages
# took longer (paymentwebhook 183-188 -> 225 s, cmd/playplane 166-174 ->
# 189 s) and passed. The stage's line gives each background target's
# own time (and infra-test's slowest packages) and how long the end of A
# waited for the last of them:
#   unit+infra-test+cfn-lint 800s (…; in the background: infra-test 790s (pulumi 8s, infra/stack 1s), cfn-lint 40s; waited 0s)
#
# With a PLAYPLANE_BACKGROUND_NICE above 0, once A is done what is left of
# the background targets is reniced to 0 (when this user may raise a
# priority: root, or RLIMIT_NICE; else they stay where they were): the low
# priority is there to yield to A, but against anything else the machine
# runs at nice 0 it yields too, ~1.5% of a core per process (a cold run
# beside two other builds: infra-test had compiled little when unit ended
# at 1,090 s, and went on at that share). At 0 there is nothing to raise.
set -uo pipefail

make_cmd="${MAKE:-make}"
bg_nice="${PLAYPLANE_BACKGROUND_NICE:-0}"
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

# renice_tree PID: every process under PID (PID included) to nice 0, each
# of its threads (Linux keeps a nice per thread, and a child gets the nice
# of the thread that forked it: the go command forks compiles from any of
# its threads). A process started while the tree is walked keeps its
# parent's low priority; the go commands and make, reniced, start theirs at 0
# from then on.
renice_tree() {
	local pids=" $1 " added=1 pid ppid task tids="" table
	table="$(ps -e -o pid=,ppid= 2>/dev/null)" || return 0
	while [[ $added -eq 1 ]]; do
		added=0
		while read -r pid ppid; do
			if [[ "$pids" == *" $ppid "* && "$pids" != *" $pid "* ]]; then
				pids+="$pid "
				added=1
			fi
		done <<<"$table"
	done
	for pid in $pids; do
		for task in /proc/"$pid"/task/*; do
			[[ -e "$task" ]] && tids+="${task##*/} "
		done
	done
	# shellcheck disable=SC2086 # one thread id a word
	[[ -n "$tids" ]] && renice --priority 0 -p $tids >/dev/null 2>&1
	return 0
}

status=0
for stage in "$@"; do
	start=$SECONDS
	IFS=+ read -r -a parts <<<"$stage"
	bgs=("${parts[@]:1}")
	declare -A bg_pid=() bg_log=()
	for bg in ${bgs[@]+"${bgs[@]}"}; do
		bg_log[$bg]="$(mktemp)"
		(
			bg_start=$SECONDS
			nice -n "$bg_nice" "$make_cmd" --no-print-directory "$bg" >"${bg_log[$bg]}" 2>&1
			rc=$?
			echo "$((SECONDS - bg_start))" >"${bg_log[$bg]}.took"
			exit $rc
		) &
		bg_pid[$bg]=$!
	done
	"$make_cmd" --no-print-directory "${parts[0]}" | tee "$log"
	status=${PIPESTATUS[0]}
	fg_end=$SECONDS
	bg_notes=()
	if [[ $bg_nice != 0 ]]; then
		for bg in ${bgs[@]+"${bgs[@]}"}; do
			renice_tree "${bg_pid[$bg]}"
		done
	fi
	for bg in ${bgs[@]+"${bgs[@]}"}; do
		wait "${bg_pid[$bg]}"
		bg_status=$?
		bg_slow="$(slowest "${bg_log[$bg]}")"
		if [[ $bg_status -ne 0 ]]; then
			echo "== background $bg failed:" >&2
			cat "${bg_log[$bg]}" >&2
			bg_notes+=("$bg FAILED")
			[[ $status -eq 0 ]] && status=$bg_status
		else
			bg_notes+=("$bg $(cat "${bg_log[$bg]}.took" 2>/dev/null || echo '?')s${bg_slow:+ ($bg_slow)}")
		fi
		rm -f "${bg_log[$bg]}" "${bg_log[$bg]}.took"
	done
	bg_note=""
	if [[ ${#bgs[@]} -gt 0 ]]; then
		bg_note="in the background: $(IFS='|'; echo "${bg_notes[*]}"); waited $((SECONDS - fg_end))s"
		bg_note="${bg_note//|/, }"
	fi
	unset bg_pid bg_log
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
