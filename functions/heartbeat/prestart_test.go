package heartbeat_test

import (
	"context"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/playplane/playplane/events"
	"github.com/playplane/playplane/shared/playback"
)

// TestViewsThatEndBeforeTheFirstFrame: a player has no position before its
// first frame, and says so by leaving position_ms and duration_ms out. Its
// stop then is Mux's exit before video start and its error a playback
// failure, counted in the QoE views, while the resume position the account
// had stays as it was (issue #18: a web player that left or failed before
// the first frame only ended its session, which reached no view).
func TestViewsThatEndBeforeTheFirstFrame(t *testing.T) {
	t.Parallel()
	for _, wp := range writePaths {
		for _, tc := range []struct {
			name          string
			events        []string
			giveBack      bool // the player then ends the session with DELETE
			wantExit      bool
			wantFailure   bool
			wantEndReason string
		}{
			{name: "leave", events: []string{events.HeartbeatStop}, wantExit: true, wantEndReason: playback.EndStopped},
			{name: "fail and give the stream back", events: []string{events.HeartbeatError}, giveBack: true,
				wantFailure: true, wantEndReason: playback.EndByUser},
			{name: "fail and leave", events: []string{events.HeartbeatError, events.HeartbeatStop},
				wantFailure: true, wantEndReason: playback.EndStopped},
		} {
			t.Run(wp.name+"/"+tc.name, func(t *testing.T) {
				t.Parallel()
				h := newHarness(t, harnessOptions{unbatched: wp.unbatched, qoeViews: true})
				ctx := context.Background()
				saved := playback.Progress{AccountID: "acct_e", TitleID: "title_1", SessionID: "ses_earlier", DeviceID: "tv",
					PositionMS: 123_000, DurationMS: 5_400_000, DeviceTime: h.clock().Add(-time.Hour), UpdatedAt: h.clock().Add(-time.Hour)}
				if _, err := h.bolt.SaveProgress(ctx, saved); err != nil {
					t.Fatal(err)
				}
				id, tok := h.play("acct_e", "title_1", 1)
				for i, event := range tc.events {
					h.advance(time.Second)
					body := fmt.Sprintf(`{"event":%q,"device_time":%q,"qoe":{"cdn":"cdn-a"}}`, event, h.clock().Add(time.Duration(i)*time.Millisecond).Format(time.RFC3339Nano))
					if rec := h.beat(id, tok, body); rec.Code != http.StatusOK {
						t.Fatalf("%s without a position: %d %s", event, rec.Code, rec.Body)
					}
				}
				h.idle()
				if tc.giveBack {
					if _, err := h.bolt.EndSession(ctx, id, playback.EndByUser, h.clock()); err != nil {
						t.Fatal(err)
					}
				}
				if s := h.session(id); s.EndedAt.IsZero() || s.EndReason != tc.wantEndReason {
					t.Fatalf("session %+v, want ended %s", s, tc.wantEndReason)
				}
				if p, err := h.bolt.GetProgress(ctx, "acct_e", "title_1"); err != nil || p.PositionMS != saved.PositionMS || p.SessionID != saved.SessionID {
					t.Fatalf("resume position %+v, %v: want the earlier session's, untouched", p, err)
				}
				views, err := h.bolt.QoEViews(ctx, h.clock().Add(-time.Hour), h.clock().Add(time.Hour))
				if err != nil {
					t.Fatal(err)
				}
				if len(views) != 1 || views[0].SessionID != id || views[0].Started() || views[0].CDN != "cdn-a" {
					t.Fatalf("views %+v, want one for %s, not started", views, id)
				}
				aggs := playback.AggregateQoE(views, playback.QoEByTitle, h.clock())
				if len(aggs) != 1 || aggs[0].Value != "title_1" || aggs[0].Views != 1 ||
					aggs[0].ExitsBeforeStart != btoi(tc.wantExit) || aggs[0].Failures != btoi(tc.wantFailure) {
					t.Fatalf("aggregates %+v, want exits before start %v, failures %v", aggs, tc.wantExit, tc.wantFailure)
				}
			})
		}
	}
}

// TestViewAbandonedBeforeTheFirstFrame: a player says start (without a
// position) as soon as its play is admitted, and then its page dies
// without a word (a tab crash: no stop, no error). The view is in
// progress while the session's lease could still be renewed, and an exit
// before video start once it has run out (the lease end the last
// heartbeat left, which its response told the player), as Mux ends a
// view that sends nothing more (issue #18).
func TestViewAbandonedBeforeTheFirstFrame(t *testing.T) {
	t.Parallel()
	for _, wp := range writePaths {
		t.Run(wp.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t, harnessOptions{unbatched: wp.unbatched, qoeViews: true})
			ctx := context.Background()
			id, tok := h.play("acct_e", "title_1", 1)
			h.advance(time.Second)
			rec := h.beat(id, tok, fmt.Sprintf(`{"event":"start","device_time":%q,"qoe":{"cdn":"cdn-a"}}`, h.clock().Format(time.RFC3339Nano)))
			if rec.Code != http.StatusOK {
				t.Fatalf("start without a position: %d %s", rec.Code, rec.Body)
			}
			// Inside the renewal slack the start left the play's lease
			// as it was: it runs out before received_at + LEASE_TTL.
			leaseEnd := decode[HeartbeatAnswer](t, rec).LeaseExpiresAt
			h.idle()
			exits := func(now time.Time) int {
				t.Helper()
				views, err := h.bolt.QoEViews(ctx, now.Add(-time.Hour), now.Add(time.Hour))
				if err != nil {
					t.Fatal(err)
				}
				aggs := playback.AggregateQoE(views, playback.QoEByTitle, now)
				if len(aggs) != 1 || aggs[0].Views != 1 || aggs[0].Started != 0 || aggs[0].Failures != 0 {
					t.Fatalf("aggregates %+v, want one view of %s, not started, not failed", aggs, id)
				}
				return aggs[0].ExitsBeforeStart
			}
			if n := exits(leaseEnd); n != 0 {
				t.Fatalf("%d exits before start at the lease's end, want the view in progress", n)
			}
			if n := exits(leaseEnd.Add(time.Millisecond)); n != 1 {
				t.Fatalf("%d exits before start past the lease, want the silent view counted", n)
			}
		})
	}
}
