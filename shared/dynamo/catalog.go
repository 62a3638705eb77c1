package dynamo

import (
	"context"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/playplane/playplane/shared/playback"
)

func (s *Store) PutPlan(ctx context.Context, p playback.Plan) error {
	return s.putCatalogDoc(ctx, "PutPlan", playback.KindPlan, p.ID, p)
}

func (s *Store) GetPlan(ctx context.Context, id string) (playback.Plan, error) {
	return getDoc[playback.Plan](ctx, s, "GetPlan", "PLAN#"+id, "PLAN", "plan", id)
}

func (s *Store) PutTitle(ctx context.Context, t playback.Title) error {
	return s.putCatalogDoc(ctx, "PutTitle", playback.KindTitle, t.ID, t)
}

func (s *Store) GetTitle(ctx context.Context, id string) (playback.Title, error) {
	return getDoc[playback.Title](ctx, s, "GetTitle", "TITLE#"+id, "TITLE", "title", id)
}

func (s *Store) PutAccount(ctx context.Context, a playback.Account) error {
	return s.putAccount(ctx, a)
}

func (s *Store) GetAccount(ctx context.Context, id string) (playback.Account, error) {
	return getDoc[playback.Account](ctx, s, "GetAccount", "ACCT#"+id, "ACCOUNT", "account", id)
}

func (s *Store) UpdateAccount(ctx context.Context, id string, fn func(*playback.Account) error) (playback.Account, error) {
	return update(ctx, s, "UpdateAccount", "ACCT#"+id, "ACCOUNT", "account", id,
		func(a *playback.Account) { a.ID = id }, fn, s.planCounters)
}

func (s *Store) LinkCustomer(ctx context.Context, customerID, accountID string) error {
	if customerID == "" || accountID == "" {
		return playback.Errorf(playback.CodeInvalid, "id_required", "dynamo.LinkCustomer: customer and account ids are required")
	}
	_, err := s.db().PutItem(ctx, &dynamodb.PutItemInput{
		TableName: aws.String(s.table),
		Item: item{
			attrPK: str("CUS#" + customerID), attrSK: str("CUSTOMER"),
			attrAccountID: str(accountID),
		},
	})
	return s.fail("LinkCustomer", err)
}

func (s *Store) AccountIDByCustomer(ctx context.Context, customerID string) (string, error) {
	it, err := s.get(ctx, "CUS#"+customerID, "CUSTOMER", "customer", customerID)
	if err != nil {
		return "", s.fail("AccountIDByCustomer", err)
	}
	return strAttr(it, attrAccountID), nil
}
