package firestore

import (
	"cmp"
	"context"
	"maps"
	"math"
	"time"

	"cloud.google.com/go/firestore"

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
	// As ListRecords: one document more says whether another page follows.
	limit = min(limit, math.MaxInt32-1)
	docs, err := q.OrderBy(fieldGrace, firestore.Asc).Limit(limit + 1).Documents(ctx).GetAll()
	if err != nil {
		return playback.RecordPage{}, fail(op, err)
	}
	more := len(docs) > limit
	docs = docs[:min(len(docs), limit)]
	var page playback.RecordPage
	for _, snap := range docs {
		st := s.fromSnapshot(snap)
		if !st.live {
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
// past_due with their grace end unannounced, that field (`playplane
// migrate`). It touches no document, and writes an account through the
// guard of the read it checked, so a write racing it (which sets the
// field itself) wins and the account is left to it. It can run while the
// functions serve, is idempotent, and returns how many accounts it
// indexed. Until it has run such an account is not announced by the
// grace job.
func (s *Store) MigrateGrace(ctx context.Context) (int, error) {
	const op = "MigrateGrace"
	moved := 0
	for after := ""; ; {
		page, err := s.ListRecords(ctx, playback.KindAccount, after, 500)
		if err != nil {
			return moved, fail(op, err)
		}
		for _, r := range page.Records {
			key := playback.GraceKeyOf(r.Doc)
			if key == "" {
				continue
			}
			st, err := s.read(ctx, s.col(colAccounts).Doc(r.ID))
			if err != nil {
				return moved, fail(op, err)
			}
			if !st.live || st.data[fieldGrace] == key || versionOf(st) != r.Version {
				continue // indexed, or written since the listing, which sets the field
			}
			fields := maps.Clone(st.data)
			fields[fieldGrace] = key
			switch err := s.commit(ctx, s.replace(st, fields)); {
			case err == nil:
				moved++
			case !conflict(err):
				return moved, fail(op, err)
			}
		}
		if page.Next == "" {
			return moved, nil
		}
		after = page.Next
	}
}
