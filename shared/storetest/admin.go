package storetest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/playplane/playplane/shared/playback"
)

// adminTests are the AdminStore contract, run by Run with the others.
var adminTests = []struct {
	name string
	fn   func(t *testing.T, s playback.Store)
}{
	{"AdminVersions", testAdminVersions},
	{"AdminPaging", testAdminPaging},
	{"AdminPagingLastPage", testAdminPagingLastPage},
	{"AdminPlanInUse", testAdminPlanInUse},
	{"AdminAtomicAudit", testAdminAtomicAudit},
	{"AdminAuditLastPage", testAdminAuditLastPage},
	{"AdminIfMatchRace", testAdminIfMatchRace},
	{"AdminCoverageZones", testAdminCoverageZones},
	{"AdminBulkCreates", testAdminBulkCreates},
	{"AdminUnkeyableIDs", testAdminUnkeyableIDs},
}

func doc(t *testing.T, v any) json.RawMessage {
	t.Helper()
	raw, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

func apply(t *testing.T, s playback.Store, changes ...playback.Change) playback.AuditRecord {
	t.Helper()
	rec, err := s.ApplyChanges(context.Background(), playback.ChangeSet{Actor: "storetest", At: now(), Changes: changes})
	if err != nil {
		t.Fatalf("ApplyChanges: %v", err)
	}
	return rec
}

func testAdminVersions(t *testing.T, s playback.Store) {
	ctx := context.Background()
	p := playback.Plan{ID: playback.NewID("plan"), Name: "Basic", MaxStreams: 1, MaxDevices: 2, MaxQuality: playback.QualitySD}
	if err := s.PutPlan(ctx, p); err != nil {
		t.Fatal(err)
	}
	r1 := must(s.GetRecord(ctx, playback.KindPlan, p.ID))(t)
	var got playback.Plan
	if err := json.Unmarshal(r1.Doc, &got); err != nil || got != p || r1.Version == "" {
		t.Fatalf("GetRecord = %+v (%v), want %+v with a version", r1, err, p)
	}
	// A conditional update on the version read succeeds and moves it.
	p.MaxStreams = 2
	rec := apply(t, s, playback.Change{Kind: playback.KindPlan, ID: p.ID, Doc: doc(t, p), IfMatch: r1.Version})
	r2 := must(s.GetRecord(ctx, playback.KindPlan, p.ID))(t)
	if r2.Version == r1.Version || rec.Changes[0].Version != r2.Version || rec.Changes[0].Op != playback.OpUpdate {
		t.Fatalf("versions %q -> %q, audit %+v", r1.Version, r2.Version, rec.Changes[0])
	}
	// The stale version is refused and nothing changes.
	stale := p
	stale.MaxStreams = 9
	_, err := s.ApplyChanges(ctx, playback.ChangeSet{Actor: "storetest", At: now(),
		Changes: []playback.Change{{Kind: playback.KindPlan, ID: p.ID, Doc: doc(t, stale), IfMatch: r1.Version}}})
	wantCode(t, err, playback.CodePrecondition)
	if got := must(s.GetPlan(ctx, p.ID))(t); got.MaxStreams != 2 {
		t.Fatalf("stale write changed the plan: %+v", got)
	}
	// Creating what exists is a precondition failure too.
	_, err = s.ApplyChanges(ctx, playback.ChangeSet{Actor: "storetest", At: now(),
		Changes: []playback.Change{{Kind: playback.KindPlan, ID: p.ID, Doc: doc(t, p), IfAbsent: true}}})
	wantCode(t, err, playback.CodePrecondition)

	// Writes by the other paths move the version as well.
	a := newAccount(t, s)
	ra := must(s.GetRecord(ctx, playback.KindAccount, a.ID))(t)
	must(s.UpdateAccount(ctx, a.ID, func(a *playback.Account) error { a.ParentalCap = 7; return nil }))(t)
	ra2 := must(s.GetRecord(ctx, playback.KindAccount, a.ID))(t)
	if ra2.Version == ra.Version {
		t.Fatalf("UpdateAccount left version %q", ra.Version)
	}
	a.ParentalCap = 12
	_, err = s.ApplyChanges(ctx, playback.ChangeSet{Actor: "storetest", At: now(),
		Changes: []playback.Change{{Kind: playback.KindAccount, ID: a.ID, Doc: doc(t, a), IfMatch: ra.Version}}})
	wantCode(t, err, playback.CodePrecondition)

	e := playback.Edge{ID: playback.NewID("edge"), CDN: "local", BaseURL: "http://127.0.0.1:1", Healthy: true}
	if err := s.PutEdge(ctx, e); err != nil {
		t.Fatal(err)
	}
	re := must(s.GetRecord(ctx, playback.KindEdge, e.ID))(t)
	must(s.UpdateEdge(ctx, e.ID, func(e *playback.Edge) error { e.Load = 3; return nil }))(t)
	if re2 := must(s.GetRecord(ctx, playback.KindEdge, e.ID))(t); re2.Version == re.Version {
		t.Fatalf("UpdateEdge left version %q", re.Version)
	}

	// Deletes: stale refused, current applied, then gone.
	ti := playback.Title{ID: playback.NewID("title"), Name: "Doomed", AssetPath: "/titles/d/", Manifest: "m.m3u8"}
	apply(t, s, playback.Change{Kind: playback.KindTitle, ID: ti.ID, Doc: doc(t, ti), IfAbsent: true})
	rt := must(s.GetRecord(ctx, playback.KindTitle, ti.ID))(t)
	_, err = s.ApplyChanges(ctx, playback.ChangeSet{Actor: "storetest", At: now(),
		Changes: []playback.Change{{Kind: playback.KindTitle, ID: ti.ID, IfMatch: r1.Version}}})
	wantCode(t, err, playback.CodePrecondition)
	must(s.GetTitle(ctx, ti.ID))(t)
	rec = apply(t, s, playback.Change{Kind: playback.KindTitle, ID: ti.ID, IfMatch: rt.Version})
	if c := rec.Changes[0]; c.Op != playback.OpDelete || c.After != nil || !bytes.Contains(c.Before, []byte("Doomed")) {
		t.Fatalf("delete audit = %+v", c)
	}
	_, err = s.GetTitle(ctx, ti.ID)
	wantCode(t, err, playback.CodeNotFound)
	_, err = s.GetRecord(ctx, playback.KindTitle, ti.ID)
	wantCode(t, err, playback.CodeNotFound)

	// Bad change sets are refused before anything is read.
	for _, tc := range []struct {
		name string
		cs   playback.ChangeSet
	}{
		{name: "empty", cs: playback.ChangeSet{Actor: "x"}},
		{name: "no actor", cs: playback.ChangeSet{Changes: []playback.Change{{Kind: playback.KindPlan, ID: p.ID, Doc: doc(t, p)}}}},
		{name: "id mismatch", cs: playback.ChangeSet{Actor: "x", Changes: []playback.Change{{Kind: playback.KindPlan, ID: "other", Doc: doc(t, p)}}}},
		{name: "unknown field", cs: playback.ChangeSet{Actor: "x", Changes: []playback.Change{{Kind: playback.KindPlan, ID: p.ID,
			Doc: json.RawMessage(`{"id":"` + p.ID + `","bogus":1}`)}}}},
		{name: "bad kind", cs: playback.ChangeSet{Actor: "x", Changes: []playback.Change{{Kind: "session", ID: p.ID, Doc: doc(t, p)}}}},
	} {
		_, err := s.ApplyChanges(ctx, tc.cs)
		if !playback.IsCode(err, playback.CodeInvalid) {
			t.Errorf("%s: err = %v, want invalid", tc.name, err)
		}
	}
	if got := must(s.GetPlan(ctx, p.ID))(t); got.MaxStreams != 2 {
		t.Fatalf("refused sets changed the plan: %+v", got)
	}
}

// listAll pages through kind with pages of size n, checking the order.
func listAll(t *testing.T, s playback.Store, kind playback.Kind, n int) []playback.Record {
	t.Helper()
	var all []playback.Record
	after := ""
	for pages := 0; ; pages++ {
		if pages > 100000 {
			t.Fatal("ListRecords never ends")
		}
		p := must(s.ListRecords(context.Background(), kind, after, n))(t)
		if len(p.Records) > n {
			t.Fatalf("page of %d records, limit %d", len(p.Records), n)
		}
		for _, r := range p.Records {
			if len(all) > 0 && r.ID <= all[len(all)-1].ID {
				t.Fatalf("%s %q listed after %q", kind, r.ID, all[len(all)-1].ID)
			}
			if r.Kind != kind || r.Version == "" || len(r.Doc) == 0 {
				t.Fatalf("listed record %+v", r)
			}
			all = append(all, r)
		}
		if p.Next == "" {
			return all
		}
		after = p.Next
	}
}

func testAdminPaging(t *testing.T, s playback.Store) {
	ctx := context.Background()
	prefix := playback.NewID("pg") + "-"
	want := map[playback.Kind]map[string]bool{}
	add := func(kind playback.Kind, id string) {
		if want[kind] == nil {
			want[kind] = map[string]bool{}
		}
		want[kind][id] = true
	}
	var changes []playback.Change
	for i := range 13 {
		// Every other title through the legacy write path: both are listed.
		ti := playback.Title{ID: fmt.Sprintf("%st%02d", prefix, i), Name: "T", AssetPath: "/t/", Manifest: "m.m3u8"}
		add(playback.KindTitle, ti.ID)
		if i%2 == 0 {
			if err := s.PutTitle(ctx, ti); err != nil {
				t.Fatal(err)
			}
			continue
		}
		changes = append(changes, playback.Change{Kind: playback.KindTitle, ID: ti.ID, Doc: doc(t, ti)})
	}
	for i := range 4 {
		p := playback.Plan{ID: fmt.Sprintf("%sp%d", prefix, i), Name: "P", MaxStreams: 1, MaxDevices: 1, MaxQuality: playback.QualityHD}
		e := playback.Edge{ID: fmt.Sprintf("%se%d", prefix, i), CDN: "local", BaseURL: "http://127.0.0.1:1"}
		a := playback.Account{ID: fmt.Sprintf("%sa%d", prefix, i), PlanID: p.ID, Status: playback.StatusActive, Territory: "DE"}
		add(playback.KindPlan, p.ID)
		add(playback.KindEdge, e.ID)
		add(playback.KindAccount, a.ID)
		changes = append(changes, playback.Change{Kind: playback.KindPlan, ID: p.ID, Doc: doc(t, p)},
			playback.Change{Kind: playback.KindAccount, ID: a.ID, Doc: doc(t, a)})
		if err := s.PutEdge(ctx, e); err != nil {
			t.Fatal(err)
		}
	}
	apply(t, s, changes...)
	for kind, ids := range want {
		for _, n := range []int{1, 3, 50} {
			seen := map[string]int{}
			for _, r := range listAll(t, s, kind, n) {
				if strings.HasPrefix(r.ID, prefix) {
					seen[r.ID]++
				}
			}
			for id := range ids {
				if seen[id] != 1 {
					t.Errorf("%s %q listed %d times with pages of %d", kind, id, seen[id], n)
				}
			}
			if len(seen) != len(ids) {
				t.Errorf("%s: listed %d of ours, want %d", kind, len(seen), len(ids))
			}
		}
	}
	if p := must(s.ListRecords(ctx, playback.KindTitle, prefix+"t12", 10))(t); len(p.Records) > 0 && strings.HasPrefix(p.Records[0].ID, prefix) {
		t.Fatalf("list after the last title starts with %q", p.Records[0].ID)
	}
}

// testAdminPagingLastPage: a page that ends the records has Next "" even
// when it is full, so a caller never asks for an empty page more.
func testAdminPagingLastPage(t *testing.T, s playback.Store) {
	ctx := context.Background()
	// '~' is the last byte ValidRecordID allows: these ids sort after every
	// other plan of the shared store, so they are the kind's last records.
	prefix := playback.NewID("~last") + "-"
	var ids []string
	var changes []playback.Change
	for i := range 3 {
		p := playback.Plan{ID: fmt.Sprintf("%s%d", prefix, i), Name: "P", MaxStreams: 1, MaxDevices: 1, MaxQuality: playback.QualityHD}
		ids = append(ids, p.ID)
		changes = append(changes, playback.Change{Kind: playback.KindPlan, ID: p.ID, Doc: doc(t, p)})
	}
	apply(t, s, changes...)
	checkLastPages(t, "ListRecords", prefix, ids, func(after string, limit int) ([]string, string) {
		p := must(s.ListRecords(ctx, playback.KindPlan, after, limit))(t)
		var got []string
		for _, r := range p.Records {
			got = append(got, r.ID)
		}
		return got, p.Next
	})
}

// checkLastPages pages ids, the last three records of a listing in its
// order (start is a cursor just before the first), through list, which
// answers a page's ids and Next: a page that ends the records, full or
// not, has Next "".
func checkLastPages(t *testing.T, name, start string, ids []string, list func(cursor string, limit int) ([]string, string)) {
	t.Helper()
	for _, tc := range []struct {
		name   string
		cursor string
		limit  int
		want   []string
		next   string
	}{
		{name: "exactly the rest", cursor: start, limit: 3, want: ids},
		{name: "more than the rest", cursor: start, limit: 4, want: ids},
		{name: "first of two pages", cursor: start, limit: 2, want: ids[:2], next: ids[1]},
		{name: "second page of one", cursor: ids[1], limit: 2, want: ids[2:]},
		{name: "last one alone", cursor: ids[1], limit: 1, want: ids[2:]},
		{name: "past the last", cursor: ids[2], limit: 1},
	} {
		got, next := list(tc.cursor, tc.limit)
		if !slices.Equal(got, tc.want) || next != tc.next {
			t.Errorf("%s: %s(%q, limit %d) = %q next %q, want %q next %q",
				tc.name, name, tc.cursor, tc.limit, got, next, tc.want, tc.next)
		}
	}
}

func testAdminPlanInUse(t *testing.T, s playback.Store) {
	ctx := context.Background()
	p := playback.Plan{ID: playback.NewID("plan"), Name: "Busy", MaxStreams: 1, MaxDevices: 1, MaxQuality: playback.QualityHD}
	other := playback.Plan{ID: playback.NewID("plan"), Name: "Other", MaxStreams: 1, MaxDevices: 1, MaxQuality: playback.QualityHD}
	apply(t, s, playback.Change{Kind: playback.KindPlan, ID: p.ID, Doc: doc(t, p)},
		playback.Change{Kind: playback.KindPlan, ID: other.ID, Doc: doc(t, other)})
	// Accounts reach a plan by every path: PutAccount, a change set, and
	// UpdateAccount moving one over.
	a1 := playback.Account{ID: playback.NewID("acct"), PlanID: p.ID, Status: playback.StatusActive, Territory: "DE"}
	if err := s.PutAccount(ctx, a1); err != nil {
		t.Fatal(err)
	}
	a2 := playback.Account{ID: playback.NewID("acct"), PlanID: p.ID, Status: playback.StatusActive, Territory: "DE"}
	apply(t, s, playback.Change{Kind: playback.KindAccount, ID: a2.ID, Doc: doc(t, a2)})
	a3 := playback.Account{ID: playback.NewID("acct"), PlanID: other.ID, Status: playback.StatusActive, Territory: "DE"}
	if err := s.PutAccount(ctx, a3); err != nil {
		t.Fatal(err)
	}
	must(s.UpdateAccount(ctx, a3.ID, func(a *playback.Account) error { a.PlanID = p.ID; return nil }))(t)

	del := playback.Change{Kind: playback.KindPlan, ID: p.ID}
	_, err := s.ApplyChanges(ctx, playback.ChangeSet{Actor: "storetest", At: now(), Changes: []playback.Change{del}})
	wantCode(t, err, playback.CodeConflict)
	var pe *playback.Error
	if !errors.As(err, &pe) || pe.Reason != "plan_in_use" {
		t.Fatalf("err = %v, want plan_in_use", err)
	}
	if d, ok := pe.Details.(playback.PlanInUse); !ok || d.Accounts != 3 || d.PlanID != p.ID {
		t.Fatalf("details = %#v, want 3 accounts on %s", pe.Details, p.ID)
	}
	must(s.GetPlan(ctx, p.ID))(t)

	// Moving them all away frees the plan.
	for _, id := range []string{a1.ID, a2.ID} {
		must(s.UpdateAccount(ctx, id, func(a *playback.Account) error { a.PlanID = other.ID; return nil }))(t)
	}
	a3.PlanID = other.ID
	apply(t, s, playback.Change{Kind: playback.KindAccount, ID: a3.ID, Doc: doc(t, a3)})
	apply(t, s, del)
	_, err = s.GetPlan(ctx, p.ID)
	wantCode(t, err, playback.CodeNotFound)
	// The other plan now has the three.
	_, err = s.ApplyChanges(ctx, playback.ChangeSet{Actor: "storetest", At: now(),
		Changes: []playback.Change{{Kind: playback.KindPlan, ID: other.ID}}})
	if !errors.As(err, &pe) || pe.Details.(playback.PlanInUse).Accounts != 3 {
		t.Fatalf("delete other plan: %v, want 3 accounts", err)
	}
}

// auditMentions lists every audit record that changes one of ids.
func auditMentions(t *testing.T, s playback.Store, ids ...string) []playback.AuditRecord {
	t.Helper()
	var out []playback.AuditRecord
	before, last := "", ""
	for {
		p := must(s.ListAudit(context.Background(), before, 7))(t)
		for _, r := range p.Records {
			if last != "" && r.ID >= last {
				t.Fatalf("audit %q listed after %q: not newest first", r.ID, last)
			}
			last = r.ID
			for _, c := range r.Changes {
				for _, id := range ids {
					if c.ID == id {
						out = append(out, r)
					}
				}
			}
		}
		if p.Next == "" {
			return out
		}
		before = p.Next
	}
}

// testAdminAuditLastPage: an audit page that ends the records has Next ""
// even when it is full, so a caller never asks for an empty page more.
func testAdminAuditLastPage(t *testing.T, s playback.Store) {
	ctx := context.Background()
	// Written at the epoch's first milliseconds (the id is the time), these
	// are the oldest audit records of the shared store, so its last ones;
	// every other test writes at now().
	var ids []string
	for i := 3; i >= 1; i-- {
		p := playback.Plan{ID: playback.NewID("plan"), Name: "P", MaxStreams: 1, MaxDevices: 1, MaxQuality: playback.QualityHD}
		rec, err := s.ApplyChanges(ctx, playback.ChangeSet{Actor: "storetest", At: time.UnixMilli(int64(i)).UTC(),
			Changes: []playback.Change{{Kind: playback.KindPlan, ID: p.ID, Doc: doc(t, p)}}})
		if err != nil {
			t.Fatalf("ApplyChanges: %v", err)
		}
		ids = append(ids, rec.ID) // newest first, as listed
	}
	top := playback.AuditID(time.UnixMilli(4)) // after ours, before every other record
	checkLastPages(t, "ListAudit", top, ids, func(before string, limit int) ([]string, string) {
		p := must(s.ListAudit(ctx, before, limit))(t)
		var got []string
		for _, r := range p.Records {
			got = append(got, r.ID)
		}
		return got, p.Next
	})
}

func testAdminAtomicAudit(t *testing.T, s playback.Store) {
	ctx := context.Background()
	p := playback.Plan{ID: playback.NewID("plan"), Name: "Audited", MaxStreams: 1, MaxDevices: 1, MaxQuality: playback.QualityHD}
	apply(t, s, playback.Change{Kind: playback.KindPlan, ID: p.ID, Doc: doc(t, p)})
	stale := must(s.GetRecord(ctx, playback.KindPlan, p.ID))(t).Version
	p.Name = "Audited 2"
	created := apply(t, s, playback.Change{Kind: playback.KindPlan, ID: p.ID, Doc: doc(t, p), IfMatch: stale})

	// A set whose last change fails writes neither its other changes nor
	// an audit record.
	ti := playback.Title{ID: playback.NewID("title"), Name: "Never", AssetPath: "/t/", Manifest: "m.m3u8"}
	e := playback.Edge{ID: playback.NewID("edge"), CDN: "local", BaseURL: "http://127.0.0.1:1"}
	p.Name = "Never"
	_, err := s.ApplyChanges(ctx, playback.ChangeSet{Actor: "storetest", At: now(), Changes: []playback.Change{
		{Kind: playback.KindTitle, ID: ti.ID, Doc: doc(t, ti)},
		{Kind: playback.KindEdge, ID: e.ID, Doc: doc(t, e), IfAbsent: true},
		{Kind: playback.KindPlan, ID: p.ID, Doc: doc(t, p), IfMatch: stale},
	}})
	wantCode(t, err, playback.CodePrecondition)
	_, err = s.GetTitle(ctx, ti.ID)
	wantCode(t, err, playback.CodeNotFound)
	_, err = s.GetEdge(ctx, e.ID)
	wantCode(t, err, playback.CodeNotFound)
	if got := must(s.GetPlan(ctx, p.ID))(t); got.Name != "Audited 2" {
		t.Fatalf("plan = %+v after a failed set", got)
	}
	// A delete of a missing record fails the set the same way.
	_, err = s.ApplyChanges(ctx, playback.ChangeSet{Actor: "storetest", At: now(), Changes: []playback.Change{
		{Kind: playback.KindTitle, ID: ti.ID, Doc: doc(t, ti)},
		{Kind: playback.KindEdge, ID: e.ID},
	}})
	wantCode(t, err, playback.CodeNotFound)
	_, err = s.GetTitle(ctx, ti.ID)
	wantCode(t, err, playback.CodeNotFound)

	recs := auditMentions(t, s, p.ID, ti.ID, e.ID)
	if len(recs) != 2 {
		t.Fatalf("%d audit records mention the plan, title or edge, want the 2 successful sets: %+v", len(recs), recs)
	}
	got := recs[0] // newest first
	if got.ID != created.ID || got.Actor != "storetest" || !got.At.Equal(created.At) || len(got.Changes) != 1 {
		t.Fatalf("newest audit = %+v, want %+v", got, created)
	}
	c := got.Changes[0]
	var before, after playback.Plan
	if err := json.Unmarshal(c.Before, &before); err != nil || before.Name != "Audited" {
		t.Fatalf("audit before = %s (%v)", c.Before, err)
	}
	if err := json.Unmarshal(c.After, &after); err != nil || after.Name != "Audited 2" {
		t.Fatalf("audit after = %s (%v)", c.After, err)
	}
	if c.Op != playback.OpUpdate || c.Kind != playback.KindPlan {
		t.Fatalf("audit change = %+v", c)
	}
	if first := recs[1].Changes[0]; first.Op != playback.OpCreate || first.Before != nil {
		t.Fatalf("creation audit = %+v", first)
	}
}

func testAdminIfMatchRace(t *testing.T, s playback.Store) {
	ctx := context.Background()
	ti := playback.Title{ID: playback.NewID("title"), Name: "Raced", AssetPath: "/t/", Manifest: "m.m3u8"}
	apply(t, s, playback.Change{Kind: playback.KindTitle, ID: ti.ID, Doc: doc(t, ti)})
	v := must(s.GetRecord(ctx, playback.KindTitle, ti.ID))(t).Version
	const n = 6
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() {
			x := ti
			x.Rating = new(i + 1)
			_, errs[i] = s.ApplyChanges(ctx, playback.ChangeSet{Actor: "storetest", At: now(),
				Changes: []playback.Change{{Kind: playback.KindTitle, ID: ti.ID, Doc: doc(t, x), IfMatch: v}}})
		})
	}
	wg.Wait()
	won := 0
	for _, err := range errs {
		switch {
		case err == nil:
			won++
		case !playback.IsCode(err, playback.CodePrecondition):
			t.Errorf("racing write: %v", err)
		}
	}
	if won != 1 {
		t.Fatalf("%d of %d writers on one version won, want 1", won, n)
	}
	if recs := auditMentions(t, s, ti.ID); len(recs) != 2 {
		t.Fatalf("%d audit records for the title, want 2 (creation and the winner)", len(recs))
	}
}

func testAdminCoverageZones(t *testing.T, s playback.Store) {
	ctx := context.Background()
	// The only subtest writing coverage zones: versions are store-wide.
	_, err := s.GetCoverageZones(ctx, 0)
	wantCode(t, err, playback.CodeNotFound)
	up := func(data string, ifVersion int64) (playback.CoverageZones, error) {
		return s.PutCoverageZones(ctx, playback.CoverageZonesUpload{Data: []byte(data), Actor: "storetest", At: now(), IfVersion: ifVersion})
	}
	v1 := must(up(`{"coverageZones":{}}`, 0))(t)
	v2 := must(up(`{"coverageZones":{"a":{}}}`, 1))(t)
	if v1.Version != 1 || v2.Version != 2 || v2.Size != len(`{"coverageZones":{"a":{}}}`) || v2.SHA256 == v1.SHA256 {
		t.Fatalf("versions %+v, %+v", v1, v2)
	}
	_, err = up(`{"stale":1}`, 1)
	wantCode(t, err, playback.CodePrecondition)
	latest := must(s.GetCoverageZones(ctx, 0))(t)
	if latest.Version != 2 || string(latest.Data) != `{"coverageZones":{"a":{}}}` || latest.UploadedBy != "storetest" {
		t.Fatalf("latest = %+v %s", latest, latest.Data)
	}
	if old := must(s.GetCoverageZones(ctx, 1))(t); string(old.Data) != `{"coverageZones":{}}` {
		t.Fatalf("version 1 = %s", old.Data)
	}
	_, err = s.GetCoverageZones(ctx, 9)
	wantCode(t, err, playback.CodeNotFound)
	_, err = up("", 0)
	wantCode(t, err, playback.CodeInvalid)

	// Racing uploads on the same latest version: one wins.
	const n = 5
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() { _, errs[i] = up(fmt.Sprintf(`{"racer":%d}`, i), 2) })
	}
	wg.Wait()
	won := 0
	for _, err := range errs {
		if err == nil {
			won++
		} else if !playback.IsCode(err, playback.CodePrecondition) {
			t.Errorf("racing upload: %v", err)
		}
	}
	if won != 1 {
		t.Fatalf("%d racing uploads won, want 1", won)
	}
	if latest := must(s.GetCoverageZones(ctx, 0))(t); latest.Version != 3 {
		t.Fatalf("latest after the race = %d, want 3", latest.Version)
	}
	// Unconditional uploads racing each other all land, on distinct versions.
	seen := map[int64]bool{}
	var mu sync.Mutex
	for i := range 3 {
		wg.Go(func() {
			cz, err := up(fmt.Sprintf(`{"free":%d}`, i), 0)
			if err != nil {
				t.Errorf("unconditional upload: %v", err)
				return
			}
			mu.Lock()
			seen[cz.Version] = true
			mu.Unlock()
		})
	}
	wg.Wait()
	if len(seen) != 3 {
		t.Fatalf("unconditional uploads got versions %v", seen)
	}
	if recs := auditMentions(t, s, "1", "2", "3", "4", "5", "6"); len(recs) != 6 {
		t.Fatalf("%d coverage zone audit records, want 6", len(recs))
	}
}

// testAdminUnkeyableIDs: an id one store cannot key by (Firestore refuses
// the document ids ".", "..", those with '/' and __x__, reserved; its
// emulator stores __x__) is refused by every store alike, before anything is
// written, and the ids beside those rules are kept as given.
func testAdminUnkeyableIDs(t *testing.T, s playback.Store) {
	ctx := context.Background()
	plan := func(id string) playback.Change {
		p := playback.Plan{ID: id, Name: "Basic", MaxStreams: 1, MaxDevices: 2, MaxQuality: playback.QualitySD}
		return playback.Change{Kind: playback.KindPlan, ID: id, Doc: doc(t, p), IfAbsent: true}
	}
	for _, id := range []string{".", "..", "a/b", "__" + playback.NewID("plan") + "__", "____"} {
		_, err := s.ApplyChanges(ctx, playback.ChangeSet{Actor: "storetest", At: now(), Changes: []playback.Change{plan(id)}})
		if e := playback.AsError(err); e.Code != playback.CodeInvalid || e.Reason != "id_invalid" {
			t.Fatalf("ApplyChanges(plan %q) = %v, want invalid/id_invalid", id, err)
		}
		_, err = s.GetRecord(ctx, playback.KindPlan, id)
		wantCode(t, err, playback.CodeNotFound)
	}
	for _, id := range []string{"__" + playback.NewID("plan"), playback.NewID("plan") + "__", "_" + playback.NewID("plan") + "_"} {
		apply(t, s, plan(id))
		if r := must(s.GetRecord(ctx, playback.KindPlan, id))(t); r.ID != id {
			t.Fatalf("GetRecord(%q) = %+v", id, r)
		}
	}
}
