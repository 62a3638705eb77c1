#!/usr/bin/env bash
# Vets and tests the two nested Go modules that hold the Pulumi code:
# infra/ (Function components, stack builder, mock monitor; the catalogue it
# builds from is functions/catalog in the main module, required with replace) and
# pulumi/ (the program and its Pulumi.<stack>.yaml files).
#
# They are separate modules so the main module's `go test -race ./...` never
# compiles the AWS and GCP provider SDKs. The first run here compiles them
# (several minutes on 2 cores); later runs reuse the default build cache and
# take seconds. RACE=1 adds -race (a second, separately cached build).
set -euo pipefail

infra="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
modules=("$infra" "$infra/../pulumi")

# Without RACE=1 the test binaries are built the way the deploy builds in
# the main module's tests are (shared/awsfn/lambdatest, functions/gcp/source):
# CGO_ENABLED=0 and -trimpath. The standard library, gRPC, protobuf,
# OpenTelemetry and the other modules both sides link then compile once for
# both on a cold cache, not once per build configuration (-trimpath is part
# of every package's cache key; CGO_ENABLED changes package net and so
# everything that imports it). -trimpath stays on the
# command line rather than in GOFLAGS so that go commands the tests start do
# not inherit it.
flags=()
if [[ "${RACE:-0}" == 1 ]]; then
	flags+=(-race)
else
	export CGO_ENABLED=0
	flags+=(-trimpath)
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
for mod in "${modules[@]}"; do
	(
		cd "$mod"
		go test -vet=all ${flags[@]+"${flags[@]}"} ./...
	)
done
