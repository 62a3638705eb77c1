package dynamo

import (
	"context"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

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

// attrLinkBefore marks a customer's link pending: ">" and its Before
// (never empty), absent from a plain link. attrLinkClaimed is a pending
// link's Claimed, absent when it has none; attrLinkFrom a pending link's
// From, absent when it has none.
const (
	attrLinkBefore  = "link_before"
	attrLinkClaimed = "link_claimed"
	attrLinkFrom    = "link_from"
)

func customerKey(id string) item { return keyOf("CUS#"+id, "CUSTOMER") }

// LinkCustomer creates the link on the condition that there is none, and
// reads the one a failed condition found.
func (s *Store) LinkCustomer(ctx context.Context, customerID, accountID string) error {
	const op = "LinkCustomer"
	if customerID == "" || accountID == "" {
		return playback.Errorf(playback.CodeInvalid, "id_required", "dynamo.LinkCustomer: customer and account ids are required")
	}
	for attempt := 0; ; attempt++ {
		_, err := s.db().PutItem(ctx, &dynamodb.PutItemInput{
			TableName:                aws.String(s.table),
			Item:                     linkItem(customerID, playback.CustomerLink{AccountID: accountID}),
			ConditionExpression:      aws.String("attribute_not_exists(#pk)"),
			ExpressionAttributeNames: map[string]string{"#pk": attrPK},
		})
		if !conditionFailed(err) {
			return s.fail(op, err)
		}
		cur, err := s.CustomerLink(ctx, customerID)
		switch {
		case err == nil && cur.AccountID != accountID:
			return playback.LinkedElsewhere(customerID, accountID, cur.AccountID)
		case err == nil:
			return nil
		case !playback.IsCode(err, playback.CodeNotFound):
			return err
		case attempt+1 >= maxCASAttempts:
			// Removed (SwapCustomerLink) each time between the put and the read.
			return playback.Unavailable(err, "dynamo.%s: customer %q is contended", op, customerID)
		}
	}
}

func (s *Store) AccountIDByCustomer(ctx context.Context, customerID string) (string, error) {
	l, err := s.CustomerLink(ctx, customerID)
	if err != nil {
		return "", s.fail("AccountIDByCustomer", err)
	}
	return l.AccountID, nil
}

func (s *Store) CustomerLink(ctx context.Context, customerID string) (playback.CustomerLink, error) {
	it, err := s.get(ctx, "CUS#"+customerID, "CUSTOMER", "customer", customerID)
	if err != nil {
		return playback.CustomerLink{}, s.fail("CustomerLink", err)
	}
	l := playback.CustomerLink{AccountID: strAttr(it, attrAccountID)}
	if before, ok := it[attrLinkBefore]; ok {
		l.Pending = true
		if v, ok := before.(*types.AttributeValueMemberS); ok {
			l.Before = strings.TrimPrefix(v.Value, ">")
		}
		l.Claimed, _ = numAttr(it, attrLinkClaimed)
		l.From = strAttr(it, attrLinkFrom)
	}
	return l, nil
}

// SwapCustomerLink writes (or deletes) the link on the condition that it
// is from, as stored.
func (s *Store) SwapCustomerLink(ctx context.Context, customerID string, from, to playback.CustomerLink) (bool, error) {
	const op = "SwapCustomerLink"
	if customerID == "" || (from.AccountID == "" && to.AccountID == "") {
		return false, playback.Errorf(playback.CodeInvalid, "id_required", "dynamo.%s: a customer id and an account to swap from or to are required", op)
	}
	names := map[string]string{"#pk": attrPK}
	var values item
	cond := "attribute_not_exists(#pk)"
	if from.AccountID != "" {
		names = map[string]string{"#acct": attrAccountID, "#before": attrLinkBefore}
		values = item{":acct": str(from.AccountID)}
		cond = "#acct = :acct AND attribute_not_exists(#before)"
		if from.Pending {
			cond, values[":before"] = "#acct = :acct AND #before = :before", str(">"+from.Before)
			names["#claimed"] = attrLinkClaimed
			if from.Claimed == 0 {
				cond += " AND attribute_not_exists(#claimed)"
			} else {
				cond, values[":claimed"] = cond+" AND #claimed = :claimed", num(from.Claimed)
			}
			names["#from"] = attrLinkFrom
			if from.From == "" {
				cond += " AND attribute_not_exists(#from)"
			} else {
				cond, values[":from"] = cond+" AND #from = :from", str(from.From)
			}
		}
	}
	var err error
	if to.AccountID == "" {
		_, err = s.db().DeleteItem(ctx, &dynamodb.DeleteItemInput{TableName: aws.String(s.table), Key: customerKey(customerID),
			ConditionExpression: aws.String(cond), ExpressionAttributeNames: names, ExpressionAttributeValues: values})
	} else {
		_, err = s.db().PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(s.table), Item: linkItem(customerID, to),
			ConditionExpression: aws.String(cond), ExpressionAttributeNames: names, ExpressionAttributeValues: values})
	}
	switch {
	case conditionFailed(err):
		return false, nil
	case err != nil:
		return false, s.fail(op, err)
	}
	return true, nil
}

func linkItem(customerID string, l playback.CustomerLink) item {
	it := customerKey(customerID)
	it[attrAccountID] = str(l.AccountID)
	if l.Pending {
		it[attrLinkBefore] = str(">" + l.Before)
		if l.Claimed != 0 {
			it[attrLinkClaimed] = num(l.Claimed)
		}
		if l.From != "" {
			it[attrLinkFrom] = str(l.From)
		}
	}
	return it
}
