package bolt

import (
	"bytes"
	"context"
	"slices"
	"time"

	bbolt "go.etcd.io/bbolt"

	"github.com/playplane/playplane/shared/playback"
)

// bucketGrace lists the accounts whose grace end is yet to be announced:
// playback.Account.GraceKey -> nil (ListGracePending). Every write of an
// account moves its entry in the same transaction (putRaw, deleteAccount).
var bucketGrace = []byte("grace_pending")

// indexGrace rebuilds bucketGrace from the accounts at every Open: a
// release before it (a rollback, then an upgrade again) writes accounts
// without moving their entries, and trusting a bucket that exists would
// list a deleted or paid account for good and never one that went
// past_due meanwhile. A decode of the accounts per start: about 170 ms a
// 100,000 accounts. It runs in Open's transaction, so a crash leaves the
// file as it was.
func indexGrace(tx *bbolt.Tx) error {
	if tx.Bucket(bucketGrace) != nil {
		if err := tx.DeleteBucket(bucketGrace); err != nil {
			return err
		}
	}
	b, err := tx.CreateBucket(bucketGrace)
	if err != nil {
		return err
	}
	return tx.Bucket(bucketAccounts).ForEach(func(_, v []byte) error {
		if k := playback.GraceKeyOf(v); k != "" {
			return b.Put([]byte(k), nil)
		}
		return nil
	})
}

// regrace moves an account's entry in bucketGrace from what old held to
// what raw holds (nil: none, the account is absent or deleted).
func regrace(tx *bbolt.Tx, old, raw []byte) error {
	was, is := playback.GraceKeyOf(old), playback.GraceKeyOf(raw)
	if was == is {
		return nil
	}
	b := tx.Bucket(bucketGrace)
	if was != "" {
		if err := b.Delete([]byte(was)); err != nil {
			return err
		}
	}
	if is == "" {
		return nil
	}
	return b.Put([]byte(is), nil)
}

// putRaw writes raw at k of bucket, and an account's grace entry with it.
func putRaw(tx *bbolt.Tx, bucket, k, raw []byte) error {
	b := tx.Bucket(bucket)
	if bytes.Equal(bucket, bucketAccounts) {
		if err := regrace(tx, b.Get(k), raw); err != nil {
			return err
		}
	}
	return b.Put(k, raw)
}

// deleteRecord deletes k of bucket, and an account's grace entry with it.
func deleteRecord(tx *bbolt.Tx, bucket, k []byte) error {
	b := tx.Bucket(bucket)
	if bytes.Equal(bucket, bucketAccounts) {
		if err := regrace(tx, b.Get(k), nil); err != nil {
			return err
		}
	}
	return b.Delete(k)
}

func (s *Store) ListGracePending(ctx context.Context, until time.Time, after string, limit int) (p playback.RecordPage, err error) {
	if limit <= 0 {
		return p, nil
	}
	bound := []byte(playback.GraceKeyBefore(until))
	err = s.view(ctx, "ListGracePending", func(tx *bbolt.Tx) error {
		p = playback.RecordPage{}
		accounts := tx.Bucket(bucketAccounts)
		c := tx.Bucket(bucketGrace).Cursor()
		k, _ := c.Seek([]byte(after))
		if k != nil && string(k) == after {
			k, _ = c.Next()
		}
		last := ""
		for ; k != nil && bytes.Compare(k, bound) < 0; k, _ = c.Next() {
			if len(p.Records) == limit {
				p.Next = last
				break
			}
			last = string(k)
			id := playback.GraceKeyID(string(k))
			v := accounts.Get([]byte(id))
			if playback.GraceKeyOf(v) != string(k) {
				// An entry its document no longer backs (none should
				// outlive Open's rebuild) is not listed as pending.
				continue
			}
			p.Records = append(p.Records, playback.Record{Kind: playback.KindAccount, ID: id, Version: versionOf(v), Doc: slices.Clone(v)})
		}
		return nil
	})
	return p, err
}
