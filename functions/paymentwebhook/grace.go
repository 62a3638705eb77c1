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

// gracePage is how many accounts one read of the walk lists.
const gracePage = 100

// GraceReport counts what one pass of Grace saw and did.
type GraceReport struct {
	Accounts     int `json:"accounts"`      // read
	Dated        int `json:"dated"`         // past_due stored without a date, its grace started now
	GraceExpired int `json:"grace_expired"` // past_due accounts announced as out of grace
	Failed       int `json:"failed"`
}

// Grace walks every account and announces those past_due beyond their
// grace, as reconciliation does for the ones it lists: no Stripe event
// marks that moment, and an account no customer links (an operator's
// past_due) has no subscription to list, yet its running sessions must
// end as a linked account's do. An account stored past_due without a
// date gets its grace started now (playback.Account.DateUndated), written
// before anything relies on it. It needs no Stripe API. Failures on one
// account do not stop the others; the first is returned with the report.
func (s *Server) Grace(ctx context.Context) (GraceReport, error) {
	var rep GraceReport
	var firstErr error
	now := s.deps.Now()
	for after := ""; ; {
		page, err := s.deps.Store.ListRecords(ctx, playback.KindAccount, after, gracePage)
		if err != nil {
			return rep, fmt.Errorf("paymentwebhook: ListRecords: %w", err)
		}
		for _, rec := range page.Records {
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
// is past_due beyond its grace, and says whether it was; the entitlement
// consumer (authorizeplay) then ends its running sessions, as it does
// after a cancellation. Announced each time a job meets it: a repeat is
// harmless, the consumer acting on the account as it is.
func (s *Server) announceGraceEnd(ctx context.Context, a playback.Account, now time.Time) (bool, error) {
	if a.Status != playback.StatusPastDue || a.Entitled(now, s.cfg.PastDueGrace) {
		return false, nil
	}
	if err := s.publishEntitlement(ctx, a.ID, s.entitlementOf(a, now), "grace_expired", now); err != nil {
		return false, err
	}
	return true, nil
}
