package steering

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

// ZoneFile is a coverage zone file that is re-read when it changes, as
// Traffic Router re-reads its coverage zone file: a new version is verified
// first, and one that does not load is logged and ignored, so the last good
// version keeps answering. Lookups go to the current version without
// locking; at most once per Poll interval one of them looks at the file's
// modification time and size, and reloads it when they changed.
type ZoneFile struct {
	path  string
	parse func([]byte) (*CoverageZones, error)
	poll  time.Duration
	log   *slog.Logger
	now   func() time.Time

	cur  atomic.Pointer[CoverageZones]
	next atomic.Int64 // UnixNano of the next look at the file
	mu   sync.Mutex   // held while looking
	mod  time.Time
	size int64
	// verdict is why the version at mod and size is not in service, nil
	// when it is: what refused says again once a failed look (a stat
	// error) has passed.
	verdict error
	// refused is why the file on disk is not the version in service, nil
	// when it is.
	refused atomic.Pointer[error]
}

// ZoneFileConfig configures OpenZoneFile.
type ZoneFileConfig struct {
	Path string
	// Deep reads a deep coverage zone file.
	Deep bool
	// Poll is how often the file is looked at; 0 never looks again.
	Poll time.Duration
	// StartRefused opens a file that does not parse now instead of
	// failing: Current answers nil (no zones) until a version loads, and
	// Err says why. A service starts with its other ways of locating
	// clients rather than not at all over a file Traffic Router may
	// accept. A file that cannot be read (a wrong path) still fails.
	StartRefused bool
	Log          *slog.Logger
	Now          func() time.Time
}

// OpenZoneFile loads the file, which must load now unless StartRefused;
// later versions that do not are logged and skipped.
func OpenZoneFile(cfg ZoneFileConfig) (*ZoneFile, error) {
	f := &ZoneFile{path: cfg.Path, parse: ParseCoverageZones, poll: cfg.Poll, log: cfg.Log, now: cfg.Now}
	if cfg.Deep {
		f.parse = ParseDeepCoverageZones
	}
	if f.log == nil {
		f.log = slog.Default()
	}
	if f.now == nil {
		f.now = time.Now
	}
	if cfg.Poll < 0 {
		return nil, fmt.Errorf("steering.OpenZoneFile: negative poll interval %s", cfg.Poll)
	}
	if _, err := f.load(); err != nil {
		var pe parseError
		if !cfg.StartRefused || !errors.As(err, &pe) {
			return nil, fmt.Errorf("steering.OpenZoneFile: %w", err)
		}
		f.log.Error(msgZoneFileRefused, "path", f.path, "err", err, "revision", "")
	}
	f.schedule()
	return f, nil
}

// parseError is a file that was read and does not parse.
type parseError struct{ error }

func (e parseError) Unwrap() error { return e.error }

// msgZoneFileRefused is the log message of a version not taken into
// service (stable: alert on it).
const msgZoneFileRefused = "coverage zone file refused; keeping the last good one"

// Err is why the file as last looked at is not in service (it does not
// parse, or cannot be read), nil when it is.
func (f *ZoneFile) Err() error {
	if e := f.refused.Load(); e != nil {
		return *e
	}
	return nil
}

// Current returns the zones to use now.
func (f *ZoneFile) Current() *CoverageZones {
	if f.poll > 0 && f.now().UnixNano() >= f.next.Load() && f.mu.TryLock() {
		if f.now().UnixNano() >= f.next.Load() {
			f.check()
			f.schedule()
		}
		f.mu.Unlock()
	}
	return f.cur.Load()
}

// Reload looks at the file now and reports whether a new version was
// loaded; the error says why a changed file was refused.
func (f *ZoneFile) Reload() (bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.load()
}

func (f *ZoneFile) schedule() { f.next.Store(f.now().Add(f.poll).UnixNano()) }

func (f *ZoneFile) check() {
	if changed, err := f.load(); err != nil {
		revision := ""
		if cur := f.cur.Load(); cur != nil {
			revision = cur.Revision
		}
		f.log.Error(msgZoneFileRefused, "path", f.path, "err", err, "revision", revision)
	} else if changed {
		f.log.Info("coverage zone file reloaded", "path", f.path, "revision", f.cur.Load().Revision)
	}
}

// load reads the file when its modification time or size changed since the
// last attempt; a refused version is not retried until it changes again.
func (f *ZoneFile) load() (bool, error) {
	changed, err := f.read()
	switch {
	case err != nil:
		f.refused.Store(&err)
	case f.verdict != nil:
		v := f.verdict // Err reads it without the lock
		f.refused.Store(&v)
	default:
		f.refused.Store(nil)
	}
	return changed, err
}

func (f *ZoneFile) read() (bool, error) {
	st, err := os.Stat(f.path)
	if err != nil {
		return false, err
	}
	if (f.cur.Load() != nil || f.refused.Load() != nil) && st.ModTime().Equal(f.mod) && st.Size() == f.size {
		return false, nil
	}
	f.mod, f.size = st.ModTime(), st.Size()
	changed, err := f.readVersion()
	f.verdict = err
	return changed, err
}

func (f *ZoneFile) readVersion() (bool, error) {
	b, err := os.ReadFile(f.path)
	if err != nil {
		return false, err
	}
	cz, err := f.parse(b)
	if err != nil {
		return false, parseError{fmt.Errorf("%s: %w", f.path, err)}
	}
	f.cur.Store(cz)
	return true, nil
}
