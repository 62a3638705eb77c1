// Package pubsub is the playback.Bus on Google Cloud Pub/Sub: one topic per
// bus topic, each with a pull subscription that dead-letters to a topic of
// its own after MaxDeliveryAttempts. Publish sends with message ordering
// on; on Cloud Functions an Eventarc trigger delivers each message to
// push.CloudEventHandler, and long-running processes consume with Subscribe.
//
// Delivery is at least once. Messages with an OrderingKey are delivered in
// publish order per key when the subscription has message ordering on
// (EnsureTopics turns it on); handlers must be idempotent, as on every
// bus of the port.
package pubsub

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"cloud.google.com/go/pubsub/v2"
	"cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"
	"google.golang.org/api/option"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	"github.com/playplane/playplane/shared/playback"
	"github.com/playplane/playplane/shared/telemetry"
)

var _ playback.Bus = (*Bus)(nil)

// Pub/Sub limits the adapter respects.
const (
	maxMessageBytes    = pubsub.MaxPublishRequestBytes // a message must fit a publish request
	maxAttributes      = 100
	maxAttrKeyBytes    = 256
	maxAttrValueBytes  = 1024
	maxOrderingKeyLen  = 1024
	minDeliveryAttempt = 5
	maxDeliveryAttempt = 100
)

// Config configures the bus.
type Config struct {
	ProjectID string `env:"PUBSUB_PROJECT_ID, default=$GOOGLE_CLOUD_PROJECT"`
	// TopicPrefix is put before every topic name, so several deployments
	// (or tests) can share a project.
	TopicPrefix string `env:"PUBSUB_TOPIC_PREFIX"`
	// SubscriptionSuffix names topic T's pull subscription T+suffix, and
	// DeadLetterSuffix its dead-letter topic T+suffix (which has a
	// subscription of its own, so dead letters are kept and can be
	// consumed with Subscribe(ctx, T+DeadLetterSuffix, h)).
	SubscriptionSuffix string `env:"PUBSUB_SUBSCRIPTION_SUFFIX, default=-sub"`
	DeadLetterSuffix   string `env:"PUBSUB_DEAD_LETTER_SUFFIX, default=-dlq"`
	// MaxDeliveryAttempts is how many deliveries a message gets before
	// Pub/Sub moves it to the dead-letter topic (EnsureTopics; 5-100).
	MaxDeliveryAttempts int `env:"PUBSUB_MAX_DELIVERY_ATTEMPTS, default=5"`
	// AckDeadline is the subscription's ack deadline (EnsureTopics;
	// 10s-600s). Subscribe extends it while a batch is being handled.
	AckDeadline time.Duration `env:"PUBSUB_ACK_DEADLINE, default=60s"`
	// MaxExtension is how long Subscribe keeps extending the deadline of a
	// message it holds. A message still unsettled then is given up: Pub/Sub
	// delivers it again once its last deadline passes. It bounds how long a
	// stuck handler keeps a message from other consumers, and how long
	// Close waits for such a message (the client library's default, 60m).
	MaxExtension time.Duration `env:"PUBSUB_MAX_EXTENSION, default=60m"`
	// RetryBackoff is the least wait before a message the handler asked to
	// retry is delivered again (EnsureTopics' retry policy; up to 600s).
	RetryBackoff time.Duration `env:"PUBSUB_RETRY_BACKOFF, default=1s"`
	// MaxBatch is the most messages Subscribe hands the handler at once,
	// and BatchWindow how long it waits to fill a batch.
	MaxBatch    int           `env:"PUBSUB_MAX_BATCH, default=100"`
	BatchWindow time.Duration `env:"PUBSUB_BATCH_WINDOW, default=20ms"`
	// PublishDelay is how long Publish lets messages gather into one
	// request (the client library's default is 10ms, paid by every call).
	PublishDelay time.Duration `env:"PUBSUB_PUBLISH_DELAY, default=1ms"`
}

func (c *Config) validate() error {
	if c.SubscriptionSuffix == "" {
		c.SubscriptionSuffix = "-sub"
	}
	if c.DeadLetterSuffix == "" {
		c.DeadLetterSuffix = "-dlq"
	}
	if c.MaxDeliveryAttempts == 0 {
		c.MaxDeliveryAttempts = 5
	}
	if c.AckDeadline == 0 {
		c.AckDeadline = 60 * time.Second
	}
	if c.MaxExtension == 0 {
		c.MaxExtension = 60 * time.Minute
	}
	if c.MaxBatch == 0 {
		c.MaxBatch = 100
	}
	if c.BatchWindow == 0 {
		c.BatchWindow = 20 * time.Millisecond
	}
	if c.PublishDelay == 0 {
		c.PublishDelay = time.Millisecond
	}
	switch {
	case c.MaxDeliveryAttempts < minDeliveryAttempt || c.MaxDeliveryAttempts > maxDeliveryAttempt:
		return fmt.Errorf("max delivery attempts %d not in %d..%d", c.MaxDeliveryAttempts, minDeliveryAttempt, maxDeliveryAttempt)
	case c.AckDeadline < 10*time.Second || c.AckDeadline > 600*time.Second:
		return fmt.Errorf("ack deadline %v not in 10s..600s", c.AckDeadline)
	case c.MaxExtension < time.Second || c.MaxExtension > 24*time.Hour:
		return fmt.Errorf("max extension %v not in 1s..24h", c.MaxExtension)
	case c.RetryBackoff < 0 || c.RetryBackoff > 600*time.Second:
		return fmt.Errorf("retry backoff %v not in 0..600s", c.RetryBackoff)
	case c.MaxBatch < 1 || c.MaxBatch > pubsub.MaxPublishRequestCount:
		return fmt.Errorf("max batch %d not in 1..%d", c.MaxBatch, pubsub.MaxPublishRequestCount)
	case c.BatchWindow < 0 || c.BatchWindow > 10*time.Second:
		return fmt.Errorf("batch window %v not in 0..10s", c.BatchWindow)
	case c.PublishDelay < 0 || c.PublishDelay > time.Second:
		return fmt.Errorf("publish delay %v not in 0..1s", c.PublishDelay)
	case c.SubscriptionSuffix == c.DeadLetterSuffix:
		return fmt.Errorf("subscription and dead-letter suffixes are both %q", c.SubscriptionSuffix)
	}
	return nil
}

// Bus is a playback.Bus on Pub/Sub.
type Bus struct {
	cfg Config

	// newClient makes the client on the first call that needs it, when
	// New was given none. Every method that reaches Pub/Sub opens the bus
	// first; client is only read after that.
	newClient  func(context.Context) (*pubsub.Client, error)
	openMu     sync.Mutex // serializes opening and closing the client
	opened     atomic.Bool
	openClosed bool // under openMu: a bus closed before it opened stays closed
	client     *pubsub.Client
	ownClient  bool

	mu         sync.Mutex
	publishers map[string]topicPublisher // by bus topic
	closed     bool
	stop       context.CancelFunc
	done       context.Context // ends on Close; consumers watch it
	consumers  sync.WaitGroup
	closeOnce  sync.Once
	closeErr   error
}

// New returns a bus. A nil client is made from cfg and opts
// (PUBSUB_EMULATOR_HOST is honoured by the client library) on the first
// call that needs it, and closed on Close: finding credentials and setting
// up the gRPC connections is left out of a cold start's requests that
// publish nothing (a refused token). A client that cannot be made fails
// that call and is tried again on the next. New makes no network calls.
func New(_ context.Context, cfg Config, client *pubsub.Client, opts ...option.ClientOption) (*Bus, error) {
	if err := cfg.validate(); err != nil {
		return nil, fmt.Errorf("pubsub.New: %w", err)
	}
	b := &Bus{client: client, cfg: cfg, publishers: map[string]topicPublisher{}}
	b.done, b.stop = context.WithCancel(context.Background())
	if client != nil {
		b.opened.Store(true)
		return b, nil
	}
	project := cfg.ProjectID
	if project == "" {
		project = pubsub.DetectProjectID
	}
	b.newClient = func(ctx context.Context) (*pubsub.Client, error) {
		return pubsub.NewClient(ctx, project, opts...)
	}
	return b, nil
}

// open makes the client if New did not get one and no call has made it
// yet. op names the caller in its error.
func (b *Bus) open(op string) error {
	if b.opened.Load() {
		return nil
	}
	b.openMu.Lock()
	defer b.openMu.Unlock()
	if b.opened.Load() {
		return nil
	}
	if b.openClosed {
		return playback.Unavailable(errors.New("bus closed"), "pubsub.%s", op)
	}
	// The client outlives the call that happened to make it, and must not
	// keep that request's context values (its span, its logger) alive.
	c, err := b.newClient(context.Background())
	if err != nil {
		return fmt.Errorf("pubsub.%s: making the client: %w", op, err)
	}
	b.client, b.ownClient = c, true
	b.opened.Store(true)
	return nil
}

// Close flushes the publishers, stops the consumers, waits for the batches
// they hold to settle, and closes the client if New created it. Later calls
// wait for the first and return its result.
func (b *Bus) Close() error {
	b.closeOnce.Do(func() { b.closeErr = b.close() })
	return b.closeErr
}

func (b *Bus) close() error {
	b.mu.Lock()
	b.closed = true
	pubs := b.publishers
	b.publishers = map[string]topicPublisher{}
	b.mu.Unlock()
	for _, tp := range pubs {
		tp.p.Stop()
	}
	b.stop()
	b.consumers.Wait()
	b.openMu.Lock()
	defer b.openMu.Unlock()
	b.openClosed = true
	if b.ownClient {
		return b.client.Close()
	}
	return nil
}

// resourceIDSyntax is Pub/Sub's rule for resource IDs: 3-255 characters,
// a letter first, then letters, digits or -_.~+%. A loop rather than a
// regexp: a bounded repetition compiles to a large program, at package
// initialisation on every cold start.
func resourceIDSyntax(id string) bool {
	if len(id) < 3 || len(id) > 255 {
		return false
	}
	for i, c := range []byte(id) {
		letter := 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z'
		if !letter && (i == 0 || !('0' <= c && c <= '9' || strings.IndexByte("-_.~+%", c) >= 0)) {
			return false
		}
	}
	return true
}

func validResourceID(id string) error {
	if !resourceIDSyntax(id) || strings.HasPrefix(strings.ToLower(id), "goog") {
		return playback.Errorf(playback.CodeInvalid, "topic_invalid",
			"Pub/Sub resource id %q must be 3-255 letters, digits or -_.~+%%, start with a letter and not with goog", id)
	}
	return nil
}

// names of topic's resources, validated.
type names struct {
	topic, subscription, deadLetter, deadLetterSubscription string // IDs
}

func (b *Bus) names(topic string) (names, error) {
	base := b.cfg.TopicPrefix + topic
	n := names{
		topic:                  base,
		subscription:           base + b.cfg.SubscriptionSuffix,
		deadLetter:             base + b.cfg.DeadLetterSuffix,
		deadLetterSubscription: base + b.cfg.DeadLetterSuffix + b.cfg.SubscriptionSuffix,
	}
	for _, id := range []string{n.topic, n.subscription, n.deadLetter, n.deadLetterSubscription} {
		if err := validResourceID(id); err != nil {
			return n, err
		}
	}
	return n, nil
}

func (b *Bus) topicPath(id string) string {
	return "projects/" + b.client.Project() + "/topics/" + id
}

func (b *Bus) subscriptionPath(id string) string {
	return "projects/" + b.client.Project() + "/subscriptions/" + id
}

// EnsureTopics creates each topic, its dead-letter topic with a
// subscription, and its pull subscription (message ordering on, the
// dead-letter policy, ack deadline and retry policy of the config), for
// local runs and tests; production resources come from the infrastructure
// code, which must also let the Pub/Sub service agent publish to the
// dead-letter topic and subscribe to the subscription. Existing
// subscriptions get the policies set again.
func (b *Bus) EnsureTopics(ctx context.Context, topics ...string) error {
	if err := b.open("EnsureTopics"); err != nil {
		return err
	}
	for _, topic := range topics {
		n, err := b.names(topic)
		if err != nil {
			return fmt.Errorf("pubsub.EnsureTopics: %w", err)
		}
		for _, id := range []string{n.topic, n.deadLetter} {
			if err := b.createTopic(ctx, id); err != nil {
				return fail("EnsureTopics", err)
			}
		}
		if err := b.ensureSubscription(ctx, &pubsubpb.Subscription{
			Name: b.subscriptionPath(n.deadLetterSubscription), Topic: b.topicPath(n.deadLetter),
			AckDeadlineSeconds: int32(b.cfg.AckDeadline / time.Second),
		}); err != nil {
			return fail("EnsureTopics", err)
		}
		if err := b.ensureSubscription(ctx, &pubsubpb.Subscription{
			Name:                  b.subscriptionPath(n.subscription),
			Topic:                 b.topicPath(n.topic),
			AckDeadlineSeconds:    int32(b.cfg.AckDeadline / time.Second),
			EnableMessageOrdering: true,
			DeadLetterPolicy: &pubsubpb.DeadLetterPolicy{
				DeadLetterTopic:     b.topicPath(n.deadLetter),
				MaxDeliveryAttempts: int32(b.cfg.MaxDeliveryAttempts),
			},
			RetryPolicy: &pubsubpb.RetryPolicy{
				MinimumBackoff: durationpb.New(b.cfg.RetryBackoff),
				MaximumBackoff: durationpb.New(max(b.cfg.RetryBackoff, 60*time.Second)),
			},
		}); err != nil {
			return fail("EnsureTopics", err)
		}
	}
	return nil
}

func (b *Bus) createTopic(ctx context.Context, id string) error {
	_, err := b.client.TopicAdminClient.CreateTopic(ctx, &pubsubpb.Topic{Name: b.topicPath(id)})
	if status.Code(err) == codes.AlreadyExists {
		return nil
	}
	if err != nil {
		return fmt.Errorf("CreateTopic %s: %w", id, err)
	}
	return nil
}

func (b *Bus) ensureSubscription(ctx context.Context, sub *pubsubpb.Subscription) error {
	_, err := b.client.SubscriptionAdminClient.CreateSubscription(ctx, sub)
	if err == nil {
		return nil
	}
	if status.Code(err) != codes.AlreadyExists {
		return fmt.Errorf("CreateSubscription %s: %w", sub.Name, err)
	}
	// Message ordering cannot change on an existing subscription.
	paths := []string{"ack_deadline_seconds"}
	if sub.DeadLetterPolicy != nil {
		paths = append(paths, "dead_letter_policy", "retry_policy")
	}
	_, err = b.client.SubscriptionAdminClient.UpdateSubscription(ctx, &pubsubpb.UpdateSubscriptionRequest{
		Subscription: sub, UpdateMask: &fieldmaskpb.FieldMask{Paths: paths},
	})
	if err != nil {
		return fmt.Errorf("UpdateSubscription %s: %w", sub.Name, err)
	}
	return nil
}

// topicPublisher is a bus topic's publisher, its topic's ID and the length
// of its resource name, which counts against every message's size.
type topicPublisher struct {
	p       *pubsub.Publisher
	id      string // the topic's ID
	pathLen int
}

// publisher returns the cached publisher of a bus topic. Its names are
// checked once, when it is made; a topic whose names are invalid is never
// cached and fails every call.
func (b *Bus) publisher(topic string) (topicPublisher, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return topicPublisher{}, playback.Unavailable(errors.New("bus closed"), "pubsub.Publish")
	}
	if tp, ok := b.publishers[topic]; ok {
		return tp, nil
	}
	n, err := b.names(topic)
	if err != nil {
		return topicPublisher{}, err
	}
	p := b.client.Publisher(n.topic)
	p.EnableMessageOrdering = true
	// The client library bundles up to CountThreshold messages and never
	// past Pub/Sub's 1,000 messages or 10 MB per request.
	p.PublishSettings.DelayThreshold = b.cfg.PublishDelay
	p.PublishSettings.CountThreshold = pubsub.MaxPublishRequestCount
	tp := topicPublisher{p: p, id: n.topic, pathLen: len(b.topicPath(n.topic))}
	b.publishers[topic] = tp
	return tp, nil
}

// Publish sends msgs to topic and returns once Pub/Sub has stored every
// one. It checks every message before sending any, so a message Pub/Sub
// would refuse fails the call (CodeInvalid, CodeTooLarge) with nothing
// sent. A call that fails may have sent part of msgs, and its retry sends
// those again (at least once). A failure pauses an ordering key in the
// client library, to keep later messages of the key from overtaking the
// failed one; Publish resumes the key before returning, since the caller's
// retry re-sends the whole call in order.
func (b *Bus) Publish(ctx context.Context, topic string, msgs ...playback.Message) error {
	if len(msgs) == 0 {
		return nil
	}
	ctx, end := telemetry.StartPublish(ctx, telemetry.SystemPubSub, topic, len(msgs))
	err := b.publish(ctx, topic, msgs)
	end(err)
	return err
}

func (b *Bus) publish(ctx context.Context, topic string, msgs []playback.Message) error {
	if err := b.open("Publish"); err != nil {
		return err
	}
	tp, err := b.publisher(topic)
	if err != nil {
		return err
	}
	carrier := telemetry.Carrier(ctx)
	out := make([]*pubsub.Message, len(msgs))
	for i, m := range msgs {
		if out[i], err = encode(m, carrier, tp.pathLen); err != nil {
			return err
		}
	}
	results := make([]*pubsub.PublishResult, len(out))
	for i, m := range out {
		results[i] = tp.p.Publish(ctx, m)
	}
	var first error
	failedKeys := map[string]bool{}
	for i, r := range results {
		if _, err := r.Get(ctx); err != nil {
			first = cmpErr(first, err)
			failedKeys[out[i].OrderingKey] = true
		}
	}
	for key := range failedKeys {
		if key != "" {
			tp.p.ResumePublish(key)
		}
	}
	if first != nil {
		return fail("Publish", fmt.Errorf("topic %s: %w", tp.id, first))
	}
	return nil
}

// cmpErr keeps the first error that is not the client library's
// "publishing paused" echo of an earlier failure.
func cmpErr(first, err error) error {
	var paused pubsub.ErrPublishingPaused
	if first == nil || (errors.As(first, &paused) && !errors.As(err, &paused)) {
		return err
	}
	return first
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

// fail classifies err: domain errors pass, failures a retry can cure
// (unavailable, deadline, quota, aborted, internal) become CodeUnavailable,
// the rest (a missing topic, no permission) stays an internal error.
func fail(op string, err error) error {
	if err == nil {
		return nil
	}
	var pe *playback.Error
	if errors.As(err, &pe) {
		return err
	}
	err = fmt.Errorf("pubsub.%s: %w", op, err)
	switch status.Code(err) {
	case codes.Unavailable, codes.DeadlineExceeded, codes.ResourceExhausted, codes.Aborted, codes.Internal, codes.Canceled:
		return playback.Unavailable(err, "pubsub.%s: Pub/Sub unavailable", op)
	}
	if errors.Is(err, pubsub.ErrPublisherStopped) {
		return playback.Unavailable(err, "pubsub.%s: bus closed", op)
	}
	return err
}
