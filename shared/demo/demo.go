// Package demo seeds the catalogue, accounts and edges a local run starts
// with, so that a new user can curl the whole flow right away.
package demo

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/playplane/playplane/events"
	"github.com/playplane/playplane/shared/playback"
)

// Account ids of the seeded households.
const (
	AccountFamily   = "acct_family"   // standard plan (2 streams), DE, parental cap 16
	AccountSolo     = "acct_solo"     // basic plan (1 stream), US, no cap
	AccountKids     = "acct_kids"     // premium plan, GB, parental cap 7
	AccountPastDue  = "acct_pastdue"  // past_due for a day: inside the default grace
	AccountCanceled = "acct_canceled" // canceled: may not play
)

// Store is what seeding writes, with the Stripe events parked for the
// accounts and customers it creates, which it wakes.
type Store interface {
	playback.CatalogStore
	playback.AccountStore
	playback.EdgeStore
	events.ParkedStore
}

// Plans are the demo tiers.
var Plans = []playback.Plan{
	{ID: "basic", Name: "Basic", MaxStreams: 1, MaxDevices: 2, MaxQuality: playback.QualitySD},
	{ID: "standard", Name: "Standard", MaxStreams: 2, MaxDevices: 5, MaxQuality: playback.QualityHD},
	{ID: "premium", Name: "Premium", MaxStreams: 4, MaxDevices: 10, MaxQuality: playback.QualityUHD},
}

func everywhere(territories ...string) []playback.LicenceWindow {
	start := time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)
	end := time.Date(2099, 1, 1, 0, 0, 0, 0, time.UTC)
	out := make([]playback.LicenceWindow, len(territories))
	for i, t := range territories {
		out[i] = playback.LicenceWindow{Territory: t, Start: start, End: end}
	}
	return out
}

// Ladder is the renditions of every demo title, as the local edge's test
// stream stores them (see /titles/<id>/<path>/): one per quality, so that
// each plan's cap shows.
var Ladder = []playback.Rendition{
	{Path: "sd", Quality: playback.QualitySD, Bandwidth: 800_000, Width: 640, Height: 360, Codecs: "avc1.42c01e"},
	{Path: "hd", Quality: playback.QualityHD, Bandwidth: 3_000_000, Width: 1280, Height: 720, Codecs: "avc1.4d401f"},
	{Path: "uhd", Quality: playback.QualityUHD, Bandwidth: 12_000_000, Width: 3840, Height: 2160, Codecs: "avc1.640033"},
}

func title(id, name string, rating int, windows []playback.LicenceWindow) playback.Title {
	return playback.Title{ID: id, Name: name, Rating: &rating, AssetPath: "/titles/" + id + "/",
		Manifest: "master.m3u8", Windows: windows, Renditions: slices.Clone(Ladder)}
}

// Titles returns the demo catalogue; windows relative to now show licence
// rules at work.
func Titles(now time.Time) []playback.Title {
	return []playback.Title{
		title("big-buck-bunny", "Big Buck Bunny", 0, everywhere("DE", "US", "GB", "FR")),
		title("sintel", "Sintel", 12, everywhere("DE", "US", "GB", "FR")),
		title("tears-of-steel", "Tears of Steel", 16, everywhere("DE", "US", "GB")),
		title("night-of-the-code", "Night of the Code", 18, everywhere("DE", "US", "GB")),
		title("us-exclusive", "US Exclusive", 0, everywhere("US")),
		title("expired-licence", "Expired Licence", 0, []playback.LicenceWindow{
			{Territory: "DE", Start: now.AddDate(-2, 0, 0), End: now.AddDate(0, 0, -1)},
		}),
		title("coming-soon", "Coming Soon", 0, []playback.LicenceWindow{
			{Territory: "DE", Start: now.AddDate(0, 1, 0), End: now.AddDate(1, 0, 0)},
		}),
	}
}

// Accounts returns the demo households.
func Accounts(now time.Time) []playback.Account {
	return []playback.Account{
		{ID: AccountFamily, Email: "family@example.com", PlanID: "standard", Status: playback.StatusActive, Territory: "DE", ParentalCap: 16, CustomerID: "cus_demo_family"},
		{ID: AccountSolo, Email: "solo@example.com", PlanID: "basic", Status: playback.StatusActive, Territory: "US"},
		{ID: AccountKids, Email: "kids@example.com", PlanID: "premium", Status: playback.StatusTrialing, Territory: "GB", ParentalCap: 7},
		{ID: AccountPastDue, Email: "late@example.com", PlanID: "standard", Status: playback.StatusPastDue, PastDueSince: now.Add(-24 * time.Hour), Territory: "DE"},
		{ID: AccountCanceled, Email: "gone@example.com", PlanID: "standard", Status: playback.StatusCanceled, Territory: "DE"},
	}
}

// The local runner's CDNs: the names functions/signurl signs for and its
// personalized manifests use as pathway IDs (HLS PATHWAY-ID, DASH
// serviceLocation). A demo edge belongs to one of them, so the steering
// manifest's priority names pathways the manifests offer.
const (
	CDNCloudFront = "local-cloudfront"
	CDNCloudCDN   = "local-cloudcdn"
)

// EdgeIDs are the ids of the demo edges, which the local runners make
// health-report keys for.
func EdgeIDs() []string {
	var ids []string
	for _, e := range Edges("", time.Time{}) {
		ids = append(ids, e.ID)
	}
	return ids
}

// Edges returns the demo edges with both local CDNs (CDNCloudFront,
// CDNCloudCDN) served at baseURL.
func Edges(baseURL string, now time.Time) []playback.Edge {
	return EdgesOn(map[string]string{CDNCloudFront: baseURL, CDNCloudCDN: baseURL}, now)
}

// EdgesOn returns demo edges in three PoPs for the CDNs of cdnBases (CDN
// name → the base URL its edges serve, as SIGNURL_CDN_BASES has it): the
// edges are dealt out to the CDNs in turn, in name order, so that with two
// CDNs each has edges in Frankfurt and Ashburn and one can fail over to the
// other.
// The edge ids do not depend on the CDNs (health-report keys name them).
func EdgesOn(cdnBases map[string]string, now time.Time) []playback.Edge {
	cdns := slices.Sorted(maps.Keys(cdnBases))
	if len(cdns) == 0 {
		return nil
	}
	n := 0
	mk := func(id, pop string, lat, lon float64, asns ...uint32) playback.Edge {
		cdn := cdns[n%len(cdns)]
		n++
		return playback.Edge{ID: id, CDN: cdn, PoP: pop, BaseURL: cdnBases[cdn], Lat: lat, Lon: lon, ASNs: asns,
			ReportedCapacity: 100, Load: 10, Healthy: true, ReportedAt: now}
	}
	return []playback.Edge{
		mk("fra-1", "fra", 50.11, 8.68),
		mk("fra-2", "fra", 50.11, 8.68),
		mk("fra-isp-1", "fra", 50.11, 8.68, 3320),
		mk("lhr-1", "lhr", 51.47, -0.45),
		mk("iad-1", "iad", 38.95, -77.45),
		mk("iad-2", "iad", 38.95, -77.45),
	}
}

// Seed writes what is missing and leaves what exists, so restarts keep
// the sessions, devices and progress a user built up; the edges are those
// of Edges(edgeBaseURL), written whole. A runner seeds a store once
// (cmd/playplane): seeding again would bring back the demo records an
// operator deleted and reset the demo edges they changed; MoveEdges is
// what a later start does instead.
func Seed(ctx context.Context, s Store, edgeBaseURL string, now time.Time) error {
	return SeedOn(ctx, s, map[string]string{CDNCloudFront: edgeBaseURL, CDNCloudCDN: edgeBaseURL}, now)
}

// SeedOn is Seed with the edges of EdgesOn(cdnBases).
func SeedOn(ctx context.Context, s Store, cdnBases map[string]string, now time.Time) error {
	for _, p := range Plans {
		if _, err := s.GetPlan(ctx, p.ID); playback.IsCode(err, playback.CodeNotFound) {
			if err := s.PutPlan(ctx, p); err != nil {
				return fmt.Errorf("demo.Seed: plan %s: %w", p.ID, err)
			}
		} else if err != nil {
			return fmt.Errorf("demo.Seed: plan %s: %w", p.ID, err)
		}
	}
	for _, t := range Titles(now) {
		// A title seeded before titles carried their ladder gets it now:
		// without one its personalized manifests would list nothing.
		if old, err := s.GetTitle(ctx, t.ID); playback.IsCode(err, playback.CodeNotFound) || err == nil && len(old.Renditions) == 0 {
			if err := s.PutTitle(ctx, t); err != nil {
				return fmt.Errorf("demo.Seed: title %s: %w", t.ID, err)
			}
		} else if err != nil {
			return fmt.Errorf("demo.Seed: title %s: %w", t.ID, err)
		}
	}
	// The wakes' clock: from now at the wall's pace, so that an event a
	// consumer parks while an account is written is told apart from
	// those parked after (events.CreateStripeAccount), which a constant
	// now is not.
	start := time.Now()
	clock := func() time.Time { return now.Add(time.Since(start)) }
	for _, a := range Accounts(now) {
		if _, err := s.GetAccount(ctx, a.ID); playback.IsCode(err, playback.CodeNotFound) {
			// The link first: a start stopped between the two writes
			// leaves the account missing, which the next start writes
			// (linking again, idempotently), not an account whose
			// customer is never linked. Both wake the Stripe events
			// parked for them (an account deleted and seeded again, a
			// store that took Stripe events before its seed): Stripe
			// does not send an acknowledged event again and the sweeper
			// retries no customer's key (an account's only as a
			// backstop, runs later). With no bus here,
			// they are handed to the sweeper, which announces them after
			// its first backoff.
			if a.CustomerID != "" {
				if _, err := events.LinkStripeCustomer(ctx, s, nil, a.CustomerID, a.ID, events.WakePage, clock); err != nil {
					return fmt.Errorf("demo.Seed: customer %s: %w", a.CustomerID, err)
				}
			}
			_, err := events.CreateStripeAccount(ctx, s, nil, a.ID, events.WakePage, clock, func() error { return s.PutAccount(ctx, a) })
			if err != nil {
				return fmt.Errorf("demo.Seed: account %s: %w", a.ID, err)
			}
		} else if err != nil {
			return fmt.Errorf("demo.Seed: account %s: %w", a.ID, err)
		}
	}
	for _, e := range EdgesOn(cdnBases, now) {
		// Edges are configuration: refresh them each start so the base URL
		// follows the listen address; health comes from reports after that.
		if err := s.PutEdge(ctx, e); err != nil {
			return fmt.Errorf("demo.Seed: edge %s: %w", e.ID, err)
		}
	}
	return nil
}

// MoveEdges points the demo edges at a runner's new address: each demo
// edge whose base URL is still from[its CDN] (as seeded, or as the last
// start moved it) gets to[its CDN]. An edge the operator pointed elsewhere
// keeps its base URL, and nothing else of any edge is written, so their
// settings (weight, disabled, ...) and health stay; a deleted demo edge
// stays deleted.
func MoveEdges(ctx context.Context, s playback.EdgeStore, from, to map[string]string) error {
	for _, id := range EdgeIDs() {
		e, err := s.GetEdge(ctx, id)
		if playback.IsCode(err, playback.CodeNotFound) {
			continue
		}
		if err != nil {
			return fmt.Errorf("demo.MoveEdges: edge %s: %w", id, err)
		}
		if !moves(e, from, to) {
			continue
		}
		// Checked again inside the update: a write since the read (a
		// health report, an operator) is kept.
		_, err = s.UpdateEdge(ctx, id, func(e *playback.Edge) error {
			if moves(*e, from, to) {
				e.BaseURL = to[e.CDN]
			}
			return nil
		})
		if err != nil && !playback.IsCode(err, playback.CodeNotFound) {
			return fmt.Errorf("demo.MoveEdges: edge %s: %w", id, err)
		}
	}
	return nil
}

func moves(e playback.Edge, from, to map[string]string) bool {
	old, okFrom := from[e.CDN]
	base, okTo := to[e.CDN]
	return okFrom && okTo && e.BaseURL == old && base != old
}

// RecordLister pages through a store's records (playback.AdminStore).
type RecordLister interface {
	ListRecords(ctx context.Context, kind playback.Kind, after string, limit int) (playback.RecordPage, error)
}

// HoldsOwnRecords reports whether s holds a plan, title, edge or account
// that is not one of the demo's: a catalogue of the user's, which the
// runners leave unseeded unless SEED=true (cmd/playplane, whose data
// directory also records it; cmd/playplane-gcp). A store holding the
// demo's alone was seeded before, or is being seeded: it is not the
// user's.
func HoldsOwnRecords(ctx context.Context, s RecordLister, now time.Time) (bool, error) {
	ids := map[playback.Kind]map[string]bool{}
	add := func(kind playback.Kind, id string) {
		if ids[kind] == nil {
			ids[kind] = map[string]bool{}
		}
		ids[kind][id] = true
	}
	for _, p := range Plans {
		add(playback.KindPlan, p.ID)
	}
	for _, t := range Titles(now) {
		add(playback.KindTitle, t.ID)
	}
	for _, ac := range Accounts(now) {
		add(playback.KindAccount, ac.ID)
	}
	for _, id := range EdgeIDs() {
		add(playback.KindEdge, id)
	}
	for _, kind := range playback.Kinds {
		for after := ""; ; {
			page, err := s.ListRecords(ctx, kind, after, 100)
			if err != nil {
				return false, fmt.Errorf("store.ListRecords: %w", err)
			}
			for _, r := range page.Records {
				if !ids[kind][r.ID] {
					return true, nil
				}
			}
			if page.Next == "" {
				break
			}
			after = page.Next
		}
	}
	return false, nil
}
