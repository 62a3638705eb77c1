// Package sqslambda hands the batches of an SQS event source mapping to a
// playback.BatchHandler. It links no SQS client: a Lambda that consumes a
// queue but publishes nothing does not pay the client's initialisation.
package sqslambda

import (
	"context"
	"log/slog"
	"strings"

	"github.com/aws/aws-lambda-go/events"

	"github.com/playplane/playplane/shared/playback"
	"github.com/playplane/playplane/shared/sqs/internal/delivery"
)

// Handler adapts h to an SQS event source mapping with
// ReportBatchItemFailures enabled: the messages h names for retry are
// reported as batch item failures and stay on the queue, the rest are
// deleted by Lambda. A message that cannot be decoded is logged and
// acknowledged, since redelivery cannot repair it. A panic in h retries
// only the messages that panic alone (playback.BatchHandler.Call).
func Handler(h playback.BatchHandler) func(context.Context, events.SQSEvent) (events.SQSEventResponse, error) {
	return func(ctx context.Context, ev events.SQSEvent) (events.SQSEventResponse, error) {
		log := slog.Default()
		var queue string
		if len(ev.Records) > 0 {
			arn := ev.Records[0].EventSourceARN
			log = log.With("event_source_arn", arn)
			queue = arn[strings.LastIndexByte(arn, ':')+1:]
		}
		delivered := make([]delivery.Incoming, len(ev.Records))
		for i, r := range ev.Records {
			delivered[i] = fromRecord(r)
		}
		// Lambda deletes what is not reported, so only the retries matter.
		retry, _ := delivery.RunBatch(ctx, log, queue, h, delivered)
		var resp events.SQSEventResponse
		for _, id := range retry {
			resp.BatchItemFailures = append(resp.BatchItemFailures, events.SQSBatchItemFailure{ItemIdentifier: id})
		}
		return resp, nil
	}
}

func fromRecord(r events.SQSMessage) delivery.Incoming {
	in := delivery.Incoming{
		Handle:        r.MessageId,
		MessageID:     r.MessageId,
		Body:          r.Body,
		ReceiveCount:  r.Attributes["ApproximateReceiveCount"],
		SentTimestamp: r.Attributes["SentTimestamp"],
		Attrs:         make(map[string]string, len(r.MessageAttributes)),
	}
	for name, v := range r.MessageAttributes {
		if v.StringValue != nil {
			in.Attrs[name] = *v.StringValue
		}
	}
	return in
}
