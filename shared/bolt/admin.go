package bolt

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"

	bbolt "go.etcd.io/bbolt"

	"github.com/playplane/playplane/shared/playback"
)

// Admin port on bbolt.
//
// Versions are content digests: a record's version is a digest of its
// stored bytes, so every write path (seeding, payments, edge health)
// changes it without keeping a counter, and no record format changes.
// Stored documents are canonical JSON (playback.CanonicalDoc encodes as
// the Put methods do), so equal content is equal bytes; a record written
// back to content it had before gets that version back, which is what a
// strong HTTP ETag means.
//
// Accounts on a plan are counted by scanning the accounts inside the
// transaction that deletes the plan: bbolt serialises writers, so no
// account can move onto the plan between the count and the delete, and a
// local file holds few enough accounts for the scan.

// ChangeSetLimits: bbolt takes far more in one transaction than DynamoDB;
// the bound keeps each audit record (listed whole by ListAudit) at a few
// MB, and measured imports of 10,000 titles no slower than in one set.
func (s *Store) ChangeSetLimits() (changes, bytes int) { return 1000, 4 << 20 }

var _ playback.ChangeSetLimiter = (*Store)(nil)

func bucketOf(kind playback.Kind) ([]byte, error) {
	switch kind {
	case playback.KindPlan:
		return bucketPlans, nil
	case playback.KindTitle:
		return bucketTitles, nil
	case playback.KindAccount:
		return bucketAccounts, nil
	case playback.KindEdge:
		return bucketEdges, nil
	}
	return nil, playback.Errorf(playback.CodeInvalid, "kind_invalid", "kind %q", kind)
}

func versionOf(raw []byte) string {
	sum := sha256.Sum256(raw)
	return base64.RawURLEncoding.EncodeToString(sum[:12])
}

func (s *Store) GetRecord(ctx context.Context, kind playback.Kind, id string) (r playback.Record, err error) {
	b, err := bucketOf(kind)
	if err != nil {
		return r, err
	}
	err = s.view(ctx, "GetRecord", func(tx *bbolt.Tx) error {
		raw := tx.Bucket(b).Get([]byte(id))
		if raw == nil {
			return playback.NotFound(string(kind), id)
		}
		r = playback.Record{Kind: kind, ID: id, Version: versionOf(raw), Doc: slices.Clone(raw)}
		return nil
	})
	return r, err
}

func (s *Store) ListRecords(ctx context.Context, kind playback.Kind, after string, limit int) (p playback.RecordPage, err error) {
	b, err := bucketOf(kind)
	if err != nil || limit <= 0 {
		return p, err
	}
	err = s.view(ctx, "ListRecords", func(tx *bbolt.Tx) error {
		p = playback.RecordPage{}
		c := tx.Bucket(b).Cursor()
		k, v := c.Seek([]byte(after))
		if k != nil && string(k) == after {
			k, v = c.Next()
		}
		for ; k != nil; k, v = c.Next() {
			if len(p.Records) == limit {
				p.Next = p.Records[limit-1].ID
				break
			}
			p.Records = append(p.Records, playback.Record{Kind: kind, ID: string(k), Version: versionOf(v), Doc: slices.Clone(v)})
		}
		return nil
	})
	return p, err
}

func (s *Store) ApplyChanges(ctx context.Context, cs playback.ChangeSet) (rec playback.AuditRecord, err error) {
	cs, err = cs.Prepare(s.ChangeSetLimits())
	if err != nil {
		return rec, err
	}
	err = s.update(ctx, "ApplyChanges", func(tx *bbolt.Tx) error {
		rec = playback.AuditRecord{ID: playback.AuditID(cs.At), Actor: cs.Actor, At: cs.At,
			Changes: make([]playback.AuditChange, 0, len(cs.Changes))}
		for _, c := range cs.Changes {
			ac, err := applyChange(tx, c)
			if err != nil {
				return err
			}
			rec.Changes = append(rec.Changes, ac)
		}
		// The documents are the prepared set's: appended as they are.
		raw, err := rec.AppendJSON(make([]byte, 0, auditSize(rec)))
		if err != nil {
			return err
		}
		return putAudit(tx, rec.ID, raw)
	})
	return rec, err
}

// auditSize is about the length of rec's JSON: its documents and a little
// for each change's other fields.
func auditSize(rec playback.AuditRecord) int {
	n := 128
	for _, c := range rec.Changes {
		n += len(c.Before) + len(c.After) + len(c.ID) + 96
	}
	return n
}

// Audit records above auditInline bytes (an import's sets hold up to
// 1,000 documents) are each kept in a bucket of their own, named by the
// record's id inside the audit bucket, as its value auditValue. bbolt
// does not split a leaf of fewer than five keys, so big records side by
// side in the audit bucket were rewritten, up to three earlier ones with
// each new one; in buckets of their own, a commit writes its own record
// and a 16-byte bucket header beside the others.
const auditInline = 16 << 10

var auditValue = []byte("record")

func putAudit(tx *bbolt.Tx, id string, raw []byte) error {
	b := tx.Bucket(bucketAudit)
	if len(raw) <= auditInline {
		return b.Put([]byte(id), raw)
	}
	own, err := b.CreateBucket([]byte(id))
	if err != nil {
		return err
	}
	return own.Put(auditValue, raw)
}

// auditBytes is the stored record at a cursor's k, v in the audit bucket.
func auditBytes(b *bbolt.Bucket, k, v []byte) []byte {
	if v != nil {
		return v
	}
	if own := b.Bucket(k); own != nil {
		return own.Get(auditValue)
	}
	return nil
}

func applyChange(tx *bbolt.Tx, c playback.Change) (playback.AuditChange, error) {
	ac := playback.AuditChange{Kind: c.Kind, ID: c.ID}
	bn, err := bucketOf(c.Kind)
	if err != nil {
		return ac, err
	}
	b := tx.Bucket(bn)
	old := b.Get([]byte(c.ID))
	current := ""
	if old != nil {
		current = versionOf(old)
		ac.Before = slices.Clone(old)
	}
	if err := c.CheckPrecondition(current); err != nil {
		return ac, err
	}
	if c.Delete() {
		if old == nil {
			return ac, playback.NotFound(string(c.Kind), c.ID)
		}
		if c.Kind == playback.KindPlan {
			if n, err := accountsOnPlan(tx, c.ID); err != nil || n > 0 {
				return ac, cmpErr(err, playback.ErrPlanInUse(c.ID, n))
			}
		}
		ac.Op = playback.OpDelete
		return ac, deleteRecord(tx, bn, []byte(c.ID))
	}
	ac.Op, ac.After, ac.Version = playback.OpUpdate, c.Doc, versionOf(c.Doc)
	if old == nil {
		ac.Op = playback.OpCreate
	}
	return ac, putRaw(tx, bn, []byte(c.ID), c.Doc)
}

func cmpErr(err, otherwise error) error {
	if err != nil {
		return err
	}
	return otherwise
}

func accountsOnPlan(tx *bbolt.Tx, planID string) (int, error) {
	n := 0
	err := tx.Bucket(bucketAccounts).ForEach(func(k, v []byte) error {
		a, err := decode[playback.Account](v, "account", string(k))
		if a.PlanID == planID {
			n++
		}
		return err
	})
	return n, err
}

func (s *Store) ListAudit(ctx context.Context, before string, limit int) (p playback.AuditPage, err error) {
	if limit <= 0 {
		return p, nil
	}
	err = s.view(ctx, "ListAudit", func(tx *bbolt.Tx) error {
		p = playback.AuditPage{}
		b := tx.Bucket(bucketAudit)
		c := b.Cursor()
		var k, v []byte
		if before == "" {
			k, v = c.Last()
		} else if k, v = c.Seek([]byte(before)); k == nil {
			k, v = c.Last()
		}
		for ; k != nil; k, v = c.Prev() {
			if before != "" && bytes.Compare(k, []byte(before)) >= 0 {
				continue
			}
			if len(p.Records) == limit {
				p.Next = p.Records[limit-1].ID
				break
			}
			r, err := decode[playback.AuditRecord](auditBytes(b, k, v), "audit", string(k))
			if err != nil {
				return err
			}
			p.Records = append(p.Records, r)
		}
		return nil
	})
	return p, err
}

// storedCoverageZones is a version of the coverage zone file as stored.
type storedCoverageZones struct {
	playback.CoverageZones
	Data []byte `json:"data"`
}

func versionKey(v int64) []byte { return binary.BigEndian.AppendUint64(nil, uint64(v)) }

func (s *Store) PutCoverageZones(ctx context.Context, up playback.CoverageZonesUpload) (cz playback.CoverageZones, err error) {
	if err := up.Validate(); err != nil {
		return cz, err
	}
	err = s.update(ctx, "PutCoverageZones", func(tx *bbolt.Tx) error {
		b := tx.Bucket(bucketCoverageZones)
		var latest int64
		if k, _ := b.Cursor().Last(); k != nil {
			latest = int64(binary.BigEndian.Uint64(k))
		}
		if up.IfVersion != 0 && up.IfVersion != latest {
			return playback.ErrPrecondition(playback.KindCoverageZones, "latest", fmt.Sprint(latest))
		}
		sum := sha256.Sum256(up.Data)
		cz = playback.CoverageZones{Version: latest + 1, Data: up.Data, SHA256: hex.EncodeToString(sum[:]),
			Size: len(up.Data), UploadedAt: up.At, UploadedBy: up.Actor}
		if err := put(tx, bucketCoverageZones, versionKey(cz.Version), storedCoverageZones{cz, up.Data}); err != nil {
			return err
		}
		rec := playback.AuditRecord{ID: playback.AuditID(up.At), Actor: up.Actor, At: up.At,
			Changes: []playback.AuditChange{playback.CoverageZonesAudit(cz)}}
		return put(tx, bucketAudit, []byte(rec.ID), rec)
	})
	return cz, err
}

func (s *Store) GetCoverageZones(ctx context.Context, v int64) (cz playback.CoverageZones, err error) {
	err = s.view(ctx, "GetCoverageZones", func(tx *bbolt.Tx) error {
		c := tx.Bucket(bucketCoverageZones).Cursor()
		var raw []byte
		if v == 0 {
			_, raw = c.Last()
		} else {
			raw = tx.Bucket(bucketCoverageZones).Get(versionKey(v))
		}
		if raw == nil {
			return playback.NotFound("coverage_zones", fmt.Sprint(v))
		}
		var st storedCoverageZones
		if err := json.Unmarshal(raw, &st); err != nil {
			return fmt.Errorf("decode coverage zones: %w", err)
		}
		cz = st.CoverageZones
		cz.Data = st.Data
		return nil
	})
	return cz, err
}
