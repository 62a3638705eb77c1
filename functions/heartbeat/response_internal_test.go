package heartbeat

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"
)

func TestHeartbeatResponseMatchesEncodingJSON(t *testing.T) {
	t.Parallel()
	at := time.Date(2026, 3, 1, 20, 15, 30, 123_000_000, time.UTC)
	for _, tc := range []struct {
		name string
		resp HeartbeatResponse
	}{
		{"lease", HeartbeatResponse{SessionID: "ses_abc", LeaseExpiresAt: at, NextHeartbeatMS: 30_000}},
		{"ended", HeartbeatResponse{SessionID: "ses_abc", Ended: true}},
		{"zone offset", HeartbeatResponse{SessionID: "s", LeaseExpiresAt: at.In(time.FixedZone("X", -5*3600)), NextHeartbeatMS: 1}},
		{"id json escapes", HeartbeatResponse{SessionID: "a\"b<c>&\u00e9\x01"}},
		{"zero", HeartbeatResponse{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var want bytes.Buffer
			if err := json.NewEncoder(&want).Encode(tc.resp); err != nil {
				t.Fatal(err)
			}
			got, err := tc.resp.appendJSON(nil)
			if err != nil || !bytes.Equal(got, want.Bytes()) {
				t.Fatalf("appendJSON %q, %v\nencoding/json %q", got, err, want.Bytes())
			}
		})
	}
}
