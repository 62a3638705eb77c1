package lambdatest

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	lambdaevents "github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	awssqs "github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/playplane/playplane/shared/dynamo"
	"github.com/playplane/playplane/shared/emulators"
	"github.com/playplane/playplane/shared/playback"
	"github.com/playplane/playplane/shared/sqs"
)

// Backend is a fresh table on DynamoDB Local and fresh queues (each with its
// dead-letter queue) on fauxqs, shared by the handler under test and the
// test itself.
type Backend struct {
	Store     *dynamo.Store
	SQS       *awssqs.Client
	QueueURLs map[string]string // by topic
	// Vars point a function's Lambda at the backend: DYNAMO_TABLE,
	// DYNAMODB_ENDPOINT, SQS_ENDPOINT, QUEUE_URLS, AWS_REGION.
	Vars map[string]string
}

// NewBackend creates the table and the queues of topics; the table is
// deleted when the test ends.
func NewBackend(t testing.TB, topics ...string) *Backend {
	t.Helper()
	ctx := context.Background()
	dynamoEndpoint, sqsEndpoint := emulators.DynamoDB(t), emulators.SQS(t)
	cfg := LocalAWS()
	db := dynamodb.NewFromConfig(cfg, func(o *dynamodb.Options) { o.BaseEndpoint = aws.String(dynamoEndpoint) })
	table := playback.NewID("lambdatest")
	store, err := dynamo.New(ctx, dynamo.Config{Table: table}, db)
	if err != nil {
		t.Fatal(err)
	}
	if err := store.CreateTable(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_, _ = db.DeleteTable(context.Background(), &dynamodb.DeleteTableInput{TableName: aws.String(table)})
	})

	client := awssqs.NewFromConfig(cfg, func(o *awssqs.Options) { o.BaseEndpoint = aws.String(sqsEndpoint) })
	// Queue names end in the topic, as the template's do ("<stack>-heartbeats").
	prefix := strings.ToLower(playback.NewID("lt")[:14]) + "-"
	bus, err := sqs.New(ctx, sqs.Config{QueuePrefix: prefix}, client)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = bus.Close() })
	if err := bus.EnsureQueues(ctx, topics...); err != nil {
		t.Fatal(err)
	}
	b := &Backend{Store: store, SQS: client, QueueURLs: map[string]string{}}
	var pairs []string
	for _, topic := range topics {
		out, err := client.GetQueueUrl(ctx, &awssqs.GetQueueUrlInput{QueueName: aws.String(prefix + topic)})
		if err != nil {
			t.Fatal(err)
		}
		b.QueueURLs[topic] = aws.ToString(out.QueueUrl)
		pairs = append(pairs, topic+"="+b.QueueURLs[topic])
	}
	b.Vars = map[string]string{
		"DYNAMO_TABLE":      table,
		"DYNAMODB_ENDPOINT": dynamoEndpoint,
		"SQS_ENDPOINT":      sqsEndpoint,
		"QUEUE_URLS":        strings.Join(pairs, ","),
		"AWS_REGION":        cfg.Region,
	}
	return b
}

// QueueARN is the ARN Lambda's event source mapping would name topic's
// queue with.
func (b *Backend) QueueARN(topic string) string {
	u := b.QueueURLs[topic]
	return "arn:aws:sqs:us-east-1:000000000000:" + u[strings.LastIndexByte(u, '/')+1:]
}

// Receive takes n messages off topic's queue (waiting up to 10 s for them),
// deletes them, and returns them as the SQS event Lambda would deliver.
func (b *Backend) Receive(t testing.TB, topic string, n int) lambdaevents.SQSEvent {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var ev lambdaevents.SQSEvent
	for len(ev.Records) < n {
		out, err := b.SQS.ReceiveMessage(ctx, &awssqs.ReceiveMessageInput{
			QueueUrl: aws.String(b.QueueURLs[topic]), MaxNumberOfMessages: int32(min(n-len(ev.Records), 10)),
			WaitTimeSeconds: 1, MessageAttributeNames: []string{"All"},
			MessageSystemAttributeNames: []sqstypes.MessageSystemAttributeName{sqstypes.MessageSystemAttributeNameAll},
		})
		if err != nil {
			t.Fatalf("receiving %d messages of %s (got %d): %v", n, topic, len(ev.Records), err)
		}
		for _, m := range out.Messages {
			ev.Records = append(ev.Records, b.record(topic, m))
			_, err := b.SQS.DeleteMessage(ctx, &awssqs.DeleteMessageInput{QueueUrl: aws.String(b.QueueURLs[topic]), ReceiptHandle: m.ReceiptHandle})
			if err != nil {
				t.Fatal(err)
			}
		}
	}
	return ev
}

// Pending counts the messages waiting on topic's queue.
func (b *Backend) Pending(t testing.TB, topic string) int {
	t.Helper()
	out, err := b.SQS.GetQueueAttributes(context.Background(), &awssqs.GetQueueAttributesInput{
		QueueUrl:       aws.String(b.QueueURLs[topic]),
		AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameApproximateNumberOfMessages},
	})
	if err != nil {
		t.Fatal(err)
	}
	var n int
	fmt.Sscan(out.Attributes[string(sqstypes.QueueAttributeNameApproximateNumberOfMessages)], &n)
	return n
}

func (b *Backend) record(topic string, m sqstypes.Message) lambdaevents.SQSMessage {
	r := lambdaevents.SQSMessage{
		MessageId: aws.ToString(m.MessageId), ReceiptHandle: aws.ToString(m.ReceiptHandle), Body: aws.ToString(m.Body),
		Md5OfBody: aws.ToString(m.MD5OfBody), Attributes: m.Attributes,
		MessageAttributes: map[string]lambdaevents.SQSMessageAttribute{},
		EventSource:       "aws:sqs", EventSourceARN: b.QueueARN(topic), AWSRegion: "us-east-1",
	}
	for name, v := range m.MessageAttributes {
		r.MessageAttributes[name] = lambdaevents.SQSMessageAttribute{DataType: aws.ToString(v.DataType), StringValue: v.StringValue}
	}
	return r
}
