//go:build !race

package sim

const defaultViewers = 6
