// Command scalemodel prints playplane's load model: per-session calls,
// cost per 1,000 viewer-hours on AWS and GCP at 10k, 100k and 1M
// concurrent viewers, the limits in the order they are reached, and the
// knobs with their price — the tables of docs/scale.md
// (TestDocMatchesTheModel keeps them in step).
//
//	go run ./cmd/scalemodel > /tmp/scale.md
package main

import (
	"fmt"
	"os"
)

func main() {
	if err := report(os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "scalemodel:", err)
		os.Exit(1)
	}
}
