package admin

import (
	"net/http"
	"time"

	"github.com/playplane/playplane/shared/auth"
	"github.com/playplane/playplane/shared/httpx"
	"github.com/playplane/playplane/shared/playback"
)

// DefaultQoERange is what GET /v1/admin/qoe covers without from: the last
// day of hours up to to.
const DefaultQoERange = 24 * time.Hour

// QoEResponse is GET /v1/admin/qoe: the hourly aggregates of the views
// (plays: playback.QoEPlays) that started in [from, to), broken down by dimension, and the same over
// the whole range (Totals, whose Hour is From), for breakdown tables:
// percentiles do not add up across hours, so they are computed again.
type QoEResponse struct {
	Dimension  playback.QoEDimension   `json:"dimension"`
	From       time.Time               `json:"from"`
	To         time.Time               `json:"to"`
	Views      int                     `json:"views"`
	Aggregates []playback.QoEAggregate `json:"aggregates"`
	Totals     []playback.QoEAggregate `json:"totals"`
}

// qoe is GET /v1/admin/qoe?from=&to=&dimension=. from and to are RFC 3339
// times taken to their hour (from down, to up), to defaulting to the end of
// the current hour and from to DefaultQoERange before to; dimension is one
// of playback.QoEDimensions, cdn by default.
func (s *Server) qoe(w http.ResponseWriter, r *http.Request, _ auth.Identity) error {
	if s.deps.QoE == nil {
		return playback.Errorf(playback.CodeNotFound, "qoe_not_kept_here",
			"this deployment keeps QoE views in its warehouse (Athena or BigQuery); query it with docs/qoe/*.sql")
	}
	q := r.URL.Query()
	bad := func(field, format string, args ...any) error {
		e := playback.Errorf(playback.CodeInvalid, field+"_invalid", format, args...)
		e.Details = map[string]string{"field": field}
		return e
	}
	for _, field := range []string{"dimension", "from", "to"} {
		if len(q[field]) > 1 {
			// Which one was meant is anyone's guess.
			return bad(field, "%s may be given once, got %q", field, q[field])
		}
	}
	dim := playback.QoEDimension(q.Get("dimension"))
	if dim == "" {
		dim = playback.QoEByCDN
	}
	if !dim.Valid() {
		return bad("dimension", "dimension must be one of %v, got %q", playback.QoEDimensions, dim)
	}
	to := s.deps.Now().UTC().Truncate(time.Hour).Add(time.Hour)
	if v := q.Get("to"); v != "" {
		t, err := playback.ParseDateTime(v)
		if err != nil {
			return bad("to", "to must be an RFC 3339 time: %v", err)
		}
		to = t.UTC()
		if h := to.Truncate(time.Hour); !h.Equal(to) {
			to = h.Add(time.Hour)
		}
		if to.Year() > 9999 {
			// RFC 3339 (and so the answer's JSON) has four-digit years.
			return bad("to", "to taken up to its hour must be before year 10000, got %q", v)
		}
	}
	from := to.Add(-DefaultQoERange)
	if v := q.Get("from"); v != "" {
		t, err := playback.ParseDateTime(v)
		if err != nil {
			return bad("from", "from must be an RFC 3339 time: %v", err)
		}
		from = t.UTC().Truncate(time.Hour)
	}
	// RFC 3339 (and so the answer's JSON) has no year before 0: an offset
	// takes a time given in year 0 into year -1 in UTC, and from's default
	// falls before year 0 for a to within its range after it.
	switch {
	case to.Year() < 0:
		return bad("to", "to in UTC must be in year 0 or after, got %q", q.Get("to"))
	case from.Year() < 0 && q.Get("from") != "":
		return bad("from", "from in UTC must be in year 0 or after, got %q", q.Get("from"))
	case from.Year() < 0:
		return bad("to", "to must be at least %s after the start of year 0, from's default before it; got %q", DefaultQoERange, q.Get("to"))
	}
	switch {
	case !from.Before(to):
		return bad("from", "from %s must be before to %s", from.Format(time.RFC3339), to.Format(time.RFC3339))
	case to.Sub(from) > playback.MaxQoERange:
		return bad("from", "from and to may be at most %s apart", playback.MaxQoERange)
	}
	// The store keeps a view per session; a play that went on across
	// re-authorizations is one view, of the hour its first session
	// started. Read a page at a time, the route holds the plays sessions
	// may still join and the figures, not the range's views.
	now := s.deps.Now()
	byHour, totals := playback.NewQoEAggregator(dim, now), playback.NewQoEAggregator(dim, now)
	views := 0
	err := playback.StreamQoEPlays(r.Context(), s.deps.QoE, from, to, playback.QoEPageViews, func(v playback.QoEView) {
		views++
		byHour.Add(v)
		v.Hour = from // the totals are one bucket, the range's
		totals.Add(v)
	})
	if err != nil {
		return err
	}
	resp := QoEResponse{Dimension: dim, From: from, To: to, Views: views, Aggregates: byHour.Aggregates(), Totals: totals.Aggregates()}
	httpx.WriteJSON(w, http.StatusOK, resp)
	return nil
}
