// Package heartbeat records playback heartbeats. The request path is kept
// tiny — authenticate the playback token, decode and validate the body, keep
// the session's lease alive, enqueue — and a bus consumer does the writes in
// batches: the resume position per account and title, QoE per session and,
// behind EDGE_QOE_FEEDBACK, QoE per edge for steering to rank by.
package heartbeat

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/playplane/playplane/events"
	"github.com/playplane/playplane/shared/auth"
	"github.com/playplane/playplane/shared/depcheck"
	"github.com/playplane/playplane/shared/httpx"
	"github.com/playplane/playplane/shared/playback"
)

// Config is read from the environment.
type Config struct {
	// LeaseTTL is the lease length a heartbeat renews; a player that stops
	// heartbeating frees its stream slot after at most this long. Shared
	// with authorize play.
	LeaseTTL time.Duration `env:"LEASE_TTL, default=2m"`
	// LeaseRenewSlack lets a heartbeat skip the lease write when the lease
	// already runs until at least now+LeaseTTL-LeaseRenewSlack and the
	// session was last recorded seen at most LeaseRenewSlack ago (so the
	// last_seen_at of session listings trails heartbeats by at most that;
	// see playback.Session.LeaseFresh): bursts of
	// heartbeats (start, pause, seek, right after the play call) then cost
	// one read instead of one write each, while every accepted heartbeat
	// still leaves at least LeaseTTL-LeaseRenewSlack on the lease. Revocation
	// is seen at once either way when LeaseCache is off, since the session
	// is read every time. Zero writes on every heartbeat.
	LeaseRenewSlack time.Duration `env:"HEARTBEAT_LEASE_RENEW_SLACK, default=20s"`
	// LeaseCache answers heartbeats whose lease is inside the write slack
	// from what this instance last read of the session, with no store
	// round trip. The price is revocation staleness: an end written by
	// another function or instance (DELETE, entitlement loss, replacement,
	// device removal) is seen at most LeaseRenewSlack late, by the first
	// heartbeat that must renew the lease; ends this instance wrote (stop)
	// are seen at once. Off, every heartbeat reads the session.
	LeaseCache bool `env:"HEARTBEAT_LEASE_CACHE, default=true"`
	// Interval is the heartbeat period players are told to keep.
	Interval time.Duration `env:"HEARTBEAT_INTERVAL, default=30s"`
	// MaxBody caps a heartbeat body. The CMCD collector's bound is
	// events.MaxCMCDBodyBytes, sized from what players flush at once.
	MaxBody int64 `env:"HEARTBEAT_MAX_BODY, default=4096"`
	// MaxClockSkew is how far ahead of the server a device clock may run: a
	// device_time further in the future would shadow every honest
	// heartbeat of the title until the wall clock caught up with it.
	MaxClockSkew time.Duration `env:"HEARTBEAT_MAX_CLOCK_SKEW, default=2m"`
	// MaxAge refuses device times this far behind the server: such a clock
	// is broken, and its heartbeats could never win the device-time gate.
	MaxAge time.Duration `env:"HEARTBEAT_MAX_AGE, default=24h"`
	// EdgeQoEFeedback folds per-session QoE deltas into the edge table's
	// RebufferRatio and ThroughputKbps, which steering ranks by when its own
	// QoE switch is on.
	EdgeQoEFeedback bool `env:"EDGE_QOE_FEEDBACK, default=false"`
	// EdgeQoEWindow is the amount of viewing (play plus stall time) over
	// which an edge's QoE figures decay: an exponentially weighted average
	// where a sample's weight is the viewing time it covers.
	EdgeQoEWindow time.Duration `env:"EDGE_QOE_WINDOW, default=1h"`
	// ConsumerParallelism bounds the sessions of one batch written at once.
	ConsumerParallelism int `env:"HEARTBEAT_CONSUMER_PARALLELISM, default=8"`
	// StopGrace is how long after a session ended (DELETE, entitlement,
	// replaced, lease lapsed) its player may still send stop with where it
	// got to: a player told 410 mid-stream gets to save its final position.
	// Later, or when the stop is not newer (device time) than the stored
	// position, it is refused 410 and nothing is written, so a token of an
	// ended session cannot rewrite the resume position for the rest of its
	// lifetime. Zero refuses every stop on an ended session.
	StopGrace time.Duration `env:"HEARTBEAT_STOP_GRACE, default=30s"`
	// TokenStopGrace is how long after its playback token expired a
	// session's player may still send stop: a player whose token the
	// server refused (401 token_expired: its clock behind the server's, a
	// tab that slept) re-authorizes, and the play and stalls since its
	// last accepted heartbeat are told by no other session (the next one
	// cannot carry them: QoEBounds holds a view's time to its session's
	// age). The refusal comes at most an Interval after the expiry and the
	// re-authorization's play takes a moment more, hence twice the default
	// Interval. The token's signature must still hold; every other event,
	// and a stop later than this, is 401 token_expired. The stop renews
	// nothing: it ends the session, or on an ended one is a late stop
	// (StopGrace). A token the licence window ended (403
	// licence_window_ended) is taken the same way: the play and stalls up
	// to the window's end are the session's, and the player re-authorizes
	// there too; every other event, and a later stop, stays 403. The CMCD
	// collector credential ends with the token, and a CMCD request that
	// stops the session (sta q or e) is taken by the same rule
	// (stopClaims). At most MaxTokenStopGrace; zero takes no stop with an
	// expired token.
	TokenStopGrace time.Duration `env:"HEARTBEAT_TOKEN_STOP_GRACE, default=1m"`
}

// MaxTokenStopGrace bounds Config.TokenStopGrace: a few heartbeat
// intervals serve every player, and an expired token must not become a
// credential again.
const MaxTokenStopGrace = 5 * time.Minute

// MaxDurationMS bounds duration_ms: a week, far above any title.
const MaxDurationMS = 7 * 24 * int64(time.Hour/time.Millisecond)

// Store is what heartbeats read and write.
type Store interface {
	playback.SessionStore
	playback.ProgressStore
	playback.EdgeStore
}

// Authenticator identifies the caller of GET /v1/progress.
type Authenticator interface {
	Authenticate(r *http.Request) (auth.Identity, error)
}

// Deps are the collaborators.
type Deps struct {
	Store Store
	// Batch, when set, is the same store's one-transaction batch write
	// (playback.ProgressBatchStore): the consumer then writes each batch in
	// one commit instead of session by session. Set it for stores where
	// every write is a commit of its own (bolt); nil writes session by
	// session. Asked for here rather than found by a type assertion on
	// Store, so that a wrapped store cannot turn it off unseen.
	Batch playback.ProgressBatchStore
	// QoE, when set, gets every heartbeat the stream would (late and
	// replayed ones included) as a view report for the QoE analytics, once
	// per batch (the embedded store keeps them). With Batch set too it must be the same store: the batch
	// write carries the reports (playback.ProgressWrite.Views) and folds
	// them in its own transaction, and only what it says it did not fold
	// is written here. In the cloud it is nil: the heartbeat stream itself lands in
	// the warehouse (Firehose → S3/Athena, Pub/Sub → BigQuery; docs/qoe).
	QoE playback.QoEStore
	// Stream, when set, gets every message the consumer acknowledged as
	// well-formed, as published: on AWS, Firehose loads them into the QoE
	// warehouse (shared/firehose). Pub/Sub stacks need none: a BigQuery
	// subscription reads the topic itself.
	Stream playback.StreamSink
	// Leases, when set, is what the scheduled "leases" job counts for the
	// playplane.leases.active gauge (DynamoDB, Firestore). The local runner
	// leaves it nil: it counts at each scrape instead, and the job is off.
	Leases   playback.LeaseCounter
	Bus      playback.Publisher
	Tokens   *auth.Keyring // playback tokens, for heartbeats
	Identity Authenticator // caller JWTs, for progress
	Log      *slog.Logger  // consumer log; requests log through httpx
	Now      func() time.Time
}

// Server serves the heartbeat and progress routes and the heartbeat
// consumer.
type Server struct {
	cfg    Config
	deps   Deps
	stats  stats
	bufs   sync.Pool
	leases leaseCache // used when cfg.LeaseCache
}

// New validates cfg and deps.
func New(cfg Config, deps Deps) (*Server, error) {
	switch {
	case depcheck.Nil(deps.Store):
		return nil, errors.New("heartbeat.New: Store is required")
	case depcheck.Nil(deps.Bus):
		return nil, errors.New("heartbeat.New: Bus is required")
	case depcheck.Nil(deps.Tokens):
		return nil, errors.New("heartbeat.New: Tokens is required")
	case depcheck.Nil(deps.Identity):
		return nil, errors.New("heartbeat.New: Identity is required")
	case cfg.LeaseTTL <= 0 || cfg.Interval <= 0 || cfg.MaxBody <= 0 || cfg.MaxClockSkew <= 0 || cfg.MaxAge <= 0:
		return nil, fmt.Errorf("heartbeat.New: LeaseTTL, Interval, MaxBody, MaxClockSkew and MaxAge must be positive: %+v", cfg)
	case cfg.StopGrace < 0:
		return nil, fmt.Errorf("heartbeat.New: StopGrace %s must not be negative", cfg.StopGrace)
	case cfg.TokenStopGrace < 0 || cfg.TokenStopGrace > MaxTokenStopGrace:
		return nil, fmt.Errorf("heartbeat.New: TokenStopGrace %s must be in [0, %s]", cfg.TokenStopGrace, MaxTokenStopGrace)
	case cfg.LeaseRenewSlack < 0 || cfg.LeaseRenewSlack >= cfg.LeaseTTL:
		return nil, fmt.Errorf("heartbeat.New: LeaseRenewSlack %s must be in [0, LeaseTTL %s)", cfg.LeaseRenewSlack, cfg.LeaseTTL)
	case cfg.Interval >= cfg.LeaseTTL-cfg.LeaseRenewSlack:
		return nil, fmt.Errorf("heartbeat.New: Interval %s must be shorter than LeaseTTL-LeaseRenewSlack %s, or leases lapse between heartbeats",
			cfg.Interval, cfg.LeaseTTL-cfg.LeaseRenewSlack)
	case cfg.MaxBody > 1<<20:
		return nil, fmt.Errorf("heartbeat.New: MaxBody %d exceeds 1 MiB", cfg.MaxBody)
	case cfg.EdgeQoEFeedback && cfg.EdgeQoEWindow <= 0:
		return nil, errors.New("heartbeat.New: EdgeQoEWindow must be positive when EdgeQoEFeedback is on")
	}
	if cfg.ConsumerParallelism <= 0 {
		cfg.ConsumerParallelism = 1
	}
	if deps.Now == nil {
		deps.Now = time.Now
	}
	if deps.Log == nil {
		deps.Log = slog.Default()
	}
	if depcheck.Nil(deps.QoE) {
		deps.QoE = nil // optional: a typed nil means none
	}
	if depcheck.Nil(deps.Stream) {
		deps.Stream = nil
	}
	if depcheck.Nil(deps.Leases) {
		deps.Leases = nil
	}
	s := &Server{cfg: cfg, deps: deps, leases: newLeaseCache()}
	s.bufs.New = func() any { b := make([]byte, 0, 1024); return &b }
	return s, nil
}

// Register serves the routes on mux.
func (s *Server) Register(mux *http.ServeMux) { s.Mount(mux) }

// Mount mounts the routes on mux: its catalogue entry's (functions/catalog),
// as cmd/playplane's TestFunctionsServeWhatTheCatalogueDeploys checks.
func (s *Server) Mount(mux httpx.Mux) {
	mux.Handle("POST /v1/playback/{session_id}/heartbeat", httpx.HandlerFunc(s.heartbeat))
	mux.Handle("GET /v1/progress", httpx.HandlerFunc(s.progress))
	mux.Handle("GET /v1/playback/{session_id}/cmcd/{credential}", httpx.HandlerFunc(s.cmcd))
	mux.Handle("POST /v1/playback/{session_id}/cmcd/{credential}", httpx.HandlerFunc(s.cmcd))
}

// Consumers returns the event-triggered handlers by topic.
func (s *Server) Consumers() map[string]playback.BatchHandler {
	return map[string]playback.BatchHandler{events.TopicHeartbeats: s.consume}
}

// HeartbeatResponse tells the player its lease and when to beat next. After
// stop, Ended is set and there is no lease.
type HeartbeatResponse struct {
	SessionID       string    `json:"session_id"`
	LeaseExpiresAt  time.Time `json:"lease_expires_at,omitzero"`
	NextHeartbeatMS int64     `json:"next_heartbeat_ms,omitempty"`
	Ended           bool      `json:"ended,omitempty"`
}

// ProgressResponse is the resume position of the caller on a title.
type ProgressResponse struct {
	TitleID    string    `json:"title_id"`
	PositionMS int64     `json:"position_ms"`
	DurationMS int64     `json:"duration_ms"`
	Completed  bool      `json:"completed"` // within the last CompletedFraction: offer to start over
	DeviceID   string    `json:"device_id,omitempty"`
	DeviceTime time.Time `json:"device_time"`
	UpdatedAt  time.Time `json:"updated_at"`
}

// CompletedFraction of a title watched counts as finished: the credits.
const CompletedFraction = 0.95

// heartbeat is POST /v1/playback/{session_id}/heartbeat.
//
// Errors: 401 bad token, or an expired one on anything but a stop within
// TokenStopGrace (stopClaims); 403 token for another session, or one
// the licence window ended on anything but such a stop; 400/413 bad body;
// 410 when the session has ended, its lease has expired or it is not known
// at all — a token we signed proves the session existed, and stores forget
// expired sessions (DynamoDB's TTL deletes them), so "unknown" means
// "over" and the player must stop, which a 404 would not tell it as
// clearly; a 410 names why the session is over where its record still
// tells (playback.EndDetails); 503 when the store or the bus is down
// (retrying is safe: the lease write is idempotent and the consumer
// coalesces duplicates).
func (s *Server) heartbeat(w http.ResponseWriter, r *http.Request) error {
	now := s.deps.Now()
	claims, expired := s.deps.Tokens.Authenticate(r, now)
	if expired != nil {
		var ok bool
		if claims, ok = s.stopClaims(expired, now, func(at time.Time) (auth.PlaybackClaims, error) {
			token, err := auth.BearerToken(r)
			if err != nil {
				return auth.PlaybackClaims{}, err
			}
			return s.deps.Tokens.Verify(token, at)
		}); !ok {
			return expired
		}
	}
	// A token let through by stopClaims may send stop and nothing else:
	// up to its event, every refusal of its request is its own (401
	// token_expired, or 403 licence_window_ended).
	if err := httpx.CheckQuery(r); err != nil {
		return cmp.Or(expired, err)
	}
	id := r.PathValue("session_id")
	if id != claims.SessionID {
		return cmp.Or(expired, error(playback.SessionMismatch(id)))
	}
	if err := httpx.CheckJSONContentType(r); err != nil {
		return cmp.Or(expired, err)
	}
	req, err := s.decode(r)
	if err != nil || !stopsWith(expired, req.Event) {
		return cmp.Or(expired, err)
	}
	if err := s.validate(&req, now); err != nil {
		return err
	}
	// Heartbeats come every Interval: when that is longer than the write
	// slack nearly every one renews, so renewing on the token's lease
	// without a read first is the cheap way as well as the fast one.
	sess, err := s.holdLease(r.Context(), claims, &req, now, s.cfg.Interval > s.cfg.LeaseRenewSlack)
	if err != nil {
		return err
	}
	if sess.AccountID != claims.AccountID {
		return playback.SessionMismatch(id)
	}
	msg := events.Heartbeat{SessionID: id, AccountID: sess.AccountID, TitleID: sess.TitleID, DeviceID: sess.DeviceID,
		Event: req.Event, PositionMS: req.PositionMS, DurationMS: req.DurationMS, PositionUnknown: req.DurationMS == 0,
		DeviceTime: req.DeviceTime, QoE: req.QoE, ReceivedAt: now.UTC(), SessionStartedAt: sess.StartedAt.UTC(),
		LeaseExpiresAt: leaseLeft(sess, req.Event), Country: claims.Viewer.Country, ASN: claims.Viewer.ASN, DeviceType: claims.Viewer.DeviceType}
	if err := s.enqueue(r.Context(), &msg); err != nil {
		return err
	}
	s.stats.accepted.Add(1)
	resp := HeartbeatResponse{SessionID: id}
	if req.Event == events.HeartbeatStop {
		resp.Ended = true
	} else {
		resp.LeaseExpiresAt, resp.NextHeartbeatMS = sess.ExpiresAt, s.cfg.Interval.Milliseconds()
	}
	bp := s.bufs.Get().(*[]byte)
	defer s.bufs.Put(bp)
	out, err := resp.appendJSON((*bp)[:0])
	*bp = out[:0]
	if err != nil {
		return fmt.Errorf("heartbeat: encoding response: %w", err)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(out)
	return nil
}

// stopClaims are the claims of a credential refused as expired (expired
// is its 401 token_expired, or its 403 licence_window_ended when the
// licence window ended it: the same end of the same token, which the
// player meets at the same point of its session) that expired at most
// TokenStopGrace ago and whose signature holds, which may still send its
// session's stop (stopsWith); ok is false for any other refusal. verify
// checks the credential as its route does, at the time it is given: the
// playback token of a heartbeat, or the CMCD collector credential, which
// has the token's claims and end, so that a play reporting through CMCD
// alone saves its last report as a heartbeat's stop does. Only a refused
// credential gets here: the accepted ones cost nothing more.
func (s *Server) stopClaims(expired error, now time.Time, verify func(at time.Time) (auth.PlaybackClaims, error)) (claims auth.PlaybackClaims, ok bool) {
	if s.cfg.TokenStopGrace <= 0 {
		return claims, false
	}
	if e := playback.AsError(expired); e == nil || e.Reason != auth.ReasonTokenExpired && e.Reason != playback.ReasonLicenceEnded {
		return claims, false
	}
	// Verifying checks the expiry alone against the time it is given: the
	// credential verifies at now-TokenStopGrace exactly when it expired
	// less than TokenStopGrace before now.
	claims, err := verify(now.Add(-s.cfg.TokenStopGrace))
	return claims, err == nil
}

// stopsWith reports whether a request of event may go on after its
// credential's refusal expired (nil when it was accepted): a credential
// let through by stopClaims sends its session's stop and nothing else.
func stopsWith(expired error, event string) bool {
	return expired == nil || event == events.HeartbeatStop
}

// decode reads the body into a pooled buffer and decodes it: the decoder
// copies what it keeps.
func (s *Server) decode(r *http.Request) (events.HeartbeatRequest, error) {
	bp := s.bufs.Get().(*[]byte)
	defer s.bufs.Put(bp)
	body, err := httpx.AppendBody((*bp)[:0], r, s.cfg.MaxBody)
	*bp = body[:0]
	if err != nil {
		return events.HeartbeatRequest{}, err
	}
	return events.DecodeHeartbeatRequest(body)
}

// appendJSON is json.NewEncoder(w).Encode(resp) without reflection: the
// same bytes, trailing newline included.
func (resp *HeartbeatResponse) appendJSON(b []byte) ([]byte, error) {
	b = append(b, `{"session_id":`...)
	b = events.AppendJSONString(b, resp.SessionID)
	if !resp.LeaseExpiresAt.IsZero() {
		b = append(b, `,"lease_expires_at":"`...)
		var err error
		if b, err = resp.LeaseExpiresAt.AppendText(b); err != nil {
			return b, err
		}
		b = append(b, '"')
	}
	if resp.NextHeartbeatMS != 0 {
		b = append(b, `,"next_heartbeat_ms":`...)
		b = strconv.AppendInt(b, resp.NextHeartbeatMS, 10)
	}
	if resp.Ended {
		b = append(b, `,"ended":true`...)
	}
	return append(b, "}\n"...), nil
}

// leaseLeft is where a heartbeat of event, accepted on sess as holdLease
// returned it, left the session's lease (events.Heartbeat.LeaseExpiresAt):
// the expiry the store holds, renewed or not, or, after a stop, when the
// session ended. Taken from the store's answer, not as now + LeaseTTL: a
// heartbeat inside the write slack renews nothing, and a lease can only
// be where the store put it.
func leaseLeft(sess playback.Session, event string) time.Time {
	if event == events.HeartbeatStop {
		ended, _ := sess.Over()
		return ended.UTC()
	}
	return sess.ExpiresAt.UTC()
}

// holdLease keeps the session's lease, or releases it on stop. A stop on
// an ended session is let through only as lateStop allows.
//
// renew says the caller expects the lease to need a write (it falls
// outside the write slack): then a lease the token names is renewed by
// RenewHeldLease, which on DynamoDB writes without reading first, but
// answers a fresh lease with a refused conditional write, billed as a
// write. Callers that mostly land inside the slack (CMCD reports, several
// per segment) renew by RenewLease, whose fresh answer is a read.
//
// A renewal never moves the lease past the end of the credential that
// asks: no one could renew it after, and authorize play ends the token
// with the licence window the play is admitted under, which the lease
// must not outlast either.
func (s *Server) holdLease(ctx context.Context, claims auth.PlaybackClaims, req *events.HeartbeatRequest, now time.Time, renew bool) (playback.Session, error) {
	id := claims.SessionID
	if req.Event == events.HeartbeatStop {
		sess, err := s.deps.Store.GetSession(ctx, id)
		if err != nil {
			return sess, playback.SessionOver(err, id)
		}
		// Checked before the stop ends anything: a refused stop writes
		// nothing.
		if sess.AccountID != claims.AccountID {
			return sess, playback.SessionMismatch(id)
		}
		if !sess.Active(now) {
			return sess, playback.WithEndReason(s.lateStop(ctx, sess, req, now), sess, now)
		}
		// Ending an ended session returns it unchanged: a DELETE that got in
		// between leaves its end as it was, and the stop, a moment after it,
		// is within the grace by construction.
		sess, err = s.deps.Store.EndSession(ctx, id, playback.EndStopped, now)
		if err == nil && s.cfg.LeaseCache {
			s.leases.put(sess, now, s.cfg.LeaseRenewSlack)
		}
		return sess, playback.SessionOver(err, id)
	}
	// Positive: the credential was verified at now.
	ttl := min(s.cfg.LeaseTTL, claims.ExpiresAt.Sub(now))
	if s.cfg.LeaseCache {
		if sess, ok := s.leases.fresh(id, now, ttl, s.cfg.LeaseRenewSlack); ok {
			return sess, nil
		}
		if ended, ok := s.leases.ended(id); ok {
			return playback.Session{}, playback.WithEndReason(playback.SessionEnded(id), ended, now)
		}
	}
	var sess playback.Session
	var err error
	if s.cfg.LeaseRenewSlack > 0 {
		// The store decides on its own read: one read inside the slack,
		// one read and one write outside it; with the lease the token
		// carries, one conditional write on a store that can (DynamoDB).
		if renew && claims.Lease != "" {
			sess, err = s.deps.Store.RenewHeldLease(ctx, claims.Held(), ttl, s.cfg.LeaseRenewSlack, now)
		} else {
			sess, err = s.deps.Store.RenewLease(ctx, id, ttl, s.cfg.LeaseRenewSlack, now)
		}
	} else {
		sess, err = s.deps.Store.ExtendLease(ctx, id, now.Add(ttl), now)
	}
	if s.cfg.LeaseCache {
		if err == nil {
			s.leases.put(sess, now, s.cfg.LeaseRenewSlack)
		} else if c := playback.ErrorCode(err); c == playback.CodeGone || c == playback.CodeNotFound {
			s.leases.forget(id)
		}
	}
	if playback.IsCode(err, playback.CodeGone) {
		err = s.whyOver(ctx, err, claims, now)
	}
	return sess, playback.SessionOver(err, id)
}

// whyOver names in err, a renewal's 410, why the session is over
// (playback.EndDetails), which the store's refusal does not carry (a
// conditional write that fails cannot): one read, on the rare path only.
// A failed read leaves the 410 as it was, with no reason: the player must
// stop either way.
func (s *Server) whyOver(ctx context.Context, err error, claims auth.PlaybackClaims, now time.Time) error {
	sess, rerr := s.deps.Store.GetSession(ctx, claims.SessionID)
	if rerr != nil || sess.AccountID != claims.AccountID {
		return err
	}
	return playback.WithEndReason(err, sess, now)
}

// lateStop decides a stop on a session that has ended: a player told to
// stop (410) may still send its final position, within StopGrace of the end
// and only if it is newer (device time) than the stored resume position.
// Anything else is 410, and nothing is enqueued, so nothing is written.
func (s *Server) lateStop(ctx context.Context, sess playback.Session, req *events.HeartbeatRequest, now time.Time) error {
	ended, _ := sess.Over()
	if now.Sub(ended) > s.cfg.StopGrace {
		return playback.Errorf(playback.CodeGone, playback.ReasonSessionEnded,
			"session %q ended at %s, more than %s ago: its stop is no longer recorded", sess.ID, ended.UTC().Format(time.RFC3339), s.cfg.StopGrace)
	}
	p, err := s.deps.Store.GetProgress(ctx, sess.AccountID, sess.TitleID)
	switch {
	case playback.IsCode(err, playback.CodeNotFound):
		return nil
	case err != nil:
		return err
	case !req.DeviceTime.After(p.DeviceTime):
		return playback.Errorf(playback.CodeGone, playback.ReasonSessionEnded,
			"session %q has ended and its stop is not newer than the stored position", sess.ID)
	}
	return nil
}

// enqueue publishes beats in one call, which the bus sends in as few
// round trips as it can (a CMCD flush carries up to events.MaxCMCDReports).
func (s *Server) enqueue(ctx context.Context, beats ...*events.Heartbeat) error {
	bp := s.bufs.Get().(*[]byte)
	defer s.bufs.Put(bp)
	msgs := make([]playback.Message, len(beats))
	data := (*bp)[:0]
	for i, h := range beats {
		start := len(data)
		var err error
		data, err = h.AppendJSON(data)
		*bp = data[:0]
		if err != nil {
			return fmt.Errorf("heartbeat.enqueue: %w", err)
		}
		if n := len(data) - start; n > events.MaxHeartbeatMessageBytes {
			return fmt.Errorf("heartbeat.enqueue: message of %d bytes exceeds %d", n, events.MaxHeartbeatMessageBytes)
		}
		// An append that outgrows data moves on to a new array and leaves
		// the earlier messages where they are.
		msgs[i] = playback.Message{OrderingKey: h.SessionID, Data: data[start:len(data):len(data)]}
	}
	// Publish keeps nothing of the buffer once it returns, error or not
	// (playback.Publisher), so the deferred Put may hand it to the next
	// request.
	err := s.deps.Bus.Publish(ctx, events.TopicHeartbeats, msgs...)
	if err != nil {
		if playback.ErrorCode(err).Retryable() {
			return playback.Unavailable(err, "heartbeat queue unavailable")
		}
		return fmt.Errorf("heartbeat.enqueue: %w", err)
	}
	return nil
}

// validate checks a decoded heartbeat against the server clock and
// normalises its time to UTC.
func (s *Server) validate(req *events.HeartbeatRequest, now time.Time) error {
	invalid := func(reason, format string, args ...any) error {
		return playback.Errorf(playback.CodeInvalid, reason, format, args...)
	}
	switch req.Event {
	case events.HeartbeatStart, events.HeartbeatProgress, events.HeartbeatPause, events.HeartbeatStop, events.HeartbeatError:
	case "":
		return invalid("event_missing", "event is required")
	default:
		return invalid("event_invalid", "event must be start, progress, pause, stop or error")
	}
	switch {
	case req.DeviceTime.IsZero():
		return invalid("device_time_missing", "device_time is required")
	case req.DeviceTime.After(now.Add(s.cfg.MaxClockSkew)):
		return invalid("device_time_in_future", "device_time is more than %s ahead of the server clock", s.cfg.MaxClockSkew)
	case req.DeviceTime.Before(now.Add(-s.cfg.MaxAge)):
		return invalid("device_time_too_old", "device_time is more than %s behind the server clock", s.cfg.MaxAge)
	case req.DurationMS == 0 && req.PositionMS == 0 && (req.Event == events.HeartbeatStart || req.Event == events.HeartbeatStop || req.Event == events.HeartbeatError):
		// No position: before its first frame a player has none, and its
		// view's start, end or failure must still reach the QoE views.
		// The message says so (PositionUnknown) and writes no resume
		// position.
	case req.DurationMS == 0 && req.PositionMS != 0:
		return invalid("position_without_duration", "position_ms needs duration_ms; leave both out when there is no position yet")
	case req.DurationMS <= 0 || req.DurationMS > MaxDurationMS:
		return invalid("duration_invalid", "duration_ms must be in [1, %d]; only start, stop and error may leave it and position_ms out", MaxDurationMS)
	case req.PositionMS < 0:
		return invalid("position_invalid", "position_ms must not be negative")
	case req.PositionMS > req.DurationMS:
		return invalid("position_beyond_duration", "position_ms %d is beyond duration_ms %d", req.PositionMS, req.DurationMS)
	}
	if err := negativeQoE(req); err != nil {
		return err
	}
	q := &req.QoE
	if q.RebufferMS > 0 && q.RebufferCount == 0 {
		// Self-contradictory as a negative figure is: refused, not
		// clamped, so that the player hears of its miscount.
		name := req.QoEMember("rebuffer_ms")
		e := playback.Errorf(playback.CodeInvalid, "qoe_invalid",
			"qoe.%s is %d ms of stall time in no stall: qoe.%s must count the stalls it was spent in", name, q.RebufferMS, req.QoEMember("rebuffer_count"))
		e.Details = map[string]string{"pointer": "/qoe/" + name}
		return e
	}
	if q.Continued && q.StartupMS > 0 {
		// The play's startup was told by the session replaced: told
		// again, the first frame would count twice.
		e := playback.Errorf(playback.CodeInvalid, "qoe_invalid",
			"qoe.continued: a session that continues another's play tells no startup, but qoe.%s is %d ms", req.QoEMember("startup_ms"), q.StartupMS)
		e.Details = map[string]string{"pointer": "/qoe/continued"}
		return e
	}
	for _, id := range [...]struct{ name, value string }{{"cdn", q.CDN}, {"edge", q.EdgeID}} {
		if id.value != "" && !playback.ValidID(id.value) {
			e := playback.Errorf(playback.CodeInvalid, "qoe_invalid", "qoe.%s must be an id: %s", id.name, playback.IDRule)
			e.Details = map[string]string{"pointer": "/qoe/" + id.name}
			return e
		}
	}
	if q.View != "" && !playback.ValidID(q.View) {
		e := playback.Errorf(playback.CodeInvalid, "qoe_invalid", "qoe.view must be the id of the session the play began in: %s", playback.IDRule)
		e.Details = map[string]string{"pointer": "/qoe/view"}
		return e
	}
	req.DeviceTime = req.DeviceTime.UTC()
	return nil
}

// negativeQoE refuses a heartbeat whose QoE holds a negative figure,
// pointing at the first one under the name the request gave it, as the
// route's other QoE refusals point at theirs.
func negativeQoE(req *events.HeartbeatRequest) error {
	for _, f := range events.QoEFigures(&req.QoE) {
		if f.Value < 0 {
			name := req.QoEMember(f.Name)
			e := playback.Errorf(playback.CodeInvalid, "qoe_invalid", "qoe.%s is %d: qoe figures must not be negative", name, f.Value)
			e.Details = map[string]string{"pointer": "/qoe/" + name}
			return e
		}
	}
	return nil
}

// progress is GET /v1/progress?title_id=: the caller's resume position,
// 404 progress_not_found when the title was never played.
func (s *Server) progress(w http.ResponseWriter, r *http.Request) error {
	who, err := s.deps.Identity.Authenticate(r)
	if err != nil {
		return err
	}
	if err := httpx.CheckQuery(r, "title_id"); err != nil {
		return err
	}
	title := r.URL.Query().Get("title_id")
	if !playback.ValidID(title) {
		return playback.Errorf(playback.CodeInvalid, "title_id_invalid", "title_id query parameter is required and must be an id")
	}
	p, err := s.deps.Store.GetProgress(r.Context(), who.AccountID, title)
	if err != nil {
		return err
	}
	httpx.WriteJSON(w, http.StatusOK, ProgressResponse{TitleID: p.TitleID, PositionMS: p.PositionMS, DurationMS: p.DurationMS,
		Completed: p.DurationMS > 0 && float64(p.PositionMS) >= CompletedFraction*float64(p.DurationMS),
		DeviceID:  p.DeviceID, DeviceTime: p.DeviceTime, UpdatedAt: p.UpdatedAt})
	return nil
}

// Stats counts what the server did since it started, for tests, load runs
// and metrics.
type Stats struct {
	Accepted    int64 // heartbeats enqueued by the request path
	Batches     int64 // consumer calls
	Consumed    int64 // messages the consumer acknowledged
	Applied     int64 // heartbeats that advanced a session's state
	Stale       int64 // late or replayed heartbeats the device-time gate refused
	Malformed   int64 // messages dropped as undecodable
	Retried     int64 // messages handed back for redelivery
	BatchWrites int64 // consumer calls written in one Deps.Batch transaction
	EdgeUpdates int64 // edge QoE folds written
	QoEViews    int64 // view reports written to Deps.QoE
	QoELost     int64 // view reports Deps.QoE failed to write
	Forwarded   int64 // messages handed to Deps.Stream
	StreamLost  int64 // messages Deps.Stream failed to take
}

type stats struct {
	accepted, batches, consumed, applied, stale, malformed, retried, edgeUpdates, batchWrites, qoeViews, qoeLost, forwarded, streamLost atomic.Int64
}

// Stats returns the counters.
func (s *Server) Stats() Stats {
	return Stats{Accepted: s.stats.accepted.Load(), Batches: s.stats.batches.Load(), Consumed: s.stats.consumed.Load(), Applied: s.stats.applied.Load(),
		Stale: s.stats.stale.Load(), Malformed: s.stats.malformed.Load(), Retried: s.stats.retried.Load(),
		EdgeUpdates: s.stats.edgeUpdates.Load(), BatchWrites: s.stats.batchWrites.Load(),
		QoEViews: s.stats.qoeViews.Load(), QoELost: s.stats.qoeLost.Load(),
		Forwarded: s.stats.forwarded.Load(), StreamLost: s.stats.streamLost.Load()}
}
