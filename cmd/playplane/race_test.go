//go:build race

package main

// raceBuild: this test binary was built with -race (as `make test` builds
// it); buildRunner builds the runner the same way.
const raceBuild = true
