package localedge

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"os"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/playplane/playplane/shared/cloudcdn"
	"github.com/playplane/playplane/shared/cloudfront"
	"github.com/playplane/playplane/shared/playback"
)

type edgeFixture struct {
	srv      *httptest.Server
	stream   *Stream
	log      *syncBuffer // the edge's access log, JSON lines
	cf       *cloudfront.Signer
	cdn      *cloudcdn.Signer
	skew     atomic.Int64 // seconds added to the edge's clock
	expires  time.Time
	startsAt time.Time
}

func newEdge(t *testing.T) *edgeFixture {
	t.Helper()
	f := &edgeFixture{startsAt: time.Now()}
	clock := func() time.Time { return time.Now().Add(time.Duration(f.skew.Load()) * time.Second) }

	cfKey, err := cloudfront.GenerateDevKey("KLOCAL1", cloudfront.ECDSAP256)
	if err != nil {
		t.Fatal(err)
	}
	cfKeys, err := cloudfront.NewKeySet("KLOCAL1", cfKey)
	if err != nil {
		t.Fatal(err)
	}
	if f.cf, err = cloudfront.New(cloudfront.Config{}, cfKeys); err != nil {
		t.Fatal(err)
	}
	cfVerifier, err := cloudfront.NewVerifier(cfKeys.PublicKeys(), clock)
	if err != nil {
		t.Fatal(err)
	}
	cdnKeys, err := cloudcdn.NewKeySet("local", cloudcdn.GenerateDevKey("local"))
	if err != nil {
		t.Fatal(err)
	}
	if f.cdn, err = cloudcdn.New(cloudcdn.Config{}, cdnKeys); err != nil {
		t.Fatal(err)
	}
	cdnVerifier, err := cloudcdn.NewVerifier(cdnKeys.Keys(), clock)
	if err != nil {
		t.Fatal(err)
	}
	h, err := New(cfVerifier, cdnVerifier)
	if err != nil {
		t.Fatal(err)
	}
	f.stream = h.Stream()
	f.log = &syncBuffer{}
	f.srv = httptest.NewServer(h.WithAccessLog(slog.New(slog.NewJSONHandler(f.log, nil))))
	t.Cleanup(f.srv.Close)
	f.expires = time.Now().Add(5 * time.Minute)
	return f
}

func (f *edgeFixture) request(title string) playback.SignRequest {
	prefix := "/titles/" + title + "/"
	return playback.SignRequest{BaseURL: f.srv.URL, Prefix: prefix, Manifest: prefix + "master.m3u8", Expires: f.expires}
}

type response struct {
	status int
	body   []byte
	ctype  string
}

func get(t *testing.T, c *http.Client, rawURL string) response {
	t.Helper()
	if c == nil {
		c = http.DefaultClient
	}
	resp, err := c.Get(rawURL)
	if err != nil {
		t.Fatalf("GET %s: %v", rawURL, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return response{status: resp.StatusCode, body: body, ctype: resp.Header.Get("Content-Type")}
}

func jarWith(t *testing.T, base string, cookies []*http.Cookie) *http.Client {
	t.Helper()
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	u, _ := url.Parse(base)
	jar.SetCookies(u, cookies)
	return &http.Client{Jar: jar}
}

// uris returns the URIs of a playlist (URI lines and EXT-X-MAP), resolved
// against its URL, with query appended to each: stored playlists are
// relative and unsigned, so a player without cookies must add the grant.
func uris(t *testing.T, playlistURL string, body []byte, query string) []string {
	t.Helper()
	base, err := url.Parse(playlistURL)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	sc := bufio.NewScanner(strings.NewReader(string(body)))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if m, ok := strings.CutPrefix(line, `#EXT-X-MAP:URI="`); ok {
			line, _, _ = strings.Cut(m, `"`)
		}
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		ref, err := url.Parse(line)
		if err != nil {
			t.Fatalf("playlist line %q: %v", line, err)
		}
		if ref.IsAbs() || strings.HasPrefix(line, "/") || ref.RawQuery != "" {
			t.Errorf("stored playlist URI %q is not a bare relative reference", line)
		}
		u := base.ResolveReference(ref)
		u.RawQuery = query
		out = append(out, u.String())
	}
	return out
}

// play fetches the multivariant playlist, every media playlist, init
// segment and media segment as a player does, adding query to every URI
// the playlists name, and returns the media URLs it fetched.
func play(t *testing.T, c *http.Client, manifestURL, query string) []string {
	t.Helper()
	master := get(t, c, manifestURL)
	if master.status != http.StatusOK || master.ctype != typeHLS || !strings.HasPrefix(string(master.body), "#EXTM3U") {
		t.Fatalf("master playlist: %d %s %s", master.status, master.ctype, master.body)
	}
	variants := uris(t, manifestURL, master.body, query)
	if len(variants) != len(ladder) {
		t.Fatalf("variants = %v", variants)
	}
	var media []string
	for _, v := range variants {
		pl := get(t, c, v)
		if pl.status != http.StatusOK || !strings.Contains(string(pl.body), "#EXT-X-ENDLIST") {
			t.Fatalf("media playlist %s: %d %s", v, pl.status, pl.body)
		}
		segments := uris(t, v, pl.body, query)
		if len(segments) != 1+segmentCount {
			t.Fatalf("segments = %v", segments)
		}
		for i, s := range segments {
			seg := get(t, c, s)
			want := typeSegment
			if i == 0 {
				want = typeInit
			}
			if seg.status != http.StatusOK || seg.ctype != want || len(seg.body) < 8 {
				t.Fatalf("segment %s: %d %s %d bytes", s, seg.status, seg.ctype, len(seg.body))
			}
		}
		media = append(media, segments...)
	}
	return media
}

func denialReason(t *testing.T, r response) string {
	t.Helper()
	if r.status != http.StatusForbidden {
		t.Fatalf("status = %d (%s), want 403", r.status, r.body)
	}
	var body struct {
		Error struct {
			Code, Reason string
		}
	}
	if err := json.Unmarshal(r.body, &body); err != nil || body.Error.Code != "forbidden" {
		t.Fatalf("403 body %s", r.body)
	}
	return body.Error.Reason
}

func TestPlayback(t *testing.T) {
	t.Parallel()
	f := newEdge(t)
	ctx := context.Background()
	loopback := netip.MustParseAddr("127.0.0.1")

	t.Run("cloudfront canned manifest and cookies", func(t *testing.T) {
		acc, err := f.cf.Sign(ctx, f.request("t-1"))
		if err != nil {
			t.Fatal(err)
		}
		media := play(t, jarWith(t, f.srv.URL, acc.Cookies), acc.ManifestURL, "")
		// Without the cookies the canned manifest URL alone opens nothing else.
		if r := get(t, nil, media[0]); denialReason(t, r) != "signature_missing" {
			t.Errorf("segment without cookies: %s", r.body)
		}
	})
	t.Run("stored playlists are served unchanged", func(t *testing.T) {
		req := f.request("t-1")
		req.ClientIP = loopback
		acc, err := f.cf.Sign(ctx, req)
		if err != nil {
			t.Fatal(err)
		}
		for _, name := range f.stream.Names() {
			want, ctype, _ := f.stream.Object(name)
			r := get(t, nil, f.srv.URL+"/titles/t-1/"+name+"?"+acc.QueryParams)
			if r.status != http.StatusOK || r.ctype != ctype || !bytes.Equal(r.body, want) {
				t.Errorf("%s: %d %s, %d bytes, want the stored %d bytes", name, r.status, r.ctype, len(r.body), len(want))
			}
		}
		// So a player that only has the signed manifest URL fetches the
		// first media playlist unsigned, as from CloudFront.
		master := get(t, nil, acc.ManifestURL)
		variant := uris(t, acc.ManifestURL, master.body, "")[0]
		if reason := denialReason(t, get(t, nil, variant)); reason != "signature_missing" {
			t.Errorf("relative media playlist without the query: %s", reason)
		}
	})
	t.Run("cloudfront address-bound query without cookies", func(t *testing.T) {
		req := f.request("t-1")
		req.ClientIP = loopback
		acc, err := f.cf.Sign(ctx, req)
		if err != nil {
			t.Fatal(err)
		}
		play(t, nil, acc.ManifestURL, acc.QueryParams)
		req.ClientIP = netip.MustParseAddr("192.0.2.1")
		other, err := f.cf.Sign(ctx, req)
		if err != nil {
			t.Fatal(err)
		}
		if reason := denialReason(t, get(t, nil, other.ManifestURL)); reason != "ip_mismatch" {
			t.Errorf("other address: %s", reason)
		}
		if reason := denialReason(t, get(t, jarWith(t, f.srv.URL, other.Cookies), f.srv.URL+"/titles/t-1/sd/seg1.m4s")); reason != "ip_mismatch" {
			t.Errorf("other address, cookies: %s", reason)
		}
	})
	t.Run("cloud cdn URLPrefix query", func(t *testing.T) {
		acc, err := f.cdn.Sign(ctx, f.request("t-2"))
		if err != nil {
			t.Fatal(err)
		}
		play(t, nil, acc.ManifestURL, acc.QueryParams)
	})
	t.Run("cloud cdn cookie", func(t *testing.T) {
		acc, err := f.cdn.Sign(ctx, f.request("t-2"))
		if err != nil {
			t.Fatal(err)
		}
		play(t, jarWith(t, f.srv.URL, acc.Cookies), f.srv.URL+"/titles/t-2/master.m3u8", "")
	})
	t.Run("cloud cdn single signed URL", func(t *testing.T) {
		u, err := f.cdn.SignURL(f.srv.URL+"/titles/t-3/uhd/seg1.m4s", f.expires)
		if err != nil {
			t.Fatal(err)
		}
		if r := get(t, nil, u); r.status != http.StatusOK {
			t.Errorf("single signed URL: %d %s", r.status, r.body)
		}
	})
	t.Run("range and conditional requests", func(t *testing.T) {
		acc, err := f.cdn.Sign(ctx, f.request("t-4"))
		if err != nil {
			t.Fatal(err)
		}
		u := f.srv.URL + "/titles/t-4/hd/init.mp4?" + acc.QueryParams
		want, _, _ := f.stream.Object("hd/init.mp4")
		req, _ := http.NewRequest(http.MethodGet, u, nil)
		req.Header.Set("Range", "bytes=0-7")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusPartialContent || !bytes.Equal(body, want[:8]) {
			t.Errorf("range: %d %q", resp.StatusCode, body)
		}
		req, _ = http.NewRequest(http.MethodGet, u, nil)
		req.Header.Set("If-None-Match", resp.Header.Get("ETag"))
		resp, err = http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusNotModified {
			t.Errorf("If-None-Match with the ETag: %d", resp.StatusCode)
		}
	})
}

func TestDenials(t *testing.T) {
	t.Parallel()
	f := newEdge(t)
	ctx := context.Background()
	cfAcc, err := f.cf.Sign(ctx, f.request("t-1"))
	if err != nil {
		t.Fatal(err)
	}
	cdnAcc, err := f.cdn.Sign(ctx, f.request("t-1"))
	if err != nil {
		t.Fatal(err)
	}
	cfJar := jarWith(t, f.srv.URL, cfAcc.Cookies)
	cdnJar := jarWith(t, f.srv.URL, cdnAcc.Cookies)
	flipLast := func(s string) string {
		b := []byte(s)
		i := strings.LastIndex(s, "Signature=") + len("Signature=") + 3
		if b[i] == 'A' {
			b[i] = 'B'
		} else {
			b[i] = 'A'
		}
		return string(b)
	}
	seg := f.srv.URL + "/titles/t-1/sd/seg1.m4s"

	tests := []struct {
		name   string
		client *http.Client
		url    string
		want   string
	}{
		{"unsigned", nil, seg, "signature_missing"},
		{"tampered cloudfront URL", nil, flipLast(cfAcc.ManifestURL), "signature_invalid"},
		{"tampered cloud cdn URL", nil, flipLast(cdnAcc.ManifestURL), "signature_invalid"},
		// Cookies scoped to /titles/t-1/ are not even sent for another title.
		{"cloudfront cookies on another title", cfJar, f.srv.URL + "/titles/t-2/sd/seg1.m4s", "signature_missing"},
		{"cloud cdn query on another title", nil, f.srv.URL + "/titles/t-2/sd/seg1.m4s?" + cdnAcc.QueryParams, "resource_mismatch"},
		{"path traversal with query", nil, f.srv.URL + "/titles/t-1/../t-2/sd/seg1.m4s?" + cdnAcc.QueryParams, "path_not_canonical"},
		{"path traversal with cookies", cdnJar, f.srv.URL + "/titles/t-1/../t-2/sd/seg1.m4s", "path_not_canonical"},
		{"encoded slash", nil, f.srv.URL + "/titles/t-1/..%2Ft-2%2Fsd%2Fseg1.m4s?" + cdnAcc.QueryParams, "path_not_canonical"},
		{"wildcard id", nil, f.srv.URL + "/titles/t-*/sd/seg1.m4s?" + cdnAcc.QueryParams, "path_not_canonical"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := get(t, tt.client, tt.url)
			if got := denialReason(t, r); got != tt.want {
				t.Errorf("reason = %s, want %s", got, tt.want)
			}
		})
	}

	t.Run("cookie for another title sent anyway", func(t *testing.T) {
		req, _ := http.NewRequest(http.MethodGet, f.srv.URL+"/titles/t-2/sd/seg1.m4s", nil)
		for _, c := range cfAcc.Cookies {
			req.AddCookie(c)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if got := denialReason(t, response{status: resp.StatusCode, body: body}); got != "resource_mismatch" {
			t.Errorf("reason = %s", got)
		}
	})
	t.Run("POST", func(t *testing.T) {
		resp, err := http.Post(seg, "application/json", strings.NewReader("{}"))
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusMethodNotAllowed || resp.Header.Get("Allow") != "GET, HEAD, OPTIONS" ||
			!strings.Contains(string(body), `"code":"method_not_allowed"`) {
			t.Errorf("got %d %v %s", resp.StatusCode, resp.Header, body)
		}
	})
	t.Run("signed but missing object", func(t *testing.T) {
		if r := get(t, cfJar, f.srv.URL+"/titles/t-1/sd/seg4.m4s"); r.status != http.StatusNotFound {
			t.Errorf("status = %d, want 404", r.status)
		}
	})
	t.Run("expired", func(t *testing.T) {
		f.skew.Store(int64(time.Until(f.expires).Seconds()) + 1)
		defer f.skew.Store(0)
		if got := denialReason(t, get(t, nil, cdnAcc.ManifestURL)); got != "expired" {
			t.Errorf("cloud cdn: %s", got)
		}
		if got := denialReason(t, get(t, cfJar, seg)); got != "expired" {
			t.Errorf("cloudfront: %s", got)
		}
	})
}

// syncBuffer is a log sink safe for the server's goroutines.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// needTool finds a tool that make test installs
// (infra/local/install-ffmpeg.sh); without it the test skips on a
// developer's machine and fails in CI (CI=true), where the claim must be
// checked.
func needTool(t *testing.T, name string) string {
	t.Helper()
	path, err := exec.LookPath(name)
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s not installed (%v) and CI=true: run infra/local/install-ffmpeg.sh (make test does)", name, err)
		}
		t.Skipf("%s not installed: infra/local/install-ffmpeg.sh installs it", name)
	}
	return path
}

func cookieHeader(cookies []*http.Cookie) string {
	parts := make([]string, len(cookies))
	for i, c := range cookies {
		parts[i] = c.Name + "=" + c.Value
	}
	return strings.Join(parts, "; ")
}

// TestFFmpegPlays hands the stored HLS multivariant playlist and the DASH
// MPD, served over loopback by the edge, to a real player: ffmpeg must
// fetch every playlist and segment of every rendition through the edge
// with the grant's cookies and decode every frame without an error.
func TestFFmpegPlays(t *testing.T) {
	t.Parallel()
	ffmpeg := needTool(t, "ffmpeg")
	f := newEdge(t)
	for _, signer := range []struct {
		name string
		s    playback.URLSigner
	}{{"cloudfront", f.cf}, {"cloudcdn", f.cdn}} {
		for _, manifest := range []string{"master.m3u8", "manifest.mpd"} {
			t.Run(signer.name+"/"+manifest, func(t *testing.T) {
				t.Parallel()
				acc, err := signer.s.Sign(context.Background(), f.request("t-ff"))
				if err != nil {
					t.Fatal(err)
				}
				ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
				defer cancel()
				out, err := exec.CommandContext(ctx, ffmpeg, "-nostdin", "-v", "error", "-xerror",
					"-headers", "Cookie: "+cookieHeader(acc.Cookies)+"\r\n",
					"-i", f.srv.URL+"/titles/t-ff/"+manifest, "-map", "0:v", "-f", "framemd5", "-").CombinedOutput()
				if err != nil {
					t.Fatalf("ffmpeg: %v\n%s", err, out)
				}
				frames := map[string]int{}
				for line := range strings.SplitSeq(string(out), "\n") {
					if line == "" || strings.HasPrefix(line, "#") {
						continue
					}
					stream, _, _ := strings.Cut(line, ",")
					frames[stream]++
				}
				if len(frames) != len(ladder) {
					t.Fatalf("decoded streams %v, want one per rendition\n%s", frames, out)
				}
				for stream, n := range frames {
					if want := segmentCount * framesPerSeg; n != want {
						t.Errorf("stream %s: %d frames, want %d", stream, n, want)
					}
				}
			})
		}
	}
}
