#!/usr/bin/env bash
# Vets and tests the two nested Go modules that hold the Pulumi code:
# infra/ (Function components, stack builder, mock monitor; the catalogue it
# builds from is functions/catalog in the main module, required with replace) and
# pulumi/ (the program and its Pulumi.<stack>.yaml files).
#
# They are separate modules so the main module's `go test -race ./...` never
# compiles the Pulumi SDK and providers. The first run here compiles the
# Pulumi SDK (minutes on 2 cores; infra/gcpres and infra/awsres declare
# every pulumi-gcp and pulumi-aws resource, so no provider package is
# compiled); later runs reuse the default build cache and take seconds.
set -euo pipefail

infra="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
modules=("$infra" "$infra/../pulumi")

# The test binaries are built with -race, as `make test`'s unit stage builds
# the main module's tests: the standard library, gRPC, protobuf,
# OpenTelemetry, the AWS SDK and the main module's own packages, which both
# sides link at the same versions, then compile once for both on a cold
# cache. (-race, -trimpath and CGO_ENABLED are part of every package's cache
# key, so a build with other flags would compile all of them again.) The
# race detector needs cgo, as the unit stage does. NORACE=1 builds without.
# -ldflags='-s -w': no DWARF and no symbol table in the test binaries, as in
# the unit stage.
# -timeout 30m: make test runs this beside the unit stage, where
# a test binary may get a sliver of the CPU for minutes.
flags=(-race "-ldflags=-s -w" -timeout 30m)
if [[ "${NORACE:-0}" == 1 ]]; then
	flags=("-ldflags=-s -w" -timeout 30m)
fi
# BUILD_ONLY=1 (make infra-build) compiles, vets and links every test
# binary and runs none, filling the build cache for the run that follows.
if [[ "${BUILD_ONLY:-0}" == 1 ]]; then
	flags+=(-run '^$')
fi

unformatted="$(gofmt -l "${modules[@]}")"
if [[ -n "$unformatted" ]]; then
	echo "gofmt needed on:" >&2
	echo "$unformatted" >&2
	exit 1
fi

# -vet=all runs every analyzer go vet runs, within the test build: one
# command per module loads and type-checks the packages once.
# -toolexec=local/gotool.sh, as in the unit stage (Makefile): vet skips the
# facts of third-party packages none of ours imports (~260 of the Pulumi
# SDK's dependencies here, ~20 CPU-s of a cold run). The list is the unit
# stage's (the script lists all three modules' imports), so the vet results
# of the packages both build are shared.
if [[ -z "${PLAYPLANE_VET_FACTS:-}" ]]; then
	PLAYPLANE_VET_FACTS="$(sh "$infra/local/gotool.sh" imports)"
	export PLAYPLANE_VET_FACTS
fi
flags+=("-toolexec=$infra/local/gotool.sh")
for mod in "${modules[@]}"; do
	(
		cd "$mod"
		go test -vet=all ${flags[@]+"${flags[@]}"} ./...
	)
done
