package playback

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
)

// The lease rules every Store applies the same way, whatever its
// transactions look like.

// NewSession is the session an admitted request creates.
func (r LeaseRequest) NewSession() Session {
	return Session{ID: r.SessionID, AccountID: r.AccountID, DeviceID: r.DeviceID, TitleID: r.TitleID,
		StartedAt: r.Now, LastSeenAt: r.Now, ExpiresAt: r.Now.Add(r.TTL)}
}

// Admit is the admission rule every store applies to the account's active
// sessions inside its atomic step: the requesting device's own sessions are
// replaced, so they neither count against the limit nor survive the
// admission; the others must leave room under the limit. It returns the
// sessions to end (see LeaseRequest.Replace), or the stream_limit refusal, after
// which the store must change nothing.
func (r LeaseRequest) Admit(active []Session) (replaced []Session, err error) {
	others := make([]Session, 0, len(active))
	for _, s := range active {
		if r.DeviceID != "" && s.DeviceID == r.DeviceID && s.ID != r.SessionID {
			replaced = append(replaced, s)
		} else {
			others = append(others, s)
		}
	}
	if len(others) >= r.Limit {
		return nil, StreamLimit(r.Limit, others)
	}
	return replaced, nil
}

// Replace ends s, a session of the requesting device that the admission
// replaces. play is the session the admission re-authorizes
// (FollowReplaces; "" for a play that names none): the same play going
// on in the new one, which its ReplacedBy names.
func (r LeaseRequest) Replace(s Session, play string) Session {
	s.EndedAt, s.EndReason = r.Now, EndReplaced
	if play != "" && s.ID == play {
		s.ReplacedBy = r.SessionID
	}
	return s
}

// ReplacesLapsed reports whether play, the session FollowReplaces
// returned, is one whose lease lapsed by r.Now with nobody ending it,
// which Admit does not count among the device's sessions to replace. The
// admission replaces it all the same (Replace), so that it names its
// successor as a live one does: an end of it from another screen (by a
// list read before the lapse) and a retry naming it reach the play. Its
// end, after the lapse, reads as the lapse (Session.Over).
func (r LeaseRequest) ReplacesLapsed(play Session) bool {
	return play.ID != "" && !play.Active(r.Now)
}

// ExistingLease answers an admission of a session that exists already: a
// retry whose answer was lost gets its session back while the lease holds,
// a session that ended or expired gets SessionEnded.
func ExistingLease(sess Session, now time.Time) (Session, error) {
	if sess.Active(now) {
		return sess, nil
	}
	return Session{}, SessionEnded(sess.ID)
}

// MaxReauthorizations bounds how many re-authorizations are followed
// from a session (Session.ReplacedBy): a play re-authorizes about once
// per PLAYBACK_TOKEN_TTL, and a session more than a few of those behind
// names a play its player (a retry) or viewer (a list) lost sight of.
const MaxReauthorizations = 8

// FollowReplaces is the rule of LeaseRequest.Replaces every store applies
// inside the admission's atomic step, get reading a session as stored
// then (found false: the store holds none). It returns the session the
// admission re-authorizes, which the admission replaces (Replace), or
// why it may not.
//
// The play is where its re-authorizations took it: from the session
// named, each one a re-authorization replaced names the next
// (ReplacedBy), so a retry whose first try committed but whose answer
// was lost (a gateway's 5xx) goes on from the session that try admitted,
// as the DELETE of a session does (nobody ended the play). The session
// the play is in, live or lapsed unrenewed (a tab asleep past its token)
// with nobody having ended it, is re-authorized: replaced as the device's
// session always is, counted once against the limit. Ended otherwise (from
// another screen, by removing the device, by another title on the device)
// the play is over for good, the lapse of its lease before the end
// notwithstanding (an end from another screen of a stream listed a moment
// before it lapsed): 410 as its heartbeats hear it (WithEndReason:
// session_ended naming why, or lease_expired when the lease lapsed before
// the end). So is a play past MaxReauthorizations, or whose next session
// the store no longer holds, and one nobody ended whose device the account
// no longer has (DeviceRemoved): ended by that removal at r.Now.
// Another account's session is answered as an unknown one, 410
// session_not_found, which cannot say it was not ended; another device's
// is no re-authorization of this one (CodeInvalid), since the admission
// would leave it running.
func (r LeaseRequest) FollowReplaces(get func(id string) (sess Session, found bool, err error)) (Session, error) {
	if r.Replaces == "" {
		return Session{}, nil
	}
	cur, found, err := get(r.Replaces)
	switch {
	case err != nil:
		return Session{}, err
	case !found || cur.ID != r.Replaces || cur.AccountID != r.AccountID:
		return Session{}, &Error{Code: CodeGone, Reason: ReasonSessionNotFound,
			Message: fmt.Sprintf("session %q is over or was never admitted; it cannot be re-authorized", r.Replaces)}
	case cur.DeviceID != r.DeviceID:
		return Session{}, Errorf(CodeInvalid, ReasonReplacesSessionID, "session %q plays on another device, not this one", r.Replaces)
	}
	for hops := 0; cur.EndReason == EndReplaced && cur.ReplacedBy != "" && hops < MaxReauthorizations; hops++ {
		next, found, err := get(cur.ReplacedBy)
		if err != nil {
			return Session{}, err
		}
		if !found || next.ID != cur.ReplacedBy || next.AccountID != r.AccountID || next.DeviceID != r.DeviceID {
			break
		}
		cur = next
	}
	removed := cur.EndedAt.IsZero() && r.DeviceRemoved
	if removed {
		cur.EndedAt, cur.EndReason = r.Now, EndDeviceRemoved
	}
	if cur.EndedAt.IsZero() {
		return cur, nil
	}
	gone := SessionEnded(r.Replaces)
	switch {
	case removed:
		gone.Message = fmt.Sprintf("device %q was removed from the account; the play of session %q ended with it", r.DeviceID, r.Replaces)
	case cur.ID != r.Replaces:
		gone.Message = fmt.Sprintf("session %q went on in %q, which has ended", r.Replaces, cur.ID)
	}
	return Session{}, WithEndReason(gone, cur, r.Now)
}

// ReauthorizationGones are every reason FollowReplaces refuses a
// re-authorization 410 with. The OpenAPI document's ReauthorizationGone
// lists exactly these, checked against this list.
var ReauthorizationGones = []string{ReasonSessionEnded, ReasonLeaseExpired, ReasonSessionNotFound}

// ReasonReplacesSessionID is the CodeInvalid reason of a re-authorization
// (LeaseRequest.Replaces, replaces_session_id in POST /v1/play) that names
// a malformed id or another device's session.
const ReasonReplacesSessionID = "replaces_session_id"

// Reasons of the CodeGone refusals (410) of a session that is over, one
// per state, the same from every route: its lease ran out unrenewed
// (details.end_reason "lapsed"), it was ended (the stored End* reason), or
// the store does not know it. A player stops on each alike; none is a
// reason to authorize again by itself (that is 401 token_expired), since
// an ended session was ended on purpose and an unknown one cannot say it
// was not.
const (
	ReasonLeaseExpired    = "lease_expired"
	ReasonSessionEnded    = "session_ended"
	ReasonSessionNotFound = "session_not_found"
)

// SessionEnded is the error for a session that no longer holds its lease.
func SessionEnded(id string) *Error {
	return Errorf(CodeGone, ReasonSessionEnded, "session %q has ended", id)
}

// EndDetails are the Details of a 410 on a session that is over: why,
// so that a player can tell its viewer (playing stopped from another
// screen, or by a lost subscription).
type EndDetails struct {
	// EndReason is one of the End* reasons: the stored one, or EndLapsed.
	EndReason string `json:"end_reason"`
}

// WithEndReason returns err, a refusal because sess is over, naming why
// (EndDetails), with the reason of its state: lease_expired for a lease
// that lapsed, which stores refuse as session_ended like an end. Any other
// error, or a session still active at now, is returned as it is.
func WithEndReason(err error, sess Session, now time.Time) error {
	var e *Error
	if !errors.As(err, &e) || e.Code != CodeGone || sess.Active(now) {
		return err
	}
	_, why := sess.Over()
	c := *e
	c.Details = &EndDetails{EndReason: why}
	if why == EndLapsed {
		c.Reason = ReasonLeaseExpired
	}
	return &c
}

// SessionMismatch refuses a playback token presented for another session
// or by another account.
func SessionMismatch(id string) *Error {
	return Errorf(CodeForbidden, "session_mismatch", "the playback token is not for session %q", id)
}

// SessionOver answers a store's not_found for a session that a playback
// token vouches for: the token proves the session existed and stores forget
// expired sessions, so unknown means over (410, the player must stop).
// Other errors pass through.
func SessionOver(err error, id string) error {
	if IsCode(err, CodeNotFound) {
		return &Error{Code: CodeGone, Reason: ReasonSessionNotFound,
			Message: fmt.Sprintf("session %q is over or was never admitted; stop playback", id), Err: err}
	}
	return err
}

// StreamLimit is the refusal of an admission over the plan's limit, listing
// the sessions that hold the account's streams.
func StreamLimit(limit int, active []Session) *Error {
	e := Errorf(CodeConflict, "stream_limit", "account has %d active streams, plan allows %d", len(active), limit)
	e.Details = &ConflictDetails{Limit: limit, Sessions: active}
	return e
}

// SortOldestFirst orders sessions by start, ties by id, as stores list them.
func SortOldestFirst(sessions []Session) {
	slices.SortFunc(sessions, func(a, b Session) int {
		return cmp.Or(a.StartedAt.Compare(b.StartedAt), strings.Compare(a.ID, b.ID))
	})
}

// Extend keeps the lease until at least expiresAt and records the session
// seen at now; neither moves backwards. It reports whether either changed.
func (s *Session) Extend(expiresAt, now time.Time) bool {
	changed := false
	if expiresAt.After(s.ExpiresAt) {
		s.ExpiresAt, changed = expiresAt, true
	}
	if now.After(s.LastSeenAt) {
		s.LastSeenAt, changed = now, true
	}
	return changed
}

// LeaseFresh reports whether a heartbeat at now may skip writing the lease:
// the lease already runs until at least now+ttl-slack and the session was
// recorded seen within slack. Both must hold: a lease granted longer than
// the heartbeat renews it (authorize play and heartbeat configured with
// different LEASE_TTLs, or a TTL lowered while sessions run) would
// otherwise skip every write until it ran down, leaving LastSeenAt, which
// the account's session listings show, at the session's start.
func (s Session) LeaseFresh(now time.Time, ttl, slack time.Duration) bool {
	return !s.ExpiresAt.Before(now.Add(ttl-slack)) && !s.LastSeenAt.Before(now.Add(-slack))
}
