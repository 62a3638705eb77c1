// Package sqs is the playback.Bus on Amazon SQS: one standard queue per
// topic, each with a dead-letter queue. Publish sends in batches; on Lambda
// the event source mapping delivers batches to sqslambda.Handler (which
// links no SQS client), and long-running processes consume with Subscribe.
//
// Delivery is at least once and unordered (standard queues): OrderingKey
// travels as an attribute for consumers that want it, and handlers must be
// idempotent, as on every bus of the port.
package sqs

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"path"
	"strconv"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	awssqs "github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/playplane/playplane/shared/playback"
	"github.com/playplane/playplane/shared/telemetry"
)

var (
	_ playback.Bus             = (*Bus)(nil)
	_ playback.MessageLimiter  = (*Bus)(nil)
	_ playback.DeliveryLimiter = (*Bus)(nil)
)

// SQS limits the adapter respects.
const (
	maxBatchEntries = 10
	maxWaitTime     = 20 * time.Second
	maxVisibility   = 12 * time.Hour
	dlqSuffix       = "-dlq"
	dlqRetention    = 14 * 24 * time.Hour // SQS's longest: time to look at poison messages
)

// maxPublishAttempts bounds the resends of entries SQS failed on its side.
const maxPublishAttempts = 5

// Config configures the bus.
type Config struct {
	// Endpoint overrides the service endpoint (fauxqs).
	Endpoint string `env:"SQS_ENDPOINT"`
	// QueueURLs maps topics to queue URLs: "heartbeats:https://sqs...,edge-health:https://...".
	// Topics without an entry are looked up by queue name (QueuePrefix + topic) on first use.
	QueueURLs   map[string]string `env:"SQS_QUEUE_URLS"`
	QueuePrefix string            `env:"SQS_QUEUE_PREFIX"`
	// MaxReceiveCount is how many receives a message gets before SQS moves it
	// to the dead-letter queue (EnsureQueues' redrive policy).
	MaxReceiveCount int `env:"SQS_MAX_RECEIVE_COUNT, default=5"`
	// VisibilityTimeout hides a received message from other consumers while
	// Subscribe's handler works on it.
	VisibilityTimeout time.Duration `env:"SQS_VISIBILITY_TIMEOUT, default=30s"`
	// RetryDelay is how long a message the handler asked to retry stays
	// hidden before its next delivery (whole seconds; 0 redelivers at once).
	RetryDelay time.Duration `env:"SQS_RETRY_DELAY, default=1s"`
	// WaitTime is Subscribe's long-poll wait.
	WaitTime time.Duration `env:"SQS_WAIT_TIME, default=20s"`
	// MaxBatch is the most messages Subscribe hands the handler at once.
	MaxBatch int `env:"SQS_MAX_BATCH, default=10"`
	// MaxMessageBytes and MaxBatchBytes are the size limits Publish enforces
	// (body plus attributes, as SQS counts). SQS takes up to 1 MiB for both
	// now; messages stay at 256 KiB by default so that a batch of ten fits
	// a Lambda invocation and queues made with the old limit accept them.
	MaxMessageBytes int `env:"SQS_MAX_MESSAGE_BYTES, default=262144"`
	MaxBatchBytes   int `env:"SQS_MAX_BATCH_BYTES, default=1048576"`
}

func (c *Config) validate() error {
	if c.MaxReceiveCount == 0 {
		c.MaxReceiveCount = 5
	}
	if c.VisibilityTimeout == 0 {
		c.VisibilityTimeout = 30 * time.Second
	}
	if c.WaitTime == 0 {
		c.WaitTime = maxWaitTime
	}
	if c.MaxBatch == 0 {
		c.MaxBatch = maxBatchEntries
	}
	if c.MaxMessageBytes == 0 {
		c.MaxMessageBytes = 256 << 10
	}
	if c.MaxBatchBytes == 0 {
		c.MaxBatchBytes = 1 << 20
	}
	switch {
	case c.MaxReceiveCount < 1 || c.MaxReceiveCount > 1000:
		return fmt.Errorf("max receive count %d not in 1..1000", c.MaxReceiveCount)
	case c.VisibilityTimeout < time.Second || c.VisibilityTimeout > maxVisibility:
		return fmt.Errorf("visibility timeout %v not in 1s..12h", c.VisibilityTimeout)
	case c.RetryDelay < 0 || c.RetryDelay > maxVisibility:
		return fmt.Errorf("retry delay %v not in 0..12h", c.RetryDelay)
	case c.WaitTime < time.Second || c.WaitTime > maxWaitTime:
		return fmt.Errorf("wait time %v not in 1s..20s", c.WaitTime)
	case c.MaxBatch < 1 || c.MaxBatch > maxBatchEntries:
		return fmt.Errorf("max batch %d not in 1..10", c.MaxBatch)
	case c.MaxMessageBytes < 1024 || c.MaxMessageBytes > 1<<20:
		return fmt.Errorf("max message bytes %d not in 1 KiB..1 MiB", c.MaxMessageBytes)
	case c.MaxBatchBytes < c.MaxMessageBytes || c.MaxBatchBytes > 1<<20:
		return fmt.Errorf("max batch bytes %d not in max message bytes..1 MiB", c.MaxBatchBytes)
	}
	for topic, url := range c.QueueURLs {
		if topic == "" || url == "" {
			return fmt.Errorf("queue url mapping %q:%q has an empty side", topic, url)
		}
	}
	return nil
}

// Bus is a playback.Bus on SQS.
type Bus struct {
	// newClient returns the client: built on the first call that needs
	// it (NewDeferred).
	newClient func() *awssqs.Client
	cfg       Config

	mu        sync.Mutex
	queueURLs map[string]string // topic → URL, from config, EnsureQueues or lookups
	closed    bool
	stop      context.CancelFunc
	done      context.Context // ends on Close; consumers watch it
	consumers sync.WaitGroup
}

// MaxDeliveryAttempts is Config.MaxReceiveCount, the receives of a
// message before SQS moves it to the dead-letter queue
// (playback.DeliveryLimiter).
func (b *Bus) MaxDeliveryAttempts() int { return b.cfg.MaxReceiveCount }

// New returns a bus through client (built with cfg.Endpoint by its
// caller, who shares one AWS configuration between clients). New makes no
// network calls.
func New(ctx context.Context, cfg Config, client *awssqs.Client) (*Bus, error) {
	if client == nil {
		return nil, errors.New("sqs.New: an SQS client is required")
	}
	return busOf("sqs.New", cfg, func() *awssqs.Client { return client })
}

// NewDeferred is New with the client made by newClient on the bus's first
// call that needs it (once, shared by every call after): a Lambda's first
// request that publishes nothing does not pay for building it.
func NewDeferred(ctx context.Context, cfg Config, newClient func() *awssqs.Client) (*Bus, error) {
	if newClient == nil {
		return nil, errors.New("sqs.NewDeferred: an SQS client constructor is required")
	}
	return busOf("sqs.NewDeferred", cfg, sync.OnceValue(func() *awssqs.Client {
		// New refuses a nil client; made late, one can only be refused
		// at its first use, by name rather than as a nil dereference
		// deep in the SDK.
		client := newClient()
		if client == nil {
			panic("sqs.NewDeferred: the client constructor returned nil")
		}
		return client
	}))
}

func busOf(op string, cfg Config, client func() *awssqs.Client) (*Bus, error) {
	if err := cfg.validate(); err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	b := &Bus{newClient: client, cfg: cfg, queueURLs: make(map[string]string, len(cfg.QueueURLs))}
	for topic, url := range cfg.QueueURLs {
		b.queueURLs[topic] = url
	}
	b.done, b.stop = context.WithCancel(context.Background())
	return b, nil
}

// client is the bus's client.
func (b *Bus) client() *awssqs.Client { return b.newClient() }

// Close stops the consumers and waits for the batches they hold to settle.
func (b *Bus) Close() error {
	b.mu.Lock()
	b.closed = true
	b.mu.Unlock()
	b.stop()
	b.consumers.Wait()
	return nil
}

// validQueueName is SQS's rule for queue names: 1-80 letters, digits, '-'
// or '_'. A loop rather than a regexp: a bounded repetition compiles to a
// large program, at package initialisation on every cold start.
func validQueueName(name string) bool {
	if len(name) < 1 || len(name) > 80 {
		return false
	}
	for _, c := range []byte(name) {
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

func (b *Bus) queueName(topic string) (string, error) {
	name := b.cfg.QueuePrefix + topic
	if !validQueueName(name + dlqSuffix) {
		return "", fmt.Errorf("queue name %q (and its %q dead-letter queue) must be 1-80 letters, digits, '-' or '_'", name, dlqSuffix)
	}
	return name, nil
}

// destination is the name of topic's queue, without a call to SQS: the
// messaging conventions' messaging.destination.name of an SQS span, which
// the consumer's spans name too (from the queue's URL or ARN). The topic
// itself when its queue name is invalid (Publish fails on it).
func (b *Bus) destination(topic string) string {
	b.mu.Lock()
	url, ok := b.queueURLs[topic]
	b.mu.Unlock()
	if ok {
		return path.Base(url)
	}
	if name, err := b.queueName(topic); err == nil {
		return name
	}
	return topic
}

// queueURL resolves topic's queue, asking SQS by name once when the
// configuration does not say.
func (b *Bus) queueURL(ctx context.Context, topic string) (string, error) {
	b.mu.Lock()
	url, ok := b.queueURLs[topic]
	b.mu.Unlock()
	if ok {
		return url, nil
	}
	name, err := b.queueName(topic)
	if err != nil {
		return "", err
	}
	out, err := b.client().GetQueueUrl(ctx, &awssqs.GetQueueUrlInput{QueueName: aws.String(name)})
	if err != nil {
		return "", fmt.Errorf("topic %q: GetQueueUrl %s: %w", topic, name, err)
	}
	b.mu.Lock()
	b.queueURLs[topic] = aws.ToString(out.QueueUrl)
	b.mu.Unlock()
	return aws.ToString(out.QueueUrl), nil
}

// EnsureQueues creates each topic's queue and its dead-letter queue, with a
// redrive policy after MaxReceiveCount receives, for local runs and tests
// (production queues come from the infrastructure code). Existing queues
// get the policy and visibility timeout set again.
func (b *Bus) EnsureQueues(ctx context.Context, topics ...string) error {
	for _, topic := range topics {
		name, err := b.queueName(topic)
		if err != nil {
			return fmt.Errorf("sqs.EnsureQueues: %w", err)
		}
		dlqURL, err := b.createQueue(ctx, name+dlqSuffix, map[string]string{
			string(types.QueueAttributeNameMessageRetentionPeriod): strconv.Itoa(int(dlqRetention.Seconds())),
		})
		if err != nil {
			return fmt.Errorf("sqs.EnsureQueues: %w", err)
		}
		attrs, err := b.client().GetQueueAttributes(ctx, &awssqs.GetQueueAttributesInput{
			QueueUrl: aws.String(dlqURL), AttributeNames: []types.QueueAttributeName{types.QueueAttributeNameQueueArn},
		})
		if err != nil {
			return fmt.Errorf("sqs.EnsureQueues: arn of %s: %w", dlqURL, err)
		}
		redrive, err := json.Marshal(map[string]string{
			"deadLetterTargetArn": attrs.Attributes[string(types.QueueAttributeNameQueueArn)],
			"maxReceiveCount":     strconv.Itoa(b.cfg.MaxReceiveCount),
		})
		if err != nil {
			return fmt.Errorf("sqs.EnsureQueues: %w", err)
		}
		url, err := b.createQueue(ctx, name, map[string]string{
			string(types.QueueAttributeNameRedrivePolicy):     string(redrive),
			string(types.QueueAttributeNameVisibilityTimeout): strconv.Itoa(int(b.cfg.VisibilityTimeout.Seconds())),
		})
		if err != nil {
			return fmt.Errorf("sqs.EnsureQueues: %w", err)
		}
		b.mu.Lock()
		b.queueURLs[topic] = url
		b.mu.Unlock()
	}
	return nil
}

// createQueue creates a queue or, when one of that name exists with other
// attributes, sets them on it.
func (b *Bus) createQueue(ctx context.Context, name string, attrs map[string]string) (string, error) {
	out, err := b.client().CreateQueue(ctx, &awssqs.CreateQueueInput{QueueName: aws.String(name), Attributes: attrs})
	if err == nil {
		return aws.ToString(out.QueueUrl), nil
	}
	var exists *types.QueueNameExists
	if !errors.As(err, &exists) {
		return "", fmt.Errorf("CreateQueue %s: %w", name, err)
	}
	got, err := b.client().GetQueueUrl(ctx, &awssqs.GetQueueUrlInput{QueueName: aws.String(name)})
	if err != nil {
		return "", fmt.Errorf("GetQueueUrl %s: %w", name, err)
	}
	if _, err := b.client().SetQueueAttributes(ctx, &awssqs.SetQueueAttributesInput{QueueUrl: got.QueueUrl, Attributes: attrs}); err != nil {
		return "", fmt.Errorf("SetQueueAttributes %s: %w", name, err)
	}
	return aws.ToString(got.QueueUrl), nil
}

// Publish sends msgs to topic's queue in batches of at most ten entries
// and MaxBatchBytes, and returns once SQS has stored every one. It checks
// every message before sending any, so a message SQS would refuse fails
// the call (CodeInvalid, CodeTooLarge) with nothing sent. Entries SQS
// fails on its side are resent alone; a call that still fails may have
// sent part of msgs, and its retry sends those again (at least once).
func (b *Bus) Publish(ctx context.Context, topic string, msgs ...playback.Message) error {
	if len(msgs) == 0 {
		return nil
	}
	ctx, end := telemetry.StartPublish(ctx, telemetry.SystemSQS, b.destination(topic), len(msgs))
	err := b.publish(ctx, topic, msgs)
	end(err)
	return err
}

// MaxMessageBytes is the limit Publish holds a message to, its attributes
// included (Config.MaxMessageBytes).
func (b *Bus) MaxMessageBytes() int { return b.cfg.MaxMessageBytes }

func (b *Bus) publish(ctx context.Context, topic string, msgs []playback.Message) error {
	carrier := telemetry.Carrier(ctx)
	entries := make([]outgoing, len(msgs))
	for i, m := range msgs {
		out, err := encode(m, carrier, b.cfg.MaxMessageBytes)
		if err != nil {
			return err
		}
		if out.size > b.cfg.MaxMessageBytes {
			return playback.Errorf(playback.CodeTooLarge, "message_too_large",
				"message %d is %d bytes with its attributes, the limit is %d", i, out.size, b.cfg.MaxMessageBytes)
		}
		entries[i] = out
	}
	url, err := b.queueURL(ctx, topic)
	if err != nil {
		return fail("Publish", err)
	}
	for len(entries) > 0 {
		n, size := 0, 0
		for n < len(entries) && n < maxBatchEntries && size+entries[n].size <= b.cfg.MaxBatchBytes {
			size += entries[n].size
			n++
		}
		if err := b.sendBatch(ctx, url, entries[:n]); err != nil {
			return err
		}
		entries = entries[n:]
	}
	return nil
}

// sendBatch sends one batch, resending only the entries SQS failed.
func (b *Bus) sendBatch(ctx context.Context, url string, batch []outgoing) error {
	pending := make(map[string]outgoing, len(batch))
	for i, e := range batch {
		pending[strconv.Itoa(i)] = e
	}
	for attempt := 0; ; attempt++ {
		in := &awssqs.SendMessageBatchInput{QueueUrl: aws.String(url)}
		for id, e := range pending {
			in.Entries = append(in.Entries, types.SendMessageBatchRequestEntry{
				Id: aws.String(id), MessageBody: aws.String(e.body), MessageAttributes: e.attrs,
			})
		}
		out, err := b.client().SendMessageBatch(ctx, in)
		if err != nil {
			return fail("Publish", err)
		}
		for _, ok := range out.Successful {
			delete(pending, aws.ToString(ok.Id))
		}
		var lastFailure error
		for _, f := range out.Failed {
			cause := fmt.Errorf("entry rejected: %s: %s", aws.ToString(f.Code), aws.ToString(f.Message))
			if f.SenderFault {
				return &playback.Error{Code: playback.CodeInvalid, Reason: "message_rejected",
					Message: "SQS refused a message: " + aws.ToString(f.Code), Err: cause}
			}
			lastFailure = cause
		}
		if len(pending) == 0 {
			return nil
		}
		if lastFailure == nil {
			lastFailure = fmt.Errorf("%d entries neither sent nor failed", len(pending))
		}
		if attempt+1 >= maxPublishAttempts {
			return playback.Unavailable(lastFailure, "sqs.Publish: %d messages not accepted after %d attempts", len(pending), attempt+1)
		}
		if err := sleep(ctx, backoffDelay(attempt)); err != nil {
			return fail("Publish", err)
		}
	}
}

func backoffDelay(attempt int) time.Duration {
	ceiling := min(5*time.Second, 50*time.Millisecond<<min(attempt, 10))
	return ceiling/2 + rand.N(ceiling/2)
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

var retryables = retry.IsErrorRetryables(retry.DefaultRetryables)

// fail classifies err: domain errors pass, failures a retry can cure
// (throttling, network, 5xx) become CodeUnavailable, the rest (a missing
// queue, bad credentials) stays an internal error.
func fail(op string, err error) error {
	var pe *playback.Error
	if errors.As(err, &pe) {
		return err
	}
	err = fmt.Errorf("sqs.%s: %w", op, err)
	if !errors.Is(err, context.Canceled) && !errors.Is(err, context.DeadlineExceeded) &&
		retryables.IsErrorRetryable(err) == aws.TrueTernary {
		return playback.Unavailable(err, "sqs.%s: SQS unavailable", op)
	}
	return err
}
