package telemetry

import (
	"context"
	"math"
	"net/http"
	"time"
)

// WithSDKRequestHistogram returns o asking Setup to leave the request
// histogram to the SDK's instrument, for the tests comparing the two.
func WithSDKRequestHistogram(o Options) Options {
	o.sdkRequestHistogram = true
	return o
}

// OwnsRequestHistogram reports whether p aggregates the request
// histogram itself.
func OwnsRequestHistogram(p *Provider) bool {
	return p.rt != nil && p.rt.inst != nil && p.rt.inst.reqHist != nil
}

// DriftRequestHistogram breaks p's own request histogram on purpose (each
// measurement lands one bucket up, the last bucket staying the last), to
// show that a comparison catches it: the boundaries a measurement is
// looked up in move one place up behind a -Inf, while the reported ones
// (and the exemplars') stay. Call it before any measurement.
func DriftRequestHistogram(p *Provider) {
	h := p.rt.inst.reqHist
	h.search = append([]float64{math.Inf(-1)}, h.bounds[:len(h.bounds)-1]...)
}

// RecordRequestDuration records a request duration as Request.End does,
// with a given value instead of the time elapsed, over plain http.
func RecordRequestDuration(ctx context.Context, method, route string, status int, seconds float64) {
	current().recordDuration(ctx, method, "http", route, status, seconds)
}

// EndRequestAfter is q.End(w, r, nil) with the request lasting seconds.
func EndRequestAfter(q Request, w StatusWriter, r *http.Request, seconds float64) {
	q.end(w, r, nil, seconds)
}

// SetEMFClock fixes the time p's EMF lines are stamped with.
func SetEMFClock(p *Provider, now func() time.Time) {
	p.emf.now = now
}
