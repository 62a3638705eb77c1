package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestDeadLettersSaysWhenThereIsNoDataDirectory: an operator who asks a
// mistyped DATA_DIR for its dead letters must not read "none": the
// listing is refused, naming the directory. A directory the runner has
// used but whose bus never journalled anything lists none, under the
// header, and neither answer creates a file there.
func TestDeadLettersSaysWhenThereIsNoDataDirectory(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	for _, tc := range []struct {
		name, dataDir, wantErr string
		wantHeader             bool
	}{
		{name: "mistyped", dataDir: filepath.Join(dir, "typo"), wantErr: "no runner data directory at " + filepath.Join(dir, "typo")},
		{name: "never journalled", dataDir: dir, wantHeader: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out bytes.Buffer
			err := deadLettersCmd(context.Background(), Config{DataDir: tc.dataDir}, nil, &out)
			if tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)) {
				t.Errorf("deadletters in %s: %v, want %q", tc.dataDir, err, tc.wantErr)
			}
			if tc.wantErr == "" && err != nil {
				t.Errorf("deadletters in %s: %v", tc.dataDir, err)
			}
			if got := strings.HasPrefix(out.String(), "TOPIC"); got != tc.wantHeader {
				t.Errorf("deadletters in %s printed %q, want the header %v", tc.dataDir, out.String(), tc.wantHeader)
			}
		})
	}
	if entries, err := os.ReadDir(dir); err != nil || len(entries) != 0 {
		t.Errorf("deadletters wrote %v (%v) in %s, want nothing", entries, err, dir)
	}
}
