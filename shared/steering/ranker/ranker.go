// Package ranker ranks a title's CDN edges and pathways for a viewer
// (shared/steering) over a cached copy of the edge table: the one ranking
// functions/pickedge answers (edges, content steering manifests) and
// functions/signurl starts a session's manifests on, so a player's first
// steering answer agrees with the pathway its manifest started on. Both
// functions read the same variables into Config.
package ranker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"

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
	// reloads it. Reports applied in the same process (pickedge's, which
	// calls Invalidate) reload it at once; another function's copy waits
	// out Refresh.
	Refresh time.Duration `env:"PICKEDGE_REFRESH, default=5s"`

	// Client location, as Traffic Router has it: the deep coverage zone
	// file, the coverage zone file, then GeoIP, then the default (Traffic
	// Router's miss location). The zone files are optional and re-read
	// when they change (looked at every ZoneFilePoll): a new version that
	// does not load is logged and the last good one kept. One that does
	// not parse at start is logged and reported (Ranker.Problems), and the
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
}

// Ranker ranks a title's edges and CDN pathways for a viewer.
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

// Deps are what ranking reads.
type Deps struct {
	// Store holds the edge table.
	Store interface {
		ListEdges(context.Context) ([]playback.Edge, error)
	}
	// ZoneStore, when set, serves the coverage zone file operators upload
	// where PICKEDGE_COVERAGE_ZONE_FILE names none (steering.StoreZones).
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
func New(cfg Config, deps Deps) (*Ranker, error) {
	switch {
	case depcheck.Nil(deps.Store):
		return nil, errors.New("ranker.New: Store is required")
	case cfg.Refresh <= 0:
		return nil, fmt.Errorf("ranker.New: Refresh must be positive: %s", cfg.Refresh)
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
			return nil, fmt.Errorf("ranker.New: %w", err)
		}
		cfg.Steering.CacheGroups = groups
	}
	// Fail at start on a bad ranking configuration rather than on the
	// first request.
	if _, err := steering.NewIndex(cfg.Steering, nil); err != nil {
		return nil, fmt.Errorf("ranker.New: %w", err)
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
			return nil, fmt.Errorf("ranker.New: %w", err)
		}
		zoneFiles = append(zoneFiles, f)
		*z.dst = f
	}
	if !depcheck.Nil(deps.ZoneStore) {
		// Read on the first request, not here: a build makes no network call.
		zones, err := steering.NewStoreZones(deps.ZoneStore, steering.StoreZonesConfig{Poll: cfg.ZoneFilePoll, Log: deps.Log, Now: deps.Now})
		if err != nil {
			return nil, fmt.Errorf("ranker.New: %w", err)
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
		return nil, fmt.Errorf("ranker.New: %w", err)
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
	return nil, fmt.Errorf("ranker.New: %w", err)
}

// Close releases the GeoIP databases.
func (s *Ranker) Close() error { return s.geo.Close() }

// Rank locates the client of r and ranks the edges for title into dst.
func (s *Ranker) Rank(r *http.Request, title string, now time.Time, dst []steering.Choice) (steering.Ranking, steering.Location, error) {
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
	ranking, _, err := s.Rank(r, title, now, (*buf)[:0])
	if err != nil {
		return nil, err
	}
	return ranking.AppendPathways(make([]string, 0, 4)), nil
}

// Invalidate makes the next request rebuild the cached edge table: a
// report was applied in this process.
func (s *Ranker) Invalidate() { s.edges.invalidate() }
