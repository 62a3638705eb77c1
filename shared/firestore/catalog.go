package firestore

import (
	"context"
	"strconv"
	"strings"

	"github.com/playplane/playplane/shared/playback"
)

// Plans and titles come from configuration and seeding only: a plain Set,
// no guard.
func (s *Store) PutPlan(ctx context.Context, p playback.Plan) error {
	if err := s.open(ctx); err != nil {
		return err
	}
	return s.setDoc(ctx, "PutPlan", colPlans, "plan", p.ID, p)
}

func (s *Store) GetPlan(ctx context.Context, id string) (playback.Plan, error) {
	if err := s.open(ctx); err != nil {
		return playback.Plan{}, err
	}
	return getDoc[playback.Plan](ctx, s, "GetPlan", s.col(colPlans).Doc(id), "plan", id)
}

func (s *Store) PutTitle(ctx context.Context, t playback.Title) error {
	if err := s.open(ctx); err != nil {
		return err
	}
	return s.setDoc(ctx, "PutTitle", colTitles, "title", t.ID, t)
}

func (s *Store) GetTitle(ctx context.Context, id string) (playback.Title, error) {
	if err := s.open(ctx); err != nil {
		return playback.Title{}, err
	}
	return getDoc[playback.Title](ctx, s, "GetTitle", s.col(colTitles).Doc(id), "title", id)
}

func (s *Store) setDoc(ctx context.Context, op, col, kind, id string, v any) error {
	if !validID(id) {
		return invalidID(op, kind, id)
	}
	doc, err := encode(v)
	if err != nil {
		return fail(op, err)
	}
	_, err = s.col(col).Doc(id).Set(ctx, docFields(doc, v))
	return fail(op, err)
}

func (s *Store) PutAccount(ctx context.Context, a playback.Account) error {
	if err := s.open(ctx); err != nil {
		return err
	}
	return put(ctx, s, "PutAccount", s.col(colAccounts).Doc(a.ID), "account", a.ID, a)
}

func (s *Store) GetAccount(ctx context.Context, id string) (playback.Account, error) {
	if err := s.open(ctx); err != nil {
		return playback.Account{}, err
	}
	return getDoc[playback.Account](ctx, s, "GetAccount", s.col(colAccounts).Doc(id), "account", id)
}

func (s *Store) UpdateAccount(ctx context.Context, id string, fn func(*playback.Account) error) (playback.Account, error) {
	if err := s.open(ctx); err != nil {
		return playback.Account{}, err
	}
	return update(ctx, s, "UpdateAccount", s.col(colAccounts).Doc(id), "account", id,
		func(a *playback.Account) { a.ID = id }, fn)
}

// LinkCustomer creates the link (Create: only if there is none) and
// reads the one a lost create found.
func (s *Store) LinkCustomer(ctx context.Context, customerID, accountID string) error {
	if err := s.open(ctx); err != nil {
		return err
	}
	const op = "LinkCustomer"
	if !validID(customerID) || accountID == "" {
		return invalidID(op, "customer", customerID)
	}
	ref := s.col(colCustomers).Doc(customerID)
	for attempt := 0; ; attempt++ {
		st, err := s.read(ctx, ref)
		if err != nil {
			return fail(op, err)
		}
		if cur := linkOf(st); cur.AccountID != "" {
			if cur.AccountID != accountID {
				return playback.LinkedElsewhere(customerID, accountID, cur.AccountID)
			}
			return nil
		}
		err = s.commit(ctx, s.replace(st, linkFields(playback.CustomerLink{AccountID: accountID})))
		if !conflict(err) {
			return fail(op, err)
		}
		if err := retryLost(ctx, op, "customer", customerID, attempt, err); err != nil {
			return err
		}
	}
}

func (s *Store) AccountIDByCustomer(ctx context.Context, customerID string) (string, error) {
	l, err := s.CustomerLink(ctx, customerID)
	return l.AccountID, err
}

func (s *Store) CustomerLink(ctx context.Context, customerID string) (playback.CustomerLink, error) {
	if err := s.open(ctx); err != nil {
		return playback.CustomerLink{}, err
	}
	const op = "CustomerLink"
	if !validID(customerID) {
		return playback.CustomerLink{}, playback.NotFound("customer", customerID)
	}
	st, err := s.read(ctx, s.col(colCustomers).Doc(customerID))
	if err != nil {
		return playback.CustomerLink{}, fail(op, err)
	}
	l := linkOf(st)
	if l.AccountID == "" {
		return l, playback.NotFound("customer", customerID)
	}
	return l, nil
}

// SwapCustomerLink replaces (or deletes) the link as read, guarded as
// every replace is, when it is from.
func (s *Store) SwapCustomerLink(ctx context.Context, customerID string, from, to playback.CustomerLink) (bool, error) {
	if err := s.open(ctx); err != nil {
		return false, err
	}
	const op = "SwapCustomerLink"
	if !validID(customerID) {
		return false, invalidID(op, "customer", customerID)
	}
	st, err := s.read(ctx, s.col(colCustomers).Doc(customerID))
	if err != nil {
		return false, fail(op, err)
	}
	if linkOf(st) != from {
		return false, nil
	}
	var ws []write
	switch {
	case to.AccountID != "":
		ws = s.replace(st, linkFields(to))
	case st.exists:
		ws = s.replace(st, map[string]any{})
		ws[len(ws)-1] = write{ref: st.ref, del: true, since: st.updated}
	default:
		return true, nil // from is no link, and there is none
	}
	err = s.commit(ctx, ws)
	switch {
	case conflict(err):
		return false, nil // written since the read
	case err != nil:
		return false, fail(op, err)
	}
	return true, nil
}

// fieldLinkBefore of a pending link is ">" and its Before, of a plain
// one "" (a field an update leaves out stays as it was), of a legacy one
// absent; fieldLinkClaimed is a pending link's Claimed, else 0 or absent,
// and fieldLinkClaimedFor the claim it is the age of (claimedFor).
func linkFields(l playback.CustomerLink) map[string]any {
	f := map[string]any{fieldAccountID: l.AccountID, fieldLinkBefore: "", fieldLinkClaimed: int64(0), fieldLinkClaimedFor: "", fieldLinkFrom: ""}
	if l.Pending {
		f[fieldLinkBefore], f[fieldLinkClaimed], f[fieldLinkClaimedFor] = ">"+l.Before, l.Claimed, claimedFor(l.AccountID, ">"+l.Before)
		if l.From != "" {
			f[fieldLinkFrom] = fromOf(l) + l.From
		}
	}
	return f
}

// fromOf is what fieldLinkFrom starts with before the From of claim l:
// the claim, its age included. A writer of the release before From
// leaves fieldLinkFrom as it was over a claim of this release, which
// would read as that writer's own claim's From, holding the customer for
// an account that gave it up; with the age, only the claim it was written
// with reads it.
func fromOf(l playback.CustomerLink) string {
	return claimedFor(l.AccountID, ">"+l.Before) + "|" + strconv.FormatInt(l.Claimed, 10) + "|"
}

// claimedFor names the claim of account with link_before before, which
// fieldLinkClaimed is the age of. The release before claims had an age
// updates account_id and link_before alone: over a claim of this
// release, its own claim (of no known age, holding as it did) would read
// with the age of the claim it replaced, maybe stale while its writer is
// alive. No record id holds '|' (playback.RecordIDRule).
func claimedFor(account, before string) string { return account + "|" + before }

func linkOf(st stored) playback.CustomerLink {
	if !st.live {
		return playback.CustomerLink{}
	}
	l := playback.CustomerLink{}
	l.AccountID, _ = st.data[fieldAccountID].(string)
	if before, ok := st.data[fieldLinkBefore].(string); ok && l.AccountID != "" {
		l.Before, l.Pending = strings.CutPrefix(before, ">")
	}
	if of, _ := st.data[fieldLinkClaimedFor].(string); l.Pending && of == claimedFor(l.AccountID, ">"+l.Before) {
		l.Claimed, _ = st.data[fieldLinkClaimed].(int64)
	}
	from, _ := st.data[fieldLinkFrom].(string)
	if rest, ok := strings.CutPrefix(from, fromOf(l)); l.Pending && ok {
		l.From = rest
	}
	return l
}
