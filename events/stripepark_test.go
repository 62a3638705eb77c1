package events_test

import (
	"context"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/playplane/playplane/events"
	"github.com/playplane/playplane/shared/bolt"
	"github.com/playplane/playplane/shared/playback"
)

// clock is a settable clock, the store's.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// listedThenLate moves the store's clock by late after each listing of
// parked events: what a listing returns may be gone by the time it is
// acted on (the wait of a parked event ends, its TTL passes).
type listedThenLate struct {
	*bolt.Store
	clock *clock
	late  time.Duration
}

func (s listedThenLate) ListParkedEvents(ctx context.Context, source, key string, after playback.ParkCursor, limit int) ([]playback.InboxEvent, error) {
	page, err := s.Store.ListParkedEvents(ctx, source, key, after, limit)
	s.clock.Add(s.late)
	return page, err
}

// published records what is announced.
type published struct {
	mu   sync.Mutex
	msgs []playback.Message
}

func (p *published) Publish(_ context.Context, _ string, msgs ...playback.Message) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.msgs = append(p.msgs, msgs...)
	return nil
}

// TestHandOverPassesAnEventGoneMeanwhile: an event parked for a customer
// whose wait ends (ParkEvent's expiresAt) between the hand-over's listing
// and its move is gone (CodeNotFound): there is nothing left to hand
// over. The hand-over stopped there, so the write it wraps (the link of a
// checkout or an operator) failed with not_found, and the events parked
// after it stayed under the customer's key.
func TestHandOverPassesAnEventGoneMeanwhile(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	for _, tc := range []struct {
		name string
		key  string // the events wait under
		// over runs the hand-over of the events under key around write.
		over func(s events.ParkedStore, bus playback.Publisher, now func() time.Time, write func() error) (int, error)
	}{
		{name: "ClaimStripeCustomer", key: events.StripeCustomerParkKey("cus_gone"),
			over: func(s events.ParkedStore, bus playback.Publisher, now func() time.Time, write func() error) (int, error) {
				return events.ClaimStripeCustomer(ctx, s, bus, "cus_gone", 1, now, write)
			}},
		{name: "CreateStripeAccount", key: events.StripeAccountParkKey("acct_gone"),
			over: func(s events.ParkedStore, bus playback.Publisher, now func() time.Time, write func() error) (int, error) {
				return events.CreateStripeAccount(ctx, s, bus, "acct_gone", 1, now, write)
			}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			clk := &clock{now: time.Date(2026, 12, 7, 23, 0, 0, 0, time.UTC)}
			db, err := bolt.Open(filepath.Join(t.TempDir(), "db"), bolt.WithoutSync(), bolt.WithClock(clk.Now))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { db.Close() })
			parkKey := tc.key
			// evt_1's wait ends a second after the listing starts; evt_2
			// waits for good, parked after it.
			for i, id := range []string{"evt_1", "evt_2"} {
				at := clk.Now().Add(time.Duration(i) * time.Millisecond)
				if _, _, err := db.RecordEvent(ctx, playback.InboxEvent{Source: events.StripeSource, ID: id, Type: "invoice.paid",
					Created: at, ReceivedAt: at, Payload: []byte(`{}`)}); err != nil {
					t.Fatal(err)
				}
				var expires time.Time
				if id == "evt_1" {
					expires = clk.Now().Add(time.Second)
				}
				if err := db.ParkEvent(ctx, events.StripeSource, id, parkKey, at, expires); err != nil {
					t.Fatal(err)
				}
			}
			clk.Add(time.Second / 2)
			bus := &published{}
			wrote := false
			woken, err := tc.over(listedThenLate{Store: db, clock: clk, late: time.Second}, bus, clk.Now, func() error {
				wrote = true
				return nil
			})
			left, lerr := db.ListParkedEvents(ctx, events.StripeSource, parkKey, playback.ParkCursor{}, 10)
			ev2, gerr := db.GetEvent(ctx, events.StripeSource, "evt_2")
			if err != nil || !wrote || woken != 1 || len(bus.msgs) != 1 || lerr != nil || len(left) != 0 || gerr != nil ||
				ev2.ParkedKey != events.StripeAnnouncedParkKey {
				t.Fatalf("%s with evt_1 gone between the listing and its move: woken %d, %v; the write ran: %v; "+
					"announced %d; left under %s: %d (%v); evt_2 parked under %q (%v); "+
					"want 1 woken, no error, the write run, evt_2 announced and handed to the sweeper (%q)",
					tc.name, woken, err, wrote, len(bus.msgs), parkKey, len(left), lerr, ev2.ParkedKey, gerr, events.StripeAnnouncedParkKey)
			}
		})
	}
}
