package paymentwebhook

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/playplane/playplane/shared/bolt"
	"github.com/playplane/playplane/shared/catalogfile"
	"github.com/playplane/playplane/shared/httpx"
	"github.com/playplane/playplane/shared/playback"
)

// killedAfterCreate is a store on which the process dies right after an
// account is written, before anything after it.
// laggingCount is a store whose count of parked events has not seen the
// parks yet, as a DynamoDB index read a moment after them.
type laggingCount struct{ catalogfile.Store }

func (laggingCount) CountParkedEvents(context.Context, string, string, int) (int, error) {
	return 0, nil
}

type killedAfterCreate struct{ catalogfile.Store }

func (s killedAfterCreate) ApplyChanges(ctx context.Context, cs playback.ChangeSet) (playback.AuditRecord, error) {
	ar, err := s.Store.ApplyChanges(ctx, cs)
	for _, c := range cs.Changes {
		if err == nil && c.Kind == playback.KindAccount {
			return ar, errKilled
		}
	}
	return ar, err
}

// TestAccountCreationWakesParkedEvents: a subscriber's
// customer.subscription.created (testdata/stripe subscription shape) names
// its account by metadata.account_id before the account exists, and no
// link names its customer: it waits for the account, while the sweeper
// runs every few minutes for an hour. Then the account is created: by
// the checkout session that provisions it (the bus up), by playplane
// import (no bus), or by an import killed right after the write. Before,
// the event waited under "retry", whose backoff had grown past half an
// hour by then: the subscriber who paid was entitled up to an hour late.
// Now the creation hands it over: announced at once with the bus, applied
// at the sweeper's next run past SweepAge without one; on bolt, DynamoDB
// Local and the Firestore emulator.
func TestAccountCreationWakesParkedEvents(t *testing.T) {
	t.Parallel()
	const file = `{
  "plans": [{"id": "basic", "name": "Basic", "max_streams": 1, "max_devices": 2, "max_quality": "HD"}],
  "accounts": [{"id": "acct_aw", "plan_id": "basic", "territory": "DE", "status": "none"}]
}
`
	sub := subState{id: "sub_aw", customer: "cus_Aw01", status: "active", price: "price_std",
		start: at(0), end: at(month), created: at(0)}
	importFile := func(t *testing.T, h *harness, s catalogfile.Store) error {
		f, err := catalogfile.Parse("catalogue.json", []byte(file))
		if err != nil {
			t.Fatal(err)
		}
		_, err = catalogfile.Apply(t.Context(), s, diff(t, h.store.(catalogfile.Store), f), "cli:test", h.clock.Now)
		return err
	}
	for _, tc := range []struct {
		name string
		// create creates acct_aw.
		create func(t *testing.T, h *harness)
		// swept: the event is applied by the sweeper past SweepAge, not
		// at once.
		swept bool
	}{
		{name: "a checkout provisions it", create: func(t *testing.T, h *harness) {
			h.run(eventPayload(t, "evt_co_aw", typeCheckoutCompleted, at(2*time.Hour), newSubscriberCheckout(t, "cs_aw", "acct_aw", sub, "FR"), nil))
		}},
		{name: "import creates it", swept: true, create: func(t *testing.T, h *harness) {
			if err := importFile(t, h, h.store.(catalogfile.Store)); err != nil {
				t.Fatal(err)
			}
		}},
		// DynamoDB's count of parked events reads an index that may lag
		// a park: the import must not skip a created account's events
		// because a count said there were none.
		{name: "import while a count of parked events lags", swept: true, create: func(t *testing.T, h *harness) {
			if err := importFile(t, h, laggingCount{h.store.(catalogfile.Store)}); err != nil {
				t.Fatal(err)
			}
		}},
		{name: "import killed after the creation", swept: true, create: func(t *testing.T, h *harness) {
			if err := importFile(t, h, killedAfterCreate{h.store.(catalogfile.Store)}); !errors.Is(err, errKilled) {
				t.Fatalf("the import was not killed at its write: %v", err)
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			parkStores(t, func(t *testing.T, opts ...harnessOption) {
				h := newHarness(t, append(opts, noLinkWait)...)
				h.run(eventPayload(t, "evt_sub_aw", typeSubscriptionCreated, at(time.Minute),
					withMeta(sub.obj(t), obj{"account_id": "acct_aw"}), nil))
				if ev, err := h.inboxEvent("evt_sub_aw"); err != nil || !ev.ProcessedAt.IsZero() || ev.ParkedKey == "" {
					t.Fatalf("evt_sub_aw should wait for acct_aw: %+v %v", ev, err)
				}
				for range 15 { // an hour of the sweeper's runs
					h.clock.Set(h.clock.Now().Add(4 * time.Minute))
					if _, err := h.srv.Sweep(t.Context()); err != nil {
						t.Fatal(err)
					}
					h.settle()
				}
				tc.create(t, h)
				if _, err := h.store.GetAccount(t.Context(), "acct_aw"); err != nil {
					t.Fatalf("acct_aw after its creation: %v", err)
				}
				when := "at its creation"
				if tc.swept {
					when = "a sweep past SweepAge after its creation"
					h.clock.Set(h.clock.Now().Add(h.srv.cfg.SweepAge))
					if _, err := h.srv.Sweep(t.Context()); err != nil {
						t.Fatal(err)
					}
					h.settle()
				}
				h.wantProcessed("evt_sub_aw", when)
				wantState(t, h.getAccount("acct_aw"), playback.StatusActive, "standard")
			})
		})
	}
}

// createsAtPark is a store on which the account is created while the
// event that waits for it is first parked: its creation's wake listed the
// parked events before the park, and passed.
type createsAtPark struct {
	harnessStore
	account string
	once    *sync.Once
}

func (s createsAtPark) ParkEvent(ctx context.Context, source, id, key string, at, expiresAt time.Time) error {
	var err error
	if key != parkAnnounced {
		s.once.Do(func() {
			err = s.harnessStore.PutAccount(ctx, playback.Account{ID: s.account, Status: playback.StatusNone, Territory: "DE"})
		})
	}
	if err != nil {
		return err
	}
	return s.harnessStore.ParkEvent(ctx, source, id, key, at, expiresAt)
}

// TestAccountCreatedAtParkIsNotMissed: an event parked for its account
// while the account is created (the creation's wake passed before the
// park) reads the account again after the park and is retried at once,
// not left under a key no wake comes for any more (before: under
// "retry", for the sweeper's backoff).
func TestAccountCreatedAtParkIsNotMissed(t *testing.T) {
	t.Parallel()
	db, err := bolt.Open(filepath.Join(t.TempDir(), "db"), bolt.WithoutSync())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	h := newHarness(t, noLinkWait, withStore(createsAtPark{harnessStore: db, account: "acct_cp", once: &sync.Once{}}))
	sub := subState{id: "sub_cp", customer: "cus_Cp01", status: "active", price: "price_std",
		start: at(0), end: at(month), created: at(0)}
	h.run(eventPayload(t, "evt_sub_cp", typeSubscriptionCreated, at(time.Minute),
		withMeta(sub.obj(t), obj{"account_id": "acct_cp"}), nil))
	h.wantProcessed("evt_sub_cp", "its account created at its park")
	wantState(t, h.getAccount("acct_cp"), playback.StatusActive, "standard")
}

// unreadableAccounts is a store on which reading some accounts fails, as
// a store does on an account it cannot decode or a dependency down for
// one partition.
type unreadableAccounts struct {
	harnessStore
	ids []string
}

func (s unreadableAccounts) GetAccount(ctx context.Context, id string) (playback.Account, error) {
	if slices.Contains(s.ids, id) {
		return playback.Account{}, playback.Unavailable(errors.New("unreadable"), "reading account %s", id)
	}
	return s.harnessStore.GetAccount(ctx, id)
}

// TestSweepWakesAnAccountCreatedWithoutAWake: events name accounts not
// created yet (metadata.account_id of customer.subscription.created,
// testdata/stripe subscription shape) and wait under their keys; then
// one account is written by a writer that wakes nothing (the store's
// PutAccount, as the demo seed and the simulator wrote accounts), the
// others never are. Before, the sweeper retried no account's key: the
// event, acknowledged to Stripe, was never applied. Now the sweeper
// reads the keys events wait under for an account, a quarter of its
// batch a run from where the run before stopped, and wakes those of an
// account that exists: applied within the runs that reach its key however
// many wait ahead of it, whether each run is on a new instance (a cold
// start: the walk is the store's, not the instance's) and whether an
// account ahead of it cannot be read (skipped and reported, not waited
// on); on bolt, DynamoDB Local and the Firestore emulator.
func TestSweepWakesAnAccountCreatedWithoutAWake(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		// ahead are the accounts never created whose keys sort before
		// the created one's; a run reads one key (SweepBatch 4).
		ahead []string
		// cold: each run is on a new instance (New).
		cold bool
		// unreadable are the accounts of ahead whose reads fail: the
		// runs that read their keys fail.
		unreadable []string
	}{
		{name: "alone"},
		{name: "behind accounts never created", ahead: []string{"acct_nc0", "acct_nc1", "acct_nc2"}},
		{name: "behind accounts never created, each run on a new instance", ahead: []string{"acct_nc0", "acct_nc1", "acct_nc2"}, cold: true},
		{name: "behind an account whose read fails", ahead: []string{"acct_nc0", "acct_nc1"}, unreadable: []string{"acct_nc0"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			parkStores(t, func(t *testing.T, opts ...harnessOption) {
				h := newHarness(t, append(opts, noLinkWait, func(c *Config, _ *Deps) { c.SweepBatch = 4 })...)
				for i, account := range append(slices.Clone(tc.ahead), "acct_nw") {
					sub := subState{id: "sub_" + account, customer: fmt.Sprintf("cus_Nw%02d", i), status: "active", price: "price_std",
						start: at(0), end: at(month), created: at(0)}
					h.run(eventPayload(t, "evt_"+account, typeSubscriptionCreated, at(time.Minute),
						withMeta(sub.obj(t), obj{"account_id": account}), nil))
					if ev, err := h.inboxEvent("evt_" + account); err != nil || ev.ParkedKey != parkAccount(account) {
						t.Fatalf("evt_%s should wait for its account: %+v %v", account, ev, err)
					}
				}
				h.account("acct_nw") // wakes nothing
				srv := h.srv
				if tc.unreadable != nil {
					deps := h.srv.deps
					deps.Store = unreadableAccounts{h.store, tc.unreadable}
					srv = mustNew(t, h.srv.cfg, deps)
				}
				runs, failed := len(tc.ahead)+1, 0
				for range runs {
					h.clock.Set(h.clock.Now().Add(h.srv.cfg.SweepAge))
					if tc.cold {
						srv = mustNew(t, h.srv.cfg, h.srv.deps)
					}
					if _, err := srv.Sweep(t.Context()); err != nil {
						if !playback.IsCode(err, playback.CodeUnavailable) || tc.unreadable == nil {
							t.Fatal(err)
						}
						failed++
					}
					h.settle()
				}
				h.wantProcessed("evt_acct_nw", fmt.Sprintf("after %d sweeps past its account's creation", runs))
				if failed != len(tc.unreadable) {
					t.Errorf("%d of %d sweeps failed; want %d, one for each unreadable account's key", failed, runs, len(tc.unreadable))
				}
				wantState(t, h.getAccount("acct_nw"), playback.StatusActive, "standard")
				for _, account := range tc.ahead {
					if ev, err := h.inboxEvent("evt_" + account); err != nil || ev.ParkedKey != parkAccount(account) {
						t.Errorf("evt_%s, its account never created: %+v %v; want it waiting for its account", account, ev, err)
					}
				}
			})
		})
	}
}

// mustNew is New(cfg, deps), an instance of its own.
func mustNew(t *testing.T, cfg Config, deps Deps) *Server {
	t.Helper()
	srv, err := New(cfg, deps)
	if err != nil {
		t.Fatal(err)
	}
	return srv
}

// sweptAtCreate is a store on which an account's creation races a Stripe
// event and the sweeper: parked runs after the creation has handed over
// the events parked for the account and before its write, swept right
// after the write, before the creation's wake.
type sweptAtCreate struct {
	catalogfile.Store
	parked, swept func()
}

func (s sweptAtCreate) ApplyChanges(ctx context.Context, cs playback.ChangeSet) (playback.AuditRecord, error) {
	s.parked()
	ar, err := s.Store.ApplyChanges(ctx, cs)
	if err == nil {
		s.swept()
	}
	return ar, err
}

// TestSweepBlamesNoWriterThatWakes: the sweeper's WARN that it woke
// events parked for an account that exists names the account for its
// writer to be found, as one that woke nothing. An event parked while the
// account is created, after the creation handed over the events parked
// before (playplane import; a subscription naming the account in
// metadata.account_id), waits for the creation's own wake a moment
// later; a sweep in that moment woke it first and blamed the writer.
// Now the sweeper wakes an account's events only once the oldest has
// waited SweepAge (the wakes of a creation and of a consumer's own
// re-read take moments, not a minute): no WARN, and the event is applied
// as before; on bolt, DynamoDB Local and the Firestore emulator.
func TestSweepBlamesNoWriterThatWakes(t *testing.T) {
	t.Parallel()
	const file = `{
  "plans": [{"id": "basic", "name": "Basic", "max_streams": 1, "max_devices": 2, "max_quality": "HD"}],
  "accounts": [{"id": "acct_sw", "plan_id": "basic", "territory": "DE", "status": "none"}]
}
`
	const blame = "stripe events parked for an account that exists woken by the sweeper"
	parkStores(t, func(t *testing.T, opts ...harnessOption) {
		h := newHarness(t, append(opts, noLinkWait)...)
		sub := subState{id: "sub_sw", customer: "cus_Sw01", status: "active", price: "price_std",
			start: at(0), end: at(month), created: at(0)}
		var log capturedLog
		store := sweptAtCreate{Store: h.store.(catalogfile.Store),
			parked: func() {
				h.run(eventPayload(t, "evt_sub_sw", typeSubscriptionCreated, at(time.Minute),
					withMeta(sub.obj(t), obj{"account_id": "acct_sw"}), nil))
				if ev, err := h.inboxEvent("evt_sub_sw"); err != nil || ev.ParkedKey != parkAccount("acct_sw") {
					t.Fatalf("evt_sub_sw should wait for acct_sw: %+v %v", ev, err)
				}
			},
			swept: func() {
				ctx := httpx.WithLogger(t.Context(), slog.New(slog.NewJSONHandler(&log, &slog.HandlerOptions{Level: slog.LevelDebug})))
				if _, err := h.srv.Sweep(ctx); err != nil {
					t.Fatal(err)
				}
			}}
		f, err := catalogfile.Parse("catalogue.json", []byte(file))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := catalogfile.Apply(t.Context(), store, diff(t, h.store.(catalogfile.Store), f), "cli:test", h.clock.Now); err != nil {
			t.Fatal(err)
		}
		h.settle()
		for _, r := range log.records(t) {
			if r.Msg == blame {
				t.Errorf("a sweep between acct_sw's write and its wake said %s %q: its writer (the import) woke them", r.Level, r.Msg)
			}
		}
		// The import leaves the events it woke to the sweeper.
		h.clock.Set(h.clock.Now().Add(h.srv.cfg.SweepAge))
		if _, err := h.srv.Sweep(t.Context()); err != nil {
			t.Fatal(err)
		}
		h.settle()
		h.wantProcessed("evt_sub_sw", "a sweep past SweepAge after acct_sw's import")
		wantState(t, h.getAccount("acct_sw"), playback.StatusActive, "standard")
	})
}

// failingSweep is a store on which the sweeper's re-park of event id
// fails (so does its reannounce), and so does listing the events parked
// under listFails, as a store does on an item it cannot write or a
// partition down.
type failingSweep struct {
	harnessStore
	id, listFails string
}

func (s failingSweep) ParkEvent(ctx context.Context, source, id, key string, at, expiresAt time.Time) error {
	if id == s.id {
		return playback.Unavailable(errors.New("unwritable"), "parking %s", id)
	}
	return s.harnessStore.ParkEvent(ctx, source, id, key, at, expiresAt)
}

func (s failingSweep) ListParkedEvents(ctx context.Context, source, key string, after playback.ParkCursor, limit int) ([]playback.InboxEvent, error) {
	if key != "" && key == s.listFails {
		return nil, playback.Unavailable(errors.New("down"), "listing %s", key)
	}
	return s.harnessStore.ListParkedEvents(ctx, source, key, after, limit)
}

// TestSweepGoesOnPastAFailure: a sweep whose reannounce of one event
// fails (a stranded event, recorded and never announced, or one parked
// for retry), or whose list of the events parked for retry fails, still
// wakes the events of an account created without a wake
// (wakeCreatedAccounts), and reports the failure. Before, the sweep
// returned at the first failure, so one event that kept failing stopped
// the account backstop on every run; on bolt, DynamoDB Local and the
// Firestore emulator.
func TestSweepGoesOnPastAFailure(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		// parked: evt_stuck is parked for retry, not stranded.
		parked    bool
		id        string
		listFails string
	}{
		{name: "a stranded event's reannounce fails", id: "evt_stuck"},
		{name: "a parked event's reannounce fails", id: "evt_stuck", parked: true},
		{name: "listing the events parked for retry fails", listFails: parkRetry, parked: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			parkStores(t, func(t *testing.T, opts ...harnessOption) {
				h := newHarness(t, append(opts, noLinkWait)...)
				sub := subState{id: "sub_gp", customer: "cus_Gp01", status: "active", price: "price_std",
					start: at(0), end: at(month), created: at(0)}
				h.run(eventPayload(t, "evt_sub_gp", typeSubscriptionCreated, at(time.Minute),
					withMeta(sub.obj(t), obj{"account_id": "acct_gp"}), nil))
				if ev, err := h.inboxEvent("evt_sub_gp"); err != nil || ev.ParkedKey != parkAccount("acct_gp") {
					t.Fatalf("evt_sub_gp should wait for acct_gp: %+v %v", ev, err)
				}
				h.account("acct_gp") // wakes nothing
				stuck := stripeEvent("evt_stuck", typeSubscriptionCreated, at(2*time.Hour),
					subObj("sub_stuck", "cus_stuck", "active", "price_std", at(0), at(month)))
				if _, created, err := h.store.RecordEvent(t.Context(), playback.InboxEvent{Source: Source, ID: "evt_stuck",
					Type: typeSubscriptionCreated, Created: time.Unix(at(2*time.Hour), 0), Payload: stuck,
					ReceivedAt: h.clock.Now()}); err != nil || !created {
					t.Fatalf("recording evt_stuck: %v %v", created, err)
				}
				if tc.parked {
					if err := h.store.ParkEvent(t.Context(), Source, "evt_stuck", parkRetry, h.clock.Now(), time.Time{}); err != nil {
						t.Fatal(err)
					}
				}
				h.clock.Set(h.clock.Now().Add(time.Hour)) // past SweepAge and any backoff
				deps := h.srv.deps
				deps.Store = failingSweep{h.store, tc.id, tc.listFails}
				if _, err := mustNew(t, h.srv.cfg, deps).Sweep(t.Context()); !playback.IsCode(err, playback.CodeUnavailable) {
					t.Errorf("sweep = %v, want the failure reported", err)
				}
				h.settle()
				h.wantProcessed("evt_sub_gp", "a sweep past acct_gp's creation")
			})
		})
	}
}

// TestWakeCreatedAccountsAtLimitZero: a page of no keys reads and wakes
// nothing and leaves the walk where it was. Before, an empty page was
// taken for a full one and its last key read: a panic.
func TestWakeCreatedAccountsAtLimitZero(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		parked bool
	}{
		{name: "no event waits for an account"},
		{name: "an event waits for a created account", parked: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t, noLinkWait)
			if tc.parked {
				sub := subState{id: "sub_lz", customer: "cus_Lz01", status: "active", price: "price_std",
					start: at(0), end: at(month), created: at(0)}
				h.run(eventPayload(t, "evt_sub_lz", typeSubscriptionCreated, at(time.Minute),
					withMeta(sub.obj(t), obj{"account_id": "acct_lz"}), nil))
				h.account("acct_lz") // wakes nothing
				h.clock.Set(h.clock.Now().Add(h.srv.cfg.SweepAge))
			}
			n, err := h.srv.wakeCreatedAccounts(t.Context(), h.clock.Now(), 0)
			if n != 0 || err != nil {
				t.Errorf("wakeCreatedAccounts(limit 0) = %d, %v; want 0, nil", n, err)
			}
			if after, err := h.store.ParkedKeysWalk(t.Context(), Source, parkAccount("")); after != "" || err != nil {
				t.Errorf("the walk after a page of no keys: %q, %v; want it unmoved", after, err)
			}
		})
	}
}

// walkMoves counts the writes of the account walk's position.
type walkMoves struct {
	harnessStore
	moves *atomic.Int32
}

func (s walkMoves) MoveParkedKeysWalk(ctx context.Context, source, prefix, from, to string) (bool, error) {
	s.moves.Add(1)
	return s.harnessStore.MoveParkedKeysWalk(ctx, source, prefix, from, to)
}

// TestWakeCreatedAccountsWritesOnlyAMove: a run whose walk stays where it
// was (a page shorter than the limit read from the start: the walk starts
// there again) writes nothing; one that reaches the end of a walk begun
// further on writes its return to the start. Before, every run wrote the
// walk, "" to "" on a store where no event waits for an account: a write
// a minute on every deployment for nothing.
func TestWakeCreatedAccountsWritesOnlyAMove(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name      string
		accounts  []string // each with one event waiting for it
		limit     int
		runs      int
		wantMoves int32
		wantAfter string
	}{
		{name: "no event waits for an account", limit: 4, runs: 3},
		{name: "a short page from the start", accounts: []string{"acct_wa", "acct_wb"}, limit: 4, runs: 3},
		{name: "a full page, then the rest", accounts: []string{"acct_wa", "acct_wb", "acct_wc"}, limit: 2, runs: 2, wantMoves: 2},
		{name: "a full page", accounts: []string{"acct_wa", "acct_wb", "acct_wc"}, limit: 2, runs: 1, wantMoves: 1,
			wantAfter: parkAccount("acct_wb")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t, noLinkWait)
			for i, account := range tc.accounts {
				sub := subState{id: "sub_w" + account, customer: "cus_W" + account, status: "active", price: "price_std",
					start: at(0), end: at(month), created: at(0)}
				h.run(eventPayload(t, "evt_w"+account, typeSubscriptionCreated, at(time.Duration(i+1)*time.Minute),
					withMeta(sub.obj(t), obj{"account_id": account}), nil))
			}
			moves := &atomic.Int32{}
			deps := h.srv.deps
			deps.Store = walkMoves{h.store, moves}
			srv := mustNew(t, h.srv.cfg, deps)
			for range tc.runs {
				if _, err := srv.wakeCreatedAccounts(t.Context(), h.clock.Now(), tc.limit); err != nil {
					t.Fatal(err)
				}
			}
			if got := moves.Load(); got != tc.wantMoves {
				t.Errorf("%d runs wrote the walk %d times, want %d", tc.runs, got, tc.wantMoves)
			}
			if after, err := h.store.ParkedKeysWalk(t.Context(), Source, parkAccount("")); after != tc.wantAfter || err != nil {
				t.Errorf("the walk after %d runs: %q, %v; want %q", tc.runs, after, err, tc.wantAfter)
			}
		})
	}
}
