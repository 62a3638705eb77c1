package playback

import (
	"context"
	"fmt"
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
