package authorizeplay_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/playplane/playplane/functions/authorizeplay"
	"github.com/playplane/playplane/shared/demo"
	"github.com/playplane/playplane/shared/playback"
)

// streamLimitOf decodes a 409 stream_limit: its limit and the devices of
// the sessions it lists, in its order.
func streamLimitOf(t *testing.T, rec *httptest.ResponseRecorder) (int, []string, []authorizeplay.SessionView) {
	t.Helper()
	var body struct {
		Error struct {
			Reason  string `json:"reason"`
			Details struct {
				Limit    int                         `json:"limit"`
				Sessions []authorizeplay.SessionView `json:"sessions"`
			} `json:"details"`
		} `json:"error"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil || rec.Code != http.StatusConflict || body.Error.Reason != "stream_limit" {
		t.Fatalf("got %d %s, want 409 stream_limit", rec.Code, rec.Body)
	}
	var devices []string
	for _, s := range body.Error.Details.Sessions {
		devices = append(devices, s.DeviceID)
	}
	return body.Error.Details.Limit, devices, body.Error.Details.Sessions
}

// TestPlanDowngradeWithMoreSessionsThanItsLimit: a household whose plan
// was lowered below the streams it runs keeps them (as a downgrade takes
// effect at the next play, not by cutting running streams), and every
// play, from a new device or from one that holds a stream, hears
// stream_limit with the new limit and every other running session, until
// ends bring the household under it.
func TestPlanDowngradeWithMoreSessionsThanItsLimit(t *testing.T) {
	t.Parallel()
	// Nothing races here, so the Firestore emulator proves it too.
	stores := append(slices.Clip(deviceStores), struct {
		name string
		open func(t *testing.T) playback.Store
	}{"firestore", openFirestore})
	for _, st := range stores {
		t.Run(st.name, func(t *testing.T) {
			t.Parallel()
			h, _ := newHookHarness(t, st.open(t))
			ctx := context.Background()
			acct := demo.AccountKids // premium: 4 streams
			t0 := h.now
			ids := map[string]string{}
			for i, d := range []string{"a", "b", "c", "d"} {
				h.now = t0.Add(time.Duration(i) * time.Second)
				resp, _ := h.admitted(t, h.play(acct, "big-buck-bunny", d))
				ids[d] = resp.SessionID
			}
			h.now = t0.Add(5 * time.Second)
			if err := h.store.PutPlan(ctx, playback.Plan{ID: "premium", Name: "Premium", MaxStreams: 2, MaxDevices: 10,
				MaxQuality: playback.QualityUHD}); err != nil {
				t.Fatal(err)
			}
			for _, tc := range []struct {
				name, device string
				want         []string
			}{
				{name: "a new device", device: "e", want: []string{"a", "b", "c", "d"}},
				{name: "a device holding a stream", device: "b", want: []string{"a", "c", "d"}},
			} {
				limit, got, views := streamLimitOf(t, h.play(acct, "big-buck-bunny", tc.device))
				if limit != 2 || !slices.Equal(got, tc.want) {
					t.Fatalf("%s: 409 limit %d lists %v, want limit 2 and %v", tc.name, limit, got, tc.want)
				}
				for _, v := range views {
					if v.SessionID != ids[v.DeviceID] {
						t.Fatalf("%s: 409 lists %+v, want session %s", tc.name, v, ids[v.DeviceID])
					}
				}
			}
			if active := h.activeOn(t, acct, "b"); len(active) != 1 || active[0].ID != ids["b"] {
				t.Fatalf("the refused play of b changed its stream: %+v", active)
			}
			for _, d := range []string{"a", "c"} {
				if rec := h.do(http.MethodDelete, "/v1/sessions/"+ids[d], h.token(acct), ""); rec.Code != http.StatusOK {
					t.Fatalf("DELETE %s: %d %s", d, rec.Code, rec.Body)
				}
			}
			// b and d run: b playing again replaces its own stream.
			h.admitted(t, h.play(acct, "big-buck-bunny", "b"))
			_, got, _ := streamLimitOf(t, h.play(acct, "big-buck-bunny", "e"))
			if !slices.Equal(got, []string{"d", "b"}) {
				t.Fatalf("409 after the ends lists %v, want [d b]", got)
			}
		})
	}
}

// TestNewDevicesRaceForTheLastDeviceSlot: plays from new devices sent at
// once when the plan has room for one more registered device register
// exactly one; every other play hears 403 device_limit (never 409 or 5xx)
// and registers nothing.
func TestNewDevicesRaceForTheLastDeviceSlot(t *testing.T) {
	t.Parallel()
	for _, st := range deviceStores {
		t.Run(st.name, func(t *testing.T) {
			t.Parallel()
			h, _ := newHookHarness(t, st.open(t))
			ctx := context.Background()
			acct := demo.AccountKids
			if err := h.store.PutPlan(ctx, playback.Plan{ID: "premium", Name: "Premium", MaxStreams: 8, MaxDevices: 3,
				MaxQuality: playback.QualityUHD}); err != nil {
				t.Fatal(err)
			}
			for _, d := range []string{"old-1", "old-2"} {
				h.admitted(t, h.play(acct, "big-buck-bunny", d))
			}
			for round := range 4 {
				const racers = 6
				recs := make([]*httptest.ResponseRecorder, racers)
				var wg sync.WaitGroup
				start := make(chan struct{})
				for i := range racers {
					wg.Go(func() {
						<-start
						recs[i] = h.play(acct, "big-buck-bunny", fmt.Sprintf("r%d-new-%d", round, i))
					})
				}
				close(start)
				wg.Wait()
				winner := ""
				for i, rec := range recs {
					switch {
					case rec.Code == http.StatusCreated && winner == "":
						winner = fmt.Sprintf("r%d-new-%d", round, i)
					case rec.Code == http.StatusForbidden && errorOf(t, rec).Reason == playback.ReasonDeviceLimit:
					default:
						t.Fatalf("round %d: play %d answered %d %s", round, i, rec.Code, rec.Body)
					}
				}
				a, err := h.store.GetAccount(ctx, acct)
				if err != nil {
					t.Fatal(err)
				}
				if winner == "" || len(a.Devices) != 3 || !a.HasDevice(winner) {
					t.Fatalf("round %d: winner %q, devices %+v: want exactly one new device registered", round, winner, a.Devices)
				}
				if _, err := h.store.UpdateAccount(ctx, acct, func(a *playback.Account) error {
					a.Devices = slices.DeleteFunc(a.Devices, func(d playback.Device) bool { return d.ID == winner })
					return nil
				}); err != nil {
					t.Fatal(err)
				}
				for _, s := range h.activeOn(t, acct, winner) {
					if _, err := h.store.EndSession(ctx, s.ID, playback.EndByUser, h.now); err != nil {
						t.Fatal(err)
					}
				}
			}
		})
	}
}

// TestRetriedPlayRacesAnotherDevice: a player retrying its play (its
// answer lost) while another device of a one-stream household asks: the
// retries each replace the device's own stream, so the slot is never free
// and the other device always hears stream_limit listing exactly the one
// stream; one session stays live.
func TestRetriedPlayRacesAnotherDevice(t *testing.T) {
	t.Parallel()
	for _, st := range deviceStores {
		t.Run(st.name, func(t *testing.T) {
			t.Parallel()
			h, _ := newHookHarness(t, st.open(t))
			acct := demo.AccountSolo                                   // basic: 1 stream, 2 devices
			phone, _ := h.admitted(t, h.play(acct, "sintel", "phone")) // registers the phone
			if _, err := h.store.EndSession(context.Background(), phone.SessionID, playback.EndStopped, h.now); err != nil {
				t.Fatal(err)
			}
			h.admitted(t, h.play(acct, "sintel", "tv"))
			for round := range 4 {
				recs := make([]*httptest.ResponseRecorder, 6)
				var wg sync.WaitGroup
				start := make(chan struct{})
				for i := range recs {
					dev := []string{"tv", "phone"}[i%2]
					wg.Go(func() {
						<-start
						recs[i] = h.play(acct, "sintel", dev)
					})
				}
				close(start)
				wg.Wait()
				for i, rec := range recs {
					if i%2 == 0 {
						if rec.Code != http.StatusCreated {
							t.Fatalf("round %d: tv's retry answered %d %s", round, rec.Code, rec.Body)
						}
						continue
					}
					if _, got, _ := streamLimitOf(t, rec); !slices.Equal(got, []string{"tv"}) {
						t.Fatalf("round %d: phone's 409 lists %v, want [tv]", round, got)
					}
				}
				active, err := h.store.ListActiveSessions(context.Background(), acct, h.now)
				if err != nil {
					t.Fatal(err)
				}
				if len(active) != 1 || active[0].DeviceID != "tv" {
					t.Fatalf("round %d: active %+v, want tv's one stream", round, active)
				}
			}
		})
	}
}
