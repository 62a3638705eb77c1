package firestore

import (
	"sync"

	"github.com/playplane/playplane/shared/playback"
)

// maxMemoLeases bounds the lease memo: a few hundred bytes a session.
const maxMemoLeases = 100_000

// leaseMemo remembers, per session, the session and slot documents as this
// store last wrote them (revisions and update times from the commit), so
// that the next renewal commits at once through the slot's guard of that
// revision instead of reading both first: one round trip instead of three
// when this instance renewed the session last. Any other write of the slot
// since (another instance's renewal, an end, a replacement, a new holder)
// created that guard first, so the commit fails and the renewal reads and
// tries again: nothing is decided on a stale copy.
type leaseMemo struct {
	mu sync.Mutex
	m  map[string]memoLease
}

type memoLease struct {
	sess    playback.Session
	session stored
	slot    slot
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
