#!/usr/bin/env bash
# start.sh SERVICE PORT
#
# Runs one local stand-in (dynamodb|sqs|firestore|stripe) on PORT until it is
# killed. The script ends by exec'ing the server, so a caller that runs
#   infra/local/start.sh dynamodb 8000 & pid=$!
# holds the server's own PID and can stop exactly that process. Installs the
# service first if the cache lacks it (install output goes to stderr).
#
# Clients connect to 127.0.0.1:PORT. stripe-mock and the Firestore emulator
# bind 127.0.0.1 only; DynamoDB Local and fauxqs have no bind-address option
# and listen on every interface.
set -euo pipefail

# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

[ "$#" -eq 2 ] || die "usage: start.sh SERVICE PORT (SERVICE: $SERVICES; pubsub runs in-process, see shared/emulators)"
service="$1"
port="$2"
case "$port" in
'' | *[!0-9]*) die "port must be a number, got '$port'" ;;
esac
if [ "$port" -lt 1 ] || [ "$port" -gt 65535 ]; then
	die "port must be 1-65535, got $port"
fi

case "$service" in
pubsub) die "pubsub has no server here: it is the official in-process fake (cloud.google.com/go/pubsub/v2/pstest); use gcpemu.Start(ctx, \"pubsub\") from shared/emulators/gcpemu" ;;
dynamodb | sqs | firestore | stripe) ;;
*) die "unknown service '$service' (want one of: $SERVICES)" ;;
esac

dir="$(service_dir "$service")"
if [ ! -d "$dir" ]; then
	"$LOCAL_DIR/install.sh" "$service" >/dev/null
fi
cd "$dir"
case "$service" in
dynamodb) command -v java >/dev/null 2>&1 || die "java not found: DynamoDB Local needs a Java 17 runtime on PATH (run install.sh dynamodb as root to get it from apt, or apt-get install openjdk-17-jre-headless)" ;;
sqs | firestore) command -v node >/dev/null 2>&1 || die "node not found: $service needs Node.js 20 on PATH" ;;
esac

case "$service" in
dynamodb)
	# -sharedDb: every credential/region sees the same tables, so a CLI and
	# the functions can share one server. -disableTelemetry: no network calls.
	# C1-only JIT and the serial GC: ready in about half the time on a busy
	# 2-core machine, and no slower over the first thousands of requests.
	# No bytecode verification of the jar's classes (the pinned jar, not
	# code from elsewhere): 0.2-0.6 CPU-s less to start and ~2% less over
	# the tests' requests, measured beside an unchanged server. Other JIT,
	# GC, CDS and processor-count flags saved nothing
	# (docs/make-test-time.md, "Branch emucpu").
	# shellcheck disable=SC2086 # PLAYPLANE_DYNAMODB_JAVA_OPTS is a word list
	exec java ${PLAYPLANE_DYNAMODB_JAVA_OPTS:--XX:+UseSerialGC -XX:TieredStopAtLevel=1 -XX:+UnlockDiagnosticVMOptions -XX:-BytecodeVerificationRemote} \
		-Djava.library.path=./DynamoDBLocal_lib -jar DynamoDBLocal.jar \
		-inMemory -sharedDb -disableTelemetry -port "$port"
	;;
sqs)
	FAUXQS_PORT="$port" FAUXQS_LOGGER="${FAUXQS_LOGGER:-false}" exec node node_modules/fauxqs/dist/cli.js
	;;
firestore)
	# shellcheck disable=SC2086 # PLAYPLANE_FIRESTORE_NODE_OPTS is a word list
	exec node ${PLAYPLANE_FIRESTORE_NODE_OPTS:-} "$LOCAL_DIR/firestore-emulator.js" "$port"
	;;
stripe)
	# stripe-mock also serves HTTPS, by default on *:12112: a second
	# stripe-mock on the machine (another test binary's, make unit's shared
	# one) then exits on a bind error. Nothing here speaks HTTPS to it; it
	# gets a loopback port the kernel picks.
	exec ./stripe-mock -http-addr "127.0.0.1:$port" -https-addr "127.0.0.1:"
	;;
esac
