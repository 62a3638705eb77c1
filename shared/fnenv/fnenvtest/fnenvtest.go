// Package fnenvtest runs a function's Build over a recording fnenv.Env, to
// learn at run time which variables the Build reads (infra/stack holds each
// stack's environment to it).
package fnenvtest

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/sethvargo/go-envconfig"

	"github.com/playplane/playplane/shared/auth"
	"github.com/playplane/playplane/shared/firehose"
	"github.com/playplane/playplane/shared/fnenv"
	"github.com/playplane/playplane/shared/playback"
)

// Getter names, the keys of Recorder.Needs.
const (
	GetStore    = "Store"
	GetBus      = "Bus"
	GetKeyring  = "Keyring"
	GetIdentity = "Identity"
)

// Recorder is an fnenv.Env over Vars that records every name read: through
// Process (Configs), Lookup (key sets' env: references), and the platform
// getters, each of which reads the names Needs lists for it (what awsfn or
// gcpfn read to make that dependency) and fails when one is unset. The
// dependencies it returns are stand-ins that fail if called: a Build only
// constructs.
type Recorder struct {
	Vars  map[string]string
	Needs map[string][]string

	mu   sync.Mutex
	read map[string]bool
}

var _ fnenv.Env = (*Recorder)(nil)

// Read lists the names read so far, sorted.
func (r *Recorder) Read() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for n := range r.read {
		out = append(out, n)
	}
	slices.Sort(out)
	return out
}

// WasRead says whether name was read.
func (r *Recorder) WasRead(name string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.read[name]
}

func (r *Recorder) note(names ...string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.read == nil {
		r.read = map[string]bool{}
	}
	for _, n := range names {
		r.read[n] = true
	}
}

func (r *Recorder) Lookup(name string) (string, bool) {
	r.note(name)
	v, ok := r.Vars[name]
	return v, ok
}

func (r *Recorder) Process(ctx context.Context, cfg any) error {
	return envconfig.ProcessWith(ctx, &envconfig.Config{Target: cfg, Lookuper: envconfig.LookuperFunc(r.Lookup)})
}

func (r *Recorder) get(getter string) error {
	names, ok := r.Needs[getter]
	if !ok {
		return fmt.Errorf("fnenvtest: no names for getter %s", getter)
	}
	r.note(names...)
	for _, n := range names {
		if _, ok := r.Vars[n]; !ok {
			return fmt.Errorf("%s needs %s, which is not set", getter, n)
		}
	}
	return nil
}

func (r *Recorder) Store(context.Context) (playback.Store, error) {
	if err := r.get(GetStore); err != nil {
		return nil, err
	}
	return struct{ playback.Store }{}, nil
}

func (r *Recorder) ProgressBatch(context.Context) (playback.ProgressBatchStore, bool, error) {
	return nil, false, nil
}

func (r *Recorder) QoEViews(context.Context) (playback.QoEStore, bool, error) {
	return nil, false, nil
}

// LeaseCounter needs what Store needs: the counter is the store.
func (r *Recorder) LeaseCounter(context.Context) (playback.LeaseCounter, bool, error) {
	if err := r.get(GetStore); err != nil {
		return nil, false, err
	}
	return nil, false, nil
}

// QoEStream reads the Firehose settings awsfn reads; it returns no sink.
func (r *Recorder) QoEStream(ctx context.Context) (playback.StreamSink, error) {
	var cfg firehose.Config
	return nil, r.Process(ctx, &cfg)
}

func (r *Recorder) Bus(context.Context) (playback.Publisher, error) {
	if err := r.get(GetBus); err != nil {
		return nil, err
	}
	return struct{ playback.Publisher }{}, nil
}

func (r *Recorder) Keyring() (*auth.Keyring, error) {
	if err := r.get(GetKeyring); err != nil {
		return nil, err
	}
	return auth.NewDevKeyring(), nil
}

func (r *Recorder) Identity(context.Context) (fnenv.Authenticator, error) {
	if err := r.get(GetIdentity); err != nil {
		return nil, err
	}
	return struct{ fnenv.Authenticator }{}, nil
}

func (r *Recorder) Now() time.Time { return time.Unix(0, 0) }

func (r *Recorder) Log() *slog.Logger { return slog.New(slog.DiscardHandler) }
