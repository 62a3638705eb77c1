// Package signurl turns a playback token into CDN credentials: a signed
// manifest URL plus signed cookies and a prefix-scoped signature query that
// together let a player fetch the title's manifests and every segment, and
// nothing outside the title's own path prefix.
//
// The credentials live no longer than the session's lease (plus a small
// grace), so ending a session or letting its lease lapse cuts playback off
// at the CDN within that bound. Because the player keeps heartbeating, which
// extends the lease, it calls this function again before expires_at to get
// fresh URLs and cookies; a refresh after the session ended is refused.
package signurl

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"net/netip"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/playplane/playplane/shared/auth"
	"github.com/playplane/playplane/shared/depcheck"
	"github.com/playplane/playplane/shared/httpx"
	"github.com/playplane/playplane/shared/playback"
	"github.com/playplane/playplane/shared/steering"
	"github.com/playplane/playplane/shared/telemetry"
)

// Config is read from the environment.
type Config struct {
	// DefaultCDN signs when the request names no CDN. It may be empty when
	// exactly one CDN is configured.
	DefaultCDN string `env:"SIGNURL_DEFAULT_CDN"`
	// PlanCacheTTL bounds how stale a plan's quality cap may be (see
	// playback.PlanCache); which plan an account is on is read fresh.
	// Zero reads every plan from the store.
	PlanCacheTTL time.Duration `env:"PLAN_CACHE_TTL, default=30s"`
	// CDNBases maps each CDN a request may choose to the base URL players
	// fetch from: "cloudfront=https://d111.cloudfront.net,cloudcdn=https://cdn.example.com".
	CDNBases map[string]string `env:"SIGNURL_CDN_BASES, separator=="`
	// SignerNames renames the signers the configured keys make (named
	// "cloudfront" and "cloudcdn", LoadSigners) to the CDN names of
	// SIGNURL_CDN_BASES, "cloudfront=local-cloudfront": the local runner
	// serves its two CDNs under the demo's names. Unset on the clouds.
	SignerNames map[string]string `env:"SIGNURL_SIGNER_NAMES, separator=="`
	// Grace lets credentials outlive the lease a little, so a player whose
	// heartbeat is a few seconds late does not stall mid-segment.
	Grace time.Duration `env:"SIGNURL_GRACE, default=30s"`
	// MaxTTL caps credentials however long the lease runs: a leaked URL is
	// useful for at most this long.
	MaxTTL time.Duration `env:"SIGNURL_MAX_TTL, default=10m"`
	// BindIP binds CloudFront grants to the caller's address (a custom
	// policy with AWS:SourceIp). Cloud CDN signatures cannot carry an address,
	// so it has no effect there. Leave it off when players may reach the API
	// and the CDN from different addresses (mobile handover, split proxies).
	//
	// AWS says not to enable IPv6 on a distribution whose custom policies
	// carry IpAddress (DistributionConfig IsIPV6Enabled), so with BindIP the
	// distribution serves IPv4 only (the stacks' signUrlBindIP turns both
	// on together). A caller that reached the API over IPv6 would fetch
	// over IPv4, so no grant bound to its address can play, and one without
	// the address is the shareable grant BindIP was set to prevent: it is
	// refused, 403 ipv4_required. Serve the API over IPv4 only as well (the
	// stacks' HTTP API endpoints are IPv4 by default; a dual-stack custom
	// domain is not). IPv4 and IPv4-mapped callers are bound.
	BindIP  bool  `env:"SIGNURL_BIND_IP, default=false"`
	MaxBody int64 `env:"SIGNURL_MAX_BODY, default=1024"`
	// PublicURL is how players reach this API, e.g.
	// "https://api.example.com": personalized manifest URLs and steering
	// URIs are absolute on it, as players resolve them against a CDN's or
	// the page's host otherwise. Empty takes each request's own scheme
	// (X-Forwarded-Proto) and Host.
	PublicURL string `env:"PUBLIC_API_URL"`
	// OriginURL is where the titles' stored manifests are read from (the
	// asset bucket's endpoint). Empty reads them through the default CDN
	// with a grant of its own for each fetch.
	OriginURL string `env:"SIGNURL_ORIGIN_URL"`
	// OriginCacheTTL is how long a stored manifest is kept in memory: a
	// republished title shows after at most this long.
	OriginCacheTTL time.Duration `env:"SIGNURL_ORIGIN_CACHE_TTL, default=60s"`
}

// Store is what signing reads.
type Store interface {
	playback.SessionStore
	playback.CatalogStore
	// GetAccount finds the plan whose MaxQuality caps the renditions.
	GetAccount(ctx context.Context, id string) (playback.Account, error)
}

// Deps are the collaborators.
type Deps struct {
	Store  Store
	Tokens *auth.Keyring
	// Signers maps a CDN name ("cloudfront", "cloudcdn", "local-cloudfront",
	// ...) to its signer. Every name in Config.CDNBases needs one.
	Signers map[string]playback.URLSigner
	Now     func() time.Time
	// Origin reads stored manifests; nil builds an HTTPOrigin from
	// Config.OriginURL. HTTPClient is its client (default: 10 s timeout).
	Origin     Origin
	HTTPClient *http.Client
	// Steering is the steering server's ranking (shared/steering/ranker's
	// Ranker, configured as pickedge is): a session whose request names no
	// CDN starts on its first pathway. Nil starts on DefaultCDN. The server
	// owns it: Close closes it.
	Steering Steering
}

// Steering ranks the CDN pathways for the viewer of a request and a title,
// best first, as the session's steering manifest would answer now.
type Steering interface {
	Pathways(r *http.Request, titleID string, now time.Time) ([]string, error)
}

// Server serves POST /v1/playback/{session_id}/urls.
type Server struct {
	cfg        Config
	deps       Deps
	defaultCDN string
	cdns       map[string]cdn
	cdnNames   []string // sorted
	origin     Origin
	plans      *playback.PlanCache
	// steering is Deps.Steering where there is a choice to rank (two
	// CDNs or more), else nil: sessions then start on defaultCDN.
	steering Steering
}

type cdn struct {
	base   string
	signer playback.URLSigner
}

// New validates cfg and deps.
func New(cfg Config, deps Deps) (*Server, error) {
	switch {
	case depcheck.Nil(deps.Store):
		return nil, errors.New("signurl.New: Store is required")
	case depcheck.Nil(deps.Tokens):
		return nil, errors.New("signurl.New: Tokens is required")
	case len(cfg.CDNBases) == 0:
		return nil, errors.New("signurl.New: no CDN configured (SIGNURL_CDN_BASES)")
	case cfg.Grace < 0:
		return nil, fmt.Errorf("signurl.New: Grace %s is negative", cfg.Grace)
	case cfg.MaxTTL < time.Second || cfg.MaxBody <= 0:
		return nil, fmt.Errorf("signurl.New: MaxTTL must be at least 1s and MaxBody positive: %+v", cfg)
	}
	if deps.Now == nil {
		deps.Now = time.Now
	}
	s := &Server{cfg: cfg, deps: deps, cdns: make(map[string]cdn, len(cfg.CDNBases)),
		plans: playback.NewPlanCache(deps.Store, cfg.PlanCacheTTL, deps.Now)}
	for name, base := range cfg.CDNBases {
		signer := deps.Signers[name]
		if depcheck.Nil(signer) {
			return nil, fmt.Errorf("signurl.New: CDN %q has a base URL but no signer", name)
		}
		base = strings.TrimSuffix(base, "/")
		if err := checkBaseURL(base); err != nil {
			return nil, fmt.Errorf("signurl.New: CDN %q: %w", name, err)
		}
		s.cdns[name] = cdn{base: base, signer: countedSigner{cdn: name, URLSigner: signer}}
	}
	for name := range deps.Signers {
		if _, ok := s.cdns[name]; !ok {
			return nil, fmt.Errorf("signurl.New: CDN %q has a signer but no base URL in SIGNURL_CDN_BASES", name)
		}
	}
	s.defaultCDN = cfg.DefaultCDN
	if s.defaultCDN == "" {
		if len(s.cdns) != 1 {
			return nil, fmt.Errorf("signurl.New: SIGNURL_DEFAULT_CDN must name one of %v", slices.Sorted(maps.Keys(s.cdns)))
		}
		for name := range s.cdns {
			s.defaultCDN = name
		}
	}
	if _, ok := s.cdns[s.defaultCDN]; !ok {
		return nil, fmt.Errorf("signurl.New: default CDN %q is not among %v", s.defaultCDN, slices.Sorted(maps.Keys(s.cdns)))
	}
	s.cdnNames = slices.Sorted(maps.Keys(s.cdns))
	s.cfg.PublicURL = strings.TrimSuffix(cfg.PublicURL, "/")
	if s.cfg.PublicURL != "" {
		// A path is allowed: a stage prefix or a gateway's mount point.
		u, err := url.Parse(s.cfg.PublicURL)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" || u.User != nil {
			return nil, fmt.Errorf("signurl.New: PUBLIC_API_URL %q must be an http(s) URL without query", cfg.PublicURL)
		}
	}
	if !depcheck.Nil(deps.Steering) && len(s.cdns) > 1 {
		s.steering = deps.Steering
	}
	s.origin = deps.Origin
	if s.origin == nil {
		if cfg.OriginCacheTTL < 0 {
			return nil, fmt.Errorf("signurl.New: OriginCacheTTL %s is negative", cfg.OriginCacheTTL)
		}
		client := deps.HTTPClient
		if client == nil {
			client = &http.Client{Timeout: 10 * time.Second}
		}
		o := &HTTPOrigin{Base: strings.TrimSuffix(cfg.OriginURL, "/"), Client: client, TTL: cfg.OriginCacheTTL, Max: 1024, Now: deps.Now}
		if o.Base == "" {
			// Through the default CDN, as a player would fetch, with a
			// grant for the object's folder that outlives the fetch only
			// briefly.
			c := s.cdns[s.defaultCDN]
			o.Base = c.base
			o.Sign = func(ctx context.Context, path string) (string, error) {
				dir := path[:strings.LastIndexByte(path, '/')+1]
				access, err := c.signer.Sign(ctx, playback.SignRequest{BaseURL: c.base, Prefix: dir, Manifest: path, Expires: deps.Now().Add(time.Minute)})
				return access.ManifestURL, err
			}
		} else if err := validateSignBase(o.Base); err != nil {
			return nil, fmt.Errorf("signurl.New: SIGNURL_ORIGIN_URL %q must be http(s)://host[:port]", cfg.OriginURL)
		}
		s.origin = o
	}
	return s, nil
}

// validateSignBase accepts what a signer accepts as a base URL.
func validateSignBase(base string) error { return checkBaseURL(base) }

// checkBaseURL refuses at start what every signer would refuse on each
// request, by asking the domain's own rule with a request that is valid in
// every other respect.
func checkBaseURL(base string) error {
	now := time.Now()
	probe := playback.SignRequest{BaseURL: base, Prefix: "/p/", Manifest: "/p/m", Expires: now.Add(time.Hour)}
	return probe.Validate(now)
}

// Steering is the ranking sessions start on; nil where there is no choice
// to rank. The local runner's tests wait on it to have a change to the
// edge table before a play starts.
func (s *Server) Steering() Steering { return s.steering }

// Close closes Deps.Steering, which the server owns (its GeoIP databases
// and zone file pollers).
func (s *Server) Close() error {
	if c, ok := s.deps.Steering.(io.Closer); ok {
		return c.Close()
	}
	return nil
}

// startPathway is the pathway a session starts on when its request names
// none: the steering server's first choice among the configured CDNs, so
// that the multivariant playlist's default PATHWAY-ID (the MPD's
// defaultServiceLocation) is what the player's first steering answer puts
// first. A first answer that moves the player saves nothing and costs a
// pathway switch within its first second; hls.js 1.7.4 never recovers from
// one that lands while its first segment is loading (stream-controller's
// _handleFragmentLoadProgress drops the segment, as the new pathway's
// level has no details yet, and leaves the state FRAG_LOADING). Without a
// ranking (none configured, or it failed) it is the default CDN: starting
// beats refusing, and steering still moves the player.
func (s *Server) startPathway(r *http.Request, titleID string, now time.Time) string {
	if s.steering == nil {
		return s.defaultCDN
	}
	// The ranking is an optimisation: it must not hold the answer for
	// long when the edge table is slow to read.
	ctx, cancel := context.WithTimeout(r.Context(), rankTimeout)
	defer cancel()
	ranked, err := s.steering.Pathways(r.WithContext(ctx), titleID, now)
	if err != nil {
		// No edge reporting (a new stack) or none for this viewer is a
		// state, not a fault: it would otherwise be logged on every
		// request.
		level := slog.LevelWarn
		if errors.Is(err, steering.ErrNoHealthyEdge) || errors.Is(err, steering.ErrNoEdgeForClient) {
			level = slog.LevelDebug
		}
		httpx.Logger(ctx).Log(ctx, level, "ranking pathways; starting on the default CDN", "default_cdn", s.defaultCDN, "err", err)
		return s.defaultCDN
	}
	for _, p := range ranked {
		if _, ok := s.cdns[p]; ok {
			return p
		}
	}
	return s.defaultCDN
}

// rankTimeout bounds startPathway's ranking, a cold instance's edge table
// read included; past it the session starts on the default CDN, which
// steering then corrects.
const rankTimeout = time.Second

// Register serves the routes on mux.
func (s *Server) Register(mux *http.ServeMux) { s.Mount(mux) }

// Mount mounts the routes on mux: its catalogue entry's (functions/catalog),
// as cmd/playplane's TestFunctionsServeWhatTheCatalogueDeploys checks.
func (s *Server) Mount(mux httpx.Mux) {
	mux.Handle("POST /v1/playback/{session_id}/urls", httpx.HandlerFunc(s.urls))
	mux.Handle("GET /v1/manifests/{session_id}/hls", httpx.HandlerFunc(s.hlsMaster))
	mux.Handle("GET /v1/manifests/{session_id}/hls/{pathway}/{rendition}", httpx.HandlerFunc(s.hlsMedia))
	mux.Handle("GET /v1/manifests/{session_id}/dash", httpx.HandlerFunc(s.dashMPD))
}

// Consumers returns the event-triggered handlers by topic: none.
func (s *Server) Consumers() map[string]playback.BatchHandler { return nil }

// URLsRequest is the optional body of POST /v1/playback/{session_id}/urls.
type URLsRequest struct {
	// CDN picks one of the configured CDNs; empty means the steering
	// server's first choice for this viewer (the default CDN without a
	// ranking).
	CDN string `json:"cdn,omitempty"`
	// Grant is how the personalized manifests carry the grant: "query"
	// (default, in every URI) or "cookie" (URIs without signatures; the
	// answer's cookies apply).
	Grant string `json:"grant,omitempty"`
}

// Cookie is a signed cookie as a non-browser player sets it on its CDN
// requests. The same cookies also come as Set-Cookie headers.
type Cookie struct {
	Name     string    `json:"name"`
	Value    string    `json:"value"`
	Path     string    `json:"path"`
	Domain   string    `json:"domain,omitempty"`
	Expires  time.Time `json:"expires"`
	Secure   bool      `json:"secure"`
	HTTPOnly bool      `json:"http_only"`
}

// URLsResponse is what a player needs to play the title from the CDN until
// ExpiresAt.
//
// For a title with a ladder (Title.Renditions), Manifests are the
// session's personalized HLS and DASH manifests (absolute URIs per CDN
// pathway, only the renditions the plan allows, content steering) and
// ManifestURL is the HLS one; Cookies grant the chosen CDN's folders of the
// allowed renditions, one grant per rendition, for players using grant
// "cookie"; there is no QueryParams, since no one query covers exactly the
// allowed renditions. SteeringURI is the session's content steering
// manifest.
//
// For a title without a ladder: the CDN's signed manifest URL, and for the
// URIs inside the playlists either the cookies or QueryParams appended to
// each of them, covering the title's whole folder.
type URLsResponse struct {
	ManifestURL string        `json:"manifest_url"`
	Manifests   *ManifestURLs `json:"manifests,omitempty"`
	SteeringURI string        `json:"steering_uri,omitempty"`
	Cookies     []Cookie      `json:"cookies"`
	QueryParams string        `json:"query_params,omitempty"`
	ExpiresAt   time.Time     `json:"expires_at"`
	KeyID       string        `json:"key_id"`
	CDN         string        `json:"cdn"`
	Grant       string        `json:"grant,omitempty"`
}

// urls is POST /v1/playback/{session_id}/urls with the playback token of
// authorize play.
//
// Errors: 401 bad or expired token; 403 token_session_mismatch when the
// token is for another session, account or title, quality_not_allowed when
// the plan allows none of the title's renditions; 400/413 bad body,
// unknown_cdn or grant_style; 410 session_ended, lease_expired or
// session_not_found, so a revoked, lapsed or forgotten session never gets
// a URL, naming why where its record tells (playback.EndDetails); 503 when
// the store is down (retrying is safe: nothing is written).
func (s *Server) urls(w http.ResponseWriter, r *http.Request) error {
	now := s.deps.Now()
	claims, err := s.deps.Tokens.Authenticate(r, now)
	if err != nil {
		return err
	}
	if err := httpx.CheckQuery(r); err != nil {
		return err
	}
	id := r.PathValue("session_id")
	if id != claims.SessionID {
		return mismatch(id)
	}
	body, err := s.readURLsRequest(r)
	if err != nil {
		return err
	}
	// No CDN named: the steering server's first choice, ranked beside the
	// store reads.
	sess, title, allowed, err := s.sessionLadder(r, id, claims, now, &body.CDN)
	if err != nil {
		return err
	}
	ctx := r.Context()
	cdnName := body.CDN
	c := s.cdns[cdnName]
	// sessionLadder held the title to Title.Signable, its paths included.
	prefix, manifest, err := title.MediaPaths()
	if err != nil {
		return err
	}

	expires := s.expiry(sess, claims, now)
	if err := leaseEnded(id, expires, now); err != nil {
		return err
	}
	// Signers that cannot express an address condition (Cloud CDN)
	// ignore it.
	ip, err := s.bindAddr(r)
	if err != nil {
		return err
	}
	// A title with a ladder is granted per allowed rendition folder, so
	// the plan's cap holds at the CDN; one without keeps the title-wide
	// grant.
	scopes := [][2]string{{prefix, manifest}}
	if len(allowed) > 0 {
		scopes = scopes[:0]
		for _, rend := range allowed {
			p := prefix + rend.Path + "/"
			scopes = append(scopes, [2]string{p, p + storedMediaPlaylist})
		}
	}
	resp := URLsResponse{Cookies: []Cookie{}, CDN: cdnName}
	// Set only once every grant is signed: an error answer is no grant,
	// and must not carry the credentials of the scopes signed before it.
	var setCookies []*http.Cookie
	for _, sc := range scopes {
		req := playback.SignRequest{BaseURL: c.base, Prefix: sc[0], Manifest: sc[1], Expires: expires, ClientIP: ip}
		access, err := c.signer.Sign(ctx, req)
		if err != nil {
			if ctx.Err() != nil {
				return err
			}
			// The grant may have ended since the check above, by the
			// signer's clock: the lease's end, not our fault.
			if err := leaseEnded(id, expires, s.deps.Now()); err != nil {
				return err
			}
			// The request was validated above, so whatever else the signer
			// refuses is our fault (a key, a signer bug), not the caller's,
			// and refused again on every try (playback.URLSigner).
			return &playback.Error{Code: playback.CodeInternal, Reason: "sign_failed", RetryAfter: playback.NoRetry, Err: fmt.Errorf("signurl: %s: %w", cdnName, err)}
		}
		resp.ExpiresAt, resp.KeyID = access.Expires.UTC(), access.KeyID
		if len(allowed) == 0 {
			resp.ManifestURL, resp.QueryParams = access.ManifestURL, access.QueryParams
		}
		for _, ck := range access.Cookies {
			out := httpx.Cookie(ck)
			// Browsers then drop the cookies when the signature inside
			// them is dead anyway. Max-Age, counted from receipt, wins
			// over Expires, which a viewer's clock running ahead would
			// put in the past; whole seconds, at least one.
			out.Expires = access.Expires
			out.MaxAge = int(access.Expires.Unix() - now.Unix())
			setCookies = append(setCookies, out)
			resp.Cookies = append(resp.Cookies, Cookie{Name: out.Name, Value: out.Value, Path: out.Path, Domain: out.Domain,
				Expires: out.Expires.UTC(), Secure: out.Secure, HTTPOnly: out.HttpOnly})
		}
	}
	if len(allowed) > 0 {
		cred, err := s.deps.Tokens.IssueManifest(claims.ManifestClaims(now, resp.ExpiresAt))
		if err != nil {
			return &playback.Error{Code: playback.CodeInternal, Reason: "credential_failed", Err: fmt.Errorf("signurl: manifest credential: %w", err)}
		}
		base := s.apiBase(r)
		m := manifestURLs(base, id, cred, cdnName, body.Grant)
		resp.Manifests, resp.ManifestURL, resp.Grant = &m, m.HLS, body.Grant
		resp.SteeringURI = steeringURI(base, id, cred, "hls", cdnName)
	}
	for _, c := range setCookies {
		http.SetCookie(w, c)
	}
	// Signed URLs are bearer credentials: no proxy may keep them.
	w.Header().Set("Cache-Control", "no-store")
	httpx.Logger(ctx).DebugContext(ctx, "urls signed", "session_id", id, "title_id", title.ID, "cdn", cdnName,
		"key_id", resp.KeyID, "expires_at", resp.ExpiresAt, "renditions", len(allowed))
	httpx.WriteJSON(w, http.StatusOK, resp)
	return nil
}

// liveSession reads the session a credential with claims is for and
// refuses it unless it holds its lease at now.
func (s *Server) liveSession(ctx context.Context, id string, claims auth.PlaybackClaims, now time.Time) (playback.Session, error) {
	sess, err := s.deps.Store.GetSession(ctx, id)
	if err != nil {
		return sess, playback.SessionOver(err, id)
	}
	// Ownership before state, so a session's state is only told to its own
	// token.
	if sess.AccountID != claims.AccountID || sess.TitleID != claims.TitleID {
		return sess, mismatch(id)
	}
	// Its end as Session.Over reads it: a lease that lapsed before an
	// ender wrote its end (playback.EndSessions) ended by the lapse.
	switch at, why := sess.Over(); {
	case sess.EndedAt.IsZero() && now.Before(sess.ExpiresAt):
	case why == playback.EndLapsed:
		err = playback.Errorf(playback.CodeGone, playback.ReasonLeaseExpired, "the lease of session %q expired at %s", id, at.UTC().Format(time.RFC3339))
	default:
		err = playback.Errorf(playback.CodeGone, playback.ReasonSessionEnded, "session %q has ended (%s)", id, why)
	}
	return sess, playback.WithEndReason(err, sess, now)
}

func mismatch(id string) error {
	return playback.Errorf(playback.CodeForbidden, "token_session_mismatch", "the playback token is not for session %q", id)
}

// readURLsRequest reads the optional body and fills in the grant's
// default. An empty body picks query grants; CDN stays empty unless named
// (the caller then starts the session on startPathway).
func (s *Server) readURLsRequest(r *http.Request) (URLsRequest, error) {
	req := URLsRequest{Grant: GrantQuery}
	body, err := httpx.ReadBody(r, s.cfg.MaxBody)
	if err != nil {
		return req, err
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return req, nil
	}
	if err := httpx.CheckJSONContentType(r); err != nil {
		return req, err
	}
	if err := httpx.Unmarshal(body, &req); err != nil {
		return req, err
	}
	if _, ok := s.cdns[req.CDN]; !ok && req.CDN != "" {
		return req, s.unknownCDN(req.CDN)
	}
	req.Grant, err = grantStyle(req.Grant)
	return req, err
}

// expiry is the earliest of: the lease end plus grace, now plus the cap,
// and the end of the token that asked.
func (s *Server) expiry(sess playback.Session, claims auth.PlaybackClaims, now time.Time) time.Time {
	exp := sess.ExpiresAt.Add(s.cfg.Grace)
	if limit := now.Add(s.cfg.MaxTTL); limit.Before(exp) {
		exp = limit
	}
	if claims.ExpiresAt.Before(exp) {
		exp = claims.ExpiresAt
	}
	return exp
}

// leaseEnded refuses a grant of session id that ends at expires, when that
// is not after now: CDNs compare whole seconds and signers round down, so
// a grant that would end within the current second is no grant. The
// signers hold a grant to their own clock, so a grant can end between
// this check and its signing (an origin fetch between them): their
// refusal is then this one, checked again.
func leaseEnded(id string, expires, now time.Time) error {
	if expires.Unix() > now.Unix() {
		return nil
	}
	return playback.Errorf(playback.CodeGone, playback.ReasonLeaseExpired, "the lease of session %q ends now", id)
}

// bindAddr is the address the request's grants are bound to: none
// without BindIP. With it, a caller that asked over IPv6 is refused
// (Config.BindIP): the IPv4-only distribution serves it from another
// address, and an unbound grant is what BindIP forbids.
func (s *Server) bindAddr(r *http.Request) (netip.Addr, error) {
	if !s.cfg.BindIP {
		return netip.Addr{}, nil
	}
	ip, err := clientIP(r)
	if err != nil || ip.Is4() {
		return ip, err
	}
	return netip.Addr{}, playback.Errorf(playback.CodeForbidden, ReasonIPv4Required,
		"grants are bound to the caller's IPv4 address (SIGNURL_BIND_IP) and this request came over IPv6")
}

// ReasonIPv4Required refuses a grant to a caller that reached the API
// over IPv6 while grants are bound to the caller's address (Config.BindIP).
const ReasonIPv4Required = "ipv4_required"

// countedSigner counts the grants a CDN's signer issues
// (playplane.grants.signed): every signing path goes through it.
type countedSigner struct {
	cdn string
	playback.URLSigner
}

func (c countedSigner) Sign(ctx context.Context, req playback.SignRequest) (playback.SignedAccess, error) {
	access, err := c.URLSigner.Sign(ctx, req)
	if err == nil {
		telemetry.GrantSigned(ctx, c.cdn)
	}
	return access, err
}
