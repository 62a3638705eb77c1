//go:build race

package source

// raceBuild: this test binary was built with -race, as `make test` builds it.
const raceBuild = true
