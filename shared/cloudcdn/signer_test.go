package cloudcdn

import (
	"context"
	"crypto/hmac"
	"crypto/sha1"
	"encoding/base64"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/playplane/playplane/shared/httpx"
	"github.com/playplane/playplane/shared/playback"
)

// googleSampleKey is the key of Google's published Cloud CDN signing
// samples (python-docs-samples cdn/snippets_test.py and its siblings in
// other languages); the expected values below come from those samples, not
// from this package.
const googleSampleKey = "nZtRohdNF9m3cKM24IcK4w=="

func sampleSigner(t testing.TB) *Signer {
	t.Helper()
	secret, err := DecodeKey(googleSampleKey)
	if err != nil {
		t.Fatal(err)
	}
	ks, err := NewKeySet("my-key", Key{Name: "my-key", Secret: secret})
	if err != nil {
		t.Fatal(err)
	}
	s, err := New(Config{}, ks)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestSignURLMatchesGoogleSamples(t *testing.T) {
	t.Parallel()
	s := sampleSigner(t)
	exp := time.Unix(1549751401, 0)
	tests := []struct {
		name, url, want string
	}{
		{"ip host", "http://35.186.234.33/index.html",
			"http://35.186.234.33/index.html?Expires=1549751401&KeyName=my-key&Signature=CRFqQnVfFyiUyR63OQf-HRUpIwc="},
		{"root path", "http://www.example.com/",
			"http://www.example.com/?Expires=1549751401&KeyName=my-key&Signature=OqDUFfHpN5Vxga6r80bhsgxKves="},
		{"with query", "http://www.example.com/some/path?some=query&another=param",
			"http://www.example.com/some/path?some=query&another=param&Expires=1549751401&KeyName=my-key&Signature=9Q9TCxSju8-W5nUkk5CuTrun2_o="},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := s.SignURL(tt.url, exp)
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("SignURL(%q)\n got %s\nwant %s", tt.url, got, tt.want)
			}
		})
	}
}

func TestSignPrefixAndCookieMatchGoogleSamples(t *testing.T) {
	t.Parallel()
	s := sampleSigner(t)
	exp := time.Unix(1549751401, 0)
	tests := []struct {
		name, prefix, wantQuery, wantCookie string
	}{
		{"ip host", "http://35.186.234.33/", "URLPrefix=aHR0cDovLzM1LjE4Ni4yMzQuMzMv&Expires=1549751401&KeyName=my-key&Signature=j7HYgoQ8dIOVsW3Rw4cpkjWfRMA=", ""},
		{"root", "http://www.example.com/", "URLPrefix=aHR0cDovL3d3dy5leGFtcGxlLmNvbS8=&Expires=1549751401&KeyName=my-key&Signature=UdT5nVks6Hh8QFMJI9kmXuXYBk0=", ""},
		{"path", "http://www.example.com/some/", "URLPrefix=aHR0cDovL3d3dy5leGFtcGxlLmNvbS9zb21lLw==&Expires=1549751401&KeyName=my-key&Signature=3th4ThmpS95I1TAKYyYSCSq3dnQ=", ""},
		{"cookie file", "http://35.186.234.33/index.html", "", "URLPrefix=aHR0cDovLzM1LjE4Ni4yMzQuMzMvaW5kZXguaHRtbA==:Expires=1549751401:KeyName=my-key:Signature=uImwlOBCPs91mlCyG9vyyZRrNWU="},
		{"cookie dir", "http://www.example.com/foo/", "", "URLPrefix=aHR0cDovL3d3dy5leGFtcGxlLmNvbS9mb28v:Expires=1549751401:KeyName=my-key:Signature=Z9uYAu73YHioRScZDxnP-TnS274="},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if tt.wantQuery != "" {
				got, err := s.SignPrefixQuery(tt.prefix, exp)
				if err != nil || got != tt.wantQuery {
					t.Errorf("SignPrefixQuery = %q, %v\nwant %q", got, err, tt.wantQuery)
				}
			}
			if tt.wantCookie != "" {
				got, err := s.SignCookieValue(tt.prefix, exp)
				if err != nil || got != tt.wantCookie {
					t.Errorf("SignCookieValue = %q, %v\nwant %q", got, err, tt.wantCookie)
				}
			}
		})
	}
}

// hmacB64 recomputes a signature with crypto/hmac, independently of the
// signer's pooled states and hand-written encoder.
func hmacB64(secret []byte, msg string) string {
	m := hmac.New(sha1.New, secret)
	m.Write([]byte(msg))
	return base64.URLEncoding.EncodeToString(m.Sum(nil))
}

func TestSignGrantsPrefixByQueryAndCookie(t *testing.T) {
	t.Parallel()
	key := GenerateDevKey("k1")
	ks, err := NewKeySet("k1", key)
	if err != nil {
		t.Fatal(err)
	}
	s, err := New(Config{CookieDomain: ".media.example.com"}, ks)
	if err != nil {
		t.Fatal(err)
	}
	exp := time.Now().Add(10 * time.Minute).Truncate(time.Second)
	for _, base := range []string{"https://cdn.example.com", "http://127.0.0.1:8080"} {
		req := playback.SignRequest{BaseURL: base, Prefix: "/titles/t-123/", Manifest: "/titles/t-123/master.m3u8",
			Expires: exp.Add(700 * time.Millisecond), ClientIP: netip.MustParseAddr("192.0.2.7")}
		acc, err := s.Sign(context.Background(), req)
		if err != nil {
			t.Fatal(err)
		}
		encPrefix := base64.URLEncoding.EncodeToString([]byte(base + "/titles/t-123/"))
		unix := strconv.FormatInt(exp.Unix(), 10)
		signedQuery := "URLPrefix=" + encPrefix + "&Expires=" + unix + "&KeyName=k1"
		wantQuery := signedQuery + "&Signature=" + hmacB64(key.Secret, signedQuery)
		if acc.QueryParams != wantQuery {
			t.Errorf("QueryParams\n got %s\nwant %s", acc.QueryParams, wantQuery)
		}
		if want := base + "/titles/t-123/master.m3u8?" + wantQuery; acc.ManifestURL != want {
			t.Errorf("ManifestURL\n got %s\nwant %s", acc.ManifestURL, want)
		}
		signedCookie := "URLPrefix=" + encPrefix + ":Expires=" + unix + ":KeyName=k1"
		wantCookie := signedCookie + ":Signature=" + hmacB64(key.Secret, signedCookie)
		if len(acc.Cookies) != 1 {
			t.Fatalf("cookies = %v, want one Cloud-CDN-Cookie", acc.Cookies)
		}
		c := httpx.Cookie(acc.Cookies[0])
		if c.Name != "Cloud-CDN-Cookie" || c.Value != wantCookie || c.Path != "/titles/t-123/" || !c.HttpOnly ||
			c.Domain != ".media.example.com" || c.Secure != strings.HasPrefix(base, "https:") {
			t.Errorf("cookie = %+v, want value %s", c, wantCookie)
		}
		if err := c.Valid(); err != nil {
			t.Errorf("cookie is not valid for Set-Cookie: %v", err)
		}
		if !acc.Expires.Equal(exp) || acc.KeyID != "k1" {
			t.Errorf("Expires, KeyID = %v, %q; want %v, k1", acc.Expires, acc.KeyID, exp)
		}
	}
}

func TestSignRejectsUnsafeRequests(t *testing.T) {
	t.Parallel()
	ks, _ := NewKeySet("k1", GenerateDevKey("k1"))
	s, err := New(Config{}, ks)
	if err != nil {
		t.Fatal(err)
	}
	good := playback.SignRequest{BaseURL: "https://cdn.example.com", Prefix: "/titles/t-1/", Manifest: "/titles/t-1/master.m3u8", Expires: time.Now().Add(time.Hour)}
	tests := []struct {
		name   string
		modify func(*playback.SignRequest)
	}{
		{"base with path", func(r *playback.SignRequest) { r.BaseURL += "/x" }},
		{"base with query", func(r *playback.SignRequest) { r.BaseURL += "?a=b" }},
		{"ftp base", func(r *playback.SignRequest) { r.BaseURL = "ftp://cdn.example.com" }},
		{"prefix without trailing slash", func(r *playback.SignRequest) { r.Prefix = "/titles/t-1" }},
		{"wildcard id", func(r *playback.SignRequest) { r.Prefix, r.Manifest = "/titles/t-*/", "/titles/t-*/master.m3u8" }},
		{"dot dot", func(r *playback.SignRequest) { r.Prefix = "/titles/../"; r.Manifest = "/titles/../master.m3u8" }},
		{"encoded slash", func(r *playback.SignRequest) { r.Prefix, r.Manifest = "/titles/t-1%2F/", "/titles/t-1%2F/m.m3u8" }},
		{"manifest elsewhere", func(r *playback.SignRequest) { r.Manifest = "/titles/t-2/master.m3u8" }},
		{"manifest is prefix", func(r *playback.SignRequest) { r.Manifest = r.Prefix }},
		{"expired", func(r *playback.SignRequest) { r.Expires = time.Now().Add(-time.Second) }},
		{"no expiry", func(r *playback.SignRequest) { r.Expires = time.Time{} }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			req := good
			tt.modify(&req)
			_, err := s.Sign(context.Background(), req)
			if !playback.IsCode(err, playback.CodeInvalid) {
				t.Errorf("Sign(%+v) error = %v, want invalid", req, err)
			}
		})
	}
	if _, err := s.Sign(context.Background(), good); err != nil {
		t.Errorf("Sign(good) = %v", err)
	}
	if _, err := s.SignURL("https://cdn.example.com/a?Expires=1", time.Now()); err == nil {
		t.Error("SignURL accepted a URL that already holds Expires")
	}
}

func TestParseKeySet(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path := filepath.Join(dir, "k2.key")
	if err := os.WriteFile(path, []byte(googleSampleKey+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"CDN_K1": "AAECAwQFBgcICQoLDA0ODw"} // unpadded, as some tools write it
	lookup := func(name string) (string, bool) { v, ok := env[name]; return v, ok }

	ks, err := ParseKeySet("k1=env:CDN_K1, k2=file:"+path+", k3="+googleSampleKey, "k2", lookup)
	if err != nil {
		t.Fatal(err)
	}
	if ks.Active().Name != "k2" || string(ks.Active().Secret) != "\x9d\x9b\x51\xa2\x17\x4d\x17\xd9\xb7\x70\xa3\x36\xe0\x87\x0a\xe3" {
		t.Errorf("active = %+v", ks.Active())
	}
	if got := len(ks.Keys()); got != 3 {
		t.Errorf("len(Keys) = %d, want 3", got)
	}

	bad := []struct{ name, spec, active string }{
		{"relative file", "k1=file:keys/k1", "k1"},
		{"missing env", "k1=env:NOPE", "k1"},
		{"short key", "k1=AAECAw", "k1"},
		{"not base64", "k1=!!!!", "k1"},
		{"bad name", "k 1=" + googleSampleKey, "k 1"},
		{"duplicate", "k1=" + googleSampleKey + ",k1=" + googleSampleKey, "k1"},
		{"unknown active", "k1=" + googleSampleKey, "k9"},
		{"empty", "", "k1"},
	}
	for _, tt := range bad {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if _, err := ParseKeySet(tt.spec, tt.active, lookup); err == nil {
				t.Errorf("ParseKeySet(%q, %q) succeeded", tt.spec, tt.active)
			} else if strings.Contains(err.Error(), googleSampleKey) {
				t.Errorf("error leaks the key: %v", err)
			}
		})
	}
}

func TestSignURLRefusesSigningParameters(t *testing.T) {
	t.Parallel()
	s := sampleSigner(t)
	exp := time.Now().Add(time.Hour)
	for _, u := range []string{
		"https://cdn.example.com/a?Expires=1", "https://cdn.example.com/a?x=1&KeyName=k", "https://cdn.example.com/a?Signature",
		"https://cdn.example.com/a?x=1&URLPrefix=aA==&y=2", "https://cdn.example.com/a#frag", "https://cdn.example.com/a b",
		"ftp://cdn.example.com/a", "https://cdn.example.com/\x7f",
	} {
		if got, err := s.SignURL(u, exp); err == nil {
			t.Errorf("SignURL(%q) = %q, want an error", u, got)
		}
	}
	for _, u := range []string{"https://cdn.example.com/a?XExpires=1", "https://cdn.example.com/a?x=Expires", "https://cdn.example.com/a?", "https://cdn.example.com/a?&"} {
		if _, err := s.SignURL(u, exp); err != nil {
			t.Errorf("SignURL(%q) = %v", u, err)
		}
	}
}

// TestNewChecksTheCookieDomain: a cookie domain net/http would drop from
// Set-Cookie (it logs and sends a host-only cookie, which never reaches a
// CDN on another host) stops New, while the answer's cookies would still
// name it.
func TestNewChecksTheCookieDomain(t *testing.T) {
	t.Parallel()
	ks, err := NewKeySet("k1", GenerateDevKey("k1"))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, domain string
		ok           bool
	}{
		{"host-only", "", true},
		{"parent domain", ".media.example.com", true},
		{"host", "cdn.example.com", true},
		{"with a port", "cdn.example.com:443", false},
		{"wildcard", "*.example.com", false},
		{"empty label", "media..example.com", false},
		{"label starting with a hyphen", "-cdn.example.com", false},
		{"URL", "https://cdn.example.com", false},
		{"with an attribute", "example.com; Secure", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if _, err := New(Config{CookieDomain: tc.domain}, ks); (err == nil) != tc.ok {
				t.Errorf("New with cookie domain %q: err = %v, want ok %v", tc.domain, err, tc.ok)
			}
		})
	}
}

// TestKeySetHoldsWhatABackendHolds: a Cloud CDN backend service or bucket
// holds up to three signed request keys at a time (Google's "Use signed
// cookies": configuring signed request keys), so a key set listing more
// describes no backend and is refused at start, naming the setting; three,
// a rotation's old, current and next key, are fine.
func TestKeySetHoldsWhatABackendHolds(t *testing.T) {
	t.Parallel()
	four := []Key{GenerateDevKey("k1"), GenerateDevKey("k2"), GenerateDevKey("k3"), GenerateDevKey("k4")}
	if _, err := NewKeySet("k1", four[:3]...); err != nil {
		t.Fatalf("three keys: %v", err)
	}
	spec := ""
	for _, k := range four {
		spec += k.Name + "=" + EncodeKey(k.Secret) + ","
	}
	for _, tc := range []struct {
		name string
		new  func() (*KeySet, error)
	}{
		{name: "NewKeySet", new: func() (*KeySet, error) { return NewKeySet("k1", four...) }},
		{name: "ParseKeySet", new: func() (*KeySet, error) {
			return ParseKeySet(spec, "k1", func(string) (string, bool) { return "", false })
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := tc.new()
			if err == nil || !strings.Contains(err.Error(), "CLOUDCDN_KEYS") || !strings.Contains(err.Error(), "3") {
				t.Fatalf("four keys: err = %v, want a refusal naming CLOUDCDN_KEYS and its limit of 3", err)
			}
		})
	}
}
