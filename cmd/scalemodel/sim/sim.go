// Package sim replays a synthetic day of viewers through the real
// functions (authorizeplay, signurl, pickedge, heartbeat and its consumer)
// mounted in-process over a store (bbolt, or shared/dynamo on DynamoDB
// Local, or shared/firestore on the Firestore emulator) and the in-memory
// bus, on a simulated clock, and counts every HTTP call, store method
// (shared/roundtrip at the port layer), request to the emulator
// (shared/roundtrip at the wire layer), publish and consumed message, and
// log byte. The counts per session are what cmd/scalemodel/model predicts;
// Compare says how far apart they are.
//
// Time is simulated: a day of sessions runs as fast as the functions
// answer. The bus is drained every simulated second, so a consumer batch
// holds what a cloud queue's 1 s batching window would (never two beats of
// one session 30 s apart).
package sim

import (
	"bytes"
	"cmp"
	"container/heap"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/sethvargo/go-envconfig"
	"google.golang.org/api/option"

	"github.com/playplane/playplane/cmd/scalemodel/model"
	"github.com/playplane/playplane/events"
	"github.com/playplane/playplane/functions/authorizeplay"
	"github.com/playplane/playplane/functions/heartbeat"
	"github.com/playplane/playplane/functions/pickedge"
	"github.com/playplane/playplane/functions/signurl"
	"github.com/playplane/playplane/shared/auth"
	"github.com/playplane/playplane/shared/bolt"
	"github.com/playplane/playplane/shared/cloudcdn"
	"github.com/playplane/playplane/shared/cloudfront"
	"github.com/playplane/playplane/shared/demo"
	"github.com/playplane/playplane/shared/dynamo"
	"github.com/playplane/playplane/shared/emulators"
	"github.com/playplane/playplane/shared/emulators/gcpemu"
	"github.com/playplane/playplane/shared/firestore"
	"github.com/playplane/playplane/shared/httpx"
	"github.com/playplane/playplane/shared/localedge"
	"github.com/playplane/playplane/shared/membus"
	"github.com/playplane/playplane/shared/playback"
	"github.com/playplane/playplane/shared/roundtrip"
)

// Config is the day to replay.
type Config struct {
	// MeanViewers is the day's mean concurrency; the diurnal curve peaks
	// at PeakRatio × MeanViewers at 21:00.
	MeanViewers float64
	PeakRatio   float64
	// Day is how much simulated time to replay (24 h).
	Day time.Duration
	// PremiereAt is when a premiere starts (20:00); PremiereShare of the
	// concurrency at that moment start the premiere title within
	// PremiereWindow, on top of the curve.
	PremiereAt     time.Duration
	PremiereShare  float64
	PremiereWindow time.Duration
	Workload       model.Workload
	Seed           uint64
	// Dir holds the bbolt file.
	Dir string
	// Store is what the functions store on: StoreBolt ("" too),
	// StoreDynamoDB or StoreFirestore.
	Store string
	// Endpoint is the emulator's address, in the form shared/emulators
	// answers (DynamoDB Local's URL, the Firestore emulator's host:port);
	// empty starts one with gcpemu.Start.
	Endpoint string
}

// Stores the day can run on.
const (
	StoreBolt      = "bolt"      // bbolt without fsync, in Dir
	StoreDynamoDB  = "dynamodb"  // shared/dynamo on DynamoDB Local, a table of its own
	StoreFirestore = "firestore" // shared/firestore on the Firestore emulator, collections of its own
)

// DefaultConfig is the day at a given mean concurrency.
func DefaultConfig(meanViewers float64, dir string) Config {
	return Config{MeanViewers: meanViewers, PeakRatio: 3, Day: 24 * time.Hour,
		PremiereAt: 20 * time.Hour, PremiereShare: 0.2, PremiereWindow: 5 * time.Minute,
		Workload: model.Defaults(), Seed: 20, Dir: dir}
}

// Result is what the day cost.
type Result struct {
	Sessions      int
	Registrations int // plays that registered a device
	ViewerHours   float64
	PeakViewers   int
	// PremiereStarts is how many sessions started the premiere title in
	// its window; PremierePlaysPerSecond their rate.
	PremiereStarts int
	Routes         map[string]int
	Store          map[string]int
	Publishes      int
	Consumed       int
	Batches        int
	// Heartbeats is the heartbeat function's own tally of the day (every
	// session's, warm-up included).
	Heartbeats heartbeat.Stats
	// Wire is the requests the store adapter sent to the emulator (none
	// on bbolt), by API operation, for the counted sessions; the edge
	// table's reloads are counted apart, in EdgeLoads (store calls) and
	// EdgeWire (their requests), as the model prices them apart.
	Wire      map[string]int
	EdgeLoads int
	EdgeWire  int
	// PlanLoads is authorizeplay's and signurl's plan reads (their plan
	// caches' misses, warm-up included) and PlanWire their requests:
	// counted apart too, the model prices them per instance.
	PlanLoads int
	PlanWire  int
	// Span is the simulated time replayed, warm-up included.
	Span time.Duration
	// Requests is every HTTP call of the replay (warm-up included), which
	// LogLines and LogBytes are the slog output of.
	Requests int
	LogLines int
	LogBytes int64
	// Failures are calls answered other than expected.
	Failures []string
}

// PerSession divides the counts by the sessions, in the model's terms.
func (r Result) PerSession() model.Totals {
	t := model.Totals{Routes: map[string]float64{}, Store: map[string]float64{}}
	n := float64(r.Sessions)
	for k, v := range r.Routes {
		t.Routes[k] = float64(v) / n
	}
	for k, v := range r.Store {
		t.Store[k] = float64(v) / n
	}
	t.Publishes = float64(r.Publishes) / n
	t.Consumed = float64(r.Consumed) / n
	return t
}

// WirePerSession is the requests on the wire per session.
func (r Result) WirePerSession() float64 {
	n := 0
	for _, v := range r.Wire {
		n += v
	}
	return float64(n) / float64(r.Sessions)
}

// Diurnal is the concurrency at time of day t relative to the mean: a
// floor plus a prime-time bump at 21:00, scaled so that its mean over a
// day is 1 and its peak is peak.
func Diurnal(t time.Duration, peak float64) float64 {
	// bump(h) = exp(-((h-21)/3)^2) on a circular day; its daily mean is
	// bumpMean. f = a + b*bump with mean 1 and max a+b = peak.
	h := math.Mod(t.Hours(), 24)
	d := math.Abs(h - 21)
	d = math.Min(d, 24-d)
	bump := math.Exp(-(d / 3) * (d / 3))
	const bumpMean = 3 * 1.7724538509055159 / 24 // sqrt(pi)*3/24, the Gaussian's integral over the day
	b := (peak - 1) / (1 - bumpMean)
	a := peak - b
	return a + b*bump
}

type session struct {
	start, length time.Duration
	title         string
	account       string
	premiere      bool
	// set while playing
	id, token  string
	urls       signurl.URLsResponse
	registered bool
}

type event struct {
	at   time.Duration
	seq  int
	kind int
	s    *session
	// k is the heartbeat or reload number.
	k int
}

const (
	evStart = iota
	evBeat
	evSteer
	evRefresh
	evStop
)

type queue []*event

func (q queue) Len() int { return len(q) }
func (q queue) Less(i, j int) bool {
	if q[i].at != q[j].at {
		return q[i].at < q[j].at
	}
	return q[i].seq < q[j].seq
}
func (q queue) Swap(i, j int) { q[i], q[j] = q[j], q[i] }
func (q *queue) Push(x any)   { *q = append(*q, x.(*event)) }
func (q *queue) Pop() any {
	old := *q
	e := old[len(old)-1]
	*q = old[:len(old)-1]
	return e
}

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if t.After(c.t) {
		c.t = t
	}
}

type countingWriter struct {
	lines, bytes atomic.Int64
}

func (w *countingWriter) Write(p []byte) (int, error) {
	w.bytes.Add(int64(len(p)))
	w.lines.Add(int64(bytes.Count(p, []byte{'\n'})))
	return len(p), nil
}

// titles the simulated households may watch (licensed in DE, rated <= 16).
var titles = []string{"sintel", "tears-of-steel", "big-buck-bunny"}

const premiereTitle = "big-buck-bunny"

type rig struct {
	cfg   Config
	clock *clock
	start time.Time
	// closers undo openStore, in reverse.
	closers []func()
	bus     *membus.Bus
	handler http.Handler
	beats   *heartbeat.Server
	jwtKey  []byte
	logs    *countingWriter

	// httpOp records the calls of the current event's requests, busOp the
	// consumer's, edgeOp pickedge's edge table reloads, planOp the plan
	// reads behind authorizeplay's and signurl's plan caches.
	httpOp, busOp, edgeOp, planOp roundtrip.Op
	// routes of the current event's calls, and every publish of the day
	// (warm-up sessions' included), which apportions the consumer's work.
	routes       []string
	allPublishes int
	res          Result
	accounts     []string
	freeAccounts []string
}

// Run replays the day.
func Run(ctx context.Context, cfg Config) (Result, error) {
	r, err := newRig(ctx, cfg)
	if err != nil {
		return Result{}, err
	}
	defer r.close()
	sessions := r.plan()
	if err := r.replay(ctx, sessions); err != nil {
		return r.res, err
	}
	return r.res, nil
}

func newRig(ctx context.Context, cfg Config) (_ *rig, err error) {
	// The day starts at the midnight after next: the URL signers check
	// expiries against the real clock, so simulated time, warm-up
	// included, must not lie behind it.
	start := time.Now().UTC().Truncate(24 * time.Hour).Add(48 * time.Hour)
	warmUp := start.Add(-2 * cfg.Workload.MeanSession)
	r := &rig{cfg: cfg, clock: &clock{t: warmUp}, start: start, logs: &countingWriter{},
		res: Result{Routes: map[string]int{}, Store: map[string]int{}, Wire: map[string]int{}}}
	defer func() {
		if err != nil {
			r.close()
		}
	}()
	store, err := r.openStore(ctx)
	if err != nil {
		return nil, err
	}
	const base = "https://api.sim.invalid"
	cdnBases := map[string]string{demo.CDNCloudFront: "https://cf.sim.invalid", demo.CDNCloudCDN: "https://gc.sim.invalid"}
	if err := demo.SeedOn(ctx, store, cdnBases, warmUp); err != nil {
		return nil, err
	}
	r.bus = membus.New(membus.Config{MaxBatch: cmp.Or(cfg.Workload.ConsumerBatch, 10), MaxPending: 1 << 22})
	counted := roundtrip.WrapStore(store)
	bus := roundtrip.WrapBus(r.bus)
	log := slog.New(slog.NewJSONHandler(r.logs, nil))

	r.jwtKey = []byte("scalemodel-simulator-jwt-key-32b")
	identity, err := auth.NewVerifier(auth.VerifierConfig{Issuer: "sim", Audience: "playplane",
		HS256Keys: "sim:" + base64Std(r.jwtKey), Leeway: 30 * time.Second})
	if err != nil {
		return nil, err
	}
	tokens := auth.NewDevKeyring()
	w := cfg.Workload
	env := envconfig.MapLookuper(map[string]string{
		"LEASE_TTL":                   w.LeaseTTL.String(),
		"HEARTBEAT_INTERVAL":          w.HeartbeatInterval.String(),
		"HEARTBEAT_LEASE_RENEW_SLACK": w.LeaseRenewSlack.String(),
		"SIGNURL_GRACE":               w.GrantGrace.String(),
		"SIGNURL_MAX_TTL":             w.GrantMaxTTL.String(),
		"STEERING_TTL":                w.SteeringTTL.String(),
		"PLAN_CACHE_TTL":              w.PlanCacheTTL.String(),
		// The simulator sends no edge health reports: the seeded edges
		// stay fresh all day, so steering answers its full TTL.
		"STEERING_STALENESS": "1000h",
		"PUBLIC_API_URL":     base,
	})
	process := func(target any) error {
		return envconfig.ProcessWith(ctx, &envconfig.Config{Target: target, Lookuper: env})
	}
	now := r.clock.Now

	var playCfg authorizeplay.Config
	if err := process(&playCfg); err != nil {
		return nil, err
	}
	play, err := authorizeplay.New(playCfg, authorizeplay.Deps{Store: planLoads{counted, &r.planOp}, Identity: identity, Tokens: tokens, Now: now})
	if err != nil {
		return nil, err
	}
	var beatCfg heartbeat.Config
	if err := process(&beatCfg); err != nil {
		return nil, err
	}
	// No Deps.Batch: the Lambda and Cloud Functions wiring has none, so the
	// consumer writes session by session as it does there.
	r.beats, err = heartbeat.New(beatCfg, heartbeat.Deps{Store: counted, Bus: bus, Tokens: tokens, Identity: identity, Log: log, Now: now})
	if err != nil {
		return nil, err
	}
	var signCfg signurl.Config
	if err := process(&signCfg); err != nil {
		return nil, err
	}
	signCfg.CDNBases, signCfg.DefaultCDN = cdnBases, demo.CDNCloudFront
	signers, err := devSigners()
	if err != nil {
		return nil, err
	}
	stream, err := localedge.BuildStream()
	if err != nil {
		return nil, err
	}
	sign, err := signurl.New(signCfg, signurl.Deps{Store: planLoads{counted, &r.planOp}, Tokens: tokens, Signers: signers, Now: now, Origin: streamOrigin{stream}})
	if err != nil {
		return nil, err
	}
	var pickCfg pickedge.Config
	if err := process(&pickCfg); err != nil {
		return nil, err
	}
	pickCfg.EdgeKeys = "sim-edge=" + base64Std([]byte("sim-edge-key-0123456789abcdef012"))
	pick, err := pickedge.New(pickCfg, pickedge.Deps{Store: edgeLoads{counted, &r.edgeOp}, Bus: bus, Tokens: tokens, Log: log, Now: now})
	if err != nil {
		return nil, err
	}

	mux := httpx.NewServeMux()
	for _, f := range []interface{ Mount(httpx.Mux) }{play, r.beats, sign, pick} {
		f.Mount(mux)
	}
	r.handler = httpx.Middleware(log, mux)
	consume := r.beats.Consumers()[events.TopicHeartbeats]
	err = bus.Subscribe(ctx, events.TopicHeartbeats, func(ctx context.Context, msgs []playback.Message) []string {
		return consume(roundtrip.WithOp(ctx, &r.busOp), msgs)
	})
	if err != nil {
		return nil, err
	}

	// Households: copies of the demo family (standard plan, DE, cap 16)
	// without devices, so a household's first play registers its device.
	family := demo.Accounts(warmUp)[0]
	n := int(math.Ceil(cfg.MeanViewers*cfg.PeakRatio*(1+cfg.PremiereShare))) + 16
	for i := range n {
		a := family
		a.ID, a.Email, a.CustomerID, a.Devices = fmt.Sprintf("acct_sim_%06d", i), fmt.Sprintf("sim%d@example.com", i), "", nil
		if err := store.PutAccount(ctx, a); err != nil {
			return nil, err
		}
		r.accounts = append(r.accounts, a.ID)
	}
	r.freeAccounts = append([]string(nil), r.accounts...)
	return r, nil
}

func (r *rig) close() {
	if r.bus != nil {
		_ = r.bus.Close()
	}
	for _, c := range slices.Backward(r.closers) {
		c()
	}
}

// openStore opens the configured store; r.closers undo what it did.
func (r *rig) openStore(ctx context.Context) (playback.Store, error) {
	cfg := r.cfg
	endpoint := func(service string) (string, error) {
		if cfg.Endpoint != "" {
			return cfg.Endpoint, nil
		}
		ep, stop, err := gcpemu.Start(ctx, service)
		if err != nil {
			return "", err
		}
		r.closers = append(r.closers, stop)
		return ep, nil
	}
	switch cfg.Store {
	case "", StoreBolt:
		s, err := bolt.Open(filepath.Join(cfg.Dir, "sim.db"), bolt.WithoutSync())
		if err != nil {
			return nil, err
		}
		r.closers = append(r.closers, func() { _ = s.Close() })
		return s, nil
	case StoreDynamoDB:
		ep, err := endpoint(emulators.DynamoDBService)
		if err != nil {
			return nil, err
		}
		db := dynamodb.New(dynamodb.Options{Region: "us-east-1", BaseEndpoint: aws.String(ep),
			Credentials: credentials.NewStaticCredentialsProvider("local", "local", ""),
			HTTPClient:  roundtrip.HTTPClient(roundtrip.LayerWire, nil)})
		table := playback.NewID("scalesim")
		s, err := dynamo.New(ctx, dynamo.Config{Table: table}, db)
		if err != nil {
			return nil, err
		}
		if err := s.CreateTable(ctx); err != nil {
			return nil, err
		}
		r.closers = append(r.closers, func() {
			_, _ = db.DeleteTable(context.Background(), &dynamodb.DeleteTableInput{TableName: aws.String(table)})
		})
		return s, nil
	case StoreFirestore:
		ep, err := endpoint(emulators.FirestoreService)
		if err != nil {
			return nil, err
		}
		opts := gcpemu.FirestoreClientOptions(ep)
		for _, o := range roundtrip.DialOptions(roundtrip.LayerWire) {
			opts = append(opts, option.WithGRPCDialOption(o))
		}
		s, err := firestore.New(ctx, firestore.Config{ProjectID: "playplane-sim", CollectionPrefix: playback.NewID("scalesim") + "_"}, nil, opts...)
		if err != nil {
			return nil, err
		}
		r.closers = append(r.closers, func() { _ = s.Close() })
		return s, nil
	}
	return nil, fmt.Errorf("sim: unknown store %q (want %s, %s or %s)", cfg.Store, StoreBolt, StoreDynamoDB, StoreFirestore)
}

// edgeLoads records pickedge's edge table reloads into an Op of their
// own: the model prices them per function instance, not per session.
type edgeLoads struct {
	playback.Store
	op *roundtrip.Op
}

func (s edgeLoads) ListEdges(ctx context.Context) ([]playback.Edge, error) {
	return s.Store.ListEdges(roundtrip.WithOp(ctx, s.op))
}

// planLoads records the plan reads into an Op of their own: behind the
// functions' plan caches they are per instance, not per session.
type planLoads struct {
	playback.Store
	op *roundtrip.Op
}

func (s planLoads) GetPlan(ctx context.Context, id string) (playback.Plan, error) {
	return s.Store.GetPlan(roundtrip.WithOp(ctx, s.op), id)
}

// plan draws the day's sessions: arrivals at rate concurrency/mean
// session (Little's law) by thinning, lengths uniform on [0.5, 1.5] ×
// mean, and the premiere's extra starts.
func (r *rig) plan() []*session {
	cfg := r.cfg
	rng := rand.New(rand.NewPCG(cfg.Seed, 2026))
	mean := cfg.Workload.MeanSession
	length := func() time.Duration {
		return time.Duration((0.5 + rng.Float64()) * float64(mean))
	}
	var out []*session
	// Start early enough that the day opens at its steady concurrency.
	maxRate := cfg.MeanViewers * cfg.PeakRatio / mean.Seconds()
	for t := -1.5 * mean.Seconds(); ; {
		t += rng.ExpFloat64() / maxRate
		if t >= cfg.Day.Seconds() {
			break
		}
		at := time.Duration(t * float64(time.Second))
		if rng.Float64()*cfg.PeakRatio > Diurnal(at, cfg.PeakRatio) {
			continue
		}
		out = append(out, &session{start: at, length: length(), title: titles[rng.IntN(len(titles))]})
	}
	if cfg.PremiereShare > 0 && cfg.PremiereAt < cfg.Day {
		n := int(math.Round(cfg.PremiereShare * cfg.MeanViewers * Diurnal(cfg.PremiereAt, cfg.PeakRatio)))
		for range n {
			at := cfg.PremiereAt + time.Duration(rng.Float64()*float64(cfg.PremiereWindow))
			out = append(out, &session{start: at, length: length(), title: premiereTitle, premiere: true})
		}
		r.res.PremiereStarts = n
	}
	return out
}

func (r *rig) replay(ctx context.Context, sessions []*session) error {
	q := &queue{}
	seq := 0
	push := func(e *event) {
		seq++
		e.seq = seq
		heap.Push(q, e)
	}
	for _, s := range sessions {
		push(&event{at: s.start, kind: evStart, s: s})
	}
	w := r.cfg.Workload
	playing := 0
	// drained: lastDrain is set (a sentinel of MinInt64 would overflow the
	// difference below for a day whose first event is after midnight, and
	// the bus would never be drained).
	var lastDrain time.Duration
	drained := false
	for q.Len() > 0 {
		e := heap.Pop(q).(*event)
		if !drained || e.at-lastDrain >= time.Second {
			drained = true
			// Let the consumer catch up, as a queue consumer keeps up in
			// the cloud: a batch holds what a 1 s batching window would.
			if err := r.bus.Idle(ctx); err != nil {
				return err
			}
			lastDrain = e.at
		}
		r.clock.set(r.start.Add(e.at))
		s := e.s
		switch e.kind {
		case evStart:
			if len(r.freeAccounts) == 0 {
				return errors.New("sim: out of households")
			}
			s.account = r.freeAccounts[len(r.freeAccounts)-1]
			r.freeAccounts = r.freeAccounts[:len(r.freeAccounts)-1]
			if !r.startSession(s) {
				r.freeAccounts = append(r.freeAccounts, s.account)
				continue
			}
			counted := s.start >= 0 && s.start < r.cfg.Day
			if counted {
				r.res.Sessions++
				r.res.ViewerHours += s.length.Hours()
				if s.registered {
					r.res.Registrations++
				}
			}
			playing++
			r.res.PeakViewers = max(r.res.PeakViewers, playing)
			end := s.start + s.length
			for k := 1; time.Duration(k)*w.HeartbeatInterval < s.length; k++ {
				push(&event{at: s.start + time.Duration(k)*w.HeartbeatInterval, kind: evBeat, s: s, k: k})
			}
			for k := 1; time.Duration(k)*w.SteeringTTL < s.length; k++ {
				push(&event{at: s.start + time.Duration(k)*w.SteeringTTL, kind: evSteer, s: s})
			}
			refresh := w.GrantRefresh()
			for k := 1; time.Duration(k)*refresh < s.length; k++ {
				push(&event{at: s.start + time.Duration(k)*refresh, kind: evRefresh, s: s})
			}
			push(&event{at: end, kind: evStop, s: s})
		case evBeat:
			pos := e.k * int(w.HeartbeatInterval/time.Millisecond)
			r.beat(s, "progress", pos)
		case evSteer:
			r.call(http.MethodGet, s.urls.SteeringURI, "", nil, http.StatusOK)
		case evRefresh:
			r.urls(s)
		case evStop:
			r.beat(s, "stop", int(s.length/time.Millisecond))
			playing--
			r.freeAccounts = append(r.freeAccounts, s.account)
		}
		r.countHTTP(e.s)
	}
	if err := r.bus.Idle(ctx); err != nil {
		return err
	}
	// The consumer does the same per message whoever sent it: the counted
	// sessions' share of its work is their share of the publishes.
	st := r.beats.Stats()
	share := float64(r.res.Publishes) / float64(max(r.allPublishes, 1))
	consumer, wire := map[string]int{}, map[string]int{}
	for _, c := range r.busOp.Calls(roundtrip.LayerStore) {
		consumer[c.Name]++
	}
	for _, c := range r.busOp.Calls(roundtrip.LayerWire) {
		wire[c.Name]++
	}
	for name, n := range consumer {
		r.res.Store[name] += int(math.Round(float64(n) * share))
	}
	for name, n := range wire {
		r.res.Wire[name] += int(math.Round(float64(n) * share))
	}
	r.res.EdgeLoads = len(r.edgeOp.Calls(roundtrip.LayerStore))
	r.res.EdgeWire = len(r.edgeOp.Calls(roundtrip.LayerWire))
	r.res.PlanLoads = len(r.planOp.Calls(roundtrip.LayerStore))
	r.res.PlanWire = len(r.planOp.Calls(roundtrip.LayerWire))
	r.res.Span = r.clock.Now().Sub(r.start.Add(-2 * w.MeanSession))
	r.res.Batches = int(st.Batches)
	r.res.Heartbeats = st
	r.res.Consumed = int(math.Round(float64(st.Consumed) * share))
	r.res.LogLines, r.res.LogBytes = int(r.logs.lines.Load()), r.logs.bytes.Load()
	return nil
}

// countHTTP moves the store and bus calls the last event's requests made
// into the totals, for sessions that started inside the day (the warm-up
// sessions before midnight only bring the day to its concurrency).
func (r *rig) countHTTP(s *session) {
	defer func() { r.httpOp.Reset(); r.routes = r.routes[:0] }()
	counted := s.start >= 0 && s.start < r.cfg.Day
	for _, c := range r.httpOp.Calls("") {
		switch {
		case c.Layer == roundtrip.LayerBus:
			r.allPublishes++
			if counted {
				r.res.Publishes++
			}
		case c.Layer == roundtrip.LayerStore && counted:
			r.res.Store[model.StoreMethod(c.Name)]++
		case c.Layer == roundtrip.LayerWire && counted:
			r.res.Wire[c.Name]++
		}
	}
	if counted {
		for _, rt := range r.routes {
			r.res.Routes[rt]++
		}
	}
}

func base64Std(b []byte) string { return base64.StdEncoding.EncodeToString(b) }

// startSession is what a player does on play: resume position, play,
// urls, the multivariant playlist and two media playlists, the steering
// manifest, and the start heartbeat.
func (r *rig) startSession(s *session) bool {
	token, err := auth.MintHS256("sim", r.jwtKey, "sim", "playplane", s.account, 72*time.Hour, time.Now())
	if err != nil {
		r.fail("mint: %v", err)
		return false
	}
	r.call(http.MethodGet, "/v1/progress?title_id="+s.title, token, nil, http.StatusOK, http.StatusNotFound)
	var play authorizeplay.PlayResponse
	body, _ := json.Marshal(authorizeplay.PlayRequest{TitleID: s.title, DeviceID: "tv"})
	before := r.httpOp.Calls(roundtrip.LayerStore)
	if !r.decode(r.call(http.MethodPost, "/v1/play", token, body, http.StatusCreated), &play) {
		return false
	}
	for _, c := range r.httpOp.Calls(roundtrip.LayerStore)[len(before):] {
		if c.Name == "UpdateAccount" {
			s.registered = true
		}
	}
	s.id, s.token = play.SessionID, play.PlaybackToken
	// As the web player: the view begins at admission (model.StartBeats).
	r.call(http.MethodPost, "/v1/playback/"+s.id+"/heartbeat", s.token,
		fmt.Appendf(nil, `{"event":"start","device_time":%q}`, r.clock.Now().Format(time.RFC3339Nano)), http.StatusOK)
	if !r.urls(s) {
		return false
	}
	if s.urls.Manifests == nil {
		r.fail("urls answered no personalized manifests")
		return false
	}
	master := r.call(http.MethodGet, s.urls.Manifests.HLS, "", nil, http.StatusOK)
	media := 0
	for line := range strings.Lines(string(master)) {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") || float64(media) >= r.cfg.Workload.ManifestFetches-1 {
			continue
		}
		r.call(http.MethodGet, line, "", nil, http.StatusOK)
		media++
	}
	r.call(http.MethodGet, s.urls.SteeringURI, "", nil, http.StatusOK)
	r.beat(s, "start", 0)
	return true
}

func (r *rig) urls(s *session) bool {
	var u signurl.URLsResponse
	if !r.decode(r.call(http.MethodPost, "/v1/playback/"+s.id+"/urls", s.token, []byte("{}"), http.StatusOK), &u) {
		return false
	}
	s.urls = u
	return true
}

func (r *rig) beat(s *session, event string, posMS int) {
	dur := int(s.length/time.Millisecond) + 1
	body := fmt.Sprintf(`{"event":%q,"position_ms":%d,"duration_ms":%d,"device_time":%q,"qoe":{"br":3000,"bl":12000}}`,
		event, posMS, dur, r.clock.Now().Format(time.RFC3339Nano))
	r.call(http.MethodPost, "/v1/playback/"+s.id+"/heartbeat", s.token, []byte(body), http.StatusOK)
}

// call serves one request in-process and counts its route.
func (r *rig) call(method, target, token string, body []byte, want ...int) []byte {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req := httptest.NewRequestWithContext(roundtrip.WithOp(context.Background(), &r.httpOp), method, target, rd)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	rec := httptest.NewRecorder()
	r.handler.ServeHTTP(rec, req)
	r.routes = append(r.routes, routeOf(method, req.URL.Path))
	r.res.Requests++
	for _, code := range want {
		if rec.Code == code {
			return rec.Body.Bytes()
		}
	}
	r.fail("%s %s: %d %s", method, req.URL.Path, rec.Code, strings.TrimSpace(rec.Body.String()))
	return nil
}

func (r *rig) decode(b []byte, v any) bool {
	if b == nil {
		return false
	}
	if err := json.Unmarshal(b, v); err != nil {
		r.fail("decode: %v", err)
		return false
	}
	return true
}

func (r *rig) fail(format string, args ...any) {
	if len(r.res.Failures) < 20 {
		r.res.Failures = append(r.res.Failures, fmt.Sprintf(format, args...))
	}
}

// routeOf maps a path to the model's route key.
func routeOf(method, path string) string {
	parts := strings.Split(strings.Trim(path, "/"), "/")
	switch {
	case path == "/v1/play":
		return model.RoutePlay
	case path == "/v1/progress":
		return model.RouteProgress
	case len(parts) >= 3 && parts[1] == "manifests":
		return model.RouteManifests
	case len(parts) == 3 && parts[1] == "steering":
		return model.RouteSteering
	case len(parts) == 4 && parts[1] == "playback" && parts[3] == "urls":
		return model.RouteURLs
	case len(parts) == 4 && parts[1] == "playback" && parts[3] == "heartbeat":
		return model.RouteHeartbeat
	}
	return method + " " + path
}

// streamOrigin serves the stored test ladder as the titles' origin.
type streamOrigin struct{ s *localedge.Stream }

func (o streamOrigin) Get(_ context.Context, path string) ([]byte, error) {
	rest, ok := strings.CutPrefix(path, "/titles/")
	if ok {
		if _, name, found := strings.Cut(rest, "/"); found {
			if b, _, ok := o.s.Object(name); ok {
				return b, nil
			}
		}
	}
	return nil, playback.NotFound("object", path)
}

// devSigners are in-memory CloudFront and Cloud CDN signers, as the local
// runner makes them.
func devSigners() (map[string]playback.URLSigner, error) {
	cfKey, err := cloudfront.GenerateDevKey("KSIM", cloudfront.ECDSAP256)
	if err != nil {
		return nil, err
	}
	cfKeys, err := cloudfront.NewKeySet(cfKey.ID, cfKey)
	if err != nil {
		return nil, err
	}
	cf, err := cloudfront.New(cloudfront.Config{}, cfKeys)
	if err != nil {
		return nil, err
	}
	cdnKeys, err := cloudcdn.NewKeySet("sim", cloudcdn.GenerateDevKey("sim"))
	if err != nil {
		return nil, err
	}
	gc, err := cloudcdn.New(cloudcdn.Config{}, cdnKeys)
	if err != nil {
		return nil, err
	}
	return map[string]playback.URLSigner{demo.CDNCloudFront: cf, demo.CDNCloudCDN: gc}, nil
}

// Gap is one figure per session, predicted and replayed.
type Gap struct {
	Name          string
	Model, Replay float64
	RelativeError float64 // |replay - model| / model
}

// Compare sets the model's workload to what the day replayed (its mean
// session length and share of plays registering a device) and lists every
// per-session figure of either side with its relative gap. The edge
// table's reloads (Result.EdgeLoads) and the plan caches' misses
// (Result.PlanLoads) are not per session and not in the counts: the model
// prices them per function instance.
func Compare(cfg Config, res Result) (model.Workload, []Gap) {
	w := cfg.Workload
	if res.Sessions > 0 {
		w.MeanSession = time.Duration(res.ViewerHours / float64(res.Sessions) * float64(time.Hour))
		w.NewDeviceShare = float64(res.Registrations) / float64(res.Sessions)
	}
	want := model.Sum(w.PerSession())
	got := res.PerSession()
	var gaps []Gap
	add := func(name string, m, r float64) {
		e := math.Abs(r - m)
		if m != 0 {
			e /= m
		} else if r != 0 {
			e = math.Inf(1)
		}
		gaps = append(gaps, Gap{Name: name, Model: m, Replay: r, RelativeError: e})
	}
	for _, k := range keys(want.Routes, got.Routes) {
		add(k, want.Routes[k], got.Routes[k])
	}
	for _, k := range keys(want.Store, got.Store) {
		add("store "+k, want.Store[k], got.Store[k])
	}
	add("publishes", want.Publishes, got.Publishes)
	add("consumed messages", want.Consumed, got.Consumed)
	// On an emulator, the requests on the wire: the model prices each
	// store method's round trips (model.Units), for the functions'
	// durations.
	if trips := tripsOf(cfg.Store); trips != nil {
		units := model.StoreUnits(model.Sizes())
		var m float64
		for _, c := range w.PerSession() {
			for _, op := range c.Step.Store { // unit entries: a writing RenewLease is its own
				m += c.N * trips(units[op])
			}
		}
		add("wire requests ("+cfg.Store+")", m, res.WirePerSession())
	}
	return w, gaps
}

// tripsOf is the round trips the model prices a store method with on
// store, nil for bbolt (no wire).
func tripsOf(store string) func(model.Units) float64 {
	switch store {
	case StoreDynamoDB:
		return func(u model.Units) float64 { return u.DynamoTrips }
	case StoreFirestore:
		return func(u model.Units) float64 { return u.FirestoreTrips }
	}
	return nil
}

func keys(a, b map[string]float64) []string {
	seen := map[string]bool{}
	var out []string
	for _, m := range []map[string]float64{a, b} {
		for k := range m {
			if !seen[k] {
				seen[k] = true
				out = append(out, k)
			}
		}
	}
	slices.Sort(out)
	return out
}
