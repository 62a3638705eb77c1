package playback

import (
	"context"
	"fmt"
	"math"
	"time"
)

// SessionEnder is what EndLostEntitlement needs of a store.
type SessionEnder interface {
	ListActiveSessions(ctx context.Context, accountID string, now time.Time) ([]Session, error)
	EndSession(ctx context.Context, id, reason string, now time.Time) (Session, error)
}

// EndLostEntitlement ends the sessions of an account that may no longer
// play, with EndEntitlement, whoever took the right away: an entitlement
// change from the payment provider, an operator's suspension or write.
// Heartbeats would keep a running stream's lease alive, and a playback
// token outlives its check; ended, each session's next renewal or signing
// is refused (CodeGone, a 410) instead. The caller decides that the
// account may not play. EndSession is idempotent, so a call that failed
// part way is repaired by calling again.
func EndLostEntitlement(ctx context.Context, s SessionEnder, accountID string, now time.Time) error {
	active, err := s.ListActiveSessions(ctx, accountID, now)
	if err != nil {
		return fmt.Errorf("ListActiveSessions %s: %w", accountID, err)
	}
	for _, sess := range active {
		if _, err := s.EndSession(ctx, sess.ID, EndEntitlement, now); err != nil {
			return fmt.Errorf("EndSession %s: %w", sess.ID, err)
		}
	}
	return nil
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
