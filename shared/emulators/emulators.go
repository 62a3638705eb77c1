package emulators

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"
	"time"
)

// Service names accepted by Start (PubSubService by gcpemu.Start only).
const (
	DynamoDBService  = "dynamodb"
	SQSService       = "sqs"
	FirestoreService = "firestore"
	StripeService    = "stripe"
	PubSubService    = "pubsub"
)

// SkipEnv names the variable that makes the test helpers skip instead of
// start a server.
const SkipEnv = "PLAYPLANE_SKIP_EMULATORS"

// ErrUnknownService is returned by Start for a name it does not serve.
var ErrUnknownService = errors.New("unknown service")

// Start starts the named server, or joins the one this process already runs,
// and returns its endpoint (see the package comment for the form per
// service). stop releases this caller's share; the server stops when the last
// share is released. stop may be called more than once. ctx bounds the
// install and the start only; the server runs until stopped or until this
// process exits (on Linux the kernel then kills it).
func Start(ctx context.Context, name string) (endpoint string, stop func(), err error) {
	h, err := acquire(ctx, name)
	if err != nil {
		return "", nil, err
	}
	return h.endpoint, func() { h.release(0) }, nil
}

// registry holds the servers this process runs, one per service.
var registry = struct {
	mu      sync.Mutex
	servers map[string]*sharedServer
}{servers: map[string]*sharedServer{}}

// sharedServer is one running server and who uses it. Fields after ready
// are written before ready is closed and only read after.
type sharedServer struct {
	name  string
	ready chan struct{}

	// Guarded by registry.mu.
	refs    int
	idleGen int // bumped each time refs drops to zero, so a stale linger timer can tell

	proc     *process
	endpoint string
	err      error
}

// handle is one caller's share of a sharedServer.
type handle struct {
	server   *sharedServer
	endpoint string
	once     sync.Once
}

func acquire(ctx context.Context, name string) (*handle, error) {
	switch name {
	case DynamoDBService, SQSService, FirestoreService, StripeService:
	case PubSubService:
		return nil, fmt.Errorf("emulators.Start %q: %w: the Pub/Sub fake runs in-process; start it with gcpemu.Start",
			name, ErrUnknownService)
	default:
		return nil, fmt.Errorf("emulators.Start %q: %w (want %s, %s, %s or %s)",
			name, ErrUnknownService, DynamoDBService, SQSService, FirestoreService, StripeService)
	}
	for {
		registry.mu.Lock()
		s := registry.servers[name]
		if s != nil && s.crashed() {
			delete(registry.servers, name)
			s = nil
		}
		if s == nil {
			s = &sharedServer{name: name, ready: make(chan struct{}), refs: 1}
			registry.servers[name] = s
			registry.mu.Unlock()
			s.start(ctx)
			if s.err != nil {
				return nil, s.err
			}
			return &handle{server: s, endpoint: s.endpoint}, nil
		}
		s.refs++
		registry.mu.Unlock()

		select {
		case <-s.ready:
		case <-ctx.Done():
			(&handle{server: s}).release(0)
			return nil, fmt.Errorf("emulators.Start %s: waiting for the server another caller is starting: %w", name, ctx.Err())
		}
		if s.err == nil {
			return &handle{server: s, endpoint: s.endpoint}, nil
		}
		if !isContextError(s.err) {
			return nil, s.err
		}
		// The caller that was starting it gave up; try again under our own context.
		if ctx.Err() != nil {
			return nil, fmt.Errorf("emulators.Start %s: %w", name, ctx.Err())
		}
	}
}

// crashed reports whether a ready server has exited without being stopped.
// Called with registry.mu held.
func (s *sharedServer) crashed() bool {
	select {
	case <-s.ready:
		return s.err == nil && s.proc.hasExited()
	default:
		return false
	}
}

func (s *sharedServer) start(ctx context.Context) {
	defer close(s.ready)
	root, err := repoRoot()
	if err == nil {
		err = install(ctx, root, s.name)
	}
	if err == nil {
		s.proc, s.endpoint, err = launch(ctx, root, s.name)
	}
	if err != nil {
		s.err = err
		registry.mu.Lock()
		if registry.servers[s.name] == s {
			delete(registry.servers, s.name)
		}
		registry.mu.Unlock()
	}
}

// release gives up this share. When it was the last one, the server stops
// after linger unless someone acquires it again first; tests use a linger so
// that back-to-back tests and benchmark rounds do not each pay a start.
func (h *handle) release(linger time.Duration) {
	h.once.Do(func() {
		s := h.server
		registry.mu.Lock()
		s.refs--
		if s.refs > 0 {
			registry.mu.Unlock()
			return
		}
		s.idleGen++
		gen := s.idleGen
		if linger <= 0 {
			s.retireLocked()
			registry.mu.Unlock()
			s.stopProcess()
			return
		}
		registry.mu.Unlock()
		time.AfterFunc(linger, func() {
			registry.mu.Lock()
			if s.refs > 0 || s.idleGen != gen {
				registry.mu.Unlock()
				return
			}
			s.retireLocked()
			registry.mu.Unlock()
			s.stopProcess()
		})
	})
}

// retireLocked removes s from the registry so the next acquire starts a new
// server. Called with registry.mu held.
func (s *sharedServer) retireLocked() {
	if registry.servers[s.name] == s {
		delete(registry.servers, s.name)
	}
}

func (s *sharedServer) stopProcess() {
	<-s.ready
	if s.proc != nil {
		s.proc.stop()
	}
}

func isContextError(err error) bool {
	return errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)
}

// envDuration reads a Go duration from the environment, falling back to def
// when the variable is unset or malformed.
func envDuration(key string, def time.Duration) time.Duration {
	v := os.Getenv(key)
	if v == "" {
		return def
	}
	d, err := time.ParseDuration(v)
	if err != nil || d < 0 {
		return def
	}
	return d
}
