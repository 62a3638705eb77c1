package signurl

import (
	"context"
	"fmt"
	"net/http"
	"net/netip"
	"net/url"
	"slices"
	"sync"
	"time"

	"github.com/playplane/playplane/shared/auth"
	"github.com/playplane/playplane/shared/playback"
	"github.com/playplane/playplane/shared/playurl"
)

// Personalized manifests: per-session HLS and DASH manifests a player
// loads by URL alone. The URL carries a manifest credential (see
// auth.IssueManifest) bound to the session, so native players that cannot
// add headers play them; the grants written into them are those of the
// session, scoped per allowed rendition, so a plan's cap holds at the CDN.
//
//	GET /v1/manifests/{session_id}/hls?token=&cdn=&grant=                       multivariant playlist
//	GET /v1/manifests/{session_id}/hls/{pathway}/{rendition}?token=&grant=      media playlist
//	GET /v1/manifests/{session_id}/dash?token=&cdn=&grant=                      MPD
//
// cdn names the pathway to start on (default: the steering server's first
// choice for the viewer, see startPathway); grant is
// "query" (default: each URI carries its pathway's signature query) or
// "cookie" (URIs carry none; the cookies of the urls answer apply).

// Grant styles.
const (
	GrantQuery  = "query"
	GrantCookie = "cookie"
)

// Stored object names under a title's asset path (docs/manifests.md): the
// HLS multivariant playlist is Title.Manifest.
const (
	storedMediaPlaylist = "media.m3u8"
	storedMPD           = "manifest.mpd"
)

// Content types of the manifests.
const (
	contentTypeHLS  = "application/vnd.apple.mpegurl"
	contentTypeDASH = "application/dash+xml"
)

// manifestRequest is a checked request for a session's manifest.
type manifestRequest struct {
	id       string
	token    string
	claims   auth.PlaybackClaims
	sess     playback.Session
	title    playback.Title
	allowed  []playback.Rendition
	pathway  string // the pathway to start on: the URL's, else (start) the steering server's first choice
	grant    string
	expires  time.Time
	apiBase  string
	clientIP netip.Addr
}

// openManifest checks what every manifest route needs, in the order that
// tells nothing to a stranger: the credential, its session, the
// parameters, then the session's state and the plan.
//
// Errors: 401 missing, forged or expired credential; 403
// token_session_mismatch for a credential of another session,
// licence_window_ended for one the licence window ended; 400
// unknown_cdn or grant_style; 410 session_ended, lease_expired or
// session_not_found; 403 quality_not_allowed when the plan allows none of
// the title's renditions; 403 title_not_signable for a stored asset path
// that could reach other titles or a broken ladder (Title.Signable); 503
// when the store is down. Nothing is written either way. With start (the
// manifests a player starts from), a URL that names no pathway starts on
// startPathway's, ranked beside the store reads (sessionLadder).
func (s *Server) openManifest(r *http.Request, start bool) (*manifestRequest, error) {
	now := s.deps.Now()
	q := r.URL.Query()
	token := q.Get(playurl.CredentialParam)
	if token == "" {
		if h := r.Header.Get("Authorization"); h != "" {
			var err error
			if token, err = auth.BearerToken(r); err != nil {
				return nil, err
			}
		}
	}
	if token == "" {
		return nil, playback.Errorf(playback.CodeUnauthenticated, auth.ReasonTokenMissing,
			"pass the manifest credential of the urls answer as ?%s=", playurl.CredentialParam)
	}
	claims, err := s.deps.Tokens.VerifyManifest(token, now)
	if err != nil {
		return nil, err
	}
	id := r.PathValue("session_id")
	if id != claims.SessionID {
		return nil, mismatch(id)
	}
	m := &manifestRequest{id: id, token: token, claims: claims, pathway: q.Get("cdn"), grant: GrantQuery}
	if _, ok := s.cdns[m.pathway]; !ok && m.pathway != "" {
		return nil, s.unknownCDN(m.pathway)
	}
	if m.grant, err = grantStyle(q.Get("grant")); err != nil {
		return nil, err
	}
	var rank *string // the manifests a player starts from rank a pathway the URL does not name
	if start {
		rank = &m.pathway
	}
	m.sess, m.title, m.allowed, err = s.sessionLadder(r, id, claims, now, rank)
	if err != nil {
		return nil, err
	}
	if len(m.title.Renditions) == 0 {
		return nil, playback.Errorf(playback.CodeNotFound, playback.ReasonTitleHasNoLadder,
			"title %q has no renditions to personalize; use manifest_url", m.title.ID)
	}
	m.expires = s.expiry(m.sess, claims, now)
	if err := leaseEnded(id, m.expires, now); err != nil {
		return nil, err
	}
	m.apiBase = s.apiBase(r)
	if m.clientIP, err = s.bindAddr(r); err != nil {
		return nil, err
	}
	return m, nil
}

func grantStyle(v string) (string, error) {
	switch v {
	case "", GrantQuery:
		return GrantQuery, nil
	case GrantCookie:
		return GrantCookie, nil
	}
	return "", playback.Errorf(playback.CodeInvalid, "grant_style", "grant must be %q or %q", GrantQuery, GrantCookie)
}

// sessionLadder reads the session (liveSession), its title and the
// renditions its account's plan allows. The title and the account are
// named by the credential, so they are read beside the session, in one
// round trip of latency; they are used only once liveSession has found the
// session to be the credential's, and its errors come first. The plan is
// read now (through the plan cache) rather than taken from the token, so a
// downgrade applies to the next manifest and grant.
//
// Where start names an empty pathway, it also sets it to startPathway's,
// ranked beside all of that: the ranking reads the edge table when its
// snapshot is stale (PICKEDGE_REFRESH), and one after the other would be a
// second round trip (sign's goal is one). It returns only once the ranking
// has answered, on every path, so the ranking never outlives the request.
func (s *Server) sessionLadder(r *http.Request, id string, claims auth.PlaybackClaims, now time.Time, start *string) (playback.Session, playback.Title, []playback.Rendition, error) {
	ctx := r.Context()
	var (
		title             playback.Title
		acct              playback.Account
		titleErr, acctErr error
		wg, ranking       sync.WaitGroup
	)
	if start != nil && *start == "" {
		if s.steering == nil {
			*start = s.defaultCDN
		} else {
			ranking.Go(func() { *start = s.startPathway(r, claims.TitleID, now) })
			defer ranking.Wait()
		}
	}
	wg.Go(func() { title, titleErr = s.deps.Store.GetTitle(ctx, claims.TitleID) })
	wg.Go(func() { acct, acctErr = s.deps.Store.GetAccount(ctx, claims.AccountID) })
	sess, err := s.liveSession(ctx, id, claims, now)
	wg.Wait()
	if err != nil {
		return sess, title, nil, err
	}
	if titleErr != nil {
		return sess, title, nil, titleErr
	}
	// The manifests sign a grant per rendition folder under the asset
	// path: a path that could reach other titles is refused here, for
	// them as for urls' title-wide grant (and the play).
	if err := title.Signable(); err != nil {
		return sess, title, nil, err
	}
	if len(title.Renditions) == 0 {
		return sess, title, nil, nil
	}
	if acctErr != nil {
		return sess, title, nil, acctErr
	}
	plan, err := s.plans.GetPlan(ctx, acct.PlanID)
	if plan, err = playback.AccountPlan(acct, plan, err); err != nil {
		return sess, title, nil, err
	}
	allowed := title.AllowedRenditions(plan.MaxQuality)
	if len(allowed) == 0 {
		return sess, title, nil, playback.Errorf(playback.CodeForbidden, "quality_not_allowed",
			"plan %q (max %s) allows none of title %q's renditions", plan.ID, plan.MaxQuality, title.ID)
	}
	return sess, title, allowed, nil
}

// pathways lists the configured CDNs, first the one to start on.
func (s *Server) pathways(first string) []Pathway {
	out := []Pathway{{ID: first, Base: s.cdns[first].base}}
	for _, name := range s.cdnNames {
		if name != first {
			out = append(out, Pathway{ID: name, Base: s.cdns[name].base})
		}
	}
	return out
}

// renditionGrant signs one pathway's grant for one rendition's folder.
func (s *Server) renditionGrant(ctx context.Context, m *manifestRequest, pathway, rendition string) (playback.SignedAccess, error) {
	c := s.cdns[pathway]
	prefix := m.title.AssetPath + rendition + "/"
	req := playback.SignRequest{BaseURL: c.base, Prefix: prefix, Manifest: prefix + storedMediaPlaylist,
		Expires: m.expires, ClientIP: m.clientIP}
	access, err := c.signer.Sign(ctx, req)
	if err != nil {
		if ctx.Err() != nil {
			return access, err
		}
		// Ended since openManifest's check, by the signer's clock (the
		// origin fetch came between): the lease's end, not our fault.
		if err := leaseEnded(m.id, m.expires, s.deps.Now()); err != nil {
			return access, err
		}
		return access, &playback.Error{Code: playback.CodeInternal, Reason: "sign_failed", RetryAfter: playback.NoRetry, Err: fmt.Errorf("signurl: %s %s: %w", pathway, prefix, err)}
	}
	return access, nil
}

// ManifestURLs are the personalized manifests of a session.
type ManifestURLs = playurl.Manifests

func manifestURLs(apiBase, id, token, cdn, grant string) ManifestURLs {
	return playurl.PersonalizedManifests(apiBase, id, token, cdn, grant)
}

// steeringURI is the session's content steering server (functions/pickedge
// accepts the manifest credential there) for manifests that start on
// pathway start: its first answer keeps start first while start has a
// usable edge for the viewer, whichever way start was chosen (named by
// the request, or the ranking here, whose copy of the edge table may be
// older than pickedge's).
func steeringURI(apiBase, id, token, format, start string) string {
	return playurl.SteeringFrom(apiBase, id, token, format, start)
}

// apiBase is how players reach this API.
func (s *Server) apiBase(r *http.Request) string { return playurl.APIBase(r, s.cfg.PublicURL) }

// writeManifest answers a manifest: never cached (it carries grants), and
// readable from any origin, since the credential is in the URL and no
// cookie is involved (as the steering manifest).
func writeManifest(w http.ResponseWriter, contentType string, body []byte) {
	h := w.Header()
	h.Set("Access-Control-Allow-Origin", "*")
	h.Set("Cache-Control", "no-store")
	h.Set("Content-Type", contentType)
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(body)
}

// hlsMaster is GET /v1/manifests/{session_id}/hls.
func (s *Server) hlsMaster(w http.ResponseWriter, r *http.Request) error {
	w.Header().Set("Access-Control-Allow-Origin", "*")
	m, err := s.openManifest(r, true)
	if err != nil {
		return err
	}
	stored, err := s.origin.Get(r.Context(), m.title.AssetPath+m.title.Manifest)
	if err != nil {
		return err
	}
	media := m.apiBase + "/v1/manifests/" + url.PathEscape(m.id) + "/hls/"
	q := playurl.ManifestQuery(m.token, "", m.grant)
	link := func(dst []byte, pathway, rendition string) []byte {
		dst = append(dst, media...)
		dst = append(dst, url.PathEscape(pathway)...)
		dst = append(dst, '/')
		dst = append(dst, rendition...)
		dst = append(dst, '?')
		return append(dst, q...)
	}
	out, err := PersonalizeMaster(make([]byte, 0, 2*len(stored)+1024), stored, m.allowed, s.pathways(m.pathway),
		steeringURI(m.apiBase, m.id, m.token, "hls", m.pathway), link)
	if err != nil {
		return err
	}
	writeManifest(w, contentTypeHLS, out)
	return nil
}

// hlsMedia is GET /v1/manifests/{session_id}/hls/{pathway}/{rendition}:
// one rendition's media playlist on one pathway, signed once.
func (s *Server) hlsMedia(w http.ResponseWriter, r *http.Request) error {
	w.Header().Set("Access-Control-Allow-Origin", "*")
	m, err := s.openManifest(r, false)
	if err != nil {
		return err
	}
	pathway, rendition := r.PathValue("pathway"), r.PathValue("rendition")
	if _, ok := s.cdns[pathway]; !ok {
		return s.unknownCDN(pathway)
	}
	// One answer for every rendition outside the session's, whether the
	// title has it or not: the manifests do not tell a plan what the others
	// get, and the CDN answers 403 for any URL outside the grants, an
	// object there or not.
	if !isAllowed(m.allowed, rendition) {
		return playback.Errorf(playback.CodeForbidden, "rendition_not_allowed",
			"rendition %q is not one this session's manifests offer", rendition)
	}
	ctx := r.Context()
	stored, err := s.origin.Get(ctx, m.title.AssetPath+rendition+"/"+storedMediaPlaylist)
	if err != nil {
		return err
	}
	g := Grant{Base: s.cdns[pathway].base, Prefix: m.title.AssetPath + rendition + "/"}
	if m.grant == GrantQuery {
		access, err := s.renditionGrant(ctx, m, pathway, rendition)
		if err != nil {
			return err
		}
		g.Query = access.QueryParams
	}
	out, err := PersonalizeMedia(nil, stored, g)
	if err != nil {
		return err
	}
	writeManifest(w, contentTypeHLS, out)
	return nil
}

// dashMPD is GET /v1/manifests/{session_id}/dash. With query grants it
// serves the starting pathway only (see PersonalizeMPD).
func (s *Server) dashMPD(w http.ResponseWriter, r *http.Request) error {
	w.Header().Set("Access-Control-Allow-Origin", "*")
	m, err := s.openManifest(r, true)
	if err != nil {
		return err
	}
	ctx := r.Context()
	stored, err := s.origin.Get(ctx, m.title.AssetPath+storedMPD)
	if err != nil {
		return err
	}
	pathways := s.pathways(m.pathway)
	var queries map[string]string
	if m.grant == GrantQuery {
		pathways = pathways[:1]
		queries = make(map[string]string, len(m.allowed))
		for _, rend := range m.allowed {
			access, err := s.renditionGrant(ctx, m, m.pathway, rend.Path)
			if err != nil {
				return err
			}
			queries[rend.Path] = access.QueryParams
		}
	}
	out, err := PersonalizeMPD(make([]byte, 0, len(stored)+2048), stored, m.allowed, pathways, m.title.AssetPath,
		steeringURI(m.apiBase, m.id, m.token, "dash", m.pathway), queries)
	if err != nil {
		return err
	}
	writeManifest(w, contentTypeDASH, out)
	return nil
}

func (s *Server) unknownCDN(name string) error {
	return &playback.Error{Code: playback.CodeInvalid, Reason: "unknown_cdn",
		Message: fmt.Sprintf("cdn %q is not configured", name), Details: map[string]any{"cdns": slices.Clone(s.cdnNames)}}
}

func clientIP(r *http.Request) (netip.Addr, error) {
	ap, err := netip.ParseAddrPort(r.RemoteAddr)
	if err != nil {
		return netip.Addr{}, &playback.Error{Code: playback.CodeInternal, Reason: "client_ip_unknown", RetryAfter: playback.NoRetry,
			Message: "cannot bind the grant to the caller's address", Err: fmt.Errorf("signurl: RemoteAddr %q: %w", r.RemoteAddr, err)}
	}
	return ap.Addr().Unmap(), nil
}
