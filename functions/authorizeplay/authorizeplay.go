// Package authorizeplay decides whether a subscriber may start a title now,
// on this device, and if so leases one of the plan's concurrent streams and
// issues the playback token the other functions accept.
package authorizeplay

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"sync"
	"time"

	"github.com/playplane/playplane/events"
	"github.com/playplane/playplane/shared/auth"
	"github.com/playplane/playplane/shared/depcheck"
	"github.com/playplane/playplane/shared/httpx"
	"github.com/playplane/playplane/shared/playback"
	"github.com/playplane/playplane/shared/playurl"
	"github.com/playplane/playplane/shared/steering"
	"github.com/playplane/playplane/shared/telemetry"
)

// Config is read from the environment.
type Config struct {
	// PastDueGrace is how long a past_due account keeps playing.
	PastDueGrace time.Duration `env:"PAST_DUE_GRACE, default=72h"`
	// LeaseTTL is the lease length; heartbeats extend it, and a player that
	// stops heartbeating frees its slot after at most this long.
	LeaseTTL time.Duration `env:"LEASE_TTL, default=2m"`
	// TokenTTL bounds the playback token. Every use of the token also checks
	// the lease, so ending a session revokes it at once (heartbeats with
	// HEARTBEAT_LEASE_CACHE on: within HEARTBEAT_LEASE_RENEW_SLACK). The
	// end of the licence window the play is admitted under bounds it too,
	// and with it everything the session is renewed or granted.
	TokenTTL time.Duration `env:"PLAYBACK_TOKEN_TTL, default=4h"`
	MaxBody  int64         `env:"AUTHORIZE_MAX_BODY, default=4096"`
	// TokenLease puts the session's lease in playback tokens: heartbeats
	// then renew it without reading the session first. Verifiers of
	// releases before the lease block reject such tokens, so upgrading
	// from one deploys with it off first (README, "Upgrading"); the
	// licence block, which follows the lease block, rides only with it.
	TokenLease bool `env:"PLAYBACK_TOKEN_LEASE, default=true"`

	// Viewer locates the viewer for licensing: a title plays where it is
	// licensed for the viewer's location, not the account's. These are pick
	// edge's settings (PICKEDGE_TRUSTED_PROXIES, PICKEDGE_TRUSTED_HOPS,
	// PICKEDGE_VIEWER_COUNTRY_HEADER, PICKEDGE_GEOIP_CITY_DB,
	// PICKEDGE_GEOIP_ANONYMOUS_DB, ...; see steering.ViewerConfig), read
	// here too so that one viewer gets one location from both functions.
	// With neither a country header nor a City database configured (the
	// local default), licensing falls back to the account's home territory.
	Viewer steering.ViewerConfig `env:", prefix=PICKEDGE_"`
	// RefuseAnonymousProxies refuses plays from addresses the anonymous-IP
	// database (PICKEDGE_GEOIP_ANONYMOUS_DB, required) lists as VPNs,
	// proxies, hosting providers or Tor exits.
	RefuseAnonymousProxies bool `env:"AUTHORIZE_REFUSE_ANONYMOUS_PROXIES, default=false"`

	// The personalized manifests in a play's answer are sign URLs'
	// (functions/signurl), so these are its settings, read here too: the
	// manifest credential lasts as its would (the lease plus Grace, at
	// most MaxTTL), and the URLs are on PUBLIC_API_URL as its are.
	// PlanCacheTTL bounds how stale a plan's limits may be (see
	// playback.PlanCache): which plan an account is on is always read
	// fresh. Zero reads every plan from the store.
	PlanCacheTTL time.Duration `env:"PLAN_CACHE_TTL, default=30s"`

	ManifestGrace  time.Duration `env:"SIGNURL_GRACE, default=30s"`
	ManifestMaxTTL time.Duration `env:"SIGNURL_MAX_TTL, default=10m"`
	PublicURL      string        `env:"PUBLIC_API_URL"`
}

// Store is what authorize play reads and writes.
type Store interface {
	playback.CatalogStore
	playback.AccountStore
	playback.SessionStore
}

// Authenticator identifies the caller from a request.
type Authenticator interface {
	Authenticate(r *http.Request) (auth.Identity, error)
}

// Deps are the collaborators.
type Deps struct {
	Store    Store
	Identity Authenticator
	Tokens   *auth.Keyring
	Now      func() time.Time
}

// Server serves the authorize-play routes and the entitlement consumer.
type Server struct {
	cfg    Config
	deps   Deps
	plans  *playback.PlanCache
	viewer *steering.Viewer // nil when no location source is configured
	geo    *steering.GeoIP
}

// New validates cfg and deps.
func New(cfg Config, deps Deps) (*Server, error) {
	switch {
	case depcheck.Nil(deps.Store):
		return nil, errors.New("authorizeplay.New: Store is required")
	case depcheck.Nil(deps.Identity):
		return nil, errors.New("authorizeplay.New: Identity is required")
	case depcheck.Nil(deps.Tokens):
		return nil, errors.New("authorizeplay.New: Tokens is required")
	case cfg.LeaseTTL <= 0 || cfg.TokenTTL <= 0 || cfg.MaxBody <= 0:
		return nil, fmt.Errorf("authorizeplay.New: LeaseTTL, TokenTTL and MaxBody must be positive: %+v", cfg)
	case cfg.TokenTTL < time.Second:
		// Tokens count whole seconds (tokenEnd): a shorter one would be
		// issued already expired, every play refused after its lease.
		return nil, fmt.Errorf("authorizeplay.New: TokenTTL must be at least a second: %v", cfg.TokenTTL)
	case cfg.ManifestGrace < 0:
		return nil, fmt.Errorf("authorizeplay.New: ManifestGrace must not be negative: %v", cfg.ManifestGrace)
	case cfg.PastDueGrace < 0:
		return nil, fmt.Errorf("authorizeplay.New: PastDueGrace must not be negative: %v", cfg.PastDueGrace)
	}
	if deps.Now == nil {
		deps.Now = time.Now
	}
	s := &Server{cfg: cfg, deps: deps, plans: playback.NewPlanCache(deps.Store, cfg.PlanCacheTTL, deps.Now)}
	if cfg.RefuseAnonymousProxies && cfg.Viewer.GeoIPAnonymousDB == "" {
		return nil, errors.New("authorizeplay.New: refusing anonymous proxies needs an anonymous-IP database (PICKEDGE_GEOIP_ANONYMOUS_DB)")
	}
	// Opened whatever else is set, as pick edge does: OpenGeoIP refuses an
	// anonymous-IP database without the City database it is read beside,
	// which would otherwise refuse no anonymous proxy at all.
	geo, err := cfg.Viewer.OpenGeoIP()
	if err != nil {
		return nil, fmt.Errorf("authorizeplay.New: %w", err)
	}
	if cfg.Viewer.HasLocationSource() || cfg.Viewer.ASNHeader != "" {
		// Coverage zones and the default place say nothing of countries:
		// licensing needs only GeoIP and the front door's header.
		locator, err := steering.NewLocator(nil, geo, steering.Location{})
		if err == nil {
			s.viewer, err = steering.NewViewer(cfg.Viewer, locator)
		}
		if err != nil {
			_ = geo.Close()
			return nil, fmt.Errorf("authorizeplay.New: %w", err)
		}
		s.geo = geo
	}
	return s, nil
}

// Close releases the GeoIP databases.
func (s *Server) Close() error { return s.geo.Close() }

// locate is where the request comes from; ok is false when no location
// source is configured.
func (s *Server) locate(r *http.Request) (loc steering.Location, ok bool) {
	if s.viewer == nil {
		return loc, false
	}
	loc, _, err := s.viewer.Locate(r)
	if err != nil {
		httpx.Logger(r.Context()).WarnContext(r.Context(), "locating the viewer", "err", err)
	}
	return loc, true
}

// viewerPlace is where the request comes from, for licensing: located
// only when a country source is configured (an ASN header alone says
// nothing of countries).
func (s *Server) viewerPlace(loc steering.Location, located bool) playback.ViewerPlace {
	if !located || !s.cfg.Viewer.HasLocationSource() {
		return playback.ViewerPlace{}
	}
	return playback.ViewerPlace{Located: true, Country: loc.Country, Anonymous: loc.AnonymousProxy}
}

// viewerOf is who plays, for the QoE aggregates: the country where the
// viewer was located, else the account's home territory (where a play
// without a location source is licensed); the ASN from the front door or
// GeoIP; the device type the player named, else the front door's
// CloudFront-Is-*-Viewer headers, else the User-Agent.
func viewerOf(r *http.Request, req PlayRequest, acct playback.Account, loc steering.Location) playback.Viewer {
	v := playback.Viewer{Country: loc.Country, ASN: loc.ASN, DeviceType: req.DeviceType}
	if v.Country == "" && playback.ValidCountry(acct.Territory) {
		v.Country = acct.Territory
	}
	if v.DeviceType == "" {
		v.DeviceType = deviceTypeFromHeaders(r.Header)
	}
	return v
}

// cloudFrontDeviceHeaders are the device headers CloudFront adds when
// its cache or origin request policy asks for them, most specific first.
var cloudFrontDeviceHeaders = [...]struct{ header, deviceType string }{
	{"Cloudfront-Is-Smarttv-Viewer", playback.DeviceTV},
	{"Cloudfront-Is-Tablet-Viewer", playback.DeviceTablet},
	{"Cloudfront-Is-Mobile-Viewer", playback.DeviceMobile},
	{"Cloudfront-Is-Desktop-Viewer", playback.DeviceDesktop},
}

// deviceTypeFromHeaders is the device type the request's headers tell.
// It is analytics, not a permission: a player could name any type in the
// request body, so the headers need no trusted proxy.
func deviceTypeFromHeaders(h http.Header) string {
	for _, c := range cloudFrontDeviceHeaders {
		if h.Get(c.header) == "true" {
			return c.deviceType
		}
	}
	return playback.DeviceTypeFromUserAgent(h.Get("User-Agent"))
}

// Register serves the routes on mux.
func (s *Server) Register(mux *http.ServeMux) { s.Mount(mux) }

// Mount mounts the routes on mux: its catalogue entry's (functions/catalog),
// as cmd/playplane's TestFunctionsServeWhatTheCatalogueDeploys checks.
func (s *Server) Mount(mux httpx.Mux) {
	mux.Handle("POST /v1/play", httpx.HandlerFunc(s.play))
	mux.Handle("GET /v1/sessions", httpx.HandlerFunc(s.listSessions))
	mux.Handle("DELETE /v1/sessions/{id}", httpx.HandlerFunc(s.endSession))
	mux.Handle("GET /v1/devices", httpx.HandlerFunc(s.listDevices))
	mux.Handle("PATCH /v1/devices/{id}", httpx.HandlerFunc(s.renameDevice))
	mux.Handle("DELETE /v1/devices/{id}", httpx.HandlerFunc(s.removeDevice))
}

// Consumers returns the event-triggered handlers by topic.
func (s *Server) Consumers() map[string]playback.BatchHandler {
	return map[string]playback.BatchHandler{events.TopicEntitlementChanged: s.onEntitlementChanged}
}

// PlayRequest is the body of POST /v1/play.
type PlayRequest struct {
	TitleID    string `json:"title_id"`
	DeviceID   string `json:"device_id"`
	DeviceName string `json:"device_name,omitempty"`
	// DeviceType is one of playback.DeviceTypes, for the QoE breakdown by
	// device; absent, it is taken from the request's headers.
	DeviceType string `json:"device_type,omitempty"`
	// ReplacesSessionID, on a player's re-authorization of the session
	// it plays (its playback token nearing its end), names that session:
	// the play is then admitted only if the account has not ended it
	// meanwhile (410 session_ended otherwise), decided in the admission's
	// own atomic step (playback.LeaseRequest.Replaces), so that ending a
	// stream from another screen is not undone by a re-authorization
	// under way. A retry whose first try was admitted but answered lost
	// (a 5xx) names a session that try replaced: it re-authorizes the
	// play where that try took it, or hears how the play ended there. A
	// fresh play leaves it out.
	ReplacesSessionID string `json:"replaces_session_id,omitempty"`
}

// PlayResponse is the answer to an admitted play.
type PlayResponse struct {
	SessionID      string           `json:"session_id"`
	LeaseExpiresAt time.Time        `json:"lease_expires_at"`
	MaxQuality     playback.Quality `json:"max_quality"`
	PlaybackToken  string           `json:"playback_token"`
	TokenExpiresAt time.Time        `json:"token_expires_at"`
	// LicenceEndsAt is TokenExpiresAt when the licence window ends the
	// token, zero when the token expires first: a player then plays the
	// session out rather than authorize again ahead of the token's
	// expiry, which would be admitted under the same window, and
	// authorizes again at it (403 licence_window_ended), which a window
	// extended since the play admits.
	LicenceEndsAt time.Time `json:"licence_ends_at,omitzero"`
	TitleID       string    `json:"title_id"`
	Manifest      string    `json:"manifest"` // path of the manifest under the CDN base
	// CMCDReportURL is the path, under the API base, of the session's
	// CMCD v2 event-mode collector (functions/heartbeat), its credential
	// included: players configured with it as their CMCD event target keep
	// the session alive and report QoE with no SDK.
	CMCDReportURL string `json:"cmcd_report_url"`

	// What a player loads next, so that starting playback takes one API
	// call before the manifest: for a title with a ladder the plan allows
	// some of, the personalized manifests (functions/signurl; pathways and
	// signed URIs are inside them) and the steering server, all carrying
	// a manifest credential that expires at ManifestExpiresAt. A player
	// that needs more time, or cookies, asks POST /v1/playback/{id}/urls.
	ManifestURL       string             `json:"manifest_url,omitempty"`
	Manifests         *playurl.Manifests `json:"manifests,omitempty"`
	SteeringURI       string             `json:"steering_uri,omitempty"`
	ManifestExpiresAt time.Time          `json:"manifest_expires_at,omitzero"`
}

// SessionView is how a session is shown to its account, in conflicts and
// listings.
type SessionView struct {
	SessionID string `json:"session_id"`
	DeviceID  string `json:"device_id"`
	// DeviceName is the name the account gave the device, where the view
	// is shown with the account at hand: a device id is an opaque string
	// the other player made up, a name is what a person recognises.
	DeviceName string    `json:"device_name,omitempty"`
	TitleID    string    `json:"title_id"`
	StartedAt  time.Time `json:"started_at"`
	LastSeenAt time.Time `json:"last_seen_at"`
	ExpiresAt  time.Time `json:"expires_at"`
	EndedAt    time.Time `json:"ended_at,omitzero"`
	EndReason  string    `json:"end_reason,omitempty"`
}

func view(s playback.Session) SessionView {
	return SessionView{SessionID: s.ID, DeviceID: s.DeviceID, TitleID: s.TitleID, StartedAt: s.StartedAt,
		LastSeenAt: s.LastSeenAt, ExpiresAt: s.ExpiresAt, EndedAt: s.EndedAt, EndReason: s.EndReason}
}

func (s *Server) play(w http.ResponseWriter, r *http.Request) error {
	err := s.admit(w, r)
	switch {
	case err == nil:
		telemetry.PlayAdmitted(r.Context())
	case httpx.Status(playback.ErrorCode(err)) < 500:
		e := playback.AsError(err)
		telemetry.PlayRefused(r.Context(), cmp.Or(e.Reason, string(e.Code)))
	}
	return err
}

// admit is POST /v1/play; play counts its outcomes.
func (s *Server) admit(w http.ResponseWriter, r *http.Request) error {
	who, err := s.deps.Identity.Authenticate(r)
	if err != nil {
		return err
	}
	if err := httpx.CheckQuery(r); err != nil {
		return err
	}
	if err := httpx.CheckJSONContentType(r); err != nil {
		return err
	}
	body, err := httpx.ReadBody(r, s.cfg.MaxBody)
	if err != nil {
		return err
	}
	var req PlayRequest
	if err := httpx.Unmarshal(body, &req); err != nil {
		return err
	}
	if !playback.ValidID(req.TitleID) {
		return playback.Errorf(playback.CodeInvalid, "title_id", "title_id must be %s", playback.IDRule)
	}
	if !playback.ValidID(req.DeviceID) {
		return playback.Errorf(playback.CodeInvalid, "device_id", "device_id must be %s", playback.IDRule)
	}
	if req.DeviceName != "" {
		// Optional here, but held to the rule a rename is: the name is
		// shown in lists on other screens.
		if err := validDeviceName(req.DeviceName); err != nil {
			return err
		}
	}
	if req.ReplacesSessionID != "" && !playback.ValidID(req.ReplacesSessionID) {
		return playback.Errorf(playback.CodeInvalid, playback.ReasonReplacesSessionID, "replaces_session_id must be %s", playback.IDRule)
	}
	if req.DeviceType != "" && !playback.ValidDeviceType(req.DeviceType) {
		return playback.Errorf(playback.CodeInvalid, "device_type", "device_type must be one of %v", playback.DeviceTypes)
	}
	ctx := r.Context()
	now := s.deps.Now()
	var (
		acct  playback.Account
		title playback.Title
		plan  playback.Plan
		sess  playback.Session
	)
	// A play is two round trips: the reads, then one admission conditioned
	// on the account as read, which registers a new device in the same
	// step. If the account changed in between, everything is read and
	// checked again.
	loc, located := s.locate(r)
	place := s.viewerPlace(loc, located)
	registered := false
	var until time.Time // when the token expires: the licence's end, at most TokenTTL away
	for attempt := 0; ; attempt++ {
		var read playback.AdmissionRead
		read, title, plan, until, err = s.check(r, req, who.AccountID, place, now)
		if err != nil {
			return err
		}
		// An undated past_due account is admitted on the grace starting
		// now (check) only if this admission stores that date.
		var undated bool
		acct, undated = read.Account.DateUndated(now)
		if registered && !acct.HasDevice(req.DeviceID) {
			// Removed between this play's reads (DELETE /v1/devices/{id}):
			// the removal wins, as it would had it come a moment later and
			// ended the session.
			return deviceRemoved(req.DeviceID)
		}
		registered = acct.HasDevice(req.DeviceID)
		// The store replaces this device's running session in the same
		// atomic step: a device plays one stream, and switching titles must
		// not count against the account's limit.
		lease := playback.LeaseRequest{
			SessionID: playback.NewID(playback.SessionIDPrefix), AccountID: acct.ID, DeviceID: req.DeviceID, TitleID: title.ID,
			Limit: plan.MaxStreams, TTL: min(s.cfg.LeaseTTL, until.Sub(now)), Now: now, On: &read,
			Replaces: req.ReplacesSessionID,
			// A re-authorization from a device the account does not have:
			// one whose removal ended its play, refused in the admission's
			// atomic step, on this read of the account (On).
			DeviceRemoved: req.ReplacesSessionID != "" && !acct.HasDevice(req.DeviceID),
		}
		// A new device is registered (check found room under the plan's
		// device limit on this account, which the admission requires
		// unchanged); a registered one's last play is recorded about once
		// a day, so that most of its plays write nothing to the account.
		if saved, changed := acct.Played(req.DeviceID, req.DeviceName, now); changed || undated {
			saved.UpdatedAt = now
			lease.SaveAccount = &saved
		}
		sess, err = s.deps.Store.AcquireLease(ctx, lease)
		if playback.AsError(err).Reason != "account_changed" {
			break
		}
		if attempt+1 >= maxAdmitAttempts+plan.MaxStreams {
			return playback.Unavailable(err, "authorizeplay: account %q keeps changing", acct.ID)
		}
	}
	if err != nil {
		return conflictView(err, acct)
	}
	licenceEnds := until.Before(s.tokenEnd(now))
	// The licence block follows the lease block, which releases before it
	// refuse: with the setting off, tokens stay as those releases verify
	// (their end then answers 401 token_expired, as older verifiers do).
	claims := auth.PlaybackClaims{SessionID: sess.ID, AccountID: acct.ID, TitleID: title.ID, DeviceID: req.DeviceID,
		IssuedAt: now, ExpiresAt: until, LicenceEnds: licenceEnds && s.cfg.TokenLease, Viewer: viewerOf(r, req, acct, loc)}
	if s.cfg.TokenLease && sess.Lease != "" {
		// The heartbeats renew on it without reading the session first.
		claims.StartedAt, claims.Lease = sess.StartedAt, sess.Lease
	}
	token, err := s.deps.Tokens.Issue(claims)
	if err != nil {
		return fmt.Errorf("authorizeplay: issue token: %w", err)
	}
	// CMCD reports renew by reading the session (heartbeat.holdLease), and
	// the manifest credential's routes never renew: the lease would only
	// lengthen their URLs.
	claims.StartedAt, claims.Lease = time.Time{}, ""
	cmcdCred, err := s.deps.Tokens.IssueCMCD(claims)
	if err != nil {
		return fmt.Errorf("authorizeplay: issue CMCD credential: %w", err)
	}
	resp := PlayResponse{
		SessionID: sess.ID, LeaseExpiresAt: sess.ExpiresAt, MaxQuality: plan.MaxQuality,
		PlaybackToken: token, TokenExpiresAt: claims.ExpiresAt, TitleID: title.ID,
		Manifest:      title.AssetPath + title.Manifest,
		CMCDReportURL: "/v1/playback/" + url.PathEscape(sess.ID) + "/cmcd/" + cmcdCred,
	}
	if licenceEnds {
		resp.LicenceEndsAt = claims.ExpiresAt
	}
	if err := s.addManifests(r, &resp, sess, claims, title, plan, now); err != nil {
		return err
	}
	httpx.Logger(ctx).InfoContext(ctx, "play authorized", "account_id", acct.ID, "session_id", sess.ID, "title_id", title.ID)
	w.Header().Set("Cache-Control", "no-store") // the answer carries credentials
	httpx.WriteJSON(w, http.StatusCreated, resp)
	return nil
}

// addManifests puts the personalized manifests and the steering server in
// the answer when the manifests route would serve them: the title has a
// ladder and the plan allows some of it. The credential expires as sign
// URLs' would, with the lease plus the grace, at most MaxTTL from now and
// never after the playback token.
func (s *Server) addManifests(r *http.Request, resp *PlayResponse, sess playback.Session, claims auth.PlaybackClaims,
	title playback.Title, plan playback.Plan, now time.Time) error {
	if len(title.Renditions) == 0 || len(title.AllowedRenditions(plan.MaxQuality)) == 0 {
		return nil
	}
	exp := sess.ExpiresAt.Add(s.cfg.ManifestGrace)
	if limit := now.Add(s.cfg.ManifestMaxTTL); s.cfg.ManifestMaxTTL > 0 && limit.Before(exp) {
		exp = limit
	}
	if claims.ExpiresAt.Before(exp) {
		exp = claims.ExpiresAt
	}
	// Signers and CDNs count whole seconds.
	exp = exp.Truncate(time.Second)
	cred, err := s.deps.Tokens.IssueManifest(claims.ManifestClaims(now, exp))
	if err != nil {
		return fmt.Errorf("authorizeplay: manifest credential: %w", err)
	}
	base := playurl.APIBase(r, s.cfg.PublicURL)
	m := playurl.PersonalizedManifests(base, sess.ID, cred, "", "")
	resp.Manifests, resp.ManifestURL = &m, m.HLS
	resp.SteeringURI = playurl.Steering(base, sess.ID, cred, "hls")
	resp.ManifestExpiresAt = exp.UTC()
	return nil
}

// maxAdmitAttempts bounds the reads of one play whose account keeps
// changing under it (each change is a write: device registration, admin,
// payment events, or on Firestore a concurrent admission), beyond the
// plan's MaxStreams: the household's plays sent at once each move the
// account as they are admitted (a new device, a first play of the day),
// and up to MaxStreams of them can be, so a play may lose that many reads
// to its own household before it is admitted or hears stream_limit.
const maxAdmitAttempts = 5

// check reads what a play decides on — the account with its leases and
// the title side by side, one round trip of latency; the plan from its
// cache — and runs every read-only check, so that a refused request
// writes nothing. The checks run in the order that tells a refused caller
// nothing about the title first. until is when the play's token expires:
// TokenTTL from now, or the end of the licence window it is admitted
// under if that comes first, in whole seconds as tokens count them.
func (s *Server) check(r *http.Request, req PlayRequest, accountID string, place playback.ViewerPlace, now time.Time) (playback.AdmissionRead, playback.Title, playback.Plan, time.Time, error) {
	ctx := r.Context()
	var (
		title    playback.Title
		titleErr error
		wg       sync.WaitGroup
	)
	wg.Go(func() { title, titleErr = s.deps.Store.GetTitle(ctx, req.TitleID) })
	read, err := s.deps.Store.ReadAdmission(ctx, accountID, now)
	wg.Wait()
	fail := func(err error) (playback.AdmissionRead, playback.Title, playback.Plan, time.Time, error) {
		return playback.AdmissionRead{}, playback.Title{}, playback.Plan{}, time.Time{}, err
	}
	if err != nil {
		return fail(err)
	}
	acct := read.Account
	if acct.Suspended {
		return fail(playback.Errorf(playback.CodeForbidden, playback.ReasonAccountSuspended, "the account is suspended"))
	}
	if dated, _ := acct.DateUndated(now); !dated.Entitled(now, s.cfg.PastDueGrace) {
		return fail(playback.Errorf(playback.CodeForbidden, playback.ReasonSubscriptionInactive,
			"subscription is %s", acct.Status))
	}
	plan, err := s.plans.GetPlan(ctx, acct.PlanID)
	if plan, err = playback.AccountPlan(acct, plan, err); playback.IsCode(err, playback.CodeForbidden) {
		return fail(err)
	}
	if err != nil {
		return fail(fmt.Errorf("authorizeplay: plan %q of account %q: %w", acct.PlanID, acct.ID, err))
	}
	// A re-authorization from a device the account does not have is a
	// removed device's, which the admission refuses 410 without
	// registering it (LeaseRequest.DeviceRemoved), room or not: not an
	// offer to remove another device to play there.
	if !acct.HasDevice(req.DeviceID) && len(acct.Devices) >= plan.MaxDevices && req.ReplacesSessionID == "" {
		return fail(deviceLimit(plan, read))
	}
	if titleErr != nil {
		return fail(titleErr)
	}
	licensed, err := playback.CheckLicence(title, acct.Territory, place, playback.LicencePolicy{RefuseAnonymous: s.cfg.RefuseAnonymousProxies}, now)
	if err != nil {
		return fail(err)
	}
	// Tokens count whole seconds: one cut to the licence's end ends on
	// the second before it, and one that would live less than a second
	// (a play in the last second of a window ending on a whole second)
	// would lease a stream for a player that could do nothing with it.
	until := s.tokenEnd(now)
	if licensed.Before(until) {
		until = licensed.Truncate(time.Second)
		if until.Sub(now) < time.Second {
			return fail(playback.LicenceEnded(title.ID, licensed))
		}
	}
	if acct.ParentalCap > 0 && title.Rating == nil {
		return fail(playback.Errorf(playback.CodeForbidden, playback.ReasonParentalRating,
			"title has no rating, the account's parental cap is %d", acct.ParentalCap))
	}
	if acct.ParentalCap > 0 && *title.Rating > acct.ParentalCap {
		return fail(playback.Errorf(playback.CodeForbidden, playback.ReasonParentalRating,
			"title is rated %d, the account's parental cap is %d", *title.Rating, acct.ParentalCap))
	}
	// Sign URLs refuses to grant such a title: a lease would hold one of
	// the plan's streams for media no route delivers.
	if err := title.Signable(); err != nil {
		return fail(err)
	}
	return read, title, plan, until, nil
}

// tokenEnd is when a token issued at now expires by its lifetime alone:
// TokenTTL away, on the second before, as tokens count whole seconds, so
// that the answer's token_expires_at is when the token stops verifying.
func (s *Server) tokenEnd(now time.Time) time.Time {
	return now.Add(s.cfg.TokenTTL).Truncate(time.Second)
}

func deviceRemoved(deviceID string) error {
	return playback.Errorf(playback.CodeConflict, "device_removed",
		"device %q was removed from the account while this play started", deviceID)
}

// deviceLimit lists the registered devices as GET /v1/devices would, so
// that the player can offer to remove one (DELETE /v1/devices/{id}) and
// play here, and the household can tell a stale one by its last play.
func deviceLimit(plan playback.Plan, read playback.AdmissionRead) error {
	e := playback.Errorf(playback.CodeForbidden, playback.ReasonDeviceLimit,
		"the plan allows %d registered devices; remove one to add this device", plan.MaxDevices)
	e.Details = deviceList(read.Account.Devices, read.Active, plan.MaxDevices)
	return e
}

// conflictView replaces the store's session list with what a client may
// see, the devices named as acct registered them.
func conflictView(err error, acct playback.Account) error {
	var pe *playback.Error
	if !errors.As(err, &pe) || pe.Code != playback.CodeConflict {
		return err
	}
	d, ok := pe.Details.(*playback.ConflictDetails)
	if !ok {
		return err
	}
	out := *pe
	out.Details = map[string]any{"limit": d.Limit, "sessions": viewsOn(d.Sessions, acct)}
	return &out
}

// viewsOn shows sessions of acct with their devices named as acct
// registered them.
func viewsOn(sessions []playback.Session, acct playback.Account) []SessionView {
	views := make([]SessionView, len(sessions))
	for i, s := range sessions {
		views[i] = view(s)
		if j := slices.IndexFunc(acct.Devices, func(d playback.Device) bool { return d.ID == s.DeviceID }); j >= 0 {
			views[i].DeviceName = acct.Devices[j].Name
		}
	}
	return views
}

func (s *Server) listSessions(w http.ResponseWriter, r *http.Request) error {
	who, err := s.deps.Identity.Authenticate(r)
	if err != nil {
		return err
	}
	if err := httpx.CheckQuery(r); err != nil {
		return err
	}
	// The account and its leases in one round trip, for the devices' names.
	read, err := s.deps.Store.ReadAdmission(r.Context(), who.AccountID, s.deps.Now())
	if playback.IsCode(err, playback.CodeNotFound) {
		err = nil // no account, no sessions
	}
	if err != nil {
		return err
	}
	httpx.WriteJSON(w, http.StatusOK, map[string]any{"sessions": viewsOn(read.Active, read.Account)})
	return nil
}

func (s *Server) endSession(w http.ResponseWriter, r *http.Request) error {
	who, err := s.deps.Identity.Authenticate(r)
	if err != nil {
		return err
	}
	if err := httpx.CheckQuery(r); err != nil {
		return err
	}
	id := r.PathValue("id")
	if !playback.ValidID(id) {
		return playback.Errorf(playback.CodeInvalid, "session_id", "malformed session id")
	}
	sess, err := s.deps.Store.GetSession(r.Context(), id)
	if err == nil && sess.AccountID != who.AccountID {
		// Another account's session is reported as absent, not forbidden,
		// so session ids can't be probed.
		err = playback.NotFound("session", id)
	}
	if err != nil {
		return err
	}
	now := s.deps.Now()
	// A lease lapsed by this clock is ended too (endByUser); the answer,
	// and every 410 after, still names the lapse (Session.Over): the
	// stream had ended by itself.
	if sess, err = s.endByUser(r.Context(), sess, now); err != nil {
		return err
	}
	if err := s.endPlay(r.Context(), sess, now); err != nil {
		return err
	}
	v := view(sess)
	if !sess.Active(now) {
		// Its end as every 410 on the session names it.
		v.EndedAt, v.EndReason = sess.Over()
	}
	httpx.WriteJSON(w, http.StatusOK, v)
	return nil
}

// endPlay ends the play of sess, which DELETE /v1/sessions/{id} named and
// has ended, where it went on after a re-authorization: a list read just
// before the play's re-authorization (or an end racing it that the
// re-authorization's admission beat) names the session it replaced, and
// "end this stream" means the play, not a session already over. Each
// session a re-authorization replaced names the one that took over
// (Session.ReplacedBy); the one the play is in is ended (endByUser), live
// or lapsed with nobody having ended it. A session ended
// otherwise, or replaced by a play that was not its re-authorization
// (another title on the device), ends the walk, as does
// playback.MaxReauthorizations: a re-authorization retried from the
// session named follows the same walk (LeaseRequest.FollowReplaces).
func (s *Server) endPlay(ctx context.Context, sess playback.Session, now time.Time) error {
	for range playback.MaxReauthorizations {
		if sess.EndReason != playback.EndReplaced || sess.ReplacedBy == "" {
			return nil
		}
		next, err := s.deps.Store.GetSession(ctx, sess.ReplacedBy)
		if playback.IsCode(err, playback.CodeNotFound) || err == nil && next.AccountID != sess.AccountID {
			return nil
		}
		if err != nil {
			return err
		}
		// Replaced again meanwhile, the end returns it as replaced: the
		// walk goes on to its successor.
		if next, err = s.endByUser(ctx, next, now); err != nil {
			return err
		}
		sess = next
	}
	return nil
}

// endByUser ends sess at now for DELETE /v1/sessions/{id} and returns it
// as stored then: as ended, or as it was already over (a re-authorization
// by a clock that still held its lease may have replaced it since it was
// read, and the play goes on in its successor: endPlay). A session whose
// lease lapsed by this clock and that nobody ended is ended too, whether
// or not a renewal could still extend it: a heartbeat that read the lease
// just before the expiry would renew it (ListRenewableSessions), and the
// tab asleep in it would authorize it again on waking
// (LeaseRequest.FollowReplaces admits a lapsed session nobody ended), so
// the stream the viewer ended would play on. Its end, at or after the
// lapse, reads as the lapse (Session.Over).
func (s *Server) endByUser(ctx context.Context, sess playback.Session, now time.Time) (playback.Session, error) {
	if !sess.EndedAt.IsZero() {
		return sess, nil
	}
	ended, err := s.deps.Store.EndSession(ctx, sess.ID, playback.EndByUser, now)
	if playback.IsCode(err, playback.CodeNotFound) {
		return sess, nil // past its retention: nothing renews or re-authorizes it
	}
	return ended, err
}

// onEntitlementChanged ends the active sessions of accounts that lost their
// entitlement, so a cancelled subscription stops streaming within one
// heartbeat instead of at lease expiry.
func (s *Server) onEntitlementChanged(ctx context.Context, msgs []playback.Message) (retry []string) {
	log := httpx.Logger(ctx)
	for _, m := range msgs {
		var ev events.EntitlementChanged
		if err := json.Unmarshal(m.Data, &ev); err != nil || ev.AccountID == "" {
			log.ErrorContext(ctx, "dropping malformed entitlement event", "message_id", m.ID, "err", err)
			continue
		}
		if ev.Entitled {
			continue
		}
		if err := s.endAll(ctx, ev.AccountID); err != nil {
			if playback.ErrorCode(err).Retryable() {
				retry = append(retry, m.ID)
			}
			log.ErrorContext(ctx, "ending sessions after entitlement loss", "account_id", ev.AccountID, "err", err)
			continue
		}
		log.InfoContext(ctx, "sessions ended after entitlement loss", "account_id", ev.AccountID, "cause", ev.Cause)
	}
	return retry
}

func (s *Server) endAll(ctx context.Context, accountID string) error {
	now := s.deps.Now()
	// Events can arrive out of order: act on the account as it is now, not
	// as the event described it.
	acct, err := s.deps.Store.GetAccount(ctx, accountID)
	if err != nil {
		if playback.IsCode(err, playback.CodeNotFound) {
			return nil
		}
		return err
	}
	if acct.Entitled(now, s.cfg.PastDueGrace) {
		return nil
	}
	return playback.EndLostEntitlement(ctx, s.deps.Store, accountID, now)
}
