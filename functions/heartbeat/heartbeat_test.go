package heartbeat_test

import (
	"bytes"
	"cmp"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/playplane/playplane/events"
	"github.com/playplane/playplane/functions/heartbeat"
	"github.com/playplane/playplane/shared/auth"
	"github.com/playplane/playplane/shared/bolt"
	"github.com/playplane/playplane/shared/httpx"
	"github.com/playplane/playplane/shared/membus"
	"github.com/playplane/playplane/shared/playback"
)

const (
	issuer   = "https://id.example"
	audience = "playplane"
	kid      = "k1"
)

var jwtKey = bytes.Repeat([]byte("k"), 32)

// flakyStore fails chosen writes, to drive the consumer's partial-failure
// paths; everything else reaches the real bolt store. It writes one session
// at a time, as the DynamoDB and Firestore stores do; flakyBatchStore is
// the one-transaction batch writes of the bolt store (Deps.Batch).
type flakyStore struct {
	heartbeat.Store
	mu           sync.Mutex
	failProgress map[string]error // by session id
	failQoE      map[string]error // by session id
	failOnce     bool             // forget each failure once it happened
	panicSession string           // SaveProgress panics for this session
	batches      int              // SaveProgressBatch calls that wrote
	singles      int              // SaveProgress calls that wrote
	leaseCalls   int              // RenewLease, ExtendLease and GetSession calls
	heldCalls    []playback.Session
	afterRenew   func() // when set, runs once RenewLease has renewed, before it returns
	afterQoERead func() // when set, runs once a session's QoE state was read, before the read returns
}

func (f *flakyStore) countLease() {
	f.mu.Lock()
	f.leaseCalls++
	f.mu.Unlock()
}

func (f *flakyStore) RenewLease(ctx context.Context, id string, ttl, slack time.Duration, now time.Time) (playback.Session, error) {
	f.countLease()
	sess, err := f.Store.RenewLease(ctx, id, ttl, slack, now)
	f.mu.Lock()
	after := f.afterRenew
	f.mu.Unlock()
	if after != nil {
		after()
	}
	return sess, err
}

func (f *flakyStore) RenewHeldLease(ctx context.Context, held playback.Session, ttl, slack time.Duration, now time.Time) (playback.Session, error) {
	f.countLease()
	f.mu.Lock()
	f.heldCalls = append(f.heldCalls, held)
	f.mu.Unlock()
	return f.Store.RenewHeldLease(ctx, held, ttl, slack, now)
}

func (f *flakyStore) ExtendLease(ctx context.Context, id string, expiresAt, now time.Time) (playback.Session, error) {
	f.countLease()
	return f.Store.ExtendLease(ctx, id, expiresAt, now)
}

func (f *flakyStore) GetSession(ctx context.Context, id string) (playback.Session, error) {
	f.countLease()
	return f.Store.GetSession(ctx, id)
}

// leaseReads is how many times the session was read or its lease written.
func (f *flakyStore) leaseReads() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.leaseCalls
}

func (f *flakyStore) failure(which *map[string]error, id string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	err := (*which)[id]
	if f.failOnce {
		delete(*which, id)
	}
	return err
}

func (f *flakyStore) SaveProgress(ctx context.Context, p playback.Progress) (bool, error) {
	f.mu.Lock()
	poison := f.panicSession != "" && f.panicSession == p.SessionID
	f.mu.Unlock()
	if poison {
		panic("store bug on session " + p.SessionID)
	}
	if err := f.failure(&f.failProgress, p.SessionID); err != nil {
		return false, err
	}
	f.mu.Lock()
	f.singles++
	f.mu.Unlock()
	return f.Store.SaveProgress(ctx, p)
}

func (f *flakyStore) SaveSessionQoE(ctx context.Context, q playback.SessionQoE, on time.Time) (playback.SessionQoE, bool, error) {
	if err := f.failure(&f.failQoE, q.SessionID); err != nil {
		return playback.SessionQoE{}, false, err
	}
	return f.Store.SaveSessionQoE(ctx, q, on)
}

func (f *flakyStore) GetSessionQoE(ctx context.Context, id string) (playback.SessionQoE, error) {
	q, err := f.Store.GetSessionQoE(ctx, id)
	f.qoeRead()
	return q, err
}

func (f *flakyStore) qoeRead() {
	f.mu.Lock()
	after := f.afterQoERead
	f.mu.Unlock()
	if after != nil {
		after()
	}
}

func (f *flakyStore) calls() (batches, singles int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.batches, f.singles
}

type flakyBatchStore struct {
	*flakyStore
	batch playback.ProgressBatchStore
}

func (f flakyBatchStore) GetSessionQoEs(ctx context.Context, ids []string) (map[string]playback.SessionQoE, error) {
	qs, err := f.batch.GetSessionQoEs(ctx, ids)
	f.qoeRead()
	return qs, err
}

// SaveProgressBatch fails whole, as a transaction does, when any of its
// sessions is set to fail; the failures stay armed for the session-by-
// session writes that follow.
func (f flakyBatchStore) SaveProgressBatch(ctx context.Context, writes []playback.ProgressWrite) ([]playback.ProgressWriteResult, error) {
	f.mu.Lock()
	for _, w := range writes {
		if err := cmp.Or(f.failProgress[w.Progress.SessionID], f.failQoE[w.Progress.SessionID]); err != nil {
			f.mu.Unlock()
			return nil, fmt.Errorf("batch: %w", err)
		}
	}
	f.batches++
	f.mu.Unlock()
	return f.batch.SaveProgressBatch(ctx, writes)
}

// countingBus counts the publish calls made through it and keeps a copy
// of what they published.
type countingBus struct {
	playback.Publisher
	calls atomic.Int64

	mu        sync.Mutex
	published [][]byte
}

func (c *countingBus) Publish(ctx context.Context, topic string, msgs ...playback.Message) error {
	c.calls.Add(1)
	c.mu.Lock()
	for _, m := range msgs {
		c.published = append(c.published, bytes.Clone(m.Data))
	}
	c.mu.Unlock()
	return c.Publisher.Publish(ctx, topic, msgs...)
}

// lastPublished is the data of the last message published.
func (c *countingBus) lastPublished(t testing.TB) []byte {
	t.Helper()
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.published) == 0 {
		t.Fatal("nothing published")
	}
	return c.published[len(c.published)-1]
}

type harness struct {
	t      testing.TB
	store  *flakyStore
	bolt   *bolt.Store
	bus    *membus.Bus
	pub    *countingBus // the server's bus
	tokens *auth.Keyring
	srv    *heartbeat.Server
	h      http.Handler

	mu  sync.Mutex
	now time.Time
}

func defaultConfig() heartbeat.Config {
	return heartbeat.Config{LeaseTTL: 2 * time.Minute, LeaseRenewSlack: 20 * time.Second, Interval: 30 * time.Second,
		MaxBody: 4096, MaxClockSkew: 2 * time.Minute, MaxAge: 24 * time.Hour, EdgeQoEWindow: time.Hour, ConsumerParallelism: 4}
}

type harnessOptions struct {
	cfg       heartbeat.Config
	busCfg    membus.Config
	boltOpts  []bolt.Option
	noConsume bool // leave messages on the bus, to call the handler by hand
	unbatched bool // the store writes one session at a time
	qoeViews  bool // the consumer reports views to the store (Deps.QoE)
	stream    playback.StreamSink
}

// writePaths are the consumer's two ways of writing: a transaction per batch
// (bolt) and one session at a time (DynamoDB, Firestore).
var writePaths = []struct {
	name      string
	unbatched bool
}{{"batched", false}, {"per-session", true}}

func newHarness(t testing.TB, opts harnessOptions) *harness {
	t.Helper()
	if opts.cfg.LeaseTTL == 0 {
		opts.cfg = defaultConfig()
	}
	store, err := bolt.Open(filepath.Join(t.TempDir(), "db"), opts.boltOpts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	if opts.busCfg.RetryDelay == 0 {
		opts.busCfg.RetryDelay = 5 * time.Millisecond
	}
	bus := membus.New(opts.busCfg)
	t.Cleanup(func() { bus.Close() })
	verifier, err := auth.NewVerifier(auth.VerifierConfig{Issuer: issuer, Audience: audience,
		HS256Keys: kid + ":" + base64.StdEncoding.EncodeToString(jwtKey), Leeway: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	h := &harness{t: t, store: &flakyStore{Store: store}, bolt: store, bus: bus, pub: &countingBus{Publisher: bus},
		tokens: auth.NewDevKeyring(), now: time.Now().UTC().Truncate(time.Millisecond)}
	var batch playback.ProgressBatchStore = flakyBatchStore{flakyStore: h.store, batch: store}
	if opts.unbatched {
		batch = nil
	}
	var views playback.QoEStore
	if opts.qoeViews {
		views = store
	}
	h.srv, err = heartbeat.New(opts.cfg, heartbeat.Deps{Store: h.store, Batch: batch, Bus: h.pub, Tokens: h.tokens, Identity: verifier,
		QoE: views, Stream: opts.stream, Log: slog.New(slog.DiscardHandler), Now: h.clock})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	h.srv.Register(mux)
	h.h = httpx.Middleware(slog.New(slog.DiscardHandler), mux)
	if !opts.noConsume {
		ctx, cancel := context.WithCancel(context.Background())
		t.Cleanup(cancel)
		if err := bus.Subscribe(ctx, events.TopicHeartbeats, h.srv.Consumers()[events.TopicHeartbeats]); err != nil {
			t.Fatal(err)
		}
	}
	return h
}

func (h *harness) clock() time.Time {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.now
}

func (h *harness) advance(d time.Duration) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.now = h.now.Add(d)
}

// play admits a session of account on title the way authorize play does and
// returns its id and playback token.
func (h *harness) play(account, title string, limit int) (string, string) {
	h.t.Helper()
	now := h.clock()
	id := playback.NewID("ses")
	_, err := h.bolt.AcquireLease(context.Background(), playback.LeaseRequest{SessionID: id, AccountID: account,
		DeviceID: "dev_" + account, TitleID: title, Limit: limit, TTL: 2 * time.Minute, Now: now})
	if err != nil {
		h.t.Fatal(err)
	}
	return id, h.playbackToken(id, account, title)
}

func (h *harness) playbackToken(session, account, title string) string {
	h.t.Helper()
	now := h.clock()
	tok, err := h.tokens.Issue(auth.PlaybackClaims{SessionID: session, AccountID: account, TitleID: title,
		DeviceID: "dev_" + account, IssuedAt: now, ExpiresAt: now.Add(4 * time.Hour)})
	if err != nil {
		h.t.Fatal(err)
	}
	return tok
}

func (h *harness) callerToken(account string) string {
	h.t.Helper()
	tok, err := auth.MintHS256(kid, jwtKey, issuer, audience, account, time.Hour, time.Now())
	if err != nil {
		h.t.Fatal(err)
	}
	return tok
}

func (h *harness) do(method, path, token, body string) *httptest.ResponseRecorder {
	h.t.Helper()
	req := httptest.NewRequest(method, path, strings.NewReader(body))
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	rec := httptest.NewRecorder()
	h.h.ServeHTTP(rec, req)
	return rec
}

func (h *harness) beat(session, token, body string) *httptest.ResponseRecorder {
	h.t.Helper()
	return h.do(http.MethodPost, "/v1/playback/"+session+"/heartbeat", token, body)
}

// body is a heartbeat body at device time h.now+offset.
func (h *harness) body(event string, position int64, offset time.Duration, qoe string) string {
	if qoe == "" {
		qoe = "{}"
	}
	return fmt.Sprintf(`{"event":%q,"position_ms":%d,"duration_ms":5400000,"device_time":%q,"qoe":%s}`,
		event, position, h.clock().Add(offset).Format(time.RFC3339Nano), qoe)
}

func (h *harness) idle() {
	h.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := h.bus.Idle(ctx); err != nil {
		h.t.Fatal(err)
	}
}

func (h *harness) session(id string) playback.Session {
	h.t.Helper()
	s, err := h.bolt.GetSession(context.Background(), id)
	if err != nil {
		h.t.Fatal(err)
	}
	return s
}

func decode[T any](t testing.TB, rec *httptest.ResponseRecorder) T {
	t.Helper()
	var v T
	if err := json.Unmarshal(rec.Body.Bytes(), &v); err != nil {
		t.Fatalf("decoding %q: %v", rec.Body.String(), err)
	}
	return v
}

func wantError(t testing.TB, rec *httptest.ResponseRecorder, status int, code playback.Code, reason string) {
	t.Helper()
	e := decode[httpx.ErrorBody](t, rec)
	if rec.Code != status || e.Error.Code != code || (reason != "" && e.Error.Reason != reason) {
		t.Fatalf("got %d %s/%s (%s), want %d %s/%s", rec.Code, e.Error.Code, e.Error.Reason, e.Error.Message, status, code, reason)
	}
}

// TestStallTimeWithoutAStallIsRefused: a heartbeat that tells stall time
// (rebuffer_ms) in no stall (rebuffer_count 0) contradicts itself, as a
// negative figure does: refused whole, naming the member as the request
// spelt it (the deprecated rd is still read), so that it reaches no
// aggregate; with a stall it is taken.
func TestStallTimeWithoutAStallIsRefused(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOptions{})
	id, tok := h.play("acct_a", "title_1", 2)
	h.advance(30 * time.Second)
	for _, tc := range []struct{ name, qoe, pointer string }{
		{"current name", `{"played_ms":29000,"rebuffer_ms":400}`, "/qoe/rebuffer_ms"},
		{"deprecated name", `{"pd":29000,"rd":400}`, "/qoe/rd"},
	} {
		rec := h.beat(id, tok, h.body(events.HeartbeatProgress, 30_000, 0, tc.qoe))
		wantError(t, rec, 400, playback.CodeInvalid, "qoe_invalid")
		e := decode[httpx.ErrorBody](t, rec)
		if d, _ := e.Error.Details.(map[string]any); d["pointer"] != tc.pointer || !strings.Contains(e.Error.Message, "qoe."+tc.pointer[len("/qoe/"):]+" ") {
			t.Errorf("%s: %q, details %v; want it named, and the pointer %s", tc.name, e.Error.Message, e.Error.Details, tc.pointer)
		}
	}
	if rec := h.beat(id, tok, h.body(events.HeartbeatProgress, 30_000, 0, `{"played_ms":29000,"rebuffer_count":1,"rebuffer_ms":400}`)); rec.Code != http.StatusOK {
		t.Fatalf("with its stall: %d %s", rec.Code, rec.Body)
	}
}

// TestQoERefusalsPointAtTheMember: a QoE figure or id refused is named
// with its pointer in details, under the name the request gave it (a
// deprecated one too), so that a player's developer finds which of a dozen
// members the collector would not take, as the stall-time refusal does.
func TestQoERefusalsPointAtTheMember(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOptions{})
	id, tok := h.play("acct_a", "title_1", 2)
	h.advance(30 * time.Second)
	for _, tc := range []struct{ name, qoe, pointer string }{
		{"negative played time", `{"played_ms":-1}`, "/qoe/played_ms"},
		{"negative played time, deprecated name", `{"pd":-1}`, "/qoe/pd"},
		{"negative dropped frames after good figures", `{"br":3000,"played_ms":100,"df":-2}`, "/qoe/df"},
		{"negative bitrate", `{"br":-3000}`, "/qoe/br"},
		{"cdn not an id", `{"cdn":"a b"}`, "/qoe/cdn"},
		{"edge not an id", `{"cdn":"cf","edge":"../x"}`, "/qoe/edge"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := h.beat(id, tok, h.body(events.HeartbeatProgress, 30_000, 0, tc.qoe))
			wantError(t, rec, 400, playback.CodeInvalid, "qoe_invalid")
			e := decode[httpx.ErrorBody](t, rec)
			if d, _ := e.Error.Details.(map[string]any); d["pointer"] != tc.pointer || !strings.Contains(e.Error.Message, "qoe."+tc.pointer[len("/qoe/"):]+" ") {
				t.Errorf("%s: %q, details %v; want it named, and the pointer %s", tc.qoe, e.Error.Message, e.Error.Details, tc.pointer)
			}
		})
	}
}

// TestContinuedPlayTellsNoStartup: a session that says it continues a
// play another session started (qoe.continued) cannot also tell that
// play's startup: its view would count the first frame a second time in
// the startup figures. Refused as the route refuses other contradictory
// QoE, at the flag's pointer, whichever name the startup came under.
func TestContinuedPlayTellsNoStartup(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOptions{})
	id, tok := h.play("acct_a", "title_1", 2)
	for _, qoe := range []string{`{"continued":true,"startup_ms":900}`, `{"continued":true,"su":900}`} {
		rec := h.beat(id, tok, h.body(events.HeartbeatStart, 0, 0, qoe))
		wantError(t, rec, 400, playback.CodeInvalid, "qoe_invalid")
		e := decode[httpx.ErrorBody](t, rec)
		if d, _ := e.Error.Details.(map[string]any); d["pointer"] != "/qoe/continued" {
			t.Errorf("%s: %q, details %v; want the pointer /qoe/continued", qoe, e.Error.Message, e.Error.Details)
		}
	}
	if rec := h.beat(id, tok, h.body(events.HeartbeatStart, 0, 0, `{"continued":true}`)); rec.Code != http.StatusOK {
		t.Fatalf("continued alone: %d %s", rec.Code, rec.Body)
	}
}

// TestPlayNamedIsAnID: qoe.view names the session a play began in (a
// re-authorization's session goes on with it), and is held to the id
// rule, refused at its pointer, as other ids of the QoE are.
func TestPlayNamedIsAnID(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOptions{})
	id, tok := h.play("acct_a", "title_1", 2)
	for _, qoe := range []string{`{"continued":true,"view":"../ses_1"}`, `{"view":"ses 1"}`} {
		rec := h.beat(id, tok, h.body(events.HeartbeatStart, 0, 0, qoe))
		wantError(t, rec, 400, playback.CodeInvalid, "qoe_invalid")
		e := decode[httpx.ErrorBody](t, rec)
		if d, _ := e.Error.Details.(map[string]any); d["pointer"] != "/qoe/view" {
			t.Errorf("%s: %q, details %v; want the pointer /qoe/view", qoe, e.Error.Message, e.Error.Details)
		}
	}
	if rec := h.beat(id, tok, h.body(events.HeartbeatStart, 0, 0, `{"continued":true,"view":"ses_1"}`)); rec.Code != http.StatusOK {
		t.Fatalf("a continued play named: %d %s", rec.Code, rec.Body)
	}
}

func TestHeartbeatRecordsProgress(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOptions{})
	id, tok := h.play("acct_a", "title_1", 2)
	// su: a player still on the deprecated name (read for one version).
	rec := h.beat(id, tok, h.body(events.HeartbeatStart, 0, 0, `{"su":900,"edge":"fra-1","cdn":"local"}`))
	if rec.Code != http.StatusOK {
		t.Fatalf("start: %d %s", rec.Code, rec.Body)
	}
	resp := decode[heartbeat.HeartbeatResponse](t, rec)
	if resp.SessionID != id || resp.Ended || resp.NextHeartbeatMS != 30_000 || resp.LeaseExpiresAt.IsZero() {
		t.Fatalf("response %+v", resp)
	}
	h.advance(30 * time.Second)
	if rec := h.beat(id, tok, h.body(events.HeartbeatProgress, 30_000, 0, `{"br":3000,"mtp":20000,"played_ms":29000,"rebuffer_count":1,"rebuffer_ms":400}`)); rec.Code != http.StatusOK {
		t.Fatalf("progress: %d %s", rec.Code, rec.Body)
	}
	h.idle()

	rec = h.do(http.MethodGet, "/v1/progress?title_id=title_1", h.callerToken("acct_a"), "")
	if rec.Code != http.StatusOK {
		t.Fatalf("progress: %d %s", rec.Code, rec.Body)
	}
	p := decode[heartbeat.ProgressResponse](t, rec)
	if p.PositionMS != 30_000 || p.DurationMS != 5_400_000 || p.Completed || p.DeviceID != "dev_acct_a" || !p.DeviceTime.Equal(h.clock()) {
		t.Fatalf("progress %+v", p)
	}
	q, err := h.bolt.GetSessionQoE(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	want := playback.QoE{BitrateKbps: 3000, ThroughputKbps: 20000, StartupMS: 900, RebufferCount: 1, RebufferMS: 400,
		PlayedMS: 29000, CDN: "local", EdgeID: "fra-1"}
	if q.Heartbeats != 2 || q.QoE != want || q.EdgeID != "fra-1" || q.AccountID != "acct_a" {
		t.Fatalf("session QoE %+v", q)
	}
	if st := h.srv.Stats(); st.Accepted != 2 || st.Consumed != 2 || st.Applied != 2 || st.Retried != 0 {
		t.Fatalf("stats %+v", st)
	}
}

// TestBadHeartbeatsWriteNothing checks each refusal's status and reason, and
// that the refused heartbeat neither touched the lease nor reached the bus.
func TestBadHeartbeatsWriteNothing(t *testing.T) {
	t.Parallel()
	cfg := defaultConfig()
	cfg.LeaseRenewSlack = 0 // every accepted heartbeat would write the lease
	h := newHarness(t, harnessOptions{cfg: cfg})
	id, tok := h.play("acct_b", "title_1", 5)
	_, otherTok := h.play("acct_b", "title_2", 5)
	ended, endedTok := h.play("acct_b", "title_3", 5)
	if _, err := h.bolt.EndSession(context.Background(), ended, playback.EndByUser, h.clock()); err != nil {
		t.Fatal(err)
	}
	ghost := playback.NewID("ses")
	ghostTok := h.playbackToken(ghost, "acct_b", "title_1")
	h.advance(10 * time.Second)
	good := h.body(events.HeartbeatProgress, 1000, 0, "")
	forged := tok[:len(tok)-1] + "A"
	if forged == tok {
		forged = tok[:len(tok)-1] + "B"
	}

	for _, tc := range []struct {
		name    string
		session string
		token   string
		body    string
		ctype   string
		chunked bool
		status  int
		code    playback.Code
		reason  string
	}{
		{"no token", id, "", good, "", false, 401, playback.CodeUnauthenticated, auth.ReasonTokenMissing},
		{"forged token", id, forged, good, "", false, 401, playback.CodeUnauthenticated, ""},
		{"caller JWT instead of playback token", id, h.callerToken("acct_b"), good, "", false, 401, playback.CodeUnauthenticated, ""},
		{"token of another session", id, otherTok, good, "", false, 403, playback.CodeForbidden, "session_mismatch"},
		{"unknown session", ghost, ghostTok, good, "", false, 410, playback.CodeGone, "session_not_found"},
		{"ended session", ended, endedTok, good, "", false, 410, playback.CodeGone, "session_ended"},
		{"position beyond duration", id, tok, `{"event":"progress","position_ms":5400001,"duration_ms":5400000,"device_time":"` +
			h.clock().Format(time.RFC3339) + `"}`, "", false, 400, playback.CodeInvalid, "position_beyond_duration"},
		{"negative position", id, tok, h.body(events.HeartbeatProgress, -1, 0, ""), "", false, 400, playback.CodeInvalid, "position_invalid"},
		{"zero duration", id, tok, `{"event":"progress","position_ms":0,"duration_ms":0,"device_time":"` +
			h.clock().Format(time.RFC3339) + `"}`, "", false, 400, playback.CodeInvalid, "duration_invalid"},
		{"pause without a duration", id, tok, `{"event":"pause","device_time":"` +
			h.clock().Format(time.RFC3339) + `"}`, "", false, 400, playback.CodeInvalid, "duration_invalid"},
		{"stop with a position but no duration", id, tok, `{"event":"stop","position_ms":5,"device_time":"` +
			h.clock().Format(time.RFC3339) + `"}`, "", false, 400, playback.CodeInvalid, "position_without_duration"},
		{"device time far in the future", id, tok, h.body(events.HeartbeatProgress, 1000, 3*time.Minute, ""), "", false, 400, playback.CodeInvalid, "device_time_in_future"},
		{"device time far in the past", id, tok, h.body(events.HeartbeatProgress, 1000, -25*time.Hour, ""), "", false, 400, playback.CodeInvalid, "device_time_too_old"},
		{"device time missing", id, tok, `{"event":"progress","position_ms":1,"duration_ms":2}`, "", false, 400, playback.CodeInvalid, "device_time_missing"},
		{"unknown event", id, tok, h.body("seek", 1000, 0, ""), "", false, 400, playback.CodeInvalid, "event_invalid"},
		{"missing event", id, tok, h.body("", 1000, 0, ""), "", false, 400, playback.CodeInvalid, "event_missing"},
		{"negative qoe", id, tok, h.body(events.HeartbeatProgress, 1000, 0, `{"rebuffer_ms":-5}`), "", false, 400, playback.CodeInvalid, "qoe_invalid"},
		{"stall time without a stall", id, tok, h.body(events.HeartbeatProgress, 1000, 0, `{"played_ms":9000,"rebuffer_ms":1500}`), "", false, 400, playback.CodeInvalid, "qoe_invalid"},
		{"edge id with a slash", id, tok, h.body(events.HeartbeatProgress, 1000, 0, `{"edge":"../x"}`), "", false, 400, playback.CodeInvalid, "qoe_invalid"},
		{"unknown field", id, tok, `{"event":"progress","position":1}`, "", false, 400, playback.CodeInvalid, playback.ReasonUnknownField},
		{"unknown qoe field", id, tok, h.body(events.HeartbeatProgress, 1000, 0, `{"bitrate":1}`), "", false, 400, playback.CodeInvalid, playback.ReasonUnknownField},
		{"string position", id, tok, `{"event":"progress","position_ms":"1"}`, "", false, 400, playback.CodeInvalid, playback.ReasonWrongType},
		{"malformed", id, tok, `{"event":`, "", false, 400, playback.CodeInvalid, playback.ReasonMalformedJSON},
		{"empty body", id, tok, "", "", false, 400, playback.CodeInvalid, playback.ReasonBodyEmpty},
		{"oversized body", id, tok, `{"event":"progress","qoe":{"cdn":"` + strings.Repeat("x", 5000) + `"}}`, "", false, 413, playback.CodeTooLarge, "body_too_large"},
		{"oversized body of unknown length", id, tok, `{"event":"progress","qoe":{"cdn":"` + strings.Repeat("x", 5000) + `"}}`, "", true, 413, playback.CodeTooLarge, "body_too_large"},
		{"form body", id, tok, good, "application/x-www-form-urlencoded", false, 415, playback.CodeUnsupportedMediaType, "content_type"},
		{"no content type", id, tok, good, "none", false, 415, playback.CodeUnsupportedMediaType, "content_type"},
		{"jsonx", id, tok, good, "application/jsonx", false, 415, playback.CodeUnsupportedMediaType, "content_type"},
		{"latin-1 json", id, tok, good, "application/json; charset=iso-8859-1", false, 415, playback.CodeUnsupportedMediaType, "content_type"},
		{"case-folded field", id, tok, strings.Replace(good, `"event"`, `"EVENT"`, 1), "", false, 400, playback.CodeInvalid, playback.ReasonUnknownField},
		{"duplicate field", id, tok, strings.Replace(good, `"event":`, `"event":"pause","event":`, 1), "", false, 400, playback.CodeInvalid, playback.ReasonDuplicateField},
		{"invalid UTF-8", id, tok, "{\"event\":\"progr\xffess\",\"position_ms\":1}", "", false, 400, playback.CodeInvalid, playback.ReasonInvalidUTF8},
		{"lone surrogate in qoe", id, tok, h.body(events.HeartbeatProgress, 1000, 0, `{"cdn":"a\udc00"}`), "", false, 400, playback.CodeInvalid, playback.ReasonInvalidUTF8},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := h.session(id)
			req := httptest.NewRequest(http.MethodPost, "/v1/playback/"+tc.session+"/heartbeat", strings.NewReader(tc.body))
			if tc.token != "" {
				req.Header.Set("Authorization", "Bearer "+tc.token)
			}
			switch tc.ctype {
			case "":
				req.Header.Set("Content-Type", "application/json")
			case "none":
			default:
				req.Header.Set("Content-Type", tc.ctype)
			}
			if tc.chunked {
				req.ContentLength = -1
			}
			rec := httptest.NewRecorder()
			h.h.ServeHTTP(rec, req)
			wantError(t, rec, tc.status, tc.code, tc.reason)
			if after := h.session(id); after != before {
				t.Fatalf("lease written: %+v -> %+v", before, after)
			}
		})
	}
	h.idle()
	if st := h.srv.Stats(); st.Accepted != 0 || st.Consumed != 0 {
		t.Fatalf("refused heartbeats reached the bus: %+v", st)
	}
	for _, title := range []string{"title_1", "title_2", "title_3"} {
		if _, err := h.bolt.GetProgress(context.Background(), "acct_b", title); !playback.IsCode(err, playback.CodeNotFound) {
			t.Fatalf("progress of %s written: %v", title, err)
		}
	}
}

// TestLastSeenFollowsHeartbeats is issue 14's 409 list whose last_seen_at
// stayed at started_at while the device heartbeated: a lease granted longer
// than heartbeats renew it (here 2m by the play call, 1m by heartbeat) was
// never rewritten, so the session was never recorded seen. The listings
// must trail the latest heartbeat by at most the slack.
func TestLastSeenFollowsHeartbeats(t *testing.T) {
	t.Parallel()
	cfg := defaultConfig()
	cfg.LeaseTTL, cfg.LeaseRenewSlack, cfg.Interval = time.Minute, 20*time.Second, 5*time.Second
	h := newHarness(t, harnessOptions{cfg: cfg})
	id, tok := h.play("acct_seen", "title_1", 1)
	started := h.session(id).StartedAt
	for i := 1; i <= 12; i++ {
		h.advance(5 * time.Second)
		if rec := h.beat(id, tok, h.body(events.HeartbeatProgress, int64(i)*5000, 0, "")); rec.Code != http.StatusOK {
			t.Fatalf("heartbeat %d: %d %s", i, rec.Code, rec.Body)
		}
		listed, err := h.bolt.ListActiveSessions(context.Background(), "acct_seen", h.clock())
		if err != nil {
			t.Fatal(err)
		}
		if len(listed) != 1 {
			t.Fatalf("listed %+v, want the one session", listed)
		}
		if lag := h.clock().Sub(listed[0].LastSeenAt); lag > cfg.LeaseRenewSlack {
			t.Fatalf("after heartbeat %d (%s after start) last_seen_at lags %s, more than the slack %s",
				i, h.clock().Sub(started), lag, cfg.LeaseRenewSlack)
		}
	}
}

func TestLeaseExtension(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		slack time.Duration
		// after a heartbeat 5 s and then 40 s after the play call
		wantWriteAt5s bool
	}{
		{"every heartbeat writes without slack", 0, true},
		{"a fresh lease is not rewritten within the slack", 20 * time.Second, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			cfg := defaultConfig()
			cfg.LeaseRenewSlack = tc.slack
			h := newHarness(t, harnessOptions{cfg: cfg})
			id, tok := h.play("acct_c", "title_1", 1)
			acquired := h.session(id)

			h.advance(5 * time.Second)
			rec := h.beat(id, tok, h.body(events.HeartbeatProgress, 5000, 0, ""))
			if rec.Code != http.StatusOK {
				t.Fatalf("%d %s", rec.Code, rec.Body)
			}
			s := h.session(id)
			if wrote := s.LastSeenAt.After(acquired.LastSeenAt); wrote != tc.wantWriteAt5s {
				t.Fatalf("lease written at 5s = %v, want %v", wrote, tc.wantWriteAt5s)
			}
			if got := decode[heartbeat.HeartbeatResponse](t, rec).LeaseExpiresAt; !got.Equal(s.ExpiresAt) {
				t.Fatalf("response says lease until %s, store %s", got, s.ExpiresAt)
			}

			h.advance(35 * time.Second)
			if rec := h.beat(id, tok, h.body(events.HeartbeatProgress, 40_000, 0, "")); rec.Code != http.StatusOK {
				t.Fatalf("%d %s", rec.Code, rec.Body)
			}
			if s := h.session(id); !s.ExpiresAt.Equal(h.clock().Add(2*time.Minute)) || !s.LastSeenAt.Equal(h.clock()) {
				t.Fatalf("lease not renewed at 40s: %+v", s)
			}
			// Without heartbeats the lease lapses by itself: the slot frees up
			// and the player is told to stop.
			h.advance(2*time.Minute + time.Second)
			if _, tok2 := h.play("acct_c", "title_2", 1); tok2 == "" {
				t.Fatal("no token")
			}
			wantError(t, h.beat(id, tok, h.body(events.HeartbeatProgress, 41_000, 0, "")), 410, playback.CodeGone, "lease_expired")
		})
	}
}

func TestStopReleasesLeaseAndKeepsFinalPosition(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOptions{})
	id, tok := h.play("acct_d", "title_1", 1)
	h.advance(10 * time.Second)
	rec := h.beat(id, tok, h.body(events.HeartbeatStop, 9_000, 0, `{"played_ms":9000}`))
	if rec.Code != http.StatusOK || !decode[heartbeat.HeartbeatResponse](t, rec).Ended {
		t.Fatalf("stop: %d %s", rec.Code, rec.Body)
	}
	if s := h.session(id); s.EndedAt.IsZero() || s.EndReason != playback.EndStopped {
		t.Fatalf("session after stop: %+v", s)
	}
	// The plan allows one stream: the slot is free at once.
	h.play("acct_d", "title_2", 1)
	// A late progress heartbeat is told to stop; a repeated stop, being
	// older than the position the first one stored, is refused too.
	wantError(t, h.beat(id, tok, h.body(events.HeartbeatProgress, 10_000, time.Second, "")), 410, playback.CodeGone, "session_ended")
	h.idle()
	wantError(t, h.beat(id, tok, h.body(events.HeartbeatStop, 8_000, -time.Second, "")), 410, playback.CodeGone, "session_ended")
	h.idle()
	p, err := h.bolt.GetProgress(context.Background(), "acct_d", "title_1")
	if err != nil || p.PositionMS != 9_000 || p.SessionID != id {
		t.Fatalf("progress %+v, %v", p, err)
	}
}

// TestStopOnEndedSession: once a session has ended, its token may still
// save where the player got to with one stop, newer than the stored
// position and within StopGrace of the end; anything else is 410 and
// writes nothing (issue #12: DELETE, then a stop an hour later moved the
// resume position from 123000 back to 9000).
func TestStopOnEndedSession(t *testing.T) {
	t.Parallel()
	type beat struct {
		event    string
		position int64
		offset   time.Duration // device time relative to the server clock
	}
	for _, tc := range []struct {
		name      string
		grace     time.Duration
		endReason string        // "" lets the lease lapse instead
		after     time.Duration // from the end to the late heartbeat
		late      beat
		wantCode  int
		wantPos   int64
	}{
		{"stop an hour after DELETE", 30 * time.Second, playback.EndByUser, time.Hour,
			beat{events.HeartbeatStop, 9_000, 0}, 410, 123_000},
		{"newer stop within the grace after DELETE", 30 * time.Second, playback.EndByUser, 10 * time.Second,
			beat{events.HeartbeatStop, 125_000, 0}, 200, 125_000},
		{"stop at the grace's edge", 30 * time.Second, playback.EndByUser, 30 * time.Second,
			beat{events.HeartbeatStop, 125_000, 0}, 200, 125_000},
		{"stop just past the grace", 30 * time.Second, playback.EndByUser, 31 * time.Second,
			beat{events.HeartbeatStop, 125_000, 0}, 410, 123_000},
		{"stop within the grace but older than the stored position", 30 * time.Second, playback.EndByUser, 10 * time.Second,
			beat{events.HeartbeatStop, 9_000, -time.Minute}, 410, 123_000},
		{"stop within the grace at the stored device time", 30 * time.Second, playback.EndByUser, 0,
			beat{events.HeartbeatStop, 9_000, 0}, 410, 123_000},
		{"no grace", 0, playback.EndByUser, time.Second,
			beat{events.HeartbeatStop, 125_000, 0}, 410, 123_000},
		{"progress within the grace", 30 * time.Second, playback.EndByUser, time.Second,
			beat{events.HeartbeatProgress, 125_000, 0}, 410, 123_000},
		{"pause within the grace", 30 * time.Second, playback.EndByUser, time.Second,
			beat{events.HeartbeatPause, 125_000, 0}, 410, 123_000},
		{"stop after entitlement loss", 30 * time.Second, playback.EndEntitlement, 5 * time.Second,
			beat{events.HeartbeatStop, 125_000, 0}, 200, 125_000},
		{"newer stop soon after the lease lapsed", 30 * time.Second, "", 10 * time.Second,
			beat{events.HeartbeatStop, 125_000, 0}, 200, 125_000},
		{"stop long after the lease lapsed", 30 * time.Second, "", time.Hour,
			beat{events.HeartbeatStop, 125_000, 0}, 410, 123_000},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			cfg := defaultConfig()
			cfg.StopGrace = tc.grace
			h := newHarness(t, harnessOptions{cfg: cfg})
			id, tok := h.play("acct_late", "title_1", 1)
			h.advance(time.Second)
			if rec := h.beat(id, tok, h.body(events.HeartbeatProgress, 123_000, 0, "")); rec.Code != http.StatusOK {
				t.Fatalf("progress: %d %s", rec.Code, rec.Body)
			}
			h.idle()
			if tc.endReason != "" {
				if _, err := h.bolt.EndSession(context.Background(), id, tc.endReason, h.clock()); err != nil {
					t.Fatal(err)
				}
			} else {
				h.advance(h.session(id).ExpiresAt.Sub(h.clock()))
			}
			ended := h.session(id)
			h.advance(tc.after)

			rec := h.beat(id, tok, h.body(tc.late.event, tc.late.position, tc.late.offset, ""))
			if tc.wantCode == http.StatusOK {
				if rec.Code != http.StatusOK || !decode[heartbeat.HeartbeatResponse](t, rec).Ended {
					t.Fatalf("late %s: %d %s", tc.late.event, rec.Code, rec.Body)
				}
			} else {
				reason := "session_ended"
				if tc.endReason == "" {
					reason = "lease_expired"
				}
				wantError(t, rec, tc.wantCode, playback.CodeGone, reason)
			}
			h.idle()
			p, err := h.bolt.GetProgress(context.Background(), "acct_late", "title_1")
			if err != nil || p.PositionMS != tc.wantPos {
				t.Fatalf("progress %+v, %v; want position %d", p, err, tc.wantPos)
			}
			if tc.endReason != "" {
				if s := h.session(id); !s.EndedAt.Equal(ended.EndedAt) || s.EndReason != tc.endReason {
					t.Fatalf("the late %s changed the session's end: %+v, was %+v", tc.late.event, s, ended)
				}
			}
			if q, err := h.bolt.GetSessionQoE(context.Background(), id); err != nil || q.Heartbeats != 1+btoi(tc.wantCode == http.StatusOK) {
				t.Fatalf("session QoE %+v, %v", q, err)
			}
		})
	}
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

func TestProgressEndpoint(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOptions{})
	id, tok := h.play("acct_e", "title_1", 2)
	if rec := h.beat(id, tok, h.body(events.HeartbeatProgress, 5_200_000, 0, "")); rec.Code != http.StatusOK {
		t.Fatalf("%d %s", rec.Code, rec.Body)
	}
	h.idle()
	caller := h.callerToken("acct_e")
	for _, tc := range []struct {
		name   string
		path   string
		token  string
		status int
		reason string
	}{
		{"no token", "/v1/progress?title_id=title_1", "", 401, auth.ReasonTokenMissing},
		{"playback token is not a caller token", "/v1/progress?title_id=title_1", tok, 401, ""},
		{"missing title", "/v1/progress", caller, 400, "title_id_invalid"},
		{"bad title", "/v1/progress?title_id=a/b", caller, 400, "title_id_invalid"},
		{"never played", "/v1/progress?title_id=title_9", caller, 404, "progress_not_found"},
		{"another account's title", "/v1/progress?title_id=title_1", h.callerToken("acct_other"), 404, "progress_not_found"},
		// Refused, not ignored: the answer would be title_1's whatever
		// the misspelt parameter meant.
		{"unknown parameter", "/v1/progress?title_id=title_1&device_id=tv", caller, 400, playback.ReasonUnknownParameter},
		{"title misspelt", "/v1/progress?titleid=title_2&title_id=title_1", caller, 400, playback.ReasonUnknownParameter},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := h.do(http.MethodGet, tc.path, tc.token, "")
			if rec.Code != tc.status {
				t.Fatalf("%d %s", rec.Code, rec.Body)
			}
			if e := decode[httpx.ErrorBody](t, rec); tc.reason != "" && e.Error.Reason != tc.reason {
				t.Fatalf("reason %s", e.Error.Reason)
			}
		})
	}
	rec := h.do(http.MethodGet, "/v1/progress?title_id=title_1", caller, "")
	if p := decode[heartbeat.ProgressResponse](t, rec); rec.Code != 200 || p.PositionMS != 5_200_000 || !p.Completed {
		t.Fatalf("%d %+v", rec.Code, p)
	}
	// A heartbeat with a parameter is refused and nothing is enqueued.
	sent := h.pub.calls.Load()
	rec = h.do(http.MethodPost, "/v1/playback/"+id+"/heartbeat?event=stop", tok, h.body(events.HeartbeatProgress, 5_300_000, time.Second, ""))
	if e := decode[httpx.ErrorBody](t, rec); rec.Code != 400 || e.Error.Reason != playback.ReasonUnknownParameter {
		t.Fatalf("heartbeat with a parameter: %d %s, want 400 %s", rec.Code, rec.Body, playback.ReasonUnknownParameter)
	}
	if n := h.pub.calls.Load(); n != sent {
		t.Fatalf("a refused heartbeat published %d times", n-sent)
	}
}

func TestNewValidates(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOptions{noConsume: true})
	deps := heartbeat.Deps{Store: h.store, Bus: h.bus, Tokens: h.tokens, Identity: &auth.Verifier{}}
	for _, tc := range []struct {
		name string
		edit func(*heartbeat.Config, *heartbeat.Deps)
	}{
		{"no store", func(_ *heartbeat.Config, d *heartbeat.Deps) { d.Store = nil }},
		{"no bus", func(_ *heartbeat.Config, d *heartbeat.Deps) { d.Bus = nil }},
		{"no keyring", func(_ *heartbeat.Config, d *heartbeat.Deps) { d.Tokens = nil }},
		{"no identity", func(_ *heartbeat.Config, d *heartbeat.Deps) { d.Identity = nil }},
		// What a wiring getter that failed would hand over: not == nil.
		{"typed nil store", func(_ *heartbeat.Config, d *heartbeat.Deps) { d.Store = (*bolt.Store)(nil) }},
		{"typed nil bus", func(_ *heartbeat.Config, d *heartbeat.Deps) { d.Bus = (*membus.Bus)(nil) }},
		{"typed nil identity", func(_ *heartbeat.Config, d *heartbeat.Deps) { d.Identity = (*auth.Verifier)(nil) }},
		{"zero TTL", func(c *heartbeat.Config, _ *heartbeat.Deps) { c.LeaseTTL = 0 }},
		{"slack beyond TTL", func(c *heartbeat.Config, _ *heartbeat.Deps) { c.LeaseRenewSlack = 3 * time.Minute }},
		{"interval the lease cannot outlive", func(c *heartbeat.Config, _ *heartbeat.Deps) { c.Interval = 100 * time.Second }},
		{"huge body cap", func(c *heartbeat.Config, _ *heartbeat.Deps) { c.MaxBody = 2 << 20 }},
		{"feedback without window", func(c *heartbeat.Config, _ *heartbeat.Deps) { c.EdgeQoEFeedback, c.EdgeQoEWindow = true, 0 }},
		{"negative token stop grace", func(c *heartbeat.Config, _ *heartbeat.Deps) { c.TokenStopGrace = -time.Second }},
		{"token stop grace past its bound", func(c *heartbeat.Config, _ *heartbeat.Deps) {
			c.TokenStopGrace = heartbeat.MaxTokenStopGrace + time.Second
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg, d := defaultConfig(), deps
			tc.edit(&cfg, &d)
			if _, err := heartbeat.New(cfg, d); err == nil {
				t.Fatal("New accepted it")
			}
		})
	}
	if _, err := heartbeat.New(defaultConfig(), deps); err != nil {
		t.Fatal(err)
	}
}

// TestStopNamingAnotherAccountWritesNothing: a playback token we signed
// names its session's account; a stop under one that names another is
// refused 403 before it ends the session, and nothing reaches the bus.
func TestStopNamingAnotherAccountWritesNothing(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOptions{})
	id, _ := h.play("acct_owner", "title_1", 2)
	h.advance(time.Second)
	before := h.session(id)
	rec := h.beat(id, h.playbackToken(id, "acct_other", "title_1"), h.body(events.HeartbeatStop, 1000, 0, ""))
	wantError(t, rec, http.StatusForbidden, playback.CodeForbidden, "session_mismatch")
	if after := h.session(id); after != before {
		t.Fatalf("session written: %+v -> %+v", before, after)
	}
	h.idle()
	if st := h.srv.Stats(); st.Accepted != 0 {
		t.Fatalf("the refused stop reached the bus: %+v", st)
	}
}
