#!/bin/sh
# The -toolexec wrapper of make test's go test commands (the unit stage and
# infra/test.sh). Every tool the go command runs through it (compile, asm,
# cgo, link, vet) runs unchanged, except vet run for facts only on a
# third-party package that none of our packages imports.
#
# go test -vet=all vets each package under test with every analyzer, and
# before that runs vet "for facts only" on every package they depend on,
# however far down: each is type-checked from source to record which of its
# functions are printf wrappers and which never return; nothing about it is
# reported. A package reads the facts of its direct imports only (theirs
# carry what they drew from their own dependencies), so a third-party
# package none of ours imports is vetted only to feed another third-party
# one. On a cold cache those were ~730 packages under the main module (AWS
# SDK, gRPC, Google, OpenTelemetry, ...; goformation's ~250 of them since
# removed) and ~260 more under infra/ and pulumi/ (the Pulumi SDK's
# dependencies); here each writes an empty facts file instead of running
# vet.
#
# Every analyzer still runs on every package of ours, with the facts of our
# packages, of the standard library and of every third-party package one of
# ours imports (status.Errorf stays a printf wrapper). What is lost: a fact
# such an imported package would have drawn from a third-party package we
# do not import (a printf wrapper calling another module's wrapper; a method
# of a type from a module we do not import). `make vet` runs plain go vet,
# every fact included.
#
# `gotool.sh imports` prints the third-party packages that our packages and
# their tests import directly, in the main module, infra/ and pulumi/ (one
# list for all three, so their vet results share cache keys), as one line;
# go test runs with -toolexec=/abs/path/gotool.sh and that line in
# PLAYPLANE_VET_FACTS. Without PLAYPLANE_VET_FACTS nothing is skipped.
#
# The version line printed for vet (-V=full, part of the go command's cache
# key of every vet result) is vet's own with "+ownfacts-" and a checksum of
# the list appended: vet results made here are never taken for a plain vet's
# from the same build cache, nor for those of another list (a package newly
# imported gets its facts). Compile, asm and link keys are unchanged, so the
# tests' own go builds (lambdatest.BuildHere, source.CompileRace, the crash
# test's runner), which do not vet, share every compiled package.
#
# It is POSIX sh and forks nothing on the way to a tool (1-3 ms a run): the
# go command runs it ~3,000 times on a cold cache. The package is
# TOOLEXEC_IMPORTPATH, set by the go command for -toolexec tools; vet's
# facts file is vet.out beside the vet.cfg it is given (cmd/go writes both
# into the action's directory).
ours=github.com/playplane/playplane

if [ "${1-}" = imports ]; then
	root="$(cd "$(dirname "$0")/../.." && pwd)" || exit 1
	listed="$(mktemp)" || exit 1
	# Each module is listed as built plain and with the race tag (the unit
	# stage's go test -race): a file built only under one of them imports
	# for its package too.
	for mod in "$root" "$root/infra" "$root/pulumi"; do
		for tags in "" race; do
			if ! (cd "$mod" && "${GO:-go}" list ${tags:+-tags=$tags} -deps -test \
				-f '{{if .Module}}{{.Module.Path}}{{"\t"}}{{join .Imports "\t"}}{{end}}' ./...) >>"$listed"; then
				rm -f "$listed"
				exit 1
			fi
		done
	done
	awk -F '\t' -v ours="$ours" '$1 == ours || index($1, ours "/") == 1 {
		for (i = 2; i <= NF; i++) {
			p = $i
			sub(/ \[.*/, "", p)
			split(p, el, "/")
			if (el[1] ~ /\./ && p != ours && index(p, ours "/") != 1) print p
		}
	}' "$listed" | sort -u | tr '\n' ' '
	rm -f "$listed"
	echo
	exit
fi

case "${1##*/}" in
vet) ;;
*) exec "$@" ;;
esac
[ -n "${PLAYPLANE_VET_FACTS-}" ] || exec "$@"

for last in "$@"; do :; done
case "$last" in
-V=full)
	sum="$(printf '%s' "$PLAYPLANE_VET_FACTS" | cksum)" || exit 1
	"$@" | sed "s/\$/+ownfacts-${sum%% *}/"
	exit
	;;
*/vet.cfg) ;;
*) exec "$@" ;;
esac

pkg="${TOOLEXEC_IMPORTPATH%% \[*}"
case "$pkg" in
"" | "$ours" | "$ours"/*) exec "$@" ;;
esac
case "${pkg%%/*}" in
*.*) ;;
*) exec "$@" ;; # the standard library
esac
case " $PLAYPLANE_VET_FACTS " in
*" $pkg "*) exec "$@" ;;
esac
: >"${last%vet.cfg}vet.out"
