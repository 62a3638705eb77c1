package model_test

import (
	"cmp"
	"context"
	"slices"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/playplane/playplane/cmd/scalemodel/model"
	"github.com/playplane/playplane/shared/demo"
	"github.com/playplane/playplane/shared/dynamo"
	"github.com/playplane/playplane/shared/emulators"
	"github.com/playplane/playplane/shared/playback"
	"github.com/playplane/playplane/shared/roundtrip"
)

// TestDynamoRoundTripsOnDynamoDBLocal runs one session's store methods on
// shared/dynamo over DynamoDB Local and counts the requests on the wire:
// each method must make the round trips the unit table prices its
// duration with, and the lease methods must write in a transaction (what
// doubles their WRU).
func TestDynamoRoundTripsOnDynamoDBLocal(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	endpoint := emulators.DynamoDB(t)
	db := dynamodb.New(dynamodb.Options{Region: "us-east-1", BaseEndpoint: aws.String(endpoint),
		Credentials: credentials.NewStaticCredentialsProvider("local", "local", ""),
		HTTPClient:  roundtrip.HTTPClient(roundtrip.LayerWire, nil)})
	table := playback.NewID("scalemodel")
	s, err := dynamo.New(ctx, dynamo.Config{Table: table}, db)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.CreateTable(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_, _ = db.DeleteTable(context.Background(), &dynamodb.DeleteTableInput{TableName: aws.String(table)})
	})
	now := time.Now()
	if err := demo.Seed(ctx, s, "https://cdn.example", now); err != nil {
		t.Fatal(err)
	}
	units := model.StoreUnits(model.Sizes())
	steps, steady := steadySteps(s, now)
	for i, st := range steps {
		if !steady[i] || laterSame(steps, steady, i) {
			if err := st.call(ctx); err != nil {
				t.Fatalf("%s: %v", st.method, err)
			}
			continue
		}
		op := &roundtrip.Op{}
		if err := st.call(roundtrip.WithOp(ctx, op)); err != nil {
			t.Fatalf("%s: %v", st.method, err)
		}
		calls := op.Calls(roundtrip.LayerWire)
		names := make([]string, len(calls))
		for i, c := range calls {
			names[i] = c.Name
		}
		if got, want := float64(len(calls)), units[st.unitKey()].DynamoTrips; got != want {
			t.Errorf("%s made %d requests (%v), the model prices %g", st.method, len(calls), names, want)
		}
		if tx := slices.Contains(names, "TransactWriteItems"); tx != st.transaction {
			t.Errorf("%s: transaction %v (%v), want %v", st.method, tx, names, st.transaction)
		}
		t.Logf("%-20s %v", st.unitKey(), names)
	}
}

type step struct {
	method string
	// key is the unit table's entry when it is not method's own (a
	// RenewLease that writes).
	key  string
	call func(context.Context) error
	// transaction: on DynamoDB the method's write is a TransactWriteItems.
	transaction bool
}

// steadySteps are two sessions of one household, one after the other, the
// second flagged: its documents and items exist already (slots, device
// lock, progress), as they do for a returning viewer, and its QoE is
// saved twice (the first save of a session creates the record).
func steadySteps(s playback.Store, now time.Time) (steps []step, steady []bool) {
	for round := range 2 {
		at := now.Add(time.Duration(round) * 10 * time.Minute)
		for _, st := range sessionSteps(s, at) {
			steps = append(steps, st)
			steady = append(steady, round == 1)
		}
	}
	return steps, steady
}

// sessionSteps are one session's store methods, in a session's order,
// on a store seeded with the demo data.
func sessionSteps(s playback.Store, now time.Time) []step {
	acct, sess := demo.AccountFamily, playback.NewID("ses")
	var read *playback.AdmissionRead // ReadAdmission's, for AcquireLease
	return []step{
		{"GetAccount", "", func(ctx context.Context) error { _, err := s.GetAccount(ctx, acct); return err }, false},
		{"GetPlan", "", func(ctx context.Context) error { _, err := s.GetPlan(ctx, "standard"); return err }, false},
		{"GetTitle", "", func(ctx context.Context) error { _, err := s.GetTitle(ctx, "sintel"); return err }, false},
		{"ReadAdmission", "", func(ctx context.Context) error {
			r, err := s.ReadAdmission(ctx, acct, now)
			read = &r
			return err
		}, false},
		{"AcquireLease", "", func(ctx context.Context) error {
			_, err := s.AcquireLease(ctx, playback.LeaseRequest{SessionID: sess, AccountID: acct, DeviceID: "living-room-tv",
				TitleID: "sintel", Limit: 2, TTL: 2 * time.Minute, Now: now, On: read})
			return err
		}, true},
		{"GetSession", "", func(ctx context.Context) error { _, err := s.GetSession(ctx, sess); return err }, false},
		// The start beat, right after play: the lease is fresh, a read.
		{"RenewLease", "", func(ctx context.Context) error {
			_, err := s.RenewLease(ctx, sess, 2*time.Minute, 20*time.Second, now)
			return err
		}, false},
		// A beat 30 s on, past the 20 s slack: a write (on Firestore the
		// session's first writing renewal on an instance reads first).
		{"RenewLease", model.RenewLeaseWritten, func(ctx context.Context) error {
			_, err := s.RenewLease(ctx, sess, 2*time.Minute, 20*time.Second, now.Add(30*time.Second))
			return err
		}, true},
		// And the next, on the instance that wrote the lease: the write
		// alone, which the model prices.
		{"RenewLease", model.RenewLeaseWritten, func(ctx context.Context) error {
			_, err := s.RenewLease(ctx, sess, 2*time.Minute, 20*time.Second, now.Add(55*time.Second))
			return err
		}, true},
		{"ExtendLease", "", func(ctx context.Context) error {
			_, err := s.ExtendLease(ctx, sess, now.Add(60*time.Second+2*time.Minute), now.Add(60*time.Second))
			return err
		}, true},
		{"SaveProgress", "", func(ctx context.Context) error {
			_, err := s.SaveProgress(ctx, playback.Progress{AccountID: acct, TitleID: "sintel", SessionID: sess, PositionMS: 30_000,
				DurationMS: 888_000, DeviceTime: now.Add(30 * time.Second), UpdatedAt: now.Add(30 * time.Second)})
			return err
		}, false},
		{"GetSessionQoE", "", func(ctx context.Context) error {
			_, err := s.GetSessionQoE(ctx, sess)
			if playback.IsCode(err, playback.CodeNotFound) {
				return nil
			}
			return err
		}, false},
		{"SaveSessionQoE", "", func(ctx context.Context) error {
			_, _, err := s.SaveSessionQoE(ctx, playback.SessionQoE{SessionID: sess, AccountID: acct, TitleID: "sintel",
				DeviceTime: now.Add(30 * time.Second), Heartbeats: 1, UpdatedAt: now.Add(30 * time.Second)}, time.Time{})
			return err
		}, false},
		{"SaveSessionQoE", "", func(ctx context.Context) error {
			_, _, err := s.SaveSessionQoE(ctx, playback.SessionQoE{SessionID: sess, AccountID: acct, TitleID: "sintel",
				DeviceTime: now.Add(60 * time.Second), Heartbeats: 2, UpdatedAt: now.Add(60 * time.Second)}, now.Add(30*time.Second))
			return err
		}, false},
		{"GetProgress", "", func(ctx context.Context) error { _, err := s.GetProgress(ctx, acct, "sintel"); return err }, false},
		{"UpdateAccount", "", func(ctx context.Context) error {
			_, err := s.UpdateAccount(ctx, acct, func(a *playback.Account) error {
				a.Devices = append(a.Devices, playback.Device{ID: "phone-2", RegisteredAt: now})
				return nil
			})
			return err
		}, false},
		{"EndSession", "", func(ctx context.Context) error {
			_, err := s.EndSession(ctx, sess, playback.EndStopped, now.Add(time.Minute))
			return err
		}, true},
	}
}

func (s step) unitKey() string { return cmp.Or(s.key, s.method) }

// laterSame reports whether a later steady step has the same unit entry: an
// entry is checked at its last call of the steady session (a session's
// first QoE save creates the record, the later ones are the common case).
func laterSame(steps []step, steady []bool, i int) bool {
	for j := i + 1; j < len(steps); j++ {
		if steady[j] && steps[j].unitKey() == steps[i].unitKey() {
			return true
		}
	}
	return false
}
