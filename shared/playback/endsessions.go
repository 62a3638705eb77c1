package playback

import (
	"context"
	"fmt"
	"math"
	"time"
)

// SessionEnder is what EndSessions needs of a store.
type SessionEnder interface {
	ListRenewableSessions(ctx context.Context, accountID string) ([]Session, error)
	EndSession(ctx context.Context, id, reason string, now time.Time) (Session, error)
}

// EndSessions ends, with reason at now, the sessions of the account that
// which selects (nil: all of them) and reports those that still held
// their lease at now, as ended. It ends every one that a renewal could
// still extend (SessionStore.ListRenewableSessions), those whose lease
// lapsed by now included: a heartbeat that read its lease just before
// the expiry renews after the ender looked, by its own earlier clock, and
// a session left unended because it was not active at the ender's now
// would then play on until its playback token expired. Ended, no renewal
// brings it back (CodeGone), whatever its clock. A session the store no
// longer has is over already. EndSession is idempotent, so a call that
// failed part way is repaired by calling again.
func EndSessions(ctx context.Context, s SessionEnder, accountID, reason string, now time.Time, which func(Session) bool) ([]Session, error) {
	held, err := s.ListRenewableSessions(ctx, accountID)
	if err != nil {
		return nil, fmt.Errorf("ListRenewableSessions %s: %w", accountID, err)
	}
	ended := []Session{}
	for _, sess := range held {
		if which != nil && !which(sess) {
			continue
		}
		done, err := s.EndSession(ctx, sess.ID, reason, now)
		switch {
		case IsCode(err, CodeNotFound):
			continue // past its retention: no renewal finds it either
		case err != nil:
			return nil, fmt.Errorf("EndSession %s: %w", sess.ID, err)
		}
		// A lease that lapsed before now was not this end's to take; one
		// that a renewal moved past now since the listing was.
		if done.ExpiresAt.After(now) {
			ended = append(ended, done)
		}
	}
	return ended, nil
}

// EndLostEntitlement ends the sessions of an account that may no longer
// play, with EndEntitlement, whoever took the right away: an entitlement
// change from the payment provider, an operator's suspension or write.
// Heartbeats would keep a running stream's lease alive, and a playback
// token outlives its check; ended, each session's next renewal or signing
// is refused (CodeGone, a 410) instead, a renewal racing the end included
// (EndSessions). The caller decides that the account may not play.
func EndLostEntitlement(ctx context.Context, s SessionEnder, accountID string, now time.Time) error {
	_, err := EndSessions(ctx, s, accountID, EndEntitlement, now, nil)
	return err
}

// anyGrace is a past_due grace no setting exceeds: the grace is the
// payment side's (PAST_DUE_GRACE), which an operator's write does not read.
const anyGrace = time.Duration(math.MaxInt64)

// MayNeverPlay reports whether a, as written, may not play whatever the
// past_due grace and whenever: a status that never plays, or a suspension.
// Whoever writes an account so (the admin API, `playplane import`) ends its
// sessions then, with EndIfMayNeverPlay. A past_due account beyond its
// grace is the payment side's to announce (its grace job's and
// reconciliation's grace_expired), and the entitlement consumer ends its
// sessions.
func MayNeverPlay(a Account) bool {
	// With no bound on the grace, the instant does not matter.
	return !a.Entitled(time.Time{}, anyGrace)
}

// EndIfMayNeverPlay ends the sessions of a, as written, when it
// MayNeverPlay, with EndLostEntitlement. Writers call it after every write
// of an account, changed or not: ending is idempotent, so writing the
// account again ends what a failed call left running.
func EndIfMayNeverPlay(ctx context.Context, s SessionEnder, a Account, now time.Time) error {
	if !MayNeverPlay(a) {
		return nil
	}
	return EndLostEntitlement(ctx, s, a.ID, now)
}
