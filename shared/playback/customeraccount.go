package playback

import "context"

// CustomerAccount is the account customer's payment events apply to: its
// link's, unless the link is a pending claim whose From still names the
// customer. Such a claim's write (an import's cycle of accounts moving
// customers between them) frees the customer from From in the same write
// that makes the claim's account name it; until it lands, or for good if
// its writer died before it, From is the account that names the customer
// and bills through it (holderOf keeps it for From too). CodeNotFound
// when the customer has no link.
func CustomerAccount(ctx context.Context, s CustomerLinks, customer string) (string, error) {
	l, err := s.CustomerLink(ctx, customer)
	if err != nil {
		return "", err
	}
	if l.AccountID == "" {
		return "", NotFound("customer", customer)
	}
	if l.Pending && l.From != "" {
		names, err := namesCustomer(ctx, s, l.From, customer)
		if err != nil {
			return "", err
		}
		if names {
			return l.From, nil
		}
	}
	return l.AccountID, nil
}
