package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
)

// TestDriverAnswerIsItsScenarios: a line the driver prints besides a
// scenario's answer (a stray log, a second answer) is not taken for the
// next scenario's answer. The driver is a stand-in script speaking
// drive.cjs's protocol, so no browser is needed.
func TestDriverAnswerIsItsScenarios(t *testing.T) {
	t.Parallel()
	script := filepath.Join(t.TempDir(), "fake.cjs")
	// Answers each scenario with its kind; a "twice" scenario prints one
	// more line after its answer, as a stray console.log would.
	const fake = `'use strict';
const readline = require('readline');
(async () => {
  for await (const line of readline.createInterface({ input: process.stdin })) {
    const { seq, scenario } = JSON.parse(line);
    process.stdout.write(JSON.stringify({ seq, out: { kind: scenario.kind } }) + '\n');
    if (scenario.kind === 'twice') process.stdout.write('{"kind":"stray"}\n');
  }
  process.exit(0);
})();
`
	if err := os.WriteFile(script, []byte(fake), 0o600); err != nil {
		t.Fatal(err)
	}
	d := &driver{script: script, cdp: "unused"}
	t.Cleanup(func() {
		d.mu.Lock()
		defer d.mu.Unlock()
		d.stop()
	})
	for _, kind := range []string{"twice", "next", "twice", "last"} {
		var got struct {
			Kind string `json:"kind"`
		}
		raw := d.play(t, map[string]any{"kind": kind})
		if err := json.Unmarshal(raw, &got); err != nil {
			t.Fatalf("scenario %s: answer %q: %v", kind, raw, err)
		}
		if got.Kind != kind {
			t.Fatalf("scenario %s: answered %q", kind, raw)
		}
	}
}
