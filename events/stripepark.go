package events

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/playplane/playplane/shared/playback"
)

// StripeCustomerParkKey is the park key (playback.InboxStore.ParkEvent) of
// Stripe events that wait for customer to be linked to an account. The
// payment consumer parks them under it; whoever writes the link wakes them
// (LinkStripeCustomer): the consumer itself after a checkout or a metadata
// link, the admin API after an operator's link, playplane import.
func StripeCustomerParkKey(customer string) string { return "customer:" + customer }

// StripeAccountParkKey is the park key of Stripe events that name an
// account not created yet (a checkout's client_reference_id, an object's
// metadata.account_id): they wait for it to be created. Whoever creates
// an account wakes them (CreateStripeAccount, WakeStripeAccount): the
// admin API, playplane import, the consumer's checkout provisioning, the
// demo seed; the payment sweeper wakes those of an account some other
// writer created.
func StripeAccountParkKey(account string) string { return "account:" + account }

// StripeAnnouncedParkKey is the park key of Stripe events announced again
// (by a wake, or by the payment consumer's sweeper) that wait for that
// announcement's outcome: the sweeper announces them again after a
// backoff, so that one whose announcement is lost, or dead-lettered while
// the consumer could not read the inbox, is not stranded.
const StripeAnnouncedParkKey = "announced"

// WakePage is how many parked Stripe events a wake lists at a time, for
// the writers with no batch of their own (admin, import, the demo seed).
const WakePage = 100

// NewStripeEventRecorded is the announcement of the recorded event ev.
func NewStripeEventRecorded(ev playback.InboxEvent) StripeEventRecorded {
	return StripeEventRecorded{EventID: ev.ID, Type: ev.Type, Created: ev.Created, ReceivedAt: ev.ReceivedAt}
}

// AnnounceStripeEvent publishes the announcement of ev on TopicStripeEvents.
// Announcing an event again is harmless: the consumer reads the inbox and
// skips what it has processed.
func AnnounceStripeEvent(ctx context.Context, bus playback.Publisher, ev playback.InboxEvent) error {
	data, err := json.Marshal(NewStripeEventRecorded(ev))
	if err != nil {
		return err
	}
	return bus.Publish(ctx, TopicStripeEvents, playback.Message{
		Data: data, Attributes: map[string]string{"source": StripeSource, "type": ev.Type},
	})
}

// ParkedStore lists parked inbox events and parks them anew
// (playback.InboxStore).
type ParkedStore interface {
	ListParkedEvents(ctx context.Context, source, key string, after playback.ParkCursor, limit int) ([]playback.InboxEvent, error)
	ParkEvent(ctx context.Context, source, id, key string, at, expiresAt time.Time) error
}

// WakeStripeCustomer announces again every Stripe event parked for customer
// at or before start, pageSize at a time, and returns how many it announced.
// Call it after the customer's link is written: the consumer then applies
// them. An event parked after start was parked after the link was written,
// by an attempt that re-reads the link after parking (and so retries): the
// wake stops there instead of chasing events it already announced.
//
// Each event leaves the customer's key before it is announced, parked
// under StripeAnnouncedParkKey at start, where the sweeper announces it
// again after its backoff (a minute for an event new there): a wake
// passes once, and its announcement may fail, be lost, or be
// dead-lettered while the consumer cannot read the inbox to move the
// event itself, and the process may die between the move and the
// announcement. Announced first, an event whose announcement failed, or
// whose process died before the move, stayed under its customer's key,
// whose link was in place: nothing but the same link written again woke
// it.
// With a nil bus the events are handed to the sweeper only.
//
// It stops at the first failure; the events not moved stay parked for the
// customer, and calling it again (a retried request, the next link write,
// reconciliation) wakes them.
func WakeStripeCustomer(ctx context.Context, store ParkedStore, bus playback.Publisher, customer string, pageSize int, start time.Time) (int, error) {
	return wakeParked(ctx, store, bus, StripeCustomerParkKey(customer), pageSize, start)
}

// WakeStripeAccount is WakeStripeCustomer for the events parked waiting
// for account to be created (StripeAccountParkKey): call it after the
// account is written.
func WakeStripeAccount(ctx context.Context, store ParkedStore, bus playback.Publisher, account string, pageSize int, start time.Time) (int, error) {
	return wakeParked(ctx, store, bus, StripeAccountParkKey(account), pageSize, start)
}

// wakeParked wakes the events parked under key at or before start (see
// WakeStripeCustomer).
func wakeParked(ctx context.Context, store ParkedStore, bus playback.Publisher, key string, pageSize int, start time.Time) (int, error) {
	return moveParked(ctx, store, key, pageSize, start, func(ev playback.InboxEvent) error {
		if bus == nil {
			return nil
		}
		if err := AnnounceStripeEvent(ctx, bus, ev); err != nil {
			return fmt.Errorf("announcing stripe event %s parked under %s (the sweeper will): %w", ev.ID, key, err)
		}
		return nil
	})
}

// moveParked moves the events parked under key at or before start to
// StripeAnnouncedParkKey, calling moved after each move.
func moveParked(ctx context.Context, store ParkedStore, key string, pageSize int, start time.Time, moved func(playback.InboxEvent) error) (int, error) {
	if pageSize <= 0 {
		return 0, fmt.Errorf("events: waking parked stripe events: page size must be positive, got %d", pageSize)
	}
	if !playback.ValidParkKey(key) {
		return 0, nil // nothing can be parked under it
	}
	var after playback.ParkCursor
	woken := 0
	for {
		page, err := store.ListParkedEvents(ctx, StripeSource, key, after, pageSize)
		if err != nil {
			return woken, fmt.Errorf("listing stripe events parked under %s: %w", key, err)
		}
		if len(page) == 0 {
			return woken, nil
		}
		for _, ev := range page {
			if ev.ParkedAt.After(start) {
				return woken, nil
			}
			// A consumer that has processed it by now leaves it
			// processed (ParkEvent). One gone since the listing (its wait
			// ended: ParkEvent's expiresAt) has nothing left to hand
			// over; stopping there failed the write it is handed over
			// for and left the events after it under key.
			err := store.ParkEvent(ctx, StripeSource, ev.ID, StripeAnnouncedParkKey, start, time.Time{})
			if playback.IsCode(err, playback.CodeNotFound) {
				continue
			}
			if err != nil {
				return woken, fmt.Errorf("moving stripe event %s parked under %s: %w", ev.ID, key, err)
			}
			if err := moved(ev); err != nil {
				return woken, err
			}
			woken++
		}
		after = playback.CursorOf(page[len(page)-1])
	}
}

// LinkingStore writes customer → account links and moves the Stripe
// events parked for them (playback.CatalogStore, playback.InboxStore).
type LinkingStore interface {
	ParkedStore
	LinkCustomer(ctx context.Context, customerID, accountID string) error
}

// LinkStripeCustomer links customer to account and wakes the Stripe events
// parked waiting for that link (WakeStripeCustomer), announcing them on
// bus, or, with a nil bus (playplane import, which has none), leaving them
// to the sweeper's next run past its first backoff. Every writer of a link
// goes through it or ClaimStripeCustomer: an event parked for a customer
// is woken by nothing but its link (Stripe does not send an acknowledged
// event again, the sweeper retries no customer's key, reconciliation
// needs the Stripe API).
//
// The events are handed to the sweeper before the link too: a process
// killed between the link and the wake left them under the customer's
// key, linked, until the same link was written again. Those handed over
// but not linked (the link failed) are announced by the sweeper, find no
// link and are parked for it again. now is read before the link and
// after it. It returns how many it woke.
func LinkStripeCustomer(ctx context.Context, store LinkingStore, bus playback.Publisher, customer, account string, pageSize int, now func() time.Time) (int, error) {
	return handOver(ctx, store, bus, StripeCustomerParkKey(customer), pageSize, now, func() error {
		return store.LinkCustomer(ctx, customer, account)
	})
}

// ClaimStripeCustomer runs claim, which claims customer's link
// (playback.ClaimCustomer, which may move it) and writes what it is
// claimed for, and wakes the Stripe events parked waiting for the link as
// LinkStripeCustomer does around its write: a link that may appear or
// move is a writer of one like any other.
func ClaimStripeCustomer(ctx context.Context, store ParkedStore, bus playback.Publisher, customer string, pageSize int, now func() time.Time, claim func() error) (int, error) {
	return handOver(ctx, store, bus, StripeCustomerParkKey(customer), pageSize, now, claim)
}

// StripeRetryParkKey is the park key of Stripe events that wait for
// nothing a writer announces (a dependency down, a status this release
// cannot map): the payment consumer's sweeper retries them on a backoff
// that grows with their wait, up to the bus's hold time (hours). A
// release before StripeCustomerHeldParkKey parked a checkout of a
// customer another account holds here too; the sweeper's retry of such
// an event parks it under its customer's held key, which a free wakes.
const StripeRetryParkKey = "retry"

// StripeCustomerHeldParkKey is the park key of Stripe events refused
// because another account holds customer (a checkout linking it to a
// second account: playback.ReasonCustomerLinkedElsewhere). They wait for
// that account to let the customer go (deleted, or naming another
// customer or none), and whoever writes that wakes them
// (FreeStripeCustomer): the admin API, playplane import, the payment
// consumer renaming an account's customer. A free is not the only way
// they are cured (a pending claim goes stale, a store's PutAccount wakes
// nothing), so the payment consumer's sweeper also retries them, on the
// backoff of StripeRetryParkKey's events: one whose wake is lost still
// applies.
func StripeCustomerHeldParkKey(customer string) string { return "held:" + customer }

// FreeStripeCustomer runs free, which writes an account so that it holds
// customer no longer (deleted, or naming another customer or none), and
// wakes the Stripe events parked while it held it
// (StripeCustomerHeldParkKey) as ClaimStripeCustomer wakes a customer's
// around its claim: handed to the sweeper before free, under
// StripeAnnouncedParkKey, where a new wait's backoff is the sweeper's
// first (SweepAge, a minute), so that a process killed between the free
// and the announcement leaves them a minute from a retry, not at the end
// of a backoff grown over their wait; announced on bus after it. Only
// customer's key is listed, however many other events wait. It returns
// how many it woke.
func FreeStripeCustomer(ctx context.Context, store ParkedStore, bus playback.Publisher, customer string, pageSize int, now func() time.Time, free func() error) (int, error) {
	return handOver(ctx, store, bus, StripeCustomerHeldParkKey(customer), pageSize, now, free)
}

// WakeFreedStripeCustomers is FreeStripeCustomer's wake for a writer
// that frees many customers in writes of its own and has no bus
// (playplane import): the events parked under the held keys of customers
// (StripeCustomerHeldParkKey) at or before start are handed to the
// sweeper. Call it before the writes, so that a writer killed after them
// loses none, and again after them, for those parked between. It lists
// each customer's key once a call, as the writes write each customer's
// account, and returns how many it handed over.
func WakeFreedStripeCustomers(ctx context.Context, store ParkedStore, customers []string, pageSize int, start time.Time) (int, error) {
	woken := 0
	seen := make(map[string]bool, len(customers))
	for _, c := range customers {
		if seen[c] {
			continue
		}
		seen[c] = true
		n, err := wakeParked(ctx, store, nil, StripeCustomerHeldParkKey(c), pageSize, start)
		woken += n
		if err != nil {
			return woken, err
		}
	}
	return woken, nil
}

// StripeEventCustomer is the customer a Stripe event's payload is of: its
// object's customer (an id, or the expanded object's), or the object
// itself when it is a customer; "" when it names none.
func StripeEventCustomer(payload []byte) string {
	var ev struct {
		Data struct {
			Object struct {
				ID       string          `json:"id"`
				Object   string          `json:"object"`
				Customer json.RawMessage `json:"customer"`
			} `json:"object"`
		} `json:"data"`
	}
	if json.Unmarshal(payload, &ev) != nil {
		return ""
	}
	o := ev.Data.Object
	if o.Object == "customer" {
		return o.ID
	}
	var id string
	if json.Unmarshal(o.Customer, &id) == nil {
		return id
	}
	var expanded struct {
		ID string `json:"id"`
	}
	if json.Unmarshal(o.Customer, &expanded) == nil {
		return expanded.ID
	}
	return ""
}

// CreateStripeAccount runs create, which writes account, and wakes the
// Stripe events parked waiting for the account (StripeAccountParkKey)
// as LinkStripeCustomer wakes a customer's around its link: handed to
// the sweeper before the write, so that a process killed between the
// write and the wake loses none, announced on bus (when there is one)
// after it, then those parked between woken. Every writer of an account
// that may be new goes through it (playplane import, which writes many
// at once and has no bus, hands them over with WakeStripeAccount before
// and after its writes). It returns how many it woke.
func CreateStripeAccount(ctx context.Context, store ParkedStore, bus playback.Publisher, account string, pageSize int, now func() time.Time, create func() error) (int, error) {
	return handOver(ctx, store, bus, StripeAccountParkKey(account), pageSize, now, create)
}

// handOver hands the events parked under key to the sweeper, runs
// write, which writes what they wait for, announces them on bus, then
// wakes those parked under key between the first pass and the write.
func handOver(ctx context.Context, store ParkedStore, bus playback.Publisher, key string, pageSize int, now func() time.Time, write func() error) (int, error) {
	var handed []playback.InboxEvent
	_, err := moveParked(ctx, store, key, pageSize, now(), func(ev playback.InboxEvent) error {
		ev.Payload = nil // announced by its id
		handed = append(handed, ev)
		return nil
	})
	if err != nil {
		return 0, err
	}
	if err := write(); err != nil {
		return 0, err
	}
	woken := 0
	for _, ev := range handed {
		if bus != nil {
			if err := AnnounceStripeEvent(ctx, bus, ev); err != nil {
				return woken, fmt.Errorf("announcing stripe event %s parked under %s (the sweeper will): %w", ev.ID, key, err)
			}
		}
		woken++
	}
	// Parked between the first pass and the write: their attempt read
	// nothing after parking. Read after the write, the clock tells them
	// from those parked after it (see WakeStripeCustomer).
	n, err := wakeParked(ctx, store, bus, key, pageSize, now())
	return woken + n, err
}
