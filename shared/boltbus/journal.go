// Package boltbus is the durable half of the embedded bus: a journal on its
// own bbolt file that holds every message the local bus accepted until the
// message's handler acknowledged it (membus takes it as its Journal). A
// runner killed with messages in flight finds them here on its next start
// and delivers them again.
//
// Commits are grouped: every Append that arrives while a commit is being
// written joins the next one, so concurrent publishers share one commit
// (and its fsyncs) instead of queueing for one each. Acknowledgements ride
// along with the next commit without being waited for: losing one to a
// crash only redelivers a message, which at-least-once delivery allows.
package boltbus

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	bbolt "go.etcd.io/bbolt"

	"github.com/playplane/playplane/shared/playback"
)

var (
	bucketPending = []byte("pending") // topic -> seq -> message
	bucketDead    = []byte("dead")    // topic -> seq -> message
)

// Journal is a bbolt-backed message journal. Its methods are safe for
// concurrent use.
type Journal struct {
	db   *bbolt.DB
	log  *slog.Logger
	kick chan struct{} // work queued for the committer
	done chan struct{} // the committer has stopped

	mu           sync.Mutex
	next         *group // appends waiting for the next commit
	settles      []settle
	settlesSince time.Time // when the oldest queued settle came
	closed       bool

	commits, appended atomic.Int64 // for benchmarks: messages per commit

	// keys maps topic and message id to the message's key in the pending
	// bucket. Only the committer touches it after Open.
	keys map[string]map[string]uint64
}

// group is the appends one commit writes; done is closed when it is
// written or failed.
type group struct {
	since   time.Time // the first append
	appends []appendReq
	done    chan struct{}
	err     error
}

type appendReq struct {
	topic string
	msgs  []playback.Message
}

type settle struct {
	topic string
	acked []string
	dead  []playback.Message
}

// Option tunes Open.
type Option func(*bbolt.Options)

// WithoutSync skips the fsyncs of each commit: a journaled message then
// survives a killed process (it is in the page cache when Append returns)
// but not a power loss. It matches the store's bolt.WithoutSync.
func WithoutSync() Option { return func(o *bbolt.Options) { o.NoSync = true } }

// Open opens (creating if needed) the journal at path and starts its
// committer. Only one process may hold the file.
func Open(path string, opts ...Option) (*Journal, error) {
	// As in the store: the free page list is rebuilt at Open rather than
	// written by every commit, and the journal commits constantly.
	bo := &bbolt.Options{Timeout: time.Second, NoFreelistSync: true, FreelistType: bbolt.FreelistMapType}
	for _, o := range opts {
		o(bo)
	}
	db, err := bbolt.Open(path, 0o600, bo)
	if err != nil {
		return nil, fmt.Errorf("boltbus.Open %s: %w", path, err)
	}
	j := &Journal{db: db, log: slog.Default(), kick: make(chan struct{}, 1), done: make(chan struct{}),
		keys: map[string]map[string]uint64{}}
	err = db.Update(func(tx *bbolt.Tx) error {
		if _, err := tx.CreateBucketIfNotExists(bucketDead); err != nil {
			return err
		}
		pending, err := tx.CreateBucketIfNotExists(bucketPending)
		if err != nil {
			return err
		}
		return pending.ForEachBucket(func(topic []byte) error {
			keys := map[string]uint64{}
			j.keys[string(topic)] = keys
			return pending.Bucket(topic).ForEach(func(k, v []byte) error {
				id, err := decodeID(v)
				if err != nil {
					return fmt.Errorf("topic %s key %x: %w", topic, k, err)
				}
				keys[id] = binary.BigEndian.Uint64(k)
				return nil
			})
		})
	})
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("boltbus.Open %s: %w", path, err)
	}
	go j.commitLoop()
	return j, nil
}

// Append stores msgs of topic and returns once they are committed. A
// context that ends after the messages joined a commit does not take them
// back: Append then still waits for the commit (milliseconds) so that its
// answer is true.
func (j *Journal) Append(ctx context.Context, topic string, msgs []playback.Message) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("boltbus.Append: %w", err)
	}
	j.mu.Lock()
	if j.closed {
		j.mu.Unlock()
		return playback.Unavailable(errors.New("journal closed"), "boltbus.Append")
	}
	g := j.next
	if g == nil {
		g = &group{since: time.Now(), done: make(chan struct{})}
		j.next = g
	}
	g.appends = append(g.appends, appendReq{topic: topic, msgs: msgs})
	j.mu.Unlock()
	j.wake()
	<-g.done
	if g.err != nil {
		return fmt.Errorf("boltbus.Append: %w", g.err)
	}
	return nil
}

// Settle deletes the acknowledged messages of topic and moves the dead ones
// to the dead letters, in the next commit; it does not wait for it.
func (j *Journal) Settle(topic string, acked []string, dead []playback.Message) error {
	j.mu.Lock()
	if j.closed {
		j.mu.Unlock()
		return playback.Unavailable(errors.New("journal closed"), "boltbus.Settle")
	}
	if len(j.settles) == 0 {
		j.settlesSince = time.Now()
	}
	j.settles = append(j.settles, settle{topic: topic, acked: acked, dead: dead})
	j.mu.Unlock()
	j.wake()
	return nil
}

func (j *Journal) wake() {
	select {
	case j.kick <- struct{}{}:
	default: // the committer has a wake-up pending and will see our work
	}
}

// settleDelay is how long acknowledgements wait for an append to share a
// commit with. Under load publishes never stop and they always ride along;
// a commit of their own would take a commit slot, two fsyncs, from the
// publishers waiting on the next one (it halved the journaled Publish rate
// in BenchmarkPublish).
const settleDelay = 25 * time.Millisecond

// commitLoop writes whatever is queued, one commit at a time, until the
// journal closes with nothing left to write.
//
// A commit starts when the first append of a group comes, unless recent
// groups were larger: then it waits a little for as many appends. Without
// that, the publishers a commit releases come back one by one, the first
// one alone starts the next commit, and groups alternate between one
// append and all the others — half the commits carrying one message.
func (j *Journal) commitLoop() {
	defer close(j.done)
	peak := 0                // appends in recent commits, decaying
	var gather time.Duration // how long to wait for them: half a commit
	var lastEnd time.Time    // appends that came during a commit wait from its end
	for {
		<-j.kick
		for {
			j.mu.Lock()
			if g := j.next; g != nil && !j.closed && len(g.appends) < peak {
				if wait := gather - time.Since(later(g.since, lastEnd)); wait > 0 {
					j.mu.Unlock()
					select {
					case <-j.kick:
					case <-time.After(wait):
					}
					continue
				}
			}
			if j.next == nil && len(j.settles) > 0 && !j.closed {
				if wait := settleDelay - time.Since(j.settlesSince); wait > 0 {
					j.mu.Unlock()
					select {
					case <-j.kick:
					case <-time.After(wait):
					}
					continue
				}
			}
			g, settles, closed := j.next, j.settles, j.closed
			j.next, j.settles = nil, nil
			j.mu.Unlock()
			if g == nil && len(settles) == 0 {
				if closed {
					return
				}
				break
			}
			start := time.Now()
			err := j.commit(g, settles)
			if g != nil {
				lastEnd = time.Now()
				peak = max(len(g.appends), peak*3/4)
				gather = min(lastEnd.Sub(start)/2, time.Millisecond)
				g.err = err
				close(g.done)
			}
			if err != nil && len(settles) > 0 {
				// Retried with the next commit; until then the messages are
				// only still pending, which is safe.
				j.log.Error("boltbus: settling messages failed", "err", err)
				j.mu.Lock()
				j.settles = append(settles, j.settles...)
				j.settlesSince = time.Now()
				j.mu.Unlock()
				if g == nil {
					break // wait for new work rather than spin on a failing disk
				}
			}
		}
	}
}

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

type added struct {
	topic, id string
	key       uint64
}

func (j *Journal) commit(g *group, settles []settle) error {
	var newKeys []added
	var gone []added
	err := j.db.Update(func(tx *bbolt.Tx) error {
		pending, deadRoot := tx.Bucket(bucketPending), tx.Bucket(bucketDead)
		// One arena for the commit's keys and values: bbolt holds on to
		// them until the commit, and earlier slices stay valid when append
		// moves the arena.
		var arena []byte
		if g != nil {
			for _, a := range g.appends {
				b, err := pending.CreateBucketIfNotExists([]byte(a.topic))
				if err != nil {
					return err
				}
				b.FillPercent = 1 // keys only ever grow: pack the pages
				for i := range a.msgs {
					seq, err := b.NextSequence()
					if err != nil {
						return err
					}
					start := len(arena)
					arena = binary.BigEndian.AppendUint64(arena, seq)
					arena = appendMessage(arena, &a.msgs[i])
					if err := b.Put(arena[start:start+8:start+8], arena[start+8:len(arena):len(arena)]); err != nil {
						return err
					}
					newKeys = append(newKeys, added{a.topic, a.msgs[i].ID, seq})
				}
			}
		}
		for _, s := range settles {
			b := pending.Bucket([]byte(s.topic))
			keys := j.keys[s.topic]
			if b == nil || keys == nil {
				continue
			}
			for _, id := range s.acked {
				if seq, ok := keys[id]; ok {
					if err := b.Delete(binary.BigEndian.AppendUint64(nil, seq)); err != nil {
						return err
					}
					gone = append(gone, added{s.topic, id, seq})
				}
			}
			if len(s.dead) == 0 {
				continue
			}
			db, err := deadRoot.CreateBucketIfNotExists([]byte(s.topic))
			if err != nil {
				return err
			}
			for i := range s.dead {
				m := &s.dead[i]
				if seq, ok := keys[m.ID]; ok {
					if err := b.Delete(binary.BigEndian.AppendUint64(nil, seq)); err != nil {
						return err
					}
					gone = append(gone, added{s.topic, m.ID, seq})
				}
				seq, err := db.NextSequence()
				if err != nil {
					return err
				}
				start := len(arena)
				arena = binary.BigEndian.AppendUint64(arena, seq)
				arena = appendMessage(arena, m)
				if err := db.Put(arena[start:start+8:start+8], arena[start+8:len(arena):len(arena)]); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	j.commits.Add(1)
	j.appended.Add(int64(len(newKeys)))
	for _, a := range newKeys {
		keys := j.keys[a.topic]
		if keys == nil {
			keys = map[string]uint64{}
			j.keys[a.topic] = keys
		}
		keys[a.id] = a.key
	}
	for _, a := range gone {
		delete(j.keys[a.topic], a.id)
	}
	return nil
}

// Load calls fn for every topic the journal holds messages of, with the
// messages not yet acknowledged, in publish order, and the dead letters.
func (j *Journal) Load(fn func(topic string, pending, dead []playback.Message)) error {
	err := j.db.View(func(tx *bbolt.Tx) error {
		read := func(root []byte, topic string) ([]playback.Message, error) {
			b := tx.Bucket(root).Bucket([]byte(topic))
			if b == nil {
				return nil, nil
			}
			var msgs []playback.Message
			err := b.ForEach(func(k, v []byte) error {
				m, err := decodeMessage(v)
				if err != nil {
					return fmt.Errorf("%s topic %s key %x: %w", root, topic, k, err)
				}
				msgs = append(msgs, m)
				return nil
			})
			return msgs, err
		}
		topics := map[string]bool{}
		for _, root := range [][]byte{bucketPending, bucketDead} {
			_ = tx.Bucket(root).ForEachBucket(func(topic []byte) error {
				topics[string(topic)] = true
				return nil
			})
		}
		for topic := range topics {
			pending, err := read(bucketPending, topic)
			if err != nil {
				return err
			}
			dead, err := read(bucketDead, topic)
			if err != nil {
				return err
			}
			if len(pending)+len(dead) > 0 {
				fn(topic, pending, dead)
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("boltbus.Load: %w", err)
	}
	return nil
}

// Close writes what is queued, stops the committer and releases the file.
// Close the bus that uses the journal first.
func (j *Journal) Close() error {
	j.mu.Lock()
	if j.closed {
		j.mu.Unlock()
		return nil
	}
	j.closed = true
	j.mu.Unlock()
	j.wake()
	<-j.done
	if err := j.db.Close(); err != nil {
		return fmt.Errorf("boltbus.Close: %w", err)
	}
	return nil
}
