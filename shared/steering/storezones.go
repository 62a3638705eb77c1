package steering

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/playplane/playplane/shared/playback"
)

// StoreZones is a Zones serving the latest coverage zone file of
// a store: an upload reaches the locator without a restart. Current never
// waits on the store: when the poll interval has passed it starts one
// background read and keeps answering the version in hand until that
// read brings a newer one. Until a read has answered, polling or not, a
// failed one is retried the same way after a backoff: a store unreachable
// when an instance starts must not leave it without zones for its life.
// A version that does not parse (uploads are checked, so only a store
// written around UploadCoverageZones has one) is logged and skipped: the
// last good version stays in service.
type StoreZones struct {
	store   playback.AdminStore
	poll    time.Duration
	timeout time.Duration
	log     *slog.Logger
	now     func() time.Time

	cur     atomic.Pointer[CoverageZones]
	version atomic.Int64 // of cur; skipped versions count too
	next    atomic.Int64 // UnixNano of the next read
	reading atomic.Bool
	first   sync.Once // the first read, for NewStoreZones

	// answered is set by the first read the store answered (a version,
	// none, or one that does not parse); failures counts the failed
	// reads before it, for the backoff.
	answered atomic.Bool
	failures atomic.Int32
}

var _ Zones = (*StoreZones)(nil)

// StoreZonesConfig configures OpenStoreZones.
type StoreZonesConfig struct {
	// Poll is how often the store is read; 0 never reads again once a
	// read has answered.
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
		return nil, fmt.Errorf("steering.OpenStoreZones: a store is required")
	}
	z := newStoreZones(store, cfg)
	if _, err := z.Refresh(ctx); err != nil {
		return nil, fmt.Errorf("steering.OpenStoreZones: %w", err)
	}
	z.first.Do(func() {})
	z.schedule()
	return z, nil
}

// NewStoreZones is OpenStoreZones without a read now, for functions that
// make no network call before their first request (a Lambda's build is
// checked offline): the first Current reads the store, bounded by the
// timeout, and a failed read leaves no zones until a retry answers.
func NewStoreZones(store playback.AdminStore, cfg StoreZonesConfig) (*StoreZones, error) {
	if store == nil {
		return nil, fmt.Errorf("steering.NewStoreZones: a store is required")
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

// Retries of a read that failed before any answered wait from
// minRetry, doubling, up to the poll interval or, without polling,
// maxRetry: a store that stays down costs an instance one read a minute.
const (
	minRetry = time.Second
	maxRetry = time.Minute
)

// Current returns the zones in service, starting a background read when
// one is due.
func (z *StoreZones) Current() *CoverageZones {
	// The first read is waited for, not left to the background as
	// Traffic Router leaves its coverage zone file: a Lambda instance is
	// frozen between requests, so a background read would not run until
	// the next one, and its first viewers would go by GeoIP (see
	// docs/catalogue.md).
	z.first.Do(func() {
		z.schedule()
		z.read()
	})
	if (z.poll > 0 || !z.answered.Load()) && z.now().UnixNano() >= z.next.Load() && z.reading.CompareAndSwap(false, true) {
		z.schedule()
		go func() {
			defer z.reading.Store(false)
			z.read()
		}()
	}
	return z.cur.Load()
}

// read refreshes, bounded by the timeout; a failure before any read
// answered brings the next read forward to the backoff.
func (z *StoreZones) read() {
	ctx, cancel := context.WithTimeout(context.Background(), z.timeout)
	defer cancel()
	_, err := z.Refresh(ctx)
	switch {
	case err == nil:
	case z.answered.Load():
		z.log.Warn("coverage zones: reading the store failed; keeping the version in service",
			"version", z.version.Load(), "err", err)
	default:
		wait := min(minRetry<<min(z.failures.Add(1)-1, 16), maxRetry)
		if z.poll > 0 {
			wait = min(wait, z.poll)
		}
		z.next.Store(z.now().Add(wait).UnixNano())
		z.log.Warn("coverage zones: reading the store failed; none in service until a retry answers",
			"retry_in", wait, "err", err)
	}
}

// Version is the version in service (0: none).
func (z *StoreZones) Version() int64 { return z.version.Load() }

// Refresh reads the latest version now and reports whether it took a new
// one into service.
func (z *StoreZones) Refresh(ctx context.Context) (bool, error) {
	latest, err := z.store.GetCoverageZones(ctx, 0)
	if err != nil && !playback.IsCode(err, playback.CodeNotFound) {
		return false, err
	}
	z.answered.Store(true)
	if err != nil {
		return false, nil
	}
	if latest.Version <= z.version.Load() {
		return false, nil
	}
	cz, err := ParseCoverageZones(latest.Data)
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
