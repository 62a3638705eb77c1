package heartbeat_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/playplane/playplane/events"
	"github.com/playplane/playplane/shared/playback"
)

func cachedConfig() harnessOptions {
	cfg := defaultConfig()
	cfg.LeaseCache = true
	return harnessOptions{cfg: cfg}
}

// TestLeaseCacheAnswersInsideTheSlack: with the lease cache, a heartbeat
// whose lease this instance last saw inside the write slack costs no store
// call; the first one past the slack renews the lease in the store.
func TestLeaseCacheAnswersInsideTheSlack(t *testing.T) {
	t.Parallel()
	h := newHarness(t, cachedConfig())
	id, tok := h.play("acct_c", "title_1", 2)
	beat := func() *HeartbeatAnswer {
		t.Helper()
		rec := h.beat(id, tok, h.body(events.HeartbeatProgress, 1000, 0, ""))
		if rec.Code != http.StatusOK {
			t.Fatalf("heartbeat: %d %s", rec.Code, rec.Body)
		}
		a := decode[HeartbeatAnswer](t, rec)
		return &a
	}
	beat() // the first beat of this instance reads the session
	if n := h.store.leaseReads(); n != 1 {
		t.Fatalf("first heartbeat: %d store calls, want 1", n)
	}
	for range 3 {
		h.advance(5 * time.Second)
		beat()
	}
	if n := h.store.leaseReads(); n != 1 {
		t.Fatalf("heartbeats inside the slack made %d store calls, want none after the first", n-1)
	}
	h.advance(10 * time.Second) // 25 s after the lease was written: past the 20 s slack
	a := beat()
	if n := h.store.leaseReads(); n != 2 {
		t.Fatalf("a heartbeat past the slack made %d store calls, want 1", n-1)
	}
	if want := h.clock().Add(2 * time.Minute); !a.LeaseExpiresAt.Equal(want) || !h.session(id).ExpiresAt.Equal(want) {
		t.Fatalf("lease %v (stored %v), want renewed to %v", a.LeaseExpiresAt, h.session(id).ExpiresAt, want)
	}
	h.advance(5 * time.Second) // inside the slack of the renewal
	beat()
	if n := h.store.leaseReads(); n != 2 {
		t.Fatalf("a heartbeat inside the renewed lease's slack made %d store calls", n-2)
	}
}

// HeartbeatAnswer is the part of the answer these tests read.
type HeartbeatAnswer struct {
	LeaseExpiresAt time.Time `json:"lease_expires_at"`
}

// TestLeaseCacheStalenessBound: a session ended elsewhere (another
// instance, DELETE, a new play on the device) is answered from the cache
// until its lease must be renewed, at most LeaseRenewSlack after the
// lease was last written, then 410; without the cache, 410 at once. A stop
// handled by the instance itself is 410 at once, with no store call.
func TestLeaseCacheStalenessBound(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		cache bool
	}{{"cache", true}, {"no cache", false}} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			opts := cachedConfig()
			opts.cfg.LeaseCache = tc.cache
			h := newHarness(t, opts)
			slack := opts.cfg.LeaseRenewSlack
			id, tok := h.play("acct_s", "title_1", 2)
			written := h.clock() // the lease was last written at admission
			if rec := h.beat(id, tok, h.body(events.HeartbeatProgress, 1000, 0, "")); rec.Code != http.StatusOK {
				t.Fatalf("heartbeat: %d %s", rec.Code, rec.Body)
			}
			h.advance(time.Second)
			if _, err := h.bolt.EndSession(context.Background(), id, playback.EndByUser, h.clock()); err != nil {
				t.Fatal(err)
			}
			var lastOK time.Time
			for h.clock().Sub(written) <= slack+5*time.Second {
				rec := h.beat(id, tok, h.body(events.HeartbeatProgress, 1000, 0, ""))
				if rec.Code == http.StatusOK {
					lastOK = h.clock()
				} else if rec.Code != http.StatusGone {
					t.Fatalf("heartbeat after the end: %d %s", rec.Code, rec.Body)
				}
				h.advance(time.Second)
			}
			switch {
			case !tc.cache && !lastOK.IsZero():
				t.Fatalf("without the cache an ended session was answered 200 at %v", lastOK.Sub(written))
			case tc.cache && lastOK.IsZero():
				t.Fatal("the cache answered no heartbeat after the end: the test shows no staleness to bound")
			case tc.cache && lastOK.Sub(written) > slack:
				t.Fatalf("an ended session was answered 200 %v after its lease was written, past the %v slack", lastOK.Sub(written), slack)
			}
		})
	}
	t.Run("stop on this instance", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t, cachedConfig())
		id, tok := h.play("acct_t", "title_1", 2)
		if rec := h.beat(id, tok, h.body(events.HeartbeatProgress, 1000, 0, "")); rec.Code != http.StatusOK {
			t.Fatalf("heartbeat: %d %s", rec.Code, rec.Body)
		}
		h.advance(time.Second)
		if rec := h.beat(id, tok, h.body(events.HeartbeatStop, 2000, 0, "")); rec.Code != http.StatusOK {
			t.Fatalf("stop: %d %s", rec.Code, rec.Body)
		}
		before := h.store.leaseReads()
		h.advance(time.Second)
		rec := h.beat(id, tok, h.body(events.HeartbeatProgress, 3000, 0, ""))
		wantError(t, rec, http.StatusGone, playback.CodeGone, "session_ended")
		if n := h.store.leaseReads() - before; n != 0 {
			t.Fatalf("a heartbeat after this instance's stop made %d store calls", n)
		}
	})
}

// TestLeaseCacheKeepsThisInstancesStop: a heartbeat that renewed the lease
// just before this instance handled the session's stop must not bring the
// session back into the cache when it returns after the stop: later
// heartbeats would be answered 200 and enqueued, writing positions of a
// stopped session past HEARTBEAT_STOP_GRACE's rule.
func TestLeaseCacheKeepsThisInstancesStop(t *testing.T) {
	t.Parallel()
	h := newHarness(t, cachedConfig())
	id, tok := h.play("acct_r", "title_1", 2)
	renewed, release := make(chan struct{}), make(chan struct{})
	h.store.mu.Lock()
	h.store.afterRenew = func() {
		close(renewed)
		<-release
	}
	h.store.mu.Unlock()
	first := make(chan int)
	go func() {
		first <- h.beat(id, tok, h.body(events.HeartbeatProgress, 1000, 0, "")).Code
	}()
	<-renewed // the store renewed the lease; the heartbeat has not returned
	h.store.mu.Lock()
	h.store.afterRenew = nil
	h.store.mu.Unlock()
	if rec := h.beat(id, tok, h.body(events.HeartbeatStop, 2000, time.Second, "")); rec.Code != http.StatusOK {
		t.Fatalf("stop: %d %s", rec.Code, rec.Body)
	}
	close(release)
	if code := <-first; code != http.StatusOK {
		t.Fatalf("the heartbeat before the stop: %d", code)
	}
	h.advance(time.Second)
	wantError(t, h.beat(id, tok, h.body(events.HeartbeatProgress, 3000, 2*time.Second, "")), http.StatusGone, playback.CodeGone, "session_ended")
}
