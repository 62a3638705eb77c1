package localedge

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"os"
	"os/exec"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/playplane/playplane/shared/cloudcdn"
	"github.com/playplane/playplane/shared/cloudfront"
	"github.com/playplane/playplane/shared/playback"
)

type edgeFixture struct {
	srv      *httptest.Server
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
	f.srv = httptest.NewServer(h)
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

// uris returns the URI lines of a playlist, resolved against its URL.
func uris(t *testing.T, playlistURL string, body []byte) []string {
	t.Helper()
	base, err := url.Parse(playlistURL)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	sc := bufio.NewScanner(strings.NewReader(string(body)))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		ref, err := url.Parse(line)
		if err != nil {
			t.Fatalf("playlist line %q: %v", line, err)
		}
		if ref.IsAbs() || strings.HasPrefix(line, "/") {
			t.Errorf("playlist URI %q is not relative", line)
		}
		out = append(out, base.ResolveReference(ref).String())
	}
	return out
}

// play fetches the manifest, the media playlist and every segment as a
// player does, and returns the segment URLs it fetched.
func play(t *testing.T, c *http.Client, manifestURL string) []string {
	t.Helper()
	master := get(t, c, manifestURL)
	if master.status != http.StatusOK || master.ctype != "application/vnd.apple.mpegurl" || !strings.HasPrefix(string(master.body), "#EXTM3U") {
		t.Fatalf("master playlist: %d %s %s", master.status, master.ctype, master.body)
	}
	variants := uris(t, manifestURL, master.body)
	if len(variants) != 1 {
		t.Fatalf("variants = %v", variants)
	}
	media := get(t, c, variants[0])
	if media.status != http.StatusOK || !strings.Contains(string(media.body), "#EXT-X-ENDLIST") {
		t.Fatalf("media playlist %s: %d %s", variants[0], media.status, media.body)
	}
	segments := uris(t, variants[0], media.body)
	if len(segments) != segmentCount {
		t.Fatalf("segments = %v", segments)
	}
	for _, s := range segments {
		seg := get(t, c, s)
		if seg.status != http.StatusOK || seg.ctype != "video/mp2t" || len(seg.body) == 0 || len(seg.body)%188 != 0 || seg.body[0] != 0x47 {
			t.Fatalf("segment %s: %d %s %d bytes", s, seg.status, seg.ctype, len(seg.body))
		}
	}
	return segments
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
		segs := play(t, jarWith(t, f.srv.URL, acc.Cookies), acc.ManifestURL)
		if strings.Contains(segs[0], "?") {
			t.Errorf("cookie-mode segment URI carries a query: %s", segs[0])
		}
		// Without the cookies the canned manifest URL alone opens nothing else.
		if r := get(t, nil, segs[0]); denialReason(t, r) != "signature_missing" {
			t.Errorf("segment without cookies: %s", r.body)
		}
	})
	t.Run("cloudfront address-bound query without cookies", func(t *testing.T) {
		req := f.request("t-1")
		req.ClientIP = loopback
		acc, err := f.cf.Sign(ctx, req)
		if err != nil {
			t.Fatal(err)
		}
		segs := play(t, nil, acc.ManifestURL)
		if !strings.HasSuffix(segs[0], "?"+acc.QueryParams) {
			t.Errorf("segment URI %s does not carry the policy query", segs[0])
		}
		req.ClientIP = netip.MustParseAddr("192.0.2.1")
		other, err := f.cf.Sign(ctx, req)
		if err != nil {
			t.Fatal(err)
		}
		if reason := denialReason(t, get(t, nil, other.ManifestURL)); reason != "ip_mismatch" {
			t.Errorf("other address: %s", reason)
		}
		if reason := denialReason(t, get(t, jarWith(t, f.srv.URL, other.Cookies), f.srv.URL+"/titles/t-1/seg0.ts")); reason != "ip_mismatch" {
			t.Errorf("other address, cookies: %s", reason)
		}
	})
	t.Run("cloud cdn URLPrefix query", func(t *testing.T) {
		acc, err := f.cdn.Sign(ctx, f.request("t-2"))
		if err != nil {
			t.Fatal(err)
		}
		segs := play(t, nil, acc.ManifestURL)
		if !strings.HasSuffix(segs[0], "?"+acc.QueryParams) {
			t.Errorf("segment URI %s does not carry URLPrefix", segs[0])
		}
	})
	t.Run("cloud cdn cookie", func(t *testing.T) {
		acc, err := f.cdn.Sign(ctx, f.request("t-2"))
		if err != nil {
			t.Fatal(err)
		}
		play(t, jarWith(t, f.srv.URL, acc.Cookies), f.srv.URL+"/titles/t-2/master.m3u8")
	})
	t.Run("cloud cdn single signed URL", func(t *testing.T) {
		u, err := f.cdn.SignURL(f.srv.URL+"/titles/t-3/seg1.ts", f.expires)
		if err != nil {
			t.Fatal(err)
		}
		if r := get(t, nil, u); r.status != http.StatusOK {
			t.Errorf("single signed URL: %d %s", r.status, r.body)
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
	seg := f.srv.URL + "/titles/t-1/seg0.ts"

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
		{"cloudfront cookies on another title", cfJar, f.srv.URL + "/titles/t-2/seg0.ts", "signature_missing"},
		{"cloud cdn query on another title", nil, f.srv.URL + "/titles/t-2/seg0.ts?" + cdnAcc.QueryParams, "resource_mismatch"},
		{"path traversal with query", nil, f.srv.URL + "/titles/t-1/../t-2/seg0.ts?" + cdnAcc.QueryParams, "path_not_canonical"},
		{"path traversal with cookies", cdnJar, f.srv.URL + "/titles/t-1/../t-2/seg0.ts", "path_not_canonical"},
		{"encoded slash", nil, f.srv.URL + "/titles/t-1/..%2Ft-2%2Fseg0.ts?" + cdnAcc.QueryParams, "path_not_canonical"},
		{"wildcard id", nil, f.srv.URL + "/titles/t-*/seg0.ts?" + cdnAcc.QueryParams, "path_not_canonical"},
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
		req, _ := http.NewRequest(http.MethodGet, f.srv.URL+"/titles/t-2/seg0.ts", nil)
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
		if r := get(t, cfJar, f.srv.URL+"/titles/t-1/seg9.ts"); r.status != http.StatusNotFound {
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

// TestFFmpegPlays hands the signed manifest URL to a real player: ffmpeg
// must fetch every playlist and segment through the edge and decode every
// frame. make test installs ffmpeg (infra/local/install-ffmpeg.sh); without
// it the test skips on a developer's machine and fails in CI (CI=true),
// where the claim must be checked.
func TestFFmpegPlays(t *testing.T) {
	t.Parallel()
	ffmpeg, err := exec.LookPath("ffmpeg")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("ffmpeg not installed (%v) and CI=true: run infra/local/install-ffmpeg.sh (make emulators does)", err)
		}
		t.Skip("ffmpeg not installed: infra/local/install-ffmpeg.sh installs it")
	}
	f := newEdge(t)
	for name, signer := range map[string]playback.URLSigner{"cloudfront": f.cf, "cloudcdn": f.cdn} {
		t.Run(name, func(t *testing.T) {
			req := f.request("t-ff")
			req.ClientIP = netip.MustParseAddr("127.0.0.1")
			acc, err := signer.Sign(context.Background(), req)
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			out, err := exec.CommandContext(ctx, ffmpeg, "-nostdin", "-v", "error", "-xerror", "-i", acc.ManifestURL, "-f", "framemd5", "-").CombinedOutput()
			if err != nil {
				t.Fatalf("ffmpeg: %v\n%s", err, out)
			}
			frames := 0
			for line := range strings.SplitSeq(string(out), "\n") {
				if strings.HasPrefix(line, "0,") {
					frames++
				}
			}
			if want := segmentCount * framesPerSeg; frames != want {
				t.Errorf("decoded %d frames, want %d\n%s", frames, want, out)
			}
		})
	}
}
