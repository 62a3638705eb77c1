#!/usr/bin/env bash
# Runs the make targets named as arguments one after another and prints one
# line per stage with its wall time, then a one-line summary, so a slow CI run
# shows where its minutes went. Stops at the first failing stage (the summary
# still prints and names it).
set -uo pipefail

make_cmd="${MAKE:-make}"
summary=()
total_start=$SECONDS
status=0
for stage in "$@"; do
	start=$SECONDS
	"$make_cmd" --no-print-directory "$stage"
	status=$?
	took=$((SECONDS - start))
	if [[ $status -ne 0 ]]; then
		summary+=("$stage FAILED ${took}s")
		echo "== stage $stage failed after ${took}s" >&2
		break
	fi
	summary+=("$stage ${took}s")
	echo "== stage $stage ${took}s"
done
line="$(IFS='|'; echo "${summary[*]}")"
echo "== make test: ${line//|/ · } · total $((SECONDS - total_start))s"
exit $status
