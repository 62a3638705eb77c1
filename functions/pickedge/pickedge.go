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
	"github.com/playplane/playplane/shared/steering"
)

// Config is read from the environment.
type Config struct {
	// Steering tunes ranking: STEERING_STALENESS, STEERING_TTL,
	// STEERING_CDN_WEIGHTS=cloudfront:3,cloudcdn:1 (fallback order of the
	// pathways), ... (see steering.Config).
	Steering steering.Config `env:", prefix=STEERING_"`
	// Viewer says how to locate the viewer, and is read by authorize play
	// too, so licensing and steering see one location: which proxies in
	// front of the function may be believed about the client's address
	// (PICKEDGE_TRUSTED_PROXIES as CIDRs, PICKEDGE_TRUSTED_HOPS e.g. 1
	// behind CloudFront, PICKEDGE_CLIENT_IP_HEADER; on GCP the load
	// balancer's networks, so the address is the viewer's), the front
	// door's country header (PICKEDGE_VIEWER_COUNTRY_HEADER), and the GeoIP
	// databases (PICKEDGE_GEOIP_CITY_DB, PICKEDGE_GEOIP_ASN_DB,
	// PICKEDGE_GEOIP_ANONYMOUS_DB). By default only the TCP peer is
	// believed and there is no GeoIP.
	Viewer steering.ViewerConfig `env:", prefix=PICKEDGE_"`

	// Refresh is how old the cached edge table may get before a request
	// reloads it. Reports applied in the same process reload it at once.
	Refresh time.Duration `env:"PICKEDGE_REFRESH, default=5s"`

	// Client location, as Traffic Router has it: the deep coverage zone
	// file, the coverage zone file, then GeoIP, then the default (Traffic
	// Router's miss location). The zone files are optional and re-read
	// when they change (looked at every ZoneFilePoll): a new version that
	// does not load is logged and the last good one kept. One that does
	// not parse at start is logged and reported (Server.Problems), and the
	// function serves without it (the store's last good upload standing in
	// for the coverage zone file) until a version loads.
	CoverageZoneFile     string        `env:"PICKEDGE_COVERAGE_ZONE_FILE"`
	DeepCoverageZoneFile string        `env:"PICKEDGE_DEEP_COVERAGE_ZONE_FILE"`
	ZoneFilePoll         time.Duration `env:"PICKEDGE_ZONE_FILE_POLL, default=10s"`
	DefaultLat           float64       `env:"PICKEDGE_DEFAULT_LAT, default=50.11"`
	DefaultLon           float64       `env:"PICKEDGE_DEFAULT_LON, default=8.68"`
	// CacheGroupsFile holds Traffic Router's cache group settings by PoP
	// name (backupLocations with fallbackToClosest, localizationMethods),
	// as the edgeLocations of a CRConfig.json; read once at start.
	CacheGroupsFile string `env:"PICKEDGE_CACHE_GROUPS_FILE"`

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
	// MaxReportBody caps a report; 256 hot titles of 128 bytes fit.
	MaxReportBody int64 `env:"EDGE_REPORT_MAX_BODY, default=65536"`
}

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
	*Ranker
	cfg       Config
	deps      Deps
	verifier  *edgeVerifier
	publicURL string
}

// Ranker ranks a title's edges and CDN pathways for a viewer: the one
// ranking the edges answer and the steering manifest serve, and that
// functions/signurl starts a session's manifests on, so a player's first
// steering answer agrees with the pathway its manifest started on.
type Ranker struct {
	viewer *steering.Viewer
	geo    *steering.GeoIP
	edges  *edgeTable
	// choices pools Pick's result slices: with one of MaxResults capacity
	// Pick allocates nothing.
	choices sync.Pool
	// zoneFiles are the configured coverage zone files, for Problems.
	zoneFiles []*steering.ZoneFile
}

// RankerDeps are what ranking reads.
type RankerDeps struct {
	// Store holds the edge table.
	Store interface {
		ListEdges(context.Context) ([]playback.Edge, error)
	}
	// ZoneStore: see Deps.ZoneStore.
	ZoneStore playback.AdminStore
	Log       *slog.Logger
	Now       func() time.Time
}

// fileOrStore serves the configured coverage zone file once a version of
// it loads, and the store's zones until then.
type fileOrStore struct {
	file  *steering.ZoneFile
	store steering.Zones
}

func (z fileOrStore) Current() *steering.CoverageZones {
	if cz := z.file.Current(); cz != nil {
		return cz
	}
	return z.store.Current()
}

// Problems lists what the function serves without: each configured
// coverage zone file whose version on disk is refused, with why. Empty
// when everything configured is in service.
func (s *Ranker) Problems() []string {
	var out []string
	for _, f := range s.zoneFiles {
		if err := f.Err(); err != nil {
			out = append(out, "coverage zone file refused: "+err.Error())
		}
	}
	return out
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
	ranker, err := NewRanker(cfg, RankerDeps{Store: deps.Store, ZoneStore: deps.ZoneStore, Log: deps.Log, Now: deps.Now})
	if err != nil {
		return nil, err
	}
	if len(keys) == 0 {
		deps.Log.Warn("EDGE_HMAC_KEYS is empty: every edge health report will be refused")
	}
	return &Server{Ranker: ranker, cfg: cfg, deps: deps, publicURL: publicURL,
		verifier: newEdgeVerifier(keys, cfg.SignatureTolerance)}, nil
}

// NewRanker validates the ranking part of cfg (Steering, Viewer, the zone
// files, Refresh) and opens the location databases.
func NewRanker(cfg Config, deps RankerDeps) (*Ranker, error) {
	switch {
	case depcheck.Nil(deps.Store):
		return nil, errors.New("pickedge.New: Store is required")
	case cfg.Refresh <= 0:
		return nil, fmt.Errorf("pickedge.New: Refresh must be positive: %s", cfg.Refresh)
	}
	if deps.Now == nil {
		deps.Now = time.Now
	}
	if deps.Log == nil {
		deps.Log = slog.Default()
	}
	if cfg.CacheGroupsFile != "" {
		groups, err := steering.LoadCacheGroups(cfg.CacheGroupsFile)
		if err != nil {
			return nil, fmt.Errorf("pickedge.New: %w", err)
		}
		cfg.Steering.CacheGroups = groups
	}
	// Fail at start on a bad ranking configuration rather than on the
	// first request.
	if _, err := steering.NewIndex(cfg.Steering, nil); err != nil {
		return nil, fmt.Errorf("pickedge.New: %w", err)
	}
	var src steering.LocatorSources
	var zoneFiles []*steering.ZoneFile
	for _, z := range []struct {
		path string
		deep bool
		dst  *steering.Zones
	}{{cfg.CoverageZoneFile, false, &src.Zones}, {cfg.DeepCoverageZoneFile, true, &src.DeepZones}} {
		if z.path == "" {
			continue
		}
		// A file that does not parse now is logged and reported (Problems)
		// and the function serves without it, until a version that loads:
		// locating clients by GeoIP beats not starting. One that cannot be
		// read (a wrong path) still stops the start.
		f, err := steering.OpenZoneFile(steering.ZoneFileConfig{Path: z.path, Deep: z.deep, Poll: cfg.ZoneFilePoll,
			StartRefused: true, Log: deps.Log, Now: deps.Now})
		if err != nil {
			return nil, fmt.Errorf("pickedge.New: %w", err)
		}
		zoneFiles = append(zoneFiles, f)
		*z.dst = f
	}
	if !depcheck.Nil(deps.ZoneStore) {
		// Read on the first request, not here: a build makes no network call.
		zones, err := steering.NewStoreZones(deps.ZoneStore, steering.StoreZonesConfig{Poll: cfg.ZoneFilePoll, Log: deps.Log, Now: deps.Now})
		if err != nil {
			return nil, fmt.Errorf("pickedge.New: %w", err)
		}
		if src.Zones == nil {
			src.Zones = zones
		} else if f := zoneFiles[0]; f.Err() != nil {
			// The configured file is refused: the operators' last good
			// upload serves until the file loads.
			src.Zones = fileOrStore{file: f, store: zones}
		}
	}
	geo, err := cfg.Viewer.OpenGeoIP()
	if err != nil {
		return nil, fmt.Errorf("pickedge.New: %w", err)
	}
	src.GeoIP = geo
	locator, err := steering.NewLocatorWith(src, steering.Location{Lat: cfg.DefaultLat, Lon: cfg.DefaultLon})
	if err == nil {
		var viewer *steering.Viewer
		if viewer, err = steering.NewViewer(cfg.Viewer, locator); err == nil {
			r := &Ranker{viewer: viewer, geo: geo, zoneFiles: zoneFiles,
				edges: &edgeTable{cfg: cfg.Steering, store: deps.Store, refresh: cfg.Refresh, log: deps.Log}}
			r.choices.New = func() any {
				b := make([]steering.Choice, 0, steering.MaxResults)
				return &b
			}
			return r, nil
		}
	}
	_ = geo.Close()
	return nil, fmt.Errorf("pickedge.New: %w", err)
}

// Close releases the GeoIP databases.
func (s *Ranker) Close() error { return s.geo.Close() }

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
	// CDN's next PoPs, then the other CDNs by weight.
	Edges []EdgeChoice `json:"edges"`
	// TTLSeconds is how long the ranking may be used; it is short while a
	// PoP nearer the client is down, so the client moves home soon.
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
// is healthy and under capacity, or the store is down.
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
	id := r.PathValue("session_id")
	if err := s.checkSession(r.Context(), id, claims, now); err != nil {
		return err
	}
	buf := s.choices.Get().(*[]steering.Choice)
	defer s.choices.Put(buf)
	ranking, loc, err := s.rank(r, claims.TitleID, now, (*buf)[:0])
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
func (s *Server) steeringManifest(w http.ResponseWriter, r *http.Request) error {
	// Browser players (hls.js, dash.js) fetch the manifest from the page's
	// origin as a simple GET. The token in the URL is the credential, not
	// a cookie, so any origin may read the answer, errors included.
	w.Header().Set("Access-Control-Allow-Origin", "*")
	now := s.deps.Now()
	q := r.URL.Query()
	token := q.Get("token")
	if token == "" && r.Header.Get("Authorization") != "" {
		var err error
		if token, err = auth.BearerToken(r); err != nil {
			return err
		}
	}
	if token == "" {
		return playback.Errorf(playback.CodeUnauthenticated, auth.ReasonTokenMissing,
			"pass the playback token as ?token= or in an Authorization: Bearer header")
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
	id := r.PathValue("session_id")
	if err := s.checkSession(r.Context(), id, claims, now); err != nil {
		return err
	}
	buf := s.choices.Get().(*[]steering.Choice)
	defer s.choices.Put(buf)
	ranking, _, err := s.rank(r, claims.TitleID, now, (*buf)[:0])
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
		return playback.SessionEnded(id)
	}
	return nil
}

// rank locates the client and ranks the edges for title into dst.
func (s *Ranker) rank(r *http.Request, title string, now time.Time, dst []steering.Choice) (steering.Ranking, steering.Location, error) {
	ctx := r.Context()
	loc, _, err := s.viewer.Locate(r)
	if err != nil {
		// Ranking for the default location beats refusing to play.
		httpx.Logger(ctx).WarnContext(ctx, "locating the client; using what is known", "err", err)
	}
	ix, err := s.edges.index(ctx, now)
	if err != nil {
		return steering.Ranking{}, loc, err
	}
	ranking, err := ix.Pick(steering.Query{Location: loc, Title: title, Now: now}, dst)
	return ranking, loc, err
}

// Pathways are the CDN pathways for the viewer of r and title at now,
// best first: the PATHWAY-PRIORITY the session's steering manifest would
// answer now.
func (s *Ranker) Pathways(r *http.Request, title string, now time.Time) ([]string, error) {
	buf := s.choices.Get().(*[]steering.Choice)
	defer s.choices.Put(buf)
	ranking, _, err := s.rank(r, title, now, (*buf)[:0])
	if err != nil {
		return nil, err
	}
	return ranking.AppendPathways(make([]string, 0, 4)), nil
}

func ttlSeconds(d time.Duration) int {
	return max(1, int((d+time.Second-1)/time.Second))
}

// steeringPath is where the app (or the multivariant playlist's
// EXT-X-CONTENT-STEERING SERVER-URI, or the MPD's ContentSteering element)
// points the player for session id, under the API's base.
func (s *Server) steeringPath(id, token, format string) string {
	return "/v1/steering/" + url.PathEscape(id) + "?" + steeringQuery(token, format)
}

// apiBase is how players reach this API: the configured public URL, else
// the request's own scheme and host.
func (s *Server) apiBase(r *http.Request) string {
	if s.publicURL != "" {
		return s.publicURL
	}
	scheme := "http"
	if r.TLS != nil || strings.EqualFold(r.Header.Get("X-Forwarded-Proto"), "https") {
		scheme = "https"
	}
	return scheme + "://" + r.Host
}

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
	return segment + "?" + steeringQuery(token, format)
}

func steeringQuery(token, format string) string {
	return url.Values{"format": {format}, "token": {token}}.Encode()
}
