# playplane — `make run` serves every function locally; `make test` checks everything.
GO        ?= go
DATA_DIR  ?= .playplane
ADDR      ?= 127.0.0.1:8080
PKGS      := ./...
# DIST receives what `make package` builds: the Lambda zips and the Cloud
# Functions sources the Pulumi program deploys (playplane:distDir).
DIST      ?= dist

include Makefile.aws
include Makefile.gcp

.PHONY: run token import export test check-fmt vet emulators unit infra-test infra-build cfn-lint bench clean package-openapi

# make run GCP=1 serves the functions through the Functions Framework on the
# Firestore emulator and the Pub/Sub fake instead (see docs/gcp.md).
run:
	DATA_DIR=$(DATA_DIR) ADDR=$(ADDR) $(GO) run $(RUNNER)

# make token ACCOUNT=acct_solo — a dev JWT for a seeded account (after one `make run`);
# make token ADMIN=1 ACCOUNT=ops-alice — an admin JWT for operator ops-alice
# (claim ADMIN_CLAIM, default playplane_admin: true).
token:
	@DATA_DIR=$(DATA_DIR) $(GO) run $(RUNNER) token $(if $(ADMIN),--admin) $(ACCOUNT)

# make import FILE=catalogue.json [DRY_RUN=1] [STORE=dynamodb|firestore] — load a
# catalogue file (shared/catalogfile/catalogue.schema.json); make export > file.json.
import:
	@DATA_DIR=$(DATA_DIR) $(GO) run $(RUNNER) import $(if $(DRY_RUN),--dry-run) $(FILE)

export:
	@DATA_DIR=$(DATA_DIR) $(GO) run $(RUNNER) export

# Each stage is timed; the last line is a one-line summary (infra/local/stages.sh).
# There is no vet stage: unit runs every vet analyzer (-vet=all) on the build
# it compiles anyway. unit+infra-test+cfn-lint runs infra-test (minutes of
# compiling on a cold cache) and cfn-lint beside unit, at the same priority
# (infra/local/stages.sh says why), so after unit at most a short wait for
# them remains.
#
# The third-party packages whose vet facts stay (infra/local/gotool.sh
# imports, a go list over three modules) are listed once here for both the
# unit stage and infra-test, which would otherwise each list them.
test:
	@PLAYPLANE_VET_FACTS="$$(GO=$(GO) sh infra/local/gotool.sh imports)" && export PLAYPLANE_VET_FACTS && \
	MAKE="$(MAKE)" bash infra/local/stages.sh check-fmt emulators unit+infra-test+cfn-lint

# The API's OpenAPI 3.1 document, the bytes the local runners serve at
# GET /openapi.json: the clouds publish it as this file rather than a route
# (docs/openapi.md).
package: package-openapi
package-openapi:
	@mkdir -p $(DIST)
	$(GO) run ./cmd/playplane openapi > $(DIST)/openapi.json

# The cloud stand-ins adapter tests run against (DynamoDB Local, fauxqs,
# Firestore emulator, stripe-mock), installed once into ~/.cache/playplane,
# ffmpeg for the player test, and Debian's Chromium with a pinned
# playwright-core for the browser test (apt-get when root; both required when
# CI=true).
emulators:
	bash infra/local/install.sh all
	bash infra/local/install-ffmpeg.sh
	bash infra/local/install-browser.sh

check-fmt:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

vet:
	$(GO) vet $(PKGS)

# -vet=all runs every analyzer `make vet` runs (go test's default is a
# subset), on the -race build of the tests. A separate go vet compiles the
# whole dependency tree a second time without -race: on a cold cache that
# is as much compiling as the tests' own.
#
# -p is how many compiles and test binaries go test runs at once (default:
# the number of CPUs). A running test binary holds its slot until it exits,
# and the longest, cmd/playplane's (browsers, ~4 min), mostly waits: with
# two slots on a 2-core machine every other test and every compile left
# queued behind it in the one slot left. UNIT_P slots let them use the CPU
# it leaves idle.
#
# -ldflags='-s -w' links the test binaries without DWARF and without the
# ELF symbol table: panics and race reports are symbolized from the
# runtime's own tables (pclntab), and writing DWARF is about a third of
# each link (~110 CPU-s for the ~60 race test binaries on a cold cache);
# the symbol table another ~4% (0.1-0.16 CPU-s a link).
#
# infra/local/with-emulators.sh runs one DynamoDB Local, fauxqs, Firestore
# emulator and stripe-mock for every test binary (PLAYPLANE_EMULATOR_*),
# where each package using one started its own: a JVM start and warm-up
# per package (shared/emulators' own tests still start theirs).
#
# -toolexec=infra/local/gotool.sh: vet no longer type-checks, for facts
# nobody reads, the third-party packages none of ours imports (~990 of
# them with infra/ and pulumi/'s: ~65-85 CPU-s of a cold run, measured at
# load 9-27); every analyzer still runs on every package of ours (the
# script says what it skips and why). PLAYPLANE_VET_FACTS (from `make test`,
# else listed here, as infra/test.sh does) lists the
# third-party packages whose facts stay.
#
# UNIT_FIRST: go test starts the packages in the order they are named (a
# package named twice runs once), compiling what the first one needs
# first; these two take longest to run (cmd/playplane's browser tests, ~3
# min; paymentwebhook's, ~2 min on the emulators), so they run while the
# rest compiles rather than after it (in a cold run at load 13-29,
# paymentwebhook's started 716 s in, after cmd/playplane's had ended).
# shared/telemetry and shared/catalogfile come next: their tests are ~20
# CPU-s each, and named in ./...'s order they started last, so a cold run
# ended on one test binary alone on the machine for ~20 s.
UNIT_P ?= 4
UNIT_FIRST ?= ./cmd/playplane ./functions/paymentwebhook ./shared/telemetry ./shared/catalogfile
unit:
	PLAYPLANE_VET_FACTS="$${PLAYPLANE_VET_FACTS:-$$(GO=$(GO) sh infra/local/gotool.sh imports)}" && export PLAYPLANE_VET_FACTS && \
	bash infra/local/with-emulators.sh $(GO) test -race -vet=all -count=1 -p $(UNIT_P) '-ldflags=-s -w' \
		-toolexec='$(CURDIR)/infra/local/gotool.sh' -timeout 20m $(if $(filter ./...,$(PKGS)),$(UNIT_FIRST)) $(PKGS)

# The Pulumi components and stacks live in nested modules (infra/, pulumi/)
# so the provider SDKs stay out of the race build; their unit tests run on
# pulumi.WithMocks. The first compile takes minutes, later runs are cached.
infra-test:
	bash infra/test.sh

# What infra-test compiles, vets and links, without running a test.
infra-build:
	BUILD_ONLY=1 bash infra/test.sh

# template.yaml through the SAM transform and the CloudFormation specs;
# installs cfn-lint (venv under ~/.cache/playplane) when it is missing.
cfn-lint:
	bash infra/local/cfn-lint.sh

# Benchmarks with their floors in the same run; ratios are what matter.
bench:
	$(GO) test -run '^$$' -bench . -benchmem -count=1 $(PKGS)

clean:
	rm -rf $(DATA_DIR) $(DIST)
