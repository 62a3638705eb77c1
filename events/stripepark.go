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
// (WakeStripeCustomer): the consumer itself after a checkout, the admin API
// after an operator's link.
func StripeCustomerParkKey(customer string) string { return "customer:" + customer }

// StripeAnnouncedParkKey is the park key of Stripe events announced again
// (by a wake, or by the payment consumer's sweeper) that wait for that
// announcement's outcome: the sweeper announces them again after a
// backoff, so that one whose announcement is lost, or dead-lettered while
// the consumer could not read the inbox, is not stranded.
const StripeAnnouncedParkKey = "announced"

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
// Each event announced leaves the customer's key, parked under
// StripeAnnouncedParkKey at start: a wake passes once, and its
// announcement may be lost, or dead-lettered while the consumer cannot
// read the inbox to move the event itself; the sweeper retries it there.
//
// It stops at the first failure; the events not announced, or not moved,
// stay parked for the customer, and calling it again (a retried request,
// the next link write, reconciliation) announces them.
func WakeStripeCustomer(ctx context.Context, store ParkedStore, bus playback.Publisher, customer string, pageSize int, start time.Time) (int, error) {
	if pageSize <= 0 {
		return 0, fmt.Errorf("events.WakeStripeCustomer: page size must be positive, got %d", pageSize)
	}
	key := StripeCustomerParkKey(customer)
	if !playback.ValidParkKey(key) {
		return 0, nil // nothing can be parked under it
	}
	var after playback.ParkCursor
	woken := 0
	for {
		page, err := store.ListParkedEvents(ctx, StripeSource, key, after, pageSize)
		if err != nil {
			return woken, fmt.Errorf("listing stripe events parked for %s: %w", customer, err)
		}
		if len(page) == 0 {
			return woken, nil
		}
		for _, ev := range page {
			if ev.ParkedAt.After(start) {
				return woken, nil
			}
			if err := AnnounceStripeEvent(ctx, bus, ev); err != nil {
				return woken, fmt.Errorf("announcing stripe event %s parked for %s: %w", ev.ID, customer, err)
			}
			// After the announcement, so that one that failed leaves it
			// to the next wake; a consumer that has processed it by now
			// leaves it processed (ParkEvent).
			if err := store.ParkEvent(ctx, StripeSource, ev.ID, StripeAnnouncedParkKey, start, time.Time{}); err != nil {
				return woken, fmt.Errorf("moving stripe event %s parked for %s: %w", ev.ID, customer, err)
			}
			woken++
		}
		after = playback.CursorOf(page[len(page)-1])
	}
}
