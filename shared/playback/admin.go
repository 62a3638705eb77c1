package playback

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"sync/atomic"
	"time"
)

// Kind names a kind of record operators manage through AdminStore.
type Kind string

const (
	KindPlan    Kind = "plan"
	KindTitle   Kind = "title"
	KindAccount Kind = "account"
	KindEdge    Kind = "edge"
	// KindCoverageZones only appears in audit records: coverage zone files
	// are versioned (PutCoverageZones), not changed in place.
	KindCoverageZones Kind = "coverage_zones"
)

// Kinds are the kinds ApplyChanges and ListRecords take, in the order an
// import writes them (plans before the accounts that name them).
var Kinds = []Kind{KindPlan, KindTitle, KindEdge, KindAccount}

// Valid reports whether k is one of Kinds.
func (k Kind) Valid() bool {
	switch k {
	case KindPlan, KindTitle, KindEdge, KindAccount:
		return true
	}
	return false
}

// Record is a managed record as stored: the JSON of its domain value (Plan,
// Title, Edge, Account) and its version. Version is an opaque token that
// changes whenever the record does (whoever writes it: the admin port, the
// payment consumer, edge health reports); it is what an HTTP ETag carries.
type Record struct {
	Kind    Kind            `json:"kind"`
	ID      string          `json:"id"`
	Version string          `json:"version"`
	Doc     json.RawMessage `json:"doc"`
}

// RecordPage is one page of ListRecords. Next is the cursor of the next
// page, "" after the last one.
type RecordPage struct {
	Records []Record `json:"records"`
	Next    string   `json:"next,omitempty"`
}

// Change is one write of ApplyChanges: Doc (the JSON of the kind's domain
// value, whose "id" must be ID) replaces the record, or a nil Doc deletes
// it.
type Change struct {
	Kind Kind            `json:"kind"`
	ID   string          `json:"id"`
	Doc  json.RawMessage `json:"doc,omitempty"`
	// IfMatch, when set, is the version the record must have; IfAbsent
	// says the record must not exist. Otherwise the write is
	// unconditional (the store still records the true before-image).
	IfMatch  string `json:"if_match,omitempty"`
	IfAbsent bool   `json:"if_absent,omitempty"`
	// enc is what NewChange encoded: while Doc and Kind are still those,
	// Doc is canonical and checked, and Prepare takes it as it is.
	enc *encodedDoc
}

type encodedDoc struct {
	first *byte
	n     int
	kind  Kind
	id    string
}

// NewChange is the change writing v, the kind's domain value (Plan, Title,
// Edge or Account, checked as CanonicalDoc checks a document), with Doc
// its canonical encoding. Stores take that Doc without decoding and
// encoding it again, so bulk writers (catalogue import) encode each
// record once. Doc must not be modified in place; a Doc replaced by
// another slice is checked as any other.
func NewChange(kind Kind, v any) (Change, error) {
	var id string
	switch v := v.(type) {
	case Plan:
		id = v.ID
	case Title:
		id = v.ID
	case Account:
		id = v.ID
	case Edge:
		if err := v.Validate(); err != nil {
			return Change{}, Errorf(CodeInvalid, "doc_invalid", "%s %q: %v", kind, v.ID, err)
		}
		id = v.ID
	default:
		return Change{}, Errorf(CodeInvalid, "doc_invalid", "%T is not a managed record", v)
	}
	if kindOf(v) != kind {
		return Change{}, Errorf(CodeInvalid, "kind_invalid", "%T is not a %s", v, kind)
	}
	var doc []byte
	var err error
	if t, ok := v.(Title); ok {
		doc, ok = appendTitleJSON(make([]byte, 0, 512), &t)
		if !ok {
			doc = nil
		}
	}
	if doc == nil {
		if doc, err = json.Marshal(v); err != nil {
			return Change{}, Errorf(CodeInvalid, "doc_invalid", "%s %q: %v", kind, id, err)
		}
	}
	// A string that is not UTF-8 encodes with \ufffd escapes, which decode
	// to a character encoding differently: such a document takes one more
	// round to its canonical form.
	if bytes.Contains(doc, []byte(`\ufffd`)) {
		if doc, err = CanonicalDoc(kind, id, doc); err != nil {
			return Change{}, err
		}
	}
	return Change{Kind: kind, ID: id, Doc: doc, enc: &encodedDoc{first: &doc[0], n: len(doc), kind: kind, id: id}}, nil
}

func kindOf(v any) Kind {
	switch v.(type) {
	case Plan:
		return KindPlan
	case Title:
		return KindTitle
	case Account:
		return KindAccount
	case Edge:
		return KindEdge
	}
	return ""
}

// encoded reports whether c.Doc is the document NewChange encoded, and
// if so the id in it.
func (c Change) encoded() (id string, ok bool) {
	e := c.enc
	if e == nil || len(c.Doc) != e.n || &c.Doc[0] != e.first || c.Kind != e.kind {
		return "", false
	}
	return e.id, true
}

// Delete reports whether the change deletes its record.
func (c Change) Delete() bool { return c.Doc == nil }

// ChangeSet is one atomic admin write: every change or none, together with
// the one audit record that lists them.
type ChangeSet struct {
	Actor   string    // who: the admin token's subject, "cli:<user>" for imports
	At      time.Time // when
	Changes []Change
}

// Change ops of audit records.
const (
	OpCreate = "create"
	OpUpdate = "update"
	OpDelete = "delete"
)

// AuditChange is what one change did: the record before and after (null
// for a record that did not exist or no longer does) and its new version.
type AuditChange struct {
	Kind    Kind            `json:"kind"`
	ID      string          `json:"id"`
	Op      string          `json:"op"`
	Before  json.RawMessage `json:"before,omitempty"`
	After   json.RawMessage `json:"after,omitempty"`
	Version string          `json:"version,omitempty"`
}

// AuditRecord is written in the same atomic write as the changes it
// lists. IDs sort in the order records were written (AuditID), so
// ListAudit pages newest first by ID.
type AuditRecord struct {
	ID      string        `json:"id"`
	Actor   string        `json:"actor"`
	At      time.Time     `json:"at"`
	Changes []AuditChange `json:"changes"`
}

// AuditPage is one page of ListAudit, newest first. Next is the cursor of
// the next page, "" after the last one.
type AuditPage struct {
	Records []AuditRecord `json:"records"`
	Next    string        `json:"next,omitempty"`
}

// AuditID is the id of an audit record written at at: its time, fixed
// width so that string order is time order, then a count of the ids this
// process made before it, so that records written one after the other at
// one time (a clock read to the millisecond) list in the order they were
// written, then a random part that keeps ids of other processes apart
// (their records at one time are concurrent, in no order).
func AuditID(at time.Time) string {
	ns := at.UnixNano()
	if at.IsZero() || ns < 0 {
		ns = 0
	}
	return fmt.Sprintf("%020d-%020d-%s", ns, auditIDs.Add(1), NewID("a"))
}

var auditIDs atomic.Uint64

// PlanInUse is the Details of the conflict refusing to delete a plan that
// accounts are on.
type PlanInUse struct {
	PlanID   string `json:"plan_id"`
	Accounts int    `json:"accounts"`
}

// ErrPlanInUse is the conflict of deleting a plan n accounts are on.
func ErrPlanInUse(planID string, n int) *Error {
	e := Errorf(CodeConflict, "plan_in_use", "plan %q is the plan of %d account(s)", planID, n)
	e.Details = PlanInUse{PlanID: planID, Accounts: n}
	return e
}

// ErrPrecondition is the error of a change whose IfMatch or IfAbsent the
// stored record does not meet; current is the version it has ("" if none).
func ErrPrecondition(kind Kind, id, current string) *Error {
	e := Errorf(CodePrecondition, "version_mismatch", "%s %q has changed (version %q)", kind, id, current)
	e.Details = map[string]string{"kind": string(kind), "id": id, "version": current}
	return e
}

// CheckPrecondition applies c's condition to the stored version (""
// when the record does not exist).
func (c Change) CheckPrecondition(current string) error {
	if c.IfAbsent && current != "" || c.IfMatch != "" && c.IfMatch != current {
		return ErrPrecondition(c.Kind, c.ID, current)
	}
	return nil
}

// Limits of one ChangeSet every store takes: a DynamoDB transaction holds
// 100 items (a change is its record, an account change up to two plan
// counters more, and the audit record one)
// and an item at most 400 KB, which the audit record meets with the
// documents of a set within MaxChangeSetBytes. Stores may take more (see
// ChangeSetLimiter).
const (
	MaxChangeSetChanges = 24
	MaxChangeSetBytes   = 96 << 10
)

// ChangeSetLimiter is implemented by stores that take bigger change sets
// than MaxChangeSetChanges and MaxChangeSetBytes, so that bulk writers
// (catalogue import) commit fewer, larger sets.
type ChangeSetLimiter interface {
	ChangeSetLimits() (changes, bytes int)
}

// BulkCreator is implemented by stores where an atomic change set costs
// much more per record than a plain batched write (DynamoDB, whose
// transactions cost twice a write and hold 100 items). CreateRecords
// writes a set of creates (CheckBulkCreates) and its audit record, the
// audit record first, but not atomically: a failure part way leaves some
// of the records, each whole, and writing the rest later converges (a
// catalogue import diffs again and creates what is missing). It first
// reads the set's records: one that exists with the document to write is
// left as it is and out of the audit record (a rerun's, or one a lagging
// list did not show); one that exists with another document fails the
// whole set with CodePrecondition before anything is written. Only a
// record someone else creates between that read and the write is
// overwritten; both writes are audited. BulkLimits bounds one set.
type BulkCreator interface {
	BulkLimits() (changes, bytes int)
	CreateRecords(ctx context.Context, cs ChangeSet) (AuditRecord, error)
}

// CheckBulkCreates checks that every change of cs is a bulk create: a
// plan, title or edge that must not exist yet. Accounts stay in change
// sets, which move the plan counts with them.
func CheckBulkCreates(cs ChangeSet) error {
	for i, c := range cs.Changes {
		if c.Delete() || !c.IfAbsent || c.Kind == KindAccount {
			return Errorf(CodeInvalid, "bulk_create_invalid", "changes[%d]: %s %q is not a create of a plan, title or edge", i, c.Kind, c.ID)
		}
	}
	return nil
}

// ChangeSetLimits returns the limits of s.
func ChangeSetLimits(s AdminStore) (changes, bytes int) {
	if l, ok := s.(ChangeSetLimiter); ok {
		return l.ChangeSetLimits()
	}
	return MaxChangeSetChanges, MaxChangeSetBytes
}

// Prepare checks a change set before anything is read or written: kinds,
// ids, documents that decode strictly into the kind's value and name ID,
// no record twice, within the given limits. It returns the set with every
// document in canonical form (CanonicalDoc), the form stores write.
func (cs ChangeSet) Prepare(maxChanges, maxBytes int) (ChangeSet, error) {
	out, err := cs.prepare(maxChanges, maxBytes)
	if err != nil {
		return ChangeSet{}, err
	}
	return out, nil
}

func (cs ChangeSet) prepare(maxChanges, maxBytes int) (ChangeSet, error) {
	if len(cs.Changes) == 0 {
		return cs, Errorf(CodeInvalid, "changes_empty", "a change set needs at least one change")
	}
	if len(cs.Changes) > maxChanges {
		return cs, Errorf(CodeInvalid, "changes_too_many", "%d changes, at most %d in one set", len(cs.Changes), maxChanges)
	}
	if cs.Actor == "" {
		return cs, Errorf(CodeInvalid, "actor_required", "a change set needs an actor")
	}
	cs.Changes = slices.Clone(cs.Changes)
	seen := make(map[Kind]map[string]bool, len(Kinds))
	size := 0
	for i, c := range cs.Changes {
		if !c.Kind.Valid() {
			return cs, Errorf(CodeInvalid, "kind_invalid", "changes[%d]: kind %q", i, c.Kind)
		}
		if !ValidRecordID(c.ID) {
			return cs, Errorf(CodeInvalid, "id_invalid", "changes[%d]: %s id %q %s", i, c.Kind, c.ID, RecordIDRule)
		}
		if seen[c.Kind] == nil {
			seen[c.Kind] = map[string]bool{}
		}
		if seen[c.Kind][c.ID] {
			return cs, Errorf(CodeInvalid, "change_duplicate", "changes[%d]: %s %q is changed twice", i, c.Kind, c.ID)
		}
		seen[c.Kind][c.ID] = true
		if c.IfAbsent && c.IfMatch != "" {
			return cs, Errorf(CodeInvalid, "precondition_invalid", "changes[%d]: if_absent and if_match together", i)
		}
		if c.Delete() {
			continue
		}
		size += len(c.Doc)
		if id, ok := c.encoded(); ok {
			if id != c.ID {
				return cs, Errorf(CodeInvalid, "doc_invalid", "changes[%d]: %s %q: document id is %q", i, c.Kind, c.ID, id)
			}
			continue
		}
		doc, err := CanonicalDoc(c.Kind, c.ID, c.Doc)
		if err != nil {
			return cs, Errorf(CodeInvalid, "doc_invalid", "changes[%d]: %s", i, err.(*Error).Message)
		}
		cs.Changes[i].Doc = doc
	}
	if size > maxBytes {
		return cs, Errorf(CodeInvalid, "changes_too_large", "documents of %d bytes, at most %d in one set", size, maxBytes)
	}
	return cs, nil
}

// RecordIDRule is ValidRecordID's rule, as an error states it.
const RecordIDRule = "must be 1-256 printable ASCII bytes without '/', '?', '#' or '|', and not ., .. or __x__"

// ValidRecordID reports whether id can name a managed record in every
// store and every deployment (RecordIDRule): printable ASCII without the
// separators stores use in keys or that end a URL path, and no name a
// store reserves. '?' is refused because an API Gateway HTTP API decodes
// the path before it invokes the function and cuts it at a decoded '?'
// (live captures reported in middleapi/standard-server#93): DELETE
// /v1/admin/plans/a%3Fb would reach the function as plan "a".
func ValidRecordID(id string) bool {
	if id == "" || len(id) > 256 || ReservedID(id) {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if c <= ' ' || c > '~' || c == '/' || c == '?' || c == '#' || c == '|' {
			return false
		}
	}
	return true
}

// CanonicalDoc decodes doc strictly into kind's domain value, checks it
// (its id must be id) and returns it encoded as every write path encodes
// it, so that stored documents compare byte for byte.
func CanonicalDoc(kind Kind, id string, doc json.RawMessage) (json.RawMessage, error) {
	var v any
	var gotID string
	var err error
	switch kind {
	case KindPlan:
		var p Plan
		err = strictJSON(doc, &p)
		v, gotID = p, p.ID
	case KindTitle:
		var t Title
		err = strictJSON(doc, &t)
		v, gotID = t, t.ID
	case KindAccount:
		var a Account
		err = strictJSON(doc, &a)
		v, gotID = a, a.ID
	case KindEdge:
		var e Edge
		if err = decodeEdge(doc, &e, strictJSON); err == nil {
			err = e.Validate()
		}
		v, gotID = e, e.ID
	default:
		return nil, Errorf(CodeInvalid, "kind_invalid", "kind %q", kind)
	}
	if err != nil {
		return nil, Errorf(CodeInvalid, "doc_invalid", "%s %q: %v", kind, id, err)
	}
	if gotID != id {
		return nil, Errorf(CodeInvalid, "doc_invalid", "%s %q: document id is %q", kind, id, gotID)
	}
	raw, err := json.Marshal(v)
	if err != nil {
		return nil, Errorf(CodeInvalid, "doc_invalid", "%s %q: %v", kind, id, err)
	}
	return raw, nil
}

func strictJSON(doc []byte, v any) error {
	d := json.NewDecoder(bytes.NewReader(doc))
	d.DisallowUnknownFields()
	if err := d.Decode(v); err != nil {
		return err
	}
	if d.More() {
		return fmt.Errorf("data after the document")
	}
	return nil
}

// PlanOf reads the plan id of an account document, for stores that count
// the accounts on each plan.
func PlanOf(doc json.RawMessage) string {
	var a struct {
		PlanID string `json:"plan_id"`
	}
	_ = json.Unmarshal(doc, &a)
	return a.PlanID
}

// CoverageZones is one stored version of the coverage zone file
// (Traffic Router's format, see shared/steering). Versions count up from
// 1; the latest is the one in service.
type CoverageZones struct {
	Version    int64     `json:"version"`
	Data       []byte    `json:"-"`
	SHA256     string    `json:"sha256"`
	Size       int       `json:"size"`
	UploadedAt time.Time `json:"uploaded_at"`
	UploadedBy string    `json:"uploaded_by"`
}

// CoverageZonesUpload is a new version of the coverage zone file, already
// validated by its parser (stores do not parse it). IfVersion, when not
// zero, is the version the latest must be (an ETag's If-Match).
type CoverageZonesUpload struct {
	Data      []byte
	Actor     string
	At        time.Time
	IfVersion int64
}

// MaxCoverageZonesBytes bounds a stored coverage zone file: a DynamoDB item
// holds at most 400 KB (the file is stored compressed there, and Traffic
// Router's files compress tenfold or more).
const MaxCoverageZonesBytes = 4 << 20

// AdminStore is the operators' port: every managed record with its
// version, paged lists, atomic conditional change sets with their audit
// record, and versioned coverage zone files.
type AdminStore interface {
	// GetRecord returns a record with its version; CodeNotFound if absent.
	GetRecord(ctx context.Context, kind Kind, id string) (Record, error)
	// ListRecords returns up to limit records of kind with ids after the
	// cursor after ("" for the first page), in id order. Paging through
	// all pages lists every record that exists throughout exactly once,
	// with one exception: a store may list from an eventually consistent
	// index (DynamoDB's), where a record created moments before may be
	// missing for a while. Every record returned is as stored when read
	// (a deleted one is never returned). Writers must therefore not take
	// a record's absence from a list as its absence: every write is
	// conditioned on the record itself (IfAbsent, IfMatch, BulkCreator's
	// read).
	ListRecords(ctx context.Context, kind Kind, after string, limit int) (RecordPage, error)
	// ApplyChanges writes the changes and one audit record atomically: if
	// any change's precondition fails (CodePrecondition), a plan to delete
	// still has accounts (ErrPlanInUse) or the store fails, nothing is
	// written, audit included. It returns the audit record.
	ApplyChanges(ctx context.Context, cs ChangeSet) (AuditRecord, error)
	// ListAudit returns up to limit audit records older than the cursor
	// before ("" for the newest), newest first. Next is "" when no older
	// record follows the page, even a full one: a caller paging to the end
	// never asks for an empty page.
	ListAudit(ctx context.Context, before string, limit int) (AuditPage, error)
	// PutCoverageZones stores the next version of the coverage zone file
	// with its audit record. A stale IfVersion is CodePrecondition; of two
	// concurrent uploads of the same next version one fails with it.
	PutCoverageZones(ctx context.Context, up CoverageZonesUpload) (CoverageZones, error)
	// GetCoverageZones returns version v, the latest for v = 0;
	// CodeNotFound when there is none.
	GetCoverageZones(ctx context.Context, v int64) (CoverageZones, error)
}

// ValidateCoverageZonesUpload checks what stores need of an upload.
func (up CoverageZonesUpload) Validate() error {
	switch {
	case len(up.Data) == 0:
		return Errorf(CodeInvalid, "coverage_zones_empty", "coverage zone file is empty")
	case len(up.Data) > MaxCoverageZonesBytes:
		return Errorf(CodeTooLarge, "coverage_zones_too_large", "coverage zone file of %d bytes, at most %d", len(up.Data), MaxCoverageZonesBytes)
	case up.Actor == "":
		return Errorf(CodeInvalid, "actor_required", "an upload needs an actor")
	case up.IfVersion < 0:
		return Errorf(CodeInvalid, "precondition_invalid", "if-version %d", up.IfVersion)
	}
	return nil
}

// CoverageZonesAudit is the audit change of storing cz: the file itself
// would double the audit log's size, so the change names its digest.
func CoverageZonesAudit(cz CoverageZones) AuditChange {
	after, _ := json.Marshal(cz)
	return AuditChange{Kind: KindCoverageZones, ID: fmt.Sprint(cz.Version), Op: OpCreate, After: after, Version: fmt.Sprint(cz.Version)}
}
