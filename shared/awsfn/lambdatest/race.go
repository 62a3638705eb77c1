//go:build race

package lambdatest

// raceBuild: the binary importing this package (a test) was built with
// -race, as `make test` builds the tests.
const raceBuild = true
