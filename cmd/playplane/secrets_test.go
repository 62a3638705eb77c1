//go:build linux

package main

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/playplane/playplane/shared/auth"
)

// secretsCutEnv names the secrets file the test binary, started by
// TestSecretsWriteCutShortKeepsTheFile, loads under a file size limit.
const secretsCutEnv = "PLAYPLANE_TEST_SECRETS_CUT"

// TestSecretsWriteCutShortKeepsTheFile: a rewrite of dev-secrets.json that
// stops part-way leaves the file as it was. The write is cut by
// RLIMIT_FSIZE in a process of its own (writes past 64 bytes fail with
// EFBIG), as a full disk or a kill -9 would cut it. Written in place, the
// file was truncated first: the JWT key behind every issued dev token was
// gone and the next start failed on half a file.
func TestSecretsWriteCutShortKeepsTheFile(t *testing.T) {
	if path := os.Getenv(secretsCutEnv); path != "" {
		if err := syscall.Setrlimit(syscall.RLIMIT_FSIZE, &syscall.Rlimit{Cur: 64, Max: 64}); err != nil {
			t.Fatal(err)
		}
		_, err := loadSecrets(path)
		fmt.Printf("loadSecrets: %v\n", err)
		return
	}
	t.Parallel()
	path := filepath.Join(t.TempDir(), "dev-secrets.json")
	// A file of an older version, without the edge keys: loading fills
	// them in and writes the file again.
	old := devSecrets{JWTKey: base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{7}, 32)),
		PlaybackKeys: auth.NewDevKeyring().Spec(), StripeWebhook: "whsec_configured-in-stripe-cli"}
	before, err := json.MarshalIndent(old, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, before, 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestSecretsWriteCutShortKeepsTheFile$")
	cmd.Env = append(os.Environ(), secretsCutEnv+"="+path)
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "loadSecrets: writing") {
		t.Fatalf("the child's write was not cut short (%v):\n%s", err, out)
	}
	after, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(after, before) {
		t.Fatalf("after a write cut short the file holds %d bytes:\n%s\nwant the %d it held", len(after), after, len(before))
	}
	s, err := loadSecrets(path)
	if err != nil || s.JWTKey != old.JWTKey || s.StripeWebhook != old.StripeWebhook || s.EdgeKeys == "" {
		t.Fatalf("next start: %+v, %v", s, err)
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
			path := filepath.Join(t.TempDir(), "dev-secrets.json")
			if err := os.WriteFile(path, tc.content, 0o600); err != nil {
				t.Fatal(err)
			}
			_, err := loadSecrets(path)
			if err == nil || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), "delete it") {
				t.Fatalf("loadSecrets = %v, want an error naming %s and saying to delete it", err, path)
			}
			if after, _ := os.ReadFile(path); !bytes.Equal(after, tc.content) {
				t.Fatalf("the damaged file was replaced by:\n%s", after)
			}
		})
	}
}
