package pickedge

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"github.com/playplane/playplane/events"
	"github.com/playplane/playplane/shared/httpx"
	"github.com/playplane/playplane/shared/playback"
)

// HealthAccepted is the answer to an accepted health report.
type HealthAccepted struct {
	EdgeID string `json:"edge_id"`
	Status string `json:"status"` // "accepted": queued, applied shortly
}

// edgeHealth is POST /v1/edges/health.
//
// Errors: 401 unknown edge, bad, stale or missing signature; 403 a body
// for another edge than X-Edge-Id; 413 body over MaxReportBody; 400 a body
// that is not a valid report (report_clock_skew: the edge's clock is more
// than playback.MaxEdgeReportSkew off, which an operator must fix); 503
// the bus is down (retrying is safe). A refused report publishes nothing.
func (s *Server) edgeHealth(w http.ResponseWriter, r *http.Request) error {
	now := s.deps.Now()
	edgeID := r.Header.Get(HeaderEdgeID)
	sig, err := s.verifier.checkHeaders(edgeID, r.Header.Get(HeaderEdgeSignature), now)
	if err != nil {
		return err
	}
	if err := httpx.CheckJSONContentType(r); err != nil {
		return err
	}
	if r.ContentLength > s.cfg.MaxReportBody {
		return playback.Errorf(playback.CodeTooLarge, "body_too_large", "request body exceeds %d bytes", s.cfg.MaxReportBody)
	}
	body, err := httpx.ReadBody(r, s.cfg.MaxReportBody)
	if err != nil {
		return err
	}
	if err := s.verifier.checkBody(edgeID, sig, body); err != nil {
		return err
	}
	report, err := readReport(body)
	if err != nil {
		return err
	}
	if err := report.Validate(now); err != nil {
		return err
	}
	if report.EdgeID != edgeID {
		return playback.Errorf(playback.CodeForbidden, reasonEdgeMismatch,
			"edge %q may only report on itself, not on %q", edgeID, report.EdgeID)
	}
	// Without HTML escapes ('&' as \u0026): the message must be no larger
	// than the body, which New held to the bus's message limit.
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(events.NewEdgeHealth(report, now.UTC())); err != nil {
		return fmt.Errorf("pickedge: encoding edge health: %w", err)
	}
	data := bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
	if err := s.deps.Bus.Publish(r.Context(), events.TopicEdgeHealth, playback.Message{Data: data}); err != nil {
		if playback.ErrorCode(err).Retryable() {
			return playback.Unavailable(err, "edge health queue unavailable")
		}
		return fmt.Errorf("pickedge: publish edge health: %w", err)
	}
	httpx.WriteJSON(w, http.StatusAccepted, HealthAccepted{EdgeID: edgeID, Status: "accepted"})
	return nil
}

// reportBody is a health report as its body carries it: reported_at, a
// date-time the edge wrote, read by the schemas' rule
// (playback.DateTimeMember) rather than time.Time's JSON decoding, which
// refuses the lower-case t and z RFC 3339 allows and has no reason of its
// own for a leap second. The field hides the report's own.
type reportBody struct {
	playback.EdgeReport
	ReportedAt *string `json:"reported_at"`
}

// readReport is the report in body, strictly decoded.
func readReport(body []byte) (playback.EdgeReport, error) {
	var b reportBody
	if err := httpx.Unmarshal(body, &b); err != nil {
		return playback.EdgeReport{}, err
	}
	report := b.EdgeReport
	if b.ReportedAt != nil { // absent or null: Validate says it is required
		at, err := playback.DateTimeMember("/reported_at", *b.ReportedAt)
		if err != nil {
			return playback.EdgeReport{}, err
		}
		report.ReportedAt = at
	}
	return report, nil
}

// consume applies health reports to the edge table. Within a batch only
// each edge's newest report is written: Apply would ignore the older ones
// anyway. Reports for edges not in the table cannot create one (edges are
// configuration): they are counted in the store's unknown edges, which
// operators list (GET /v1/admin/unknown-edges), logged and acknowledged.
func (s *Server) consume(ctx context.Context, msgs []playback.Message) (retry []string) {
	log := httpx.Logger(ctx)
	type latest struct {
		report     playback.EdgeReport
		receivedAt time.Time
		msgID      string
		reports    int64 // of this edge in the batch
	}
	newest := make(map[string]latest, len(msgs))
	order := make([]string, 0, len(msgs))
	for _, m := range msgs {
		var ev events.EdgeHealth
		if err := json.Unmarshal(m.Data, &ev); err != nil {
			log.ErrorContext(ctx, "dropping malformed edge health message", "message_id", m.ID, "err", err)
			continue
		}
		report := ev.Report()
		at := ev.ReceivedAt
		if at.IsZero() {
			at = m.PublishTime
		}
		if err := report.Validate(at); err != nil {
			log.ErrorContext(ctx, "dropping invalid edge health report", "message_id", m.ID, "edge_id", ev.EdgeID, "err", err)
			continue
		}
		cur, seen := newest[report.EdgeID]
		if !seen {
			order = append(order, report.EdgeID)
		}
		if !seen || report.ReportedAt.After(cur.report.ReportedAt) {
			cur.report, cur.receivedAt, cur.msgID = report, at, m.ID
		}
		cur.reports++
		newest[report.EdgeID] = cur
	}
	applied := 0
	for _, id := range order {
		l := newest[id]
		changed := false
		_, err := s.deps.Store.UpdateEdge(ctx, id, func(e *playback.Edge) error {
			next, ok := e.Apply(l.report, l.receivedAt)
			changed = ok // the last run is the one that was written
			if !ok {
				return playback.ErrNoChange
			}
			*e = next
			return nil
		})
		switch {
		case err == nil:
			if changed {
				applied++
			}
		case playback.IsCode(err, playback.CodeNotFound):
			log.WarnContext(ctx, "health report for an edge not in the table", "message_id", l.msgID, "edge_id", id, "reports", l.reports)
			if err := s.deps.Store.NoteUnknownEdge(ctx, id, l.report.ReportedAt, l.reports); err != nil {
				// The operator's list misses these reports; redelivering
				// the batch to count them is not worth re-applying it.
				log.ErrorContext(ctx, "recording a report of an unknown edge", "edge_id", id, "err", err)
			}
		case playback.ErrorCode(err).Retryable():
			log.ErrorContext(ctx, "applying edge health report; will retry", "message_id", l.msgID, "edge_id", id, "err", err)
			retry = append(retry, l.msgID)
		default:
			log.ErrorContext(ctx, "dropping edge health report the store refused", "message_id", l.msgID, "edge_id", id, "err", err)
		}
	}
	if applied > 0 {
		s.Invalidate()
	}
	return retry
}
