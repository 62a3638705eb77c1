#!/usr/bin/env bash
# install.sh [dynamodb|sqs|firestore|stripe|all]...
#
# Installs the local stand-ins for the managed services (see
# infra/local/README.md) into ${PLAYPLANE_CACHE:-$HOME/.cache/playplane}.
# Idempotent and safe to run from several processes at once: each service is
# installed under its own flock, built in a temporary directory and renamed
# into place, so a reader sees either nothing or a complete install.
# Prints "SERVICE<TAB>DIR" for every service on stdout; progress goes to stderr.
set -euo pipefail

# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

LOCK_TIMEOUT="${PLAYPLANE_INSTALL_LOCK_TIMEOUT:-900}"

java_major() {
	# "openjdk version "17.0.15" 2025-04-15" -> 17; "1.8.0_392" -> 8
	local version
	version="$(java -version 2>&1 | sed -n 's/.*version "\([^"]*\)".*/\1/p' | head -n1)"
	case "$version" in
	1.*) echo "$version" | cut -d. -f2 ;;
	*) echo "$version" | cut -d. -f1 ;;
	esac
}

require_java() {
	if ! command -v java >/dev/null 2>&1; then
		if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 && [ "${PLAYPLANE_NO_APT:-}" != 1 ]; then
			log "java not found: DynamoDB Local needs Java; installing openjdk-17-jre-headless with apt-get (set PLAYPLANE_NO_APT=1 to forbid)"
			# Slim Debian images lack this dir and the JRE's postinst fails without it.
			mkdir -p /usr/share/man/man1
			{ apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends openjdk-17-jre-headless; } >&2 ||
				die "java not found and 'apt-get install openjdk-17-jre-headless' failed: install a Java 17 runtime yourself"
		else
			die "java not found: DynamoDB Local needs a Java 17 runtime on PATH (Debian/Ubuntu: sudo apt-get install openjdk-17-jre-headless; macOS: brew install openjdk@17)"
		fi
	fi
	local major
	major="$(java_major)"
	case "$major" in
	'' | *[!0-9]*) die "cannot tell the Java version from 'java -version': $(java -version 2>&1 | head -n1)" ;;
	esac
	[ "$major" -ge 11 ] || die "DynamoDB Local needs Java 11 or newer (17 tried); found Java $major at $(command -v java)"
}

require_node() {
	command -v node >/dev/null 2>&1 || die "node not found: $1 needs Node.js 20 or newer on PATH (https://nodejs.org or NodeSource's packages; Debian 12's own nodejs is 18, too old)"
	command -v npm >/dev/null 2>&1 || die "npm not found: $1 is installed from the npm registry and needs npm on PATH"
	local major
	major="$(node -p 'process.versions.node.split(".")[0]')"
	[ "$major" -ge 20 ] || die "$1 needs Node.js 20 or newer; found $(node --version) at $(command -v node)"
}

require_go() {
	command -v go >/dev/null 2>&1 || die "go not found: stripe-mock is installed with 'go install github.com/stripe/stripe-mock@$STRIPE_MOCK_VERSION' and needs the Go toolchain on PATH"
}

# with_lock NAME CMD... runs CMD while holding the cache's lock NAME.
with_lock() {
	local name="$1"
	shift
	local lockdir
	lockdir="$(cache_root)/.locks"
	mkdir -p "$lockdir"
	if command -v flock >/dev/null 2>&1; then
		(
			flock -w "$LOCK_TIMEOUT" 9 || die "waited ${LOCK_TIMEOUT}s for $lockdir/$name.lock: another install of $name is stuck (remove the lock holder, not the file)"
			"$@"
		) 9>"$lockdir/$name.lock"
		return
	fi
	# No flock (macOS): a mkdir lock, broken when its holder is gone.
	local dir="$lockdir/$name.lockdir" waited=0
	until mkdir "$dir" 2>/dev/null; do
		local holder
		holder="$(cat "$dir/pid" 2>/dev/null || true)"
		if [ -n "$holder" ] && ! kill -0 "$holder" 2>/dev/null; then
			rm -rf "$dir"
			continue
		fi
		[ "$waited" -lt "$((LOCK_TIMEOUT * 10))" ] || die "waited ${LOCK_TIMEOUT}s for $dir held by pid ${holder:-?}"
		sleep 0.1
		waited=$((waited + 1))
	done
	echo $$ >"$dir/pid"
	# On failure set -e ends the script; the trap still frees the lock.
	# shellcheck disable=SC2064 # expand $dir now: it is local
	trap "rm -rf $(printf '%q' "$dir")" EXIT
	"$@"
	rm -rf "$dir"
	trap - EXIT
}

# new_staging_dir FINAL prints a fresh temporary directory next to FINAL (same
# filesystem, so the final rename is atomic) after removing leftovers of
# interrupted installs. Only called under the service's lock.
new_staging_dir() {
	local parent
	parent="$(dirname "$1")"
	mkdir -p "$parent"
	rm -rf "$parent"/.staging.*
	local staging
	staging="$(mktemp -d "$parent/.staging.XXXXXX")"
	chmod 755 "$staging"
	echo "$staging"
}

# publish STAGED FINAL renames a completed install into place.
publish() {
	mv -T "$1" "$2" 2>/dev/null || mv "$1" "$2"
}

install_dynamodb() {
	local final="$1" staging
	staging="$(new_staging_dir "$final")"
	local package="amplify-dynamodb-simulator@$DYNAMODB_SIMULATOR_VERSION"
	log "fetching $package (DynamoDB Local jar, ~56 MB) from the npm registry"
	(cd "$staging" && npm pack --silent --loglevel=error "$package" >/dev/null) ||
		die "npm pack $package failed (is the npm registry reachable? npm config get registry = $(npm config get registry 2>/dev/null))"
	tar -xzf "$staging/amplify-dynamodb-simulator-$DYNAMODB_SIMULATOR_VERSION.tgz" -C "$staging" ||
		die "cannot unpack $package"
	if [ ! -f "$staging/package/emulator/DynamoDBLocal.jar" ] || [ ! -d "$staging/package/emulator/DynamoDBLocal_lib" ]; then
		die "$package no longer ships emulator/DynamoDBLocal.jar and emulator/DynamoDBLocal_lib"
	fi
	publish "$staging/package/emulator" "$final"
	rm -rf "$staging"
}

install_npm_service() {
	local service="$1" final="$2" entry="$3" staging
	staging="$(new_staging_dir "$final")"
	cp "$LOCAL_DIR/npm/$service/package.json" "$LOCAL_DIR/npm/$service/package-lock.json" "$staging/"
	log "installing $service server from infra/local/npm/$service/package-lock.json with npm ci"
	(cd "$staging" && npm ci --ignore-scripts --omit=dev --no-audit --no-fund --loglevel=error >&2) ||
		die "npm ci for $service failed (is the npm registry reachable? npm config get registry = $(npm config get registry 2>/dev/null))"
	[ -f "$staging/$entry" ] || die "$service install has no $entry"
	publish "$staging" "$final"
}

install_stripe() {
	local final="$1" staging
	staging="$(new_staging_dir "$final")"
	log "building stripe-mock $STRIPE_MOCK_VERSION with go install"
	(cd "$staging" && GOWORK=off GOBIN="$staging" go install "github.com/stripe/stripe-mock@$STRIPE_MOCK_VERSION" >&2) ||
		die "go install github.com/stripe/stripe-mock@$STRIPE_MOCK_VERSION failed (is the Go module proxy reachable? GOPROXY=$(go env GOPROXY))"
	[ -x "$staging/stripe-mock" ] || die "go install left no stripe-mock binary in $staging"
	publish "$staging" "$final"
}

# install_locked SERVICE FINAL runs under SERVICE's lock: a racing install may
# have finished while this one waited.
install_locked() {
	local service="$1" final="$2"
	if [ -d "$final" ]; then
		return
	fi
	local started=$SECONDS
	case "$service" in
	dynamodb) install_dynamodb "$final" ;;
	sqs) install_npm_service sqs "$final" node_modules/fauxqs/dist/cli.js ;;
	firestore) install_npm_service firestore "$final" node_modules/@firestore-emulator/server/dist/index.js ;;
	stripe) install_stripe "$final" ;;
	esac
	log "installed $service into $final in $((SECONDS - started))s"
}

install_service() {
	local service="$1" final
	final="$(service_dir "$service")"
	if [ ! -d "$final" ]; then
		case "$service" in
		dynamodb) require_java && require_node "$service" ;; # npm fetches the jar
		sqs | firestore) require_node "$service" ;;
		stripe) require_go ;;
		esac
		with_lock "$service" install_locked "$service" "$final"
	fi
	printf '%s\t%s\n' "$service" "$final"
}

main() {
	local services=("$@")
	if [ "${#services[@]}" -eq 0 ]; then
		services=(all)
	fi
	local requested service
	for requested in "${services[@]}"; do
		if [ "$requested" = all ]; then
			for service in $SERVICES; do
				install_service "$service"
			done
		else
			install_service "$requested"
		fi
	done
}

main "$@"
