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

// TestConcurrentPlaysAdmitExactlyTheLimit: plays from more devices than
// the plan has streams, sent at once, admit exactly the limit; every other
// play hears stream_limit (never a 5xx while the household plays). Even
// rounds play from new devices (each admission also registers its device,
// moving the account under the others), odd rounds from registered ones
// (each admission records the device's first play on the account). Each
// admission that writes the account sends the plays still in flight back
// to read again: a plan with more streams than a play had reads answered
// some of them 503.
func TestConcurrentPlaysAdmitExactlyTheLimit(t *testing.T) {
	t.Parallel()
	type raceCase struct {
		name  string
		open  func(t *testing.T) playback.Store
		limit int
	}
	var cases []raceCase
	for _, st := range deviceStores {
		for _, limit := range []int{4, 8} {
			cases = append(cases, raceCase{fmt.Sprintf("%s/%d streams", st.name, limit), st.open, limit})
		}
	}
	for _, st := range cases {
		t.Run(st.name, func(t *testing.T) {
			t.Parallel()
			h, _ := newHookHarness(t, st.open(t))
			// premium: 10 devices; the kids account has none yet.
			limit := st.limit
			if err := h.store.PutPlan(context.Background(), playback.Plan{ID: "premium", Name: "Premium",
				MaxStreams: limit, MaxDevices: 10, MaxQuality: playback.QualityUHD}); err != nil {
				t.Fatal(err)
			}
			const racers = 10
			for round := range 6 {
				acct := demo.AccountKids
				ctx := context.Background()
				registered := round%2 == 1
				device := func(i int) string { return fmt.Sprintf("r%d-d%d", round, i) }
				if registered {
					if _, err := h.store.UpdateAccount(ctx, acct, func(a *playback.Account) error {
						for i := range racers {
							a.Devices = append(a.Devices, playback.Device{ID: device(i), RegisteredAt: h.now})
						}
						return nil
					}); err != nil {
						t.Fatal(err)
					}
				}
				recs := make([]*httptest.ResponseRecorder, racers)
				codes := make([]int, racers)
				var wg sync.WaitGroup
				start := make(chan struct{})
				for i := range racers {
					wg.Go(func() {
						<-start
						recs[i] = h.play(acct, "big-buck-bunny", device(i))
						codes[i] = recs[i].Code
					})
				}
				close(start)
				wg.Wait()
				admitted := 0
				for i, c := range codes {
					switch {
					case c == http.StatusCreated:
						admitted++
					case c == http.StatusConflict && errorOf(t, recs[i]).Reason == "stream_limit":
					default:
						t.Fatalf("round %d (registered %v): play %d answered %d %s", round, registered, i, c, recs[i].Body)
					}
				}
				active, err := h.store.ListActiveSessions(ctx, acct, h.now)
				if err != nil {
					t.Fatal(err)
				}
				if admitted != limit || len(active) != limit {
					t.Fatalf("round %d (registered %v): %d admitted, %d active, want exactly %d: %v", round, registered, admitted, len(active), limit, codes)
				}
				// Free the streams and the device slots for the next round.
				for _, s := range active {
					if _, err := h.store.EndSession(ctx, s.ID, playback.EndByUser, h.now); err != nil {
						t.Fatal(err)
					}
				}
				if _, err := h.store.UpdateAccount(ctx, acct, func(a *playback.Account) error { a.Devices = nil; return nil }); err != nil {
					t.Fatal(err)
				}
			}
		})
	}
}

// TestStreamLimitListsExactlyTheLiveSessions: the 409 lists the sessions
// that hold the household's streams at the play, oldest first, and none
// that ended (stopped from another screen) or lapsed (a player that
// stopped heartbeating), on every store.
func TestStreamLimitListsExactlyTheLiveSessions(t *testing.T) {
	t.Parallel()
	for _, st := range deviceStores {
		t.Run(st.name, func(t *testing.T) {
			t.Parallel()
			h, _ := newHookHarness(t, st.open(t))
			ctx := context.Background()
			acct := demo.AccountKids // premium: 4 streams, lease 2m
			t0 := h.now
			ids := map[string]string{}
			play := func(device string) {
				t.Helper()
				resp, _ := h.admitted(t, h.play(acct, "big-buck-bunny", device))
				ids[device] = resp.SessionID
			}
			for i, d := range []string{"a", "ended", "lapsed", "d"} {
				h.now = t0.Add(time.Duration(i) * time.Second) // oldest first is a, then d
				play(d)
			}
			if rec := h.do(http.MethodDelete, "/v1/sessions/"+ids["ended"], h.token(acct), ""); rec.Code != http.StatusOK {
				t.Fatalf("DELETE: %d %s", rec.Code, rec.Body)
			}
			h.now = t0.Add(90 * time.Second)
			for _, d := range []string{"a", "d"} { // their players heartbeat; lapsed's does not
				if _, err := h.store.ExtendLease(ctx, ids[d], h.now.Add(2*time.Minute), h.now); err != nil {
					t.Fatal(err)
				}
			}
			play("e")
			h.now = t0.Add(150 * time.Second) // lapsed's lease ran out at 122s
			play("f")
			rec := h.play(acct, "big-buck-bunny", "g")
			if rec.Code != http.StatusConflict || errorOf(t, rec).Reason != "stream_limit" {
				t.Fatalf("fifth stream: %d %s", rec.Code, rec.Body)
			}
			var body struct {
				Error struct {
					Details struct {
						Sessions []authorizeplay.SessionView `json:"sessions"`
					} `json:"details"`
				} `json:"error"`
			}
			if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, s := range body.Error.Details.Sessions {
				got = append(got, s.DeviceID)
				if s.SessionID != ids[s.DeviceID] || s.ExpiresAt.Before(h.now) || s.LastSeenAt.IsZero() {
					t.Errorf("listed %+v", s)
				}
			}
			if want := []string{"a", "d", "e", "f"}; !slices.Equal(got, want) {
				t.Fatalf("409 lists %v, want exactly the live %v", got, want)
			}
		})
	}
}
