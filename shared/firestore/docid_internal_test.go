package firestore

import (
	"strings"
	"testing"

	"github.com/playplane/playplane/shared/playback"
)

// TestDomainIDsAreDocumentIDs: every id a domain rule lets through reaches
// Firestore as a document id, so each must be one Cloud Firestore accepts
// (validID: its "Usage and limits" rules). The emulator stores __x__,
// which Cloud Firestore refuses with INVALID_ARGUMENT (a 500 after the
// domain had said 2xx), so this is checked here, without one.
func TestDomainIDsAreDocumentIDs(t *testing.T) {
	t.Parallel()
	ids := []string{"premium", ".", "..", "...", "a/b", "__x__", "____", "___", "__", "_", "__x", "x__", "__.__", "__/__",
		"cus_" + strings.Repeat("a", 252), "\t", "é", "a b", "\xff"}
	for _, rule := range []struct {
		name  string
		valid func(string) bool
	}{
		{"playback.ValidID", playback.ValidID},
		{"playback.ValidRecordID", playback.ValidRecordID},
		{"playback.ValidCustomerID", playback.ValidCustomerID},
	} {
		t.Run(rule.name, func(t *testing.T) {
			t.Parallel()
			for _, id := range ids {
				if rule.valid(id) && !validID(id) {
					t.Errorf("%s(%q) is true, but Firestore refuses it as a document id", rule.name, id)
				}
			}
		})
	}
}
