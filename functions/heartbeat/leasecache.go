package heartbeat

import (
	"sync"
	"time"

	"github.com/playplane/playplane/shared/memo"
	"github.com/playplane/playplane/shared/playback"
)

// maxCachedLeases bounds the lease cache: a few hundred bytes a session,
// so at most some tens of megabytes for an instance's sessions.
const maxCachedLeases = 100_000

// leaseCache remembers each session's lease as the store last returned it
// to this instance (Config.LeaseCache), so that a heartbeat whose lease
// is inside the write slack is answered without a store round trip.
//
// What it can miss is an end written elsewhere after that read: DELETE
// /v1/sessions/{id}, entitlement loss, a new play on the device, a device
// removal. A cached lease is used only while Session.LeaseFresh holds for
// it, which needs LastSeenAt within LeaseRenewSlack of now, and the end
// came after the read that returned that LastSeenAt; so such an end is
// seen at most LeaseRenewSlack late — by the first heartbeat that must
// renew the lease, whose store write refuses it (410). Stops handled by
// this instance are seen at once, and stops always read the store.
type leaseCache struct {
	sessions *memo.Map[playback.Session]
	mu       *sync.Mutex // makes put's look and write one step
}

func newLeaseCache() leaseCache {
	return leaseCache{sessions: memo.New[playback.Session](maxCachedLeases), mu: new(sync.Mutex)}
}

// fresh returns the cached lease of session id if a heartbeat at now may
// be answered from it: active, never ended here, and inside the slack.
func (c leaseCache) fresh(id string, now time.Time, ttl, slack time.Duration) (playback.Session, bool) {
	sess, ok := c.sessions.Get(id)
	return sess, ok && sess.EndedAt.IsZero() && sess.Active(now) && sess.LeaseFresh(now, ttl, slack)
}

// ended returns session id as this instance saw it end, if it did.
func (c leaseCache) ended(id string) (playback.Session, bool) {
	sess, ok := c.sessions.Get(id)
	return sess, ok && !sess.EndedAt.IsZero()
}

// put records sess as the store returned it at now. A full cache first
// drops what can no longer answer a heartbeat, and if that is not enough,
// everything: the cache only saves reads. An end seen here stays: a
// renewal that read the session before this instance's stop, and returns
// after it, would otherwise bring the session back for up to slack.
func (c leaseCache) put(sess playback.Session, now time.Time, slack time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if old, ok := c.sessions.Get(sess.ID); ok && !old.EndedAt.IsZero() && sess.EndedAt.IsZero() {
		return
	}
	c.sessions.Put(sess.ID, sess, func(s playback.Session) bool {
		return s.LastSeenAt.Before(now.Add(-slack)) || !s.Active(now)
	})
}

func (c leaseCache) forget(id string) { c.sessions.Delete(id) }
