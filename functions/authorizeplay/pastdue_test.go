package authorizeplay_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/playplane/playplane/shared/demo"
	"github.com/playplane/playplane/shared/emulators"
	"github.com/playplane/playplane/shared/emulators/gcpemu"
	"github.com/playplane/playplane/shared/firestore"
	"github.com/playplane/playplane/shared/playback"
)

// openFirestore is a fresh collection prefix on the Firestore emulator
// (shared/emulators).
func openFirestore(t *testing.T) playback.Store {
	t.Helper()
	s, err := firestore.New(context.Background(), firestore.Config{ProjectID: "playplane-test",
		CollectionPrefix: playback.NewID("t") + "_"}, nil, gcpemu.FirestoreClientOptions(emulators.Firestore(t))...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// TestUndatedPastDueStartsItsGraceAtTheFirstPlay: an account stored
// past_due without past_due_since (an operator's past_due written by a
// release before the date existed) is neither locked out for good nor
// free to play for good: its first admitted play dates the grace, in the
// admission's own write (a refused one writes nothing), and the grace
// runs from that stored date, alike on every store.
func TestUndatedPastDueStartsItsGraceAtTheFirstPlay(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		open func(t *testing.T) playback.Store
	}{
		{name: "bolt", open: openBolt},
		{name: "dynamodb local", open: openDynamo},
		{name: "firestore emulator", open: openFirestore},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h, _ := newHookHarness(t, tc.open(t))
			ctx := context.Background()
			// As a record written before the date existed.
			if _, err := h.store.UpdateAccount(ctx, demo.AccountPastDue, func(a *playback.Account) error {
				a.PastDueSince = time.Time{}
				return nil
			}); err != nil {
				t.Fatal(err)
			}
			stored := func() time.Time {
				t.Helper()
				a, err := h.store.GetAccount(ctx, demo.AccountPastDue)
				if err != nil {
					t.Fatal(err)
				}
				return a.PastDueSince
			}
			if rec := h.play(demo.AccountPastDue, "us-exclusive", "d1"); rec.Code != http.StatusForbidden || !stored().IsZero() {
				t.Fatalf("refused play: %d %s, past_due_since %v; want 403 and no date stored", rec.Code, rec.Body, stored())
			}
			h.now = h.now.Add(time.Minute)
			start := h.now
			if rec := h.play(demo.AccountPastDue, "sintel", "d1"); rec.Code != http.StatusCreated {
				t.Fatalf("first play of an undated past_due account: %d %s; want 201, its grace starting now", rec.Code, rec.Body)
			}
			if got := stored(); !got.Equal(start) {
				t.Fatalf("past_due_since after the first play: %v, want %v stored", got, start)
			}
			// A later play does not restart the grace.
			h.now = start.Add(time.Hour)
			if rec := h.play(demo.AccountPastDue, "sintel", "d2"); rec.Code != http.StatusCreated {
				t.Fatalf("play inside the grace: %d %s", rec.Code, rec.Body)
			}
			if got := stored(); !got.Equal(start) {
				t.Fatalf("past_due_since after a later play: %v, want %v kept", got, start)
			}
			h.now = start.Add(72*time.Hour + time.Second)
			if rec := h.play(demo.AccountPastDue, "sintel", "d1"); rec.Code != http.StatusForbidden || errorOf(t, rec).Reason != "subscription_inactive" {
				t.Fatalf("play past the grace dated at the first play: %d %s; want 403 subscription_inactive", rec.Code, rec.Body)
			}
		})
	}
}
