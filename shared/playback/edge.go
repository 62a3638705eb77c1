package playback

import (
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"
)

// Edge is one CDN cache. Static fields (Capacity among them) come from
// configuration; Load/ReportedCapacity/Healthy/HotTitles/ReportedAt/
// ReceivedAt from health reports.
type Edge struct {
	ID      string   `json:"id"`
	CDN     string   `json:"cdn"` // pathway name, e.g. "cloudfront", "cloudcdn", "local"
	PoP     string   `json:"pop"` // cache group, e.g. "fra", "lhr"
	BaseURL string   `json:"base_url"`
	Lat     float64  `json:"lat"`
	Lon     float64  `json:"lon"`
	ASNs    []uint32 `json:"asns,omitempty"` // embedded in these ISPs' networks (Open Connect style): preferred for their clients
	// NoIPv4 and NoIPv6 say the edge cannot serve clients of that IP
	// version (no address of the family, or its monitor says it is down
	// there): steering sends a client only to edges of its own version,
	// as Traffic Router does. The zero value serves both.
	NoIPv4 bool `json:"no_ipv4,omitempty"`
	NoIPv6 bool `json:"no_ipv6,omitempty"`
	// IPv4Down and IPv6Down are health, from the edge's latest report: it
	// is up but unreachable over that IP version (Traffic Monitor's
	// per-version availability).
	IPv4Down bool `json:"ipv4_down,omitempty"`
	IPv6Down bool `json:"ipv6_down,omitempty"`

	// Weight scales the edge's share of the titles it competes for with
	// the other edges of its PoP (rendezvous weight capacity × Weight); 0
	// means 1, so edges written before it existed keep their share.
	Weight float64 `json:"weight,omitempty"`
	// Disabled takes the edge out of steering whatever its reports say
	// (an operator draining it); the zero value serves.
	Disabled bool `json:"disabled,omitempty"`

	// Capacity is the operator's limit (e.g. Gbit/s), 0 when none is set;
	// ReportedCapacity is what the edge's latest report says it has. They
	// are kept apart so that a report never undoes an operator's setting;
	// EffectiveCapacity combines them. ReportedCapacity is always written
	// (no omitempty): its absence marks a record stored before it existed
	// (see UnmarshalJSON).
	Capacity         float64   `json:"capacity"`
	ReportedCapacity float64   `json:"reported_capacity"`
	Load             float64   `json:"load"`
	Healthy          bool      `json:"healthy"`
	HotTitles        []string  `json:"hot_titles,omitempty"`
	ReportedAt       time.Time `json:"reported_at"` // the edge's clock: orders its reports (Apply)

	// ReceivedAt is the server clock when that report was accepted:
	// freshness is judged by it (LastHeard), as Traffic Monitor judges a
	// cache by its own poll times, so an edge's clock being off within
	// MaxEdgeReportSkew neither hides it nor keeps it alive once silent.
	ReceivedAt time.Time `json:"received_at,omitzero"`

	// QoE feedback from heartbeats (issue 6), zero when unknown.
	RebufferRatio  float64 `json:"rebuffer_ratio,omitempty"`
	ThroughputKbps float64 `json:"throughput_kbps,omitempty"`
}

// EdgeReport is an edge's health report (HMAC-authenticated per edge at the HTTP layer).
type EdgeReport struct {
	EdgeID     string    `json:"edge_id"`
	Load       float64   `json:"load"`
	Capacity   float64   `json:"capacity"`
	Healthy    bool      `json:"healthy"`
	HotTitles  []string  `json:"hot_titles,omitempty"`
	ReportedAt time.Time `json:"reported_at"`
	// IPv4Down and IPv6Down report the edge unreachable over one IP
	// version while Healthy covers the other.
	IPv4Down bool `json:"ipv4_down,omitempty"`
	IPv6Down bool `json:"ipv6_down,omitempty"`
}

// MaxEdgeReportSkew bounds how far a report's reported_at may be from the
// server clock, either way. A report from the future would otherwise shadow
// every honest report until the wall clock caught up with it, since Apply
// keeps only newer reports; and since freshness counts from receipt, an old
// report held back and delivered late would otherwise pass for a live edge.
// Past it the edge's clock is broken, and the refusal says so.
const MaxEdgeReportSkew = time.Minute

// MaxHotTitles bounds the hot list an edge may report, so that one edge cannot
// blow up the edge table or the steering index.
const MaxHotTitles = 256

// Validate checks an edge's configuration before it enters the table.
func (e Edge) Validate() error {
	switch {
	case e.ID == "":
		return Errorf(CodeInvalid, "edge_invalid", "edge id is required")
	case e.CDN == "":
		return Errorf(CodeInvalid, "edge_invalid", "edge %q: cdn is required", e.ID)
	case e.BaseURL == "":
		return Errorf(CodeInvalid, "edge_invalid", "edge %q: base_url is required", e.ID)
	case !(e.Lat >= -90 && e.Lat <= 90) || !(e.Lon >= -180 && e.Lon <= 180):
		return Errorf(CodeInvalid, "edge_invalid", "edge %q: coordinates %v,%v out of range", e.ID, e.Lat, e.Lon)
	case !finiteNonNegative(e.Weight):
		return Errorf(CodeInvalid, "edge_invalid", "edge %q: weight must be finite and non-negative", e.ID)
	case !finiteNonNegative(e.Capacity) || !finiteNonNegative(e.ReportedCapacity) || !finiteNonNegative(e.Load):
		return Errorf(CodeInvalid, "edge_invalid", "edge %q: load and capacity must be finite and non-negative", e.ID)
	case !finiteNonNegative(e.RebufferRatio) || e.RebufferRatio > 1 || !finiteNonNegative(e.ThroughputKbps):
		return Errorf(CodeInvalid, "edge_invalid", "edge %q: qoe figures out of range", e.ID)
	}
	return nil
}

// Validate checks a health report received at now.
func (r EdgeReport) Validate(now time.Time) error {
	switch {
	case r.EdgeID == "":
		return Errorf(CodeInvalid, "report_invalid", "edge_id is required")
	case r.ReportedAt.IsZero():
		return Errorf(CodeInvalid, "report_invalid", "reported_at is required")
	case r.ReportedAt.After(now.Add(MaxEdgeReportSkew)) || r.ReportedAt.Before(now.Add(-MaxEdgeReportSkew)):
		return Errorf(CodeInvalid, "report_clock_skew", "reported_at %s is %s from the server clock %s, more than %s either way: check the edge's clock",
			r.ReportedAt.UTC().Format(time.RFC3339), r.ReportedAt.Sub(now).Round(time.Second), now.UTC().Format(time.RFC3339), MaxEdgeReportSkew)
	case !finiteNonNegative(r.Load) || !finiteNonNegative(r.Capacity):
		return Errorf(CodeInvalid, "report_invalid", "load and capacity must be finite and non-negative")
	case len(r.HotTitles) > MaxHotTitles:
		return Errorf(CodeInvalid, "report_invalid", "at most %d hot titles", MaxHotTitles)
	}
	// Hot titles are title ids: printable ASCII, so that the message a
	// report becomes is no larger than its body (the bus's limit).
	for i, id := range r.HotTitles {
		if !ValidRecordID(id) {
			e := Errorf(CodeInvalid, "report_invalid", "hot_titles[%d] is no title id: it %s", i, RecordIDRule)
			e.Details = map[string]string{"pointer": fmt.Sprintf("/hot_titles/%d", i)}
			return e
		}
	}
	return nil
}

// Apply returns e updated with the report r, which the server accepted at
// receivedAt. It refuses (returning e and false) a report for another edge
// or one not newer than the state e already holds, so reports delivered out
// of order never overwrite newer ones and a redelivered or replayed report
// is a no-op: it does not refresh the edge either.
func (e Edge) Apply(r EdgeReport, receivedAt time.Time) (Edge, bool) {
	if r.EdgeID != e.ID || !r.ReportedAt.After(e.ReportedAt) {
		return e, false
	}
	e.Load = r.Load
	e.ReportedCapacity = r.Capacity
	e.Healthy = r.Healthy
	e.IPv4Down, e.IPv6Down = r.IPv4Down, r.IPv6Down
	// The report's slice belongs to the caller (often a decoded request body);
	// the edge table must not alias it.
	e.HotTitles = slices.Clone(r.HotTitles)
	e.ReportedAt = r.ReportedAt
	e.ReceivedAt = receivedAt.UTC()
	return e, true
}

// EffectiveCapacity is the capacity steering holds the edge to: the lower
// of the operator's and the reported one, whichever are set (0 when
// neither is). Traffic Monitor does the same: a cache fails on exceeding
// the maxBandwidth configured for its interface and on falling under the
// availableBandwidthInKbps headroom left of the speed the cache reports,
// so an operator can lower a cache's limit but not raise it past what
// the cache has (traffic_monitor/health/cache.go EvalInterface, EvalAggregate).
func (e Edge) EffectiveCapacity() float64 {
	switch {
	case e.Capacity == 0:
		return e.ReportedCapacity
	case e.ReportedCapacity == 0:
		return e.Capacity
	}
	return min(e.Capacity, e.ReportedCapacity)
}

// edgeFields is Edge without its UnmarshalJSON.
type edgeFields Edge

// UnmarshalJSON reads records of either form. Before ReportedCapacity
// existed, reports overwrote Capacity: in a record without
// reported_capacity that has been reported on, capacity is the edge's
// report and moves there, so that steering sees what it saw before and the
// edge's next report updates it, as it did; the capacity of a record never
// reported on was configured and stays the operator's.
func (e *Edge) UnmarshalJSON(b []byte) error {
	return decodeEdge(b, e, json.Unmarshal)
}

func decodeEdge(b []byte, e *Edge, unmarshal func([]byte, any) error) error {
	doc := struct {
		*edgeFields
		ReportedCapacity *float64 `json:"reported_capacity"`
	}{edgeFields: (*edgeFields)(e)}
	if err := unmarshal(b, &doc); err != nil {
		return err
	}
	switch {
	case doc.ReportedCapacity != nil:
		e.ReportedCapacity = *doc.ReportedCapacity
	case !e.ReportedAt.IsZero():
		e.ReportedCapacity, e.Capacity = e.Capacity, 0
	}
	return nil
}

// LastHeard is the server time of the edge's latest report, which
// steering's Staleness counts from. An edge written without ReceivedAt
// (configured, seeded, or stored before the field existed) falls back to
// ReportedAt until its next report.
func (e Edge) LastHeard() time.Time {
	if e.ReceivedAt.IsZero() {
		return e.ReportedAt
	}
	return e.ReceivedAt
}

func finiteNonNegative(f float64) bool { return f >= 0 && !math.IsInf(f, 1) }

// UnknownEdge is an edge that sent health reports while the edge table
// held no edge of its id: its key verified (EDGE_HMAC_KEYS knows it) but
// nobody created the edge, or it was deleted while it still runs. Its
// reports cannot be applied; they are counted here for the operator.
type UnknownEdge struct {
	ID            string    `json:"id"`
	FirstReportAt time.Time `json:"first_report_at"`
	LastReportAt  time.Time `json:"last_report_at"`
	Reports       int64     `json:"reports"`
}

// MaxUnknownEdges bounds the unknown edges a store keeps: past it, the one
// heard from least recently is forgotten.
const MaxUnknownEdges = 100

// NoteUnknownEdge adds reports reports from edge id, the newest at at, to
// list (newest LastReportAt first) and returns the list in the same order,
// at most MaxUnknownEdges long. It is the rule every store applies.
func NoteUnknownEdge(list []UnknownEdge, id string, at time.Time, reports int64) []UnknownEdge {
	at = at.UTC()
	i := slices.IndexFunc(list, func(u UnknownEdge) bool { return u.ID == id })
	if i < 0 {
		list = append(list, UnknownEdge{ID: id, FirstReportAt: at, LastReportAt: at})
		i = len(list) - 1
	}
	u := &list[i]
	u.Reports += reports
	if at.After(u.LastReportAt) {
		u.LastReportAt = at
	}
	if at.Before(u.FirstReportAt) {
		u.FirstReportAt = at
	}
	slices.SortStableFunc(list, func(a, b UnknownEdge) int {
		if c := b.LastReportAt.Compare(a.LastReportAt); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
	if len(list) > MaxUnknownEdges {
		list = list[:MaxUnknownEdges]
	}
	return list
}
