package dynamo

import (
	"context"
	"errors"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/playplane/playplane/shared/emulators"
	"github.com/playplane/playplane/shared/playback"
	"github.com/playplane/playplane/shared/storetest"
	"github.com/playplane/playplane/shared/storetest/importtest"
)

// localEndpoint starts (or joins) DynamoDB Local for the test.
func localEndpoint(t testing.TB) string {
	t.Helper()
	return emulators.DynamoDB(t)
}

func client(endpoint string, maxAttempts int) *dynamodb.Client {
	return dynamodb.New(dynamodb.Options{
		Region:           "us-east-1",
		BaseEndpoint:     aws.String(endpoint),
		Credentials:      credentials.NewStaticCredentialsProvider("local", "local", ""),
		RetryMaxAttempts: maxAttempts,
	})
}

// newStore creates a store on a fresh table of DynamoDB Local.
func newStore(t testing.TB) *Store {
	t.Helper()
	ctx := context.Background()
	endpoint := localEndpoint(t)
	table := playback.NewID("playplane")
	s, err := New(ctx, Config{Table: table}, client(endpoint, 0))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.CreateTable(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_, _ = s.db().DeleteTable(context.Background(), &dynamodb.DeleteTableInput{TableName: aws.String(table)})
	})
	return s
}

func TestContract(t *testing.T) {
	var start time.Time
	storetest.Run(t, func(t *testing.T) playback.Store {
		s := newStore(t)
		start = time.Now() // the server's start is not the suite's time
		return s
	})
	t.Cleanup(func() { t.Logf("contract suite against DynamoDB Local: %v", time.Since(start)) })
}

func TestCreateTableIsIdempotentAndEnablesTTL(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	ctx := context.Background()
	if err := s.CreateTable(ctx); err != nil {
		t.Fatalf("second CreateTable: %v", err)
	}
	out, err := s.db().DescribeTimeToLive(ctx, &dynamodb.DescribeTimeToLiveInput{TableName: aws.String(s.table)})
	if err != nil {
		t.Fatal(err)
	}
	if d := out.TimeToLiveDescription; d == nil || d.TimeToLiveStatus != types.TimeToLiveStatusEnabled || aws.ToString(d.AttributeName) != attrTTL {
		t.Fatalf("TTL = %+v, want enabled on %q", out.TimeToLiveDescription, attrTTL)
	}
}

func TestNewValidates(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		cfg  Config
	}{
		{"no table", Config{}},
		{"negative retention", Config{Table: "t", Retention: -time.Second}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if _, err := New(context.Background(), tc.cfg, client("http://127.0.0.1:1", 1)); err == nil {
				t.Fatalf("New(%+v) succeeded", tc.cfg)
			}
		})
	}
}

// TestDeferredClientIsMadeOnFirstUse: NewDeferred makes no client until
// a call needs one, then one for every call after, however many race.
func TestDeferredClientIsMadeOnFirstUse(t *testing.T) {
	t.Parallel()
	var made atomic.Int64
	s, err := NewDeferred(context.Background(), Config{Table: "t"}, func() *dynamodb.Client {
		made.Add(1)
		return client("http://127.0.0.1:1", 1)
	})
	if err != nil {
		t.Fatal(err)
	}
	if n := made.Load(); n != 0 {
		t.Fatalf("NewDeferred made %d clients, want none before the first call", n)
	}
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() { _, _ = s.GetAccount(context.Background(), "a") })
	}
	wg.Wait()
	if n := made.Load(); n != 1 {
		t.Fatalf("8 calls made %d clients, want 1", n)
	}
	if _, err := NewDeferred(context.Background(), Config{Table: "t"}, nil); err == nil {
		t.Fatal("NewDeferred without a constructor succeeded")
	}
	if _, err := NewDeferred(context.Background(), Config{}, func() *dynamodb.Client { panic("made") }); err == nil {
		t.Fatal("NewDeferred without a table succeeded")
	}
}

// TestUnreachableIsUnavailable checks that a network failure reaches callers
// as a retryable error, not as a missing record or a 500 they would not retry.
func TestUnreachableIsUnavailable(t *testing.T) {
	t.Parallel()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close() // nothing listens there now
	s, err := New(context.Background(), Config{Table: "t"}, client("http://"+addr, 1))
	if err != nil {
		t.Fatal(err)
	}
	_, err = s.GetAccount(context.Background(), "a")
	if !playback.IsCode(err, playback.CodeUnavailable) {
		t.Fatalf("GetAccount against a closed port = %v (code %q), want unavailable", err, playback.ErrorCode(err))
	}
}

// TestMissingTableIsInternal: a misconfigured table name is not something a
// retry cures, and must not read as "not found".
func TestMissingTableIsInternal(t *testing.T) {
	t.Parallel()
	s, err := New(context.Background(), Config{Table: playback.NewID("absent")}, client(localEndpoint(t), 1))
	if err != nil {
		t.Fatal(err)
	}
	_, err = s.GetPlan(context.Background(), "p")
	var rnf *types.ResourceNotFoundException
	if playback.ErrorCode(err) != playback.CodeInternal || !errors.As(err, &rnf) {
		t.Fatalf("GetPlan on a missing table = %v (code %q), want internal wrapping ResourceNotFound", err, playback.ErrorCode(err))
	}
}

// TestLeaseRaceAfterPlanDowngrade: sessions admitted under a higher limit
// may hold slots at or above the new one; a race under the lower limit must
// still admit only as many as fit.
func TestLeaseRaceAfterPlanDowngrade(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	ctx := context.Background()
	acct := playback.NewID("acct")
	t0 := time.Now().UTC().Truncate(time.Millisecond)
	req := func(limit int) playback.LeaseRequest {
		return playback.LeaseRequest{SessionID: playback.NewID("ses"), AccountID: acct, DeviceID: playback.NewID("dev"), TitleID: "t",
			Limit: limit, TTL: time.Minute, Now: t0}
	}
	// Fill slots 0..2 under limit 3, then end the sessions in slots 0 and 1
	// so that the survivor sits in slot 2, above the new limit of 2.
	for range 3 {
		if _, err := s.AcquireLease(ctx, req(3)); err != nil {
			t.Fatal(err)
		}
	}
	slots, _, err := s.readSlots(ctx, acct)
	if err != nil || len(slots) != 3 {
		t.Fatalf("slots = %+v, %v", slots, err)
	}
	var survivor string
	for _, sl := range slots {
		if sl.index == 2 {
			survivor = sl.session.ID
			continue
		}
		if _, err := s.EndSession(ctx, sl.session.ID, playback.EndStopped, t0); err != nil {
			t.Fatal(err)
		}
	}
	const attempts = 30
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		admitted int
	)
	for range attempts {
		wg.Go(func() {
			_, err := s.AcquireLease(ctx, req(2))
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				admitted++
			case !playback.IsCode(err, playback.CodeConflict):
				t.Errorf("AcquireLease: %v", err)
			}
		})
	}
	wg.Wait()
	active, err := s.ListActiveSessions(ctx, acct, t0)
	if err != nil {
		t.Fatal(err)
	}
	if admitted != 1 || len(active) != 2 || (active[0].ID != survivor && active[1].ID != survivor) {
		t.Fatalf("admitted %d, active %+v; want one admission next to %s", admitted, active, survivor)
	}
}

// TestExpiredRecordsAreAbsentOnRead: TTL deletion lags, so a session past
// its retention reads as gone from the table even while the item remains.
func TestExpiredRecordsAreAbsentOnRead(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	ctx := context.Background()
	t0 := time.Now().UTC().Truncate(time.Millisecond)
	sess, err := s.AcquireLease(ctx, playback.LeaseRequest{SessionID: playback.NewID("ses"), AccountID: playback.NewID("acct"),
		Limit: 1, TTL: time.Minute, Now: t0})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.GetSession(ctx, sess.ID); err != nil {
		t.Fatal(err)
	}
	// Move the store's clock past expiry plus retention.
	s.now = func() time.Time { return t0.Add(time.Minute + s.retention + time.Hour) }
	_, err = s.GetSession(ctx, sess.ID)
	if !playback.IsCode(err, playback.CodeNotFound) {
		t.Fatalf("GetSession past retention = %v, want not found", err)
	}
}

// TestSlotLostToAnotherSession: when a lease expires and another session
// takes its slot, the old session can no longer be extended, and ending it
// leaves the new holder's slot alone.
func TestSlotLostToAnotherSession(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	ctx := context.Background()
	acct := playback.NewID("acct")
	t0 := time.Now().UTC().Truncate(time.Millisecond)
	lease := func(at time.Time) playback.LeaseRequest {
		return playback.LeaseRequest{SessionID: playback.NewID("ses"), AccountID: acct, Limit: 1, TTL: time.Minute, Now: at}
	}
	old, err := s.AcquireLease(ctx, lease(t0))
	if err != nil {
		t.Fatal(err)
	}
	later := t0.Add(2 * time.Minute)
	fresh, err := s.AcquireLease(ctx, lease(later))
	if err != nil {
		t.Fatal(err)
	}
	// A clock that lags (another function's) still sees old as active, but
	// its slot belongs to fresh now.
	_, err = s.ExtendLease(ctx, old.ID, t0.Add(3*time.Minute), t0.Add(30*time.Second))
	if !playback.IsCode(err, playback.CodeGone) {
		t.Fatalf("ExtendLease of a lost lease = %v, want gone", err)
	}
	if _, err := s.EndSession(ctx, old.ID, playback.EndStopped, t0.Add(30*time.Second)); err != nil {
		t.Fatal(err)
	}
	active, err := s.ListActiveSessions(ctx, acct, later)
	if err != nil || len(active) != 1 || active[0].ID != fresh.ID {
		t.Fatalf("active after ending the old session = %+v, %v; want only %s", active, err, fresh.ID)
	}
}

// TestLeaseCounterContract counts on a table of its own: the count spans
// every account.
func TestLeaseCounterContract(t *testing.T) {
	t.Parallel()
	storetest.RunLeaseCounter(t, newStore(t))
}

// useClient makes the store use client from now on (tests that wrap the
// client's middleware).
func (s *Store) useClient(client *dynamodb.Client) {
	s.newDB = func() *dynamodb.Client { return client }
}

// TestDeferredNilClientNamesTheConstructor: a constructor that returns no
// client (which New would have refused) is reported, on the first call,
// as NewDeferred's misuse rather than as a nil dereference inside the SDK.
func TestDeferredNilClientNamesTheConstructor(t *testing.T) {
	t.Parallel()
	s, err := NewDeferred(context.Background(), Config{Table: "t"}, func() *dynamodb.Client { return nil })
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if msg, _ := recover().(string); !strings.Contains(msg, "dynamo.NewDeferred") {
			t.Errorf("panic %q, want one naming dynamo.NewDeferred", msg)
		}
	}()
	_, _ = s.GetAccount(context.Background(), "a")
	t.Error("a call on a nil client did not panic")
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
