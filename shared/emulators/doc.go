// Package emulators starts the local stand-ins for the managed services
// (infra/local/README.md) so tests and the local runner can talk to them with
// the official SDK clients over loopback.
//
// Servers are installed on first use by infra/local/install.sh into
// ${PLAYPLANE_CACHE:-$HOME/.cache/playplane} (once per process; the cache is
// shared by all processes) and started by infra/local/start.sh on a free
// 127.0.0.1 port. Every process started here is in its own process group,
// and stopping kills that group only.
//
// Endpoints, by service name:
//
//	"dynamodb"  http://127.0.0.1:PORT  DynamoDB Local 1.25.1 (in memory, shared DB: any credentials/region)
//	"sqs"       http://127.0.0.1:PORT  fauxqs 1.9.2 (JSON protocol)
//	"firestore" 127.0.0.1:PORT         @firestore-emulator/server 0.3.15 (FIRESTORE_EMULATOR_HOST form)
//	"stripe"    http://127.0.0.1:PORT  stripe-mock v0.203.0
//	"pubsub"    127.0.0.1:PORT         pstest, in this process (PUBSUB_EMULATOR_HOST form), from gcpemu.Start
//
// One server per service is shared by every caller in the process: tests
// isolate themselves by unique table, queue, collection and topic names. The
// Pub/Sub fake is the exception: it is in-process and cheap, so every caller
// gets its own. It and the Google client options live in package gcpemu, so
// test binaries that use no Google client do not link them.
//
// The test helpers (DynamoDB, SQS, Firestore, StripeMock) can also share a
// server across processes: when PLAYPLANE_EMULATOR_<SERVICE> holds an
// endpoint, they use that server instead of starting one. `make unit` runs
// go test under infra/local/with-emulators.sh, which starts one server per
// service for every test binary of the run: each binary starting its own
// cost a JVM start and warm-up per package using DynamoDB Local. Start
// itself always runs a server of this process's own.
//
// Environment:
//
//	PLAYPLANE_SKIP_EMULATORS=1         test helpers skip instead of starting a server (the default is to fail when one cannot start)
//	PLAYPLANE_CACHE                    install cache directory
//	PLAYPLANE_ROOT                     repository root, if the working directory is outside the repository
//	PLAYPLANE_EMULATOR_START_TIMEOUT   how long a server may take to answer (Go duration, default 2m)
//	PLAYPLANE_EMULATOR_LINGER          how long an unused server stays up for the next test (Go duration; default 3s on Linux, 0 elsewhere)
//	PLAYPLANE_EMULATOR_LOGS=1          copy server output to stderr
//	PLAYPLANE_EMULATOR_DYNAMODB        endpoint of a DynamoDB Local the test helpers use instead of starting one (http://127.0.0.1:PORT)
//	PLAYPLANE_EMULATOR_SQS             the same for fauxqs (http://127.0.0.1:PORT)
//	PLAYPLANE_EMULATOR_FIRESTORE       the same for the Firestore emulator (127.0.0.1:PORT)
//	PLAYPLANE_EMULATOR_STRIPE          the same for stripe-mock (http://127.0.0.1:PORT)
package emulators
