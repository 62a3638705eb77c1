package bolt

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/playplane/playplane/shared/playback"
)

// filled sets every field of v, recursively, to a distinct non-zero value,
// so a field added to a record type and forgotten by the binary form fails
// the round trip below.
func filled(t *testing.T, v reflect.Value, seed *int64) {
	t.Helper()
	*seed++
	switch v.Kind() {
	case reflect.String:
		v.SetString("s" + strings.Repeat("x", int(*seed)))
	case reflect.Int, reflect.Int64:
		v.SetInt(*seed * 1001)
	case reflect.Bool:
		v.SetBool(true)
	case reflect.Struct:
		if v.Type() == reflect.TypeFor[time.Time]() {
			v.Set(reflect.ValueOf(time.Date(2026, 11, 23, 19, 0, 0, int(*seed)*1_000_001, time.UTC)))
			return
		}
		for i := range v.NumField() {
			if v.Type().Field(i).Tag.Get("json") == "-" {
				continue // never part of a record (Session.Lease: a store's own locator)
			}
			filled(t, v.Field(i), seed)
		}
	default:
		t.Fatalf("no test value for a %s field: teach the binary record form and this test about it", v.Type())
	}
}

func TestBinaryRecordsRoundTrip(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		v    any // pointer to the record
	}{
		{"session", &playback.Session{}},
		{"progress", &playback.Progress{}},
		{"session qoe", &playback.SessionQoE{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			seed := int64(0)
			filled(t, reflect.ValueOf(tc.v).Elem(), &seed)
			rec := reflect.ValueOf(tc.v).Elem().Interface()
			raw, err := encodeRecord(rec)
			if err != nil || raw[0] < recordV1 || raw[0] > recordV4 {
				t.Fatalf("encodeRecord = %x, %v", raw, err)
			}
			got := reflect.New(reflect.TypeOf(rec))
			if err := decodeRecord(raw, got.Interface()); err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got.Elem().Interface(), rec) {
				t.Fatalf("round trip\n got %+v\nwant %+v", got.Elem().Interface(), rec)
			}
			// Zero values (zero times included) survive too.
			zero := reflect.New(reflect.TypeOf(rec))
			raw, _ = encodeRecord(zero.Elem().Interface())
			got = reflect.New(reflect.TypeOf(rec))
			if err := decodeRecord(raw, got.Interface()); err != nil || !reflect.DeepEqual(got.Elem().Interface(), zero.Elem().Interface()) {
				t.Fatalf("zero round trip %+v, %v", got.Elem().Interface(), err)
			}
			// Every cut of the record is an error, never a silently short record.
			full, _ := encodeRecord(rec)
			for n := 1; n < len(full); n++ {
				if err := decodeRecord(full[:n], reflect.New(reflect.TypeOf(rec)).Interface()); err == nil {
					t.Fatalf("record cut to %d of %d bytes decoded", n, len(full))
				}
			}
			if err := decodeRecord(append(full, 0), reflect.New(reflect.TypeOf(rec)).Interface()); err == nil {
				t.Fatal("trailing byte accepted")
			}
		})
	}
}

// TestJSONRecordsStillRead: files written before the binary form hold
// these records as JSON.
func TestJSONRecordsStillRead(t *testing.T) {
	t.Parallel()
	at := time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)
	want := playback.Session{ID: "ses_1", AccountID: "acct_1", DeviceID: "tv", TitleID: "sintel", StartedAt: at,
		LastSeenAt: at, ExpiresAt: at.Add(2 * time.Minute)}
	raw, err := json.Marshal(want)
	if err != nil {
		t.Fatal(err)
	}
	var got playback.Session
	if err := decodeRecord(raw, &got); err != nil || !reflect.DeepEqual(got, want) {
		t.Fatalf("decodeRecord(JSON) = %+v, %v", got, err)
	}
	// Records without a binary form stay JSON.
	if raw, err := encodeRecord(playback.Plan{ID: "basic", MaxStreams: 1}); err != nil || raw[0] != '{' {
		t.Fatalf("plan record %q, %v", raw, err)
	}
}

// TestSessionQoEWithoutPlayheadStillRead: session QoE records written
// before the CMCD playhead (recordV1) end at UpdatedAt and read with no
// playhead; those written before its MovedAt (recordV2) read without it,
// and those written before the play its QoE names (recordV3) name none.
func TestSessionQoEWithoutPlayheadStillRead(t *testing.T) {
	t.Parallel()
	at := time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)
	want := playback.SessionQoE{SessionID: "ses_1", AccountID: "acct_1", TitleID: "sintel", DeviceTime: at, Heartbeats: 3,
		QoE: playback.QoE{BitrateKbps: 3000, PlayedMS: 60_000}, UpdatedAt: at}
	raw, err := encodeRecord(want)
	if err != nil || raw[0] != recordV4 {
		t.Fatalf("encodeRecord = %x, %v", raw, err)
	}
	// The zero playhead is six bytes: flags, position, duration,
	// advanced, state, moved at; no play named is one more.
	v1 := append([]byte{recordV1}, raw[1:len(raw)-7]...)
	var got playback.SessionQoE
	if err := decodeRecord(v1, &got); err != nil || !reflect.DeepEqual(got, want) {
		t.Fatalf("decodeRecord(v1) = %+v, %v", got, err)
	}
	want.Playhead = playback.Playhead{Known: true, PositionMS: 42_000, State: "p"}
	raw, _ = encodeRecord(want)
	v2 := append([]byte{recordV2}, raw[1:len(raw)-2]...) // the zero MovedAt is one byte, no play named one more
	if err := decodeRecord(v2, &got); err != nil || !reflect.DeepEqual(got, want) {
		t.Fatalf("decodeRecord(v2) = %+v, %v", got, err)
	}
	want.Playhead.MovedAt = at.Add(-time.Second)
	raw, _ = encodeRecord(want)
	v3 := append([]byte{recordV3}, raw[1:len(raw)-1]...) // no play named is one byte
	if err := decodeRecord(v3, &got); err != nil || !reflect.DeepEqual(got, want) {
		t.Fatalf("decodeRecord(v3) = %+v, %v", got, err)
	}
	want.QoE.Continued, want.QoE.View = true, "ses_0"
	raw, _ = encodeRecord(want)
	if err := decodeRecord(raw, &got); err != nil || !reflect.DeepEqual(got, want) {
		t.Fatalf("decodeRecord(v4) = %+v, %v", got, err)
	}
}
