// Package model is playplane's load and cost model: what one viewer's
// sessions ask of the functions (calls, store operations, bus messages),
// what each of those costs in billing units on AWS (API Gateway HTTP API,
// Lambda, SQS, DynamoDB on demand, CloudWatch Logs) and on GCP (load
// balancer, Cloud Functions gen2, Pub/Sub, Firestore, Cloud Logging), and
// the rates at which per-key and per-service limits are reached.
//
// The per-call store operations are read from the code (functions/*, the
// adapters in shared/dynamo and shared/firestore) and checked by the
// simulator (cmd/scalemodel/sim), which replays sessions through the real
// functions and counts what they do. docs/scale.md explains every figure.
package model

import (
	"math"
	"time"
)

// Workload is what players do and how the deployment is configured. The
// zero value is not useful: start from Defaults.
type Workload struct {
	// MeanSession is the mean length of a viewing session; lengths are
	// uniform on [0.5, 1.5] × MeanSession (the simulator draws them so).
	MeanSession time.Duration
	// HeartbeatInterval is HEARTBEAT_INTERVAL: players beat at start, every
	// interval after it, and once at stop.
	HeartbeatInterval time.Duration
	// LeaseTTL (LEASE_TTL) and LeaseRenewSlack (HEARTBEAT_LEASE_RENEW_SLACK):
	// a heartbeat skips the lease write while the last one is at most
	// slack old (playback.Session.LeaseFresh).
	LeaseTTL        time.Duration
	LeaseRenewSlack time.Duration
	// SteeringTTL is STEERING_TTL (the Content Steering manifest's
	// TTL, 300 s): players reload the steering manifest that often.
	SteeringTTL time.Duration
	// GrantGrace (SIGNURL_GRACE) and GrantMaxTTL (SIGNURL_MAX_TTL) bound
	// the CDN credentials: they end at lease end + grace, at most MaxTTL
	// after signing. Players ask signurl again before they run out.
	GrantGrace  time.Duration
	GrantMaxTTL time.Duration
	// GrantRefreshMargin is how long before expires_at a player asks again.
	GrantRefreshMargin time.Duration
	// ManifestFetches is the personalized manifests a player loads at
	// start: the HLS multivariant playlist and two media playlists
	// (the first rendition and one ABR switch).
	ManifestFetches float64
	// NewDeviceShare is the share of plays from a device the account has
	// not registered yet (authorizeplay registers it: one account update).
	NewDeviceShare float64
	// ConsumerBatch is the SQS event source mapping's BatchSize for the
	// heartbeats queue (template.yaml: 10, window 1 s). On GCP each
	// Pub/Sub push delivers one message (shared/pubsub/push.CloudEventHandler).
	ConsumerBatch int
	// ConsumerParallelism is HEARTBEAT_CONSUMER_PARALLELISM: sessions of a
	// batch written at once.
	ConsumerParallelism int
	// PlanCacheTTL is PLAN_CACHE_TTL: authorizeplay and signurl read a
	// plan through a per-instance cache (playback.PlanCache), so a warm
	// instance reads each plan at most once per TTL, whatever its traffic.
	PlanCacheTTL time.Duration
}

// Defaults are the shipped settings and a 45-minute mean session.
func Defaults() Workload {
	return Workload{
		MeanSession:         45 * time.Minute,
		HeartbeatInterval:   30 * time.Second,
		LeaseTTL:            2 * time.Minute,
		LeaseRenewSlack:     20 * time.Second,
		SteeringTTL:         300 * time.Second,
		GrantGrace:          30 * time.Second,
		GrantMaxTTL:         10 * time.Minute,
		GrantRefreshMargin:  15 * time.Second,
		ManifestFetches:     3,
		NewDeviceShare:      0.05,
		ConsumerBatch:       10,
		ConsumerParallelism: 8,
		PlanCacheTTL:        30 * time.Second,
	}
}

// LeaseWriteEvery is how many periodic heartbeats share one lease write:
// a beat skips the write while now - last write <= slack, so the m-th beat
// after a write writes, m = floor(slack/interval) + 1. Without slack every
// beat writes.
func (w Workload) LeaseWriteEvery() int {
	if w.LeaseRenewSlack <= 0 {
		return 1
	}
	return int(w.LeaseRenewSlack/w.HeartbeatInterval) + 1
}

// GrantRefresh is how often a playing player asks signurl for fresh
// credentials: a grant signed when the lease was last written up to one
// lease-write period ago lasts min(lease end + grace, now + MaxTTL), and
// the player asks GrantRefreshMargin before that.
func (w Workload) GrantRefresh() time.Duration {
	writeLag := time.Duration(w.LeaseWriteEvery()) * w.HeartbeatInterval
	life := min(w.LeaseTTL+w.GrantGrace-writeLag, w.GrantMaxTTL)
	return max(life-w.GrantRefreshMargin, 30*time.Second)
}

// Repeats is the expected number of periodic events k*period (k >= 1)
// strictly inside a session whose length is uniform on [0.5, 1.5] × mean:
// E[ceil(L/period) - 1], about mean/period - 1/2 — a player stops before
// its next reload.
func (w Workload) Repeats(period time.Duration) float64 {
	if period <= 0 {
		return 0
	}
	const n = 4000
	lo, hi := 0.5*w.MeanSession.Seconds(), 1.5*w.MeanSession.Seconds()
	p := period.Seconds()
	var sum float64
	for i := range n {
		l := lo + (hi-lo)*(float64(i)+0.5)/n
		sum += math.Ceil(l/p) - 1
	}
	return sum / n
}

// SessionsPerViewerHour is how many sessions one viewer-hour holds.
func (w Workload) SessionsPerViewerHour() float64 {
	return time.Hour.Seconds() / w.MeanSession.Seconds()
}
