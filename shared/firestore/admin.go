package firestore

// Admin port on Firestore:
//
//	plans|titles|accounts|edges/{id}  listed by document id (ListRecords)
//	accounts/{id}.plan_id             the account's plan, beside its doc, for counting
//	accounts/{id}.grace               its GraceKey while its grace end is unannounced (grace.go)
//	audit/{audit id}                  audit record (gzipped JSON in "data"), created in the
//	                                  commit of the change it records
//	coverage_zones/{version}          coverage zone file (gzipped in "data", meta in "doc"),
//	                                  version zero-padded so that id order is version order
//
// Versions: a digest of the document an admin reads (see versionOf). Admin
// writes check it against a fresh read and commit through that read's guard
// (see replace), so of racing writers that read one version exactly one
// commits.
//
// Accounts on a plan are counted by a query on plan_id (count aggregation,
// or the matching document names where the server has no aggregation)
// when a plan is deleted. The count and the delete are not one atomic
// step: an account written onto the plan in that instant keeps naming the
// deleted plan, as an account naming an unknown plan always could. A
// per-plan counter would close that gap but make every plan change of any
// account a write of one shared document, which Firestore sustains at
// about one per second.

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math"
	"strconv"

	"cloud.google.com/go/firestore"
	"google.golang.org/api/iterator"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/playplane/playplane/shared/gzipdoc"
	"github.com/playplane/playplane/shared/playback"
)

const (
	colAudit         = "audit"
	colCoverageZones = "coverage_zones"
	fieldPlanID      = "plan_id" // account: its plan, for counting
	fieldData        = "data"    // audit, coverage zones: gzipped payload
	// fieldKey repeats a listed document's id (a coverage zone file's
	// version): lists order and page on it, since the emulator neither
	// orders nor filters by document id.
	fieldKey = "key"
)

// docFields are the fields of a document holding v as doc: managed
// records carry their id as key for ListRecords, accounts their plan
// beside it, so that the accounts on a plan can be counted, and while
// their grace end is yet to be announced its GraceKey (ListGracePending).
func docFields(doc string, v any) map[string]any {
	fields := map[string]any{fieldDoc: doc}
	switch v := v.(type) {
	case playback.Account:
		fields[fieldKey], fields[fieldPlanID], fields[fieldGrace] = v.ID, v.PlanID, graceField(v.GraceKey())
	case playback.Edge:
		fields[fieldKey] = v.ID
	case playback.Plan:
		fields[fieldKey] = v.ID
	case playback.Title:
		fields[fieldKey] = v.ID
	}
	return fields
}

func deletePreconditions(w write) []firestore.Precondition {
	if w.since.IsZero() {
		return nil
	}
	return []firestore.Precondition{firestore.LastUpdateTime(w.since)}
}

func collectionOf(kind playback.Kind) (string, error) {
	switch kind {
	case playback.KindPlan:
		return colPlans, nil
	case playback.KindTitle:
		return colTitles, nil
	case playback.KindAccount:
		return colAccounts, nil
	case playback.KindEdge:
		return colEdges, nil
	}
	return "", playback.Errorf(playback.CodeInvalid, "kind_invalid", "kind %q", kind)
}

// versionOf is the version of a live document: a digest of the document
// an admin reads, not its revision, so that writes that leave the document
// as it was (an admission rewrites its account through the account's guard)
// do not make an operator's If-Match stale. Writes stay safe: a change is
// checked against the version of what it read and commits through that
// read's guard.
func versionOf(st stored) string {
	raw, _ := st.data[fieldDoc].(string)
	return docVersion(raw)
}

func docVersion(doc string) string {
	sum := sha256.Sum256([]byte(doc))
	return "h" + hex.EncodeToString(sum[:12])
}

func recordOf(kind playback.Kind, id string, st stored) (playback.Record, error) {
	raw, ok := st.data[fieldDoc].(string)
	if !ok {
		return playback.Record{}, fmt.Errorf("decode %s %q: no %s field", kind, id, fieldDoc)
	}
	return playback.Record{Kind: kind, ID: id, Version: versionOf(st), Doc: json.RawMessage(raw)}, nil
}

func (s *Store) GetRecord(ctx context.Context, kind playback.Kind, id string) (playback.Record, error) {
	if err := s.open(ctx); err != nil {
		return playback.Record{}, err
	}
	const op = "GetRecord"
	col, err := collectionOf(kind)
	if err != nil {
		return playback.Record{}, err
	}
	if !validID(id) {
		return playback.Record{}, playback.NotFound(string(kind), id)
	}
	st, err := s.read(ctx, s.col(col).Doc(id))
	if err != nil {
		return playback.Record{}, fail(op, err)
	}
	if !st.live {
		return playback.Record{}, playback.NotFound(string(kind), id)
	}
	r, err := recordOf(kind, id, st)
	return r, fail(op, err)
}

// getPage reads a page of q, ordered by field in dir: up to limit
// documents, and one more, which says whether another page follows
// (more) and is left out of docs.
func getPage(ctx context.Context, q firestore.Query, field string, dir firestore.Direction, limit int) (docs []*firestore.DocumentSnapshot, more bool, err error) {
	limit = min(limit, math.MaxInt32-1) // the client caps a limit at int32; limit+1 must fit
	docs, err = q.OrderBy(field, dir).Limit(limit + 1).Documents(ctx).GetAll()
	if err != nil {
		return nil, false, err
	}
	return docs[:min(len(docs), limit)], len(docs) > limit, nil
}

func (s *Store) ListRecords(ctx context.Context, kind playback.Kind, after string, limit int) (playback.RecordPage, error) {
	if err := s.open(ctx); err != nil {
		return playback.RecordPage{}, err
	}
	const op = "ListRecords"
	col, err := collectionOf(kind)
	if err != nil || limit <= 0 {
		return playback.RecordPage{}, err
	}
	q := s.col(col).Query
	if after != "" {
		q = q.Where(fieldKey, ">", after)
	}
	docs, more, err := getPage(ctx, q, fieldKey, firestore.Asc, limit)
	if err != nil {
		return playback.RecordPage{}, fail(op, err)
	}
	var page playback.RecordPage
	for _, snap := range docs {
		st := s.fromSnapshot(snap)
		if !st.live {
			continue
		}
		r, err := recordOf(kind, snap.Ref.ID, st)
		if err != nil {
			return playback.RecordPage{}, fail(op, err)
		}
		page.Records = append(page.Records, r)
	}
	if more {
		page.Next, _ = docs[len(docs)-1].Data()[fieldKey].(string)
	}
	return page, nil
}

// ChangeSetLimits: a commit holds 500 writes (a change is a guard and the
// write) and the audit document at most 1 MiB, gzipped.
func (s *Store) ChangeSetLimits() (changes, bytes int) { return 200, 512 << 10 }

var _ playback.ChangeSetLimiter = (*Store)(nil)

// accountsOnPlan counts the accounts whose plan_id is planID.
func (s *Store) accountsOnPlan(ctx context.Context, planID string) (int, error) {
	q := s.col(colAccounts).Where(fieldPlanID, "==", planID)
	res, err := q.NewAggregationQuery().WithCount("n").Get(ctx)
	if err == nil {
		if v, ok := res["n"].(interface{ GetIntegerValue() int64 }); ok {
			return int(v.GetIntegerValue()), nil
		}
		return 0, fmt.Errorf("count of accounts: unexpected %T", res["n"])
	}
	if c := status.Code(err); c != codes.Unimplemented && c != codes.InvalidArgument {
		return 0, err
	}
	// A server without aggregation queries: count the names.
	it := q.Select().Documents(ctx)
	defer it.Stop()
	n := 0
	for {
		_, err := it.Next()
		if err == iterator.Done {
			return n, nil
		}
		if err != nil {
			return 0, err
		}
		n++
	}
}

func (s *Store) ApplyChanges(ctx context.Context, cs playback.ChangeSet) (playback.AuditRecord, error) {
	if err := s.open(ctx); err != nil {
		return playback.AuditRecord{}, err
	}
	const op = "ApplyChanges"
	cs, err := cs.Prepare(s.ChangeSetLimits())
	if err != nil {
		return playback.AuditRecord{}, err
	}
	refs := make([]*firestore.DocumentRef, len(cs.Changes))
	for i, c := range cs.Changes {
		col, _ := collectionOf(c.Kind)
		refs[i] = s.col(col).Doc(c.ID)
	}
	for attempt := 0; ; attempt++ {
		current, err := s.readChanged(ctx, cs, refs, false)
		if err != nil {
			return playback.AuditRecord{}, fail(op, err)
		}
		rec, writes, err := s.changeWrites(ctx, cs, current)
		if err != nil {
			return playback.AuditRecord{}, fail(op, err)
		}
		err = s.commit(ctx, writes)
		if err == nil {
			return rec, nil
		}
		if conflict(err) {
			// Say which precondition failed, if one did.
			now, rerr := s.readChanged(ctx, cs, refs, true)
			if rerr != nil {
				return playback.AuditRecord{}, fail(op, rerr)
			}
			for i, c := range cs.Changes {
				if c.IfAbsent || c.IfMatch != "" {
					if perr := c.CheckPrecondition(liveVersion(now[i])); perr != nil {
						return playback.AuditRecord{}, perr
					}
				}
			}
		}
		if err := retryLost(ctx, op, "change set", cs.Changes[0].ID, attempt, err); err != nil {
			return playback.AuditRecord{}, err
		}
	}
}

func liveVersion(st stored) string {
	if !st.live {
		return ""
	}
	return versionOf(st)
}

// readChanged reads the documents a change set changes. Unless all, a
// create that needs them absent reads nothing: its Create fails if one
// exists.
func (s *Store) readChanged(ctx context.Context, cs playback.ChangeSet, refs []*firestore.DocumentRef, all bool) ([]stored, error) {
	out := make([]stored, len(refs))
	var toRead []*firestore.DocumentRef
	var at []int
	for i, c := range cs.Changes {
		out[i] = stored{ref: refs[i]}
		if !c.IfAbsent || all {
			toRead, at = append(toRead, refs[i]), append(at, i)
		}
	}
	if len(toRead) == 0 {
		return out, nil
	}
	snaps, err := s.client.GetAll(ctx, toRead)
	if err != nil {
		return nil, err
	}
	for j, snap := range snaps {
		if snap.Exists() {
			out[at[j]] = s.fromSnapshot(snap)
		}
	}
	return out, nil
}

func (s *Store) changeWrites(ctx context.Context, cs playback.ChangeSet, current []stored) (playback.AuditRecord, []write, error) {
	rec := playback.AuditRecord{ID: playback.AuditID(cs.At), Actor: cs.Actor, At: cs.At,
		Changes: make([]playback.AuditChange, 0, len(cs.Changes))}
	var creates, others []write
	// Accounts this set moves on or off each plan, for the count of a
	// plan it deletes.
	moves := map[string]int{}
	for i, c := range cs.Changes {
		if c.Kind != playback.KindAccount {
			continue
		}
		if st := current[i]; st.live {
			if p, _ := st.data[fieldPlanID].(string); p != "" {
				moves[p]--
			}
		}
		if !c.Delete() {
			moves[playback.PlanOf(c.Doc)]++
		}
	}
	for i, c := range cs.Changes {
		st := current[i]
		ac := playback.AuditChange{Kind: c.Kind, ID: c.ID}
		version := ""
		if st.live {
			version = versionOf(st)
			raw, _ := st.data[fieldDoc].(string)
			ac.Before = json.RawMessage(raw)
		}
		if err := c.CheckPrecondition(version); err != nil {
			return rec, nil, err
		}
		if c.Delete() {
			if !st.live {
				return rec, nil, playback.NotFound(string(c.Kind), c.ID)
			}
			if c.Kind == playback.KindPlan {
				n, err := s.accountsOnPlan(ctx, c.ID)
				if err != nil {
					return rec, nil, err
				}
				if n += moves[c.ID]; n > 0 {
					return rec, nil, playback.ErrPlanInUse(c.ID, n)
				}
			}
			ac.Op = playback.OpDelete
			ws := s.replace(st, map[string]any{})
			ws[len(ws)-1] = write{ref: st.ref, del: true, since: st.updated}
			others = append(others, ws...)
			rec.Changes = append(rec.Changes, ac)
			continue
		}
		fields := map[string]any{fieldDoc: string(c.Doc), fieldKey: c.ID}
		if c.Kind == playback.KindAccount {
			fields[fieldPlanID], fields[fieldGrace] = playback.PlanOf(c.Doc), graceField(playback.GraceKeyOf(c.Doc))
		}
		ws := s.replace(st, fields)
		ac.Op, ac.After, ac.Version = playback.OpUpdate, c.Doc, docVersion(string(c.Doc))
		if !st.exists {
			ac.Op = playback.OpCreate
			creates = append(creates, ws...)
		} else {
			others = append(others, ws...)
		}
		rec.Changes = append(rec.Changes, ac)
	}
	data, err := gzipdoc.Marshal(rec)
	if err != nil {
		return rec, nil, err
	}
	creates = append(creates, write{ref: s.col(colAudit).Doc(rec.ID), create: true, fields: map[string]any{fieldData: data, fieldKey: rec.ID}})
	// Creates go before updates and deletes (guards go first of all, see
	// commit): on the emulator, which applies a failed commit's writes up
	// to the failing one, a create that loses leaves no change behind.
	return rec, append(creates, others...), nil
}

func gunzipField(data map[string]any) ([]byte, error) {
	b, ok := data[fieldData].([]byte)
	if !ok {
		return nil, fmt.Errorf("no %s field", fieldData)
	}
	return gzipdoc.Decompress(b)
}

func (s *Store) ListAudit(ctx context.Context, before string, limit int) (playback.AuditPage, error) {
	if err := s.open(ctx); err != nil {
		return playback.AuditPage{}, err
	}
	const op = "ListAudit"
	if limit <= 0 {
		return playback.AuditPage{}, nil
	}
	q := s.col(colAudit).Query
	if before != "" {
		q = q.Where(fieldKey, "<", before)
	}
	docs, more, err := getPage(ctx, q, fieldKey, firestore.Desc, limit)
	if err != nil {
		return playback.AuditPage{}, fail(op, err)
	}
	var page playback.AuditPage
	for _, snap := range docs {
		raw, err := gunzipField(snap.Data())
		var r playback.AuditRecord
		if err == nil {
			err = json.Unmarshal(raw, &r)
		}
		if err != nil {
			return playback.AuditPage{}, fail(op, fmt.Errorf("audit %q: %w", snap.Ref.ID, err))
		}
		page.Records = append(page.Records, r)
	}
	if more {
		page.Next = docs[len(docs)-1].Ref.ID
	}
	return page, nil
}

func czfID(v int64) string { return fmt.Sprintf("%020d", v) }

func (s *Store) PutCoverageZones(ctx context.Context, up playback.CoverageZonesUpload) (playback.CoverageZones, error) {
	if err := s.open(ctx); err != nil {
		return playback.CoverageZones{}, err
	}
	const op = "PutCoverageZones"
	if err := up.Validate(); err != nil {
		return playback.CoverageZones{}, err
	}
	data, err := gzipdoc.Compress(up.Data)
	if err != nil {
		return playback.CoverageZones{}, fail(op, err)
	}
	sum := sha256.Sum256(up.Data)
	for attempt := 0; ; attempt++ {
		latest, err := s.latestCoverageZones(ctx)
		if err != nil && !playback.IsCode(err, playback.CodeNotFound) {
			return playback.CoverageZones{}, fail(op, err)
		}
		if up.IfVersion != 0 && up.IfVersion != latest.Version {
			return playback.CoverageZones{}, playback.ErrPrecondition(playback.KindCoverageZones, "latest", strconv.FormatInt(latest.Version, 10))
		}
		cz := playback.CoverageZones{Version: latest.Version + 1, SHA256: hex.EncodeToString(sum[:]), Size: len(up.Data),
			UploadedAt: up.At, UploadedBy: up.Actor}
		meta, err := encode(cz)
		if err != nil {
			return playback.CoverageZones{}, fail(op, err)
		}
		rec := playback.AuditRecord{ID: playback.AuditID(up.At), Actor: up.Actor, At: up.At,
			Changes: []playback.AuditChange{playback.CoverageZonesAudit(cz)}}
		audit, err := gzipdoc.Marshal(rec)
		if err != nil {
			return playback.CoverageZones{}, fail(op, err)
		}
		// The version's Create goes first: losing it writes nothing.
		err = s.commit(ctx, []write{
			{ref: s.col(colCoverageZones).Doc(czfID(cz.Version)), create: true, fields: map[string]any{fieldDoc: meta, fieldData: data, fieldKey: cz.Version}},
			{ref: s.col(colAudit).Doc(rec.ID), create: true, fields: map[string]any{fieldData: audit, fieldKey: rec.ID}},
		})
		if err == nil {
			cz.Data = up.Data
			return cz, nil
		}
		// AlreadyExists: another upload created the version this one was
		// conditioned on. ABORTED contention proves no such thing: retry.
		if status.Code(err) == codes.AlreadyExists && up.IfVersion != 0 {
			return playback.CoverageZones{}, playback.ErrPrecondition(playback.KindCoverageZones, "latest", strconv.FormatInt(cz.Version, 10))
		}
		if err := retryLost(ctx, op, "coverage zones", czfID(cz.Version), attempt, err); err != nil {
			return playback.CoverageZones{}, err
		}
	}
}

func decodeCoverageZones(st stored) (playback.CoverageZones, error) {
	cz, err := decode[playback.CoverageZones](st, "coverage_zones", st.ref.ID)
	if err != nil {
		return cz, err
	}
	cz.Data, err = gunzipField(st.data)
	return cz, err
}

func (s *Store) latestCoverageZones(ctx context.Context) (playback.CoverageZones, error) {
	docs, err := s.col(colCoverageZones).OrderBy(fieldKey, firestore.Desc).Limit(1).Documents(ctx).GetAll()
	if err != nil {
		return playback.CoverageZones{}, err
	}
	if len(docs) == 0 {
		return playback.CoverageZones{}, playback.NotFound("coverage_zones", "latest")
	}
	return decodeCoverageZones(s.fromSnapshot(docs[0]))
}

func (s *Store) GetCoverageZones(ctx context.Context, v int64) (playback.CoverageZones, error) {
	if err := s.open(ctx); err != nil {
		return playback.CoverageZones{}, err
	}
	const op = "GetCoverageZones"
	if v == 0 {
		cz, err := s.latestCoverageZones(ctx)
		return cz, fail(op, err)
	}
	st, err := s.read(ctx, s.col(colCoverageZones).Doc(czfID(v)))
	if err != nil {
		return playback.CoverageZones{}, fail(op, err)
	}
	if !st.exists {
		return playback.CoverageZones{}, playback.NotFound("coverage_zones", strconv.FormatInt(v, 10))
	}
	cz, err := decodeCoverageZones(st)
	return cz, fail(op, err)
}
