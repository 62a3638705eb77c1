package events

import (
	"time"

	"github.com/playplane/playplane/shared/playback"
)

// Heartbeat events a player sends.
const (
	HeartbeatStart    = "start"
	HeartbeatProgress = "progress"
	HeartbeatPause    = "pause"
	HeartbeatStop     = "stop"
	HeartbeatError    = "error"
)

// HeartbeatRequest is the body of POST /v1/playback/{session_id}/heartbeat
// (schemas/heartbeat-request.json). Decode it with DecodeHeartbeatRequest:
// it is strict like encoding/json with DisallowUnknownFields and about ten
// times cheaper. DurationMS and PositionMS both 0 (or absent) is a
// heartbeat without a position, which a player sends before its first
// frame: only start, stop and error may, and it writes no resume position.
type HeartbeatRequest struct {
	Event      string    `json:"event"`
	PositionMS int64     `json:"position_ms"`
	DurationMS int64     `json:"duration_ms"`
	DeviceTime time.Time `json:"device_time"` // RFC 3339, the player's clock
	// QoE carries the player's CMCD-named figures; counters are cumulative
	// for the session.
	QoE playback.QoE `json:"qoe"`
	// oldNames has the bit of each deprecatedQoE member the request gave
	// under its deprecated name (DecodeHeartbeatRequest).
	oldNames uint8
}

// deprecatedQoE are the qoe members still read under their names of
// before the CMCD v2 collector, for one version, as the decoder names
// them in its refusals: the member's current field, then its deprecated
// one. The decoder's case of each member (jsonDecoder.qoe) reads both
// names and asks renamed which it was given, so that this table alone
// decides the oldNames bits and the names refusals use (the case labels
// spell both names again, as a switch must).
var deprecatedQoE = [...]struct{ field, oldField string }{
	{"qoe.startup_ms", "qoe.su"}, {"qoe.rebuffer_count", "qoe.rc"}, {"qoe.rebuffer_ms", "qoe.rd"}, {"qoe.played_ms", "qoe.pd"},
}

// QoEMember is the name the request gave qoe member name (a current name,
// such as rebuffer_ms) under: its deprecated name when the request used
// that, so that a refusal of its value names what the player sent, as
// the decoder's own refusals do.
func (r *HeartbeatRequest) QoEMember(name string) string {
	for i, m := range deprecatedQoE {
		if m.field[len("qoe."):] == name && r.oldNames&(1<<i) != 0 {
			return m.oldField[len("qoe."):]
		}
	}
	return name
}

// Heartbeat is the message on TopicHeartbeats (schemas/heartbeat.json): one
// accepted heartbeat with the session's identity taken from the lease
// record, not from the player. OrderingKey is the session id.
type Heartbeat struct {
	SessionID  string       `json:"session_id"`
	AccountID  string       `json:"account_id"`
	TitleID    string       `json:"title_id"`
	DeviceID   string       `json:"device_id"`
	Event      string       `json:"event"`
	PositionMS int64        `json:"position_ms"`
	DurationMS int64        `json:"duration_ms"`
	DeviceTime time.Time    `json:"device_time"`
	QoE        playback.QoE `json:"qoe"` // qoe.edge names the edge that served the last segment
	// ReceivedAt is the server clock when the heartbeat was accepted and
	// SessionStartedAt when its lease was taken: together they bound how much
	// play and stall time the heartbeat can plausibly claim.
	ReceivedAt       time.Time `json:"received_at"`
	SessionStartedAt time.Time `json:"session_started_at"`

	// The fields below are set on heartbeats the CMCD v2 collector made
	// of event-mode reports (Source "cmcd"). CMCD carries no content
	// duration (duration_ms is 0) and carries the playhead only as pt,
	// which not every player sends: for PositionUnknown reports the
	// consumer moves the resume position by the play time their e, sta
	// and ts tell (schemas/cmcd.md, "Resume position without pt").
	// CMCDEvent and CMCDState are the report's e and sta, from which the
	// consumer also counts stalls and play time; StarvationMS is its bsd.
	// PositionUnknown without a Source is a player's heartbeat without a
	// position (HeartbeatRequest): position_ms and duration_ms are 0, and
	// the resume position is left alone.
	Source          string `json:"source,omitempty"`
	PositionUnknown bool   `json:"position_unknown,omitempty"`
	CMCDEvent       string `json:"cmcd_e,omitempty"`
	CMCDState       string `json:"cmcd_sta,omitempty"`
	StarvationMS    int64  `json:"cmcd_bsd,omitempty"`

	// The viewer, from the playback token's claims (playback.Viewer), for
	// the QoE breakdowns: ISO 3166-1 alpha-2 country, autonomous system
	// number and device type; absent when unknown.
	Country    string `json:"country,omitempty"`
	ASN        uint32 `json:"asn,omitempty"`
	DeviceType string `json:"device_type,omitempty"`

	// LeaseExpiresAt is when the session's lease runs out as the accepted
	// heartbeat left it: the expiry the store holds once the heartbeat
	// renewed it, or found no renewal due inside the write slack (what
	// the response tells the player as lease_expires_at); after a stop,
	// when the session ended. Past the latest a session's messages carry,
	// no heartbeat can start its view, so that is when the QoE views (the
	// consumer's and the warehouse's, which cannot read LEASE_TTL) time a
	// silent view out. Zero, absent, on messages from before it existed.
	// Last, so that the warehouse tables derived from this struct
	// (infra/stack) gain it as an appended column, BigQuery's in-place
	// schema change.
	LeaseExpiresAt time.Time `json:"lease_expires_at,omitzero"`
}

// MessageTimeUnit is the finest a Heartbeat's times are written to. The
// QoE warehouses keep them as the RFC 3339 strings the message carries and
// parse them in the query (docs/qoe), and BigQuery's TIMESTAMP holds
// microseconds: it refuses a string with more than six fractional digits,
// where time.Time writes up to nine.
const MessageTimeUnit = time.Microsecond

// SourceCMCD marks heartbeats made of CMCD v2 event-mode reports.
const SourceCMCD = "cmcd"

// MaxHeartbeatMessageBytes bounds an encoded Heartbeat. The ingest checks
// every message against it, so a full batch stays within the services'
// limits: 10 × 2 KiB ≪ SQS's 1 MiB and 1,000 × 2 KiB ≪ Pub/Sub's 10 MB.
const MaxHeartbeatMessageBytes = 2 << 10

// Batch limits of the queues that carry heartbeats.
const (
	SQSMaxBatchMessages    = 10
	SQSMaxBatchBytes       = 1 << 20
	PubSubMaxBatchMessages = 1000
	PubSubMaxBatchBytes    = 10_000_000
)
