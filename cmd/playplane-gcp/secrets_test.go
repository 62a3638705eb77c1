//go:build linux

package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// secretsCutEnv names the data directory the test binary, started by
// TestSecretsWriteCutShortLeavesNoHalfFile, makes its secrets in under a
// file size limit.
const secretsCutEnv = "PLAYPLANE_GCP_TEST_SECRETS_CUT"

// TestSecretsWriteCutShortLeavesNoHalfFile: a first write of
// gcp-dev-secrets.json that stops part-way leaves no file behind, so the
// next start makes the secrets again. The write is cut by RLIMIT_FSIZE in
// a process of its own (writes past 64 bytes fail with EFBIG), as a full
// disk or a kill -9 would cut it. Written in place, half a file stayed and
// every later start failed on it.
func TestSecretsWriteCutShortLeavesNoHalfFile(t *testing.T) {
	if dir := os.Getenv(secretsCutEnv); dir != "" {
		if err := syscall.Setrlimit(syscall.RLIMIT_FSIZE, &syscall.Rlimit{Cur: 64, Max: 64}); err != nil {
			t.Fatal(err)
		}
		_, err := loadSecrets(dir)
		fmt.Printf("loadSecrets: %v\n", err)
		return
	}
	t.Parallel()
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^TestSecretsWriteCutShortLeavesNoHalfFile$")
	cmd.Env = append(os.Environ(), secretsCutEnv+"="+dir)
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "loadSecrets: writing") {
		t.Fatalf("the child's write was not cut short (%v):\n%s", err, out)
	}
	if _, err := os.Stat(filepath.Join(dir, devSecretsFile)); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("after a write cut short: %v, want no secrets file", err)
	}
	if _, err := loadSecrets(dir); err != nil {
		t.Fatalf("next start: %v", err)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Fatalf("data directory holds %d files, want the secrets alone (no temporary file left)", len(entries))
	}
}

// TestDamagedSecretsFileStopsTheStart: a secrets file that does not parse
// is an error naming the file and the way out, and is left as it is. Made
// new in its place, the secrets would silently void every dev token issued
// and the webhook signing secret given to Stripe.
func TestDamagedSecretsFileStopsTheStart(t *testing.T) {
	t.Parallel()
	whole, err := json.MarshalIndent(devSecrets{JWTKey: "a2V5", PlaybackKeys: "k1:a2V5", StripeWebhook: "whsec_x", EdgeKeys: "e1:a2V5"}, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name    string
		content []byte
	}{
		{name: "empty", content: nil},
		{name: "half written", content: whole[:len(whole)/2]},
		{name: "zeroed", content: make([]byte, len(whole))},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			path := filepath.Join(dir, devSecretsFile)
			if err := os.WriteFile(path, tc.content, 0o600); err != nil {
				t.Fatal(err)
			}
			_, err := loadSecrets(dir)
			if err == nil || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), "delete it") {
				t.Fatalf("loadSecrets = %v, want an error naming %s and saying to delete it", err, path)
			}
			if after, _ := os.ReadFile(path); !bytes.Equal(after, tc.content) {
				t.Fatalf("the damaged file was replaced by:\n%s", after)
			}
		})
	}
}
