package catalogfile

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/playplane/playplane/shared/playback"
	"github.com/playplane/playplane/shared/steering"
)

// StoreZones is a steering.Zones serving the latest coverage zone file of
// a store: an upload reaches the locator without a restart. Current never
// waits on the store: when the poll interval has passed it starts one
// background read and keeps answering the version in hand until that
// read brings a newer one. A version that does not parse (uploads are
// checked, so only a store written around UploadCoverageZones has one) is
// logged and skipped: the last good version stays in service.
type StoreZones struct {
	store   playback.AdminStore
	poll    time.Duration
	timeout time.Duration
	log     *slog.Logger
	now     func() time.Time

	cur     atomic.Pointer[steering.CoverageZones]
	version atomic.Int64 // of cur; skipped versions count too
	next    atomic.Int64 // UnixNano of the next read
	reading atomic.Bool
	first   sync.Once // the first read, for NewStoreZones
}

var _ steering.Zones = (*StoreZones)(nil)

// StoreZonesConfig configures OpenStoreZones.
type StoreZonesConfig struct {
	// Poll is how often the store is read; 0 never reads again.
	Poll time.Duration
	// Timeout bounds one background read (default 10s).
	Timeout time.Duration
	Log     *slog.Logger
	Now     func() time.Time
}

// OpenStoreZones reads the latest version now (none yet is no zones, not
// an error: the locator falls back to GeoIP until one is uploaded).
func OpenStoreZones(ctx context.Context, store playback.AdminStore, cfg StoreZonesConfig) (*StoreZones, error) {
	if store == nil {
		return nil, fmt.Errorf("catalogfile.OpenStoreZones: a store is required")
	}
	z := newStoreZones(store, cfg)
	if _, err := z.Refresh(ctx); err != nil {
		return nil, fmt.Errorf("catalogfile.OpenStoreZones: %w", err)
	}
	z.first.Do(func() {})
	z.schedule()
	return z, nil
}

// NewStoreZones is OpenStoreZones without a read now, for functions that
// make no network call before their first request (a Lambda's build is
// checked offline): the first Current reads the store, bounded by the
// timeout, and a failed read leaves no zones until the next poll.
func NewStoreZones(store playback.AdminStore, cfg StoreZonesConfig) (*StoreZones, error) {
	if store == nil {
		return nil, fmt.Errorf("catalogfile.NewStoreZones: a store is required")
	}
	return newStoreZones(store, cfg), nil
}

func newStoreZones(store playback.AdminStore, cfg StoreZonesConfig) *StoreZones {
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 10 * time.Second
	}
	return &StoreZones{store: store, poll: cfg.Poll, timeout: cfg.Timeout, log: cfg.Log, now: cfg.Now}
}

func (z *StoreZones) schedule() { z.next.Store(z.now().Add(z.poll).UnixNano()) }

// Current returns the zones in service, starting a background read when
// one is due.
func (z *StoreZones) Current() *steering.CoverageZones {
	z.first.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), z.timeout)
		defer cancel()
		if _, err := z.Refresh(ctx); err != nil {
			z.log.Warn("coverage zones: first read of the store failed; none in service until the next poll", "err", err)
		}
		z.schedule()
	})
	if z.poll > 0 && z.now().UnixNano() >= z.next.Load() && z.reading.CompareAndSwap(false, true) {
		z.schedule()
		go func() {
			defer z.reading.Store(false)
			ctx, cancel := context.WithTimeout(context.Background(), z.timeout)
			defer cancel()
			if _, err := z.Refresh(ctx); err != nil {
				z.log.Warn("coverage zones: reading the store failed; keeping the version in service",
					"version", z.version.Load(), "err", err)
			}
		}()
	}
	return z.cur.Load()
}

// Version is the version in service (0: none).
func (z *StoreZones) Version() int64 { return z.version.Load() }

// Refresh reads the latest version now and reports whether it took a new
// one into service.
func (z *StoreZones) Refresh(ctx context.Context) (bool, error) {
	latest, err := z.store.GetCoverageZones(ctx, 0)
	if playback.IsCode(err, playback.CodeNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	if latest.Version <= z.version.Load() {
		return false, nil
	}
	cz, err := steering.ParseCoverageZones(latest.Data)
	if err != nil {
		z.log.Error("coverage zones: stored version does not parse; keeping the version in service",
			"bad_version", latest.Version, "version", z.version.Load(), "err", err)
		z.version.Store(latest.Version) // do not read it again and again
		return false, nil
	}
	cz.Revision = fmt.Sprint(latest.Version)
	z.cur.Store(cz)
	z.version.Store(latest.Version)
	z.log.Info("coverage zones: new version in service", "version", latest.Version, "sha256", latest.SHA256)
	return true, nil
}

// CoverageZonesProblems lists what is wrong with a coverage zone file, nil
// when the steering parser takes it. The parser stops at the first bad
// entry (Traffic Router refuses a file whole); an operator fixing a file
// wants every one, so each network entry is put through the same parser on
// its own and named by its JSON pointer.
func CoverageZonesProblems(data []byte) []Problem {
	_, whole := steering.ParseCoverageZones(data)
	if whole == nil {
		return nil
	}
	var top map[string]json.RawMessage
	var zones map[string]json.RawMessage
	if json.Unmarshal(data, &top) != nil || json.Unmarshal(top["coverageZones"], &zones) != nil {
		return []Problem{{Pointer: "", Message: whole.Error()}}
	}
	var ps []Problem
	for _, name := range slices.Sorted(maps.Keys(zones)) {
		var zone map[string]json.RawMessage
		if json.Unmarshal(zones[name], &zone) != nil {
			continue // the parser reads a zone that is no object as matching nothing
		}
		for _, key := range []string{"network", "network6"} {
			var entries []json.RawMessage
			if json.Unmarshal(zone[key], &entries) != nil {
				continue
			}
			for i, e := range entries {
				one, _ := json.Marshal(map[string]any{"coverageZones": map[string]any{"z": map[string]any{key: []json.RawMessage{e}}}})
				if _, err := steering.ParseCoverageZones(one); err != nil {
					msg := err.Error()
					if _, after, ok := strings.Cut(msg, `zone "z": `); ok {
						msg = after
					}
					ps = append(ps, Problem{Pointer: fmt.Sprintf("/coverageZones/%s/%s/%d", escapeTokens([]string{name})[0], key, i), Message: msg})
				}
			}
		}
	}
	if len(ps) == 0 {
		ps = []Problem{{Pointer: "", Message: whole.Error()}}
	}
	return ps
}
