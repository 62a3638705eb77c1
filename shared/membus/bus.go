// Package membus is the in-process bus for local runs and tests. It keeps
// the delivery semantics of the cloud queues the functions meet in
// production: at-least-once, batches, per-message retry with a delay,
// dead-lettering after a number of attempts, and messages published before
// anyone subscribes are kept until someone does.
//
// On its own it holds messages in memory only, so a crash loses what it
// accepted. Given a Journal (NewWithJournal) it keeps the Publisher
// contract: Publish returns once the journal holds the messages durably,
// they leave the journal only when their handler acknowledged them, and a
// bus opened on the journal after a crash redelivers the rest.
package membus

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/playplane/playplane/shared/playback"
	"github.com/playplane/playplane/shared/telemetry"
)

var (
	_ playback.Bus             = (*Bus)(nil)
	_ playback.DeliveryLimiter = (*Bus)(nil)
)

// Config tunes delivery.
type Config struct {
	MaxBatch    int // messages per handler call (SQS allows 10)
	MaxAttempts int // deliveries before a message is dead-lettered
	// RetryDelay is the wait before a message's first redelivery; each
	// further one waits twice the last, up to MaxRetryDelay (0: 60 times
	// RetryDelay, Pub/Sub's 10 s to 600 s). With the defaults, 1 s as the
	// SQS adapter's SQS_RETRY_DELAY and 5 attempts, a message outlasts a
	// failure of 15 s before it is dead-lettered: the local runner rides
	// out a brief store error as the cloud queues do. MaxRetryDelay equal
	// to RetryDelay retries at a fixed delay.
	RetryDelay    time.Duration
	MaxRetryDelay time.Duration
	// MaxPending caps queued messages per topic; Publish fails with
	// CodeUnavailable past it instead of growing memory without bound.
	MaxPending int
	// Topics overrides the batching of single topics.
	Topics map[string]TopicConfig
}

// TopicConfig is the batching of one topic.
type TopicConfig struct {
	MaxBatch int // 0: Config.MaxBatch
	// BatchWindow is how long a consumer waits for a batch to fill to
	// MaxBatch before taking what there is — Lambda's
	// MaximumBatchingWindowInSeconds. Consumers that write a batch in one
	// transaction then commit far less often under load. Zero delivers at
	// once.
	BatchWindow time.Duration
}

func (c *Config) defaults() {
	if c.MaxBatch <= 0 {
		c.MaxBatch = 10
	}
	if c.MaxAttempts <= 0 {
		c.MaxAttempts = 5
	}
	if c.RetryDelay <= 0 {
		c.RetryDelay = time.Second
	}
	if c.MaxRetryDelay <= 0 {
		c.MaxRetryDelay = 60 * c.RetryDelay
	}
	c.MaxRetryDelay = max(c.MaxRetryDelay, c.RetryDelay)
	if c.MaxPending <= 0 {
		c.MaxPending = 1 << 20
	}
}

// retryDelay is the wait before the redelivery of a message whose attempt
// failed.
func (c *Config) retryDelay(attempt int) time.Duration {
	d := c.RetryDelay
	for range attempt - 1 {
		if d > c.MaxRetryDelay/2 {
			return c.MaxRetryDelay
		}
		d *= 2
	}
	return d
}

// Journal is durable storage for the messages a bus accepted. The bus
// calls it with messages that have their id and publish time set.
type Journal interface {
	// Append stores msgs of topic durably before it returns. The messages
	// are the bus's own copies, which it goes on to deliver: the journal
	// must not change them. A message it can never store fails the call
	// with CodeTooLarge before any is stored; Publish passes that on.
	Append(ctx context.Context, topic string, msgs []playback.Message) error
	// Settle records that the acked messages of topic are done and that
	// the dead ones exhausted their attempts. It need not be durable when
	// it returns: a crash before it is written only redelivers messages,
	// which at-least-once delivery allows.
	Settle(topic string, acked []string, dead []playback.Message) error
	// Load calls fn for every topic the journal holds messages of, with
	// the messages not yet acknowledged, in publish order, and the dead
	// letters.
	Load(fn func(topic string, pending, dead []playback.Message)) error
}

// Bus is an in-process playback.Bus.
type Bus struct {
	cfg     Config
	journal Journal // nil: messages live in memory only
	mu      sync.Mutex
	cond    *sync.Cond // settled batches and Close, for Idle
	topics  map[string]*topic
	// stopping ends the consumers; closed refuses publishes too, once
	// they have ended (Close).
	stopping bool
	closed   bool
	wg       sync.WaitGroup
}

type topic struct {
	ready    []playback.Message // deliverable now, in publish order
	delayed  []delayed          // retries waiting for their delay
	inFlight int
	// accepting counts messages of Publish calls waiting for the journal:
	// they count against MaxPending before they are queued.
	accepting int
	dead      []playback.Message
	handlers  int
	fillBy    time.Time // while a batch waits to fill: when it goes anyway
	// wake wakes the topic's consumers: each topic has its own, so a
	// publish wakes only consumers that can act on it.
	wake  *sync.Cond
	batch TopicConfig // with MaxBatch resolved
}

type delayed struct {
	msg playback.Message
	at  time.Time
}

// New returns an empty bus that keeps messages in memory only.
func New(cfg Config) *Bus {
	cfg.defaults()
	b := &Bus{cfg: cfg, topics: map[string]*topic{}}
	b.cond = sync.NewCond(&b.mu)
	return b
}

// MaxDeliveryAttempts is Config.MaxAttempts (playback.DeliveryLimiter).
func (b *Bus) MaxDeliveryAttempts() int { return b.cfg.MaxAttempts }

// NewWithJournal returns a bus that stores every accepted message in j
// before Publish returns and queues what j still holds from an earlier run
// (delivered again from the first attempt: attempts are not journaled).
// The caller closes j after the bus.
func NewWithJournal(cfg Config, j Journal) (*Bus, error) {
	if j == nil {
		return nil, errors.New("membus.NewWithJournal: Journal is required")
	}
	b := New(cfg)
	b.journal = j
	err := j.Load(func(name string, pending, dead []playback.Message) {
		t := b.topic(name)
		t.ready = append(t.ready, pending...)
		t.dead = append(t.dead, dead...)
	})
	if err != nil {
		return nil, fmt.Errorf("membus.NewWithJournal: %w", err)
	}
	return b, nil
}

func (b *Bus) topic(name string) *topic {
	t := b.topics[name]
	if t == nil {
		t = &topic{wake: sync.NewCond(&b.mu), batch: b.cfg.Topics[name]}
		t.batch.MaxBatch = cmp.Or(t.batch.MaxBatch, b.cfg.MaxBatch)
		b.topics[name] = t
	}
	return t
}

// Publish enqueues msgs on topic, in the journal first if the bus has one.
// Messages get an id if they lack one. The bus keeps copies: the caller's
// Data is its own again when Publish returns.
func (b *Bus) Publish(ctx context.Context, name string, msgs ...playback.Message) error {
	ctx, end := telemetry.StartPublish(ctx, telemetry.SystemLocal, name, len(msgs))
	err := b.publish(ctx, name, msgs)
	end(err)
	return err
}

func (b *Bus) publish(ctx context.Context, name string, msgs []playback.Message) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("membus.Publish: %w", err)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return playback.Unavailable(errors.New("bus closed"), "membus.Publish")
	}
	t := b.topic(name)
	if len(t.ready)+len(t.delayed)+t.accepting+len(msgs) > b.cfg.MaxPending {
		return playback.Unavailable(errors.New("queue full"), "membus.Publish: topic %s has %d pending", name, len(t.ready))
	}
	now := time.Now()
	// The trace context rides in Message.Trace, in binary (journaled as
	// the traceparent attribute), so a consumer's span joins the
	// publisher's trace even after a restart.
	trace, carrier := telemetry.MessageTrace(ctx)
	accepted := make([]playback.Message, len(msgs))
	for i, m := range msgs {
		// A message's own trace context (an attribute of that name wins
		// over the field) is delivered in the field, as the other buses
		// deliver it, with none of the publish's tracestate or baggage,
		// which belong to another trace; an attribute of that name that
		// is no traceparent stays the attribute it is (and the field
		// empty), as the buses with attributes deliver it.
		own, hasOwn := m.Attributes[playback.TraceParentAttribute]
		takesPublishs := !hasOwn && !m.Trace.IsValid() && trace.IsValid()
		if takesPublishs {
			m.Trace = trace
		}
		// Flags version 00 does not define end here, as they end at the
		// other buses' attribute and at the journal's.
		m.Trace.Flags &= playback.TraceFlagSampled | playback.TraceFlagRandom
		if m.ID == "" {
			m.ID = playback.NewID("msg")
		}
		m.PublishTime = now
		m.DeliveryAttempt = 0
		// The caller may reuse both once Publish returns (playback.Publisher).
		m.Data = slices.Clone(m.Data)
		switch {
		case hasOwn:
			var ok bool
			m.Trace, ok = playback.ParseTraceParent(own)
			m.Attributes = maps.Clone(m.Attributes)
			if ok {
				delete(m.Attributes, playback.TraceParentAttribute)
			}
		case takesPublishs && len(carrier) > 0:
			m.Attributes = telemetry.WithCarrier(m.Attributes, carrier) // not the caller's map: read-only from here on
		default:
			m.Attributes = maps.Clone(m.Attributes)
		}
		accepted[i] = m
	}
	if b.journal != nil {
		// The journal commits many publishers' messages at once: wait for
		// it without the lock, so that they can join the same commit.
		t.accepting += len(accepted)
		b.mu.Unlock()
		err := b.journal.Append(ctx, name, accepted)
		b.mu.Lock()
		t.accepting -= len(accepted)
		if playback.IsCode(err, playback.CodeTooLarge) {
			return fmt.Errorf("membus.Publish: %w", err) // no retry helps
		}
		if err != nil {
			return playback.Unavailable(err, "membus.Publish: journal")
		}
		if b.closed {
			return nil // journaled: the next bus on the journal delivers it
		}
	}
	wasEmpty := len(t.ready) == 0
	t.ready = append(t.ready, accepted...)
	// A consumer gathering a batch sleeps until its window ends; wake it
	// early only when the batch is full.
	if wasEmpty || t.batch.BatchWindow <= 0 || len(t.ready) >= t.batch.MaxBatch {
		t.wake.Broadcast()
	}
	return nil
}

// Subscribe starts a consumer of topic that runs until ctx ends or the bus
// closes. Several subscribers of one topic compete for its messages, like
// Lambda pollers on one queue.
func (b *Bus) Subscribe(ctx context.Context, name string, h playback.BatchHandler) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.stopping {
		return playback.Unavailable(errors.New("bus closed"), "membus.Subscribe")
	}
	t := b.topic(name)
	t.handlers++
	b.wg.Add(1)
	stop := context.AfterFunc(ctx, func() {
		b.mu.Lock()
		t.wake.Broadcast()
		b.mu.Unlock()
	})
	go func() {
		defer b.wg.Done()
		defer stop()
		b.consume(ctx, t, name, h)
	}()
	return nil
}

func (b *Bus) consume(ctx context.Context, t *topic, name string, h playback.BatchHandler) {
	log := slog.Default().With("topic", name)
	// The spans and metrics take what Call hands back in the end: a panic
	// runs the batch again a message at a time (playback.BatchHandler.Call)
	// and hands back only the message that panics alone.
	traced := playback.BatchHandler(func(ctx context.Context, msgs []playback.Message) []string {
		return telemetry.Consume(ctx, telemetry.SystemLocal, name, msgs, func(ctx context.Context, msgs []playback.Message) []string {
			return h.Call(ctx, log, msgs)
		})
	})
	for {
		batch, ok := b.next(ctx, t)
		if !ok {
			return
		}
		retry := traced.Call(context.WithoutCancel(ctx), log, batch)
		acked, dead := b.settle(t, log, batch, retry)
		telemetry.DeadLettered(ctx, telemetry.SystemLocal, name, len(dead))
		if b.journal != nil && len(acked)+len(dead) > 0 {
			if err := b.journal.Settle(name, acked, dead); err != nil {
				// They stay journaled and come again after a restart; the
				// handlers are idempotent.
				log.Error("bus journal settle failed", "err", err, "acked", len(acked), "dead", len(dead))
			}
		}
	}
}

// next blocks until messages are deliverable, then takes up to MaxBatch.
func (b *Bus) next(ctx context.Context, t *topic) ([]playback.Message, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for {
		if b.stopping || ctx.Err() != nil {
			return nil, false
		}
		now := time.Now()
		b.promote(t, now)
		if t.batch.BatchWindow > 0 && len(t.ready) > 0 && len(t.ready) < t.batch.MaxBatch {
			if t.fillBy.IsZero() {
				t.fillBy = now.Add(t.batch.BatchWindow)
			}
			if now.Before(t.fillBy) {
				b.waitUntil(t, t.fillBy)
				continue
			}
		}
		if len(t.ready) > 0 {
			t.fillBy = time.Time{}
			n := min(len(t.ready), t.batch.MaxBatch)
			batch := slices.Clone(t.ready[:n])
			// Reslice rather than shift: shifting the backlog on every
			// batch made draining it quadratic. The backing array is
			// reclaimed when the queue empties or append reallocates.
			clear(t.ready[:n])
			t.ready = t.ready[n:]
			if len(t.ready) == 0 {
				t.ready = nil
			}
			t.inFlight += n
			for i := range batch {
				batch[i].DeliveryAttempt++
			}
			return batch, true
		}
		if len(t.delayed) > 0 {
			b.waitUntil(t, t.delayed[0].at)
			continue
		}
		t.wake.Wait()
	}
}

// waitUntil waits, with b.mu held, for the topic's next wake-up or for at.
func (b *Bus) waitUntil(t *topic, at time.Time) {
	timer := time.AfterFunc(time.Until(at), func() {
		b.mu.Lock()
		t.wake.Broadcast()
		b.mu.Unlock()
	})
	t.wake.Wait()
	timer.Stop()
}

// promote moves retries whose delay has passed back to the ready queue.
func (b *Bus) promote(t *topic, now time.Time) {
	i := 0
	for ; i < len(t.delayed) && !t.delayed[i].at.After(now); i++ {
		t.ready = append(t.ready, t.delayed[i].msg)
	}
	t.delayed = slices.Delete(t.delayed, 0, i)
}

// settle queues the batch's retries and dead-letters what exhausted its
// attempts. It returns the ids of the acknowledged messages and the dead
// ones when the bus has a journal to tell.
func (b *Bus) settle(t *topic, log *slog.Logger, batch []playback.Message, retry []string) (acked []string, dead []playback.Message) {
	b.mu.Lock()
	defer b.mu.Unlock()
	t.inFlight -= len(batch)
	retried := make(map[string]bool, len(retry))
	for _, id := range retry {
		retried[id] = true
	}
	if b.journal != nil {
		acked = make([]string, 0, len(batch)-min(len(batch), len(retry)))
	}
	now := time.Now()
	for _, m := range batch {
		if !retried[m.ID] {
			if b.journal != nil {
				acked = append(acked, m.ID)
			}
			continue
		}
		if m.DeliveryAttempt >= b.cfg.MaxAttempts {
			log.Error("bus message dead-lettered", "message_id", m.ID, "attempts", m.DeliveryAttempt)
			t.dead = append(t.dead, m)
			dead = append(dead, m)
			continue
		}
		// Delays differ by attempt: kept in time order, a message due
		// soon is not held behind one backing off longer.
		d := delayed{msg: m, at: now.Add(b.cfg.retryDelay(m.DeliveryAttempt))}
		i, _ := slices.BinarySearchFunc(t.delayed, d.at, func(e delayed, at time.Time) int {
			if e.at.After(at) {
				return 1
			}
			return -1
		})
		t.delayed = slices.Insert(t.delayed, i, d)
	}
	b.cond.Broadcast()
	t.wake.Broadcast()
	return acked, dead
}

// DeadLetters returns the messages of topic that exhausted their attempts.
func (b *Bus) DeadLetters(name string) []playback.Message {
	b.mu.Lock()
	defer b.mu.Unlock()
	return slices.Clone(b.topic(name).dead)
}

// Idle waits until every topic that has a subscriber has nothing queued,
// delayed or in flight — the point where a test can read the effects of
// what it published.
func (b *Bus) Idle(ctx context.Context) error {
	stop := context.AfterFunc(ctx, func() {
		b.mu.Lock()
		b.cond.Broadcast()
		b.mu.Unlock()
	})
	defer stop()
	b.mu.Lock()
	defer b.mu.Unlock()
	for {
		busy := false
		for _, t := range b.topics {
			if t.handlers > 0 && (len(t.ready) > 0 || len(t.delayed) > 0 || t.inFlight > 0) {
				busy = true
			}
		}
		if !busy {
			return nil
		}
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("membus.Idle: %w", err)
		}
		b.cond.Wait()
	}
}

// Close stops the consumers, waits for batches in flight to finish, then
// refuses publishes. A batch in flight may still publish what its messages
// lead to (the payment webhook's entitlement changes): refused, its
// handler would fail the rest of the batch after doing its work, and a
// runner stopped every few seconds would redo that work at each start.
// What it publishes is journaled for the next bus, or, without a journal,
// lost with the rest of what is queued.
func (b *Bus) Close() error {
	b.mu.Lock()
	b.stopping = true
	b.cond.Broadcast()
	for _, t := range b.topics {
		t.wake.Broadcast()
	}
	b.mu.Unlock()
	b.wg.Wait()
	b.mu.Lock()
	b.closed = true
	b.mu.Unlock()
	return nil
}
