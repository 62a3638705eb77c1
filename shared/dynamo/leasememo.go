package dynamo

import (
	"sync"

	"github.com/playplane/playplane/shared/playback"
)

// maxMemoLeases bounds the lease memo: a few hundred bytes a session.
const maxMemoLeases = 100_000

// leaseMemo remembers, per session, the version and slot this store last
// read or wrote, so that a renewal can write at once on the condition that
// the version is still that one, instead of reading first: one round trip
// instead of two when this instance renewed the session last. A version
// that moved (another instance renewed, or anyone ended or replaced the
// session) fails the condition, and the renewal reads and tries again, so
// nothing is decided on a stale copy.
type leaseMemo struct {
	mu sync.Mutex
	m  map[string]memoLease
}

type memoLease struct {
	sess    playback.Session
	version int64
	slot    int
}

func (l *leaseMemo) get(id string) (memoLease, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	m, ok := l.m[id]
	return m, ok
}

func (l *leaseMemo) put(m memoLease) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.m == nil {
		l.m = make(map[string]memoLease)
	}
	if _, ok := l.m[m.sess.ID]; !ok && len(l.m) >= maxMemoLeases {
		clear(l.m) // only saves reads
	}
	l.m[m.sess.ID] = m
}

func (l *leaseMemo) forget(id string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.m, id)
}
