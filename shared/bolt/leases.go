package bolt

import (
	"bytes"
	"context"
	"time"

	"go.etcd.io/bbolt"

	"github.com/playplane/playplane/shared/playback"
)

var _ playback.LeaseCounter = (*Store)(nil)

// CountActiveLeases counts the sessions holding a lease at now. It walks
// the account-session index, which holds every session not ended (and,
// until an admission of its account prunes them, lapsed ones, which the
// lease check leaves out): one read transaction, no writes, so a scrape
// never queues behind or blocks a commit.
func (s *Store) CountActiveLeases(ctx context.Context, now time.Time) (n int, err error) {
	err = s.view(ctx, "CountActiveLeases", func(tx *bbolt.Tx) error {
		c := tx.Bucket(bucketAccountSessions).Cursor()
		for k, _ := c.First(); k != nil; k, _ = c.Next() {
			if err := ctx.Err(); err != nil {
				return err
			}
			// accountID \x00 sessionID; account ids hold no NUL.
			i := bytes.IndexByte(k, 0)
			if i < 0 {
				continue
			}
			id := k[i+1:]
			sess, err := get[playback.Session](tx, bucketSessions, id, "session", string(id))
			switch {
			case playback.IsCode(err, playback.CodeNotFound):
			case err != nil:
				return err
			case sess.Active(now):
				n++
			}
		}
		return nil
	})
	return n, err
}
