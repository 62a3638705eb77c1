#!/usr/bin/env bash
# install-ffmpeg.sh — makes sure ffmpeg is on PATH for the player test
# (shared/localedge TestFFmpegPlays: ffmpeg must fetch every playlist and
# segment through the local edge from signed URLs and decode every frame).
#
# Idempotent: does nothing when ffmpeg is installed. Otherwise, as root with
# apt-get (Debian/Ubuntu) it installs Debian's ffmpeg package; set
# PLAYPLANE_NO_APT=1 to forbid that. When ffmpeg cannot be installed it says
# how to install it and fails if CI=true (where the test must run), else it
# only warns: the test then skips outside CI.
set -euo pipefail

# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

if command -v ffmpeg >/dev/null 2>&1; then
	printf 'ffmpeg\t%s\n' "$(command -v ffmpeg)"
	exit 0
fi

if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 && [ "${PLAYPLANE_NO_APT:-}" != 1 ]; then
	log "ffmpeg not found: installing Debian's ffmpeg package with apt-get (set PLAYPLANE_NO_APT=1 to forbid)"
	# Wait for another apt run (another checkout's make test) rather than fail.
	{ apt-get -o DPkg::Lock::Timeout=900 update -qq &&
		DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=900 install -y -qq --no-install-recommends ffmpeg; } >&2 ||
		die "'apt-get install ffmpeg' failed: install ffmpeg yourself"
	command -v ffmpeg >/dev/null 2>&1 || die "apt-get installed ffmpeg but it is not on PATH"
	printf 'ffmpeg\t%s\n' "$(command -v ffmpeg)"
	exit 0
fi

msg="ffmpeg not found and not installable here (needs root and apt-get): install it (Debian/Ubuntu: sudo apt-get install ffmpeg; macOS: brew install ffmpeg)"
if [ "${CI:-}" = true ]; then
	die "$msg; CI=true, where TestFFmpegPlays must run"
fi
log "$msg; TestFFmpegPlays will skip"
