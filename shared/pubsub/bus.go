// Package pubsub is the publishing side of the bus on Google Cloud
// Pub/Sub: one topic per bus topic, each with a pull subscription that
// dead-letters to a topic of its own after MaxDeliveryAttempts. Publish
// sends with ordering keys; on Cloud Functions an Eventarc trigger
// delivers each message to push.CloudEventHandler, and long-running
// processes consume with package pull, whose Bus is this one with
// Subscribe (playback.Bus).
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
	"iter"
	"os"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	vkit "cloud.google.com/go/pubsub/v2/apiv1"
	"cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"
	"google.golang.org/api/option"
	"google.golang.org/api/transport"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/keepalive"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	"github.com/playplane/playplane/functions/catalog"
	"github.com/playplane/playplane/shared/playback"
	"github.com/playplane/playplane/shared/telemetry"
)

var (
	_ playback.Publisher       = (*Bus)(nil)
	_ playback.DeliveryLimiter = (*Bus)(nil)
)

// Pub/Sub limits the adapter respects.
const (
	maxRequestBytes    = 10_000_000      // a publish request's size
	maxRequestMessages = 1000            // and message count
	maxMessageBytes    = maxRequestBytes // a message must fit a publish request
	requestBytes       = 1_000_000       // the size Publish gathers messages to
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
	// DeadLetterSuffix its dead-letter topic T+suffix, with a subscription
	// of the same id that keeps the dead letters: the stacks' names
	// (catalog.DeadLetterName), which Redrive pulls and
	// Subscribe(ctx, T+DeadLetterSuffix, h) consumes.
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
	switch {
	case c.MaxDeliveryAttempts < minDeliveryAttempt || c.MaxDeliveryAttempts > maxDeliveryAttempt:
		return fmt.Errorf("max delivery attempts %d not in %d..%d", c.MaxDeliveryAttempts, minDeliveryAttempt, maxDeliveryAttempt)
	case c.AckDeadline < 10*time.Second || c.AckDeadline > 600*time.Second:
		return fmt.Errorf("ack deadline %v not in 10s..600s", c.AckDeadline)
	case c.MaxExtension < time.Second || c.MaxExtension > 24*time.Hour:
		return fmt.Errorf("max extension %v not in 1s..24h", c.MaxExtension)
	case c.RetryBackoff < 0 || c.RetryBackoff > 600*time.Second:
		return fmt.Errorf("retry backoff %v not in 0..600s", c.RetryBackoff)
	case c.MaxBatch < 1 || c.MaxBatch > maxRequestMessages:
		return fmt.Errorf("max batch %d not in 1..%d", c.MaxBatch, maxRequestMessages)
	case c.BatchWindow < 0 || c.BatchWindow > 10*time.Second:
		return fmt.Errorf("batch window %v not in 0..10s", c.BatchWindow)
	case c.SubscriptionSuffix == c.DeadLetterSuffix:
		return fmt.Errorf("subscription and dead-letter suffixes are both %q", c.SubscriptionSuffix)
	}
	return nil
}

// Bus is the publishing side of the bus on Pub/Sub (playback.Publisher),
// with EnsureTopics for local runs and tests. It calls the generated
// clients of cloud.google.com/go/pubsub/v2/apiv1 itself rather than the
// high-level client, whose package links OpenCensus (its stats views):
// OpenCensus's resource package compiles a regexp at init, 3.0-4.0 ms of
// every cold start of a unit that publishes. The streaming-pull consumer,
// which needs the high-level client, is package pull beside this one.
type Bus struct {
	cfg  Config
	opts []option.ClientOption

	// newClient makes the publishing client on the first call that needs
	// it. Every method that reaches Pub/Sub opens the bus first; client
	// and project are only read after that.
	newClient  func(context.Context) (*vkit.TopicAdminClient, string, error)
	openMu     sync.Mutex // serializes opening and closing the clients
	opened     atomic.Bool
	openClosed bool // under openMu: a bus closed before it opened stays closed
	client     *vkit.TopicAdminClient
	project    string
	subs       *vkit.SubscriptionAdminClient // under openMu: EnsureTopics makes it

	mu        sync.Mutex
	topics    map[string]topicInfo // by bus topic
	closed    bool
	inflight  sync.WaitGroup // Publish calls that started before Close
	closeOnce sync.Once
	closeErr  error
}

// MaxDeliveryAttempts is Config.MaxDeliveryAttempts, the deliveries of a
// message before Pub/Sub moves it to the dead-letter topic
// (playback.DeliveryLimiter).
func (b *Bus) MaxDeliveryAttempts() int { return b.cfg.MaxDeliveryAttempts }

// New returns a bus. Its client is made from cfg and opts on the first
// call that needs it, and closed on Close: finding credentials and
// setting up the gRPC connections is left out of a cold start's requests
// that publish nothing (a refused token). A client that cannot be made
// fails that call and is tried again on the next. New makes no network
// calls. PUBSUB_EMULATOR_HOST is honoured (the generated clients' hook:
// its endpoint, plain gRPC, no credentials).
func New(_ context.Context, cfg Config, opts ...option.ClientOption) (*Bus, error) {
	if err := cfg.validate(); err != nil {
		return nil, fmt.Errorf("pubsub.New: %w", err)
	}
	b := &Bus{cfg: cfg, opts: clientOptions(opts), topics: map[string]topicInfo{}}
	b.newClient = func(ctx context.Context) (*vkit.TopicAdminClient, string, error) {
		project, err := detectProject(ctx, b.cfg.ProjectID, b.opts)
		if err != nil {
			return nil, "", err
		}
		c, err := vkit.NewTopicAdminClient(ctx, b.opts...)
		return c, project, err
	}
	return b, nil
}

// clientOptions are the high-level client's defaults before opts: outside
// the emulator, a pool of up to 4 connections kept alive every 5 minutes.
func clientOptions(opts []option.ClientOption) []option.ClientOption {
	if os.Getenv("PUBSUB_EMULATOR_HOST") != "" {
		return opts
	}
	return append([]option.ClientOption{
		option.WithGRPCConnectionPool(min(runtime.GOMAXPROCS(0), 4)),
		option.WithGRPCDialOption(grpc.WithKeepaliveParams(keepalive.ClientParameters{Time: 5 * time.Minute})),
	}, opts...)
}

// detectProject is the project of the configuration, else the
// GOOGLE_CLOUD_PROJECT variable, else the credentials' project, as the
// high-level client's DetectProjectID finds it.
func detectProject(ctx context.Context, project string, opts []option.ClientOption) (string, error) {
	if project != "" {
		return project, nil
	}
	if project = os.Getenv(catalog.EnvGoogleCloudProject); project != "" {
		return project, nil
	}
	creds, err := transport.Creds(ctx, opts...)
	if err != nil {
		return "", fmt.Errorf("detecting the project: %w", err)
	}
	if creds.ProjectID == "" {
		return "", errors.New("no project: set PUBSUB_PROJECT_ID or GOOGLE_CLOUD_PROJECT, or use credentials that name one")
	}
	return creds.ProjectID, nil
}

// open makes the client if no call has made it yet. op names the caller
// in its error.
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
	c, project, err := b.newClient(context.Background())
	if err != nil {
		return fmt.Errorf("pubsub.%s: making the client: %w", op, err)
	}
	b.client, b.project = c, project
	b.opened.Store(true)
	return nil
}

// subscriptionAdmin returns the subscription admin client, made on first
// use: only EnsureTopics needs it, never a function that publishes.
func (b *Bus) subscriptionAdmin() (*vkit.SubscriptionAdminClient, error) {
	b.openMu.Lock()
	defer b.openMu.Unlock()
	if b.openClosed {
		return nil, playback.Unavailable(errors.New("bus closed"), "pubsub.EnsureTopics")
	}
	if b.subs == nil {
		c, err := vkit.NewSubscriptionAdminClient(context.Background(), b.opts...)
		if err != nil {
			return nil, fmt.Errorf("pubsub.EnsureTopics: making the subscription client: %w", err)
		}
		b.subs = c
	}
	return b.subs, nil
}

// Close waits for the Publish calls under way, refuses later ones and
// closes the clients. Later calls wait for the first and return its
// result.
func (b *Bus) Close() error {
	b.closeOnce.Do(func() { b.closeErr = b.close() })
	return b.closeErr
}

func (b *Bus) close() error {
	b.mu.Lock()
	b.closed = true
	b.mu.Unlock()
	b.inflight.Wait()
	b.openMu.Lock()
	defer b.openMu.Unlock()
	b.openClosed = true
	var errs []error
	if b.client != nil {
		errs = append(errs, b.client.Close())
	}
	if b.subs != nil {
		errs = append(errs, b.subs.Close())
	}
	return errors.Join(errs...)
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

// names are topic's resources as the stacks name them: the dead-letter
// subscription is named as its topic (catalog.DeadLetterName), not as a
// pull subscription of it, so that a redrive or a consumer of dead
// letters finds the one a deployed stack keeps them in.
func (b *Bus) names(topic string) (names, error) { return b.cfg.names(topic) }

func (c Config) names(topic string) (names, error) {
	base := c.TopicPrefix + topic
	n := names{
		topic:                  base,
		subscription:           base + c.SubscriptionSuffix,
		deadLetter:             base + c.DeadLetterSuffix,
		deadLetterSubscription: base + c.DeadLetterSuffix,
	}
	for _, id := range []string{n.topic, n.subscription, n.deadLetter, n.deadLetterSubscription} {
		if err := validResourceID(id); err != nil {
			return n, err
		}
	}
	return n, nil
}

// Pull is the IDs of topic's topic and pull subscription under c, as the
// bus and the stacks name them, for a process that reads the topic
// without a Bus (the GCP runner's push bridge).
func (c Config) Pull(topic string) (topicID, subscriptionID string, err error) {
	if err := c.validate(); err != nil {
		return "", "", err
	}
	n, err := c.names(topic)
	return n.topic, n.subscription, err
}

func (b *Bus) topicPath(id string) string {
	return "projects/" + b.project + "/topics/" + id
}

func (b *Bus) subscriptionPath(id string) string {
	return "projects/" + b.project + "/subscriptions/" + id
}

// Config is the bus's configuration, with the defaults applied.
func (b *Bus) Config() Config { return b.cfg }

// Subscription opens the bus and returns the full resource name of
// topic's pull subscription (projects/P/subscriptions/ID), for the
// consumer (package pull). Of T+DeadLetterSuffix, T's dead-letter topic,
// it is the subscription that keeps T's dead letters: a topic of that name
// is T's dead-letter topic whatever the caller meant by it.
func (b *Bus) Subscription(topic string) (string, error) {
	if err := b.open("Subscribe"); err != nil {
		return "", err
	}
	if of, ok := strings.CutSuffix(topic, b.cfg.DeadLetterSuffix); ok {
		n, err := b.names(of)
		if err != nil {
			return "", err
		}
		return b.subscriptionPath(n.deadLetterSubscription), nil
	}
	n, err := b.names(topic)
	if err != nil {
		return "", err
	}
	return b.subscriptionPath(n.subscription), nil
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
	subs, err := b.subscriptionAdmin()
	if err != nil {
		return err
	}
	for _, topic := range topics {
		n, err := b.names(topic)
		if err != nil {
			return fmt.Errorf("pubsub.EnsureTopics: %w", err)
		}
		for _, id := range []string{n.topic, n.deadLetter} {
			if err := b.createTopic(ctx, id); err != nil {
				return Fail("EnsureTopics", err)
			}
		}
		if err := ensureSubscription(ctx, subs, &pubsubpb.Subscription{
			Name: b.subscriptionPath(n.deadLetterSubscription), Topic: b.topicPath(n.deadLetter),
			AckDeadlineSeconds: int32(b.cfg.AckDeadline / time.Second),
		}); err != nil {
			return Fail("EnsureTopics", err)
		}
		if err := ensureSubscription(ctx, subs, &pubsubpb.Subscription{
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
			return Fail("EnsureTopics", err)
		}
	}
	return nil
}

func (b *Bus) createTopic(ctx context.Context, id string) error {
	_, err := b.client.CreateTopic(ctx, &pubsubpb.Topic{Name: b.topicPath(id)})
	if status.Code(err) == codes.AlreadyExists {
		return nil
	}
	if err != nil {
		return fmt.Errorf("CreateTopic %s: %w", id, err)
	}
	return nil
}

func ensureSubscription(ctx context.Context, subs *vkit.SubscriptionAdminClient, sub *pubsubpb.Subscription) error {
	_, err := subs.CreateSubscription(ctx, sub)
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
	_, err = subs.UpdateSubscription(ctx, &pubsubpb.UpdateSubscriptionRequest{
		Subscription: sub, UpdateMask: &fieldmaskpb.FieldMask{Paths: paths},
	})
	if err != nil {
		return fmt.Errorf("UpdateSubscription %s: %w", sub.Name, err)
	}
	return nil
}

// topicInfo is a bus topic's ID and full resource name.
type topicInfo struct {
	id, path string
}

// topic returns the resource names of a bus topic, and counts the call
// in until Close. Its names are checked once; a topic whose names are
// invalid is never cached and fails every call.
func (b *Bus) topic(topic string) (topicInfo, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return topicInfo{}, playback.Unavailable(errors.New("bus closed"), "pubsub.Publish")
	}
	t, ok := b.topics[topic]
	if !ok {
		n, err := b.names(topic)
		if err != nil {
			return topicInfo{}, err
		}
		t = topicInfo{id: n.topic, path: b.topicPath(n.topic)}
		b.topics[topic] = t
	}
	b.inflight.Add(1)
	return t, nil
}

// Publish sends msgs to topic and returns once Pub/Sub has stored every
// one. It checks every message before sending any, so a message Pub/Sub
// would refuse fails the call (CodeInvalid, CodeTooLarge) with nothing
// sent. The messages go in publish requests of one ordering key each (or
// none: Pub/Sub refuses a request that mixes them), of at most 1,000
// messages and about 1 MB, one after the other, a key's messages in
// publish order, each retried by the generated
// client on the codes the client library retried publishing on; a request
// that still fails ends the call, and the requests after it are not sent,
// so no later message of an ordering key overtakes a failed one. A call
// that fails may have sent part of msgs, and its retry sends those again
// (at least once).
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
	t, err := b.topic(topic)
	if err != nil {
		return err
	}
	defer b.inflight.Done()
	carrier := telemetry.Carrier(ctx)
	out := make([]*pubsubpb.PubsubMessage, len(msgs))
	sizes := make([]int, len(msgs))
	for i, m := range msgs {
		if out[i], sizes[i], err = encode(m, carrier, len(t.path)); err != nil {
			return err
		}
	}
	out, sizes = byKey(out, sizes)
	for batch := range requests(t.path, out, sizes) {
		if _, err := b.client.Publish(ctx, &pubsubpb.PublishRequest{Topic: t.path, Messages: batch}); err != nil {
			return Fail("Publish", fmt.Errorf("topic %s: %w", t.id, err))
		}
	}
	return nil
}

// byKey returns msgs with each ordering key's messages together, in
// publish order within a key, the keys in the order of their first
// message: Pub/Sub refuses (FailedPrecondition) a publish request whose
// messages do not all have the same ordering key, or all none, and the
// client library bundled per key. Order across keys is not kept, as
// Pub/Sub does not deliver in it. msgs itself is returned when it has one
// key. sizes, each message's encoded size, are reordered with msgs.
func byKey(msgs []*pubsubpb.PubsubMessage, sizes []int) ([]*pubsubpb.PubsubMessage, []int) {
	if !slices.ContainsFunc(msgs, func(m *pubsubpb.PubsubMessage) bool { return m.OrderingKey != msgs[0].OrderingKey }) {
		return msgs, sizes
	}
	var keys []string
	groups := map[string][]int{} // ordering key → indexes into msgs
	for i, m := range msgs {
		g, ok := groups[m.OrderingKey]
		if !ok {
			keys = append(keys, m.OrderingKey)
		}
		groups[m.OrderingKey] = append(g, i)
	}
	out, outSizes := make([]*pubsubpb.PubsubMessage, 0, len(msgs)), make([]int, 0, len(msgs))
	for _, k := range keys {
		for _, i := range groups[k] {
			out, outSizes = append(out, msgs[i]), append(outSizes, sizes[i])
		}
	}
	return out, outSizes
}

// requests splits msgs, in order, into publish requests to topicPath, each
// of one ordering key (msgs has each key's messages together: byKey), of at
// most 1,000 messages and, as the client library bundled them, of about
// 1 MB (ByteThreshold): a request is cut before a message that would take
// it past requestBytes, and a larger message goes alone. Pub/Sub takes 10
// MB, but its emulators take the gRPC default of 4 MB. sizes[i] is msgs[i]'s
// encoded size (encode's, which checked that it fits a request alone).
func requests(topicPath string, msgs []*pubsubpb.PubsubMessage, sizes []int) iter.Seq[[]*pubsubpb.PubsubMessage] {
	return func(yield func([]*pubsubpb.PubsubMessage) bool) {
		head := protowire.SizeTag(1) + protowire.SizeBytes(len(topicPath))
		start, size := 0, head
		for i, m := range msgs {
			n := protowire.SizeTag(2) + protowire.SizeBytes(sizes[i])
			if i > start && (i-start == maxRequestMessages || size+n > requestBytes || m.OrderingKey != msgs[start].OrderingKey) {
				if !yield(msgs[start:i:i]) {
					return
				}
				start, size = i, head
			}
			size += n
		}
		if start < len(msgs) {
			yield(msgs[start:])
		}
	}
}

// Fail classifies err: domain errors pass, failures a retry can cure
// (unavailable, deadline, quota, aborted, internal, cancelled) become
// CodeUnavailable, the rest (a missing topic, no permission) stays an
// internal error. op names the bus's method in the error.
func Fail(op string, err error) error {
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
	return err
}
