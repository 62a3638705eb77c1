//go:build !race

package source

const raceBuild = false
