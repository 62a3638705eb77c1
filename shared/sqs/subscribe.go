package sqs

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path"
	"slices"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awssqs "github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/playplane/playplane/shared/playback"
	"github.com/playplane/playplane/shared/sqs/internal/delivery"
)

// settleTimeout bounds the delete and visibility calls after a batch, which
// run even when the consumer is stopping: an acknowledged message left
// undeleted is delivered again.
const settleTimeout = 10 * time.Second

// Subscribe starts a long-polling consumer of topic's queue that runs until
// ctx ends or the bus closes. Acknowledged messages are deleted; messages
// the handler names for retry become visible again after RetryDelay, and
// SQS moves a message to the dead-letter queue once it has been received
// MaxReceiveCount times. Several consumers of one topic share its messages.
func (b *Bus) Subscribe(ctx context.Context, topic string, h playback.BatchHandler) error {
	url, err := b.queueURL(ctx, topic)
	if err != nil {
		return fail("Subscribe", err)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return playback.Unavailable(errors.New("bus closed"), "sqs.Subscribe")
	}
	b.consumers.Add(1)
	ctx, cancel := context.WithCancel(ctx)
	stop := context.AfterFunc(b.done, cancel)
	go func() {
		defer b.consumers.Done()
		defer cancel()
		defer stop()
		b.consume(ctx, topic, url, h)
	}()
	return nil
}

func (b *Bus) consume(ctx context.Context, topic, url string, h playback.BatchHandler) {
	log := slog.Default().With("topic", topic, "queue_url", url)
	for attempt := 0; ctx.Err() == nil; {
		out, err := b.client().ReceiveMessage(ctx, &awssqs.ReceiveMessageInput{
			QueueUrl:              aws.String(url),
			MaxNumberOfMessages:   int32(b.cfg.MaxBatch),
			WaitTimeSeconds:       int32(b.cfg.WaitTime / time.Second),
			VisibilityTimeout:     int32(b.cfg.VisibilityTimeout / time.Second),
			MessageAttributeNames: []string{"All"},
			MessageSystemAttributeNames: []types.MessageSystemAttributeName{
				types.MessageSystemAttributeNameApproximateReceiveCount, types.MessageSystemAttributeNameSentTimestamp,
			},
		})
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			delay := backoffDelay(attempt)
			attempt++
			log.ErrorContext(ctx, "sqs receive failed", "error", err, "retry_in", delay)
			if sleep(ctx, delay) != nil {
				return
			}
			continue
		}
		attempt = 0
		if len(out.Messages) == 0 {
			continue
		}
		b.handleBatch(ctx, log, url, h, out.Messages)
	}
}

// handleBatch runs h on one received batch and settles every message.
func (b *Bus) handleBatch(ctx context.Context, log *slog.Logger, url string, h playback.BatchHandler, received []types.Message) {
	delivered := make([]delivery.Incoming, len(received))
	for i, r := range received {
		delivered[i] = fromReceived(r)
	}
	// The batch runs to the end even when the consumer is stopping; its
	// messages are settled afterwards.
	retryHandles, ack := delivery.RunBatch(context.WithoutCancel(ctx), log, path.Base(url), h, delivered)
	settleCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), settleTimeout)
	defer cancel()
	if err := b.deleteMessages(settleCtx, url, ack); err != nil {
		log.ErrorContext(ctx, "sqs delete failed: messages will be delivered again", "error", err)
	}
	if err := b.delayMessages(settleCtx, url, retryHandles); err != nil {
		log.ErrorContext(ctx, "sqs visibility change failed: retries wait for the visibility timeout", "error", err)
	}
}

func fromReceived(r types.Message) delivery.Incoming {
	in := delivery.Incoming{
		Handle:        aws.ToString(r.ReceiptHandle),
		MessageID:     aws.ToString(r.MessageId),
		Body:          aws.ToString(r.Body),
		ReceiveCount:  r.Attributes[string(types.MessageSystemAttributeNameApproximateReceiveCount)],
		SentTimestamp: r.Attributes[string(types.MessageSystemAttributeNameSentTimestamp)],
		Attrs:         make(map[string]string, len(r.MessageAttributes)),
	}
	for name, v := range r.MessageAttributes {
		if v.StringValue != nil {
			in.Attrs[name] = *v.StringValue
		}
	}
	return in
}

func (b *Bus) deleteMessages(ctx context.Context, url string, handles []string) error {
	var errs []error
	for chunk := range slices.Chunk(handles, maxBatchEntries) {
		in := &awssqs.DeleteMessageBatchInput{QueueUrl: aws.String(url)}
		for i, h := range chunk {
			in.Entries = append(in.Entries, types.DeleteMessageBatchRequestEntry{Id: aws.String(strconv.Itoa(i)), ReceiptHandle: aws.String(h)})
		}
		out, err := b.client().DeleteMessageBatch(ctx, in)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		for _, f := range out.Failed {
			errs = append(errs, fmt.Errorf("delete entry %s: %s: %s", aws.ToString(f.Id), aws.ToString(f.Code), aws.ToString(f.Message)))
		}
	}
	return errors.Join(errs...)
}

// delayMessages makes retried messages visible again after RetryDelay.
func (b *Bus) delayMessages(ctx context.Context, url string, handles []string) error {
	var errs []error
	for chunk := range slices.Chunk(handles, maxBatchEntries) {
		in := &awssqs.ChangeMessageVisibilityBatchInput{QueueUrl: aws.String(url)}
		for i, h := range chunk {
			in.Entries = append(in.Entries, types.ChangeMessageVisibilityBatchRequestEntry{
				Id: aws.String(strconv.Itoa(i)), ReceiptHandle: aws.String(h), VisibilityTimeout: int32(b.cfg.RetryDelay / time.Second),
			})
		}
		out, err := b.client().ChangeMessageVisibilityBatch(ctx, in)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		for _, f := range out.Failed {
			errs = append(errs, fmt.Errorf("visibility entry %s: %s: %s", aws.ToString(f.Id), aws.ToString(f.Code), aws.ToString(f.Message)))
		}
	}
	return errors.Join(errs...)
}
