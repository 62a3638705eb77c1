package heartbeat_test

import (
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/playplane/playplane/shared/httpx"
	"github.com/playplane/playplane/shared/openapi/openapitest"
)

// TestDeviceTimeAsTheSchemaReadsIt: the heartbeat's device_time, declared
// format date-time, reads as the catalogue's date-times do
// (playback.ParseDateTime): the lower-case t and z RFC 3339 allows are a
// heartbeat like any other, and a leap second, which time.Time cannot
// hold, is a 400 naming the member, with nothing written. The OpenAPI
// document (its JSON Schema library asserting formats) takes both
// requests, and documents both answers.
func TestDeviceTimeAsTheSchemaReadsIt(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOptions{})
	h.mu.Lock()
	h.now = time.Date(2026, 12, 2, 6, 0, 30, 0, time.UTC)
	h.mu.Unlock()
	id, tok := h.play("acct_a", "title_1", 2)
	spec, err := openapitest.Load()
	if err != nil {
		t.Fatal(err)
	}
	beat := func(deviceTime string) *httptest.ResponseRecorder {
		t.Helper()
		body := `{"event":"progress","position_ms":1000,"duration_ms":5400000,"device_time":"` + deviceTime + `","qoe":{}}`
		req := httptest.NewRequest(http.MethodPost, "/v1/playback/"+id+"/heartbeat", strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+tok)
		req.Header.Set("Content-Type", "application/json")
		op, err := spec.ValidateRequest(req, []byte(body))
		if err != nil {
			t.Fatalf("device_time %q: the document refuses the request: %v", deviceTime, err)
		}
		rec := httptest.NewRecorder()
		h.h.ServeHTTP(rec, req)
		if err := spec.ValidateResponse(op, rec.Result(), rec.Body.Bytes()); err != nil {
			t.Errorf("device_time %q: %v", deviceTime, err)
		}
		return rec
	}
	rec := beat("2016-12-31T23:59:60Z")
	e := decode[httpx.ErrorBody](t, rec)
	if rec.Code != http.StatusBadRequest || e.Error.Reason != "leap_second" ||
		!reflect.DeepEqual(e.Error.Details, map[string]any{"pointer": "/device_time"}) {
		t.Fatalf("leap second: %d %s, want 400 leap_second naming /device_time", rec.Code, rec.Body)
	}
	if rec := beat("2026-12-02t06:00:00z"); rec.Code != http.StatusOK {
		t.Fatalf("lower-case t and z: %d %s, want 200", rec.Code, rec.Body)
	}
	h.idle()
	p, err := h.bolt.GetProgress(t.Context(), "acct_a", "title_1")
	if err != nil || p.PositionMS != 1000 || !p.DeviceTime.Equal(time.Date(2026, 12, 2, 6, 0, 0, 0, time.UTC)) {
		t.Fatalf("progress %+v, %v: want 1000 ms at 2026-12-02T06:00:00Z", p, err)
	}
}
