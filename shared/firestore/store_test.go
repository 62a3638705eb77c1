package firestore

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"cloud.google.com/go/firestore"
	"google.golang.org/api/option"

	"github.com/playplane/playplane/shared/emulators"
	"github.com/playplane/playplane/shared/emulators/gcpemu"
	"github.com/playplane/playplane/shared/playback"
	"github.com/playplane/playplane/shared/storetest"
	"github.com/playplane/playplane/shared/storetest/importtest"
)

const testProject = "playplane-test"

// newStore returns a store on the shared Firestore emulator, isolated from
// other tests by its own collection prefix.
func newStore(t testing.TB) *Store {
	t.Helper()
	hostPort := emulators.Firestore(t)
	s, err := New(context.Background(), Config{ProjectID: testProject, CollectionPrefix: playback.NewID("t") + "_"},
		nil, gcpemu.FirestoreClientOptions(hostPort)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func TestContract(t *testing.T) {
	start := time.Now()
	storetest.Run(t, func(t *testing.T) playback.Store { return newStore(t) })
	t.Cleanup(func() { t.Logf("contract suite against the Firestore emulator: %v", time.Since(start)) })
}

// TestEveryMethodOpensTheStore: New makes no client; every method that
// reaches Firestore makes it first, and a client that cannot be made fails
// the call with its cause (never a nil dereference) and is tried again on
// the next call.
func TestEveryMethodOpensTheStore(t *testing.T) {
	t.Parallel()
	errNoClient := errors.New("no client here")
	var tries int
	s, err := New(context.Background(), Config{ProjectID: testProject}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if s.client != nil {
		t.Fatal("New made the client")
	}
	s.newClient = func(context.Context) (*firestore.Client, error) { tries++; return nil, errNoClient }
	ctxType := reflect.TypeFor[context.Context]()
	v := reflect.ValueOf(s)
	var called int
	for i := range v.NumMethod() {
		m := v.Type().Method(i)
		if m.Type.NumIn() < 2 || m.Type.In(1) != ctxType {
			continue
		}
		t.Run(m.Name, func(t *testing.T) {
			args := []reflect.Value{reflect.ValueOf(context.Background())}
			for j := 2; j < m.Type.NumIn(); j++ {
				args = append(args, reflect.Zero(m.Type.In(j)))
			}
			before := tries
			out := v.Method(i).Call(args)
			err, _ := out[len(out)-1].Interface().(error)
			if !errors.Is(err, errNoClient) || tries != before+1 {
				t.Fatalf("%s returned %v after %d tries to make the client, want the client's error after one", m.Name, err, tries-before)
			}
		})
		called++
	}
	if called < 35 {
		t.Fatalf("called %d methods; the store has more", called)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("Close of a store that made no client: %v", err)
	}
}

func TestNewValidates(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		cfg     Config
		wantErr bool
	}{
		{name: "defaults", cfg: Config{ProjectID: "p"}},
		{name: "negative retention", cfg: Config{ProjectID: "p", Retention: -time.Second}, wantErr: true},
		{name: "guard retention too short", cfg: Config{ProjectID: "p", GuardRetention: time.Second}, wantErr: true},
		{name: "prefix with slash", cfg: Config{ProjectID: "p", CollectionPrefix: "a/b"}, wantErr: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s, err := New(context.Background(), tc.cfg, nil, gcpemu.FirestoreClientOptions("127.0.0.1:1")...)
			if (err != nil) != tc.wantErr {
				t.Fatalf("New: err = %v, want error %v", err, tc.wantErr)
			}
			if err == nil {
				if s.cfg.Retention != 48*time.Hour || s.cfg.GuardRetention != time.Hour || s.cfg.DatabaseID != "(default)" {
					t.Fatalf("defaults not applied: %+v", s.cfg)
				}
				_ = s.Close()
			}
		})
	}
}

func TestUnreachableIsUnavailable(t *testing.T) {
	t.Parallel()
	s, err := New(context.Background(), Config{ProjectID: testProject}, nil, gcpemu.FirestoreClientOptions("127.0.0.1:1")...)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	_, err = s.GetAccount(ctx, "a1")
	if !playback.IsCode(err, playback.CodeUnavailable) {
		t.Fatalf("GetAccount against a closed port: %v (code %q), want unavailable", err, playback.ErrorCode(err))
	}
}

func TestInvalidIDs(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	ctx := context.Background()
	for _, tc := range []struct {
		name string
		call func() error
		want playback.Code
	}{
		{"put account with slash", func() error { return s.PutAccount(ctx, playback.Account{ID: "a/b"}) }, playback.CodeInvalid},
		{"put plan with dots", func() error { return s.PutPlan(ctx, playback.Plan{ID: ".."}) }, playback.CodeInvalid},
		{"reserved id", func() error { return s.PutEdge(ctx, playback.Edge{ID: "__x__"}) }, playback.CodeInvalid},
		{"lease for bad account", func() error {
			_, err := s.AcquireLease(ctx, playback.LeaseRequest{SessionID: "s", AccountID: "a/b", Limit: 1, TTL: time.Minute, Now: time.Now()})
			return err
		}, playback.CodeInvalid},
		{"get session with slash", func() error { _, err := s.GetSession(ctx, "x/y"); return err }, playback.CodeNotFound},
		{"empty account id", func() error { _, err := s.GetAccount(ctx, ""); return err }, playback.CodeNotFound},
		{"mark event with slash", func() error { return s.MarkEventProcessed(ctx, "src", "a/b", time.Now(), time.Time{}) }, playback.CodeNotFound},
		{"park event with slash", func() error { return s.ParkEvent(ctx, "src", "a/b", "retry", time.Now(), time.Time{}) }, playback.CodeNotFound},
		{"list parked with slash", func() error {
			evs, err := s.ListParkedEvents(ctx, "a/b", "retry", playback.ParkCursor{}, 10)
			if err == nil && len(evs) != 0 {
				t.Errorf("listed %d events of an invalid source", len(evs))
			}
			return err
		}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := playback.ErrorCode(tc.call()); got != tc.want {
				t.Fatalf("code %q, want %q", got, tc.want)
			}
		})
	}
}

func acquire(acct string, limit int, at time.Time, ttl time.Duration) playback.LeaseRequest {
	return playback.LeaseRequest{SessionID: playback.NewID("ses"), AccountID: acct, DeviceID: playback.NewID("dev"), TitleID: "t",
		Limit: limit, TTL: ttl, Now: at}
}

// race fires n acquisitions at once and counts the outcomes.
func race(t *testing.T, s *Store, n int, req func() playback.LeaseRequest) (admitted []playback.Session) {
	t.Helper()
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		other []error
	)
	start := make(chan struct{})
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := req()
			<-start
			sess, err := s.AcquireLease(context.Background(), r)
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				admitted = append(admitted, sess)
			case !playback.IsCode(err, playback.CodeConflict):
				other = append(other, err)
			}
		}()
	}
	close(start)
	wg.Wait()
	if len(other) > 0 {
		t.Fatalf("%d acquisitions failed with non-conflict errors, first: %v", len(other), other[0])
	}
	return admitted
}

func must[T any](t *testing.T) func(T, error) T {
	return func(v T, err error) T {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
}

// TestReclaimRace races acquisitions for slots that are held by expired
// or ended leases: the slot documents exist, so only the guards (not
// Create on an absent slot) decide, and the emulator checks no update
// times.
func TestReclaimRace(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	ctx := context.Background()
	t0 := time.Now().UTC().Truncate(time.Millisecond)
	for _, tc := range []struct {
		name  string
		limit int
		setup func(t *testing.T, acct string)
	}{
		{"expired leases", 2, func(t *testing.T, acct string) {
			for range 2 {
				must[playback.Session](t)(s.AcquireLease(ctx, acquire(acct, 2, t0.Add(-10*time.Minute), time.Minute)))
			}
		}},
		{"ended leases", 2, func(t *testing.T, acct string) {
			for range 2 {
				sess := must[playback.Session](t)(s.AcquireLease(ctx, acquire(acct, 2, t0.Add(-time.Second), time.Minute)))
				must[playback.Session](t)(s.EndSession(ctx, sess.ID, playback.EndStopped, t0))
			}
		}},
		{"one expired one free", 2, func(t *testing.T, acct string) {
			must[playback.Session](t)(s.AcquireLease(ctx, acquire(acct, 1, t0.Add(-10*time.Minute), time.Minute)))
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			acct := playback.NewID("acct")
			tc.setup(t, acct)
			admitted := race(t, s, 40, func() playback.LeaseRequest { return acquire(acct, tc.limit, t0, time.Minute) })
			active := must[[]playback.Session](t)(s.ListActiveSessions(ctx, acct, t0))
			t.Logf("%d of 40 admitted, %d active", len(admitted), len(active))
			if len(admitted) != tc.limit || len(active) != tc.limit {
				t.Fatalf("admitted %d, active %d; want exactly %d", len(admitted), len(active), tc.limit)
			}
		})
	}
}

// TestLoweredLimit: sessions admitted under a higher limit keep their
// slots; new ones get in only below the new limit and only while the
// account holds fewer than it.
func TestLoweredLimit(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	ctx := context.Background()
	acct := playback.NewID("acct")
	t0 := time.Now().UTC().Truncate(time.Millisecond)
	var held []playback.Session
	for i := range 3 {
		held = append(held, must[playback.Session](t)(s.AcquireLease(ctx, acquire(acct, 3, t0.Add(time.Duration(i)*time.Millisecond), time.Hour))))
	}
	if got := race(t, s, 20, func() playback.LeaseRequest { return acquire(acct, 2, t0, time.Hour) }); len(got) != 0 {
		t.Fatalf("admitted %d over a lowered limit with 3 streams active", len(got))
	}
	// Free slots 0 and 1: only slot 2 (above the new limit) stays held.
	for _, sess := range held[:2] {
		must[playback.Session](t)(s.EndSession(ctx, sess.ID, playback.EndStopped, t0))
	}
	got := race(t, s, 20, func() playback.LeaseRequest { return acquire(acct, 2, t0, time.Hour) })
	active := must[[]playback.Session](t)(s.ListActiveSessions(ctx, acct, t0))
	if len(got) != 1 || len(active) != 2 {
		t.Fatalf("admitted %d, %d active; want 1 admitted beside the session above the limit", len(got), len(active))
	}
}

// TestExtendVersusReclaim: a heartbeat that still sees its lease active
// (an earlier clock) races an acquisition that sees it expired. Exactly
// one of them may win the slot.
func TestExtendVersusReclaim(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	ctx := context.Background()
	t0 := time.Now().UTC().Truncate(time.Millisecond)
	for round := range 10 {
		t.Run(fmt.Sprint(round), func(t *testing.T) {
			t.Parallel()
			acct := playback.NewID("acct")
			old := must[playback.Session](t)(s.AcquireLease(ctx, acquire(acct, 1, t0.Add(-time.Minute), time.Minute)))
			var wg sync.WaitGroup
			var extErr, acqErr error
			start := make(chan struct{})
			wg.Add(2)
			go func() {
				defer wg.Done()
				<-start
				_, extErr = s.ExtendLease(ctx, old.ID, t0.Add(time.Minute), t0.Add(-time.Millisecond))
			}()
			go func() {
				defer wg.Done()
				<-start
				_, acqErr = s.AcquireLease(ctx, acquire(acct, 1, t0, time.Minute))
			}()
			close(start)
			wg.Wait()
			switch {
			case extErr == nil && playback.IsCode(acqErr, playback.CodeConflict):
			case acqErr == nil && playback.IsCode(extErr, playback.CodeGone):
			default:
				t.Fatalf("extend: %v, acquire: %v; want exactly one winner", extErr, acqErr)
			}
			if active := must[[]playback.Session](t)(s.ListActiveSessions(ctx, acct, t0)); len(active) != 1 {
				t.Fatalf("%d active sessions, want 1", len(active))
			}
		})
	}
}

// TestConcurrentEnds: the first end wins and every caller sees it.
func TestConcurrentEnds(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	ctx := context.Background()
	t0 := time.Now().UTC().Truncate(time.Millisecond)
	for _, tc := range []struct {
		name string
		at   time.Time // acquisition time: an expired lease ends without its slot
	}{
		{"holding its slot", t0},
		{"expired, slot taken by another", t0.Add(-10 * time.Minute)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			acct := playback.NewID("acct")
			sess := must[playback.Session](t)(s.AcquireLease(ctx, acquire(acct, 1, tc.at, time.Minute)))
			if tc.at.Before(t0) {
				must[playback.Session](t)(s.AcquireLease(ctx, acquire(acct, 1, t0, time.Minute)))
			}
			const n = 8
			results := make([]playback.Session, n)
			errs := make([]error, n)
			var wg sync.WaitGroup
			for i := range n {
				wg.Add(1)
				go func() {
					defer wg.Done()
					results[i], errs[i] = s.EndSession(ctx, sess.ID, fmt.Sprintf("reason-%d", i), t0.Add(time.Duration(i)*time.Second))
				}()
			}
			wg.Wait()
			stored := must[playback.Session](t)(s.GetSession(ctx, sess.ID))
			for i := range n {
				if errs[i] != nil {
					t.Fatal(errs[i])
				}
				if results[i].EndReason != stored.EndReason || !results[i].EndedAt.Equal(stored.EndedAt) {
					t.Fatalf("caller %d saw end %q at %v, stored %q at %v", i, results[i].EndReason, results[i].EndedAt,
						stored.EndReason, stored.EndedAt)
				}
			}
		})
	}
}

// TestReacquireEndedKeepsSlotFree: acquiring an ended session again is
// refused, and the refused attempt leaves no slot behind (the emulator
// applies the slot claim before failing on the existing session).
func TestReacquireEndedKeepsSlotFree(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	ctx := context.Background()
	acct := playback.NewID("acct")
	t0 := time.Now().UTC().Truncate(time.Millisecond)
	req := acquire(acct, 1, t0, time.Minute)
	sess := must[playback.Session](t)(s.AcquireLease(ctx, req))
	must[playback.Session](t)(s.EndSession(ctx, sess.ID, playback.EndStopped, t0))
	if _, err := s.AcquireLease(ctx, req); !playback.IsCode(err, playback.CodeGone) {
		t.Fatalf("re-acquiring an ended session: %v, want gone", err)
	}
	if active := must[[]playback.Session](t)(s.ListActiveSessions(ctx, acct, t0)); len(active) != 0 {
		t.Fatalf("refused re-acquisition left %+v holding a slot", active)
	}
	must[playback.Session](t)(s.AcquireLease(ctx, acquire(acct, 1, t0, time.Minute)))
}

// TestExpiredRecordsReadAsAbsent: TTL deletes lag, so reads apply expiry
// themselves.
func TestExpiredRecordsReadAsAbsent(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	ctx := context.Background()
	if err := s.open(ctx); err != nil {
		t.Fatal(err)
	}
	// The same documents, read by a clock past their retention.
	later := &Store{cfg: s.cfg, leases: s.leases, client: s.client,
		now: func() time.Time { return time.Now().Add(s.cfg.Retention + time.Hour) }}
	later.opened.Store(true)
	t0 := time.Now().UTC().Truncate(time.Millisecond)

	sess := must[playback.Session](t)(s.AcquireLease(ctx, acquire(playback.NewID("acct"), 1, t0, time.Minute)))
	if _, err := later.GetSession(ctx, sess.ID); !playback.IsCode(err, playback.CodeNotFound) {
		t.Fatalf("session past its retention: %v, want not found", err)
	}

	source := playback.NewID("src")
	ev := playback.InboxEvent{Source: source, ID: "evt_1", Type: "x", ReceivedAt: t0, Payload: []byte(`{}`)}
	mustPair(t)(s.RecordEvent(ctx, ev))
	if err := s.MarkEventProcessed(ctx, source, ev.ID, t0, t0.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if _, err := later.GetEvent(ctx, source, ev.ID); !playback.IsCode(err, playback.CodeNotFound) {
		t.Fatalf("event past its expiry: %v, want not found", err)
	}
	if _, created := mustPair(t)(later.RecordEvent(ctx, ev)); !created {
		t.Fatal("recording an event whose record expired did not create it again")
	}
	got := must[playback.InboxEvent](t)(later.GetEvent(ctx, source, ev.ID))
	if !got.ProcessedAt.IsZero() {
		t.Fatalf("re-recorded event kept the expired record's state: %+v", got)
	}
	if pending := must[[]playback.InboxEvent](t)(later.ListPendingEvents(ctx, source, t0.Add(time.Second), 10)); len(pending) != 1 {
		t.Fatalf("re-recorded event is not pending: %+v", pending)
	}
}

func mustPair(t *testing.T) func(playback.InboxEvent, bool, error) (playback.InboxEvent, bool) {
	return func(ev playback.InboxEvent, created bool, err error) (playback.InboxEvent, bool) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return ev, created
	}
}

// TestPutAccountIsNotLostToConcurrentUpdates: a Put racing guarded
// updates either lands before them (they apply on top of it) or after
// (it replaces them); the account never mixes a stale read into a write.
func TestPutAccountIsNotLostToConcurrentUpdates(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	ctx := context.Background()
	id := playback.NewID("acct")
	if err := s.PutAccount(ctx, playback.Account{ID: id, Territory: "DE"}); err != nil {
		t.Fatal(err)
	}
	const writers = 8
	var wg sync.WaitGroup
	errs := make(chan error, writers+1)
	for i := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := s.UpdateAccount(ctx, id, func(a *playback.Account) error {
				a.Devices = append(a.Devices, playback.Device{ID: fmt.Sprint(i)})
				return nil
			})
			errs <- err
		}()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		errs <- s.PutAccount(ctx, playback.Account{ID: id, Territory: "FR"})
	}()
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	got := must[playback.Account](t)(s.GetAccount(ctx, id))
	if got.Territory != "FR" {
		t.Fatalf("the Put was lost: %+v", got)
	}
	// Updates before the Put are gone with it; updates after it are all there.
	seen := map[string]bool{}
	for _, d := range got.Devices {
		if seen[d.ID] {
			t.Fatalf("device %s applied twice: %+v", d.ID, got.Devices)
		}
		seen[d.ID] = true
	}
}

// TestDeviceTimeGateUnderConcurrency: heartbeats racing each other never
// leave an older device time stored over a newer one.
func TestDeviceTimeGateUnderConcurrency(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	ctx := context.Background()
	t0 := time.Now().UTC().Truncate(time.Millisecond)
	acct, ses := playback.NewID("acct"), playback.NewID("ses")
	const writers = 16
	var wg sync.WaitGroup
	errs := make(chan error, 2*writers)
	for i := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			at := t0.Add(time.Duration(i) * time.Second)
			_, err := s.SaveProgress(ctx, playback.Progress{AccountID: acct, TitleID: "t1", PositionMS: int64(i), DeviceTime: at, UpdatedAt: at})
			errs <- err
			// Written on the state read, read again when another write
			// landed in between.
			for range 100 {
				base, err := s.GetSessionQoE(ctx, ses)
				if err != nil && !playback.IsCode(err, playback.CodeNotFound) {
					errs <- err
					return
				}
				_, _, err = s.SaveSessionQoE(ctx, playback.SessionQoE{SessionID: ses, Heartbeats: i, DeviceTime: at, UpdatedAt: at}, base.DeviceTime)
				if !playback.IsCode(err, playback.CodePrecondition) {
					errs <- err
					return
				}
			}
			errs <- fmt.Errorf("writer %d: QoE write never settled", i)
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	last := t0.Add((writers - 1) * time.Second)
	if p := must[playback.Progress](t)(s.GetProgress(ctx, acct, "t1")); !p.DeviceTime.Equal(last) || p.PositionMS != writers-1 {
		t.Fatalf("progress = %+v, want the newest heartbeat's", p)
	}
	if q := must[playback.SessionQoE](t)(s.GetSessionQoE(ctx, ses)); !q.DeviceTime.Equal(last) || q.Heartbeats != writers-1 {
		t.Fatalf("qoe = %+v, want the newest heartbeat's", q)
	}
}

// TestLeaseCounterContract counts under a collection prefix of its own:
// the count spans every account.
func TestLeaseCounterContract(t *testing.T) {
	t.Parallel()
	storetest.RunLeaseCounter(t, newStore(t))
}

// Callers racing to be first make one client and all use it; a store closed
// before it opened makes none afterwards (it would never be closed).
func TestConcurrentFirstCallsMakeOneClient(t *testing.T) {
	t.Parallel()
	s, err := New(context.Background(), Config{ProjectID: testProject}, nil)
	if err != nil {
		t.Fatal(err)
	}
	var made atomic.Int32
	s.newClient = func(ctx context.Context) (*firestore.Client, error) {
		made.Add(1)
		// No RPC is made: gRPC dials on the first call, and none is made here.
		return firestore.NewClient(ctx, testProject, option.WithoutAuthentication(), option.WithEndpoint("127.0.0.1:1"))
	}
	const callers = 16
	clients := make([]*firestore.Client, callers)
	var wg sync.WaitGroup
	for i := range callers {
		wg.Go(func() {
			if err := s.open(context.Background()); err != nil {
				t.Errorf("open: %v", err)
				return
			}
			clients[i] = s.client
		})
	}
	wg.Wait()
	if n := made.Load(); n != 1 {
		t.Fatalf("%d callers made %d clients, want 1", callers, n)
	}
	for i, c := range clients {
		if c == nil || c != clients[0] {
			t.Fatalf("caller %d got client %p, caller 0 %p", i, c, clients[0])
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	unopened, err := New(context.Background(), Config{ProjectID: testProject}, nil)
	if err != nil {
		t.Fatal(err)
	}
	unopened.newClient = s.newClient
	if err := unopened.Close(); err != nil {
		t.Fatal(err)
	}
	// A client made after Close would dial a closed port until the deadline.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := unopened.GetPlan(ctx, "basic"); err == nil {
		t.Fatal("a closed store answered a call")
	}
	if n := made.Load(); n != 1 {
		t.Fatalf("a call after Close made a client (%d made in all)", n)
	}
}

// TestImportClaimRace: playplane import holds a customer as the admin API
// does (importtest.ClaimRace).
func TestImportClaimRace(t *testing.T) {
	importtest.ClaimRace(t, newStore(t))
}

// TestImportSwaps: an import moving customers around a cycle of its accounts writes the cycle in one change set, or refuses one larger than a set (importtest.Swaps).
func TestImportSwaps(t *testing.T) {
	importtest.Swaps(t, newStore(t))
}

// TestImportSwapRace: an operator linking a customer an import swaps, before, as or after the swap is written (importtest.SwapRace).
func TestImportSwapRace(t *testing.T) {
	importtest.SwapRace(t, newStore(t))
}

// TestImportSwapFails: the claims of a swap whose write fails are given back or keep holding the customers (importtest.SwapFails).
func TestImportSwapFails(t *testing.T) {
	importtest.SwapFails(t, newStore(t))
}
