package events_test

import (
	"reflect"
	"testing"
	"time"

	"github.com/playplane/playplane/events"
	"github.com/playplane/playplane/shared/playback"
)

// TestHeartbeatRequestDateTimes: device_time is read as the schema's
// date-time format reads it (playback.ParseDateTime), as catalogue files
// are: the lower-case t and z RFC 3339 allows are taken, which Go's
// time.Time JSON decoding refuses, and a leap second, which time.Time
// cannot hold, is a typed refusal naming the member.
func TestHeartbeatRequestDateTimes(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, deviceTime string
		want             time.Time
		reason           string // "" = accepted
	}{
		{name: "lower-case t and z", deviceTime: "2026-12-02t06:00:00z", want: time.Date(2026, 12, 2, 6, 0, 0, 0, time.UTC)},
		{name: "upper case", deviceTime: "2026-12-02T06:00:00Z", want: time.Date(2026, 12, 2, 6, 0, 0, 0, time.UTC)},
		{name: "lower-case t with an offset", deviceTime: "2026-12-02t07:00:00.5+01:00", want: time.Date(2026, 12, 2, 6, 0, 0, 5e8, time.UTC)},
		{name: "leap second", deviceTime: "2016-12-31T23:59:60Z", reason: "leap_second"},
		{name: "not a date-time", deviceTime: "yesterday", reason: playback.ReasonWrongType},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			body := `{"event":"progress","position_ms":1000,"duration_ms":5400000,"device_time":"` + tc.deviceTime + `","qoe":{}}`
			got, err := events.DecodeHeartbeatRequest([]byte(body))
			if tc.reason == "" {
				if err != nil || !got.DeviceTime.Equal(tc.want) {
					t.Fatalf("device_time %q: %v, %v, want %v", tc.deviceTime, got.DeviceTime, err, tc.want)
				}
				return
			}
			e := playback.AsError(err)
			if e.Code != playback.CodeInvalid || e.Reason != tc.reason ||
				!reflect.DeepEqual(e.Details, map[string]string{"pointer": "/device_time"}) {
				t.Fatalf("device_time %q: %v (details %v), want invalid/%s naming /device_time", tc.deviceTime, err, e.Details, tc.reason)
			}
		})
	}
}
