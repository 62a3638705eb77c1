//go:build race

package sim

// The race detector slows the replay about sevenfold: a smaller day keeps
// `make test` (which runs -race) near a minute.
const defaultViewers = 2
