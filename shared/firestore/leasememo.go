package firestore

import "github.com/playplane/playplane/shared/playback"

// maxMemoLeases bounds the lease memo: a few hundred bytes a session.
const maxMemoLeases = 100_000

// memoLease is what Store.leases remembers per session: the session and slot
// documents as this store last wrote them (revisions and update times from
// the commit), so that the next renewal commits at once through the slot's
// guard of that revision instead of reading both first: one round trip
// instead of three when this instance renewed the session last. Any other
// write of the slot since (another instance's renewal, an end, a
// replacement, a new holder) created that guard first, so the commit fails
// and the renewal reads and tries again: nothing is decided on a stale copy.
type memoLease struct {
	sess    playback.Session
	session stored
	slot    slot
}
