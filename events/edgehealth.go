package events

import (
	"time"

	"github.com/playplane/playplane/shared/playback"
)

// EdgeHealth is the message on TopicEdgeHealth (schemas/edge-health.json):
// one health report whose HMAC was checked against the key of the edge it
// names. The request body it comes from is a playback.EdgeReport
// (schemas/edge-health-report.json).
//
// Messages carry no ordering key: the consumer applies a report only when it
// is newer than the edge's current state (playback.Edge.Apply), so reports
// delivered late, twice or out of order change nothing.
type EdgeHealth struct {
	playback.EdgeReport
	// ReceivedAt is the server clock when the report was accepted: the
	// consumer validates the report as of that moment, so a delivery
	// delayed by retries is not refused as stale or early.
	ReceivedAt time.Time `json:"received_at"`
}

// NewEdgeHealth is the message for report r accepted at receivedAt.
func NewEdgeHealth(r playback.EdgeReport, receivedAt time.Time) EdgeHealth {
	return EdgeHealth{EdgeReport: r, ReceivedAt: receivedAt}
}

// Report is the health report the message carries.
func (h EdgeHealth) Report() playback.EdgeReport { return h.EdgeReport }
