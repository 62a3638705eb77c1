// Package registry is every catalogue function's Build by name
// (builders_gen.go, written by go run ./cmd/playplane-gen from
// functions/catalog), for the deploy units that build all of them: the
// Cloud Functions unit (functions/gcp) and the local runner
// (cmd/playplane). A Lambda main imports only its own function, not this.
package registry
