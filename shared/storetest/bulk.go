package storetest

import (
	"context"
	"fmt"
	"testing"

	"github.com/playplane/playplane/shared/playback"
)

// testAdminBulkCreates is the contract of playback.BulkCreator, on the
// stores that are one.
func testAdminBulkCreates(t *testing.T, s playback.Store) {
	bulk, ok := s.(playback.BulkCreator)
	if !ok {
		t.Skip("the store writes every change set atomically (no bulk creates)")
	}
	ctx := context.Background()
	run := playback.NewID("b")
	plan := playback.Plan{ID: run + "-plan", Name: "Bulk", MaxStreams: 1, MaxDevices: 1, MaxQuality: playback.QualitySD}
	changes := []playback.Change{Create(t, playback.KindPlan, plan)}
	// More records than one batch request of any store holds.
	for i := range 60 {
		changes = append(changes, Create(t, playback.KindTitle, playback.Title{ID: fmt.Sprintf("%s-t%02d", run, i), Name: "T",
			AssetPath: "/t/", Manifest: "m"}))
	}
	rec, err := bulk.CreateRecords(ctx, playback.ChangeSet{Actor: "storetest", At: now(), Changes: changes})
	if err != nil {
		t.Fatal(err)
	}
	if len(rec.Changes) != len(changes) {
		t.Fatalf("audit record lists %d changes, want %d", len(rec.Changes), len(changes))
	}
	for i, c := range changes {
		r := must(s.GetRecord(ctx, c.Kind, c.ID))(t)
		if string(r.Doc) != string(c.Doc) || r.Version == "" || rec.Changes[i].Version != r.Version ||
			rec.Changes[i].Op != playback.OpCreate || string(rec.Changes[i].After) != string(c.Doc) {
			t.Fatalf("%s %s: stored %+v, audited %+v", c.Kind, c.ID, r, rec.Changes[i])
		}
	}
	listed := map[string]bool{}
	for after := ""; ; {
		p := must(s.ListRecords(ctx, playback.KindTitle, after, 25))(t)
		for _, r := range p.Records {
			listed[r.ID] = true
		}
		if after = p.Next; after == "" {
			break
		}
	}
	for _, c := range changes[1:] {
		if !listed[c.ID] {
			t.Fatalf("title %s is not listed", c.ID)
		}
	}
	// Other tests may share the store: page back to the record.
	found := false
	for before := ""; !found; {
		audit := must(s.ListAudit(ctx, before, 50))(t)
		for _, a := range audit.Records {
			found = found || a.ID == rec.ID && len(a.Changes) == len(changes)
		}
		if before = audit.Next; before == "" {
			break
		}
	}
	if !found {
		t.Fatalf("audit record %s not listed whole", rec.ID)
	}
	// The records take conditional writes on the versions they got.
	r0 := must(s.GetRecord(ctx, playback.KindPlan, plan.ID))(t)
	plan.Name = "Bulk 2"
	upd := Create(t, playback.KindPlan, plan)
	upd.IfAbsent, upd.IfMatch = false, r0.Version
	apply(t, s, upd)

	// Writing the same creates again (a rerun after a failure, or after a
	// list that did not show them yet) converges: records that exist with
	// those documents are left as they are and not audited again.
	again := changes[1:]
	rerun, err := bulk.CreateRecords(ctx, playback.ChangeSet{Actor: "storetest", At: now(), Changes: again})
	if err != nil {
		t.Fatal(err)
	}
	if len(rerun.Changes) != 0 {
		t.Fatalf("the rerun audited %d creates of records that exist", len(rerun.Changes))
	}
	for i, c := range again {
		if r := must(s.GetRecord(ctx, c.Kind, c.ID))(t); string(r.Doc) != string(c.Doc) || r.Version != rec.Changes[i+1].Version {
			t.Fatalf("%s after a rerun: %s at %s, want it untouched at %s", c.ID, r.Doc, r.Version, rec.Changes[i+1].Version)
		}
	}
	// A create of a record that exists with another document refuses the
	// whole set before writing any of it.
	fresh0 := Create(t, playback.KindTitle, playback.Title{ID: run + "-fresh0", Name: "F", AssetPath: "/f/", Manifest: "m"})
	clash := Create(t, playback.KindTitle, playback.Title{ID: changes[3].ID, Name: "Other", AssetPath: "/t/", Manifest: "m"})
	_, err = bulk.CreateRecords(ctx, playback.ChangeSet{Actor: "storetest", At: now(), Changes: []playback.Change{fresh0, clash}})
	wantCode(t, err, playback.CodePrecondition)
	if _, err := s.GetRecord(ctx, playback.KindTitle, fresh0.ID); !playback.IsCode(err, playback.CodeNotFound) {
		t.Fatalf("a set refused for a clash wrote its other record (%v)", err)
	}
	if r := must(s.GetRecord(ctx, playback.KindTitle, clash.ID))(t); string(r.Doc) != string(changes[3].Doc) {
		t.Fatalf("a clashing create overwrote %s: %s", clash.ID, r.Doc)
	}

	// Anything but a create of a plan, title or edge is refused, and the
	// set writes nothing.
	fresh := Create(t, playback.KindTitle, playback.Title{ID: run + "-fresh", Name: "F", AssetPath: "/f/", Manifest: "m"})
	account := Create(t, playback.KindAccount, playback.Account{ID: run + "-acct", PlanID: plan.ID, Territory: "DE"})
	unconditional := fresh
	unconditional.IfAbsent = false
	update := changes[1]
	update.IfAbsent, update.IfMatch = false, rec.Changes[1].Version
	for _, tc := range []struct {
		name string
		bad  playback.Change
	}{
		{name: "update", bad: update},
		{name: "delete", bad: playback.Change{Kind: playback.KindTitle, ID: changes[2].ID}},
		{name: "account", bad: account},
		{name: "unconditional", bad: unconditional},
	} {
		set := []playback.Change{tc.bad}
		if tc.name != "unconditional" {
			set = append([]playback.Change{fresh}, tc.bad)
		}
		_, err := bulk.CreateRecords(ctx, playback.ChangeSet{Actor: "storetest", At: now(), Changes: set})
		wantCode(t, err, playback.CodeInvalid)
		if _, err := s.GetRecord(ctx, playback.KindTitle, fresh.ID); !playback.IsCode(err, playback.CodeNotFound) {
			t.Fatalf("%s: a refused set wrote (%v)", tc.name, err)
		}
	}
}

// Create is the change that creates v as a record of kind (IfAbsent).
func Create(t testing.TB, kind playback.Kind, v any) playback.Change {
	t.Helper()
	c, err := playback.NewChange(kind, v)
	if err != nil {
		t.Fatal(err)
	}
	c.IfAbsent = true
	return c
}
