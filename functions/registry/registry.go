// Package registry is every catalogue function's Build by name
// (builders_gen.go, written by go run ./cmd/playplane-gen from
// functions/catalog), for the runners that serve all of them: the local
// Functions Framework runner (functions/gcp, cmd/playplane-gcp) and the
// local runner (cmd/playplane). What deploys imports only its own
// function: a Lambda main, or a Cloud Functions unit's generated root file
// (functions/gcp/source, functions/gcp/unit).
package registry
