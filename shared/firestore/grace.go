package firestore

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"maps"
	"time"

	"cloud.google.com/go/firestore"
	"google.golang.org/api/iterator"

	"github.com/playplane/playplane/shared/playback"
)

// fieldGrace is an account's playback.Account.GraceKey while its grace
// end is yet to be announced, graceNone otherwise, written with the
// document (docFields) in the same write. Its automatic single-field
// index serves ListGracePending.
const fieldGrace = "grace"

// graceNone is fieldGrace of an account not pending: a string above
// every GraceKey (which starts with a digit), so no listing reaches it.
// Not a deleted field: an update keeps the fields it does not name, and
// the emulator ignores a deletion by the update's mask; not null: the
// emulator orders null as equal to every value, which scrambles its
// sort of the others.
const graceNone = "~"

// graceField is the value of fieldGrace for GraceKey key.
func graceField(key string) string { return cmp.Or(key, graceNone) }

func (s *Store) ListGracePending(ctx context.Context, until time.Time, after string, limit int) (playback.RecordPage, error) {
	if err := s.open(ctx); err != nil {
		return playback.RecordPage{}, err
	}
	const op = "ListGracePending"
	if limit <= 0 {
		return playback.RecordPage{}, nil
	}
	q := s.col(colAccounts).Where(fieldGrace, "<", playback.GraceKeyBefore(until))
	if after != "" {
		q = q.Where(fieldGrace, ">", after)
	}
	docs, more, err := getPage(ctx, q, fieldGrace, firestore.Asc, limit)
	if err != nil {
		return playback.RecordPage{}, fail(op, err)
	}
	var page playback.RecordPage
	for _, snap := range docs {
		st := s.fromSnapshot(snap)
		// A release before the field updates an account by field names
		// and leaves the field as it was: an account paid since carries
		// its old key, which only its document can belie (MigrateGrace
		// mends it).
		if doc, _ := st.data[fieldDoc].(string); !st.live || playback.GraceKeyOf(json.RawMessage(doc)) != st.data[fieldGrace] {
			continue
		}
		r, err := recordOf(playback.KindAccount, snap.Ref.ID, st)
		if err != nil {
			return playback.RecordPage{}, fail(op, err)
		}
		page.Records = append(page.Records, r)
	}
	if more {
		page.Next, _ = docs[len(docs)-1].Data()[fieldGrace].(string)
	}
	return page, nil
}

// MigrateGrace gives the accounts a release before fieldGrace wrote,
// past_due with their grace end unannounced, that field, and sets it to
// graceNone on the accounts that release wrote out of the listing (its
// updates leave the field as it was), which would otherwise head the
// listing for good (`playplane migrate`). It touches no document, and
// writes an account through the guard of the read it checked, so a write
// racing it (which sets the field itself) wins and the account is left
// to it. It can run while the functions serve, is idempotent, and
// returns how many accounts it indexed or unlisted. Until it has run such
// an account is not announced by the grace job.
func (s *Store) MigrateGrace(ctx context.Context) (int, error) {
	const op = "MigrateGrace"
	moved := 0
	// mend gives the account at ref, whose document the walk read with
	// version, the field its document calls for.
	mend := func(ref *firestore.DocumentRef, version string) error {
		st, err := s.read(ctx, ref)
		if err != nil {
			return err
		}
		doc, _ := st.data[fieldDoc].(string)
		want := graceField(playback.GraceKeyOf(json.RawMessage(doc)))
		if !st.live || st.data[fieldGrace] == want || versionOf(st) != version {
			return nil // right, or written since the walk read it, which sets the field
		}
		fields := maps.Clone(st.data)
		fields[fieldGrace] = want
		switch err := s.commit(ctx, s.replace(st, fields)); {
		case err == nil:
			moved++
		case !conflict(err):
			return err
		}
		return nil
	}
	for after := ""; ; {
		page, err := s.ListRecords(ctx, playback.KindAccount, after, 500)
		if err != nil {
			return moved, fail(op, err)
		}
		for _, r := range page.Records {
			if playback.GraceKeyOf(r.Doc) == "" {
				continue // stale keys are found by the listing below
			}
			if err := mend(s.col(colAccounts).Doc(r.ID), r.Version); err != nil {
				return moved, fail(op, err)
			}
		}
		if page.Next == "" {
			break
		}
		after = page.Next
	}
	// Every account whose field holds a key, pending or not: the ones
	// not pending are what an older release left.
	docs := s.col(colAccounts).Where(fieldGrace, "<", graceNone).Documents(ctx)
	defer docs.Stop()
	for {
		snap, err := docs.Next()
		if errors.Is(err, iterator.Done) {
			return moved, nil
		}
		if err != nil {
			return moved, fail(op, err)
		}
		st := s.fromSnapshot(snap)
		doc, _ := st.data[fieldDoc].(string)
		if !st.live || playback.GraceKeyOf(json.RawMessage(doc)) != "" {
			continue
		}
		if err := mend(snap.Ref, versionOf(st)); err != nil {
			return moved, fail(op, err)
		}
	}
}
