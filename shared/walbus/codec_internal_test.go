package walbus

import (
	"encoding/binary"
	"errors"
	"maps"
	"reflect"
	"testing"
	"time"

	"github.com/playplane/playplane/shared/playback"
)

func TestCodecRoundTrip(t *testing.T) {
	t.Parallel()
	at := time.Date(2026, 12, 4, 15, 0, 0, 123456789, time.UTC)
	for _, tc := range []struct {
		name string
		msg  playback.Message
	}{
		{"bare", playback.Message{ID: "msg_1", PublishTime: at}},
		{"everything", playback.Message{ID: "msg_2", OrderingKey: "ses_1", Data: []byte(`{"a":1}` + "\x00\xff"),
			Attributes: map[string]string{"source": "stripe", "type": "customer.subscription.deleted", "": "empty key"}, PublishTime: at}},
		{"large data", playback.Message{ID: "msg_3", Data: make([]byte, 70_000), PublishTime: at}},
		{"trace parent", playback.Message{ID: "msg_4", Data: []byte("x"), Trace: sampleTrace, PublishTime: at}},
		{"trace parent and attributes", playback.Message{ID: "msg_5", Data: []byte("x"), Trace: sampleTrace,
			Attributes: map[string]string{"tracestate": "vendor=x"}, PublishTime: at}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			raw := appendMessage(nil, &tc.msg)
			got, err := decodeMessage(raw)
			if err != nil {
				t.Fatal(err)
			}
			if !got.PublishTime.Equal(tc.msg.PublishTime) {
				t.Fatalf("publish time %v, want %v", got.PublishTime, tc.msg.PublishTime)
			}
			got.PublishTime = tc.msg.PublishTime
			if !reflect.DeepEqual(got, tc.msg) {
				t.Fatalf("decoded %+v, want %+v", got, tc.msg)
			}
			if id, err := decodeID(raw); err != nil || id != tc.msg.ID {
				t.Fatalf("decodeID = %q, %v", id, err)
			}
			// The decoded message owns its data: the live set's record and
			// the read buffer are not the bus's to keep.
			raw[len(raw)-1] ^= 0xff
			if len(got.Data) > 0 && got.Data[len(got.Data)-1] != tc.msg.Data[len(tc.msg.Data)-1] {
				t.Fatal("decoded data aliases the record")
			}
		})
	}
}

const sampleTraceParent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"

var sampleTrace, _ = playback.ParseTraceParent(sampleTraceParent)

// TestCodecTraceParentIsTheAttribute: a message's Trace is journaled as
// the traceparent attribute it was before it had a field, so a journal
// written by either version reads back with it in the field; an attribute
// of that name that a publisher set itself wins, and one that is no
// traceparent reads back as the attribute it is.
func TestCodecTraceParentIsTheAttribute(t *testing.T) {
	t.Parallel()
	at := time.Unix(1, 0)
	if !sampleTrace.IsValid() {
		t.Fatalf("%q does not parse", sampleTraceParent)
	}
	asField := appendMessage(nil, &playback.Message{ID: "m", Data: []byte("x"), Trace: sampleTrace, PublishTime: at})
	asAttribute := appendMessage(nil, &playback.Message{ID: "m", Data: []byte("x"),
		Attributes: map[string]string{playback.TraceParentAttribute: sampleTraceParent}, PublishTime: at})
	if string(asField) != string(asAttribute) {
		t.Fatalf("journaled as a field %q, as the attribute %q", asField, asAttribute)
	}
	got, err := decodeMessage(asAttribute)
	if err != nil || got.Trace != sampleTrace || got.Attributes != nil {
		t.Fatalf("decoded %+v, %v: want the traceparent in its field and no attributes", got, err)
	}
	own := "00-11111111111111111111111111111111-2222222222222222-00"
	both := appendMessage(nil, &playback.Message{ID: "m", Trace: sampleTrace,
		Attributes: map[string]string{playback.TraceParentAttribute: own}, PublishTime: at})
	if got, err := decodeMessage(both); err != nil || got.Trace.TraceParent() != own || got.Attributes != nil {
		t.Fatalf("decoded %+v, %v: want the publisher's own traceparent", got, err)
	}
	const notOne = "01-not-a-traceparent"
	bad := appendMessage(nil, &playback.Message{ID: "m", Trace: sampleTrace,
		Attributes: map[string]string{playback.TraceParentAttribute: notOne}, PublishTime: at})
	if got, err := decodeMessage(bad); err != nil || got.Trace.IsValid() || got.Attributes[playback.TraceParentAttribute] != notOne {
		t.Fatalf("decoded %+v, %v: want the attribute as it was and no trace context", got, err)
	}
}

func TestCodecRefusesDamagedRecords(t *testing.T) {
	t.Parallel()
	good := appendMessage(nil, &playback.Message{ID: "msg_1", OrderingKey: "k", Data: []byte("data"),
		Attributes: map[string]string{"a": "b"}, PublishTime: time.Unix(1, 0)})
	for _, tc := range []struct {
		name string
		raw  []byte
	}{
		{"empty", nil},
		{"unknown version", append([]byte{9}, good[1:]...)},
		{"truncated", good[:len(good)-1]},
		{"trailing bytes", append(append([]byte(nil), good...), 0)},
		{"length beyond the record", []byte{codecV1, 0x7f, 'x'}},
		{"attribute count beyond the record", []byte{codecV1, 1, 'm', 0, 2, 0xff, 0x7f}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if m, err := decodeMessage(tc.raw); !errors.Is(err, errCorrupt) {
				t.Fatalf("decodeMessage = %+v, %v; want errCorrupt", m, err)
			}
		})
	}
}

// TestCodecReadsTheOldTraceParentRecord: a record as the journal wrote it
// before Message.Trace (the traceparent as an attribute, the bytes spelled
// out here rather than made by appendMessage, so that a change to the
// encoder cannot hide a change to what old journals read as) replays
// with its trace context in the field and its other attributes as they
// were; one whose traceparent attribute is no W3C traceparent (the old
// field took any string) replays it as an attribute.
func TestCodecReadsTheOldTraceParentRecord(t *testing.T) {
	t.Parallel()
	record := func(tp string) []byte {
		b := []byte{codecV1, 3, 'm', 's', 'g', 0}
		b = binary.AppendVarint(b, 1_000_000_007)
		b = append(b, 2, byte(len("traceparent")))
		b = append(b, "traceparent"...)
		b = append(b, byte(len(tp)))
		b = append(b, tp...)
		b = append(b, 1, 'k', 1, 'v', 2, 'h', 'i')
		return b
	}
	for _, tc := range []struct {
		name, tp  string
		wantTrace playback.TraceContext
		wantAttrs map[string]string
	}{
		{name: "traceparent", tp: sampleTraceParent, wantTrace: sampleTrace, wantAttrs: map[string]string{"k": "v"}},
		{name: "no traceparent", tp: "00-0AF7651916CD43DD8448EB211C80319C-B7AD6B7169203331-01",
			wantAttrs: map[string]string{"k": "v", "traceparent": "00-0AF7651916CD43DD8448EB211C80319C-B7AD6B7169203331-01"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := decodeMessage(record(tc.tp))
			if err != nil || got.ID != "msg" || got.Trace != tc.wantTrace || !maps.Equal(got.Attributes, tc.wantAttrs) ||
				string(got.Data) != "hi" || got.PublishTime.UnixNano() != 1_000_000_007 {
				t.Fatalf("decoded %+v, %v: want trace %+v, attributes %v", got, err, tc.wantTrace, tc.wantAttrs)
			}
		})
	}
}
