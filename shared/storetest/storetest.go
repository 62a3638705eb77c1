// Package storetest is the contract every playback.Store adapter passes.
// Adapters call Run from their own tests with a constructor; the suite uses
// fresh random ids everywhere so one store (one table, one emulator) can
// serve all subtests at once.
package storetest

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/playplane/playplane/shared/playback"
)

// Run runs the whole contract against the store that open returns. open is
// called once; the store is closed when the suite ends.
func Run(t *testing.T, open func(t *testing.T) playback.Store) {
	s := open(t)
	t.Cleanup(func() { _ = s.Close() })
	for _, tc := range []struct {
		name string
		fn   func(t *testing.T, s playback.Store)
	}{
		{"Catalog", testCatalog},
		{"AccountUpdate", testAccountUpdate},
		{"AccountUpdateConcurrent", testAccountUpdateConcurrent},
		{"Customers", testCustomers},
		{"CustomerLinkRace", testCustomerLinkRace},
		{"CustomerLinkSwap", testCustomerLinkSwap},
		{"CustomerClaimAge", testCustomerClaimAge},
		{"AccountPaymentState", testAccountPaymentState},
		{"AccountPutReplaces", testAccountPutReplaces},
		{"AccountPutRace", testAccountPutRace},
		{"GracePending", testGracePending},
		{"LeaseLimit", testLeaseLimit},
		{"LeaseRace", testLeaseRace},
		{"LeaseSameDeviceReplaces", testLeaseSameDeviceReplaces},
		{"LeaseRefusalChangesNothing", testLeaseRefusalChangesNothing},
		{"LeaseSameDeviceRace", testLeaseSameDeviceRace},
		{"LeaseMixedDeviceRace", testLeaseMixedDeviceRace},
		{"LeaseExpiredDoNotCount", testLeaseExpired},
		{"LeaseRetryIsIdempotent", testLeaseRetry},
		{"LeaseExpiringAtNow", testLeaseExpiringAtNow},
		{"LapsedLeaseAfterALoweredLimit", testLapsedLeaseAfterALoweredLimit},
		{"AdmissionRead", testAdmissionRead},
		{"AdmissionReadRace", testAdmissionReadRace},
		{"AdmissionSavesAccount", testAdmissionSavesAccount},
		{"ExtendAndEnd", testExtendAndEnd},
		{"EndSessionConcurrent", testEndSessionConcurrent},
		{"EndRacesRenewal", testEndRacesRenewal},
		{"RaceAtALeaseExpiry", testRaceAtALeaseExpiry},
		{"ReauthorizeEnded", testReauthorizeEnded},
		{"ReauthorizeRacesEnd", testReauthorizeRacesEnd},
		{"ReauthorizeRetried", testReauthorizeRetried},
		{"ReauthorizeRetryRace", testReauthorizeRetryRace},
		{"RenewLease", testRenewLease},
		{"RenewLeaseSeesOtherWrites", testRenewLeaseSeesOtherWrites},
		{"RenewHeldLease", testRenewHeldLease},
		{"RenewableSessions", testRenewableSessions},
		{"EndLapsedAfterItsPlaceWasTaken", testEndLapsedAfterItsPlaceWasTaken},
		{"EntitlementEndRacesALapsedRenewal", testEntitlementEndRacesALapsedRenewal},
		{"DeviceRemovalRacesALapsedRenewal", testDeviceRemovalRacesALapsedRenewal},
		{"Inbox", testInbox},
		{"InboxParked", testInboxParked},
		{"InboxParkedSince", testInboxParkedSince},
		{"InboxParkedPaging", testInboxParkedPaging},
		{"InboxParkedExpiry", testInboxParkedExpiry},
		{"InboxParkedExpiredFirst", testInboxParkedExpiredFirst},
		{"InboxProcessedExpiry", testInboxProcessedExpiry},
		{"InboxParkedCount", testInboxParkedCount},
		{"InboxParkedKeys", testInboxParkedKeys},
		{"InboxParkedKeysWalk", testInboxParkedKeysWalk},
		{"Edges", testEdges},
		{"UnknownEdges", testUnknownEdges},
		{"Progress", testProgress},
		{"SessionQoE", testSessionQoE},
		{"SessionQoEConcurrent", testSessionQoEConcurrent},
		{"RecordsAreCopies", testCopies},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.fn(t, s)
		})
	}
	for _, tc := range adminTests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.fn(t, s)
		})
	}
	// DynamoDB and Firestore keep no views (the warehouse does).
	if q, ok := s.(playback.QoEStore); ok {
		t.Run("QoEViewPage", func(t *testing.T) {
			t.Parallel()
			testQoEViewPage(t, q)
		})
	}
}

// now is a wall-clock instant at millisecond precision: stores with TTL
// delete records whose expiry is past, so fixtures live in real time.
func now() time.Time { return time.Now().UTC().Truncate(time.Millisecond) }

func wantCode(t *testing.T, err error, code playback.Code) {
	t.Helper()
	if got := playback.ErrorCode(err); got != code {
		t.Fatalf("error = %v (code %q), want code %q", err, got, code)
	}
}

// must fails the test on err; call as must(f())(t).
func must[T any](v T, err error) func(t *testing.T) T {
	return func(t *testing.T) T {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
}

func newAccount(t *testing.T, s playback.Store) playback.Account {
	t.Helper()
	a := playback.Account{ID: playback.NewID("acct"), PlanID: "standard", Status: playback.StatusActive,
		Territory: "DE", ParentalCap: 16}
	if err := s.PutAccount(context.Background(), a); err != nil {
		t.Fatal(err)
	}
	return a
}

func testCatalog(t *testing.T, s playback.Store) {
	ctx := context.Background()
	p := playback.Plan{ID: playback.NewID("plan"), Name: "Premium", MaxStreams: 4, MaxDevices: 10, MaxQuality: playback.QualityUHD}
	if err := s.PutPlan(ctx, p); err != nil {
		t.Fatal(err)
	}
	if got := must(s.GetPlan(ctx, p.ID))(t); got != p {
		t.Fatalf("GetPlan = %+v, want %+v", got, p)
	}
	start := now().Add(-time.Hour)
	ti := playback.Title{ID: playback.NewID("title"), Name: "Film", Rating: new(12), AssetPath: "/titles/x/", Manifest: "master.m3u8",
		Windows: []playback.LicenceWindow{{Territory: "DE", Start: start, End: start.Add(48 * time.Hour)}},
		Renditions: []playback.Rendition{
			{Path: "sd", Quality: playback.QualitySD, Bandwidth: 800_000, Width: 640, Height: 360, Codecs: "avc1.42c01e"},
			{Path: "uhd", Quality: playback.QualityUHD, Bandwidth: 12_000_000, Width: 3840, Height: 2160, Codecs: "avc1.640033"},
		}}
	if err := s.PutTitle(ctx, ti); err != nil {
		t.Fatal(err)
	}
	got := must(s.GetTitle(ctx, ti.ID))(t)
	if got.Name != ti.Name || got.Rating == nil || *got.Rating != 12 || len(got.Windows) != 1 || !got.Windows[0].End.Equal(ti.Windows[0].End) {
		t.Fatalf("GetTitle = %+v, want %+v", got, ti)
	}
	// The ladder decides what manifests list and grants cover: it must
	// come back whole and in order.
	if !slices.Equal(got.Renditions, ti.Renditions) {
		t.Fatalf("GetTitle renditions = %+v, want %+v", got.Renditions, ti.Renditions)
	}
	// 0 is all ages, no rating is unknown (refused under a parental cap):
	// the two must come back apart.
	for _, rating := range []*int{new(0), nil} {
		u := ti
		u.ID, u.Rating = playback.NewID("title"), rating
		if err := s.PutTitle(ctx, u); err != nil {
			t.Fatal(err)
		}
		if got := must(s.GetTitle(ctx, u.ID))(t); (got.Rating == nil) != (rating == nil) || rating != nil && *got.Rating != *rating {
			t.Fatalf("GetTitle rating = %v, want %v", got.Rating, rating)
		}
	}
	_, err := s.GetTitle(ctx, "no-such-title")
	wantCode(t, err, playback.CodeNotFound)
	_, err = s.GetPlan(ctx, "no-such-plan")
	wantCode(t, err, playback.CodeNotFound)
	_, err = s.GetAccount(ctx, "no-such-account")
	wantCode(t, err, playback.CodeNotFound)
}

func testAccountUpdate(t *testing.T, s playback.Store) {
	ctx := context.Background()
	a := newAccount(t, s)
	at := now()
	got := must(s.UpdateAccount(ctx, a.ID, func(a *playback.Account) error {
		a.Devices = append(a.Devices, playback.Device{ID: "tv", RegisteredAt: at, LastPlayedAt: at.Add(time.Hour)})
		return nil
	}))(t)
	if !got.HasDevice("tv") {
		t.Fatalf("UpdateAccount result lacks device: %+v", got)
	}
	if stored := must(s.GetAccount(ctx, a.ID))(t); !stored.HasDevice("tv") || !stored.Devices[0].RegisteredAt.Equal(at) ||
		!stored.Devices[0].LastPlayedAt.Equal(at.Add(time.Hour)) {
		t.Fatalf("stored account lacks device: %+v", stored)
	}

	abort := playback.Errorf(playback.CodeForbidden, "device_limit", "no")
	_, err := s.UpdateAccount(ctx, a.ID, func(a *playback.Account) error {
		a.Devices = append(a.Devices, playback.Device{ID: "phone"})
		return abort
	})
	if !errors.Is(err, abort) {
		t.Fatalf("UpdateAccount abort error = %v, want %v", err, abort)
	}
	got = must(s.UpdateAccount(ctx, a.ID, func(a *playback.Account) error {
		a.Territory = "FR" // must not be written
		return playback.ErrNoChange
	}))(t)
	if got.Territory != "DE" || got.HasDevice("phone") {
		t.Fatalf("ErrNoChange returned %+v, want the stored account", got)
	}
	if stored := must(s.GetAccount(ctx, a.ID))(t); stored.Territory != "DE" || stored.HasDevice("phone") {
		t.Fatalf("aborted updates were written: %+v", stored)
	}
	_, err = s.UpdateAccount(ctx, "no-such-account", func(*playback.Account) error { return nil })
	wantCode(t, err, playback.CodeNotFound)
}

// testAccountUpdateConcurrent proves UpdateAccount is a real
// compare-and-swap: no concurrent update is lost.
func testAccountUpdateConcurrent(t *testing.T, s playback.Store) {
	ctx := context.Background()
	a := newAccount(t, s)
	const writers = 12
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	for i := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := s.UpdateAccount(ctx, a.ID, func(a *playback.Account) error {
				a.Devices = append(a.Devices, playback.Device{ID: fmt.Sprintf("dev-%d", i)})
				return nil
			})
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if got := must(s.GetAccount(ctx, a.ID))(t); len(got.Devices) != writers {
		t.Fatalf("after %d concurrent updates the account has %d devices: lost updates", writers, len(got.Devices))
	}
}

func testCustomers(t *testing.T, s playback.Store) {
	ctx := context.Background()
	a := newAccount(t, s)
	cus := playback.NewID("cus")
	_, err := s.AccountIDByCustomer(ctx, cus)
	wantCode(t, err, playback.CodeNotFound)
	for range 2 { // linking is idempotent
		if err := s.LinkCustomer(ctx, cus, a.ID); err != nil {
			t.Fatal(err)
		}
	}
	if got := must(s.AccountIDByCustomer(ctx, cus))(t); got != a.ID {
		t.Fatalf("AccountIDByCustomer = %q, want %q", got, a.ID)
	}
	other := newAccount(t, s)
	wantLinkedElsewhere(t, s.LinkCustomer(ctx, cus, other.ID), cus, a.ID)
	if got := must(s.AccountIDByCustomer(ctx, cus))(t); got != a.ID {
		t.Fatalf("a refused link moved the customer to %q, want %q", got, a.ID)
	}
}

// wantLinkedElsewhere: err refuses a link of customer because holder has it.
func wantLinkedElsewhere(t *testing.T, err error, customer, holder string) {
	t.Helper()
	var e *playback.Error
	if !errors.As(err, &e) || e.Code != playback.CodeConflict || e.Reason != playback.ReasonCustomerLinkedElsewhere ||
		e.Details != (playback.CustomerLinkedElsewhere{CustomerID: customer, AccountID: holder}) {
		t.Fatalf("error = %v (%#v), want %s/%s naming %s's holder %s", err, e, playback.CodeConflict,
			playback.ReasonCustomerLinkedElsewhere, customer, holder)
	}
}

// testCustomerLinkRace: links of one customer to several accounts at
// once link it to one of them; the others are refused, naming it.
func testCustomerLinkRace(t *testing.T, s playback.Store) {
	ctx := context.Background()
	const n = 8
	cus := playback.NewID("cus")
	accounts := make([]string, n)
	for i := range accounts {
		accounts[i] = playback.NewID("acct")
	}
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { errs[i] = s.LinkCustomer(ctx, cus, accounts[i]) })
	}
	wg.Wait()
	linked := must(s.AccountIDByCustomer(ctx, cus))(t)
	won := 0
	for i, err := range errs {
		if err == nil {
			won++
			if accounts[i] != linked {
				t.Errorf("the link of %s to %s succeeded, yet it resolves to %s", cus, accounts[i], linked)
			}
			continue
		}
		wantLinkedElsewhere(t, err, cus, linked)
	}
	if won != 1 {
		t.Fatalf("%d of %d concurrent links of %s succeeded (errors %v), want 1; it resolves to %s", won, n, cus, errs, linked)
	}
}

// testCustomerClaimAge: a pending claim keeps its age (Claimed) as
// written, a swap from it names it with its age, and a claim whose writer
// died before its write (an account never created, or never renamed)
// keeps its customer from another account (playback.ClaimCustomer) until
// it is playback.PendingClaimAge old, then no longer, but for one whose
// account names the customer, or whose From (the account it takes the
// customer from in the same write) names it still. A claim of no known
// age (written by the release before) holds as it did.
func testCustomerClaimAge(t *testing.T, s playback.Store) {
	ctx := context.Background()
	t0 := time.Date(2026, 12, 7, 23, 0, 0, 0, time.UTC)
	young, old := t0.Add(playback.PendingClaimAge-time.Millisecond), t0.Add(playback.PendingClaimAge)
	renamed := newAccount(t, s) // its rename died before its write
	rec := must(s.GetRecord(ctx, playback.KindAccount, renamed.ID))(t)
	named := newAccount(t, s) // names its customer, claimed again on its version
	named.CustomerID = playback.NewID("cus")
	if err := s.PutAccount(ctx, named); err != nil {
		t.Fatal(err)
	}
	namedRec := must(s.GetRecord(ctx, playback.KindAccount, named.ID))(t)
	giver := newAccount(t, s) // names the customer a claim that died takes from it
	giver.CustomerID = playback.NewID("cus")
	if err := s.PutAccount(ctx, giver); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name     string
		claim    playback.CustomerLink
		customer string // "" a new one
		// whether another account's claim at young (at old) is refused
		heldYoung, heldOld bool
	}{
		{name: "a create that died", claim: playback.PendingClaim(playback.NewID("acct"), "", t0), heldYoung: true},
		{name: "a rename that died", claim: playback.PendingClaim(renamed.ID, rec.Version, t0), heldYoung: true},
		{name: "a claim whose account names the customer", claim: playback.PendingClaim(named.ID, namedRec.Version, t0),
			customer: named.CustomerID, heldYoung: true, heldOld: true},
		{name: "a claim of no known age", claim: playback.CustomerLink{AccountID: playback.NewID("acct"), Pending: true},
			heldYoung: true, heldOld: true},
		// An import's cycle of accounts moving customers between them
		// that died before its write: the account giving the customer up
		// names it still.
		{name: "a claim from an account naming the customer", claim: fromClaim(playback.PendingClaim(renamed.ID, rec.Version, t0), giver.ID),
			customer: giver.CustomerID, heldYoung: true, heldOld: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cus := tc.customer
			if cus == "" {
				cus = playback.NewID("cus")
			}
			if !must(s.SwapCustomerLink(ctx, cus, playback.CustomerLink{}, tc.claim))(t) {
				t.Fatalf("SwapCustomerLink(none → %+v) = false, want true", tc.claim)
			}
			if got := must(s.CustomerLink(ctx, cus))(t); got != tc.claim {
				t.Fatalf("CustomerLink = %+v, want %+v as written", got, tc.claim)
			}
			if tc.claim.Claimed != 0 {
				other := tc.claim
				other.Claimed++
				if must(s.SwapCustomerLink(ctx, cus, other, playback.CustomerLink{AccountID: tc.claim.AccountID}))(t) {
					t.Fatalf("SwapCustomerLink from %+v, of another age than the stored %+v, = true, want false", other, tc.claim)
				}
			}
			if tc.claim.From != "" {
				other := tc.claim
				other.From = ""
				if must(s.SwapCustomerLink(ctx, cus, other, playback.CustomerLink{AccountID: tc.claim.AccountID}))(t) {
					t.Fatalf("SwapCustomerLink from %+v, without the stored %+v's From, = true, want false", other, tc.claim)
				}
			}
			taker := playback.NewID("acct")
			for _, at := range []struct {
				now  time.Time
				held bool
			}{{young, tc.heldYoung}, {old, tc.heldOld}} {
				claim := playback.PendingClaim(taker, "", at.now)
				_, err := playback.ClaimCustomer(ctx, s, cus, claim, at.now)
				got := must(s.CustomerLink(ctx, cus))(t)
				switch {
				case at.held && (!playback.IsCode(err, playback.CodeConflict) || got != tc.claim):
					t.Fatalf("another account's claim %v after %+v: %v, the link %+v; want refused naming %s, the link as it was",
						at.now.Sub(t0), tc.claim, err, got, tc.claim.AccountID)
				case !at.held && (err != nil || got != claim):
					t.Fatalf("another account's claim %v after %+v (%v old at most): %v, the link %+v; want it taken, %+v",
						at.now.Sub(t0), tc.claim, playback.PendingClaimAge, err, got, claim)
				}
				if !at.held {
					return
				}
			}
		})
	}
}

// fromClaim is claim taking its customer from account from.
func fromClaim(claim playback.CustomerLink, from string) playback.CustomerLink {
	claim.From = from
	return claim
}

// testCustomerLinkSwap: SwapCustomerLink writes only over the link it
// names, pending marks included, and of racing swaps one wins.
func testCustomerLinkSwap(t *testing.T, s playback.Store) {
	ctx := context.Background()
	cus, a, b := playback.NewID("cus"), playback.NewID("acct"), playback.NewID("acct")
	swap := func(from, to playback.CustomerLink, want bool) {
		t.Helper()
		if got := must(s.SwapCustomerLink(ctx, cus, from, to))(t); got != want {
			t.Fatalf("SwapCustomerLink(%+v → %+v) = %v, want %v", from, to, got, want)
		}
	}
	read := func(want playback.CustomerLink) {
		t.Helper()
		if got := must(s.CustomerLink(ctx, cus))(t); got != want {
			t.Fatalf("CustomerLink = %+v, want %+v", got, want)
		}
	}
	plain := playback.CustomerLink{AccountID: a}
	created := playback.CustomerLink{AccountID: a, Pending: true} // Before "": a create's
	swap(plain, playback.CustomerLink{AccountID: b}, false)
	_, err := s.CustomerLink(ctx, cus)
	wantCode(t, err, playback.CodeNotFound)
	swap(playback.CustomerLink{}, created, true)
	read(created)
	swap(playback.CustomerLink{}, plain, false)
	swap(plain, playback.CustomerLink{AccountID: b}, false)
	if err := s.LinkCustomer(ctx, cus, a); err != nil {
		t.Fatal(err)
	}
	read(created) // LinkCustomer leaves its own account's link as it is
	if got := must(s.AccountIDByCustomer(ctx, cus))(t); got != a {
		t.Fatalf("AccountIDByCustomer of a pending link = %q, want %q", got, a)
	}
	renaming := playback.CustomerLink{AccountID: a, Pending: true, Before: "v1"}
	swap(created, renaming, true)
	read(renaming)
	swap(created, plain, false)
	swap(renaming, plain, true)
	read(plain)
	swap(playback.CustomerLink{AccountID: a, Pending: true}, playback.CustomerLink{AccountID: b}, false)
	swap(plain, playback.CustomerLink{AccountID: b}, true)
	read(playback.CustomerLink{AccountID: b})
	swap(playback.CustomerLink{AccountID: b}, playback.CustomerLink{}, true)
	_, err = s.CustomerLink(ctx, cus)
	wantCode(t, err, playback.CodeNotFound)

	const n = 8
	race := playback.NewID("cus")
	wins := make([]bool, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			wins[i], errs[i] = s.SwapCustomerLink(ctx, race, playback.CustomerLink{},
				playback.CustomerLink{AccountID: fmt.Sprintf("acct_%d", i), Pending: true})
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	won := slices.Index(wins, true)
	if won < 0 || slices.Index(wins[won+1:], true) >= 0 {
		t.Fatalf("concurrent swaps from no link: %v won, want one", wins)
	}
	if got := must(s.CustomerLink(ctx, race))(t); got != (playback.CustomerLink{AccountID: fmt.Sprintf("acct_%d", won), Pending: true}) {
		t.Fatalf("CustomerLink after the race = %+v, want acct_%d's", got, won)
	}
}

// testAccountPaymentState: what the payment provider's events leave on
// an account (its subscriptions with their snapshots and past_due facts,
// customer deletions, marks of subscriptions another product's) orders
// every later event, so every store must give it back exactly, through
// PutAccount and through UpdateAccount.
func testAccountPaymentState(t *testing.T, s playback.Store) {
	ctx := context.Background()
	sec := func(n int64) time.Time { return time.Unix(1772323200+n, 0).UTC() }
	live := playback.Subscription{ID: "sub_b", Status: playback.StatusPastDue, PlanID: "basic", CurrentPeriodEnd: sec(3600),
		PastDueSince: sec(60), Clock: 120, Customer: "cus_b", PastDueEntered: 60, NotPastDue: 30, PastDueSeen: []int64{60, 90}}
	a := playback.Account{ID: playback.NewID("acct"), PlanID: "premium", Status: playback.StatusActive, Territory: "DE",
		CustomerID: "cus_a", CustomerClock: 90, CustomerLinkCreated: 80, CurrentPeriodEnd: sec(7200),
		Subscriptions: []playback.Subscription{
			{ID: "sub_a", Status: playback.StatusActive, PlanID: "premium", CurrentPeriodEnd: sec(7200), Clock: 100, Customer: "cus_a",
				NotPastDue: 100, Snapshots: []playback.SubscriptionSnapshot{
					{Event: "evt_1", Status: playback.StatusIncomplete, PlanID: "premium", CurrentPeriodEnd: sec(7200), Place: -1,
						Attrs: map[string]string{"status": "incomplete", "items": "price_premium"}},
					{Event: "evt_2", Status: playback.StatusActive, PlanID: "premium", CurrentPeriodEnd: sec(7200),
						Attrs: map[string]string{"status": "active", "items": "price_premium"}, Prev: map[string]string{"status": "incomplete"}},
				}},
			{ID: "sub_b", Status: playback.StatusCanceled, PlanID: "basic", CurrentPeriodEnd: sec(3600), Clock: 150, Customer: "cus_b",
				Derived: true, Live: &live},
		},
		Announced:        playback.Entitlement{Entitled: true, Status: playback.StatusActive, PlanID: "premium"},
		CustomersDeleted: []playback.CustomerDeletion{{Customer: "cus_b", Clock: 150, Event: "evt_3"}},
		OtherProducts: []playback.OtherProductMark{{Subscription: "sub_c", Clock: 200, Event: "evt_4", Written: 210,
			PastDueEntered: 190, NotPastDue: 180, PastDueSeen: []int64{195, 199}}},
	}
	if err := s.PutAccount(ctx, a); err != nil {
		t.Fatal(err)
	}
	if got := must(s.GetAccount(ctx, a.ID))(t); !reflect.DeepEqual(got, a) {
		t.Fatalf("GetAccount =\n%+v\nwant\n%+v", got, a)
	}
	mark := playback.OtherProductMark{Subscription: "sub_d", Clock: 300, Event: "reconcile", Written: 301, NotPastDue: 250}
	want := a
	want.OtherProducts = append(slices.Clone(a.OtherProducts), mark)
	got := must(s.UpdateAccount(ctx, a.ID, func(a *playback.Account) error {
		a.OtherProducts = append(a.OtherProducts, mark)
		return nil
	}))(t)
	if stored := must(s.GetAccount(ctx, a.ID))(t); !reflect.DeepEqual(got, want) || !reflect.DeepEqual(stored, want) {
		t.Fatalf("UpdateAccount =\n%+v\nthen GetAccount\n%+v\nwant\n%+v", got, stored, want)
	}
}

// testAccountPutReplaces: PutAccount over an existing account replaces
// the whole record (Store: "Put methods create or replace the whole
// record"), moves its version, and moves the account between plans as
// every account write does: the plan it left has no account on it, the
// plan it joined counts it once however often it is put there.
func testAccountPutReplaces(t *testing.T, s playback.Store) {
	ctx := context.Background()
	left := playback.Plan{ID: playback.NewID("plan"), Name: "Left", MaxStreams: 1, MaxDevices: 1, MaxQuality: playback.QualitySD}
	joined := playback.Plan{ID: playback.NewID("plan"), Name: "Joined", MaxStreams: 2, MaxDevices: 2, MaxQuality: playback.QualityHD}
	apply(t, s, playback.Change{Kind: playback.KindPlan, ID: left.ID, Doc: doc(t, left)},
		playback.Change{Kind: playback.KindPlan, ID: joined.ID, Doc: doc(t, joined)})
	a := playback.Account{ID: playback.NewID("acct"), Email: "old@example.com", PlanID: left.ID, Status: playback.StatusActive,
		Territory: "DE", ParentalCap: 16, CustomerID: playback.NewID("cus"), Devices: []playback.Device{{ID: "dev-1"}}}
	if err := s.PutAccount(ctx, a); err != nil {
		t.Fatal(err)
	}
	before := must(s.GetRecord(ctx, playback.KindAccount, a.ID))(t).Version
	b := playback.Account{ID: a.ID, PlanID: joined.ID, Status: playback.StatusPastDue, Territory: "FR"}
	if err := s.PutAccount(ctx, b); err != nil {
		t.Fatalf("PutAccount over an existing account: %v", err)
	}
	if got := must(s.GetAccount(ctx, a.ID))(t); !reflect.DeepEqual(got, b) {
		t.Fatalf("GetAccount =\n%+v\nwant the replacement\n%+v", got, b)
	}
	if after := must(s.GetRecord(ctx, playback.KindAccount, a.ID))(t).Version; after == before {
		t.Fatalf("version %q did not move on a replacement", after)
	}
	b.Territory = "AT"
	if err := s.PutAccount(ctx, b); err != nil {
		t.Fatalf("PutAccount on the same plan: %v", err)
	}
	apply(t, s, playback.Change{Kind: playback.KindPlan, ID: left.ID})
	_, err := s.ApplyChanges(ctx, playback.ChangeSet{Actor: "storetest", At: now(),
		Changes: []playback.Change{{Kind: playback.KindPlan, ID: joined.ID}}})
	var pe *playback.Error
	if !errors.As(err, &pe) || pe.Reason != "plan_in_use" {
		t.Fatalf("delete the joined plan: %v, want plan_in_use", err)
	}
	if d, ok := pe.Details.(playback.PlanInUse); !ok || d.Accounts != 1 {
		t.Fatalf("details = %#v, want 1 account on %s", pe.Details, joined.ID)
	}
}

// testAccountPutRace: racing PutAccounts of one new account (two starts
// seeding one table) all succeed, as create-or-replace must, and leave
// one of them stored, counted once on its plan.
func testAccountPutRace(t *testing.T, s playback.Store) {
	ctx := context.Background()
	p := playback.Plan{ID: playback.NewID("plan"), Name: "Raced", MaxStreams: 1, MaxDevices: 1, MaxQuality: playback.QualitySD}
	apply(t, s, playback.Change{Kind: playback.KindPlan, ID: p.ID, Doc: doc(t, p)})
	id := playback.NewID("acct")
	const racers = 6
	var wg sync.WaitGroup
	errs := make([]error, racers)
	for i := range racers {
		wg.Go(func() {
			errs[i] = s.PutAccount(ctx, playback.Account{ID: id, PlanID: p.ID, Status: playback.StatusActive,
				Territory: "DE", ParentalCap: i})
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("PutAccount %d: %v", i, err)
		}
	}
	if got := must(s.GetAccount(ctx, id))(t); got.ParentalCap < 0 || got.ParentalCap >= racers || got.PlanID != p.ID {
		t.Fatalf("GetAccount = %+v, want one of the racers'", got)
	}
	_, err := s.ApplyChanges(ctx, playback.ChangeSet{Actor: "storetest", At: now(),
		Changes: []playback.Change{{Kind: playback.KindPlan, ID: p.ID}}})
	var pe *playback.Error
	if !errors.As(err, &pe) || pe.Reason != "plan_in_use" {
		t.Fatalf("delete the plan: %v, want plan_in_use", err)
	}
	if d, ok := pe.Details.(playback.PlanInUse); !ok || d.Accounts != 1 {
		t.Fatalf("details = %#v, want 1 account on %s", pe.Details, p.ID)
	}
}

func lease(acct string, limit int, at time.Time, ttl time.Duration) playback.LeaseRequest {
	return playback.LeaseRequest{SessionID: playback.NewID("ses"), AccountID: acct, DeviceID: playback.NewID("dev"),
		TitleID: "title-1", Limit: limit, TTL: ttl, Now: at}
}

func testLeaseLimit(t *testing.T, s playback.Store) {
	ctx := context.Background()
	acct := playback.NewID("acct")
	t0 := now()
	first := must(s.AcquireLease(ctx, lease(acct, 2, t0, time.Minute)))(t)
	second := must(s.AcquireLease(ctx, lease(acct, 2, t0.Add(time.Second), time.Minute)))(t)
	if !first.ExpiresAt.Equal(t0.Add(time.Minute)) || first.AccountID != acct || !first.StartedAt.Equal(t0) {
		t.Fatalf("lease = %+v", first)
	}
	_, err := s.AcquireLease(ctx, lease(acct, 2, t0.Add(2*time.Second), time.Minute))
	wantCode(t, err, playback.CodeConflict)
	var pe *playback.Error
	if !errors.As(err, &pe) || pe.Reason != "stream_limit" {
		t.Fatalf("conflict = %#v, want reason stream_limit", err)
	}
	details, ok := pe.Details.(*playback.ConflictDetails)
	if !ok || details.Limit != 2 || len(details.Sessions) != 2 ||
		details.Sessions[0].ID != first.ID || details.Sessions[1].ID != second.ID {
		t.Fatalf("conflict details = %#v, want both sessions oldest first", pe.Details)
	}
	if d := details.Sessions[0]; d.DeviceID != first.DeviceID || d.TitleID != first.TitleID {
		t.Fatalf("conflicting session lacks device/title: %+v", d)
	}
	// Another account is unaffected.
	must(s.AcquireLease(ctx, lease(playback.NewID("acct"), 2, t0, time.Minute)))(t)
	// Ending one frees its slot.
	must(s.EndSession(ctx, first.ID, playback.EndByUser, t0.Add(3*time.Second)))(t)
	third := must(s.AcquireLease(ctx, lease(acct, 2, t0.Add(4*time.Second), time.Minute)))(t)
	active := must(s.ListActiveSessions(ctx, acct, t0.Add(5*time.Second)))(t)
	if len(active) != 2 || active[0].ID != second.ID || active[1].ID != third.ID {
		t.Fatalf("ListActiveSessions = %+v, want [second third]", active)
	}
}

// testLeaseRace fires 100 concurrent acquisitions at an account limited to
// two streams: exactly two may win.
func testLeaseRace(t *testing.T, s playback.Store) {
	ctx := context.Background()
	acct := playback.NewID("acct")
	t0 := now()
	const attempts, limit = 100, 2
	var (
		wg                   sync.WaitGroup
		mu                   sync.Mutex
		admitted, conflicted int
		other                []error
	)
	start := make(chan struct{})
	for range attempts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			_, err := s.AcquireLease(ctx, lease(acct, limit, t0, time.Minute))
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				admitted++
			case playback.IsCode(err, playback.CodeConflict):
				conflicted++
			default:
				other = append(other, err)
			}
		}()
	}
	close(start)
	wg.Wait()
	if len(other) > 0 {
		t.Fatalf("%d acquisitions failed with non-conflict errors, first: %v", len(other), other[0])
	}
	if admitted != limit || conflicted != attempts-limit {
		t.Fatalf("admitted %d, conflicted %d; want exactly %d admitted", admitted, conflicted, limit)
	}
	if active := must(s.ListActiveSessions(ctx, acct, t0))(t); len(active) != limit {
		t.Fatalf("%d active sessions after the race, want %d", len(active), limit)
	}
}

func onDevice(req playback.LeaseRequest, device string) playback.LeaseRequest {
	req.DeviceID = device
	return req
}

// testLeaseSameDeviceReplaces: a device plays one stream; its new admission
// ends its running session even at the account's limit.
func testLeaseSameDeviceReplaces(t *testing.T, s playback.Store) {
	ctx := context.Background()
	acct := playback.NewID("acct")
	t0 := now()
	first := must(s.AcquireLease(ctx, onDevice(lease(acct, 1, t0, time.Minute), "tv")))(t)
	second := must(s.AcquireLease(ctx, onDevice(lease(acct, 1, t0.Add(time.Second), time.Minute), "tv")))(t)
	active := must(s.ListActiveSessions(ctx, acct, t0.Add(2*time.Second)))(t)
	if len(active) != 1 || active[0].ID != second.ID {
		t.Fatalf("active = %+v, want only the second session %s", active, second.ID)
	}
	old := must(s.GetSession(ctx, first.ID))(t)
	if old.EndReason != playback.EndReplaced || !old.EndedAt.Equal(t0.Add(time.Second)) {
		t.Fatalf("replaced session = %+v, want ended at the second admission with reason %q", old, playback.EndReplaced)
	}
	_, err := s.ExtendLease(ctx, first.ID, t0.Add(2*time.Minute), t0.Add(2*time.Second))
	wantCode(t, err, playback.CodeGone)
	// The replaced session's slot went to the new one: another device is
	// still refused at limit 1.
	_, err = s.AcquireLease(ctx, onDevice(lease(acct, 1, t0.Add(3*time.Second), time.Minute), "phone"))
	wantCode(t, err, playback.CodeConflict)
}

// testLeaseRefusalChangesNothing: a 409 leaves every session as it was,
// including the running session of the device that asked.
func testLeaseRefusalChangesNothing(t *testing.T, s playback.Store) {
	ctx := context.Background()
	acct := playback.NewID("acct")
	t0 := now()
	// Admitted while the plan allowed two streams; the plan now allows one.
	tv := must(s.AcquireLease(ctx, onDevice(lease(acct, 2, t0, time.Minute), "tv")))(t)
	phone := must(s.AcquireLease(ctx, onDevice(lease(acct, 2, t0.Add(time.Second), time.Minute), "phone")))(t)
	for _, tc := range []struct {
		name, device string
		limit        int
		conflicting  []string
	}{
		{name: "another device over the limit", device: "tablet", limit: 2, conflicting: []string{tv.ID, phone.ID}},
		{name: "own device, others fill a lowered limit", device: "tv", limit: 1, conflicting: []string{phone.ID}},
	} {
		_, err := s.AcquireLease(ctx, onDevice(lease(acct, tc.limit, t0.Add(2*time.Second), time.Minute), tc.device))
		var pe *playback.Error
		if !errors.As(err, &pe) || pe.Reason != "stream_limit" {
			t.Fatalf("%s: err = %v, want stream_limit", tc.name, err)
		}
		var got []string
		for _, c := range pe.Details.(*playback.ConflictDetails).Sessions {
			got = append(got, c.ID)
		}
		if fmt.Sprint(got) != fmt.Sprint(tc.conflicting) {
			t.Fatalf("%s: conflicting sessions = %v, want %v", tc.name, got, tc.conflicting)
		}
		for _, want := range []playback.Session{tv, phone} {
			if got := must(s.GetSession(ctx, want.ID))(t); !got.EndedAt.IsZero() || !got.ExpiresAt.Equal(want.ExpiresAt) {
				t.Fatalf("%s: refused admission changed session %s: %+v", tc.name, want.ID, got)
			}
		}
		if active := must(s.ListActiveSessions(ctx, acct, t0.Add(3*time.Second)))(t); len(active) != 2 {
			t.Fatalf("%s: %d active sessions after a refusal, want 2", tc.name, len(active))
		}
	}
}

// raceAcquire fires the requests at once and returns the admitted
// sessions; conflicts are expected, contention answered as unavailable is
// a retryable refusal, anything else fails the test.
func raceAcquire(t *testing.T, s playback.Store, reqs []playback.LeaseRequest) []playback.Session {
	t.Helper()
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		admitted []playback.Session
		other    []error
	)
	start := make(chan struct{})
	for _, req := range reqs {
		wg.Go(func() {
			<-start
			sess, err := s.AcquireLease(context.Background(), req)
			mu.Lock()
			defer mu.Unlock()
			switch code := playback.ErrorCode(err); {
			case err == nil:
				admitted = append(admitted, sess)
			case code == playback.CodeConflict, code == playback.CodeUnavailable:
			default:
				other = append(other, err)
			}
		})
	}
	close(start)
	wg.Wait()
	if len(other) > 0 {
		t.Fatalf("%d acquisitions failed with unexpected errors, first: %v", len(other), other[0])
	}
	return admitted
}

// checkOnePerDevice asserts at most limit live sessions, none two on one
// device, and every admitted session either live or replaced.
func checkOnePerDevice(t *testing.T, s playback.Store, acct string, limit int, admitted []playback.Session, at time.Time) []playback.Session {
	t.Helper()
	ctx := context.Background()
	active := must(s.ListActiveSessions(ctx, acct, at))(t)
	if len(active) > limit {
		t.Fatalf("%d live sessions, limit %d: %+v", len(active), limit, active)
	}
	devices := map[string]string{}
	for _, a := range active {
		if prev, dup := devices[a.DeviceID]; dup {
			t.Fatalf("device %s holds two live sessions: %s and %s", a.DeviceID, prev, a.ID)
		}
		devices[a.DeviceID] = a.ID
	}
	for _, a := range admitted {
		got := must(s.GetSession(ctx, a.ID))(t)
		if devices[a.DeviceID] == a.ID {
			continue
		}
		if got.EndReason != playback.EndReplaced {
			t.Fatalf("admitted session %s is neither live nor replaced: %+v", a.ID, got)
		}
	}
	return active
}

// testLeaseSameDeviceRace: plays sent at once from one device leave
// exactly one live session on it and no orphaned lease. Pairs race in many
// rounds rather than in one large burst, where a third request would
// replace (and so hide) two sessions that two racers both got admitted.
func testLeaseSameDeviceRace(t *testing.T, s playback.Store) {
	for round := range 12 {
		acct := playback.NewID("acct")
		t0 := now()
		reqs := []playback.LeaseRequest{
			onDevice(lease(acct, 2, t0, time.Minute), "tv"),
			onDevice(lease(acct, 2, t0, time.Minute), "tv"),
		}
		admitted := raceAcquire(t, s, reqs)
		if len(admitted) == 0 {
			t.Fatalf("round %d: no acquisition was admitted", round)
		}
		if active := checkOnePerDevice(t, s, acct, 2, admitted, t0); len(active) != 1 {
			t.Fatalf("round %d: %d live sessions for one device, want 1: %+v", round, len(active), active)
		}
		// The household's other device still finds its stream free.
		must(s.AcquireLease(context.Background(), onDevice(lease(acct, 2, t0, time.Minute), "phone")))(t)
	}
}

// testLeaseMixedDeviceRace: a burst from the household's registered devices
// and a stranger never exceeds the limit nor doubles a device.
func testLeaseMixedDeviceRace(t *testing.T, s playback.Store) {
	acct := playback.NewID("acct")
	t0 := now()
	devices := []string{"tv", "phone", "tablet"}
	reqs := make([]playback.LeaseRequest, 30)
	for i := range reqs {
		reqs[i] = onDevice(lease(acct, 2, t0, time.Minute), devices[i%len(devices)])
	}
	admitted := raceAcquire(t, s, reqs)
	if len(admitted) == 0 {
		t.Fatal("no acquisition was admitted")
	}
	if active := checkOnePerDevice(t, s, acct, 2, admitted, t0); len(active) != 2 {
		t.Fatalf("%d live sessions after the burst, want the limit of 2: %+v", len(active), active)
	}
}

func testLeaseExpired(t *testing.T, s playback.Store) {
	ctx := context.Background()
	acct := playback.NewID("acct")
	t0 := now()
	old := must(s.AcquireLease(ctx, lease(acct, 1, t0.Add(-10*time.Minute), time.Minute)))(t)
	// The old lease expired nine minutes ago: it neither blocks nor lists.
	fresh := must(s.AcquireLease(ctx, lease(acct, 1, t0, time.Minute)))(t)
	active := must(s.ListActiveSessions(ctx, acct, t0))(t)
	if len(active) != 1 || active[0].ID != fresh.ID {
		t.Fatalf("active = %+v, want only %s (not expired %s)", active, fresh.ID, old.ID)
	}
	_, err := s.ExtendLease(ctx, old.ID, t0.Add(time.Minute), t0)
	wantCode(t, err, playback.CodeGone)
}

func testLeaseRetry(t *testing.T, s playback.Store) {
	ctx := context.Background()
	acct := playback.NewID("acct")
	t0 := now()
	req := lease(acct, 1, t0, time.Minute)
	first := must(s.AcquireLease(ctx, req))(t)
	req.Now = t0.Add(time.Second)
	again := must(s.AcquireLease(ctx, req))(t)
	if again.ID != first.ID || !again.ExpiresAt.Equal(first.ExpiresAt) {
		t.Fatalf("retried acquisition = %+v, want the first lease %+v", again, first)
	}
	// Re-acquiring an ended session never resurrects it.
	must(s.EndSession(ctx, first.ID, playback.EndStopped, t0.Add(2*time.Second)))(t)
	req.Now = t0.Add(3 * time.Second)
	_, err := s.AcquireLease(ctx, req)
	wantCode(t, err, playback.CodeGone)
}

func testExtendAndEnd(t *testing.T, s playback.Store) {
	ctx := context.Background()
	acct := playback.NewID("acct")
	t0 := now()
	sess := must(s.AcquireLease(ctx, lease(acct, 1, t0, time.Minute)))(t)
	ext := must(s.ExtendLease(ctx, sess.ID, t0.Add(2*time.Minute), t0.Add(30*time.Second)))(t)
	if !ext.ExpiresAt.Equal(t0.Add(2*time.Minute)) || !ext.LastSeenAt.Equal(t0.Add(30*time.Second)) {
		t.Fatalf("extended = %+v", ext)
	}
	// A late extension never moves the expiry back.
	back := must(s.ExtendLease(ctx, sess.ID, t0.Add(90*time.Second), t0.Add(20*time.Second)))(t)
	if !back.ExpiresAt.Equal(t0.Add(2*time.Minute)) || !back.LastSeenAt.Equal(t0.Add(30*time.Second)) {
		t.Fatalf("late extension moved state back: %+v", back)
	}
	// A heartbeat within the lease still records that the session was
	// seen, and what lists the account's sessions (the 409 answer, GET
	// /v1/sessions) shows it.
	seen := must(s.ExtendLease(ctx, sess.ID, t0.Add(2*time.Minute), t0.Add(35*time.Second)))(t)
	if !seen.ExpiresAt.Equal(t0.Add(2*time.Minute)) || !seen.LastSeenAt.Equal(t0.Add(35*time.Second)) {
		t.Fatalf("extension without a later expiry = %+v, want last seen at +35s", seen)
	}
	if got := must(s.GetSession(ctx, sess.ID))(t); !got.LastSeenAt.Equal(t0.Add(35 * time.Second)) {
		t.Fatalf("GetSession after a heartbeat = %+v, want last seen at +35s", got)
	}
	active := must(s.ListActiveSessions(ctx, acct, t0.Add(36*time.Second)))(t)
	if len(active) != 1 || !active[0].LastSeenAt.Equal(t0.Add(35*time.Second)) || !active[0].StartedAt.Equal(t0) {
		t.Fatalf("ListActiveSessions after a heartbeat = %+v, want one session last seen at +35s", active)
	}
	_, err := s.AcquireLease(ctx, playback.LeaseRequest{SessionID: playback.NewID("ses"), AccountID: acct,
		DeviceID: playback.NewID("dev"), TitleID: "t", Limit: 1, TTL: time.Minute, Now: t0.Add(36 * time.Second)})
	var details *playback.ConflictDetails
	if pe := playback.AsError(err); pe == nil || pe.Reason != "stream_limit" {
		t.Fatalf("second device = %v, want stream_limit", err)
	} else if details, _ = pe.Details.(*playback.ConflictDetails); details == nil || len(details.Sessions) != 1 ||
		!details.Sessions[0].LastSeenAt.Equal(t0.Add(35*time.Second)) {
		t.Fatalf("stream_limit details = %+v, want the session last seen at +35s", pe.Details)
	}
	ended := must(s.EndSession(ctx, sess.ID, playback.EndStopped, t0.Add(40*time.Second)))(t)
	if ended.EndReason != playback.EndStopped || !ended.EndedAt.Equal(t0.Add(40*time.Second)) {
		t.Fatalf("ended = %+v", ended)
	}
	// Ending again is a no-op that keeps the first reason.
	again := must(s.EndSession(ctx, sess.ID, playback.EndByUser, t0.Add(50*time.Second)))(t)
	if again.EndReason != playback.EndStopped || !again.EndedAt.Equal(ended.EndedAt) {
		t.Fatalf("second EndSession changed the session: %+v", again)
	}
	_, err = s.ExtendLease(ctx, sess.ID, t0.Add(3*time.Minute), t0.Add(time.Minute))
	wantCode(t, err, playback.CodeGone)
	if got := must(s.GetSession(ctx, sess.ID))(t); got.EndReason != playback.EndStopped {
		t.Fatalf("GetSession = %+v", got)
	}
	if active := must(s.ListActiveSessions(ctx, acct, t0.Add(time.Minute)))(t); len(active) != 0 {
		t.Fatalf("ended session still active: %+v", active)
	}
	_, err = s.EndSession(ctx, "no-such-session", playback.EndStopped, t0)
	wantCode(t, err, playback.CodeNotFound)
	_, err = s.ExtendLease(ctx, "no-such-session", t0, t0)
	wantCode(t, err, playback.CodeNotFound)
}

// testEndSessionConcurrent: ends of one session racing each other and an
// admission into the slot the first end frees (a DELETE /v1/sessions/{id}
// sent twice, a stop beside it) end it once: every end answers the same
// end, and none frees the slot again once another session holds it, so
// the account never plays over its limit.
func testEndSessionConcurrent(t *testing.T, s playback.Store) {
	ctx := context.Background()
	acct := playback.NewID("acct")
	t0 := now()
	first := must(s.AcquireLease(ctx, lease(acct, 1, t0, time.Minute)))(t)
	reasons := []string{playback.EndByUser, playback.EndStopped, playback.EndByUser, playback.EndDeviceRemoved}
	ends := make([]playback.Session, len(reasons))
	errs := make([]error, len(reasons))
	var next playback.Session
	var nextErr error
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i, why := range reasons {
		wg.Go(func() {
			<-start
			ends[i], errs[i] = s.EndSession(ctx, first.ID, why, t0.Add(time.Second))
		})
	}
	wg.Go(func() {
		<-start
		next, nextErr = s.AcquireLease(ctx, lease(acct, 1, t0.Add(2*time.Second), time.Minute))
	})
	close(start)
	wg.Wait()
	for i := range ends {
		if errs[i] != nil {
			t.Fatalf("end %d: %v", i, errs[i])
		}
		if ends[i].EndReason != ends[0].EndReason || !ends[i].EndedAt.Equal(ends[0].EndedAt) || ends[i].EndedAt.IsZero() {
			t.Fatalf("ends answered %+v and %+v: want one end", ends[0], ends[i])
		}
	}
	if nextErr != nil {
		// The admission ran before any end freed the slot.
		wantCode(t, nextErr, playback.CodeConflict)
		next = must(s.AcquireLease(ctx, lease(acct, 1, t0.Add(2*time.Second), time.Minute)))(t)
	}
	// A late end of the first, as a DELETE retried after its answer was
	// lost: the slot is the second's now.
	again := must(s.EndSession(ctx, first.ID, playback.EndByUser, t0.Add(3*time.Second)))(t)
	if again.EndReason != ends[0].EndReason || !again.EndedAt.Equal(ends[0].EndedAt) {
		t.Fatalf("a late end changed the ended session: %+v, want %+v", again, ends[0])
	}
	at := t0.Add(4 * time.Second)
	if active := must(s.ListActiveSessions(ctx, acct, at))(t); len(active) != 1 || active[0].ID != next.ID {
		t.Fatalf("active sessions after the ends: %+v, want the second alone", active)
	}
	_, err := s.AcquireLease(ctx, lease(acct, 1, at, time.Minute))
	wantCode(t, err, playback.CodeConflict)
}

// testRenewLease: a heartbeat's renewal writes nothing while the lease is
// fresh, extends it to now+ttl once it is not, and refuses ended and
// unknown sessions.
func testRenewLease(t *testing.T, s playback.Store) {
	ctx := context.Background()
	acct := playback.NewID("acct")
	t0 := now()
	const ttl, slack = 2 * time.Minute, 20 * time.Second
	sess := must(s.AcquireLease(ctx, lease(acct, 1, t0, ttl)))(t)
	// Within the slack: returned as stored, nothing written.
	fresh := must(s.RenewLease(ctx, sess.ID, ttl, slack, t0.Add(10*time.Second)))(t)
	if !fresh.ExpiresAt.Equal(sess.ExpiresAt) || !fresh.LastSeenAt.Equal(sess.LastSeenAt) || fresh.AccountID != acct {
		t.Fatalf("renewal inside the slack = %+v, want the session as admitted %+v", fresh, sess)
	}
	if got := must(s.GetSession(ctx, sess.ID))(t); !got.LastSeenAt.Equal(sess.LastSeenAt) || !got.ExpiresAt.Equal(sess.ExpiresAt) {
		t.Fatalf("a renewal inside the slack wrote %+v", got)
	}
	// Past the slack: extended to now+ttl and seen now.
	at := t0.Add(slack + time.Second)
	renewed := must(s.RenewLease(ctx, sess.ID, ttl, slack, at))(t)
	if !renewed.ExpiresAt.Equal(at.Add(ttl)) || !renewed.LastSeenAt.Equal(at) {
		t.Fatalf("renewal past the slack = %+v, want expiry %v, last seen %v", renewed, at.Add(ttl), at)
	}
	if got := must(s.GetSession(ctx, sess.ID))(t); !got.ExpiresAt.Equal(at.Add(ttl)) || !got.LastSeenAt.Equal(at) {
		t.Fatalf("GetSession after a renewal = %+v", got)
	}
	must(s.EndSession(ctx, sess.ID, playback.EndStopped, at.Add(time.Second)))(t)
	_, err := s.RenewLease(ctx, sess.ID, ttl, slack, at.Add(2*time.Second))
	wantCode(t, err, playback.CodeGone)
	_, err = s.RenewLease(ctx, "no-such-session", ttl, slack, t0)
	wantCode(t, err, playback.CodeNotFound)
}

func testInbox(t *testing.T, s playback.Store) {
	ctx := context.Background()
	t0 := now()
	source := playback.NewID("src") // isolates ListPendingEvents from other runs
	ev := playback.InboxEvent{Source: source, ID: "evt_1", Type: "invoice.paid", Created: t0.Add(-time.Minute),
		Payload: []byte(`{"id":"evt_1"}`), ReceivedAt: t0}
	stored, created := mustPair(s.RecordEvent(ctx, ev))(t)
	if !created || stored.ID != "evt_1" {
		t.Fatalf("first RecordEvent = %+v, %v", stored, created)
	}
	dup := ev
	dup.Payload = []byte(`{"id":"evt_1","dup":true}`)
	stored, created = mustPair(s.RecordEvent(ctx, dup))(t)
	if created || string(stored.Payload) != `{"id":"evt_1"}` {
		t.Fatalf("duplicate RecordEvent = %+v, created=%v; want the original, not created", stored, created)
	}
	later := playback.InboxEvent{Source: source, ID: "evt_2", Type: "invoice.paid", ReceivedAt: t0.Add(time.Second), Payload: []byte(`{}`)}
	mustPair(s.RecordEvent(ctx, later))(t)
	pending := must(s.ListPendingEvents(ctx, source, t0.Add(time.Hour), 10))(t)
	if len(pending) != 2 || pending[0].ID != "evt_1" || pending[1].ID != "evt_2" {
		t.Fatalf("pending = %+v, want evt_1, evt_2", pending)
	}
	if pending := must(s.ListPendingEvents(ctx, source, t0.Add(time.Hour), 1))(t); len(pending) != 1 {
		t.Fatalf("limit ignored: %d events", len(pending))
	}
	if pending := must(s.ListPendingEvents(ctx, source, t0.Add(time.Millisecond), 10))(t); len(pending) != 1 {
		t.Fatalf("receivedBefore ignored: %+v", pending)
	}
	exp := t0.Add(30 * 24 * time.Hour)
	if err := s.MarkEventProcessed(ctx, source, "evt_1", t0.Add(2*time.Second), exp); err != nil {
		t.Fatal(err)
	}
	if err := s.MarkEventProcessed(ctx, source, "evt_1", t0.Add(5*time.Second), exp); err != nil {
		t.Fatal(err)
	}
	got := must(s.GetEvent(ctx, source, "evt_1"))(t)
	if !got.ProcessedAt.Equal(t0.Add(2 * time.Second)) {
		t.Fatalf("ProcessedAt = %v, want the first mark", got.ProcessedAt)
	}
	if pending := must(s.ListPendingEvents(ctx, source, t0.Add(time.Hour), 10))(t); len(pending) != 1 || pending[0].ID != "evt_2" {
		t.Fatalf("pending after processing = %+v", pending)
	}
	_, err := s.GetEvent(ctx, source, "evt_none")
	wantCode(t, err, playback.CodeNotFound)
}

// parkedIDs lists the ids of key's parked events, in order.
func parkedIDs(t *testing.T, s playback.Store, source, key string) []string {
	t.Helper()
	var ids []string
	for _, ev := range must(s.ListParkedEvents(context.Background(), source, key, playback.ParkCursor{}, 100))(t) {
		if ev.ParkedKey != key {
			t.Fatalf("listed under %q: %+v", key, ev)
		}
		ids = append(ids, ev.ID)
	}
	return ids
}

func testInboxParked(t *testing.T, s playback.Store) {
	ctx := context.Background()
	t0 := now()
	source := playback.NewID("src")
	record := func(id string, received time.Time) {
		t.Helper()
		mustPair(s.RecordEvent(ctx, playback.InboxEvent{Source: source, ID: id, Type: "invoice.paid",
			Created: received, ReceivedAt: received, Payload: []byte(`{"id":"` + id + `"}`)}))(t)
	}
	park := func(id, key string, at time.Time) {
		t.Helper()
		if err := s.ParkEvent(ctx, source, id, key, at, time.Time{}); err != nil {
			t.Fatalf("ParkEvent(%s, %s): %v", id, key, err)
		}
	}
	pendingIDs := func() []string {
		t.Helper()
		var ids []string
		for _, ev := range must(s.ListPendingEvents(ctx, source, t0.Add(time.Hour), 100))(t) {
			ids = append(ids, ev.ID)
		}
		return ids
	}
	// Received in one order, parked in another: the key lists by park time.
	for i, id := range []string{"evt_a", "evt_b", "evt_c", "evt_d", "evt_e"} {
		record(id, t0.Add(time.Duration(i)*time.Second))
	}
	park("evt_c", "customer:cus_1", t0.Add(time.Minute))
	park("evt_a", "customer:cus_1", t0.Add(2*time.Minute))
	park("evt_b", "customer:cus_2", t0.Add(time.Minute))
	park("evt_d", "retry", t0.Add(time.Minute))

	if got := pendingIDs(); !slices.Equal(got, []string{"evt_e"}) {
		t.Fatalf("pending = %v, want only the unparked evt_e", got)
	}
	if got := parkedIDs(t, s, source, "customer:cus_1"); !slices.Equal(got, []string{"evt_c", "evt_a"}) {
		t.Fatalf("parked for cus_1 = %v, want evt_c, evt_a (by park time)", got)
	}
	if got := parkedIDs(t, s, source, "customer:cus_2"); !slices.Equal(got, []string{"evt_b"}) {
		t.Fatalf("parked for cus_2 = %v", got)
	}
	if got := parkedIDs(t, s, source, "customer:cus_none"); len(got) != 0 {
		t.Fatalf("parked for an unused key = %v", got)
	}
	if got := must(s.ListParkedEvents(ctx, source, "customer:cus_1", playback.ParkCursor{}, 1))(t); len(got) != 1 || got[0].ID != "evt_c" {
		t.Fatalf("limit 1 = %+v", got)
	}

	// Still an unprocessed event: readable, and a redelivery finds it.
	got := must(s.GetEvent(ctx, source, "evt_a"))(t)
	if got.ParkedKey != "customer:cus_1" || !got.ParkedAt.Equal(t0.Add(2*time.Minute)) || !got.ProcessedAt.IsZero() ||
		string(got.Payload) != `{"id":"evt_a"}` {
		t.Fatalf("GetEvent of a parked event = %+v", got)
	}
	stored, created := mustPair(s.RecordEvent(ctx, playback.InboxEvent{Source: source, ID: "evt_a", Type: "invoice.paid",
		ReceivedAt: t0.Add(time.Hour), Payload: []byte(`{}`)}))(t)
	if created || stored.ParkedKey != "customer:cus_1" || string(stored.Payload) != `{"id":"evt_a"}` {
		t.Fatalf("RecordEvent of a parked event = %+v, created=%v; want the parked original", stored, created)
	}

	// Parking again: the same at changes nothing, a later one moves it
	// behind the key's others, another key moves it there.
	park("evt_c", "customer:cus_1", t0.Add(time.Minute))
	if got := parkedIDs(t, s, source, "customer:cus_1"); !slices.Equal(got, []string{"evt_c", "evt_a"}) {
		t.Fatalf("after re-parking at the same time = %v", got)
	}
	park("evt_c", "customer:cus_1", t0.Add(3*time.Minute))
	if got := parkedIDs(t, s, source, "customer:cus_1"); !slices.Equal(got, []string{"evt_a", "evt_c"}) {
		t.Fatalf("after re-parking later = %v, want evt_a, evt_c", got)
	}
	park("evt_d", "customer:cus_2", t0.Add(2*time.Minute))
	if got := parkedIDs(t, s, source, "retry"); len(got) != 0 {
		t.Fatalf("retry after moving evt_d away = %v", got)
	}
	if got := parkedIDs(t, s, source, "customer:cus_2"); !slices.Equal(got, []string{"evt_b", "evt_d"}) {
		t.Fatalf("cus_2 after moving evt_d in = %v", got)
	}

	// Processing clears the parked state, and a processed event stays so.
	exp := t0.Add(30 * 24 * time.Hour)
	if err := s.MarkEventProcessed(ctx, source, "evt_a", t0.Add(4*time.Minute), exp); err != nil {
		t.Fatal(err)
	}
	if got := parkedIDs(t, s, source, "customer:cus_1"); !slices.Equal(got, []string{"evt_c"}) {
		t.Fatalf("cus_1 after processing evt_a = %v", got)
	}
	got = must(s.GetEvent(ctx, source, "evt_a"))(t)
	if got.ParkedKey != "" || got.ProcessedAt.IsZero() {
		t.Fatalf("processed event = %+v, want processed and unparked", got)
	}
	park("evt_a", "customer:cus_1", t0.Add(5*time.Minute))
	if got := parkedIDs(t, s, source, "customer:cus_1"); !slices.Equal(got, []string{"evt_c"}) {
		t.Fatalf("parking a processed event listed it: %v", got)
	}
	if got := pendingIDs(); !slices.Equal(got, []string{"evt_e"}) {
		t.Fatalf("pending at the end = %v", got)
	}

	wantCode(t, s.ParkEvent(ctx, source, "evt_none", "retry", t0, time.Time{}), playback.CodeNotFound)
	wantCode(t, s.ParkEvent(ctx, source, "evt_e", "", t0, time.Time{}), playback.CodeInvalid)
	wantCode(t, s.ParkEvent(ctx, source, "evt_e", "a|b", t0, time.Time{}), playback.CodeInvalid)
}

// testInboxParkedSince: an event parked again under the same key keeps
// when it was first parked under it (a retrier's backoff counts from
// there), parked under another key it starts anew, and GetEvent and
// ListParkedEvents both say so; processing clears it.
func testInboxParkedSince(t *testing.T, s playback.Store) {
	ctx := context.Background()
	t0 := now()
	source := playback.NewID("src")
	mustPair(s.RecordEvent(ctx, playback.InboxEvent{Source: source, ID: "evt_s", Type: "invoice.paid",
		Created: t0, ReceivedAt: t0, Payload: []byte(`{"id":"evt_s"}`)}))(t)
	for _, step := range []struct {
		key       string
		at, since time.Duration
	}{
		{key: "customer:cus_s", at: time.Hour, since: time.Hour},
		{key: "announced", at: 2 * time.Hour, since: 2 * time.Hour},
		{key: "announced", at: 3 * time.Hour, since: 2 * time.Hour},
		{key: "announced", at: 3 * time.Hour, since: 2 * time.Hour}, // the same at: nothing changes
		{key: "retry", at: 4 * time.Hour, since: 4 * time.Hour},
		{key: "retry", at: 5 * time.Hour, since: 4 * time.Hour},
	} {
		if err := s.ParkEvent(ctx, source, "evt_s", step.key, t0.Add(step.at), time.Time{}); err != nil {
			t.Fatalf("ParkEvent(%s at +%v): %v", step.key, step.at, err)
		}
		got := must(s.GetEvent(ctx, source, "evt_s"))(t)
		if got.ParkedKey != step.key || !got.ParkedAt.Equal(t0.Add(step.at)) || !got.ParkedSince.Equal(t0.Add(step.since)) {
			t.Fatalf("parked under %s at +%v: GetEvent = key %q at %v since %v, want since +%v",
				step.key, step.at, got.ParkedKey, got.ParkedAt.Sub(t0), got.ParkedSince.Sub(t0), step.since)
		}
		listed := must(s.ListParkedEvents(ctx, source, step.key, playback.ParkCursor{}, 10))(t)
		if len(listed) != 1 || !listed[0].ParkedSince.Equal(t0.Add(step.since)) {
			t.Fatalf("parked under %s at +%v: listed %+v, want since +%v", step.key, step.at, listed, step.since)
		}
	}
	if err := s.MarkEventProcessed(ctx, source, "evt_s", t0.Add(6*time.Hour), t0.Add(30*24*time.Hour)); err != nil {
		t.Fatal(err)
	}
	if got := must(s.GetEvent(ctx, source, "evt_s"))(t); got.ParkedKey != "" || !got.ParkedSince.IsZero() {
		t.Fatalf("processed event = key %q since %v, want unparked", got.ParkedKey, got.ParkedSince)
	}
}

// testInboxParkedPaging: a key's parked events are listed however many
// there are, page by page, each once, even when they share a park time.
func testInboxParkedPaging(t *testing.T, s playback.Store) {
	ctx := context.Background()
	t0 := now()
	source := playback.NewID("src")
	const n = 25
	want := make([]string, 0, n)
	for i := range n {
		id := fmt.Sprintf("evt_%02d", i)
		mustPair(s.RecordEvent(ctx, playback.InboxEvent{Source: source, ID: id, ReceivedAt: t0, Payload: []byte(`{}`)}))(t)
		// Three events per park instant.
		if err := s.ParkEvent(ctx, source, id, "customer:cus_p", t0.Add(time.Duration(i/3)*time.Second), time.Time{}); err != nil {
			t.Fatal(err)
		}
		want = append(want, id)
	}
	var got []string
	var after playback.ParkCursor
	for range n {
		page := must(s.ListParkedEvents(ctx, source, "customer:cus_p", after, 4))(t)
		if len(page) == 0 {
			break
		}
		for _, ev := range page {
			got = append(got, ev.ID)
		}
		after = playback.CursorOf(page[len(page)-1])
	}
	if !slices.Equal(got, want) {
		t.Fatalf("paged = %v\nwant %v", got, want)
	}
}

// testInboxParkedExpiry: a parked event whose expiry has passed is gone,
// as a processed event past its ExpiresAt: not listed, not found, and
// recorded anew by a redelivery; one within its expiry waits as any, and
// parking it again without one keeps it for good.
func testInboxParkedExpiry(t *testing.T, s playback.Store) {
	ctx := context.Background()
	t0 := now()
	source := playback.NewID("src")
	const key = "customer:cus_gone"
	for i, id := range []string{"evt_expired", "evt_waits", "evt_kept"} {
		mustPair(s.RecordEvent(ctx, playback.InboxEvent{Source: source, ID: id, Type: "customer.deleted",
			ReceivedAt: t0.Add(-time.Hour), Payload: []byte(`{"id":"` + id + `"}`)}))(t)
		expires := []time.Time{t0.Add(-time.Minute), t0.Add(time.Hour), {}}[i]
		if err := s.ParkEvent(ctx, source, id, key, t0.Add(time.Duration(i-3)*time.Minute), expires); err != nil {
			t.Fatalf("ParkEvent(%s): %v", id, err)
		}
	}
	if got := parkedIDs(t, s, source, key); !slices.Equal(got, []string{"evt_waits", "evt_kept"}) {
		t.Fatalf("parked = %v, want evt_waits, evt_kept: an expired event is no longer listed", got)
	}
	_, err := s.GetEvent(ctx, source, "evt_expired")
	wantCode(t, err, playback.CodeNotFound)
	wantCode(t, s.MarkEventProcessed(ctx, source, "evt_expired", t0, t0.Add(time.Hour)), playback.CodeNotFound)
	wantCode(t, s.ParkEvent(ctx, source, "evt_expired", key, t0, t0.Add(time.Hour)), playback.CodeNotFound)
	if got := must(s.GetEvent(ctx, source, "evt_waits"))(t); !got.ExpiresAt.Equal(t0.Add(time.Hour)) || got.ParkedKey != key {
		t.Fatalf("GetEvent of an event parked until t0+1h = %+v", got)
	}
	if _, created := mustPair(s.RecordEvent(ctx, playback.InboxEvent{Source: source, ID: "evt_expired", Type: "customer.deleted",
		ReceivedAt: t0, Payload: []byte(`{}`)}))(t); !created {
		t.Fatal("a redelivery of an expired parked event was not recorded anew")
	}
	// The redelivery replaced the expired event and its place under key.
	if got := parkedIDs(t, s, source, key); !slices.Equal(got, []string{"evt_waits", "evt_kept"}) {
		t.Fatalf("parked after the redelivery = %v, want evt_waits, evt_kept", got)
	}
	var pending []string
	for _, ev := range must(s.ListPendingEvents(ctx, source, t0.Add(time.Hour), 100))(t) {
		pending = append(pending, ev.ID)
	}
	if !slices.Equal(pending, []string{"evt_expired"}) {
		t.Fatalf("pending after the redelivery = %v, want the redelivered evt_expired", pending)
	}
	if err := s.ParkEvent(ctx, source, "evt_waits", "retry", t0, time.Time{}); err != nil {
		t.Fatal(err)
	}
	if got := must(s.GetEvent(ctx, source, "evt_waits"))(t); !got.ExpiresAt.IsZero() || got.ParkedKey != "retry" {
		t.Fatalf("parked again without an expiry = %+v, want no ExpiresAt", got)
	}
	if got := parkedIDs(t, s, source, "retry"); !slices.Equal(got, []string{"evt_waits"}) {
		t.Fatalf("retry = %v", got)
	}
}

// testInboxProcessedExpiry: a processed event past its ExpiresAt is gone
// at once, by the store's clock, whether or not its TTL (or bolt's
// PruneExpired) has deleted it yet: not found, not marked or parked, and
// a redelivery is a new event, not a duplicate. One within its ExpiresAt
// is still there, and its redelivery a duplicate.
func testInboxProcessedExpiry(t *testing.T, s playback.Store) {
	ctx := context.Background()
	t0 := now()
	source := playback.NewID("src")
	for id, expires := range map[string]time.Time{"evt_expired": t0.Add(-time.Minute), "evt_within": t0.Add(time.Hour)} {
		mustPair(s.RecordEvent(ctx, playback.InboxEvent{Source: source, ID: id, Type: "invoice.paid",
			ReceivedAt: t0.Add(-time.Hour), Payload: []byte(`{"id":"` + id + `"}`)}))(t)
		if err := s.MarkEventProcessed(ctx, source, id, t0.Add(-time.Hour), expires); err != nil {
			t.Fatalf("MarkEventProcessed(%s): %v", id, err)
		}
	}
	_, err := s.GetEvent(ctx, source, "evt_expired")
	wantCode(t, err, playback.CodeNotFound)
	wantCode(t, s.MarkEventProcessed(ctx, source, "evt_expired", t0, t0.Add(time.Hour)), playback.CodeNotFound)
	wantCode(t, s.ParkEvent(ctx, source, "evt_expired", "retry", t0, time.Time{}), playback.CodeNotFound)
	if got := must(s.GetEvent(ctx, source, "evt_within"))(t); !got.ExpiresAt.Equal(t0.Add(time.Hour)) || got.ProcessedAt.IsZero() {
		t.Fatalf("GetEvent of an event processed until t0+1h = %+v", got)
	}
	if _, created := mustPair(s.RecordEvent(ctx, playback.InboxEvent{Source: source, ID: "evt_within", Type: "invoice.paid",
		ReceivedAt: t0, Payload: []byte(`{}`)}))(t); created {
		t.Fatal("a redelivery of a processed event within its ExpiresAt was recorded anew, want a duplicate")
	}
	redelivered, created := mustPair(s.RecordEvent(ctx, playback.InboxEvent{Source: source, ID: "evt_expired", Type: "invoice.paid",
		ReceivedAt: t0, Payload: []byte(`{"again":true}`)}))(t)
	if !created || !redelivered.ProcessedAt.IsZero() {
		t.Fatalf("a redelivery of a processed event past its ExpiresAt: %+v, created %v; want recorded anew", redelivered, created)
	}
	var pending []string
	for _, ev := range must(s.ListPendingEvents(ctx, source, t0.Add(time.Hour), 100))(t) {
		pending = append(pending, ev.ID)
	}
	if !slices.Equal(pending, []string{"evt_expired"}) {
		t.Fatalf("pending after the redelivery = %v, want the redelivered evt_expired", pending)
	}
}

// testInboxParkedCount: CountParkedEvents counts the live events parked
// under the keys with a prefix, across keys, up to its limit; pending,
// processed and expired events, and other keys', do not count.
func testInboxParkedCount(t *testing.T, s playback.Store) {
	ctx := context.Background()
	t0 := now()
	source := playback.NewID("src")
	for _, p := range []struct {
		id, key string
		expires time.Time
	}{
		{"evt_a1", "customer:cus_a", time.Time{}},
		{"evt_a2", "customer:cus_a", t0.Add(time.Hour)},
		{"evt_b", "customer:cus_b", time.Time{}},
		{"evt_gone", "customer:cus_c", t0.Add(-time.Minute)},
		{"evt_retry", "retry", time.Time{}},
		{"evt_pending", "", time.Time{}},
	} {
		mustPair(s.RecordEvent(ctx, playback.InboxEvent{Source: source, ID: p.id, Type: "invoice.paid",
			ReceivedAt: t0.Add(-time.Hour), Payload: []byte(`{}`)}))(t)
		if p.key == "" {
			continue
		}
		if err := s.ParkEvent(ctx, source, p.id, p.key, t0.Add(-time.Minute), p.expires); err != nil {
			t.Fatalf("ParkEvent(%s): %v", p.id, err)
		}
	}
	count := func(prefix string, limit int) int {
		t.Helper()
		return must(s.CountParkedEvents(ctx, source, prefix, limit))(t)
	}
	for _, tc := range []struct {
		name   string
		prefix string
		limit  int
		want   int
	}{
		{name: "a prefix across keys", prefix: "customer:", limit: 100, want: 3},
		{name: "one key", prefix: "customer:cus_b", limit: 100, want: 1},
		{name: "another key", prefix: "retry", limit: 100, want: 1},
		{name: "every key", prefix: "", limit: 100, want: 4},
		{name: "capped by the limit", prefix: "customer:", limit: 2, want: 2},
		{name: "no such key", prefix: "customer:cus_z", limit: 100, want: 0},
		{name: "no limit", prefix: "customer:", limit: 0, want: 0},
	} {
		if got := count(tc.prefix, tc.limit); got != tc.want {
			t.Errorf("%s: CountParkedEvents(%q, %d) = %d, want %d", tc.name, tc.prefix, tc.limit, got, tc.want)
		}
	}
	if got := must(s.CountParkedEvents(ctx, playback.NewID("src"), "", 100))(t); got != 0 {
		t.Errorf("another source counts %d", got)
	}
	if err := s.MarkEventProcessed(ctx, source, "evt_a1", t0, t0.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if err := s.ParkEvent(ctx, source, "evt_b", "retry", t0, time.Time{}); err != nil {
		t.Fatal(err)
	}
	if got, again := count("customer:", 100), count("retry", 100); got != 1 || again != 2 {
		t.Errorf("after processing one and moving one to retry: customer %d, retry %d; want 1 and 2", got, again)
	}
}

// testInboxParkedKeys: ListParkedKeys lists each key with a prefix under
// which live events are parked once, in playback.CompareParkKeys order
// ("account:acct_ab" before "account:acct_a"), paged by the last key
// listed; keys whose events are all expired, processed or moved, and
// more than a page of expired events ahead of a live one, do not hide or
// add a key.
func testInboxParkedKeys(t *testing.T, s playback.Store) {
	ctx := context.Background()
	t0 := now()
	source := playback.NewID("src")
	type parked struct {
		id, key string
		expires time.Time
	}
	events := []parked{
		{"evt_a1", "account:acct_a", time.Time{}},
		{"evt_a2", "account:acct_a", t0.Add(time.Hour)},
		{"evt_ab", "account:acct_ab", time.Time{}},
		{"evt_gone", "account:acct_b", t0.Add(-time.Minute)},
		{"evt_done", "account:acct_d", time.Time{}},
		{"evt_moved", "account:acct_e", time.Time{}},
		{"evt_c", "account:acct_c", time.Time{}},
		{"evt_cus", "customer:cus_a", time.Time{}},
		{"evt_retry", "retry", time.Time{}},
	}
	for i := range 30 { // more than a page, parked first
		events = append(events, parked{fmt.Sprintf("evt_c_gone%02d", i), "account:acct_c", t0.Add(-time.Minute)})
	}
	for i, p := range events {
		mustPair(s.RecordEvent(ctx, playback.InboxEvent{Source: source, ID: p.id, Type: "invoice.paid",
			ReceivedAt: t0.Add(-time.Hour), Payload: []byte(`{}`)}))(t)
		at := t0.Add(-time.Minute + time.Duration(i)*time.Millisecond)
		if p.id == "evt_c" {
			at = t0 // behind the expired ones
		}
		if err := s.ParkEvent(ctx, source, p.id, p.key, at, p.expires); err != nil {
			t.Fatalf("ParkEvent(%s): %v", p.id, err)
		}
	}
	mustPair(s.RecordEvent(ctx, playback.InboxEvent{Source: source, ID: "evt_pending", Type: "invoice.paid",
		ReceivedAt: t0.Add(-time.Hour), Payload: []byte(`{}`)}))(t)
	if err := s.MarkEventProcessed(ctx, source, "evt_done", t0, t0.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if err := s.ParkEvent(ctx, source, "evt_moved", "retry", t0, time.Time{}); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name                  string
		source, prefix, after string
		limit                 int
		want                  []string
	}{
		{name: "a prefix", source: source, prefix: "account:", limit: 100,
			want: []string{"account:acct_ab", "account:acct_a", "account:acct_c"}},
		{name: "the first page", source: source, prefix: "account:", limit: 2,
			want: []string{"account:acct_ab", "account:acct_a"}},
		{name: "the next page", source: source, prefix: "account:", after: "account:acct_a", limit: 2,
			want: []string{"account:acct_c"}},
		{name: "after the last", source: source, prefix: "account:", after: "account:acct_c", limit: 2},
		// "a|" sorts after "account:...|".
		{name: "after a key the prefix's sort before", source: source, prefix: "account:", after: "a", limit: 100},
		{name: "after a key that waits no more", source: source, prefix: "account:", after: "account:acct_b", limit: 100,
			want: []string{"account:acct_c"}},
		{name: "after a key before the prefix's", source: source, prefix: "account:", after: "0", limit: 100,
			want: []string{"account:acct_ab", "account:acct_a", "account:acct_c"}},
		{name: "every key", source: source, limit: 100,
			want: []string{"account:acct_ab", "account:acct_a", "account:acct_c", "customer:cus_a", "retry"}},
		{name: "no such key", source: source, prefix: "account:acct_z", limit: 100},
		{name: "no limit", source: source, prefix: "account:", limit: 0},
		{name: "another source", source: playback.NewID("src"), limit: 100},
	} {
		got := must(s.ListParkedKeys(ctx, tc.source, tc.prefix, tc.after, tc.limit))(t)
		if !slices.Equal(got, tc.want) {
			t.Errorf("%s: ListParkedKeys(%q, after %q, %d) = %q, want %q", tc.name, tc.prefix, tc.after, tc.limit, got, tc.want)
		}
	}
}

// testInboxParkedKeysWalk: a walk of ListParkedKeys is kept per source
// and prefix, "" until moved; a move takes effect only from where the walk
// stands (the first page's "" too, before and after a walk was kept), so
// that of walkers that read the same position one moves it, and a stale
// one moves nothing back.
func testInboxParkedKeysWalk(t *testing.T, s playback.Store) {
	ctx := context.Background()
	source := playback.NewID("src")
	const prefix = "account:"
	walk := func(t *testing.T, source, prefix, want string) {
		t.Helper()
		if got := must(s.ParkedKeysWalk(ctx, source, prefix))(t); got != want {
			t.Fatalf("ParkedKeysWalk(%q) = %q, want %q", prefix, got, want)
		}
	}
	walk(t, source, prefix, "")
	for _, tc := range []struct {
		name, from, to string
		moved          bool
		want           string // where the walk stands after
	}{
		{name: "the first move", from: "", to: "account:acct_a", moved: true, want: "account:acct_a"},
		{name: "a move from a stale first page", from: "", to: "account:acct_b", want: "account:acct_a"},
		{name: "a move from a stale key", from: "account:acct_0", to: "account:acct_b", want: "account:acct_a"},
		{name: "the next page", from: "account:acct_a", to: "account:acct_c", moved: true, want: "account:acct_c"},
		{name: "past the last page", from: "account:acct_c", to: "", moved: true, want: ""},
		{name: "a stale move after it went round", from: "account:acct_c", to: "account:acct_d", want: ""},
		{name: "the first page again", from: "", to: "account:acct_a", moved: true, want: "account:acct_a"},
	} {
		moved := must(s.MoveParkedKeysWalk(ctx, source, prefix, tc.from, tc.to))(t)
		if moved != tc.moved {
			t.Errorf("%s: MoveParkedKeysWalk(%q → %q) = %v, want %v", tc.name, tc.from, tc.to, moved, tc.moved)
		}
		walk(t, source, prefix, tc.want)
	}
	// Walks of other prefixes and sources are others.
	walk(t, source, "customer:", "")
	walk(t, playback.NewID("src"), prefix, "")

	// Walkers that read the same position: one moves it.
	race := playback.NewID("src")
	const walkers = 8
	var wg sync.WaitGroup
	var mu sync.Mutex
	var won []string
	for i := range walkers {
		wg.Go(func() {
			to := fmt.Sprintf("account:acct_%d", i)
			moved, err := s.MoveParkedKeysWalk(ctx, race, prefix, "", to)
			if err != nil {
				t.Error(err)
				return
			}
			if moved {
				mu.Lock()
				won = append(won, to)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if len(won) != 1 {
		t.Fatalf("%d walkers moved the walk from the first page: %q; want one", len(won), won)
	}
	walk(t, race, prefix, won[0])

	// The source "" has no walk, and none is written for it.
	if moved, err := s.MoveParkedKeysWalk(ctx, "", prefix, "", "account:acct_a"); moved || !isInvalidID(err) {
		t.Errorf("MoveParkedKeysWalk(source \"\") = %v, %v; want false, id_invalid", moved, err)
	}
	walk(t, "", prefix, "")
}

func isInvalidID(err error) bool {
	e := playback.AsError(err)
	return e != nil && e.Code == playback.CodeInvalid && e.Reason == "id_invalid"
}

// testInboxParkedExpiredFirst: expired events at the head of a key do not
// hide the live ones after them, however many there are: a caller takes a
// short page for the end of the key (events.WakeStripeCustomer does).
func testInboxParkedExpiredFirst(t *testing.T, s playback.Store) {
	ctx := context.Background()
	t0 := now()
	source := playback.NewID("src")
	const key = "customer:cus_stale"
	ids := []string{"evt_x0", "evt_x1", "evt_x2", "evt_x3", "evt_x4", "evt_live0", "evt_live1"}
	for i, id := range ids {
		mustPair(s.RecordEvent(ctx, playback.InboxEvent{Source: source, ID: id, Type: "invoice.paid",
			ReceivedAt: t0.Add(-time.Hour), Payload: []byte(`{}`)}))(t)
		expires := t0.Add(-time.Minute)
		if strings.HasPrefix(id, "evt_live") {
			expires = t0.Add(time.Hour)
		}
		if err := s.ParkEvent(ctx, source, id, key, t0.Add(time.Duration(i-len(ids))*time.Second), expires); err != nil {
			t.Fatalf("ParkEvent(%s): %v", id, err)
		}
	}
	for _, tc := range []struct {
		name  string
		limit int
		want  []string
	}{
		{"limit below the expired count", 2, []string{"evt_live0", "evt_live1"}},
		{"limit 1", 1, []string{"evt_live0"}},
		{"limit above all", 10, []string{"evt_live0", "evt_live1"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var got []string
			for _, ev := range must(s.ListParkedEvents(ctx, source, key, playback.ParkCursor{}, tc.limit))(t) {
				got = append(got, ev.ID)
			}
			if !slices.Equal(got, tc.want) {
				t.Fatalf("first page of limit %d = %v, want %v", tc.limit, got, tc.want)
			}
		})
	}
}

func mustPair[A, B any](a A, b B, err error) func(t *testing.T) (A, B) {
	return func(t *testing.T) (A, B) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return a, b
	}
}

func testEdges(t *testing.T, s playback.Store) {
	ctx := context.Background()
	t0 := now()
	e := playback.Edge{ID: playback.NewID("edge"), CDN: "cloudfront", PoP: "fra", BaseURL: "https://fra.example",
		Lat: 50.1, Lon: 8.7, ASNs: []uint32{3320}, Capacity: 100, Healthy: true, ReportedAt: t0, ReceivedAt: t0.Add(-time.Minute)}
	if err := s.PutEdge(ctx, e); err != nil {
		t.Fatal(err)
	}
	got := must(s.UpdateEdge(ctx, e.ID, func(e *playback.Edge) error {
		e.Load = 42
		return nil
	}))(t)
	if got.Load != 42 || got.PoP != "fra" {
		t.Fatalf("UpdateEdge = %+v", got)
	}
	got = must(s.UpdateEdge(ctx, e.ID, func(e *playback.Edge) error {
		e.Load = 99
		return playback.ErrNoChange
	}))(t)
	if got.Load != 42 {
		t.Fatalf("ErrNoChange update returned %+v", got)
	}
	stored := must(s.GetEdge(ctx, e.ID))(t)
	// Both clocks are kept: the edge's orders its reports, the server's
	// judges its freshness.
	if stored.Load != 42 || len(stored.ASNs) != 1 || stored.ASNs[0] != 3320 || !stored.ReportedAt.Equal(t0) ||
		!stored.ReceivedAt.Equal(t0.Add(-time.Minute)) {
		t.Fatalf("GetEdge = %+v", stored)
	}
	found := false
	for _, x := range must(s.ListEdges(ctx))(t) {
		found = found || x.ID == e.ID
	}
	if !found {
		t.Fatalf("ListEdges lacks %s", e.ID)
	}
	_, err := s.UpdateEdge(ctx, "no-such-edge", func(*playback.Edge) error { return nil })
	wantCode(t, err, playback.CodeNotFound)

	// The operator's capacity and the edge's own are stored apart, so that
	// a report applied to the stored edge keeps the operator's limit.
	op := playback.Edge{ID: playback.NewID("edge"), CDN: "cloudfront", PoP: "fra", BaseURL: "https://fra.example",
		Capacity: 50, Healthy: true, ReportedAt: t0}
	if err := s.PutEdge(ctx, op); err != nil {
		t.Fatal(err)
	}
	report := playback.EdgeReport{EdgeID: op.ID, Load: 60, Capacity: 100, Healthy: true, ReportedAt: t0.Add(time.Second)}
	must(s.UpdateEdge(ctx, op.ID, func(e *playback.Edge) error {
		*e, _ = e.Apply(report, t0)
		return nil
	}))(t)
	for _, x := range must(s.ListEdges(ctx))(t) {
		if x.ID == op.ID && (x.Capacity != 50 || x.ReportedCapacity != 100 || x.Load != 60) {
			t.Fatalf("after a report of capacity 100 on an edge the operator limited to 50, the store holds %+v", x)
		}
	}
	if got := must(s.GetEdge(ctx, op.ID))(t); got.Capacity != 50 || got.ReportedCapacity != 100 || got.EffectiveCapacity() != 50 {
		t.Fatalf("after a report of capacity 100 on an edge the operator limited to 50, the store holds %+v", got)
	}
}

func testProgress(t *testing.T, s playback.Store) {
	ctx := context.Background()
	t0 := now()
	acct := playback.NewID("acct")
	p := playback.Progress{AccountID: acct, TitleID: "t1", SessionID: "s1", PositionMS: 60_000, DurationMS: 3_600_000, DeviceTime: t0, UpdatedAt: t0}
	for _, tc := range []struct {
		name        string
		deviceTime  time.Time
		position    int64
		wantApplied bool
		wantPos     int64
	}{
		{"first write", t0, 60_000, true, 60_000},
		{"newer moves forward", t0.Add(10 * time.Second), 70_000, true, 70_000},
		{"replay of the same heartbeat", t0.Add(10 * time.Second), 70_000, false, 70_000},
		{"late heartbeat never moves back", t0.Add(5 * time.Second), 65_000, false, 70_000},
		{"newer seek backwards is the user's choice", t0.Add(20 * time.Second), 10_000, true, 10_000},
	} {
		p.DeviceTime, p.PositionMS = tc.deviceTime, tc.position
		applied := must(s.SaveProgress(ctx, p))(t)
		got := must(s.GetProgress(ctx, acct, "t1"))(t)
		if applied != tc.wantApplied || got.PositionMS != tc.wantPos {
			t.Fatalf("%s: applied=%v position=%d, want %v %d", tc.name, applied, got.PositionMS, tc.wantApplied, tc.wantPos)
		}
	}
	_, err := s.GetProgress(ctx, acct, "t2")
	wantCode(t, err, playback.CodeNotFound)
}

// testCopies holds a store to the Store rules callers rely on: it keeps
// nothing of what it is passed, what it returns is the caller's own, and
// Put replaces the whole record.
func testCopies(t *testing.T, s playback.Store) {
	ctx := context.Background()
	t0 := now()
	const body = `{"id":"evt_copy"}`
	payload := []byte(body)
	ev := playback.InboxEvent{Source: playback.NewID("src"), ID: "evt_copy", Type: "invoice.paid", ReceivedAt: t0, Payload: payload}
	mustPair(s.RecordEvent(ctx, ev))(t)
	copy(payload, strings.Repeat("x", len(payload))) // the caller reuses its buffer
	got := must(s.GetEvent(ctx, ev.Source, ev.ID))(t)
	if string(got.Payload) != body {
		t.Fatalf("stored payload %q after the caller reused its buffer, want %q", got.Payload, body)
	}
	got.Payload[0] = 'y'
	if again := must(s.GetEvent(ctx, ev.Source, ev.ID))(t); string(again.Payload) != body {
		t.Fatalf("payload %q after the caller changed a returned event, want %q", again.Payload, body)
	}

	e := playback.Edge{ID: playback.NewID("edge"), CDN: "cloudfront", PoP: "fra", BaseURL: "https://fra.example",
		Lat: 50.1, Lon: 8.7, ASNs: []uint32{3320, 3209}, Capacity: 100, Healthy: true, ReportedAt: t0}
	if err := s.PutEdge(ctx, e); err != nil {
		t.Fatal(err)
	}
	e.ASNs[0] = 1
	stored := must(s.GetEdge(ctx, e.ID))(t)
	if !slices.Equal(stored.ASNs, []uint32{3320, 3209}) {
		t.Fatalf("stored ASNs %v after the caller changed its slice", stored.ASNs)
	}
	stored.ASNs[0] = 2
	if again := must(s.GetEdge(ctx, e.ID))(t); !slices.Equal(again.ASNs, []uint32{3320, 3209}) {
		t.Fatalf("stored ASNs %v after the caller changed a returned edge", again.ASNs)
	}
	replaced := playback.Edge{ID: e.ID, CDN: "cloudcdn", PoP: "ams", BaseURL: "https://ams.example", Lat: 52.4, Lon: 4.9,
		Capacity: 50, ReportedAt: t0.Add(time.Second)}
	if err := s.PutEdge(ctx, replaced); err != nil {
		t.Fatal(err)
	}
	if got := must(s.GetEdge(ctx, e.ID))(t); got.PoP != "ams" || len(got.ASNs) != 0 || got.Healthy || got.Capacity != 50 {
		t.Fatalf("PutEdge over an edge left %+v, want the new record whole", got)
	}
}

// testSessionQoE: SaveSessionQoE is gated on device time and written only
// on the state its caller read (playback.ProgressStore): a state built on
// another is refused whole with CodePrecondition and the stored state.
func testSessionQoE(t *testing.T, s playback.Store) {
	ctx := context.Background()
	t0 := now()
	var none time.Time
	q := playback.SessionQoE{SessionID: playback.NewID("ses"), AccountID: "a", TitleID: "t", EdgeID: "e1", DeviceTime: t0,
		Heartbeats: 1, QoE: playback.QoE{BitrateKbps: 3000, RebufferCount: 1, RebufferMS: 500, PlayedMS: 10_000}, UpdatedAt: t0}
	prev, applied := mustPair(s.SaveSessionQoE(ctx, q, none))(t)
	if !applied || prev.SessionID != "" {
		t.Fatalf("first SaveSessionQoE = %+v, %v", prev, applied)
	}
	next := q
	next.DeviceTime, next.Heartbeats, next.QoE.PlayedMS = t0.Add(10*time.Second), 2, 20_000
	// What the session says of itself: it goes on with the play that
	// began in another session (a re-authorization).
	next.QoE.Continued, next.QoE.View = true, "ses_0"
	// The CMCD playhead the consumer keeps beside the QoE.
	next.Playhead = playback.Playhead{Known: true, PositionMS: 42_000, DurationMS: 600_000, State: "p", Began: true, Lost: true,
		AdvancedMS: 9_000, MovedAt: t0.Add(8 * time.Second)}
	// Built on a state the store does not hold: none (a consumer that
	// read before the first write), an older one, a newer one.
	for _, on := range []time.Time{none, t0.Add(-time.Second), t0.Add(time.Second)} {
		prev, applied, err := s.SaveSessionQoE(ctx, next, on)
		wantCode(t, err, playback.CodePrecondition)
		if applied || !prev.DeviceTime.Equal(t0) || prev.Heartbeats != 1 {
			t.Fatalf("SaveSessionQoE on %v = %+v, %v: want the stored state to build on again", on, prev, applied)
		}
	}
	if got := must(s.GetSessionQoE(ctx, q.SessionID))(t); got.Heartbeats != 1 {
		t.Fatalf("a refused write left %+v", got)
	}
	prev, applied = mustPair(s.SaveSessionQoE(ctx, next, t0))(t)
	if !applied || prev.QoE.PlayedMS != 10_000 || prev.EdgeID != "e1" {
		t.Fatalf("second SaveSessionQoE prev = %+v, applied=%v", prev, applied)
	}
	// Overtaken: built on the state the stored one replaced, and older
	// than it. Refused as built on another state; the caller finds its
	// heartbeats late when it folds them onto prev.
	overtaken := q
	overtaken.DeviceTime = t0.Add(5 * time.Second)
	prev, applied, err := s.SaveSessionQoE(ctx, overtaken, t0)
	wantCode(t, err, playback.CodePrecondition)
	if applied || prev.Heartbeats != 2 {
		t.Fatalf("overtaken SaveSessionQoE = %+v, %v", prev, applied)
	}
	// Not newer than the state it was built on: the gate.
	for _, tc := range []struct {
		name string
		q    playback.SessionQoE
	}{{"replay", next}, {"older", q}} {
		prev, applied := mustPair(s.SaveSessionQoE(ctx, tc.q, next.DeviceTime))(t)
		if applied || prev.Heartbeats != 2 {
			t.Fatalf("%s: SaveSessionQoE = %+v, %v", tc.name, prev, applied)
		}
	}
	got := must(s.GetSessionQoE(ctx, q.SessionID))(t)
	if !got.Playhead.MovedAt.Equal(next.Playhead.MovedAt) {
		t.Fatalf("playhead moved at %v, want %v", got.Playhead.MovedAt, next.Playhead.MovedAt)
	}
	got.Playhead.MovedAt = next.Playhead.MovedAt
	if got.QoE.PlayedMS != 20_000 || got.Heartbeats != 2 || got.Playhead != next.Playhead || !got.QoE.Continued || got.QoE.View != "ses_0" {
		t.Fatalf("GetSessionQoE = %+v", got)
	}
}

// testSessionQoEConcurrent: writers that each read the state, add a
// heartbeat and write it on what they read, reading again when refused,
// lose no update, however their reads and writes interleave.
func testSessionQoEConcurrent(t *testing.T, s playback.Store) {
	ctx := context.Background()
	t0 := now()
	id := playback.NewID("ses")
	const writers = 6
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	for w := range writers {
		wg.Go(func() {
			for range 100 {
				base, err := s.GetSessionQoE(ctx, id)
				if err != nil && !playback.IsCode(err, playback.CodeNotFound) {
					errs <- err
					return
				}
				next := base
				next.SessionID, next.Heartbeats = id, base.Heartbeats+1
				next.DeviceTime = t0
				if !base.DeviceTime.IsZero() {
					// Distinct per writer, so two built on one read
					// differ.
					next.DeviceTime = base.DeviceTime.Add(time.Duration(w+1) * time.Millisecond)
				}
				next.UpdatedAt = next.DeviceTime
				_, applied, err := s.SaveSessionQoE(ctx, next, base.DeviceTime)
				switch {
				case playback.IsCode(err, playback.CodePrecondition) || err == nil && !applied:
					continue // overtaken: read again
				case err != nil:
					errs <- err
				}
				return
			}
			errs <- fmt.Errorf("writer %d never got its write in", w)
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if got := must(s.GetSessionQoE(ctx, id))(t); got.Heartbeats != writers {
		t.Fatalf("%d heartbeats after %d writers added one each: updates lost", got.Heartbeats, writers)
	}
}

// RunProgressBatch is the contract of the optional
// playback.ProgressBatchStore, for the adapters that offer it: the gates of
// SaveProgress and SaveSessionQoE, applied in order within the batch. It
// is its own entry point rather than a subtest of Run that skips stores
// without the interface, so that an adapter that stops implementing it
// fails to compile its test instead of skipping silently. The caller
// closes s.
func RunProgressBatch(t *testing.T, s playback.ProgressBatchStore) {
	t.Run("ProgressBatch", func(t *testing.T) {
		t.Parallel()
		testProgressBatch(t, s)
	})
}

func testProgressBatch(t *testing.T, s playback.ProgressBatchStore) {
	ctx := context.Background()
	t0 := now()
	acct := playback.NewID("acct")
	stored, fresh := playback.NewID("ses"), playback.NewID("ses")
	progress := func(session, title string, pos int64, at time.Time) playback.Progress {
		return playback.Progress{AccountID: acct, TitleID: title, SessionID: session, PositionMS: pos, DurationMS: 3_600_000,
			DeviceTime: at, UpdatedAt: at}
	}
	qoe := func(session string, played int64, at time.Time) *playback.SessionQoE {
		return &playback.SessionQoE{SessionID: session, AccountID: acct, TitleID: "t1", DeviceTime: at, Heartbeats: 1,
			QoE: playback.QoE{PlayedMS: played}, UpdatedAt: at}
	}
	must(s.SaveProgress(ctx, progress(stored, "t1", 60_000, t0)))(t)
	mustPair(s.SaveSessionQoE(ctx, *qoe(stored, 10_000, t0), time.Time{}))(t)
	must(s.SaveProgress(ctx, progress(stored, "t3", 30_000, t0)))(t)

	got := must(s.SaveProgressBatch(ctx, []playback.ProgressWrite{
		{Progress: progress(stored, "t1", 70_000, t0.Add(10*time.Second)), QoE: qoe(stored, 20_000, t0.Add(10*time.Second)), QoEOn: t0},
		{Progress: progress(fresh, "t2", 5_000, t0), QoE: qoe(fresh, 5_000, t0)},
		// A second device of the account on t1, older than the first
		// write of this batch: the gate sees the batch's own write.
		{Progress: progress(fresh, "t1", 90_000, t0.Add(5*time.Second))},
		// Built on the batch's own first write, and older than it: the
		// gate sees the batch's own write.
		{Progress: progress(stored, "t3", 10_000, t0.Add(-time.Second)), QoE: qoe(stored, 30_000, t0.Add(5*time.Second)),
			QoEOn: t0.Add(10 * time.Second)},
	}))(t)
	want := []playback.ProgressWriteResult{
		{ProgressApplied: true, QoEApplied: true},
		{ProgressApplied: true, QoEApplied: true},
		{ProgressApplied: false},
		{ProgressApplied: false, QoEApplied: false},
	}
	if len(got) != len(want) {
		t.Fatalf("SaveProgressBatch returned %d results for %d writes", len(got), len(want))
	}
	for i := range want {
		if got[i].ProgressApplied != want[i].ProgressApplied || got[i].QoEApplied != want[i].QoEApplied {
			t.Errorf("write %d: applied progress=%v qoe=%v, want %v %v", i, got[i].ProgressApplied, got[i].QoEApplied,
				want[i].ProgressApplied, want[i].QoEApplied)
		}
	}
	if got[0].PrevQoE.QoE.PlayedMS != 10_000 || got[1].PrevQoE.SessionID != "" || got[3].PrevQoE.QoE.PlayedMS != 20_000 {
		t.Errorf("previous states %+v, %+v, %+v", got[0].PrevQoE, got[1].PrevQoE, got[3].PrevQoE)
	}
	for title, wantPos := range map[string]int64{"t1": 70_000, "t2": 5_000, "t3": 30_000} {
		if p := must(s.GetProgress(ctx, acct, title))(t); p.PositionMS != wantPos {
			t.Errorf("progress on %s at %d, want %d", title, p.PositionMS, wantPos)
		}
	}
	states := must(s.GetSessionQoEs(ctx, []string{stored, fresh, playback.NewID("ses")}))(t)
	if len(states) != 2 || states[stored].QoE.PlayedMS != 20_000 || states[fresh].QoE.PlayedMS != 5_000 {
		t.Errorf("GetSessionQoEs = %+v", states)
	}
	if empty := must(s.GetSessionQoEs(ctx, nil))(t); len(empty) != 0 {
		t.Errorf("GetSessionQoEs(nil) = %+v", empty)
	}

	// A state built on one the store no longer holds fails the batch
	// whole, newer than the stored state or not: nothing of it is
	// written, positions included (one may be derived from that state).
	for _, at := range []time.Duration{20 * time.Second, 5 * time.Second} {
		_, err := s.SaveProgressBatch(ctx, []playback.ProgressWrite{
			{Progress: progress(fresh, "t2", 6_000, t0.Add(time.Second)), QoE: qoe(fresh, 6_000, t0.Add(time.Second)), QoEOn: t0},
			{Progress: progress(stored, "t1", 80_000, t0.Add(at)), QoE: qoe(stored, 40_000, t0.Add(at)), QoEOn: t0},
		})
		wantCode(t, err, playback.CodePrecondition)
	}
	for title, wantPos := range map[string]int64{"t1": 70_000, "t2": 5_000} {
		if p := must(s.GetProgress(ctx, acct, title))(t); p.PositionMS != wantPos {
			t.Errorf("after a refused batch, progress on %s at %d, want %d", title, p.PositionMS, wantPos)
		}
	}
	states = must(s.GetSessionQoEs(ctx, []string{stored, fresh}))(t)
	if states[stored].QoE.PlayedMS != 20_000 || states[fresh].QoE.PlayedMS != 5_000 {
		t.Errorf("after a refused batch, states %+v", states)
	}
}

// testUnknownEdges: notes count, concurrent ones too; the list is newest
// report first and bounded, forgetting the edge heard from least recently.
// (The only subtest that notes unknown edges: the list is the store's.)
func testUnknownEdges(t *testing.T, s playback.Store) {
	ctx := context.Background()
	if got := must(s.ListUnknownEdges(ctx))(t); len(got) != 0 {
		t.Fatalf("unknown edges of a new store: %+v", got)
	}
	t0 := now().Add(-time.Hour)
	const writers, notes = 4, 3
	var wg sync.WaitGroup
	errs := make(chan error, writers*notes)
	for w := range writers {
		wg.Go(func() {
			for n := range notes {
				id := []string{"ghost-a", "ghost-b"}[(w+n)%2]
				errs <- s.NoteUnknownEdge(ctx, id, t0.Add(time.Duration(w*notes+n)*time.Second), 2)
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	got := must(s.ListUnknownEdges(ctx))(t)
	if len(got) != 2 || got[0].Reports+got[1].Reports != writers*notes*2 {
		t.Fatalf("after %d concurrent notes of 2 reports: %+v", writers*notes, got)
	}
	if !got[0].LastReportAt.After(got[1].LastReportAt) || got[0].FirstReportAt.After(got[0].LastReportAt) {
		t.Fatalf("not newest first: %+v", got)
	}
	// Past the bound the least recently heard from goes first.
	for i := range playback.MaxUnknownEdges {
		if err := s.NoteUnknownEdge(ctx, fmt.Sprintf("flood-%03d", i), t0.Add(time.Hour+time.Duration(i)*time.Second), 1); err != nil {
			t.Fatal(err)
		}
	}
	got = must(s.ListUnknownEdges(ctx))(t)
	if len(got) != playback.MaxUnknownEdges || got[0].ID != fmt.Sprintf("flood-%03d", playback.MaxUnknownEdges-1) ||
		got[len(got)-1].ID != "flood-000" || !got[0].LastReportAt.Equal(t0.Add(time.Hour+time.Duration(playback.MaxUnknownEdges-1)*time.Second)) {
		t.Fatalf("%d unknown edges, first %+v, last %+v", len(got), got[0], got[len(got)-1])
	}
}
