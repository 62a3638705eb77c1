#!/usr/bin/env bash
# wait-port.sh PORT|HOST:PORT [TIMEOUT_SECONDS] [PID]
#
# Waits until a TCP connection to HOST:PORT (default host 127.0.0.1) succeeds.
# Exits 1 after TIMEOUT_SECONDS (default 60), or as soon as PID (the server
# started by the caller, if given) has exited, so a crash is reported at once
# instead of after the timeout.
set -euo pipefail

if [ "$#" -lt 1 ] || [ "$#" -gt 3 ]; then
	echo "usage: wait-port.sh PORT|HOST:PORT [TIMEOUT_SECONDS] [PID]" >&2
	exit 2
fi
target="$1"
timeout="${2:-60}"
pid="${3:-}"
case "$target" in
*:*) host="${target%:*}" port="${target##*:}" ;;
*) host=127.0.0.1 port="$target" ;;
esac
case "$port" in
'' | *[!0-9]*)
	echo "wait-port: port must be a number, got '$port'" >&2
	exit 2
	;;
esac

deadline=$((SECONDS + timeout))
until (exec 3<>"/dev/tcp/$host/$port") 2>/dev/null; do
	if [ -n "$pid" ] && ! kill -0 "$pid" 2>/dev/null; then
		echo "wait-port: process $pid exited before $host:$port accepted connections" >&2
		exit 1
	fi
	if [ "$SECONDS" -ge "$deadline" ]; then
		echo "wait-port: $host:$port did not accept connections within ${timeout}s" >&2
		exit 1
	fi
	sleep 0.05
done
