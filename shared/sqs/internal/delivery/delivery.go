// Package delivery is the part of the SQS adapter that handles delivered
// messages, shared by the long-polling consumer (shared/sqs) and the
// Lambda event source mapping's handler (shared/sqs/sqslambda). It links
// no SQS client, so a Lambda that only consumes does not pay the client's
// initialisation.
package delivery

import (
	"context"
	"encoding/base64"
	"log/slog"
	"strconv"
	"time"

	"github.com/playplane/playplane/shared/playback"
	"github.com/playplane/playplane/shared/telemetry"
)

// Message attributes the adapter adds beside the publisher's. SQS has no
// message id the publisher chooses and no ordering key on standard
// queues, and its bodies must be text, so these travel as attributes.
const (
	AttrID          = "playplane.id"
	AttrOrderingKey = "playplane.ordering_key"
	AttrEncoding    = "playplane.encoding" // "base64" when Data is not valid SQS text
	ReservedPrefix  = "playplane."
)

// Incoming is what both delivery paths (ReceiveMessage, the Lambda event)
// carry for one message.
type Incoming struct {
	Handle        string // what settles the delivery: receipt handle, or the message id on Lambda
	MessageID     string
	Body          string
	Attrs         map[string]string // String message attributes
	ReceiveCount  string
	SentTimestamp string // epoch milliseconds
}

// Decode rebuilds the published message. Without the adapter's attributes
// (a message some other producer sent) the SQS message id is the id and the
// body is the data.
func Decode(in Incoming) (playback.Message, error) {
	m := playback.Message{ID: in.MessageID, Data: []byte(in.Body)}
	for name, value := range in.Attrs {
		switch name {
		case AttrID:
			m.ID = value
		case AttrOrderingKey:
			m.OrderingKey = value
		case AttrEncoding:
			if value != "base64" {
				return m, playback.Errorf(playback.CodeInvalid, "message_malformed", "unknown body encoding %q", value)
			}
			data, err := base64.StdEncoding.DecodeString(in.Body)
			if err != nil {
				return m, playback.Errorf(playback.CodeInvalid, "message_malformed", "body is not base64: %v", err)
			}
			m.Data = data
		case playback.TraceParentAttribute:
			// What is no traceparent stays the attribute it is.
			if tc, ok := playback.ParseTraceParent(value); ok {
				m.Trace = tc
				continue
			}
			fallthrough
		default:
			if m.Attributes == nil {
				m.Attributes = map[string]string{}
			}
			m.Attributes[name] = value
		}
	}
	if n, err := strconv.Atoi(in.ReceiveCount); err == nil {
		m.DeliveryAttempt = n
	}
	if ms, err := strconv.ParseInt(in.SentTimestamp, 10, 64); err == nil {
		m.PublishTime = time.UnixMilli(ms).UTC()
	}
	return m, nil
}

// RunBatch decodes a delivered batch, runs h on it and sorts the
// deliveries' handles into those to retry and those to acknowledge. A
// message that cannot be decoded is logged and acknowledged, since
// redelivery cannot repair it; a message delivered twice in one batch is
// settled the same way both times.
func RunBatch(ctx context.Context, log *slog.Logger, queue string, h playback.BatchHandler, delivered []Incoming) (retry, ack []string) {
	msgs := make([]playback.Message, 0, len(delivered))
	handles := make(map[string][]string, len(delivered)) // message id → handles
	for _, in := range delivered {
		m, err := Decode(in)
		if err != nil {
			log.ErrorContext(ctx, "sqs message dropped: cannot decode", "message_id", in.MessageID, "error", err)
			ack = append(ack, in.Handle)
			continue
		}
		msgs = append(msgs, m)
		handles[m.ID] = append(handles[m.ID], in.Handle)
	}
	if len(msgs) == 0 {
		return nil, ack
	}
	retried := map[string]bool{}
	call := func(ctx context.Context, msgs []playback.Message) []string { return h.Call(ctx, log, msgs) }
	for _, id := range telemetry.Consume(ctx, telemetry.SystemSQS, queue, msgs, call) {
		retried[id] = true
	}
	for _, m := range msgs {
		hs, ok := handles[m.ID]
		if !ok {
			continue // settled with an earlier copy
		}
		delete(handles, m.ID)
		if retried[m.ID] {
			retry = append(retry, hs...)
		} else {
			ack = append(ack, hs...)
		}
	}
	return retry, ack
}
