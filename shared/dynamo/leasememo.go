package dynamo

import "github.com/playplane/playplane/shared/playback"

// maxMemoLeases bounds the lease memo: a few hundred bytes a session.
const maxMemoLeases = 100_000

// memoLease is what Store.leases remembers per session: the version and slot
// this store last read or wrote, so that a renewal can write at once on the
// condition that the version is still that one, instead of reading first:
// one round trip instead of two when this instance renewed the session last.
// A version that moved (another instance renewed, or anyone ended or
// replaced the session) fails the condition, and the renewal reads and tries
// again, so nothing is decided on a stale copy.
type memoLease struct {
	sess    playback.Session
	version int64
	slot    int
}
