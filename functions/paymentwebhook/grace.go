package paymentwebhook

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/playplane/playplane/shared/httpx"
	"github.com/playplane/playplane/shared/playback"
)

// JobGrace is the scheduled job that announces the end of past_due graces
// (Grace).
const JobGrace = "grace"

// gracePage is how many accounts one read of the listing lists.
const gracePage = 100

// graceRun bounds the accounts one pass reads, so that a backlog (the
// first pass after an upgrade, or a day of many payment failures) ends
// within the jobs' 30 s: each announced account costs a publish and a
// write. The next pass goes on, as announced accounts leave the listing.
const graceRun = 500

// GraceReport counts what one pass of Grace saw and did.
type GraceReport struct {
	Accounts     int  `json:"accounts"`      // read pending
	Dated        int  `json:"dated"`         // past_due stored without a date, its grace started now
	GraceExpired int  `json:"grace_expired"` // past_due accounts announced as out of grace
	Failed       int  `json:"failed"`
	More         bool `json:"more,omitempty"` // stopped at graceRun accounts: the next pass goes on
}

// Grace announces the past_due accounts beyond their grace whose grace
// end is not announced yet, as reconciliation does for the ones it lists:
// no Stripe event marks that moment, and an account no customer links (an
// operator's past_due) has no subscription to list, yet its running
// sessions must end as a linked account's do. It reads only those the
// store lists as such (playback.AccountStore.ListGracePending), at most
// graceRun a pass, however many accounts the store holds; each is
// announced once a past_due episode (announceGraceEnd). An account
// stored past_due without a date gets its grace started now
// (playback.Account.DateUndated), written before anything relies on it.
// It needs no Stripe API. Failures on one account do not stop the
// others; the first is returned with the report.
func (s *Server) Grace(ctx context.Context) (GraceReport, error) {
	var rep GraceReport
	var firstErr error
	now := s.deps.Now()
	until := now.Add(-s.cfg.PastDueGrace)
	for after := ""; ; {
		page, err := s.deps.Store.ListGracePending(ctx, until, after, min(gracePage, graceRun-rep.Accounts))
		if err != nil {
			return rep, fmt.Errorf("paymentwebhook: ListGracePending: %w", err)
		}
		for _, rec := range page.Records {
			// A record the listing holds of an account no longer pending
			// (paid a moment ago, or left by an older release's write) is
			// no work: counted, a backlog of them would use up every pass.
			if playback.GraceKeyOf(rec.Doc) == "" {
				continue
			}
			rep.Accounts++
			if err := s.graceOf(ctx, rec, now, &rep); err != nil {
				rep.Failed++
				httpx.Logger(ctx).ErrorContext(ctx, "announcing the end of a past_due grace", "account_id", rec.ID, "err", err)
				if firstErr == nil {
					firstErr = err
				}
			}
		}
		if page.Next == "" || ctx.Err() != nil {
			return rep, cmp.Or(ctx.Err(), firstErr)
		}
		if rep.Accounts >= graceRun {
			rep.More = true
			return rep, firstErr
		}
		after = page.Next
	}
}

// graceOf dates or announces the account rec holds.
func (s *Server) graceOf(ctx context.Context, rec playback.Record, now time.Time, rep *GraceReport) error {
	var a playback.Account
	if err := json.Unmarshal(rec.Doc, &a); err != nil {
		return fmt.Errorf("decoding account %s: %w", rec.ID, err)
	}
	if a.Status != playback.StatusPastDue {
		return nil
	}
	if _, undated := a.DateUndated(now); undated {
		var wrote bool
		dated, err := s.deps.Store.UpdateAccount(ctx, rec.ID, func(cur *playback.Account) error {
			d, undated := cur.DateUndated(now)
			if wrote = undated; !undated {
				return playback.ErrNoChange // dated since the listing
			}
			*cur = d
			cur.UpdatedAt = now
			return nil
		})
		if playback.IsCode(err, playback.CodeNotFound) {
			return nil // deleted since the listing
		}
		if err != nil {
			return fmt.Errorf("UpdateAccount %s: %w", rec.ID, err)
		}
		if wrote {
			rep.Dated++
		}
		a = dated
	}
	announced, err := s.announceGraceEnd(ctx, a, now)
	if announced {
		rep.GraceExpired++
	}
	return err
}

// announceGraceEnd announces a, as read at now, out of entitlement when it
// is past_due beyond its grace and that episode's grace end is not
// announced yet (playback.Account.GracePending), and says whether it
// was; the entitlement consumer (authorizeplay) then ends its running
// sessions, as it does after a cancellation. The announcement is then
// recorded on the account (GraceAnnounced), on condition that it is
// still in that episode, so that no later pass announces it again: the
// publish cannot share the write, and a record that fails leaves the
// next pass to announce again, a harmless repeat (the consumer acts on
// the account as it is).
func (s *Server) announceGraceEnd(ctx context.Context, a playback.Account, now time.Time) (bool, error) {
	if !a.GracePending() || a.Entitled(now, s.cfg.PastDueGrace) {
		return false, nil
	}
	if err := s.publishEntitlement(ctx, a.ID, s.entitlementOf(a, now), "grace_expired", now); err != nil {
		return false, err
	}
	since := a.PastDueSince
	_, err := s.deps.Store.UpdateAccount(ctx, a.ID, func(cur *playback.Account) error {
		if !cur.GracePending() || !cur.PastDueSince.Equal(since) {
			return playback.ErrNoChange // recorded, paid or dated anew since the read
		}
		cur.GraceAnnounced = &since
		return nil
	})
	if err != nil {
		httpx.Logger(ctx).WarnContext(ctx, "recording the announced grace end; the next pass announces again",
			"account_id", a.ID, "err", err)
	}
	return true, nil
}
