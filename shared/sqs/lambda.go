package sqs

import (
	"context"
	"log/slog"

	"github.com/aws/aws-lambda-go/events"

	"github.com/playplane/playplane/shared/playback"
)

// LambdaHandler adapts h to an SQS event source mapping with
// ReportBatchItemFailures enabled: the messages h names for retry are
// reported as batch item failures and stay on the queue, the rest are
// deleted by Lambda. A message that cannot be decoded is logged and
// acknowledged, since redelivery cannot repair it. A panic in h retries the
// whole batch.
func LambdaHandler(h playback.BatchHandler) func(context.Context, events.SQSEvent) (events.SQSEventResponse, error) {
	return func(ctx context.Context, ev events.SQSEvent) (events.SQSEventResponse, error) {
		log := slog.Default()
		msgs := make([]playback.Message, 0, len(ev.Records))
		records := make(map[string][]string, len(ev.Records)) // message id → SQS message ids
		for _, r := range ev.Records {
			m, err := decode(fromRecord(r))
			if err != nil {
				log.ErrorContext(ctx, "sqs message dropped: cannot decode", "message_id", r.MessageId,
					"event_source_arn", r.EventSourceARN, "error", err)
				continue
			}
			msgs = append(msgs, m)
			records[m.ID] = append(records[m.ID], r.MessageId)
		}
		var resp events.SQSEventResponse
		if len(msgs) == 0 {
			return resp, nil
		}
		seen := map[string]bool{}
		for _, id := range h.Call(ctx, log, msgs) {
			if seen[id] {
				continue
			}
			seen[id] = true
			for _, sqsID := range records[id] {
				resp.BatchItemFailures = append(resp.BatchItemFailures, events.SQSBatchItemFailure{ItemIdentifier: sqsID})
			}
		}
		return resp, nil
	}
}

func fromRecord(r events.SQSMessage) incoming {
	in := incoming{
		messageID:     r.MessageId,
		body:          r.Body,
		receiveCount:  r.Attributes["ApproximateReceiveCount"],
		sentTimestamp: r.Attributes["SentTimestamp"],
		attrs:         make(map[string]string, len(r.MessageAttributes)),
	}
	for name, v := range r.MessageAttributes {
		if v.StringValue != nil {
			in.attrs[name] = *v.StringValue
		}
	}
	return in
}
