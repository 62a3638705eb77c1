package firestore

import (
	"context"
	"testing"
	"time"

	"github.com/playplane/playplane/shared/playback"
)

// TestClaimOfTheReleaseBeforeHasNoAge: during a rolling deploy the
// release before claim ages (8cc4e9a) writes claims too. Its swap
// updates account_id and link_before and leaves link_claimed as it was,
// so its claim over a claim of this release read with that claim's age:
// a claim just written, whose writer is alive and about to write its
// account, read as PendingClaimAge old and was taken by another account.
// Both accounts then named the customer. A claim of the release before
// has no known age, and holds as it did.
func TestClaimOfTheReleaseBeforeHasNoAge(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := newStore(t)
	cus := playback.NewID("cus")
	a := playback.Account{ID: playback.NewID("acct"), Territory: "DE"}
	if err := s.PutAccount(ctx, a); err != nil {
		t.Fatal(err)
	}
	v1, err := s.GetRecord(ctx, playback.KindAccount, a.ID)
	if err != nil {
		t.Fatal(err)
	}
	// This release claims cus for a, and its writer dies.
	t0 := time.Date(2026, 12, 7, 23, 0, 0, 0, time.UTC)
	dead := playback.PendingClaim(a.ID, v1.Version, t0)
	if ok, err := s.SwapCustomerLink(ctx, cus, playback.CustomerLink{}, dead); !ok || err != nil {
		t.Fatalf("SwapCustomerLink(none → %+v) = %v, %v", dead, ok, err)
	}
	// a is written since: the claim holds no longer.
	a.Email = "a@example.com"
	if err := s.PutAccount(ctx, a); err != nil {
		t.Fatal(err)
	}
	v2, err := s.GetRecord(ctx, playback.KindAccount, a.ID)
	if err != nil {
		t.Fatal(err)
	}
	// PendingClaimAge later, the release before retries a's write: it
	// claims cus on a's version as it is now, with its own swap.
	now := t0.Add(playback.PendingClaimAge)
	st, err := s.read(ctx, s.col(colCustomers).Doc(cus))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.commit(ctx, s.replace(st, map[string]any{fieldAccountID: a.ID, fieldLinkBefore: ">" + v2.Version})); err != nil {
		t.Fatal(err)
	}
	// Before its write of a lands, another account claims cus.
	taker := playback.PendingClaim(playback.NewID("acct"), "", now)
	_, err = playback.ClaimCustomer(ctx, s, cus, taker, now)
	got, readErr := s.CustomerLink(ctx, cus)
	want := playback.CustomerLink{AccountID: a.ID, Pending: true, Before: v2.Version}
	if !playback.IsCode(err, playback.CodeConflict) || readErr != nil || got != want {
		t.Fatalf("another account's claim of %s just after the release before claimed it for %s on %s (over this release's claim %v old): "+
			"%v; the link %+v (%v); want refused, the link %+v", cus, a.ID, v2.Version, playback.PendingClaimAge, err, got, readErr, want)
	}
}

// TestClaimOfTheReleaseBeforeHasNoFrom: the release before From (a
// cycle's claim naming the account it takes the customer from) writes
// claims with their age but leaves link_from as it was: its claim over a
// cycle's claim that died would read with that claim's From, holding the
// customer for an account that may still name it though the claim is
// another's, and no swap from the claim its writer knows would match.
// Its claim has no From.
func TestClaimOfTheReleaseBeforeHasNoFrom(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := newStore(t)
	cus, giver, taker, other := playback.NewID("cus"), playback.NewID("acct"), playback.NewID("acct"), playback.NewID("acct")
	t0 := time.Date(2026, 12, 7, 23, 0, 0, 0, time.UTC)
	dead := playback.PendingClaim(taker, "v1", t0)
	dead.From = giver
	if ok, err := s.SwapCustomerLink(ctx, cus, playback.CustomerLink{}, dead); !ok || err != nil {
		t.Fatalf("SwapCustomerLink(none → %+v) = %v, %v", dead, ok, err)
	}
	// The release before claims cus for other, with an age, and no From.
	theirs := playback.PendingClaim(other, "v7", t0.Add(playback.PendingClaimAge))
	st, err := s.read(ctx, s.col(colCustomers).Doc(cus))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.commit(ctx, s.replace(st, map[string]any{fieldAccountID: other, fieldLinkBefore: ">v7",
		fieldLinkClaimed: theirs.Claimed, fieldLinkClaimedFor: claimedFor(other, ">v7")})); err != nil {
		t.Fatal(err)
	}
	if got, err := s.CustomerLink(ctx, cus); err != nil || got != theirs {
		t.Fatalf("CustomerLink after the release before's claim over %+v = %+v, %v; want %+v", dead, got, err, theirs)
	}
}
