#!/usr/bin/env bash
# install-browser.sh — makes sure the browser test (cmd/playplane
# TestBrowserPlayback) has a headless Chromium and a pinned playwright-core
# to drive it.
#
# Chromium: Debian's chromium-headless-shell package (its binary,
# /usr/lib/chromium/chromium-headless-shell), installed with apt-get when run as root
# (PLAYPLANE_NO_APT=1 forbids it), or PLAYPLANE_CHROMIUM naming another
# Chromium binary; where the headless shell is neither there nor
# installable, Debian's full chromium (/usr/bin/chromium) if it is there.
# The headless shell is Chromium's headless build (what Playwright and
# Puppeteer launch for headless runs): the same Blink, V8, media pipeline
# and network stack as the chromium package of the same version, without
# the browser's own UI, which a page never sees. Playing the same browser
# tests, that UI (the browser process's windowing and the top-chrome WebUI
# renderers) was half the browsers' CPU: 208 CPU-s against 99.6
# (docs/make-test-time.md). playwright-core: npm ci of
# infra/local/npm/browser/package-lock.json into
# ${PLAYPLANE_CACHE:-$HOME/.cache/playplane}/browser/, with install scripts
# off: no browser is ever downloaded (npm's playwright browsers do not
# install on this kind of machine, and the test must run the distribution's
# Chromium anyway).
#
# Prints "chromium<TAB>PATH" and "playwright-core<TAB>DIR" on stdout when
# both are there. When they cannot be installed it says why and fails if
# CI=true (where the test must run), else it only warns and prints nothing:
# the test then skips with that reason.
set -euo pipefail

# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

LOCK_TIMEOUT="${PLAYPLANE_INSTALL_LOCK_TIMEOUT:-900}"

unavailable() {
	local msg="$1"
	if [ "${CI:-}" = true ]; then
		die "$msg; CI=true, where TestBrowserPlayback must run"
	fi
	log "$msg; TestBrowserPlayback will skip"
	exit 0
}

find_chromium() {
	if [ -n "${PLAYPLANE_CHROMIUM:-}" ]; then
		[ -x "$PLAYPLANE_CHROMIUM" ] || die "PLAYPLANE_CHROMIUM=$PLAYPLANE_CHROMIUM is not an executable"
		echo "$PLAYPLANE_CHROMIUM"
		return
	fi
	# Debian's binary first. /usr/bin/chromium-headless-shell is Debian's
	# script that runs it without exec, there for a system that has the
	# shell elsewhere: the browser tests stop the process group the
	# started PID leads, so a wrapper's browser stops with it.
	local c
	for c in /usr/lib/chromium/chromium-headless-shell /usr/bin/chromium-headless-shell; do
		if [ -x "$c" ]; then
			echo "$c"
			return
		fi
	done
}

# find_full_chromium: the browser with its UI, used only where the headless
# shell cannot be had.
find_full_chromium() {
	local c
	for c in /usr/bin/chromium /usr/bin/chromium-browser; do
		if [ -x "$c" ]; then
			echo "$c"
			return
		fi
	done
}

chromium="$(find_chromium)"
if [ -z "$chromium" ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 && [ "${PLAYPLANE_NO_APT:-}" != 1 ]; then
	log "chromium-headless-shell not found: installing Debian's chromium-headless-shell package with apt-get (set PLAYPLANE_NO_APT=1 to forbid)"
	# Wait for another apt run (another checkout's make test) rather than fail.
	if { apt-get -o DPkg::Lock::Timeout=900 update -qq &&
		DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=900 install -y -qq --no-install-recommends chromium-headless-shell; } >&2; then
		chromium="$(find_chromium)"
		[ -n "$chromium" ] || die "apt-get installed chromium-headless-shell but /usr/lib/chromium/chromium-headless-shell is missing"
	else
		log "'apt-get install chromium-headless-shell' failed"
	fi
fi
if [ -z "$chromium" ]; then
	chromium="$(find_full_chromium)"
	if [ -n "$chromium" ]; then
		log "chromium-headless-shell not found and not installed here: the browser tests run $chromium, which costs them about twice the CPU (Debian: apt-get install chromium-headless-shell)"
	else
		unavailable "neither chromium-headless-shell nor chromium found, and not installable here (needs root and apt-get): install one (Debian: sudo apt-get install chromium-headless-shell) or set PLAYPLANE_CHROMIUM"
	fi
fi

if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
	unavailable "node and npm not found: the browser test drives Chromium with playwright-core on Node.js 20 or newer"
fi
major="$(node -p 'process.versions.node.split(".")[0]')"
[ "$major" -ge 20 ] || unavailable "playwright-core needs Node.js 20 or newer; found $(node --version)"

final="$(cache_root)/browser/playwright-core-$(npm_lock_key browser)"

install_playwright() {
	[ -d "$final" ] && return
	local parent staging
	parent="$(dirname "$final")"
	mkdir -p "$parent"
	rm -rf "$parent"/.staging.*
	staging="$(mktemp -d "$parent/.staging.XXXXXX")"
	cp "$LOCAL_DIR/npm/browser/package.json" "$LOCAL_DIR/npm/browser/package-lock.json" "$staging/"
	log "installing playwright-core from infra/local/npm/browser/package-lock.json with npm ci (no browser download)"
	(cd "$staging" && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --ignore-scripts --omit=dev --no-audit --no-fund --loglevel=error >&2) ||
		die "npm ci for playwright-core failed (is the npm registry reachable? npm config get registry = $(npm config get registry 2>/dev/null))"
	[ -f "$staging/node_modules/playwright-core/package.json" ] || die "playwright-core install has no node_modules/playwright-core"
	mv -T "$staging" "$final" 2>/dev/null || mv "$staging" "$final"
}

if [ ! -d "$final" ]; then
	lockdir="$(cache_root)/.locks"
	mkdir -p "$lockdir"
	if command -v flock >/dev/null 2>&1; then
		(
			flock -w "$LOCK_TIMEOUT" 9 || die "waited ${LOCK_TIMEOUT}s for $lockdir/browser.lock"
			install_playwright
		) 9>"$lockdir/browser.lock"
	else
		install_playwright
	fi
fi

printf 'chromium\t%s\n' "$chromium"
printf 'playwright-core\t%s\n' "$final"
