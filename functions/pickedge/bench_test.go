package pickedge_test

import (
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"slices"
	"testing"
	"time"

	"github.com/playplane/playplane/shared/demo"
	"github.com/playplane/playplane/shared/httpx"
	"github.com/playplane/playplane/shared/playback"
	"github.com/playplane/playplane/shared/steering"
)

// randomEdges spreads pops×perPoP edges of three CDNs over the globe.
func randomEdges(pops, perPoP int) []playback.Edge {
	rng := rand.New(rand.NewPCG(7, 8))
	cdns := []string{"cloudfront", "cloudcdn", "local"}
	var out []playback.Edge
	for p := range pops {
		lat, lon := rng.Float64()*140-70, rng.Float64()*360-180
		cdn := cdns[p%len(cdns)]
		for e := range perPoP {
			out = append(out, playback.Edge{ID: fmt.Sprintf("%s-p%d-e%d", cdn, p, e), CDN: cdn, PoP: fmt.Sprint("pop", p),
				BaseURL: "https://e.example", Lat: lat, Lon: lon, Capacity: 100, Load: rng.Float64() * 90, Healthy: true})
		}
	}
	return out
}

// BenchmarkPickEdges measures POST /v1/playback/{id}/edges end to end
// (middleware, token, bbolt session read, client IP, coverage zone and
// GeoIP lookups, Pick, JSON) beside two floors: the same route shape
// without ranking (token, session read, a small JSON answer), and ranking
// alone (Locate and Pick). p50/p99 are reported beside ns/op.
func BenchmarkPickEdges(b *testing.B) {
	for _, size := range []struct {
		name  string
		edges []playback.Edge
	}{
		{"edges=6", nil},
		{"edges=1006", randomEdges(100, 10)},
	} {
		h := newHarness(b, options{edges: size.edges, noConsumer: true})
		id, token := h.session("sintel")
		b.Run(size.name+"/handler", func(b *testing.B) {
			benchRequests(b, h.h, http.MethodPost, "/v1/playback/"+id+"/edges", token)
		})
		b.Run(size.name+"/handler-parallel", func(b *testing.B) {
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					req := httptest.NewRequest(http.MethodPost, "/v1/playback/"+id+"/edges", nil)
					req.Header.Set("Authorization", "Bearer "+token)
					req.RemoteAddr = clientFra + ":40000"
					rec := httptest.NewRecorder()
					h.h.ServeHTTP(rec, req)
					if rec.Code != http.StatusOK {
						b.Fatalf("%d %s", rec.Code, rec.Body)
					}
				}
			})
		})
	}

	// Floor 1: an authenticated route that checks the lease and answers a
	// small JSON, through the same middleware and store.
	h := newHarness(b, options{noConsumer: true})
	id, token := h.session("sintel")
	mux := http.NewServeMux()
	mux.Handle("POST /v1/playback/{session_id}/edges", httpx.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
		claims, err := h.tokens.Authenticate(r, h.clock())
		if err != nil {
			return err
		}
		sess, err := h.store.GetSession(r.Context(), claims.SessionID)
		if err != nil {
			return err
		}
		httpx.WriteJSON(w, http.StatusOK, map[string]any{"session_id": sess.ID, "ttl_seconds": 300})
		return nil
	}))
	floor := httpx.Middleware(slog.New(slog.DiscardHandler), mux)
	b.Run("floor=session-read", func(b *testing.B) {
		benchRequests(b, floor, http.MethodPost, "/v1/playback/"+id+"/edges", token)
	})

	// Floor 2: locating and ranking alone, on the 1006-edge table.
	ix, err := steering.NewIndex(steering.Config{}, append(randomEdges(100, 10), demo.EdgesOn(oneCDN, h.t0)...))
	if err != nil {
		b.Fatal(err)
	}
	zones, err := steering.LoadCoverageZones(h.env["PICKEDGE_COVERAGE_ZONE_FILE"])
	if err != nil {
		b.Fatal(err)
	}
	geo, err := steering.OpenGeoIP(h.env["PICKEDGE_GEOIP_CITY_DB"], h.env["PICKEDGE_GEOIP_ASN_DB"])
	if err != nil {
		b.Fatal(err)
	}
	defer geo.Close()
	locator, err := steering.NewLocator(zones, geo, steering.Location{Lat: 38.9, Lon: -77})
	if err != nil {
		b.Fatal(err)
	}
	addr := netip.MustParseAddr(clientFra)
	buf := make([]steering.Choice, 0, steering.MaxResults)
	b.Run("floor=locate-and-pick/edges=1006", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			loc, _ := locator.Locate(addr)
			if _, err := ix.Pick(steering.Query{Location: loc, Title: "sintel", Now: h.clock()}, buf); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func benchRequests(b *testing.B, handler http.Handler, method, path, token string) {
	b.ReportAllocs()
	lat := make([]time.Duration, 0, b.N)
	for b.Loop() {
		start := time.Now()
		req := httptest.NewRequest(method, path, nil)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		req.RemoteAddr = clientFra + ":40000"
		rec := httptest.NewRecorder()
		handler.ServeHTTP(rec, req)
		lat = append(lat, time.Since(start))
		if rec.Code != http.StatusOK {
			b.Fatalf("%d %s", rec.Code, rec.Body)
		}
	}
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Nanoseconds())/1e3, "p50-µs")
	b.ReportMetric(float64(lat[len(lat)*99/100].Nanoseconds())/1e3, "p99-µs")
}

// BenchmarkSteeringStart measures GET /v1/steering/{id} answering a
// session's first request, whose start pathway (the ranking's second) is
// kept first, beside its floor: the same route without start, the
// ranking's answer.
func BenchmarkSteeringStart(b *testing.B) {
	h := newHarness(b, multiCDN("cloudfront:3,cloudcdn:2,local:1"))
	id, token := h.session("sintel")
	for _, bb := range []struct{ name, start string }{{"floor=ranking", ""}, {"start=second", "cloudcdn"}} {
		q := url.Values{"format": {"hls"}, "token": {token}}
		if bb.start != "" {
			q.Set("start", bb.start)
		}
		path := "/v1/steering/" + id + "?" + q.Encode()
		b.Run(bb.name, func(b *testing.B) {
			benchRequests(b, h.h, http.MethodGet, path, "")
		})
	}
}
