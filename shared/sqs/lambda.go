package sqs

import (
	"context"
	"log/slog"
	"strings"

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
		var queue string
		if len(ev.Records) > 0 {
			arn := ev.Records[0].EventSourceARN
			log = log.With("event_source_arn", arn)
			queue = arn[strings.LastIndexByte(arn, ':')+1:]
		}
		delivered := make([]incoming, len(ev.Records))
		for i, r := range ev.Records {
			delivered[i] = fromRecord(r)
		}
		// Lambda deletes what is not reported, so only the retries matter.
		retry, _ := runBatch(ctx, log, queue, h, delivered)
		var resp events.SQSEventResponse
		for _, id := range retry {
			resp.BatchItemFailures = append(resp.BatchItemFailures, events.SQSBatchItemFailure{ItemIdentifier: id})
		}
		return resp, nil
	}
}

func fromRecord(r events.SQSMessage) incoming {
	in := incoming{
		handle:        r.MessageId,
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
