// Package membus is the in-process bus for local runs and tests. It keeps
// the delivery semantics of the cloud queues the functions meet in
// production: at-least-once, batches, per-message retry with a delay,
// dead-lettering after a number of attempts, and messages published before
// anyone subscribes are kept until someone does.
package membus

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/playplane/playplane/shared/playback"
)

var _ playback.Bus = (*Bus)(nil)

// Config tunes delivery.
type Config struct {
	MaxBatch    int           // messages per handler call (SQS allows 10)
	MaxAttempts int           // deliveries before a message is dead-lettered
	RetryDelay  time.Duration // wait before a retried message is delivered again
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
		c.RetryDelay = 100 * time.Millisecond
	}
	if c.MaxPending <= 0 {
		c.MaxPending = 1 << 20
	}
}

// Bus is an in-process playback.Bus.
type Bus struct {
	cfg    Config
	mu     sync.Mutex
	cond   *sync.Cond // settled batches and Close, for Idle
	topics map[string]*topic
	closed bool
	wg     sync.WaitGroup
}

type topic struct {
	ready    []playback.Message // deliverable now, in publish order
	delayed  []delayed          // retries waiting for their delay
	inFlight int
	dead     []playback.Message
	handlers int
	fillBy   time.Time // while a batch waits to fill: when it goes anyway
	// wake wakes the topic's consumers: each topic has its own, so a
	// publish wakes only consumers that can act on it.
	wake  *sync.Cond
	batch TopicConfig // with MaxBatch resolved
}

type delayed struct {
	msg playback.Message
	at  time.Time
}

// New returns an empty bus.
func New(cfg Config) *Bus {
	cfg.defaults()
	b := &Bus{cfg: cfg, topics: map[string]*topic{}}
	b.cond = sync.NewCond(&b.mu)
	return b
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

// Publish enqueues msgs on topic. Messages get an id if they lack one.
func (b *Bus) Publish(ctx context.Context, name string, msgs ...playback.Message) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("membus.Publish: %w", err)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return playback.Unavailable(errors.New("bus closed"), "membus.Publish")
	}
	t := b.topic(name)
	if len(t.ready)+len(t.delayed)+len(msgs) > b.cfg.MaxPending {
		return playback.Unavailable(errors.New("queue full"), "membus.Publish: topic %s has %d pending", name, len(t.ready))
	}
	wasEmpty := len(t.ready) == 0
	now := time.Now()
	for _, m := range msgs {
		if m.ID == "" {
			m.ID = playback.NewID("msg")
		}
		m.PublishTime = now
		m.DeliveryAttempt = 0
		m.Data = slices.Clone(m.Data)
		t.ready = append(t.ready, m)
	}
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
	if b.closed {
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
	for {
		batch, ok := b.next(ctx, t)
		if !ok {
			return
		}
		retry := h.Call(context.WithoutCancel(ctx), log, batch)
		b.settle(t, log, batch, retry)
	}
}

// next blocks until messages are deliverable, then takes up to MaxBatch.
func (b *Bus) next(ctx context.Context, t *topic) ([]playback.Message, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for {
		if b.closed || ctx.Err() != nil {
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

func (b *Bus) settle(t *topic, log *slog.Logger, batch []playback.Message, retry []string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	t.inFlight -= len(batch)
	retried := make(map[string]bool, len(retry))
	for _, id := range retry {
		retried[id] = true
	}
	at := time.Now().Add(b.cfg.RetryDelay)
	for _, m := range batch {
		if !retried[m.ID] {
			continue
		}
		if m.DeliveryAttempt >= b.cfg.MaxAttempts {
			log.Error("bus message dead-lettered", "message_id", m.ID, "attempts", m.DeliveryAttempt)
			t.dead = append(t.dead, m)
			continue
		}
		t.delayed = append(t.delayed, delayed{msg: m, at: at})
	}
	b.cond.Broadcast()
	t.wake.Broadcast()
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

// Close stops the consumers and waits for batches in flight to finish.
func (b *Bus) Close() error {
	b.mu.Lock()
	b.closed = true
	b.cond.Broadcast()
	for _, t := range b.topics {
		t.wake.Broadcast()
	}
	b.mu.Unlock()
	b.wg.Wait()
	return nil
}
