package pickedge_test

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"reflect"
	"testing"
	"time"

	"github.com/playplane/playplane/events"
	"github.com/playplane/playplane/functions/pickedge"
	"github.com/playplane/playplane/shared/openapi/openapitest"
)

// TestReportedAtAsTheSchemaReadsIt: an edge report's reported_at, declared
// format date-time, reads as the catalogue's date-times do
// (playback.ParseDateTime): the lower-case t and z RFC 3339 allows are a
// report like any other, and a leap second, which time.Time cannot hold,
// is a 400 naming the member, with nothing published. The OpenAPI
// document (its JSON Schema library asserting formats) takes both
// requests, and documents both answers.
func TestReportedAtAsTheSchemaReadsIt(t *testing.T) {
	t.Parallel()
	h := newHarness(t, options{noConsumer: true})
	now := time.Date(2026, 12, 2, 6, 0, 0, 0, time.UTC)
	h.now.Store(now.UnixNano())
	spec, err := openapitest.Load()
	if err != nil {
		t.Fatal(err)
	}
	send := func(reportedAt string) *httptest.ResponseRecorder {
		t.Helper()
		body := []byte(`{"edge_id":"fra-1","load":10,"capacity":100,"healthy":true,"reported_at":"` + reportedAt + `"}`)
		req := httptest.NewRequest(http.MethodPost, "/v1/edges/health", bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set(pickedge.HeaderEdgeID, "fra-1")
		req.Header.Set(pickedge.HeaderEdgeSignature, pickedge.SignEdgeReport(h.keys["fra-1"][0], now, body))
		op, err := spec.ValidateRequest(req, body)
		if err != nil {
			t.Fatalf("reported_at %q: the document refuses the request: %v", reportedAt, err)
		}
		rec := httptest.NewRecorder()
		h.h.ServeHTTP(rec, req)
		if err := spec.ValidateResponse(op, rec.Result(), rec.Body.Bytes()); err != nil {
			t.Errorf("reported_at %q: %v", reportedAt, err)
		}
		return rec
	}
	rec := send("2016-12-31T23:59:60Z")
	if e := errorOf(t, rec); rec.Code != http.StatusBadRequest || e.Reason != "leap_second" ||
		!reflect.DeepEqual(e.Details, map[string]any{"pointer": "/reported_at"}) {
		t.Fatalf("leap second: %d %s, want 400 leap_second naming /reported_at", rec.Code, rec.Body)
	}
	if rec := send("2026-12-02t06:00:00z"); rec.Code != http.StatusAccepted {
		t.Fatalf("lower-case t and z: %d %s, want 202", rec.Code, rec.Body)
	}
	if n := h.bus.count(events.TopicEdgeHealth); n != 1 {
		t.Errorf("%d reports published, want the lower-case one", n)
	}
}
