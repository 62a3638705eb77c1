package pubsub

import (
	"strings"
	"unicode/utf8"

	"cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"
	"google.golang.org/protobuf/proto"

	"github.com/playplane/playplane/shared/playback"
	"github.com/playplane/playplane/shared/pubsub/push"
	"github.com/playplane/playplane/shared/telemetry"
)

// encode turns m into a Pub/Sub message and its encoded size, or explains
// with CodeInvalid or CodeTooLarge why Pub/Sub would refuse it.
// topicPathLen is the length of the topic's full name, which shares the
// 10 MB publish request.
func encode(m playback.Message, carrier map[string]string, topicPathLen int) (*pubsubpb.PubsubMessage, int, error) {
	out := &pubsubpb.PubsubMessage{Data: m.Data, OrderingKey: m.OrderingKey}
	if len(m.Attributes) > 0 || m.ID != "" || len(carrier) > 0 || m.Trace.IsValid() {
		out.Attributes = make(map[string]string, len(m.Attributes)+len(carrier)+2)
	}
	// The message's own trace context (its attribute over its field) goes
	// without the publish's (telemetry.Carrier), whose tracestate or
	// baggage belong to another trace; other attributes of the message
	// win over the publish's of the same name.
	if _, own := m.Attributes[playback.TraceParentAttribute]; own || m.Trace.IsValid() {
		carrier = nil
	}
	if m.Trace.IsValid() {
		out.Attributes[playback.TraceParentAttribute] = m.Trace.TraceParent()
	}
	for name, value := range m.Attributes {
		if err := validAttribute(name, value); err != nil {
			return nil, 0, err
		}
		out.Attributes[name] = value
	}
	if m.ID != "" {
		if err := validAttribute("id", m.ID); err != nil {
			return nil, 0, err
		}
		out.Attributes[push.AttrID] = m.ID
	}
	switch {
	case len(m.Data) == 0 && len(out.Attributes) == 0:
		return nil, 0, playback.Errorf(playback.CodeInvalid, "message_empty", "message has neither data nor attributes")
	case len(out.Attributes) > maxAttributes:
		return nil, 0, playback.Errorf(playback.CodeInvalid, "attribute_invalid",
			"message has %d attributes with the adapter's own, Pub/Sub allows %d", len(out.Attributes), maxAttributes)
	case len(m.OrderingKey) > maxOrderingKeyLen || !utf8.ValidString(m.OrderingKey):
		return nil, 0, playback.Errorf(playback.CodeInvalid, "ordering_key_invalid", "ordering key must be UTF-8 of at most %d bytes", maxOrderingKeyLen)
	}
	// The publish's trace metadata is best effort: it takes the attribute
	// slots the message leaves free, the traceparent first, and what
	// Pub/Sub would refuse (a caller's baggage header may be 8 KB) is left
	// out rather than fail the message.
	var added []string
	for _, name := range telemetry.CarrierNames(carrier) {
		if _, taken := out.Attributes[name]; !taken && len(out.Attributes) < maxAttributes && validAttribute(name, carrier[name]) == nil {
			out.Attributes[name] = carrier[name]
			added = append(added, name)
		}
	}
	// A message must fit one publish request with the topic's name and
	// the request's own framing; the trace metadata goes, the last first,
	// where it would not.
	size := proto.Size(out)
	limit := maxMessageBytes - topicPathLen - 16
	for i := len(added) - 1; i >= 0 && size > limit; i-- {
		delete(out.Attributes, added[i])
		size = proto.Size(out)
	}
	if size > limit {
		return nil, 0, playback.Errorf(playback.CodeTooLarge, "message_too_large",
			"message is %d bytes with its attributes, the limit is %d", size, limit)
	}
	// Data is the caller's: Publish sends it in its own goroutine, and
	// gRPC has marshalled the request before the call returns, so nothing
	// reads it once Publish has returned (playback.Publisher). Attributes
	// are a new map already.
	return out, size, nil
}

// validAttribute applies Pub/Sub's attribute rules and keeps the adapter's
// own prefix for the adapter.
func validAttribute(name, value string) error {
	bad := func(why string) error {
		return playback.Errorf(playback.CodeInvalid, "attribute_invalid", "message attribute %q %s", name, why)
	}
	switch {
	case name == "" || len(name) > maxAttrKeyBytes || !utf8.ValidString(name):
		return bad("must be UTF-8 of 1 to 256 bytes")
	case strings.HasPrefix(strings.ToLower(name), "goog"):
		return bad("uses the prefix goog that Pub/Sub reserves")
	case strings.HasPrefix(name, push.ReservedPrefix):
		return bad("uses the prefix " + push.ReservedPrefix + " this adapter reserves")
	case len(value) > maxAttrValueBytes || !utf8.ValidString(value):
		return bad("value must be UTF-8 of at most 1024 bytes")
	}
	return nil
}
