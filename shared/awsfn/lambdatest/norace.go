//go:build !race

package lambdatest

const raceBuild = false
