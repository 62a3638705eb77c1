package authorizeplay_test

import (
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/playplane/playplane/shared/demo"
	"github.com/playplane/playplane/shared/playback"
)

// TestReauthorizationFromARemovedDevice: DELETE /v1/devices/{id} of a
// device whose tab is asleep in a session whose lease lapsed, after
// another device's play counted that lease out (no renewal can extend it,
// so the removal's playback.EndSessions does not list it), stops that
// play all the same: the tab that wakes and re-authorizes naming the
// session is refused 410, writing nothing (the removed device is not
// registered again, nothing plays on it), as it is when the removal came
// while a renewal could still extend the lease; so too when new devices
// have since filled the registration it freed (410, not 403 device_limit,
// which would offer the viewer to remove a device to play there).
func TestReauthorizationFromARemovedDevice(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		// countedOut lets another device's play take the lapsed lease's
		// place before the removal.
		countedOut bool
		// filled registers other devices up to the plan's device limit
		// after the removal.
		filled bool
	}{
		{name: "lapsed, still renewable"},
		{name: "lapsed, its place taken", countedOut: true},
		{name: "lapsed, its place and its registration taken", countedOut: true, filled: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t)
			tok := h.token(demo.AccountFamily)
			asleep, _ := h.admitted(t, h.play(demo.AccountFamily, "sintel", "laptop"))
			h.now = asleep.LeaseExpiresAt.Add(time.Minute)
			if tc.countedOut {
				h.admitted(t, h.play(demo.AccountFamily, "sintel", "phone"))
			}
			h.mustDo(http.MethodDelete, "/v1/devices/laptop", http.StatusOK)
			for i := 0; tc.filled; i++ {
				list := h.devices(t, demo.AccountFamily)
				if len(list.Devices) >= list.MaxDevices {
					break
				}
				other, _ := h.admitted(t, h.play(demo.AccountFamily, "sintel", fmt.Sprintf("tablet-%d", i)))
				h.mustDo(http.MethodDelete, "/v1/sessions/"+other.SessionID, http.StatusOK)
			}
			rec := h.do(http.MethodPost, "/v1/play", tok,
				`{"title_id":"sintel","device_id":"laptop","replaces_session_id":"`+asleep.SessionID+`"}`)
			if e := errorOf(t, rec); rec.Code != http.StatusGone || e.Reason != playback.ReasonLeaseExpired {
				t.Fatalf("the removed laptop's re-authorization of %s on waking: %d %q, want 410 %s",
					asleep.SessionID, rec.Code, e.Reason, playback.ReasonLeaseExpired)
			}
			if s := h.activeOn(t, demo.AccountFamily, "laptop"); len(s) != 0 {
				t.Fatalf("the removed laptop plays %+v", s)
			}
			for _, d := range h.devices(t, demo.AccountFamily).Devices {
				if d.DeviceID == "laptop" {
					t.Fatalf("the removed laptop is registered again: %+v", d)
				}
			}
		})
	}
}
