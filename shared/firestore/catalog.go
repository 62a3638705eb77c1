package firestore

import (
	"context"

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

// LinkCustomer is a plain Set: linking is idempotent and a customer
// belongs to one account.
func (s *Store) LinkCustomer(ctx context.Context, customerID, accountID string) error {
	if err := s.open(ctx); err != nil {
		return err
	}
	const op = "LinkCustomer"
	if !validID(customerID) || accountID == "" {
		return invalidID(op, "customer", customerID)
	}
	_, err := s.col(colCustomers).Doc(customerID).Set(ctx, map[string]any{fieldAccountID: accountID})
	return fail(op, err)
}

func (s *Store) AccountIDByCustomer(ctx context.Context, customerID string) (string, error) {
	if err := s.open(ctx); err != nil {
		return "", err
	}
	const op = "AccountIDByCustomer"
	if !validID(customerID) {
		return "", playback.NotFound("customer", customerID)
	}
	st, err := s.read(ctx, s.col(colCustomers).Doc(customerID))
	if err != nil {
		return "", fail(op, err)
	}
	id, _ := st.data[fieldAccountID].(string)
	if !st.live || id == "" {
		return "", playback.NotFound("customer", customerID)
	}
	return id, nil
}
