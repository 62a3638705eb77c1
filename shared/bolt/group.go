package bolt

import (
	"sync"

	bbolt "go.etcd.io/bbolt"
)

// groupCommit runs concurrent writes in shared transactions, so callers
// waiting together pay for one commit (two fdatasyncs) instead of one each.
// There is no timer: a caller that finds no commit under way leads at once
// and commits whatever is queued, itself included; callers arriving during
// that commit queue up and the next leader takes them all. A lone writer
// therefore commits as soon as it would have with db.Update.
//
// bbolt has no savepoints, so a function that fails inside a shared
// transaction takes the whole transaction down with it. The leader rolls
// back and runs the others again without it. A failure of the first
// function stands: it saw exactly the committed state, as it would have
// alone. A later function saw writes of calls before it that were rolled
// back, so its failure is not yet an answer: it goes to the front of the
// queue and runs first in the next transaction, where its outcome stands.
// Every function must therefore be safe to run more than once, leaving
// its results only from the last run (the store's functions assign all
// their outputs on each run; UpdateAccount's fn is pure by contract).
//
// A caller returns only after the transaction holding its write has
// committed, so an acknowledged write is fsynced unless the store was
// opened WithoutSync.
type groupCommit struct {
	db      *bbolt.DB
	mu      sync.Mutex
	queue   []*call
	leading bool // a caller is committing; it or its successor takes the queue
}

type call struct {
	fn   func(*bbolt.Tx) error
	done chan outcome // receives lead, then (or only) the result
}

type outcome struct {
	lead     bool // the caller is the next leader; its result follows later
	err      error
	panicked any
}

func (g *groupCommit) update(fn func(*bbolt.Tx) error) error {
	c := &call{fn: fn, done: make(chan outcome, 1)}
	g.mu.Lock()
	g.queue = append(g.queue, c)
	lead := !g.leading
	g.leading = true
	g.mu.Unlock()
	if !lead {
		if o := <-c.done; !o.lead {
			return o.result()
		}
	}
	for {
		g.mu.Lock()
		batch := g.queue
		g.queue = nil
		g.mu.Unlock()
		g.commit(batch)
		select {
		case o := <-c.done:
			g.handOff()
			return o.result()
		default: // this caller's own function went back to the queue
		}
	}
}

// handOff makes the first queued caller the next leader, so no caller
// commits for others longer than its own transaction.
func (g *groupCommit) handOff() {
	g.mu.Lock()
	defer g.mu.Unlock()
	if len(g.queue) == 0 {
		g.leading = false
		return
	}
	g.queue[0].done <- outcome{lead: true}
}

// commit runs batch in as few transactions as its failures allow and
// settles every call, except those it puts back at the queue's front.
func (g *groupCommit) commit(batch []*call) {
	var requeue []*call
	defer func() {
		if len(requeue) > 0 {
			g.mu.Lock()
			g.queue = append(requeue, g.queue...)
			g.mu.Unlock()
		}
		// bbolt itself panicked (a corrupt file): every caller still in the
		// batch panics with it rather than waiting forever.
		if p := recover(); p != nil {
			for _, c := range batch {
				c.done <- outcome{panicked: p}
			}
		}
	}()
	for len(batch) > 0 {
		failed, o := -1, outcome{}
		err := g.db.Update(func(tx *bbolt.Tx) error {
			for i, c := range batch {
				if p, err := safely(c.fn, tx); err != nil || p != nil {
					failed, o = i, outcome{err: err, panicked: p}
					return errRolledBack
				}
			}
			return nil
		})
		if failed < 0 {
			for _, c := range batch {
				c.done <- outcome{err: err}
			}
			break
		}
		c := batch[failed]
		batch = append(batch[:failed:failed], batch[failed+1:]...)
		if failed == 0 || o.panicked != nil {
			c.done <- o
			continue
		}
		requeue = append(requeue, c)
	}
}

// errRolledBack aborts a shared transaction after one function failed.
var errRolledBack = errorString("bolt: group transaction rolled back")

type errorString string

func (e errorString) Error() string { return string(e) }

// safely turns a panic in fn into a value the leader hands back to fn's
// caller, who panics with it in its own goroutine as db.Update would.
func safely(fn func(*bbolt.Tx) error, tx *bbolt.Tx) (panicked any, err error) {
	defer func() { panicked = recover() }()
	return nil, fn(tx)
}

func (o outcome) result() error {
	if o.panicked != nil {
		panic(o.panicked)
	}
	return o.err
}
