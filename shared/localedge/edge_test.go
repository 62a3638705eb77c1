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
	"reflect"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/playplane/playplane/shared/cloudcdn"
	"github.com/playplane/playplane/shared/cloudfront"
	"github.com/playplane/playplane/shared/httpx"
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
	h = h.WithCORS(func(origin string) (bool, bool) { return origin == corsOrigin, true })
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

func jarWith(t *testing.T, base string, cookies []playback.Cookie) *http.Client {
	t.Helper()
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	u, _ := url.Parse(base)
	jar.SetCookies(u, httpx.Cookies(cookies))
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
		for _, c := range httpx.Cookies(cfAcc.Cookies) {
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

func cookieHeader(cookies []playback.Cookie) string {
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
	// Each manifest once, each CDN's cookies once: decoding UHD is the
	// costliest step of the package's tests.
	for _, tc := range []struct {
		name     string
		s        playback.URLSigner
		manifest string
	}{{"cloudfront", f.cf, "master.m3u8"}, {"cloudcdn", f.cdn, "manifest.mpd"}} {
		t.Run(tc.name+"/"+tc.manifest, func(t *testing.T) {
			t.Parallel()
			acc, err := tc.s.Sign(context.Background(), f.request("t-ff"))
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			out, err := exec.CommandContext(ctx, ffmpeg, "-nostdin", "-v", "error", "-xerror",
				"-headers", "Cookie: "+cookieHeader(acc.Cookies)+"\r\n",
				"-i", f.srv.URL+"/titles/t-ff/"+tc.manifest, "-map", "0:v", "-f", "framemd5", "-").CombinedOutput()
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

// Documentation the CMCD rows below follow.
const (
	docCFCanned       = "https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/private-content-creating-signed-url-canned-policy.html"
	docCFCustom       = "https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/private-content-creating-signed-url-custom-policy.html"
	docCFCookieCustom = "https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/private-content-setting-signed-cookie-custom-policy.html"
	docCDNSignedURLs  = "https://cloud.google.com/cdn/docs/using-signed-urls"
	docCDNCookies     = "https://cloud.google.com/cdn/docs/using-signed-cookies"
)

// hlsjsCMCD is a query-mode CMCD parameter as hls.js appends it.
const hlsjsCMCD = "CMCD=bl%3D21300%2Cbr%3D3200%2Cd%3D4004%2Cmtp%3D25400%2Cot%3Dv%2Csid%3D%226e2fb550-c457-11e9-bb97-0800200c9a66%22%2Ctb%3D6000"

// TestCMCDAgainstSignatures puts CMCD where players put it, in the query
// before or after the signing parameters or in headers, on every grant
// style, and expects what each CDN's documentation says it does:
//
//   - CloudFront canned policy: the policy is rebuilt from the requested URL
//     without the signing parameters, so any added parameter changes the
//     resource and the signature no longer matches (docCFCanned).
//   - CloudFront custom policy (query or cookies): Resource may end in *,
//     which matches any characters including a query string, so CMCD under
//     the granted prefix is covered wherever it sits (docCFCustom,
//     docCFCookieCustom).
//   - Cloud CDN: the signed part ends the URL, Signature last; with
//     URLPrefix only URLPrefix, Expires and KeyName are signed and the
//     prefix must cover the URL, so a parameter before them is free and one
//     after Signature makes the request malformed; a single-URL signature
//     covers every parameter before Expires (docCDNSignedURLs). The cookie
//     signs the URL prefix only (docCDNCookies).
//   - CMCD headers are not part of any signature.
func TestCMCDAgainstSignatures(t *testing.T) {
	t.Parallel()
	f := newEdge(t)
	ctx := context.Background()
	req := f.request("t-c")
	cfCanned, err := f.cf.Sign(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	req.ClientIP = netip.MustParseAddr("127.0.0.1")
	cfCustom, err := f.cf.Sign(ctx, req) // an address-bound grant: the manifest URL carries the custom policy
	if err != nil {
		t.Fatal(err)
	}
	cdn, err := f.cdn.Sign(ctx, f.request("t-c"))
	if err != nil {
		t.Fatal(err)
	}
	seg := f.srv.URL + "/titles/t-c/hd/seg2.m4s"
	single, err := f.cdn.SignURL(seg, f.expires)
	if err != nil {
		t.Fatal(err)
	}
	// cdnSingleBefore puts CMCD between the path and Expires.
	cdnSingleBefore := strings.Replace(single, "?", "?"+hlsjsCMCD+"&", 1)
	headers := map[string]string{"CMCD-Object": "br=3200,d=4004,ot=v", "CMCD-Session": `sid="6e2f"`}

	tests := []struct {
		name    string
		doc     string
		url     string
		cookies []playback.Cookie
		headers map[string]string
		want    int
		reason  string
	}{
		{"cloudfront canned, CMCD appended", docCFCanned, cfCanned.ManifestURL + "&" + hlsjsCMCD, nil, nil, 403, "signature_invalid"},
		{"cloudfront canned, CMCD first", docCFCanned, strings.Replace(cfCanned.ManifestURL, "?", "?"+hlsjsCMCD+"&", 1), nil, nil, 403, "signature_invalid"},
		{"cloudfront canned, CMCD headers", docCFCanned, cfCanned.ManifestURL, nil, headers, 200, ""},
		{"cloudfront custom query, CMCD appended", docCFCustom, seg + "?" + cfCustom.QueryParams + "&" + hlsjsCMCD, nil, nil, 200, ""},
		{"cloudfront custom query, CMCD first", docCFCustom, seg + "?" + hlsjsCMCD + "&" + cfCustom.QueryParams, nil, nil, 200, ""},
		{"cloudfront custom query, CMCD headers", docCFCustom, seg + "?" + cfCustom.QueryParams, nil, headers, 200, ""},
		{"cloudfront cookies, CMCD query", docCFCookieCustom, seg + "?" + hlsjsCMCD, cfCanned.Cookies, nil, 200, ""},
		{"cloudfront cookies, CMCD headers", docCFCookieCustom, seg, cfCanned.Cookies, headers, 200, ""},
		{"cloud cdn URLPrefix, CMCD appended after Signature", docCDNSignedURLs, seg + "?" + cdn.QueryParams + "&" + hlsjsCMCD, nil, nil, 403, "signature_malformed"},
		{"cloud cdn URLPrefix, CMCD before URLPrefix", docCDNSignedURLs, seg + "?" + hlsjsCMCD + "&" + cdn.QueryParams, nil, nil, 200, ""},
		{"cloud cdn URLPrefix, CMCD headers", docCDNSignedURLs, seg + "?" + cdn.QueryParams, nil, headers, 200, ""},
		{"cloud cdn single URL, CMCD appended", docCDNSignedURLs, single + "&" + hlsjsCMCD, nil, nil, 403, "signature_malformed"},
		{"cloud cdn single URL, CMCD before Expires", docCDNSignedURLs, cdnSingleBefore, nil, nil, 403, "signature_invalid"},
		{"cloud cdn cookie, CMCD query", docCDNCookies, seg + "?" + hlsjsCMCD, cdn.Cookies, nil, 200, ""},
		{"cloud cdn cookie, CMCD headers", docCDNCookies, seg, cdn.Cookies, headers, 200, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r, _ := http.NewRequest(http.MethodGet, tt.url, nil)
			for _, c := range httpx.Cookies(tt.cookies) {
				r.AddCookie(c)
			}
			for k, v := range tt.headers {
				r.Header.Set(k, v)
			}
			resp, err := http.DefaultClient.Do(r)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tt.want {
				t.Fatalf("status %d (%s), want %d per %s", resp.StatusCode, body, tt.want, tt.doc)
			}
			if tt.reason != "" {
				if got := denialReason(t, response{status: resp.StatusCode, body: body}); got != tt.reason {
					t.Errorf("reason %s, want %s per %s", got, tt.reason, tt.doc)
				}
			}
		})
	}
}

func preflight(t *testing.T, rawURL, origin string) *http.Response {
	t.Helper()
	r, _ := http.NewRequest(http.MethodOptions, rawURL, nil)
	r.Header.Set("Origin", origin)
	r.Header.Set("Access-Control-Request-Method", "GET")
	r.Header.Set("Access-Control-Request-Headers", "cmcd-object,cmcd-request,cmcd-session,cmcd-status")
	resp, err := http.DefaultClient.Do(r)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp
}

// corsOrigin is the one page origin newEdge's policy allows, with
// credentials.
const corsOrigin = "http://localhost:8081"

// TestCORS: a page on another origin may send the CMCD headers and
// cookies. Browsers refuse credentialed responses with
// Access-Control-Allow-Origin "*", so the origin is named.
func TestCORS(t *testing.T) {
	t.Parallel()
	f := newEdge(t)
	const origin = corsOrigin
	acc, err := f.cf.Sign(context.Background(), f.request("t-o"))
	if err != nil {
		t.Fatal(err)
	}
	seg := f.srv.URL + "/titles/t-o/sd/seg1.m4s"

	t.Run("preflight", func(t *testing.T) {
		resp := preflight(t, seg, origin)
		if resp.StatusCode != http.StatusNoContent {
			t.Fatalf("status %d", resp.StatusCode)
		}
		h := resp.Header
		if h.Get("Access-Control-Allow-Origin") != origin || h.Get("Access-Control-Allow-Credentials") != "true" || h.Get("Access-Control-Max-Age") == "" {
			t.Errorf("headers %v", h)
		}
		allowed := strings.ToLower(h.Get("Access-Control-Allow-Headers"))
		for _, name := range cmcdHeaders {
			if !strings.Contains(allowed, strings.ToLower(name)) {
				t.Errorf("Access-Control-Allow-Headers %q lacks %s", allowed, name)
			}
		}
		if !strings.Contains(h.Get("Access-Control-Allow-Methods"), "GET") {
			t.Errorf("methods %q", h.Get("Access-Control-Allow-Methods"))
		}
	})
	// get fetches the segment with the grant's cookies, from origin
	// unless it is "".
	get := func(t *testing.T, origin string) *http.Response {
		r, _ := http.NewRequest(http.MethodGet, seg, nil)
		if origin != "" {
			r.Header.Set("Origin", origin)
		}
		for _, c := range httpx.Cookies(acc.Cookies) {
			r.AddCookie(c)
		}
		resp, err := http.DefaultClient.Do(r)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	t.Run("credentialed GET", func(t *testing.T) {
		resp := get(t, origin)
		if resp.StatusCode != http.StatusOK || resp.Header.Get("Access-Control-Allow-Origin") != origin ||
			resp.Header.Get("Access-Control-Allow-Credentials") != "true" || !slices.Contains(resp.Header.Values("Vary"), "Origin") {
			t.Errorf("%d %v", resp.StatusCode, resp.Header)
		}
	})
	t.Run("GET from an origin the policy leaves out", func(t *testing.T) {
		resp := get(t, "https://evil.example")
		if resp.Header.Get("Access-Control-Allow-Origin") != "" || resp.Header.Get("Access-Control-Allow-Credentials") != "" ||
			!slices.Contains(resp.Header.Values("Vary"), "Origin") {
			t.Errorf("%d %v", resp.StatusCode, resp.Header)
		}
	})
	// The answer differs by Origin and the segment is cacheable, so a
	// response to a request without one says so too (the Fetch standard's
	// "CORS protocol and HTTP caches"): else the browser's cache serves a
	// page's player the copy without Access-Control-Allow-Origin.
	t.Run("GET without Origin varies on it", func(t *testing.T) {
		resp := get(t, "")
		if resp.StatusCode != http.StatusOK || resp.Header.Get("Access-Control-Allow-Origin") != "" ||
			!slices.Contains(resp.Header.Values("Vary"), "Origin") {
			t.Errorf("%d %v", resp.StatusCode, resp.Header)
		}
	})
	// A signed Cloud CDN request must be GET or HEAD (docCDNSignedURLs), and
	// a preflight keeps the URL's query: Cloud CDN refuses it.
	t.Run("preflight of a query-signed Cloud CDN URL", func(t *testing.T) {
		cdn, err := f.cdn.Sign(context.Background(), f.request("t-o"))
		if err != nil {
			t.Fatal(err)
		}
		if resp := preflight(t, seg+"?"+cdn.QueryParams, origin); resp.StatusCode != http.StatusForbidden {
			t.Errorf("status %d, want 403 per %s", resp.StatusCode, docCDNSignedURLs)
		}
	})
	// CloudFront documents no method rule: a preflight with its query is
	// verified like a GET of the restricted behavior. Browsers send no
	// cookies with a preflight, so a cookie grant's preflight is unsigned;
	// Cloud CDN forwards unsigned requests to the origin ("Cloud CDN doesn't
	// block requests without a Signature query parameter or
	// Cloud-CDN-Cookie", docCDNSignedURLs), whose CORS answers. CloudFront
	// likely refuses it on a restricted behavior (reported in
	// https://github.com/Dash-Industry-Forum/dash.js/issues/1326, not in
	// AWS's documentation); the local edge answers it.
	t.Run("preflight of a CloudFront query", func(t *testing.T) {
		if resp := preflight(t, seg+"?"+acc.QueryParams, origin); resp.StatusCode != http.StatusNoContent {
			t.Errorf("valid query: %d", resp.StatusCode)
		}
		tampered := strings.Replace(acc.QueryParams, "Key-Pair-Id=", "Key-Pair-Id=X", 1)
		if resp := preflight(t, seg+"?"+tampered, origin); resp.StatusCode != http.StatusForbidden {
			t.Errorf("unknown key: %d, want 403", resp.StatusCode)
		}
		if resp := preflight(t, seg, origin); resp.StatusCode != http.StatusNoContent {
			t.Errorf("unsigned: %d", resp.StatusCode)
		}
	})
}

// TestAccessLogCarriesCMCD reads the edge's access log as a CDN log
// pipeline would: one JSON object per request with the CMCD keys parsed
// from the query or the headers, and never the signature.
func TestAccessLogCarriesCMCD(t *testing.T) {
	t.Parallel()
	f := newEdge(t)
	acc, err := f.cdn.Sign(context.Background(), f.request("t-l"))
	if err != nil {
		t.Fatal(err)
	}
	seg := f.srv.URL + "/titles/t-l/uhd/seg3.m4s"
	if r := get(t, nil, seg+"?"+hlsjsCMCD+"&"+acc.QueryParams); r.status != http.StatusOK {
		t.Fatalf("query mode: %d", r.status)
	}
	logLines(t, f.log, 1) // each request's line before the next request, in order
	r, _ := http.NewRequest(http.MethodGet, seg, nil)
	r.Header.Set("CMCD-Request", "bl=1200,mtp=48100,nor=\"seg1.m4s\",su")
	r.Header.Set("CMCD-Session", `cid="title-1",sf=h,sid="s,1",st=v`)
	r.Header.Set("Cookie", cookieHeader(acc.Cookies))
	resp, err := http.DefaultClient.Do(r)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	logLines(t, f.log, 2)
	// A refusal is logged with its reason.
	if r := get(t, nil, seg+"?"+hlsjsCMCD); r.status != http.StatusForbidden {
		t.Fatalf("unsigned: %d", r.status)
	}

	lines := logLines(t, f.log, 3)
	if len(lines) != 3 {
		t.Fatalf("%d log lines:\n%s", len(lines), f.log.String())
	}
	if strings.Contains(f.log.String(), "Signature") {
		t.Errorf("the log holds a signature:\n%s", f.log.String())
	}
	q, h, denied := lines[0], lines[1], lines[2]
	if denied["status"] != float64(403) || denied["reason"] != "signature_missing" || denied["cmcd_mode"] != "query" {
		t.Errorf("refusal line %v", denied)
	}
	if q["path"] != "/titles/t-l/uhd/seg3.m4s" || q["status"] != float64(200) || q["cmcd_mode"] != "query" {
		t.Errorf("query line %v", q)
	}
	want := map[string]any{"bl": float64(21300), "br": float64(3200), "d": float64(4004), "mtp": float64(25400), "ot": "v",
		"sid": "6e2fb550-c457-11e9-bb97-0800200c9a66", "tb": float64(6000)}
	if got := q["cmcd"]; !reflect.DeepEqual(got, want) {
		t.Errorf("query CMCD %v, want %v", got, want)
	}
	if h["cmcd_mode"] != "headers" {
		t.Errorf("header line %v", h)
	}
	want = map[string]any{"bl": float64(1200), "mtp": float64(48100), "nor": "seg1.m4s", "su": true,
		"cid": "title-1", "sf": "h", "sid": "s,1", "st": "v"}
	if got := h["cmcd"]; !reflect.DeepEqual(got, want) {
		t.Errorf("header CMCD %v, want %v", got, want)
	}
}

// logLines waits for the edge's access log to hold n lines and returns
// them decoded. The edge logs a request once its response is written, as a
// CDN does (bytes sent, duration), so a client can hold the whole answer
// before its line is written: a log pipeline reads the log as it comes.
func logLines(t *testing.T, log *syncBuffer, n int) []map[string]any {
	t.Helper()
	var lines []map[string]any
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		lines = lines[:0]
		for line := range strings.SplitSeq(strings.TrimSpace(log.String()), "\n") {
			if line == "" {
				continue
			}
			var m map[string]any
			if err := json.Unmarshal([]byte(line), &m); err != nil {
				t.Fatalf("log line %q: %v", line, err)
			}
			lines = append(lines, m)
		}
		if len(lines) >= n || time.Now().After(deadline) {
			return lines
		}
	}
}

// TestRenditionScopedGrants: a grant scoped to some renditions' paths (how
// the plan's quality cap reaches the CDN) opens those and not the others,
// with CloudFront's wildcard Resource and Cloud CDN's URLPrefix alike.
func TestRenditionScopedGrants(t *testing.T) {
	t.Parallel()
	f := newEdge(t)
	title := f.srv.URL + "/titles/t-r/"
	policy, sig, err := f.cf.SignPolicy(cloudfront.Policy{Resource: title + "sd/*", DateLessThan: f.expires})
	if err != nil {
		t.Fatal(err)
	}
	cfQuery := "Policy=" + policy + "&Signature=" + sig + "&Key-Pair-Id=" + f.cf.KeyID() + "&Hash-Algorithm=SHA256"
	cdnQuery, err := f.cdn.SignPrefixQuery(title+"sd/", f.expires)
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range []struct{ name, query string }{{"cloudfront", cfQuery}, {"cloudcdn", cdnQuery}} {
		t.Run(q.name, func(t *testing.T) {
			for _, name := range []string{"sd/media.m3u8", "sd/init.mp4", "sd/seg3.m4s"} {
				if r := get(t, nil, title+name+"?"+q.query); r.status != http.StatusOK {
					t.Errorf("%s: %d %s", name, r.status, r.body)
				}
			}
			for _, name := range []string{"hd/seg1.m4s", "uhd/init.mp4", "uhd/seg1.m4s", "master.m3u8"} {
				if reason := denialReason(t, get(t, nil, title+name+"?"+q.query)); reason != "resource_mismatch" {
					t.Errorf("%s: %s, want resource_mismatch", name, reason)
				}
			}
		})
	}
}
