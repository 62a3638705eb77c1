package sqs

import (
	"encoding/base64"
	"strings"
	"unicode/utf8"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/playplane/playplane/shared/playback"
	"github.com/playplane/playplane/shared/sqs/internal/delivery"
	"github.com/playplane/playplane/shared/telemetry"
)

// The adapter's own message attributes (delivery, which decodes them).
const (
	attrID          = delivery.AttrID
	attrOrderingKey = delivery.AttrOrderingKey
	attrEncoding    = delivery.AttrEncoding
	reservedPrefix  = delivery.ReservedPrefix
)

// maxAttributes is SQS's cap on message attributes per message.
const maxAttributes = 10

const stringType = "String"

// outgoing is a message encoded for SendMessageBatch.
type outgoing struct {
	body  string
	attrs map[string]types.MessageAttributeValue
	size  int // as SQS counts it against its limits
}

// encode turns m into an SQS message body and attributes, or explains with
// CodeInvalid why SQS would refuse it. maxBytes is the message size limit
// the carrier's attributes must leave it within.
func encode(m playback.Message, carrier map[string]string, maxBytes int) (outgoing, error) {
	out := outgoing{attrs: make(map[string]types.MessageAttributeValue, len(m.Attributes)+3)}
	if len(m.Data) == 0 {
		// SQS has no empty bodies.
		return out, playback.Errorf(playback.CodeInvalid, "message_empty", "message has no data")
	}
	for name, value := range m.Attributes {
		if err := validAttributeName(name); err != nil {
			return out, err
		}
		if value == "" {
			// SQS refuses empty attribute values.
			return out, playback.Errorf(playback.CodeInvalid, "attribute_invalid", "message attribute %q has an empty value", name)
		}
		if !validAttributeValue(value) {
			return out, playback.Errorf(playback.CodeInvalid, "attribute_invalid", "message attribute %q has characters SQS refuses", name)
		}
		out.attrs[name] = stringAttr(value)
	}
	if _, own := out.attrs[playback.TraceParentAttribute]; own || m.Trace.IsValid() {
		// The message's own trace context (its attribute over its field)
		// goes without the publish's tracestate or baggage, which belong
		// to another trace.
		carrier = nil
		if !own {
			out.attrs[playback.TraceParentAttribute] = stringAttr(m.Trace.TraceParent())
		}
	}
	if m.ID != "" {
		if !validAttributeValue(m.ID) {
			return out, playback.Errorf(playback.CodeInvalid, "id_invalid", "message id %q has characters SQS refuses", m.ID)
		}
		out.attrs[attrID] = stringAttr(m.ID)
	}
	if m.OrderingKey != "" {
		if !validAttributeValue(m.OrderingKey) {
			return out, playback.Errorf(playback.CodeInvalid, "ordering_key_invalid", "ordering key %q has characters SQS refuses", m.OrderingKey)
		}
		out.attrs[attrOrderingKey] = stringAttr(m.OrderingKey)
	}
	if validBody(m.Data) {
		out.body = string(m.Data)
	} else {
		out.body = base64.StdEncoding.EncodeToString(m.Data)
		out.attrs[attrEncoding] = stringAttr("base64")
	}
	if len(out.attrs) > maxAttributes {
		return out, playback.Errorf(playback.CodeInvalid, "attribute_invalid",
			"message has %d attributes with the adapter's own, SQS allows %d", len(out.attrs), maxAttributes)
	}
	out.size = len(out.body)
	for name, v := range out.attrs {
		out.size += attrSize(name, v)
	}
	// The trace context rides along where the attribute cap and the size
	// limit leave room, the traceparent first: a message is never refused
	// for it.
	for _, name := range telemetry.CarrierNames(carrier) {
		v := stringAttr(carrier[name])
		if _, taken := out.attrs[name]; !taken && len(out.attrs) < maxAttributes && carrier[name] != "" && validAttributeValue(carrier[name]) && out.size+attrSize(name, v) <= maxBytes {
			out.attrs[name] = v
			out.size += attrSize(name, v)
		}
	}
	return out, nil
}

// attrSize is what an attribute counts against SQS's size limit: its
// name, data type and value.
func attrSize(name string, v types.MessageAttributeValue) int {
	return len(name) + len(aws.ToString(v.DataType)) + len(aws.ToString(v.StringValue))
}

func stringAttr(v string) types.MessageAttributeValue {
	return types.MessageAttributeValue{DataType: aws.String(stringType), StringValue: aws.String(v)}
}

// validBody reports whether data is text SQS accepts as a body (sqsText).
// SQS also takes #x10000–#x10FFFF but fauxqs refuses it, and such bodies
// are rare enough to travel as base64 everywhere.
func validBody(data []byte) bool {
	if !utf8.Valid(data) {
		return false
	}
	for _, r := range string(data) {
		if r >= 0x10000 || !sqsText(r) {
			return false
		}
	}
	return true
}

// validAttributeValue reports whether v is text SQS takes as a String
// attribute value, which has the body's restrictions (sqsText). Anything
// else SQS refuses, or the SDK's JSON replaces (invalid UTF-8), changing
// an id.
func validAttributeValue(v string) bool {
	return utf8.ValidString(v) && !strings.ContainsFunc(v, func(r rune) bool { return !sqsText(r) })
}

// sqsText reports whether SQS takes r in a body or a String attribute
// value: #x9 | #xA | #xD | #x20–#xD7FF | #xE000–#xFFFD | #x10000–#x10FFFF.
func sqsText(r rune) bool {
	return r == 0x9 || r == 0xA || r == 0xD || r >= 0x20 && r <= 0xD7FF || r >= 0xE000 && r <= 0xFFFD || r >= 0x10000 && r <= 0x10FFFF
}

// validAttributeName applies SQS's naming rules, and keeps the adapter's
// own prefix for the adapter.
func validAttributeName(name string) error {
	bad := func(why string) error {
		return playback.Errorf(playback.CodeInvalid, "attribute_invalid", "message attribute name %q %s", name, why)
	}
	lower := strings.ToLower(name)
	switch {
	case name == "" || len(name) > 256:
		return bad("must have 1 to 256 characters")
	case strings.HasPrefix(lower, "aws.") || strings.HasPrefix(lower, "amazon."):
		return bad("uses a prefix SQS reserves")
	case strings.HasPrefix(name, reservedPrefix):
		return bad("uses the prefix " + reservedPrefix + " this adapter reserves")
	case strings.HasPrefix(name, ".") || strings.HasSuffix(name, ".") || strings.Contains(name, ".."):
		return bad("has a misplaced period")
	}
	for _, c := range name {
		if !(c == '_' || c == '-' || c == '.' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z') {
			return bad("may only hold letters, digits, '_', '-' and '.'")
		}
	}
	return nil
}
