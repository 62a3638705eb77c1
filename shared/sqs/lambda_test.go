package sqs

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/playplane/playplane/shared/emulators"
	"github.com/playplane/playplane/shared/playback"
	"github.com/playplane/playplane/shared/sqs/sqslambda"
)

// invoke runs the handler the way the Lambda runtime does: JSON in, JSON out.
func invoke(t *testing.T, h playback.BatchHandler, payload []byte) events.SQSEventResponse {
	t.Helper()
	out, err := lambda.NewHandler(sqslambda.Handler(h)).Invoke(context.Background(), payload)
	if err != nil {
		t.Fatal(err)
	}
	var resp events.SQSEventResponse
	if err := json.Unmarshal(out, &resp); err != nil {
		t.Fatalf("response %s: %v", out, err)
	}
	return resp
}

func failures(resp events.SQSEventResponse) []string {
	var ids []string
	for _, f := range resp.BatchItemFailures {
		ids = append(ids, f.ItemIdentifier)
	}
	slices.Sort(ids)
	return ids
}

// TestLambdaHandlerOnReceivedMessages publishes through the bus, receives
// from fauxqs, and hands the messages to the handler in the shape of the
// Lambda event source mapping.
func TestLambdaHandlerOnReceivedMessages(t *testing.T) {
	t.Parallel()
	endpoint := emulators.SQS(t)
	topic := playback.NewID("lambda")[:20]
	cfg := testConfig()
	b := newBus(t, cfg, endpoint, topic)
	err := b.Publish(context.Background(), topic,
		playback.Message{ID: "evt-1", Data: []byte(`{"n":1}`), Attributes: map[string]string{"type": "a"}},
		playback.Message{ID: "evt-2", Data: []byte(`{"n":2}`), OrderingKey: "acct-9"},
		playback.Message{Data: []byte{0xff, 0x00}})
	if err != nil {
		t.Fatal(err)
	}
	c := client(endpoint)
	url := queueURL(t, c, cfg.QueuePrefix+topic)
	received := receiveAll(t, c, url, 3)
	ev := events.SQSEvent{}
	for _, r := range received {
		rec := events.SQSMessage{
			MessageId: aws.ToString(r.MessageId), ReceiptHandle: aws.ToString(r.ReceiptHandle), Body: aws.ToString(r.Body),
			Attributes: r.Attributes, MessageAttributes: map[string]events.SQSMessageAttribute{},
			EventSource: "aws:sqs", EventSourceARN: "arn:aws:sqs:us-east-1:000000000000:" + cfg.QueuePrefix + topic, AWSRegion: "us-east-1",
		}
		for name, v := range r.MessageAttributes {
			rec.MessageAttributes[name] = events.SQSMessageAttribute{DataType: aws.ToString(v.DataType), StringValue: v.StringValue}
		}
		ev.Records = append(ev.Records, rec)
	}
	payload, err := json.Marshal(ev)
	if err != nil {
		t.Fatal(err)
	}
	var seen []playback.Message
	resp := invoke(t, func(_ context.Context, batch []playback.Message) []string {
		seen = batch
		return []string{"evt-2", "not-in-batch"}
	}, payload)
	if len(seen) != 3 {
		t.Fatalf("handler got %d messages, want 3", len(seen))
	}
	var evt2SQSID string
	for i, m := range seen {
		if m.DeliveryAttempt != 1 || m.PublishTime.IsZero() {
			t.Fatalf("message %+v lacks delivery attempt or publish time", m)
		}
		switch m.ID {
		case "evt-1":
			if m.Attributes["type"] != "a" || string(m.Data) != `{"n":1}` {
				t.Fatalf("evt-1 = %+v", m)
			}
		case "evt-2":
			evt2SQSID = ev.Records[i].MessageId
			if m.OrderingKey != "acct-9" {
				t.Fatalf("evt-2 = %+v", m)
			}
		default: // no publisher id: the SQS message id stands in
			if m.ID != ev.Records[i].MessageId || string(m.Data) != "\xff\x00" {
				t.Fatalf("binary message = %+v", m)
			}
		}
	}
	if got := failures(resp); len(got) != 1 || got[0] != evt2SQSID {
		t.Fatalf("batch item failures = %v, want the SQS message id %s of evt-2", got, evt2SQSID)
	}
}

func record(sqsID, body string, attrs map[string]string) string {
	msgAttrs := map[string]any{}
	for k, v := range attrs {
		msgAttrs[k] = map[string]any{"stringValue": v, "stringListValues": []string{}, "binaryListValues": []string{}, "dataType": "String"}
	}
	rec, _ := json.Marshal(map[string]any{
		"messageId": sqsID, "receiptHandle": "rh-" + sqsID, "body": body,
		"attributes":        map[string]string{"ApproximateReceiveCount": "3", "SentTimestamp": "1700000000000"},
		"messageAttributes": msgAttrs, "md5OfBody": "", "eventSource": "aws:sqs",
		"eventSourceARN": "arn:aws:sqs:us-east-1:000000000000:q", "awsRegion": "us-east-1",
	})
	return string(rec)
}

func TestLambdaHandlerBatchItemFailures(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name       string
		records    []string
		handler    playback.BatchHandler
		wantSeen   int
		wantFailed []string
	}{
		{
			name:    "retry by publisher id",
			records: []string{record("s1", "a", map[string]string{attrID: "p1"}), record("s2", "b", map[string]string{attrID: "p2"})},
			handler: func(_ context.Context, b []playback.Message) []string {
				return []string{"p2", "p2"}
			},
			wantSeen: 2, wantFailed: []string{"s2"},
		},
		{
			name:    "one publisher id twice in the batch retries both copies",
			records: []string{record("s1", "a", map[string]string{attrID: "dup"}), record("s2", "a", map[string]string{attrID: "dup"})},
			handler: func(_ context.Context, b []playback.Message) []string {
				return []string{"dup"}
			},
			wantSeen: 2, wantFailed: []string{"s1", "s2"},
		},
		{
			name:    "undecodable message is acknowledged without the handler",
			records: []string{record("s1", "%%%", map[string]string{attrEncoding: "base64"}), record("s2", "ok", nil)},
			handler: func(_ context.Context, b []playback.Message) []string {
				if len(b) != 1 || b[0].ID != "s2" || b[0].DeliveryAttempt != 3 {
					return []string{"s2"} // fails the case
				}
				return nil
			},
			wantSeen: 1,
		},
		{
			// Each alone panics again: the last call sees one message.
			name:    "a panic on every message retries them all",
			records: []string{record("s1", "a", nil), record("s2", "b", nil)},
			handler: func(context.Context, []playback.Message) []string {
				panic("boom")
			},
			wantSeen: 1, wantFailed: []string{"s1", "s2"},
		},
		{
			// Failed as a batch, s2 came back with s1 until both were
			// dead-lettered.
			name:    "a panic on one message retries that message alone",
			records: []string{record("s1", "poison", nil), record("s2", "good", nil)},
			handler: func(_ context.Context, b []playback.Message) []string {
				for _, m := range b {
					if string(m.Data) == "poison" {
						panic("boom")
					}
				}
				return nil
			},
			wantSeen: 1, wantFailed: []string{"s1"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			seen := 0
			payload := fmt.Sprintf(`{"Records":[%s]}`, strings.Join(tc.records, ","))
			resp := invoke(t, func(ctx context.Context, b []playback.Message) []string {
				seen = len(b)
				return tc.handler(ctx, b)
			}, []byte(payload))
			if got := failures(resp); seen != tc.wantSeen || !slices.Equal(got, tc.wantFailed) {
				t.Fatalf("handler saw %d, failures %v; want %d, %v", seen, got, tc.wantSeen, tc.wantFailed)
			}
		})
	}
}

// TestLambdaHandlerProviderPayload feeds a batch in the shape of
// aws-lambda-go's events/testdata/sqs-event.json (written from it): the
// event source mapping spells attributes in camelCase (stringValue,
// dataType), gives Number attributes their stringValue and Binary ones a
// base64 binaryValue. A message from a producer other than this bus has no
// playplane.id, so the SQS message id is its id and its item identifier.
func TestLambdaHandlerProviderPayload(t *testing.T) {
	t.Parallel()
	const event = `{"Records": [{
  "messageId": "MessageID_1",
  "receiptHandle": "MessageReceiptHandle",
  "body": "Message Body",
  "md5OfBody": "fce0ea8dd236ccb3ed9b37dae260836f",
  "md5OfMessageAttributes": "582c92c5c5b6ac403040a4f3ab3115c9",
  "eventSourceARN": "arn:aws:sqs:us-west-2:123456789012:SQSQueue",
  "eventSource": "aws:sqs",
  "awsRegion": "us-west-2",
  "attributes": {"ApproximateReceiveCount": "2", "SentTimestamp": "1520621625029",
    "SenderId": "AROAIWPX5BD2BHG722MW4:sender", "ApproximateFirstReceiveTimestamp": "1520621634884"},
  "messageAttributes": {
    "Attribute3": {"binaryValue": "MTEwMA==", "stringListValues": ["abc", "123"], "binaryListValues": ["MA==", "MQ==", "MA=="], "dataType": "Binary"},
    "Attribute2": {"stringValue": "123", "stringListValues": [], "binaryListValues": ["MQ==", "MA=="], "dataType": "Number"},
    "Attribute1": {"stringValue": "AttributeValue1", "stringListValues": [], "binaryListValues": [], "dataType": "String"}
  }
}, {
  "messageId": "MessageID_2",
  "receiptHandle": "MessageReceiptHandle2",
  "body": "Other Body",
  "eventSourceARN": "arn:aws:sqs:us-west-2:123456789012:SQSQueue",
  "eventSource": "aws:sqs",
  "awsRegion": "us-west-2",
  "attributes": {"ApproximateReceiveCount": "1", "SentTimestamp": "1520621625030"},
  "messageAttributes": {}
}]}`
	var seen []playback.Message
	resp := invoke(t, func(_ context.Context, batch []playback.Message) []string {
		seen = batch
		return []string{"MessageID_1"}
	}, []byte(event))
	if got := failures(resp); !slices.Equal(got, []string{"MessageID_1"}) {
		t.Fatalf("batch item failures = %v, want [MessageID_1]", got)
	}
	if len(seen) != 2 {
		t.Fatalf("handler saw %d messages, want 2", len(seen))
	}
	m := seen[0]
	if m.ID != "MessageID_1" || string(m.Data) != "Message Body" || m.DeliveryAttempt != 2 ||
		!m.PublishTime.Equal(time.UnixMilli(1520621625029)) {
		t.Fatalf("first message = %+v", m)
	}
	// A Binary attribute has no string form; the others arrive as sent.
	if want := map[string]string{"Attribute1": "AttributeValue1", "Attribute2": "123"}; !maps.Equal(m.Attributes, want) {
		t.Fatalf("attributes = %v, want %v", m.Attributes, want)
	}
	if o := seen[1]; o.ID != "MessageID_2" || o.Attributes != nil || o.DeliveryAttempt != 1 {
		t.Fatalf("second message = %+v", o)
	}
}
