package events_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/playplane/playplane/events"
	"github.com/playplane/playplane/shared/playback"
)

func TestHeartbeatSamples(t *testing.T) {
	t.Parallel()
	t.Run("request", func(t *testing.T) {
		t.Parallel()
		data := readSample(t, "heartbeat-request.json")
		got, err := events.DecodeHeartbeatRequest(data)
		if err != nil {
			t.Fatal(err)
		}
		var want events.HeartbeatRequest
		if err := stdDecode(data, &want, true); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, want) || got.Event != events.HeartbeatProgress || got.QoE.EdgeID == "" {
			t.Fatalf("fast %+v\nstd  %+v", got, want)
		}
	})
	message := func(t *testing.T, data []byte) events.Heartbeat {
		t.Helper()
		got, err := events.DecodeHeartbeat(data)
		if err != nil {
			t.Fatal(err)
		}
		var want events.Heartbeat
		if err := stdDecode(data, &want, true); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, want) || got.SessionID == "" || got.ReceivedAt.IsZero() || got.SessionStartedAt.IsZero() {
			t.Fatalf("fast %+v\nstd  %+v", got, want)
		}
		return got
	}
	t.Run("message", func(t *testing.T) {
		t.Parallel()
		message(t, readSample(t, "heartbeat.json"))
	})
	t.Run("sqs", func(t *testing.T) {
		t.Parallel()
		rec := sqsRecord(t, "heartbeat-sqs.json")
		h := message(t, []byte(rec.Body))
		if rec.Attributes["MessageGroupId"] != h.SessionID {
			t.Fatal("the FIFO group must be the session id")
		}
	})
	t.Run("pubsub push", func(t *testing.T) {
		t.Parallel()
		push := pushEnvelope(t, "heartbeat-pubsub.json")
		h := message(t, push.Message.Data)
		if push.Message.OrderingKey != h.SessionID {
			t.Fatal("the ordering key must be the session id")
		}
	})
}

// TestHeartbeatSchemas keeps the JSON schemas in step with the Go types.
func TestHeartbeatSchemas(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		file   string
		fields []string
		closed bool
	}{
		{"request", "heartbeat-request.json", jsonFields(events.HeartbeatRequest{}), true},
		{"message", "heartbeat.json", jsonFields(events.Heartbeat{}), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := checkSchema(t, tc.file, tc.fields, tc.closed)
			qoe := s.Defs["qoe"]
			var qoeProps []string
			for k := range qoe.Properties {
				qoeProps = append(qoeProps, k)
			}
			slices.Sort(qoeProps)
			if want := jsonFields(playback.QoE{}); !slices.Equal(qoeProps, want) {
				t.Fatalf("qoe properties %v, Go fields %v", qoeProps, want)
			}
		})
	}
}

func TestDecodeHeartbeatRequestErrors(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		body   string
		reason string
	}{
		{"empty", "", playback.ReasonBodyEmpty},
		{"whitespace", " \n\t", playback.ReasonBodyEmpty},
		{"array", `[]`, playback.ReasonWrongType},
		{"string", `"progress"`, playback.ReasonWrongType},
		{"unterminated", `{"event":"progress"`, playback.ReasonMalformedJSON},
		{"trailing comma", `{"event":"progress",}`, playback.ReasonMalformedJSON},
		{"trailing value", `{"event":"progress"} {}`, playback.ReasonMalformedJSON},
		{"unknown field", `{"event":"progress","speed":2}`, playback.ReasonUnknownField},
		{"case-folded field", `{"EVENT":"progress"}`, playback.ReasonUnknownField},
		{"unicode-folded field", `{"poſition_ms":1}`, playback.ReasonUnknownField},
		{"unknown qoe field", `{"qoe":{"bitrate":1}}`, playback.ReasonUnknownField},
		{"duplicate field", `{"position_ms":1,"position_ms":2}`, playback.ReasonDuplicateField},
		{"duplicate by escape", `{"event":"stop","\u0065vent":"progress"}`, playback.ReasonDuplicateField},
		{"duplicate qoe field", `{"qoe":{"rc":1,"rc":2}}`, playback.ReasonDuplicateField},
		{"string for integer", `{"position_ms":"1"}`, playback.ReasonWrongType},
		{"fraction", `{"position_ms":1.5}`, playback.ReasonWrongType},
		{"whole fraction", `{"position_ms":1.0}`, playback.ReasonWrongType},
		{"exponent", `{"position_ms":1e3}`, playback.ReasonWrongType},
		{"overflow", `{"position_ms":9223372036854775808}`, playback.ReasonWrongType},
		{"leading zero", `{"position_ms":01}`, playback.ReasonMalformedJSON},
		{"bare minus", `{"position_ms":-}`, playback.ReasonMalformedJSON},
		{"number for string", `{"event":1}`, playback.ReasonWrongType},
		{"epoch for time", `{"device_time":1772396130}`, playback.ReasonWrongType},
		{"not RFC 3339", `{"device_time":"2026-03-01 20:15:30"}`, playback.ReasonWrongType},
		{"array for qoe", `{"qoe":[]}`, playback.ReasonWrongType},
		{"bad escape", `{"event":"a\x"}`, playback.ReasonMalformedJSON},
		{"control character", "{\"event\":\"a\tb\"}", playback.ReasonMalformedJSON},
		{"bad literal", `{"event":nul}`, playback.ReasonMalformedJSON},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := events.DecodeHeartbeatRequest([]byte(tc.body))
			var e *playback.Error
			if !errors.As(err, &e) || e.Code != playback.CodeInvalid || e.Reason != tc.reason {
				t.Fatalf("err = %v, want reason %s", err, tc.reason)
			}
		})
	}
}

func TestDecodeHeartbeatRequestAccepts(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		body string
		want events.HeartbeatRequest
	}{
		{"null body leaves zero", `null`, events.HeartbeatRequest{}},
		{"nulls leave zero", `{"event":null,"position_ms":null,"device_time":null,"qoe":null}`, events.HeartbeatRequest{}},
		{"escapes", `{"event":"st\u006fp","qoe":{"cdn":"a\/b"}}`, events.HeartbeatRequest{Event: "stop", QoE: playback.QoE{CDN: "a/b"}}},
		{"extremes", `{"position_ms":-9223372036854775808,"duration_ms":9223372036854775807}`,
			events.HeartbeatRequest{PositionMS: -1 << 63, DurationMS: 1<<63 - 1}},
		{"negative zero", `{"position_ms":-0}`, events.HeartbeatRequest{}},
		{"whitespace everywhere", " {\n\"event\" :\t\"pause\" , \"qoe\" : { } }\r\n", events.HeartbeatRequest{Event: "pause"}},
		{"continued", `{"event":"start","qoe":{"continued":true,"rebuffer_count":1}}`,
			events.HeartbeatRequest{Event: "start", QoE: playback.QoE{Continued: true, RebufferCount: 1}}},
		{"continued with its play", `{"event":"start","qoe":{"continued":true,"view":"ses_1"}}`,
			events.HeartbeatRequest{Event: "start", QoE: playback.QoE{Continued: true, View: "ses_1"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := events.DecodeHeartbeatRequest([]byte(tc.body))
			if err != nil || !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("got %+v, %v; want %+v", got, err, tc.want)
			}
		})
	}
}

func TestDecodeHeartbeatSkipsUnknownFields(t *testing.T) {
	t.Parallel()
	data := `{"session_id":"s","future":{"a":[1,2.5e-3,{"b":null}],"c":"\u00e9"},"qoe":{"rc":3,"tb":[true,false]},"x":-0.0}`
	got, err := events.DecodeHeartbeat([]byte(data))
	if err != nil || got.SessionID != "s" || got.QoE.RebufferCount != 3 {
		t.Fatalf("got %+v, %v", got, err)
	}
	for _, bad := range []string{`{"x":[1,]}`, `{"x":{"a"}}`, `{"x":tru}`, `{"x":1.}`, `{"x":.5}`, `{"x":1e}`, `{"Session_ID":"s"}`, `{"qoe":{"RC":1}}`,
		`{"asn":-1}`, `{"asn":4294967296}`, `{"asn":1.5}`, `{"country":1}`, `{"asn":1,"asn":2}`} {
		if _, err := events.DecodeHeartbeat([]byte(bad)); !playback.IsCode(err, playback.CodeInvalid) {
			t.Errorf("DecodeHeartbeat(%s) = %v, want invalid", bad, err)
		}
	}
}

// TestHeartbeatLeaseEndAcrossVersions: lease_expires_at, the lease end an
// accepted heartbeat left, rolls out without a flag day. A consumer older
// than the field skips it as any unknown field (this test passed on the
// decoder before the field existed, its last check aside), and a message
// from a producer older than it decodes with the zero time and is
// re-encoded without it.
func TestHeartbeatLeaseEndAcrossVersions(t *testing.T) {
	t.Parallel()
	const lease = `"lease_expires_at":"2026-03-01T20:17:30.412Z"`
	newer := regexp.MustCompile(`\s+`).ReplaceAll(readSample(t, "heartbeat.json"), nil)
	if !bytes.Contains(newer, []byte(lease)) {
		t.Fatalf("samples/heartbeat.json carries no %s", lease)
	}
	old := bytes.Replace(newer, []byte(","+lease), nil, 1)
	for _, tc := range []struct {
		name  string
		data  []byte
		lease string
	}{{"message without the field", old, ""}, {"message with it", newer, lease}} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h, err := events.DecodeHeartbeat(tc.data)
			if err != nil || h.SessionID == "" || h.ReceivedAt.IsZero() {
				t.Fatalf("decoded %+v, %v", h, err)
			}
			out, err := h.AppendJSON(nil)
			if err != nil {
				t.Fatal(err)
			}
			if got := bytes.Contains(out, []byte("lease_expires_at")); got != (tc.lease != "") || tc.lease != "" && !bytes.Contains(out, []byte(tc.lease)) {
				t.Fatalf("re-encoded as %s, want %q", out, tc.lease)
			}
		})
	}
}

func sampleMessage() events.Heartbeat {
	t0 := time.Date(2026, 3, 1, 20, 15, 30, 250_000_000, time.UTC)
	return events.Heartbeat{SessionID: "ses_1", AccountID: "acct_1", TitleID: "title_1", DeviceID: "dev_1",
		Event: events.HeartbeatProgress, PositionMS: 1_234_567, DurationMS: 5_400_000, DeviceTime: t0,
		QoE: playback.QoE{BitrateKbps: 5800, BufferMS: 21000, ThroughputKbps: 48000, StartupMS: 850, RebufferCount: 2,
			RebufferMS: 1900, PlayedMS: 1_230_000, DroppedFrames: 14, CDN: "cloudfront", EdgeID: "edge-fra-1"},
		ReceivedAt: t0.Add(162 * time.Millisecond), SessionStartedAt: t0.Add(-20 * time.Minute),
		LeaseExpiresAt: t0.Add(2*time.Minute + 162*time.Millisecond), Country: "DE", ASN: 3320, DeviceType: "tv"}
}

func TestHeartbeatAppendJSONMatchesMarshal(t *testing.T) {
	t.Parallel()
	berlin := time.FixedZone("CET", 3600)
	for _, tc := range []struct {
		name string
		edit func(*events.Heartbeat)
	}{
		{"full", func(*events.Heartbeat) {}},
		{"empty qoe", func(h *events.Heartbeat) { h.QoE = playback.QoE{} }},
		{"some qoe", func(h *events.Heartbeat) { h.QoE = playback.QoE{RebufferMS: 5, EdgeID: "e"} }},
		{"continued", func(h *events.Heartbeat) { h.QoE.StartupMS, h.QoE.Continued = 0, true }},
		{"continued with its play", func(h *events.Heartbeat) { h.QoE.StartupMS, h.QoE.Continued, h.QoE.View = 0, true, "ses_1" }},
		{"no viewer", func(h *events.Heartbeat) { h.Country, h.ASN, h.DeviceType = "", 0, "" }},
		{"no lease end", func(h *events.Heartbeat) { h.LeaseExpiresAt = time.Time{} }},
		{"largest ASN", func(h *events.Heartbeat) { h.ASN = 1<<32 - 1 }},
		{"zero everything", func(h *events.Heartbeat) { *h = events.Heartbeat{} }},
		{"negative numbers", func(h *events.Heartbeat) { h.PositionMS, h.QoE.BufferMS = -1, -7 }},
		{"escaped strings", func(h *events.Heartbeat) {
			h.SessionID, h.DeviceID, h.QoE.CDN = `a"b\c`, "<tv>&\u2028", "caf\xe9\x01"
		}},
		{"zone and nanoseconds", func(h *events.Heartbeat) { h.DeviceTime = time.Date(2026, 1, 2, 3, 4, 5, 6, berlin) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h := sampleMessage()
			tc.edit(&h)
			got, err := h.AppendJSON(nil)
			if err != nil {
				t.Fatal(err)
			}
			cut := h
			for _, at := range []*time.Time{&cut.DeviceTime, &cut.ReceivedAt, &cut.SessionStartedAt, &cut.LeaseExpiresAt} {
				*at = at.Truncate(events.MessageTimeUnit)
			}
			want, err := json.Marshal(cut)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, want) {
				t.Fatalf("AppendJSON\n%s\njson.Marshal, times cut to %v\n%s", got, events.MessageTimeUnit, want)
			}
			back, err := events.DecodeHeartbeat(got)
			var ref events.Heartbeat
			if err != nil || stdDecode(got, &ref, true) != nil || !reflect.DeepEqual(back, ref) {
				t.Fatalf("round trip: %+v, %v; std %+v", back, err, ref)
			}
		})
	}
	h := sampleMessage()
	h.DeviceTime = time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)
	if _, err := h.AppendJSON(nil); err == nil {
		t.Fatal("a year json.Marshal refuses was encoded")
	}
}

// TestMessageTimesAreWarehouseTimestamps: the warehouses keep the
// message's times as the strings it carries (Glue string and BigQuery
// STRING columns, infra/stack) and docs/qoe parses them in the query.
// BigQuery's TIMESTAMP holds microseconds: its canonical format is
// YYYY-[M]M-[D]D[( |T)[H]H:[M]M:[S]S[.F]][time zone] with [.F] up to six
// fractional digits
// (https://cloud.google.com/bigquery/docs/reference/standard-sql/data-types#timestamp_type),
// and TIMESTAMP() refuses a string with more, "Invalid timestamp" (the
// reference parser, google/zetasql zetasql/public/functions/date_time_util.cc
// ParseStringToTimestampParts: "if there are extra digits then an error is
// produced"). Go writes up to nine. Athena's from_iso8601_timestamp
// (Trino's DateTimeFunctions, Joda's ISODateTimeFormat.dateTimeParser)
// takes one to nine digits, an offset or Z, and keeps milliseconds, so the
// format BigQuery takes suits both. Every time field of the message, set
// from a clock with nanoseconds, must come out in it, meaning the instant
// cut to the microsecond.
func TestMessageTimesAreWarehouseTimestamps(t *testing.T) {
	t.Parallel()
	bigQuery := regexp.MustCompile(`^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?(Z|[+-]\d{2}:\d{2})$`)
	var fields []reflect.StructField
	for _, f := range reflect.VisibleFields(reflect.TypeFor[events.Heartbeat]()) {
		if f.Type == reflect.TypeFor[time.Time]() {
			fields = append(fields, f)
		}
	}
	if len(fields) < 4 {
		t.Fatalf("the message has %d time fields", len(fields))
	}
	for _, tc := range []struct {
		name string
		at   time.Time
	}{
		{"nanoseconds", time.Date(2026, 3, 1, 20, 15, 30, 123_456_789, time.UTC)},
		{"seven digits", time.Date(2026, 3, 1, 20, 15, 30, 123_456_700, time.UTC)},
		{"microseconds", time.Date(2026, 3, 1, 20, 15, 30, 123_456_000, time.UTC)},
		{"whole second", time.Date(2026, 3, 1, 20, 15, 30, 0, time.UTC)},
		{"offset and nanoseconds", time.Date(2026, 3, 1, 22, 15, 30, 999_999_999, time.FixedZone("", 2*3600))},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h := sampleMessage()
			for _, f := range fields {
				reflect.ValueOf(&h).Elem().FieldByIndex(f.Index).Set(reflect.ValueOf(tc.at))
			}
			data, err := h.AppendJSON(nil)
			if err != nil {
				t.Fatal(err)
			}
			var m map[string]any
			if err := json.Unmarshal(data, &m); err != nil {
				t.Fatal(err)
			}
			for _, f := range fields {
				name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
				s, _ := m[name].(string)
				if !bigQuery.MatchString(s) {
					t.Errorf("%s is written %q: BigQuery's TIMESTAMP takes at most six fractional digits", name, s)
					continue
				}
				if got, err := time.Parse(time.RFC3339, s); err != nil || !got.Equal(tc.at.Truncate(time.Microsecond)) {
					t.Errorf("%s %q means %v, %v; want %v cut to the microsecond", name, s, got, err, tc.at)
				}
			}
		})
	}
}

func TestHeartbeatMessageFitsBatchLimits(t *testing.T) {
	t.Parallel()
	h := sampleMessage()
	long := strings.Repeat("x", 128) // the longest id the ingest lets through
	h.SessionID, h.AccountID, h.TitleID, h.DeviceID, h.QoE.CDN, h.QoE.EdgeID, h.QoE.View = long, long, long, long, long, long, long
	h.QoE.Continued = true
	h.Country, h.ASN, h.DeviceType = "DE", 1<<32-1, strings.Repeat("x", 32) // the longest a playback token carries
	h.PositionMS, h.DurationMS = 1<<63-1, 1<<63-1
	h.QoE.BitrateKbps, h.QoE.BufferMS, h.QoE.ThroughputKbps, h.QoE.StartupMS = 1<<63-1, 1<<63-1, 1<<63-1, 1<<63-1
	h.QoE.RebufferCount, h.QoE.RebufferMS, h.QoE.PlayedMS, h.QoE.DroppedFrames = 1<<63-1, 1<<63-1, 1<<63-1, 1<<63-1
	h.DeviceTime = time.Date(2026, 1, 2, 3, 4, 5, 999_999_999, time.FixedZone("", -12*3600))
	h.ReceivedAt, h.SessionStartedAt, h.LeaseExpiresAt = h.DeviceTime, h.DeviceTime, h.DeviceTime
	data, err := h.AppendJSON(nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(data) > events.MaxHeartbeatMessageBytes {
		t.Fatalf("largest heartbeat is %d bytes, limit %d", len(data), events.MaxHeartbeatMessageBytes)
	}
	if events.SQSMaxBatchMessages*events.MaxHeartbeatMessageBytes > events.SQSMaxBatchBytes ||
		events.PubSubMaxBatchMessages*events.MaxHeartbeatMessageBytes > events.PubSubMaxBatchBytes {
		t.Fatal("a full batch of the largest heartbeats would exceed a service limit")
	}
}

// lenientInStd reports whether data has what encoding/json forgives and the
// fast decoders refuse: a field name repeated, or one that only matches a
// known field under case folding.
func lenientInStd(data []byte) bool {
	known := []string{"event", "position_ms", "duration_ms", "device_time", "qoe", "session_id", "account_id", "title_id",
		"device_id", "received_at", "session_started_at", "lease_expires_at", "br", "bl", "mtp", "startup_ms", "rebuffer_count", "rebuffer_ms", "played_ms", "df", "cdn", "edge",
		"continued", "view", "source", "position_unknown", "cmcd_e", "cmcd_sta", "cmcd_bsd", "country", "asn", "device_type",
		"su", "rc", "rd", "pd"} // the QoE's deprecated names, still read
	dec := json.NewDecoder(bytes.NewReader(data))
	type frame struct {
		object    bool
		expectKey bool
		keys      map[string]bool
	}
	var stack []*frame
	for {
		tok, err := dec.Token()
		if err != nil {
			return false
		}
		top := func() *frame {
			if len(stack) == 0 {
				return nil
			}
			return stack[len(stack)-1]
		}
		switch v := tok.(type) {
		case json.Delim:
			switch v {
			case '{', '[':
				if f := top(); f != nil && f.object {
					f.expectKey = true
				}
				stack = append(stack, &frame{object: v == '{', expectKey: v == '{', keys: map[string]bool{}})
			default:
				stack = stack[:len(stack)-1]
			}
		case string:
			if f := top(); f != nil && f.object && f.expectKey {
				if f.keys[v] {
					return true
				}
				f.keys[v] = true
				for _, k := range known {
					if v != k && strings.EqualFold(v, k) {
						return true
					}
				}
				f.expectKey = false
				continue
			}
			if f := top(); f != nil && f.object {
				f.expectKey = true
			}
		default:
			if f := top(); f != nil && f.object {
				f.expectKey = true
			}
		}
	}
}

func fuzzSeeds(f *testing.F, sample string) {
	f.Add(readSample(f, sample))
	for _, s := range []string{
		``, ` `, `null`, ` null `, `nul`, `{}`, `[]`, `"x"`, `1`, `{"event":"stop"}`, `{"event":"stop"}x`, `{"event":"stop"}}`,
		`{"EVENT":"stop"}`, `{"Event":"stop","event":"start"}`, `{"poſition_ms":1}`, `{"event":"a","event":"b"}`,
		`{"\u0065vent":"x"}`, `{"event":"\ud83d\ude00\ud800"}`, "{\"event\":\"\xff\xfe\"}", `{"event":"\u00"}`,
		`{"position_ms":-0}`, `{"position_ms":1.0}`, `{"position_ms":1e2}`, `{"position_ms":-9223372036854775808}`,
		`{"position_ms":9223372036854775808}`, `{"position_ms":18446744073709551616}`, `{"position_ms":00}`,
		`{"device_time":"2026-03-01T20:15:30+02:00"}`, `{"device_time":"2026-03-01T24:00:00Z"}`, `{"device_time":"\u0032026-03-01T20:15:30Z"}`,
		`{"device_time":"2026-03-01t20:15:30.5z"}`, `{"device_time":"2016-12-31T23:59:60Z"}`,
		`{"device_time":null}`, `{"device_time":{}}`, `{"qoe":null}`, `{"qoe":{"rc":1,"RC":2}}`, `{"qoe":{"x":[]}}`,
		`{"qoe":{"cdn":"a","edge":"b","br":1}}`, `{"qoe":{"br":true}}`, `{"x":[1,{"y":[[]]}],"session_id":"s"}`,
		`{"session_id":"a","x":{"session_id":"b"}}`, `{"received_at":"2026-03-01T20:15:30.123456789Z"}`,
		`{"event" : "x" , "qoe" : { "rc" : 1 } }`, "\t{\n}\r\n", `{"event":"x",}`, `{,"event":"x"}`, `{"event"}`,
		`{"qoe":{"RC":0}}`,
	} {
		f.Add([]byte(s))
	}
}

// loneSurrogate reports whether data, valid JSON, escapes a UTF-16
// surrogate outside a pair.
func loneSurrogate(data []byte) bool {
	hex := func(i int) rune {
		if i+6 > len(data) || data[i] != '\\' || data[i+1] != 'u' {
			return -1
		}
		v, err := strconv.ParseUint(string(data[i+2:i+6]), 16, 16)
		if err != nil {
			return -1
		}
		return rune(v)
	}
	for i := 0; i < len(data); i++ {
		if data[i] != '\\' {
			continue
		}
		r := hex(i)
		switch {
		case r < 0:
			i++ // a two-byte escape
		case r >= 0xD800 && r < 0xDC00 && hex(i+6) >= 0xDC00 && hex(i+6) < 0xE000:
			i += 11
		case r >= 0xD800 && r < 0xE000:
			return true
		default:
			i += 5
		}
	}
	return false
}

// checkAgainstStd is the fuzz property: what fast accepts, std accepts with
// the same value; what std accepts and fast refuses is one of fast's three
// documented strictnesses.
func checkAgainstStd[T any](t *testing.T, data []byte, fastErr error, fast T, strict bool) {
	if usesDeprecatedQoEName(data) {
		// encoding/json knows only the current names; the deprecated ones
		// are checked by TestDeprecatedQoENames.
		if fastErr != nil && !playback.IsCode(fastErr, playback.CodeInvalid) {
			t.Fatalf("fast failed with %v, want a CodeInvalid error", fastErr)
		}
		return
	}
	var std T
	stdErr := stdDecode(data, &std, strict)
	var pe *time.ParseError
	if fastErr == nil && errors.As(stdErr, &pe) {
		// A request's date-time reads by the schemas' rule
		// (playback.ParseDateTime), which takes the lower-case t and z
		// RFC 3339 allows and time.Time's JSON decoding refuses: the one
		// way fast may accept more (TestHeartbeatRequestDateTimes). The
		// rest must still agree, read with them upper-cased (and with any
		// other member spelt as that date-time, which no sample is).
		if _, err := playback.ParseDateTime(pe.Value); err != nil || playback.UpperDateTime(pe.Value) == pe.Value {
			t.Fatalf("fast accepted what encoding/json refuses (%v): %q", stdErr, data)
		}
		data = bytes.ReplaceAll(data, []byte(`"`+pe.Value+`"`), []byte(`"`+playback.UpperDateTime(pe.Value)+`"`))
		checkAgainstStd(t, data, fastErr, fast, strict)
		return
	}
	switch {
	case fastErr == nil && stdErr != nil:
		t.Fatalf("fast accepted what encoding/json refuses (%v): %q", stdErr, data)
	case fastErr == nil && !reflect.DeepEqual(fast, std):
		t.Fatalf("values differ for %q\nfast %+v\nstd  %+v", data, fast, std)
	case fastErr != nil && stdErr == nil:
		var e *playback.Error
		if !errors.As(fastErr, &e) {
			t.Fatalf("fast refused what encoding/json accepts (%v): %q", fastErr, data)
		}
		switch e.Reason {
		case playback.ReasonDuplicateField, playback.ReasonUnknownField:
			if !lenientInStd(data) {
				t.Fatalf("fast refused what encoding/json accepts (%v): %q", fastErr, data)
			}
		case playback.ReasonInvalidUTF8:
			if utf8.Valid(data) && !loneSurrogate(data) {
				t.Fatalf("fast refused valid UTF-8 (%v): %q", fastErr, data)
			}
		default:
			t.Fatalf("fast refused what encoding/json accepts (%v): %q", fastErr, data)
		}
	case fastErr != nil && !playback.IsCode(fastErr, playback.CodeInvalid):
		t.Fatalf("fast failed with %v, want a CodeInvalid error", fastErr)
	}
}

func FuzzDecodeHeartbeatRequest(f *testing.F) {
	fuzzSeeds(f, "heartbeat-request.json")
	f.Fuzz(func(t *testing.T, data []byte) {
		got, err := events.DecodeHeartbeatRequest(data)
		checkAgainstStd(t, data, err, got, true)
	})
}

func FuzzDecodeHeartbeat(f *testing.F) {
	fuzzSeeds(f, "heartbeat.json")
	f.Fuzz(func(t *testing.T, data []byte) {
		got, err := events.DecodeHeartbeat(data)
		checkAgainstStd(t, data, err, got, false)
	})
}

func BenchmarkHeartbeatRequestDecode(b *testing.B) {
	data := bytes.TrimSpace(readSample(b, "heartbeat-request.json"))
	b.Run("fast", func(b *testing.B) {
		b.SetBytes(int64(len(data)))
		for b.Loop() {
			if _, err := events.DecodeHeartbeatRequest(data); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("encoding_json", func(b *testing.B) {
		b.SetBytes(int64(len(data)))
		for b.Loop() {
			var r events.HeartbeatRequest
			if err := stdDecode(data, &r, true); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func BenchmarkHeartbeatMessage(b *testing.B) {
	h := sampleMessage()
	data, _ := h.AppendJSON(nil)
	b.Run("append", func(b *testing.B) {
		buf := make([]byte, 0, 1024)
		for b.Loop() {
			buf, _ = h.AppendJSON(buf[:0])
		}
	})
	b.Run("json_marshal", func(b *testing.B) {
		for b.Loop() {
			_, _ = json.Marshal(&h)
		}
	})
	b.Run("decode", func(b *testing.B) {
		for b.Loop() {
			if _, err := events.DecodeHeartbeat(data); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("json_unmarshal", func(b *testing.B) {
		for b.Loop() {
			var m events.Heartbeat
			if err := json.Unmarshal(data, &m); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// usesDeprecatedQoEName reports whether any object key of data, valid
// JSON or not, is one of the QoE names read for one version.
func usesDeprecatedQoEName(data []byte) bool {
	dec := json.NewDecoder(bytes.NewReader(data))
	for {
		tok, err := dec.Token()
		if err != nil {
			return false
		}
		if s, ok := tok.(string); ok {
			switch s {
			case "su", "rc", "rd", "pd":
				return true
			}
		}
	}
}

func TestDeprecatedQoENames(t *testing.T) {
	t.Parallel()
	want := playback.QoE{StartupMS: 850, RebufferCount: 2, RebufferMS: 1900, PlayedMS: 1230000}
	for _, tc := range []struct {
		name, qoe string
		reason    string
	}{
		{"current names", `{"startup_ms":850,"rebuffer_count":2,"rebuffer_ms":1900,"played_ms":1230000}`, ""},
		{"deprecated names", `{"su":850,"rc":2,"rd":1900,"pd":1230000}`, ""},
		{"mixed", `{"su":850,"rebuffer_count":2,"rd":1900,"played_ms":1230000}`, ""},
		{"both names of one field", `{"su":850,"startup_ms":850}`, playback.ReasonDuplicateField},
		{"deprecated name, wrong type", `{"rc":"2"}`, playback.ReasonWrongType},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			req, err := events.DecodeHeartbeatRequest([]byte(`{"event":"progress","qoe":` + tc.qoe + `}`))
			msg, merr := events.DecodeHeartbeat([]byte(`{"session_id":"s","qoe":` + tc.qoe + `}`))
			if tc.reason != "" {
				for _, e := range []error{err, merr} {
					var pe *playback.Error
					if !errors.As(e, &pe) || pe.Reason != tc.reason {
						t.Fatalf("err %v, want reason %s", e, tc.reason)
					}
				}
				return
			}
			if err != nil || merr != nil {
				t.Fatal(err, merr)
			}
			if req.QoE != want || msg.QoE != want {
				t.Fatalf("request %+v message %+v, want %+v", req.QoE, msg.QoE, want)
			}
			// A refusal names a member as the request did.
			for name, old := range map[string]string{"startup_ms": "su", "rebuffer_count": "rc", "rebuffer_ms": "rd", "played_ms": "pd"} {
				want := name
				if strings.Contains(tc.qoe, `"`+old+`"`) {
					want = old
				}
				if got := req.QoEMember(name); got != want {
					t.Errorf("the request gave %s as %q, want %q", name, got, want)
				}
			}
			// Written back under the current names only.
			out, err := msg.AppendJSON(nil)
			if err != nil {
				t.Fatal(err)
			}
			for _, old := range []string{`"su"`, `"rc"`, `"rd"`, `"pd"`} {
				if bytes.Contains(out, []byte(old)) {
					t.Fatalf("re-encoded message uses the deprecated name %s: %s", old, out)
				}
			}
		})
	}
}
