package main

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// TestBeatFaultsHoldURLsThen: with a fault that arms another (then) once
// answered, as in the row where the start of the session that takes over
// is refused too, the URLs of the first session that come after its
// start's answer (the page asks for them beside the start, and either may
// reach the runner first) are held HoldURLsMS, not until the next fault
// is answered: that one refuses the start of the session that takes
// over, which cannot come before the page has the first session's URLs.
func TestBeatFaultsHoldURLsThen(t *testing.T) {
	t.Parallel()
	var f beatFaults
	expired := beatFault{Event: "start", Status: http.StatusUnauthorized, Code: "unauthenticated", Reason: "token_expired",
		Count: 1, HoldURLsMS: 50}
	again := expired
	expired.then = &again
	f.arm(expired)
	start := httptest.NewRequest(http.MethodPost, "/v1/playback/ses_a/heartbeat", strings.NewReader(`{"event":"start"}`))
	if _, faulted := f.serve(httptest.NewRecorder(), start); !faulted {
		t.Fatal("the start of ses_a was not answered by the fault")
	}
	// Long past the hold: a request still held then waits for a fault
	// that is not its session's.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	urls := httptest.NewRequest(http.MethodPost, "/v1/playback/ses_a/urls", strings.NewReader(`{}`)).WithContext(ctx)
	f.serve(httptest.NewRecorder(), urls)
	if ctx.Err() != nil {
		t.Errorf("the URLs of ses_a, asked after its start was answered 401, were held until the request gave up (%v), want them let go after the hold", ctx.Err())
	}
}
