# shellcheck shell=bash
# Shared by install.sh and start.sh so both agree on pins and on where each
# server lives in the cache. Sourced, never executed.

LOCAL_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

# Pins: the exact versions infra/local/README.md lists. Changing one installs
# into a new directory, so an old cache can never serve a new pin.
DYNAMODB_SIMULATOR_VERSION="2.9.30" # npm amplify-dynamodb-simulator, ships DynamoDB Local 1.25.1
STRIPE_MOCK_VERSION="v0.203.0"      # go install github.com/stripe/stripe-mock
# fauxqs@1.9.2 and @firestore-emulator/server@0.3.15 are pinned, with their
# whole dependency tree, by the lock files under npm/.

SERVICES="dynamodb sqs firestore stripe"

die() {
	echo "playplane-local: $*" >&2
	exit 1
}

log() {
	echo "playplane-local: $*" >&2
}

cache_root() {
	local root="${PLAYPLANE_CACHE:-${HOME:?HOME is unset; set PLAYPLANE_CACHE}/.cache/playplane}"
	mkdir -p "$root" || die "cannot create cache dir $root (set PLAYPLANE_CACHE to a writable dir)"
	(cd "$root" && pwd)
}

# The npm servers are keyed by a hash of their lock file: editing the lock
# file (a new pin) selects a fresh directory.
npm_lock_key() {
	local lock="$LOCAL_DIR/npm/$1/package-lock.json"
	[ -f "$lock" ] || die "missing $lock"
	sha256sum "$lock" | cut -c1-12
}

# service_dir SERVICE prints the directory a finished install of SERVICE
# occupies. The directory exists only once the install completed, because
# install.sh builds it elsewhere and renames it into place.
service_dir() {
	local root
	root="$(cache_root)"
	case "$1" in
	dynamodb) echo "$root/dynamodb/amplify-dynamodb-simulator-$DYNAMODB_SIMULATOR_VERSION" ;;
	sqs) echo "$root/sqs/fauxqs-$(npm_lock_key sqs)" ;;
	firestore) echo "$root/firestore/firestore-emulator-$(npm_lock_key firestore)" ;;
	stripe) echo "$root/stripe-mock/$STRIPE_MOCK_VERSION" ;;
	*) die "unknown service '$1' (want one of: $SERVICES)" ;;
	esac
}
