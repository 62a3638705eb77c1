package pickedge_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/maxmind/mmdbwriter/mmdbtype"
	"github.com/sethvargo/go-envconfig"

	"github.com/playplane/playplane/events"
	"github.com/playplane/playplane/functions/pickedge"
	"github.com/playplane/playplane/shared/auth"
	"github.com/playplane/playplane/shared/bolt"
	"github.com/playplane/playplane/shared/demo"
	"github.com/playplane/playplane/shared/httpx"
	"github.com/playplane/playplane/shared/membus"
	"github.com/playplane/playplane/shared/playback"
	"github.com/playplane/playplane/shared/steering/geoiptest"
)

// Client addresses of the fixtures.
const (
	clientFra       = "203.0.113.9"     // coverage zone fra
	clientIad6      = "2001:db8:1ad::7" // coverage zone iad (IPv6)
	clientLondon    = "198.51.100.7"    // GeoIP: London, no ASN
	clientLondonISP = "198.51.100.200"  // GeoIP: London, in AS3320 (fra-isp-1 is embedded there)
	clientUnknown   = "192.0.2.55"      // in no database: the default location (iad)
	proxy           = "10.0.0.7"        // a trusted proxy
)

const coverageZones = `{"revision": "test-1", "coverageZones": {
  "fra": {"network": ["203.0.113.0/24"], "coordinates": {"latitude": 50.1, "longitude": 8.7}},
  "iad": {"network6": ["2001:db8:1ad::/48"], "coordinates": {"latitude": "38.9", "longitude": "-77.4"}}
}}`

// locationFiles writes the coverage zone file and GeoLite2-style City and
// ASN databases, returning the env entries that point at them.
func locationFiles(t testing.TB) map[string]string {
	dir := t.TempDir()
	zones := filepath.Join(dir, "czf.json")
	if err := os.WriteFile(zones, []byte(coverageZones), 0o600); err != nil {
		t.Fatal(err)
	}
	london := mmdbtype.Map{
		"country":  mmdbtype.Map{"iso_code": mmdbtype.String("GB")},
		"location": mmdbtype.Map{"latitude": mmdbtype.Float64(51.51), "longitude": mmdbtype.Float64(-0.13), "accuracy_radius": mmdbtype.Uint16(20)},
	}
	city := geoiptest.Write(t, dir, "GeoLite2-City", map[string]mmdbtype.Map{"198.51.100.0/24": london})
	asn := geoiptest.Write(t, dir, "GeoLite2-ASN", map[string]mmdbtype.Map{
		"198.51.100.128/25": {"autonomous_system_number": mmdbtype.Uint32(3320), "autonomous_system_organization": mmdbtype.String("Example ISP")},
	})
	return map[string]string{"PICKEDGE_COVERAGE_ZONE_FILE": zones, "PICKEDGE_GEOIP_CITY_DB": city, "PICKEDGE_GEOIP_ASN_DB": asn}
}

// countingBus is the in-process bus, counting what was published.
type countingBus struct {
	*membus.Bus
	mu        sync.Mutex
	published map[string]int
	largest   int // the largest message body published
}

func (b *countingBus) Publish(ctx context.Context, topic string, msgs ...playback.Message) error {
	err := b.Bus.Publish(ctx, topic, msgs...)
	if err == nil {
		b.mu.Lock()
		b.published[topic] += len(msgs)
		for _, m := range msgs {
			b.largest = max(b.largest, len(m.Data))
		}
		b.mu.Unlock()
	}
	return err
}

func (b *countingBus) count(topic string) int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.published[topic]
}

type harness struct {
	t      testing.TB
	store  *bolt.Store
	bus    *countingBus
	tokens *auth.Keyring
	keys   pickedge.EdgeKeys
	srv    *pickedge.Server
	h      http.Handler
	env    map[string]string
	t0     time.Time
	now    atomic.Int64
	// zones is Deps.ZoneStore when options.zoneReadFailures is set.
	zones *failingZones
}

type options struct {
	env        map[string]string
	edges      []playback.Edge // beside the demo edges
	noConsumer bool
	boltOpts   []bolt.Option
	// zoneStore serves the store's coverage zone versions (Deps.ZoneStore).
	zoneStore bool
	// zoneReadFailures fails that many first reads of the coverage zones
	// (zoneStore), as a store briefly unreachable at a cold start does.
	zoneReadFailures int32
}

// failingZones is a store whose first reads of the coverage zones fail.
type failingZones struct {
	playback.AdminStore
	failures atomic.Int32 // reads left to fail
	reads    atomic.Int32
}

func (s *failingZones) GetCoverageZones(ctx context.Context, v int64) (playback.CoverageZones, error) {
	s.reads.Add(1)
	if s.failures.Add(-1) >= 0 {
		return playback.CoverageZones{}, playback.Unavailable(errors.New("connection refused"), "store unreachable")
	}
	return s.AdminStore.GetCoverageZones(ctx, v)
}

// newHarness seeds the demo data (local edges in fra, lhr and iad) into a
// fresh bbolt store, and serves pick edge on an in-process bus with its
// consumer subscribed. The default location is Washington, so a client no
// database knows ranks iad first.
// oneCDN puts every demo edge on one CDN: the ranking tests here order
// edges of one CDN (multi-CDN fallback has its own tests).
var oneCDN = map[string]string{"local": "http://edge.test"}

func newHarness(t testing.TB, o options) *harness {
	t.Helper()
	store, err := bolt.Open(filepath.Join(t.TempDir(), "db"), o.boltOpts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	t0 := time.Now().UTC().Truncate(time.Second)
	ctx := context.Background()
	if err := demo.SeedOn(ctx, store, oneCDN, t0); err != nil {
		t.Fatal(err)
	}
	ids := []string{}
	for _, e := range demo.EdgesOn(oneCDN, t0) {
		ids = append(ids, e.ID)
	}
	for _, e := range o.edges {
		if e.ReportedAt.IsZero() {
			e.ReportedAt = t0
		}
		if err := store.PutEdge(ctx, e); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, e.ID)
	}
	env := map[string]string{
		"PICKEDGE_DEFAULT_LAT":     "38.9",
		"PICKEDGE_DEFAULT_LON":     "-77.0",
		"PICKEDGE_TRUSTED_PROXIES": "10.0.0.0/8",
	}
	for k, v := range locationFiles(t) {
		env[k] = v
	}
	keys := pickedge.NewDevEdgeKeys(ids...)
	env["EDGE_HMAC_KEYS"] = keys.Spec()
	for k, v := range o.env {
		env[k] = v
	}
	var cfg pickedge.Config
	if err := envconfig.ProcessWith(ctx, &envconfig.Config{Target: &cfg, Lookuper: envconfig.MapLookuper(env)}); err != nil {
		t.Fatal(err)
	}
	bus := &countingBus{Bus: membus.New(membus.Config{RetryDelay: 10 * time.Millisecond}), published: map[string]int{}}
	t.Cleanup(func() { bus.Close() })
	h := &harness{t: t, store: store, bus: bus, tokens: auth.NewDevKeyring(), keys: keys, env: env, t0: t0}
	h.now.Store(t0.UnixNano())
	deps := pickedge.Deps{Store: store, Bus: bus, Tokens: h.tokens, Log: slog.New(slog.DiscardHandler), Now: h.clock}
	if o.zoneStore {
		deps.ZoneStore = store
		if o.zoneReadFailures > 0 {
			h.zones = &failingZones{AdminStore: store}
			h.zones.failures.Store(o.zoneReadFailures)
			deps.ZoneStore = h.zones
		}
	}
	h.srv, err = pickedge.New(cfg, deps)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.srv.Close() })
	if !o.noConsumer {
		subCtx, cancel := context.WithCancel(ctx)
		t.Cleanup(cancel)
		for topic, handler := range h.srv.Consumers() {
			if err := bus.Subscribe(subCtx, topic, handler); err != nil {
				t.Fatal(err)
			}
		}
	}
	mux := http.NewServeMux()
	h.srv.Register(mux)
	h.h = httpx.Middleware(slog.New(slog.DiscardHandler), mux)
	return h
}

func (h *harness) clock() time.Time { return time.Unix(0, h.now.Load()).UTC() }

// advance moves the clock to t0+d.
func (h *harness) at(d time.Duration) { h.now.Store(h.t0.Add(d).UnixNano()) }

// session admits a session of the family account for title and returns
// its id and playback token.
func (h *harness) session(title string) (string, string) {
	h.t.Helper()
	now := h.clock()
	sess, err := h.store.AcquireLease(context.Background(), playback.LeaseRequest{
		SessionID: playback.NewID("ses"), AccountID: demo.AccountFamily, DeviceID: "dev-" + title, TitleID: title,
		Limit: 1000, TTL: time.Hour, Now: now,
	})
	if err != nil {
		h.t.Fatal(err)
	}
	return sess.ID, h.token(sess.ID, title)
}

func (h *harness) token(sessionID, title string) string {
	h.t.Helper()
	tok, err := h.tokens.Issue(auth.PlaybackClaims{SessionID: sessionID, AccountID: demo.AccountFamily, TitleID: title,
		IssuedAt: h.t0, ExpiresAt: h.t0.Add(4 * time.Hour)})
	if err != nil {
		h.t.Fatal(err)
	}
	return tok
}

// request sends a request as if from client (through the trusted proxy
// when viaProxy).
func (h *harness) request(req *http.Request, client string, viaProxy bool) *httptest.ResponseRecorder {
	if viaProxy {
		req.RemoteAddr = net.JoinHostPort(proxy, "40000")
		req.Header.Add("X-Forwarded-For", client)
	} else {
		req.RemoteAddr = net.JoinHostPort(client, "40000")
	}
	rec := httptest.NewRecorder()
	h.h.ServeHTTP(rec, req)
	return rec
}

func (h *harness) pick(sessionID, token, client string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(http.MethodPost, "/v1/playback/"+sessionID+"/edges", nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	return h.request(req, client, false)
}

func (h *harness) mustPick(sessionID, token, client string) pickedge.EdgesResponse {
	h.t.Helper()
	rec := h.pick(sessionID, token, client)
	if rec.Code != http.StatusOK {
		h.t.Fatalf("pick: %d %s", rec.Code, rec.Body)
	}
	var resp pickedge.EdgesResponse
	decodeStrict(h.t, rec.Body.Bytes(), &resp)
	return resp
}

// report sends a health report signed with the edge's key at the current
// clock, as edgeID.
func (h *harness) report(edgeID string, r playback.EdgeReport) *httptest.ResponseRecorder {
	h.t.Helper()
	req, err := pickedge.NewReportRequest(context.Background(), "http://api.test/v1/edges/health", h.keys[edgeID][0], r, h.clock())
	if err != nil {
		h.t.Fatal(err)
	}
	req.Header.Set(pickedge.HeaderEdgeID, edgeID)
	rec := httptest.NewRecorder()
	h.h.ServeHTTP(rec, req)
	return rec
}

// setHealth reports each edge's health now and waits until the consumer
// has applied the reports.
func (h *harness) setHealth(healthy bool, edgeIDs ...string) {
	h.t.Helper()
	for _, id := range edgeIDs {
		rec := h.report(id, playback.EdgeReport{EdgeID: id, Load: 10, Capacity: 100, Healthy: healthy, ReportedAt: h.clock()})
		if rec.Code != http.StatusAccepted {
			h.t.Fatalf("report %s: %d %s", id, rec.Code, rec.Body)
		}
	}
	h.idle()
}

func (h *harness) idle() {
	h.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := h.bus.Idle(ctx); err != nil {
		h.t.Fatal(err)
	}
	if dead := h.bus.DeadLetters(events.TopicEdgeHealth); len(dead) > 0 {
		h.t.Fatalf("%d dead-lettered edge health messages", len(dead))
	}
}

func decodeStrict(t testing.TB, data []byte, v any) {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		t.Fatalf("decoding %s: %v", data, err)
	}
}

func errorOf(t testing.TB, rec *httptest.ResponseRecorder) httpx.ErrorDetail {
	t.Helper()
	var body httpx.ErrorBody
	if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
		t.Fatalf("status %d, body %q: %v", rec.Code, rec.Body.String(), err)
	}
	return body.Error
}

func edgeIDs(r pickedge.EdgesResponse) []string {
	out := make([]string, len(r.Edges))
	for i, e := range r.Edges {
		out[i] = e.ID
	}
	return out
}

func edgeSummary(r pickedge.EdgesResponse) string {
	var b strings.Builder
	for _, e := range r.Edges {
		fmt.Fprintf(&b, "%s/%s/%s ", e.CDN, e.PoP, e.ID)
	}
	return b.String()
}
