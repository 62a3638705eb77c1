#!/usr/bin/env bash
# with-emulators.sh COMMAND [ARG...]
#
# Runs COMMAND with one server per emulated service (dynamodb, sqs,
# firestore, stripe) started for all of it, their endpoints in
# PLAYPLANE_EMULATOR_<SERVICE>, which shared/emulators' test helpers use
# instead of starting a server in every test binary. make unit runs go test
# under it: a DynamoDB Local per test package was a JVM start and warm-up
# each (several CPU-seconds, and ~5 s before the package's first request).
# Tests isolate themselves by unique table, queue, collection and account
# names, as they already do within one binary.
#
# PLAYPLANE_SHARED_EMULATORS lists the services to start (default: all
# four). They start side by side, and COMMAND starts once each answers
# (a few seconds; the JVMs take longest). A server that does not answer
# within PLAYPLANE_EMULATOR_START_TIMEOUT_S seconds (default 120) is stopped
# and its variable left unset, so the tests start their own as before.
# Every server is stopped by its own PID when COMMAND ends; COMMAND's exit
# status is this script's.
set -uo pipefail

LOCAL_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
[ "$#" -ge 1 ] || {
	echo "usage: with-emulators.sh COMMAND [ARG...]" >&2
	exit 2
}
timeout="${PLAYPLANE_EMULATOR_START_TIMEOUT_S:-120}"
note() { echo "with-emulators: $*" >&2; }

# The servers' output, for the note when one does not start.
logs="$(mktemp -d)" || exit 1
pids=()
cleanup() {
	local pid
	for pid in ${pids[@]+"${pids[@]}"}; do
		kill "$pid" 2>/dev/null
	done
	for pid in ${pids[@]+"${pids[@]}"}; do
		wait "$pid" 2>/dev/null
	done
	rm -rf "$logs"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# free_port prints a loopback port nothing listens on now, below the
# kernel's ephemeral range where it can: a port in that range may be the
# local end of some client's connection (a test's HTTP client), which a
# connect cannot see and which makes the server's bind fail. The server may
# still lose the port to someone else before it binds; start_service then
# tries another.
free_port() {
	local low=32768 from=20000 to=60000 port
	read -r low _ </proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || true
	if [ "$low" -gt $((from + 1000)) ] 2>/dev/null; then
		to=$((low - 1))
	fi
	for _ in $(seq 50); do
		port=$((from + RANDOM % (to - from + 1)))
		if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
			echo "$port"
			return 0
		fi
	done
	return 1
}

# ready SERVICE PORT PID: the port answers and, where the port opens first
# (DynamoDB Local) or may be someone else's (stripe-mock reads its spec
# before it binds), the API answers as that server. Another stripe-mock
# answers as one too (a test's own, on a port the kernel gave it), so ours
# must also have said it listens there.
ready() {
	local service=$1 port=$2 pid=$3 deadline=$((SECONDS + timeout))
	"$LOCAL_DIR/wait-port.sh" "$port" "$timeout" "$pid" 2>/dev/null || return 1
	while kill -0 "$pid" 2>/dev/null && [ "$SECONDS" -lt "$deadline" ]; do
		case "$service" in
		dynamodb)
			curl -sf -o /dev/null -X POST "http://127.0.0.1:$port/" \
				-H 'Content-Type: application/x-amz-json-1.0' -H 'X-Amz-Target: DynamoDB_20120810.ListTables' \
				-H 'Authorization: AWS4-HMAC-SHA256 Credential=local/20200101/us-east-1/dynamodb/aws4_request, SignedHeaders=host, Signature=0' \
				-d '{"Limit":1}' && return 0
			;;
		stripe)
			curl -s -o /dev/null -D - "http://127.0.0.1:$port/" | grep -qi '^stripe-mock-version:' &&
				grep -q "^Listening for HTTP at address: 127.0.0.1:$port\$" "$logs/$service" && return 0
			;;
		*) return 0 ;;
		esac
		sleep 0.1
	done
	return 1
}

declare -A port pid
# start_service SERVICE starts it on a free port, in the background; its
# output goes to a log that a failure note shows.
start_service() {
	local service=$1
	port[$service]="$(free_port)" || return 1
	"$LOCAL_DIR/start.sh" "$service" "${port[$service]}" >"$logs/$service" 2>&1 &
	pid[$service]=$!
	pids+=("${pid[$service]}")
}
# forget PID drops a server that has exited from those cleanup stops, so
# its number, once reused, is never signalled.
forget() {
	local kept=() p
	for p in ${pids[@]+"${pids[@]}"}; do
		[ "$p" = "$1" ] || kept+=("$p")
	done
	pids=(${kept[@]+"${kept[@]}"})
}
for service in ${PLAYPLANE_SHARED_EMULATORS:-dynamodb sqs firestore stripe}; do
	case "$service" in
	dynamodb | sqs | firestore | stripe) ;;
	*)
		note "unknown service '$service' in PLAYPLANE_SHARED_EMULATORS (want dynamodb, sqs, firestore, stripe)"
		exit 2
		;;
	esac
	start_service "$service" || note "no free port for $service; the tests start their own"
done
# Wait for all of them at once (DynamoDB Local takes longest). A server
# that exits before it answers (its port taken meanwhile) is started again
# on another port, as shared/emulators' launcher does.
declare -A ok
for service in "${!pid[@]}"; do
	(ready "$service" "${port[$service]}" "${pid[$service]}") &
	ok[$service]=$!
done
attempts=3
for service in "${!pid[@]}"; do
	var="PLAYPLANE_EMULATOR_${service^^}"
	wait "${ok[$service]}"
	started=$?
	attempt=1
	while [ "$started" -ne 0 ] && [ "$attempt" -lt "$attempts" ] && ! kill -0 "${pid[$service]}" 2>/dev/null; do
		note "$service exited before it answered on 127.0.0.1:${port[$service]} ($(tail -n 1 "$logs/$service")); starting it again"
		attempt=$((attempt + 1))
		forget "${pid[$service]}"
		start_service "$service" || break
		ready "$service" "${port[$service]}" "${pid[$service]}"
		started=$?
	done
	if [ "$started" -eq 0 ]; then
		case "$service" in
		firestore) export "$var=127.0.0.1:${port[$service]}" ;;
		*) export "$var=http://127.0.0.1:${port[$service]}" ;;
		esac
	else
		note "$service did not start on 127.0.0.1:${port[$service]}; the tests start their own. Its output's tail:"
		tail -n 5 "$logs/$service" >&2
		kill "${pid[$service]}" 2>/dev/null
	fi
done

"$@"
