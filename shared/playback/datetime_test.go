package playback_test

import (
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/playplane/playplane/shared/playback"
)

// TestParseDateTime: the schemas' date-time format, read (moved from
// catalogfile, whose date-times it read first).
func TestParseDateTime(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, in, want string // want "" for an error
		leap           bool
	}{
		{name: "upper", in: "2026-12-02T06:00:00Z", want: "2026-12-02T06:00:00Z"},
		{name: "lower", in: "2026-12-02t06:00:00z", want: "2026-12-02T06:00:00Z"},
		{name: "offset", in: "2026-12-02t07:30:00+01:30", want: "2026-12-02T06:00:00Z"},
		{name: "leap second", in: "2016-12-31T23:59:60Z", leap: true},
		{name: "leap second, lower case, with an offset", in: "2017-01-01t00:59:60+01:00", leap: true},
		{name: "not RFC 3339", in: "2026-12-02 06:00:00Z"},
		{name: "no zone", in: "2026-12-02T06:00:00"},
		{name: "a second 60 that is no leap second", in: "2026-12-02T06:00:60Z"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := playback.ParseDateTime(tc.in)
			if tc.want == "" {
				if err == nil || errors.Is(err, playback.ErrLeapSecond) != tc.leap {
					t.Fatalf("ParseDateTime(%q) = %v, %v, want an error (a leap second: %v)", tc.in, got, err, tc.leap)
				}
				return
			}
			if want, _ := time.Parse(time.RFC3339, tc.want); err != nil || !got.Equal(want) {
				t.Fatalf("ParseDateTime(%q) = %v, %v, want %s", tc.in, got, err, tc.want)
			}
		})
	}
}

// TestDateTimeMember: a request member's date-time is refused typed,
// naming the member by its pointer.
func TestDateTimeMember(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, in, reason string // reason "" = accepted
	}{
		{name: "lower case", in: "2026-12-02t06:00:00z"},
		{name: "leap second", in: "2016-12-31T23:59:60Z", reason: playback.ReasonLeapSecond},
		{name: "no date-time", in: "2026-12-02", reason: playback.ReasonWrongType},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := playback.DateTimeMember("/a/reported_at", tc.in)
			if tc.reason == "" {
				if err != nil || !got.Equal(time.Date(2026, 12, 2, 6, 0, 0, 0, time.UTC)) {
					t.Fatalf("%q: %v, %v", tc.in, got, err)
				}
				return
			}
			e := playback.AsError(err)
			if e.Code != playback.CodeInvalid || e.Reason != tc.reason || !reflect.DeepEqual(e.Details, map[string]string{"pointer": "/a/reported_at"}) {
				t.Fatalf("%q: %v (details %v), want invalid/%s naming /a/reported_at", tc.in, err, e.Details, tc.reason)
			}
		})
	}
}
