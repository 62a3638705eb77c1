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
	"errors"
	"fmt"
	"maps"
	"net/http"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/playplane/playplane/shared/auth"
	"github.com/playplane/playplane/shared/httpx"
	"github.com/playplane/playplane/shared/playback"
)

// Config is read from the environment.
type Config struct {
	// DefaultCDN signs when the request names no CDN. It may be empty when
	// exactly one CDN is configured.
	DefaultCDN string `env:"SIGNURL_DEFAULT_CDN"`
	// CDNBases maps each CDN a request may choose to the base URL players
	// fetch from: "cloudfront=https://d111.cloudfront.net,cloudcdn=https://cdn.example.com".
	CDNBases map[string]string `env:"SIGNURL_CDN_BASES, separator=="`
	// Grace lets credentials outlive the lease a little, so a player whose
	// heartbeat is a few seconds late does not stall mid-segment.
	Grace time.Duration `env:"SIGNURL_GRACE, default=30s"`
	// MaxTTL caps credentials however long the lease runs: a leaked URL is
	// useful for at most this long.
	MaxTTL time.Duration `env:"SIGNURL_MAX_TTL, default=10m"`
	// BindIP binds CloudFront grants to the caller's address (a custom
	// policy with AWS:SourceIp). Cloud CDN signatures cannot carry an address,
	// so it has no effect there. Leave it off when players may reach the API
	// and the CDN from different addresses (dual-stack, mobile handover).
	BindIP  bool  `env:"SIGNURL_BIND_IP, default=false"`
	MaxBody int64 `env:"SIGNURL_MAX_BODY, default=1024"`
}

// Store is what signing reads.
type Store interface {
	playback.SessionStore
	playback.CatalogStore
}

// Deps are the collaborators.
type Deps struct {
	Store  Store
	Tokens *auth.Keyring
	// Signers maps a CDN name ("cloudfront", "cloudcdn", "local-cloudfront",
	// ...) to its signer. Every name in Config.CDNBases needs one.
	Signers map[string]playback.URLSigner
	Now     func() time.Time
}

// Server serves POST /v1/playback/{session_id}/urls.
type Server struct {
	cfg        Config
	deps       Deps
	defaultCDN string
	cdns       map[string]cdn
}

type cdn struct {
	base   string
	signer playback.URLSigner
}

// New validates cfg and deps.
func New(cfg Config, deps Deps) (*Server, error) {
	switch {
	case deps.Store == nil:
		return nil, errors.New("signurl.New: Store is required")
	case deps.Tokens == nil:
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
	s := &Server{cfg: cfg, deps: deps, cdns: make(map[string]cdn, len(cfg.CDNBases))}
	for name, base := range cfg.CDNBases {
		signer := deps.Signers[name]
		if signer == nil {
			return nil, fmt.Errorf("signurl.New: CDN %q has a base URL but no signer", name)
		}
		base = strings.TrimSuffix(base, "/")
		if err := checkBaseURL(base); err != nil {
			return nil, fmt.Errorf("signurl.New: CDN %q: %w", name, err)
		}
		s.cdns[name] = cdn{base: base, signer: signer}
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
	return s, nil
}

// checkBaseURL refuses at start what every signer would refuse on each
// request, by asking the domain's own rule with a request that is valid in
// every other respect.
func checkBaseURL(base string) error {
	now := time.Now()
	probe := playback.SignRequest{BaseURL: base, Prefix: "/p/", Manifest: "/p/m", Expires: now.Add(time.Hour)}
	return probe.Validate(now)
}

// Register serves the routes on mux.
func (s *Server) Register(mux *http.ServeMux) { s.Mount(mux) }

// Mount mounts the routes on mux: its catalogue entry's (functions/catalog),
// as cmd/playplane's TestFunctionsServeWhatTheCatalogueDeploys checks.
func (s *Server) Mount(mux httpx.Mux) {
	mux.Handle("POST /v1/playback/{session_id}/urls", httpx.HandlerFunc(s.urls))
}

// Consumers returns the event-triggered handlers by topic: none.
func (s *Server) Consumers() map[string]playback.BatchHandler { return nil }

// URLsRequest is the optional body of POST /v1/playback/{session_id}/urls.
type URLsRequest struct {
	// CDN picks one of the configured CDNs, e.g. the one steering chose;
	// empty means the default.
	CDN string `json:"cdn,omitempty"`
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
// ExpiresAt: the manifest URL, and for the URIs inside the playlists either
// the cookies or QueryParams appended to each of them.
type URLsResponse struct {
	ManifestURL string    `json:"manifest_url"`
	Cookies     []Cookie  `json:"cookies"`
	QueryParams string    `json:"query_params,omitempty"`
	ExpiresAt   time.Time `json:"expires_at"`
	KeyID       string    `json:"key_id"`
	CDN         string    `json:"cdn"`
}

// urls is POST /v1/playback/{session_id}/urls with the playback token of
// authorize play.
//
// Errors: 401 bad or expired token; 403 token_session_mismatch when the
// token is for another session, account or title; 400/413 bad body or
// unknown_cdn; 404 unknown session; 410 session_ended or lease_expired, so
// a revoked or lapsed session never gets a URL; 503 when the store is down
// (retrying is safe: nothing is written).
func (s *Server) urls(w http.ResponseWriter, r *http.Request) error {
	now := s.deps.Now()
	claims, err := s.deps.Tokens.Authenticate(r, now)
	if err != nil {
		return err
	}
	id := r.PathValue("session_id")
	if id != claims.SessionID {
		return mismatch(id)
	}
	cdnName, err := s.chooseCDN(r)
	if err != nil {
		return err
	}
	c := s.cdns[cdnName]

	ctx := r.Context()
	sess, err := s.deps.Store.GetSession(ctx, id)
	if playback.IsCode(err, playback.CodeNotFound) {
		// A token we signed proves the session existed; stores forget
		// sessions some time after they end (DynamoDB and Firestore TTL),
		// so "unknown" means "over", as heartbeat answers too.
		return playback.Errorf(playback.CodeGone, "session_not_found", "session %q is over", id)
	}
	if err != nil {
		return err
	}
	// Ownership before state, so a session's state is only told to its own
	// token.
	if sess.AccountID != claims.AccountID || sess.TitleID != claims.TitleID {
		return mismatch(id)
	}
	if !sess.EndedAt.IsZero() {
		return playback.Errorf(playback.CodeGone, "session_ended", "session %q has ended (%s)", id, sess.EndReason)
	}
	if !now.Before(sess.ExpiresAt) {
		return playback.Errorf(playback.CodeGone, "lease_expired", "the lease of session %q expired at %s", id, sess.ExpiresAt.UTC().Format(time.RFC3339))
	}

	title, err := s.deps.Store.GetTitle(ctx, sess.TitleID)
	if err != nil {
		return err
	}
	prefix, manifest, err := titlePaths(title)
	if err != nil {
		return err
	}

	expires := s.expiry(sess, claims, now)
	// CDNs compare whole seconds and signers round down: a grant that would
	// end within the current second is no grant.
	if expires.Unix() <= now.Unix() {
		return playback.Errorf(playback.CodeGone, "lease_expired", "the lease of session %q ends now", id)
	}
	req := playback.SignRequest{BaseURL: c.base, Prefix: prefix, Manifest: manifest, Expires: expires}
	if s.cfg.BindIP {
		// Signers that cannot express an address condition (Cloud CDN)
		// ignore it.
		ap, err := netip.ParseAddrPort(r.RemoteAddr)
		if err != nil {
			return &playback.Error{Code: playback.CodeInternal, Reason: "client_ip_unknown",
				Message: "cannot bind the grant to the caller's address", Err: fmt.Errorf("signurl: RemoteAddr %q: %w", r.RemoteAddr, err)}
		}
		req.ClientIP = ap.Addr().Unmap()
	}
	access, err := c.signer.Sign(ctx, req)
	if err != nil {
		if ctx.Err() != nil {
			return err
		}
		// The request was validated above, so whatever the signer refuses is
		// our fault (a key, a signer bug), not the caller's.
		return &playback.Error{Code: playback.CodeInternal, Reason: "sign_failed", Err: fmt.Errorf("signurl: %s: %w", cdnName, err)}
	}

	resp := URLsResponse{ManifestURL: access.ManifestURL, Cookies: make([]Cookie, 0, len(access.Cookies)),
		QueryParams: access.QueryParams, ExpiresAt: access.Expires.UTC(), KeyID: access.KeyID, CDN: cdnName}
	for _, ck := range access.Cookies {
		out := *ck
		if out.Expires.IsZero() {
			// Browsers then drop the cookies when the signature inside them
			// is dead anyway.
			out.Expires = access.Expires
		}
		http.SetCookie(w, &out)
		resp.Cookies = append(resp.Cookies, Cookie{Name: out.Name, Value: out.Value, Path: out.Path, Domain: out.Domain,
			Expires: out.Expires.UTC(), Secure: out.Secure, HTTPOnly: out.HttpOnly})
	}
	// Signed URLs are bearer credentials: no proxy may keep them.
	w.Header().Set("Cache-Control", "no-store")
	httpx.Logger(ctx).DebugContext(ctx, "urls signed", "session_id", id, "title_id", title.ID, "cdn", cdnName,
		"key_id", access.KeyID, "expires_at", resp.ExpiresAt)
	httpx.WriteJSON(w, http.StatusOK, resp)
	return nil
}

func mismatch(id string) error {
	return playback.Errorf(playback.CodeForbidden, "token_session_mismatch", "the playback token is not for session %q", id)
}

// chooseCDN reads the optional body. An empty body picks the default CDN.
func (s *Server) chooseCDN(r *http.Request) (string, error) {
	body, err := httpx.ReadBody(r, s.cfg.MaxBody)
	if err != nil {
		return "", err
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return s.defaultCDN, nil
	}
	if err := httpx.CheckJSONContentType(r); err != nil {
		return "", err
	}
	var req URLsRequest
	if err := httpx.Unmarshal(body, &req); err != nil {
		return "", err
	}
	if req.CDN == "" {
		return s.defaultCDN, nil
	}
	if _, ok := s.cdns[req.CDN]; !ok {
		return "", &playback.Error{Code: playback.CodeInvalid, Reason: "unknown_cdn",
			Message: fmt.Sprintf("cdn %q is not configured", req.CDN), Details: map[string]any{"cdns": slices.Sorted(maps.Keys(s.cdns))}}
	}
	return req.CDN, nil
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

// titlePaths returns the title's path prefix and manifest path, refusing a
// catalogue entry whose prefix could reach other titles: it must be a
// canonical path (no dot segments, escapes or wildcards, see
// playback.SignablePath) whose last segment is the title's id, so "/",
// "/titles/" or another title's folder never become a signed scope.
func titlePaths(t playback.Title) (prefix, manifest string, err error) {
	bad := func(format string, args ...any) error {
		return &playback.Error{Code: playback.CodeInternal, Reason: "title_not_signable",
			Err: fmt.Errorf("signurl: title %q: "+format, append([]any{t.ID}, args...)...)}
	}
	prefix = t.AssetPath
	if len(prefix) < 3 || prefix[0] != '/' || prefix[len(prefix)-1] != '/' {
		return "", "", bad("asset path %q must be /.../<id>/", prefix)
	}
	if err := playback.SignablePath(prefix); err != nil {
		return "", "", bad("asset path: %w", err)
	}
	trimmed := prefix[:len(prefix)-1]
	if last := trimmed[strings.LastIndexByte(trimmed, '/')+1:]; last != t.ID {
		return "", "", bad("asset path %q does not end in the title's own folder", prefix)
	}
	if t.Manifest == "" || strings.HasPrefix(t.Manifest, "/") || strings.HasSuffix(t.Manifest, "/") {
		return "", "", bad("manifest %q must be a file under the asset path", t.Manifest)
	}
	manifest = prefix + t.Manifest
	if err := playback.SignablePath(manifest); err != nil {
		return "", "", bad("manifest: %w", err)
	}
	return prefix, manifest, nil
}
