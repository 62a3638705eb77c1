package sqs

import (
	"context"
	"fmt"
	"strconv"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	awssqs "github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/playplane/playplane/shared/emulators"
	"github.com/playplane/playplane/shared/playback"
)

func benchMessages() []playback.Message {
	msgs := make([]playback.Message, 100)
	for i := range msgs {
		msgs[i] = playback.Message{OrderingKey: "acct-1", Attributes: map[string]string{"type": "heartbeat"},
			Data: fmt.Appendf(nil, `{"session_id":"ses_%03d","position_ms":%d}`, i, i*1000)}
	}
	return msgs
}

// BenchmarkSendMessageBatchFloor is the floor of BenchmarkPublish100: the
// same 100 messages as ten raw SendMessageBatch calls.
func BenchmarkSendMessageBatchFloor(b *testing.B) {
	endpoint := emulators.SQS(b)
	bus := newBus(b, testConfig(), endpoint, "bench-floor")
	url, err := bus.queueURL(context.Background(), "bench-floor")
	if err != nil {
		b.Fatal(err)
	}
	msgs := benchMessages()
	for b.Loop() {
		for i := 0; i < len(msgs); i += 10 {
			in := &awssqs.SendMessageBatchInput{QueueUrl: aws.String(url)}
			for j, m := range msgs[i : i+10] {
				in.Entries = append(in.Entries, types.SendMessageBatchRequestEntry{Id: aws.String(strconv.Itoa(j)),
					MessageBody: aws.String(string(m.Data)), MessageAttributes: map[string]types.MessageAttributeValue{
						"type": stringAttr("heartbeat"), attrOrderingKey: stringAttr(m.OrderingKey)}})
			}
			if _, err := bus.client().SendMessageBatch(context.Background(), in); err != nil {
				b.Fatal(err)
			}
		}
	}
	_, _ = bus.client().PurgeQueue(context.Background(), &awssqs.PurgeQueueInput{QueueUrl: aws.String(url)})
}

func BenchmarkPublish100(b *testing.B) {
	endpoint := emulators.SQS(b)
	bus := newBus(b, testConfig(), endpoint, "bench-publish")
	msgs := benchMessages()
	for b.Loop() {
		if err := bus.Publish(context.Background(), "bench-publish", msgs...); err != nil {
			b.Fatal(err)
		}
	}
	url, _ := bus.queueURL(context.Background(), "bench-publish")
	_, _ = bus.client().PurgeQueue(context.Background(), &awssqs.PurgeQueueInput{QueueUrl: aws.String(url)})
}
