package model

import (
	"maps"
	"slices"
	"strings"
	"time"
)

// Routes a viewer's player calls (catalog route keys).
const (
	RoutePlay     = "POST /v1/play"
	RouteProgress = "GET /v1/progress"
	RouteURLs     = "POST /v1/playback/{session_id}/urls"
	// RouteManifests stands for the personalized manifest routes
	// (/hls, /hls/{pathway}/{rendition}, /dash): one function, the same reads.
	RouteManifests = "GET /v1/manifests/{session_id}/..."
	RouteSteering  = "GET /v1/steering/{session_id}"
	RouteHeartbeat = "POST /v1/playback/{session_id}/heartbeat"
)

// Kinds of work the model prices. A Step is one HTTP call or one bus
// delivery, with the store methods it calls (the playback.Store method
// names, as shared/roundtrip records them) and the messages it publishes.
type Step struct {
	Name string
	// Route is the HTTP route, "" for a consumer delivery.
	Route     string
	Function  string
	Store     []string
	Publishes int
	// Overlap is the store calls of Store made beside another one (side
	// by side, one round trip of latency for all): they cost units but
	// add no latency.
	Overlap float64
}

// Steps of a session, read from the code:
//   - play: authorizeplay.play reads the account with its leases
//     (ReadAdmission) and the title side by side, the plan through its
//     playback.PlanCache (priced per instance, see PlanLoadsPerInstance),
//     and acquires the lease on that read (conditioned on the account as
//     read), which registers an unknown device in the same transaction
//     (the account written instead of checked: priced alike, so the
//     registration step calls nothing of its own); a registered device's
//     play writes the account the same way once its last play is a day
//     old (playback.LastPlayedStep: about one play per device per day), so
//     it is priced alike and counted nowhere; its answer carries the
//     personalized manifests too;
//   - progress: heartbeat.progress reads the resume position;
//   - urls and every personalized manifest: signurl.sessionLadder reads
//     the session, the title and the account side by side, the plan
//     through its cache;
//   - steering: pickedge reads the session (the edge table is cached);
//   - heartbeats: with slack, holdLease calls RenewLease, which reads the
//     session and writes the lease only when it is not fresh (without
//     slack, ExtendLease); a beat inside the slack that the instance's
//     lease cache answers calls nothing (at the default 30 s interval and
//     20 s slack, periodic beats are all outside it); a writing renewal on
//     the instance that renewed the session last writes without reading
//     (the adapters' lease memo), which the unit table prices; stop reads the session and ends it; every beat
//     publishes one message;
//   - the consumer, per message (AWS and GCP wire no Deps.Batch and no
//     Deps.QoE, and at a 30 s interval a batch never holds two beats of
//     one session): SaveProgress, GetSessionQoE, SaveSessionQoE.
var (
	StepPlay           = Step{Name: "play", Route: RoutePlay, Function: "authorizeplay", Store: []string{"ReadAdmission", "GetTitle", "AcquireLease"}, Overlap: 1}
	StepRegisterDevice = Step{Name: "device registration (in play)", Function: "authorizeplay"}
	StepProgress       = Step{Name: "resume position", Route: RouteProgress, Function: "heartbeat", Store: []string{"GetProgress"}}
	StepURLs           = Step{Name: "urls (start and refresh)", Route: RouteURLs, Function: "signurl", Store: []string{"GetSession", "GetTitle", "GetAccount"}, Overlap: 2}
	StepManifest       = Step{Name: "personalized manifest", Route: RouteManifests, Function: "signurl", Store: []string{"GetSession", "GetTitle", "GetAccount"}, Overlap: 2}
	StepSteering       = Step{Name: "steering reload", Route: RouteSteering, Function: "pickedge", Store: []string{"GetSession"}}
	StepBeatFresh      = Step{Name: "heartbeat, lease fresh", Route: RouteHeartbeat, Function: "heartbeat", Store: []string{"RenewLease"}, Publishes: 1}
	StepBeatWrite      = Step{Name: "heartbeat, lease written", Route: RouteHeartbeat, Function: "heartbeat", Store: []string{RenewLeaseWritten}, Publishes: 1}
	StepBeatNoSlack    = Step{Name: "heartbeat, no slack", Route: RouteHeartbeat, Function: "heartbeat", Store: []string{"ExtendLease"}, Publishes: 1}
	StepBeatStop       = Step{Name: "heartbeat stop", Route: RouteHeartbeat, Function: "heartbeat", Store: []string{"GetSession", "EndSession"}, Publishes: 1}
	StepConsume        = Step{Name: "heartbeat consumer (per message)", Function: "heartbeat", Store: []string{"SaveProgress", "GetSessionQoE", "SaveSessionQoE"}}
)

// RenewLeaseWritten is the unit table's entry for a RenewLease that writes
// the lease (outside the slack); a plain "RenewLease" entry only reads.
// Both count as the store method RenewLease (MethodOf).
const RenewLeaseWritten = "RenewLease+write"

// StoreMethod is the model's name of a store method a replay saw called.
// A heartbeat renews by RenewHeldLease where its playback token carries the
// lease (DynamoDB: one conditional transaction, no read first) and by
// RenewLease elsewhere; the model prices both as RenewLease's entries. A
// writing renewal is one transaction either way; DynamoDB's fresh answer
// on the held path (the start beat, which follows play at once) is a
// refused conditional write where the model prices a read: one beat per
// session.
func StoreMethod(name string) string {
	if name == "RenewHeldLease" {
		return "RenewLease"
	}
	return name
}

// MethodOf is the store method of a unit table entry.
func MethodOf(op string) string {
	m, _, _ := strings.Cut(op, "+")
	return m
}

// StartBeats are the start heartbeats of a session: the web player says
// start without a position as soon as its play is admitted (a view that
// dies before its first frame still exists), then with its position at
// the first frame.
const StartBeats = 2

// Count is how often a Step happens per session.
type Count struct {
	Step Step
	N    float64
}

// PerSession is the steps of one average session.
func (w Workload) PerSession() []Count {
	beats := w.Repeats(w.HeartbeatInterval) // periodic beats after start
	m := w.LeaseWriteEvery()
	writes := w.Repeats(w.HeartbeatInterval * time.Duration(m))
	out := []Count{
		{StepPlay, 1},
		{StepRegisterDevice, w.NewDeviceShare},
		{StepProgress, 1},
		{StepURLs, 1 + w.Repeats(w.GrantRefresh())},
		// The multivariant playlist and the media playlists are one
		// function doing the same reads; the simulator counts both routes.
		{StepManifest, w.ManifestFetches},
		// One steering load at start, then one every TTL.
		{StepSteering, 1 + w.Repeats(w.SteeringTTL)},
	}
	if w.LeaseRenewSlack > 0 {
		// The start beats follow play within seconds: the lease is fresh.
		// The first frame's may find the lease in the instance's cache and
		// call nothing; it is priced as the read it makes elsewhere.
		out = append(out, Count{StepBeatFresh, StartBeats + beats - writes}, Count{StepBeatWrite, writes})
	} else {
		out = append(out, Count{StepBeatNoSlack, StartBeats + beats})
	}
	out = append(out, Count{StepBeatStop, 1}, Count{StepConsume, StartBeats + beats + 1})
	return out
}

// Totals sums per-session counts by route, store method and publishes.
type Totals struct {
	Routes    map[string]float64
	Store     map[string]float64
	Publishes float64
	Consumed  float64
}

// Sum adds counts up.
func Sum(counts []Count) Totals {
	t := Totals{Routes: map[string]float64{}, Store: map[string]float64{}}
	for _, c := range counts {
		if c.Step.Route != "" {
			t.Routes[c.Step.Route] += c.N
		}
		if c.Step.Name == StepConsume.Name {
			t.Consumed += c.N
		}
		for _, op := range c.Step.Store {
			t.Store[MethodOf(op)] += c.N
		}
		t.Publishes += c.N * float64(c.Step.Publishes)
	}
	return t
}

// StoreOps lists the store methods of t, sorted.
func (t Totals) StoreOps() []string { return slices.Sorted(maps.Keys(t.Store)) }
