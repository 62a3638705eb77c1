package catalogfile_test

import (
	"testing"
	"time"

	"github.com/playplane/playplane/shared/catalogfile"
	"github.com/playplane/playplane/shared/playback"
)

// TestDateTimesAreTheSchemas: every date-time the schema's format accepts
// (RFC 3339) either reads as its instant or is a problem at its pointer.
// Before, the lowercase t and z RFC 3339 allows (section 5.6, NOTE) and a
// leap second passed the schema and then failed Go's parser, a problem
// with no pointer; and a past_due_since of 0001-01-01T00:00:00Z, Go's zero
// time, read as no date (the grace then started at the write).
func TestDateTimesAreTheSchemas(t *testing.T) {
	t.Parallel()
	title := func(start, end string) string {
		return `{"titles":[{"id":"t","name":"T","rating":0,"asset_path":"/t/","manifest":"m","windows":[{"territory":"DE","start":"` +
			start + `","end":"` + end + `"}]}]}`
	}
	account := func(since string) string {
		return `{"accounts":[{"id":"a","plan_id":"p","territory":"DE","status":"past_due","past_due_since":"` + since + `"}]}`
	}
	for _, tc := range []struct {
		name, file  string
		wantStart   string // the window's start, or the account's past_due_since, as read (RFC 3339, UTC)
		wantPointer string // the problem's, "" for none
	}{
		{name: "lowercase t and z in a window", file: title("2026-12-02t06:00:00z", "2027-12-02T06:00:00Z"), wantStart: "2026-12-02T06:00:00Z"},
		{name: "lowercase z with a fraction in a window", file: title("2026-12-02T06:00:00.5z", "2027-12-02t06:00:00+01:00"), wantStart: "2026-12-02T06:00:00.5Z"},
		{name: "lowercase in past_due_since", file: account("2026-12-02t06:00:00z"), wantStart: "2026-12-02T06:00:00Z"},
		{name: "leap second in a window", file: title("2026-01-01T00:00:00Z", "2026-12-31T23:59:60Z"), wantPointer: "/titles/0/windows/0/end"},
		{name: "leap second with an offset in a window", file: title("2027-01-01T00:59:60+01:00", "2028-01-01T00:00:00Z"), wantPointer: "/titles/0/windows/0/start"},
		{name: "leap second in past_due_since", file: account("2016-12-31t23:59:60z"), wantPointer: "/accounts/0/past_due_since"},
		{name: "zero past_due_since", file: account("0001-01-01T00:00:00Z"), wantPointer: "/accounts/0/past_due_since"},
		{name: "zero past_due_since with an offset", file: account("0000-12-31T23:00:00-01:00"), wantPointer: "/accounts/0/past_due_since"},
		// A window may start at any time, Go's zero included: it reads as written.
		{name: "zero window start", file: title("0001-01-01T00:00:00Z", "2027-01-01T00:00:00Z"), wantStart: "0001-01-01T00:00:00Z"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			for _, name := range []string{"f.json", "f.yaml"} {
				f, err := catalogfile.Parse(name, []byte(tc.file))
				if tc.wantPointer != "" {
					inv, ok := err.(*catalogfile.Invalid)
					if !ok || len(inv.Problems) != 1 || inv.Problems[0].Pointer != tc.wantPointer || inv.Problems[0].Line != 1 {
						t.Fatalf("%s: %v, want one problem at %s on line 1", name, err, tc.wantPointer)
					}
					continue
				}
				if err != nil {
					t.Fatalf("%s: %v", name, err)
				}
				var got time.Time
				if len(f.Titles) > 0 {
					got = f.Titles[0].Windows[0].Start
				} else {
					got = f.Accounts[0].PastDueSince
				}
				if want, _ := time.Parse(time.RFC3339Nano, tc.wantStart); !got.Equal(want) || got.Location() != time.UTC {
					t.Fatalf("%s: read %v, want %s", name, got, tc.wantStart)
				}
			}
		})
	}
	// The admin API's records take the same rules.
	ps, err := catalogfile.CheckRecord(playback.KindAccount, []byte(`{"id":"a","plan_id":"p","territory":"DE","status":"past_due","past_due_since":"2016-12-31T23:59:60Z"}`))
	if err != nil || len(ps) != 1 || ps[0].Pointer != "/past_due_since" {
		t.Fatalf("CheckRecord: %v %v, want a problem at /past_due_since", ps, err)
	}
	ps, err = catalogfile.CheckRecord(playback.KindAccount, []byte(`{"id":"a","plan_id":"p","territory":"DE","status":"past_due","past_due_since":"2016-12-31t23:59:59z"}`))
	if err != nil || len(ps) != 0 {
		t.Fatalf("CheckRecord of a lowercase date: %v %v", ps, err)
	}
}
