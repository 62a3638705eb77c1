// Package pickedge tells a player which CDN edges to fetch a title from. It
// ranks the edges of the edge table for the client's location and the
// title (shared/steering), answers the ranking as JSON for the app and as
// an HLS/DASH content steering manifest for the player, and keeps the edge
// table current from the health reports edges send: the report route
// checks the edge's HMAC and enqueues, and a bus consumer applies reports
// to the table.
package pickedge

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/playplane/playplane/events"
	"github.com/playplane/playplane/shared/auth"
	"github.com/playplane/playplane/shared/depcheck"
	"github.com/playplane/playplane/shared/httpx"
	"github.com/playplane/playplane/shared/playback"
	"github.com/playplane/playplane/shared/playurl"
	"github.com/playplane/playplane/shared/steering"
	"github.com/playplane/playplane/shared/steering/ranker"
)

// Config is read from the environment.
type Config struct {
	// Config is how edges and pathways are ranked (the STEERING_*,
	// PICKEDGE_* location and PICKEDGE_REFRESH variables): shared with
	// functions/signurl, which starts sessions on the same ranking.
	ranker.Config
	// PublicURL is how players reach this API (https://api.example.com,
	// a stage prefix included), PICKEDGE_PUBLIC_URL or else the shared
	// PUBLIC_API_URL: steering_uri is absolute on it, since players resolve
	// a path against the page's or a CDN's host, and so is RELOAD-URI.
	// Without either, steering_uri takes the request's own scheme
	// (X-Forwarded-Proto) and Host, and RELOAD-URI is relative to the
	// steering URI the player fetched.
	PublicURL string `env:"PICKEDGE_PUBLIC_URL"`
	APIURL    string `env:"PUBLIC_API_URL"`

	// EdgeKeys authenticates health reports:
	// "edge-id=base64key,edge-id=base64key"; repeat an id to rotate its key.
	EdgeKeys string `env:"EDGE_HMAC_KEYS"`
	// SignatureTolerance bounds the distance between a report's signature
	// timestamp and the server clock. A replay inside it is harmless: a
	// report not newer than the edge's state is ignored.
	SignatureTolerance time.Duration `env:"EDGE_SIGNATURE_TOLERANCE, default=300s"`
	// MaxReportBody caps a report; 256 hot titles of 128 bytes fit. With
	// reportEnvelope it must fit the bus's messages (New refuses it
	// otherwise): 240 KiB on SQS's default 256 KiB.
	MaxReportBody int64 `env:"EDGE_REPORT_MAX_BODY, default=65536"`
}

// reportEnvelope is what the bus message of a report may add to its body:
// the received_at member and members a compact body leaves out, and the
// attributes the bus sends along, the trace context among them (W3C
// allows 8192 bytes of baggage and 512 of tracestate).
const reportEnvelope = 16 << 10

// Store is what pick edge reads and writes.
type Store interface {
	GetSession(ctx context.Context, id string) (playback.Session, error)
	playback.EdgeStore
}

// Deps are the collaborators.
type Deps struct {
	Store  Store
	Bus    playback.Publisher
	Tokens *auth.Keyring
	// ZoneStore, when set, serves the coverage zone file operators upload
	// (the admin API, `playplane import`) where PICKEDGE_COVERAGE_ZONE_FILE
	// names none: its latest version is read every ZoneFilePoll, so a new
	// version is in service without a restart, and a version that does not
	// parse leaves the last good one in service.
	ZoneStore playback.AdminStore
	// Log is used outside requests (consumer, table refreshes); requests
	// log through httpx.
	Log *slog.Logger
	Now func() time.Time
}

// Server serves the edge ranking, the steering manifest and the health
// report routes, and the health report consumer.
type Server struct {
	*ranker.Ranker
	cfg       Config
	deps      Deps
	verifier  *edgeVerifier
	publicURL string
	// choices pools Pick's result slices: with one of MaxResults capacity
	// Pick allocates nothing.
	choices sync.Pool
}

// New validates cfg and deps and opens the location databases.
func New(cfg Config, deps Deps) (*Server, error) {
	switch {
	case depcheck.Nil(deps.Store):
		return nil, errors.New("pickedge.New: Store is required")
	case depcheck.Nil(deps.Bus):
		return nil, errors.New("pickedge.New: Bus is required")
	case depcheck.Nil(deps.Tokens):
		return nil, errors.New("pickedge.New: Tokens is required")
	case cfg.SignatureTolerance <= 0 || cfg.MaxReportBody <= 0:
		return nil, fmt.Errorf("pickedge.New: SignatureTolerance and MaxReportBody must be positive: %s, %d",
			cfg.SignatureTolerance, cfg.MaxReportBody)
	case cfg.MaxReportBody > 1<<20:
		return nil, fmt.Errorf("pickedge.New: MaxReportBody %d exceeds 1 MiB", cfg.MaxReportBody)
	}
	// A report the bus cannot carry would pass its signature check and
	// then fail to publish, on every send of that edge.
	if l, ok := deps.Bus.(playback.MessageLimiter); ok && cfg.MaxReportBody+reportEnvelope > int64(l.MaxMessageBytes()) {
		return nil, fmt.Errorf("pickedge.New: MaxReportBody %d and the %d bytes its bus message adds exceed the bus's %d-byte messages: set EDGE_REPORT_MAX_BODY to at most %d",
			cfg.MaxReportBody, reportEnvelope, l.MaxMessageBytes(), int64(l.MaxMessageBytes())-reportEnvelope)
	}
	if deps.Now == nil {
		deps.Now = time.Now
	}
	if deps.Log == nil {
		deps.Log = slog.Default()
	}
	publicURL := strings.TrimRight(cmp.Or(cfg.PublicURL, cfg.APIURL), "/")
	if publicURL != "" {
		u, err := url.Parse(publicURL)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
			return nil, fmt.Errorf("pickedge.New: PublicURL %q must be an http(s) URL without query", cfg.PublicURL)
		}
	}
	keys, err := ParseEdgeKeys(cfg.EdgeKeys)
	if err != nil {
		return nil, fmt.Errorf("pickedge.New: %w", err)
	}
	rk, err := ranker.New(cfg.Config, ranker.Deps{Store: deps.Store, ZoneStore: deps.ZoneStore, Log: deps.Log, Now: deps.Now})
	if err != nil {
		return nil, err
	}
	if len(keys) == 0 {
		deps.Log.Warn("EDGE_HMAC_KEYS is empty: every edge health report will be refused")
	}
	s := &Server{Ranker: rk, cfg: cfg, deps: deps, publicURL: publicURL,
		verifier: newEdgeVerifier(keys, cfg.SignatureTolerance)}
	s.choices.New = func() any {
		b := make([]steering.Choice, 0, steering.MaxResults)
		return &b
	}
	return s, nil
}

// Register serves the routes on mux.
func (s *Server) Register(mux *http.ServeMux) { s.Mount(mux) }

// Mount mounts the routes on mux: its catalogue entry's (functions/catalog),
// as cmd/playplane's TestFunctionsServeWhatTheCatalogueDeploys checks.
func (s *Server) Mount(mux httpx.Mux) {
	mux.Handle("POST /v1/playback/{session_id}/edges", httpx.HandlerFunc(s.pickEdges))
	mux.Handle("GET /v1/steering/{session_id}", httpx.HandlerFunc(s.steeringManifest))
	// Edges report here, never a browser: no CORS.
	mux.Handle("POST /v1/edges/health", httpx.ServerToServer(httpx.HandlerFunc(s.edgeHealth)))
}

// Consumers returns the event-triggered handlers by topic.
func (s *Server) Consumers() map[string]playback.BatchHandler {
	return map[string]playback.BatchHandler{events.TopicEdgeHealth: s.consume}
}

// EdgesResponse is the answer to POST /v1/playback/{session_id}/edges.
type EdgesResponse struct {
	// Edges is the ranking, best first: the chosen PoP's edges, the same
	// CDN's next PoPs, then the other CDNs by weight; a CDN's PoPs are
	// those Traffic Router's rules send the client to when the ones above
	// are down, so a client may fail over down the list.
	Edges []EdgeChoice `json:"edges"`
	// TTLSeconds is how long the ranking may be used; it is short while a
	// PoP nearer the client, its coverage zone's PoP or its deep coverage
	// zone's edges are down, so the client moves home soon
	// (steering.Ranking.Degraded).
	TTLSeconds int `json:"ttl_seconds"`
	// Pathways are the CDNs in priority order: HLS PATHWAY-IDs and DASH
	// serviceLocations.
	Pathways []string `json:"pathways"`
	// SteeringURI and DASHSteeringURI serve the same ranking as an HLS or
	// DASH content steering manifest; they carry the playback token.
	SteeringURI     string         `json:"steering_uri"`
	DASHSteeringURI string         `json:"dash_steering_uri"`
	Degraded        bool           `json:"degraded,omitempty"`
	Location        ClientLocation `json:"location"`
	// Result says how the first PoP was chosen, in Traffic Router's terms:
	// DEEP_CZ, CZ, CZ_BACKUP (a backup group or the group closest to the
	// zone) or GEO.
	Result string `json:"result"`
}

// EdgeChoice is one ranked edge.
type EdgeChoice struct {
	ID      string  `json:"id"`
	CDN     string  `json:"cdn"`
	PoP     string  `json:"pop"`
	BaseURL string  `json:"base_url"`
	Score   float64 `json:"score"`
}

// ClientLocation says how the client was located (coverage_zone, geoip or
// default); coordinates are not echoed.
type ClientLocation struct {
	Source  steering.Source `json:"source"`
	Zone    string          `json:"zone,omitempty"`
	Country string          `json:"country,omitempty"`
}

// pickEdges is POST /v1/playback/{session_id}/edges.
//
// Errors: 401 bad playback token; 403 token for another session; 410 the
// session ended, expired or is unknown; 503 with Retry-After when no edge
// is healthy and within capacity, or the store is down.
func (s *Server) pickEdges(w http.ResponseWriter, r *http.Request) error {
	now := s.deps.Now()
	token, err := auth.BearerToken(r)
	if err != nil {
		return err
	}
	claims, err := s.deps.Tokens.Verify(token, now)
	if err != nil {
		return err
	}
	if err := httpx.CheckQuery(r); err != nil {
		return err
	}
	id := r.PathValue("session_id")
	if err := s.checkSession(r.Context(), id, claims, now); err != nil {
		return err
	}
	buf := s.choices.Get().(*[]steering.Choice)
	defer s.choices.Put(buf)
	ranking, loc, err := s.Rank(r, claims.TitleID, now, (*buf)[:0])
	if err != nil {
		return err
	}
	resp := EdgesResponse{
		Edges:           make([]EdgeChoice, len(ranking.Choices)),
		TTLSeconds:      ttlSeconds(ranking.TTL),
		Pathways:        ranking.AppendPathways(make([]string, 0, 4)),
		SteeringURI:     s.apiBase(r) + s.steeringPath(id, token, "hls"),
		DASHSteeringURI: s.apiBase(r) + s.steeringPath(id, token, "dash"),
		Degraded:        ranking.Degraded,
		Location:        ClientLocation{Source: loc.Source, Zone: loc.Zone, Country: loc.Country},
		Result:          ranking.Result,
	}
	for i, c := range ranking.Choices {
		resp.Edges[i] = EdgeChoice{ID: c.EdgeID, CDN: c.CDN, PoP: c.PoP, BaseURL: c.BaseURL, Score: c.Score}
	}
	// The answer carries the token and is for this client only.
	w.Header().Set("Cache-Control", "no-store")
	httpx.WriteJSON(w, http.StatusOK, resp)
	return nil
}

// steeringManifest is GET /v1/steering/{session_id}?token=...: the content
// steering server of the session. Players fetch it and its RELOAD-URI
// without custom headers, so the playback token travels in the query (an
// Authorization header works too). format=hls|dash picks the manifest
// flavour; without it, a request carrying _DASH_ parameters gets DASH.
// start (playurl.SteeringStart, only in the URI a session's manifests
// name, never in RELOAD-URI) is the pathway they start on: the answer, the
// player's first, keeps it first while it has a usable edge for the
// viewer (steering.SteeringManifest.StartOn).
//
// Errors: 400 format or start malformed; 401 missing, forged or expired
// token; 403 token of another session, or licence_window_ended for a
// token or manifest credential the licence window ended; 410 the session is over; 503 no
// usable edge, or the store is down.
func (s *Server) steeringManifest(w http.ResponseWriter, r *http.Request) error {
	// Browser players (hls.js, dash.js) fetch the manifest from the page's
	// origin as a simple GET. The token in the URL is the credential, not
	// a cookie, so any origin may read the answer, errors included.
	w.Header().Set("Access-Control-Allow-Origin", "*")
	now := s.deps.Now()
	q := r.URL.Query()
	token := q.Get(playurl.CredentialParam)
	if token == "" && r.Header.Get("Authorization") != "" {
		var err error
		if token, err = auth.BearerToken(r); err != nil {
			return err
		}
	}
	if token == "" {
		return playback.Errorf(playback.CodeUnauthenticated, auth.ReasonTokenMissing,
			"pass the playback token as ?%s= or in an Authorization: Bearer header", playurl.CredentialParam)
	}
	// The personalized manifests of functions/signurl name this route with
	// their manifest credential, which is good for steering too.
	verify := s.deps.Tokens.Verify
	if auth.IsManifestToken(token) {
		verify = s.deps.Tokens.VerifyManifest
	}
	claims, err := verify(token, now)
	if err != nil {
		return err
	}
	format := q.Get("format")
	switch format {
	case "hls", "dash":
	case "":
		format = "hls"
		if q.Has("_DASH_pathway") || q.Has("_DASH_throughput") {
			format = "dash"
		}
	default:
		return playback.Errorf(playback.CodeInvalid, "format", "format must be hls or dash")
	}
	start := q.Get(playurl.SteeringStart)
	if start != "" && !steering.ValidPathwayID(start) {
		return playback.Errorf(playback.CodeInvalid, playurl.SteeringStart, "%s must be a pathway ID ([A-Za-z0-9._-]+)", playurl.SteeringStart)
	}
	id := r.PathValue("session_id")
	if err := s.checkSession(r.Context(), id, claims, now); err != nil {
		return err
	}
	buf := s.choices.Get().(*[]steering.Choice)
	defer s.choices.Put(buf)
	ranking, _, err := s.Rank(r, claims.TitleID, now, (*buf)[:0])
	if err != nil {
		return err
	}
	if hint := steering.ParseSteeringQuery(q); len(hint.Pathways) > 0 {
		log := httpx.Logger(r.Context())
		log.DebugContext(r.Context(), "steering reload", "session_id", id, "pathways", hint.Pathways, "throughput_bps", hint.ThroughputBps)
	}
	reload := s.reloadURI(id, token, format)
	var m steering.SteeringManifest
	if format == "dash" {
		m, err = steering.DASHManifest(&ranking, reload)
	} else {
		m, err = steering.HLSManifest(&ranking, reload)
	}
	if err != nil {
		return fmt.Errorf("pickedge: steering manifest: %w", err)
	}
	if start != "" && !m.StartOn(start) {
		log := httpx.Logger(r.Context())
		log.DebugContext(r.Context(), "start pathway is not in the ranking for this viewer (no usable edge, or not a CDN of the edge table); the player moves", "session_id", id, "start", start)
	}
	w.Header().Set("Cache-Control", "no-store")
	httpx.WriteJSON(w, http.StatusOK, m)
	return nil
}

// checkSession admits a playback token for session id only while the
// session holds its lease: ending a session revokes its token here too.
func (s *Server) checkSession(ctx context.Context, id string, claims auth.PlaybackClaims, now time.Time) error {
	if id != claims.SessionID {
		return playback.SessionMismatch(id)
	}
	sess, err := s.deps.Store.GetSession(ctx, id)
	if err != nil {
		return playback.SessionOver(err, id)
	}
	if sess.AccountID != claims.AccountID {
		return playback.SessionMismatch(id)
	}
	if !sess.Active(now) {
		return playback.WithEndReason(playback.SessionEnded(id), sess, now)
	}
	return nil
}

func ttlSeconds(d time.Duration) int {
	return max(1, int((d+time.Second-1)/time.Second))
}

// steeringPath is where the app (or the multivariant playlist's
// EXT-X-CONTENT-STEERING SERVER-URI, or the MPD's ContentSteering element)
// points the player for session id, under the API's base.
func (s *Server) steeringPath(id, token, format string) string {
	return playurl.SteeringFrom("", id, token, format, "")
}

// apiBase is how players reach this API: the configured public URL, else
// the request's own scheme and host, as the session's manifests have it.
func (s *Server) apiBase(r *http.Request) string { return playurl.APIBase(r, s.publicURL) }

// reloadURI is the manifest's RELOAD-URI. Players resolve it against the
// steering URI they fetched, so the relative form keeps whatever host and
// path prefix that URI had; it carries the token because players add only
// their _HLS_/_DASH_ parameters to it.
func (s *Server) reloadURI(id, token, format string) string {
	if s.publicURL != "" {
		return s.publicURL + s.steeringPath(id, token, format)
	}
	segment := url.PathEscape(id)
	if strings.Contains(segment, ":") {
		segment = "./" + segment // else it would parse as a scheme
	}
	return segment + "?" + playurl.SteeringQuery(token, format, "")
}
