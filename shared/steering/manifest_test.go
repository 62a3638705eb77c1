package steering

import (
	"encoding/json"
	"errors"
	"net/url"
	"slices"
	"testing"
	"time"

	"github.com/playplane/playplane/shared/playback"
)

func TestSteeringManifests(t *testing.T) {
	t.Parallel()
	ix := mustIndex(t, Config{CDNWeights: map[string]float64{"cloudfront": 3, "fastly": 2, "cloudcdn": 1}}, []playback.Edge{
		edge("cf-fra", "cloudfront", "fra", fra), edge("gc-par", "cloudcdn", "par", par), edge("fa-nyc", "fastly", "nyc", nyc),
	})
	r, err := ix.Pick(Query{Location: frankfurt, Title: "t", Now: t0}, nil)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		build func(*Ranking, string) (SteeringManifest, error)
		want  string
	}{
		{name: "hls", build: HLSManifest,
			want: `{"VERSION":1,"TTL":300,"RELOAD-URI":"/steer?session=s1","PATHWAY-PRIORITY":["cloudfront","fastly","cloudcdn"]}`},
		{name: "dash", build: DASHManifest,
			want: `{"VERSION":1,"TTL":300,"RELOAD-URI":"/steer?session=s1","PATHWAY-PRIORITY":["cloudfront","fastly","cloudcdn"],"SERVICE-LOCATION-PRIORITY":["cloudfront","fastly","cloudcdn"]}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			m, err := tt.build(&r, "/steer?session=s1")
			if err != nil {
				t.Fatal(err)
			}
			b, err := json.Marshal(m)
			if err != nil {
				t.Fatal(err)
			}
			if string(b) != tt.want {
				t.Fatalf("manifest\n got %s\nwant %s", b, tt.want)
			}
		})
	}
}

func TestSteeringManifestTTL(t *testing.T) {
	t.Parallel()
	ix := mustIndex(t, Config{DegradedTTL: 1500 * time.Millisecond}, []playback.Edge{
		edge("fra-a", "cloudfront", "fra", fra, unhealthy), edge("par-a", "cloudfront", "par", par),
	})
	r, err := ix.Pick(Query{Location: frankfurt, Title: "t", Now: t0}, nil)
	if err != nil {
		t.Fatal(err)
	}
	m, err := HLSManifest(&r, "")
	if err != nil {
		t.Fatal(err)
	}
	if m.TTL != 2 || m.ReloadURI != "" {
		t.Fatalf("degraded manifest = %+v, want TTL 2 (rounded up) and no RELOAD-URI", m)
	}
	b, _ := json.Marshal(m)
	if string(b) != `{"VERSION":1,"TTL":2,"PATHWAY-PRIORITY":["cloudfront"]}` {
		t.Fatalf("json = %s", b)
	}
	if _, err := DASHManifest(&Ranking{}, ""); !errors.Is(err, ErrNoPathway) {
		t.Fatalf("empty ranking: err = %v", err)
	}
}

func TestParseSteeringQuery(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		query string
		want  SteeringRequest
	}{
		{name: "hls", query: "session=s1&_HLS_pathway=cloudfront&_HLS_throughput=5400000",
			want: SteeringRequest{Pathways: []string{"cloudfront"}, ThroughputBps: []int64{5400000}}},
		{name: "dash quoted list", query: `_DASH_pathway=%22cloudcdn,cloudfront%22&_DASH_throughput=9000000,1200000`,
			want: SteeringRequest{Pathways: []string{"cloudcdn", "cloudfront"}, ThroughputBps: []int64{9000000, 1200000}}},
		{name: "first request carries nothing", query: "session=s1", want: SteeringRequest{}},
		{name: "malformed values dropped", query: "_HLS_pathway=cloud%20front&_HLS_throughput=-5",
			want: SteeringRequest{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			q, err := url.ParseQuery(tt.query)
			if err != nil {
				t.Fatal(err)
			}
			got := ParseSteeringQuery(q)
			if !slices.Equal(got.Pathways, tt.want.Pathways) || !slices.Equal(got.ThroughputBps, tt.want.ThroughputBps) {
				t.Fatalf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestStartOn(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name     string
		priority []string
		dash     bool
		start    string
		want     []string
		ok       bool
	}{
		{name: "moved first, the rest in order", priority: []string{"a", "b", "c", "d"}, start: "c", want: []string{"c", "a", "b", "d"}, ok: true},
		{name: "already first", priority: []string{"a", "b"}, start: "a", want: []string{"a", "b"}, ok: true},
		{name: "last", priority: []string{"a", "b", "c"}, start: "c", want: []string{"c", "a", "b"}, ok: true},
		{name: "absent", priority: []string{"a", "b"}, start: "z", want: []string{"a", "b"}},
		{name: "dash keys both", priority: []string{"a", "b"}, dash: true, start: "b", want: []string{"b", "a"}, ok: true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			m := SteeringManifest{Version: 1, PathwayPriority: slices.Clone(tt.priority)}
			if tt.dash {
				m.ServiceLocationPriority = m.PathwayPriority
			}
			if ok := m.StartOn(tt.start); ok != tt.ok {
				t.Errorf("StartOn(%q) = %v, want %v", tt.start, ok, tt.ok)
			}
			if !slices.Equal(m.PathwayPriority, tt.want) {
				t.Errorf("PATHWAY-PRIORITY %v, want %v", m.PathwayPriority, tt.want)
			}
			if tt.dash != (m.ServiceLocationPriority != nil) || tt.dash && !slices.Equal(m.ServiceLocationPriority, tt.want) {
				t.Errorf("SERVICE-LOCATION-PRIORITY %v (dash %v), want %v", m.ServiceLocationPriority, tt.dash, tt.want)
			}
		})
	}
}
