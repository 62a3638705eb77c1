package cloudcdn

import (
	"context"
	"crypto/hmac"
	"crypto/sha1"
	"encoding/base64"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/playplane/playplane/shared/httpx"
	"github.com/playplane/playplane/shared/playback"
)

const base = "https://cdn.example.com"

type fixture struct {
	key      Key
	signer   *Signer
	verifier *Verifier
	acc      playback.SignedAccess
	exp      time.Time
	now      time.Time
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	f := &fixture{key: GenerateDevKey("k1"), now: time.Now().Truncate(time.Second)}
	ks, err := NewKeySet("k1", f.key)
	if err != nil {
		t.Fatal(err)
	}
	if f.signer, err = New(Config{}, ks); err != nil {
		t.Fatal(err)
	}
	if f.verifier, err = NewVerifier(ks.Keys(), func() time.Time { return f.now }); err != nil {
		t.Fatal(err)
	}
	f.exp = f.now.Add(10 * time.Minute)
	f.acc, err = f.signer.Sign(context.Background(), playback.SignRequest{BaseURL: base, Prefix: "/titles/t-1/",
		Manifest: "/titles/t-1/master.m3u8", Expires: f.exp})
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func reason(err error) string {
	if err == nil {
		return ""
	}
	e := playback.AsError(err)
	if e.Code != playback.CodeForbidden {
		return "code " + string(e.Code)
	}
	return e.Reason
}

// forge signs fields with secret the way Cloud CDN expects, for requests
// the signer refuses to make.
func forge(secret []byte, fields string) string {
	m := hmac.New(sha1.New, secret)
	m.Write([]byte(fields))
	return fields + "&Signature=" + base64.URLEncoding.EncodeToString(m.Sum(nil))
}

func TestVerifier(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	q := f.acc.QueryParams
	cookie := httpx.Cookies(f.acc.Cookies)
	exp := strconv.FormatInt(f.exp.Unix(), 10)
	single, err := f.signer.SignURL(base+"/titles/t-1/seg0.ts?quality=hd", f.exp)
	if err != nil {
		t.Fatal(err)
	}
	other := GenerateDevKey("k9")
	otherQuery := forge(other.Secret, "URLPrefix="+base64.URLEncoding.EncodeToString([]byte(base+"/titles/t-1/"))+"&Expires="+exp+"&KeyName=k9")
	ftpQuery := forge(f.key.Secret, "URLPrefix="+base64.URLEncoding.EncodeToString([]byte("ftp://cdn.example.com/titles/t-1/"))+"&Expires="+exp+"&KeyName=k1")
	sig := q[strings.LastIndex(q, "Signature=")+len("Signature="):]
	flipped := q[:len(q)-len(sig)] + flip(sig)
	t2Prefix := strings.Replace(q, base64.URLEncoding.EncodeToString([]byte(base+"/titles/t-1/")), base64.URLEncoding.EncodeToString([]byte(base+"/titles/t-2/")), 1)
	laterExp := strings.Replace(q, "Expires="+exp, "Expires="+strconv.FormatInt(f.exp.Unix()+3600, 10), 1)
	badCookie := []*http.Cookie{{Name: CookieName, Value: strings.Replace(cookie[0].Value, "URLPrefix=", "Expires=", 1)}}

	tests := []struct {
		name     string
		url      string
		cookies  []*http.Cookie
		later    time.Duration
		want     string
		reusable bool
	}{
		{name: "manifest with prefix query", url: f.acc.ManifestURL, want: "", reusable: true},
		{name: "segment with prefix query", url: base + "/titles/t-1/seg0.ts?" + q, reusable: true},
		{name: "segment with own query before the signature", url: base + "/titles/t-1/seg0.ts?v=2&" + q, reusable: true},
		{name: "segment with cookie", url: base + "/titles/t-1/seg0.ts", cookies: cookie},
		{name: "segment with cookie and a plain query", url: base + "/titles/t-1/seg0.ts?v=2", cookies: cookie},
		{name: "single signed URL", url: single},
		{name: "just before expiry", url: f.acc.ManifestURL, later: 10*time.Minute - time.Second, reusable: true},

		{name: "nothing", url: base + "/titles/t-1/seg0.ts", want: "signature_missing"},
		{name: "expired query", url: f.acc.ManifestURL, later: 10 * time.Minute, want: "expired"},
		{name: "expired cookie", url: base + "/titles/t-1/seg0.ts", cookies: cookie, later: time.Hour, want: "expired"},
		{name: "tampered signature", url: base + "/titles/t-1/seg0.ts?" + flipped, want: "signature_invalid"},
		{name: "tampered expiry", url: base + "/titles/t-1/seg0.ts?" + laterExp, want: "signature_invalid"},
		{name: "prefix moved to another title", url: base + "/titles/t-2/seg0.ts?" + t2Prefix, want: "signature_invalid"},
		{name: "other title with query", url: base + "/titles/t-2/seg0.ts?" + q, want: "resource_mismatch"},
		{name: "other title with cookie", url: base + "/titles/t-2/seg0.ts", cookies: cookie, want: "resource_mismatch"},
		{name: "other host", url: "https://evil.example.com/titles/t-1/seg0.ts?" + q, want: "resource_mismatch"},
		{name: "path traversal", url: base + "/titles/t-1/../t-2/seg0.ts?" + q, want: "path_not_canonical"},
		{name: "path traversal with cookie", url: base + "/titles/t-1/../t-2/seg0.ts", cookies: cookie, want: "path_not_canonical"},
		{name: "encoded slash", url: base + "/titles/t-1/..%2Ft-2/seg0.ts?" + q, want: "path_not_canonical"},
		{name: "encoded dots", url: base + "/titles/t-1/%2E%2E/t-2/seg0.ts?" + q, want: "path_not_canonical"},
		{name: "dot segment", url: base + "/titles/t-1/./seg0.ts?" + q, want: "path_not_canonical"},
		{name: "double slash", url: base + "/titles/t-1//seg0.ts?" + q, want: "path_not_canonical"},
		{name: "wildcard in id", url: base + "/titles/t-*/seg0.ts?" + q, want: "path_not_canonical"},
		{name: "unknown key", url: base + "/titles/t-1/seg0.ts?" + otherQuery, want: "unknown_key"},
		{name: "signature not last", url: base + "/titles/t-1/seg0.ts?" + q + "&x=1", want: "signature_malformed"},
		{name: "KeyName twice", url: base + "/titles/t-1/seg0.ts?KeyName=k1&" + q, want: "signature_malformed"},
		{name: "single URL on another file", url: strings.Replace(single, "seg0.ts", "seg1.ts", 1), want: "signature_invalid"},
		{name: "single URL with its query changed", url: strings.Replace(single, "quality=hd", "quality=4k", 1), want: "signature_invalid"},
		{name: "cookie fields out of order", url: base + "/titles/t-1/seg0.ts", cookies: badCookie, want: "signature_malformed"},
		{name: "query wins over a valid cookie", url: base + "/titles/t-1/seg0.ts?" + flipped, cookies: cookie, want: "signature_invalid"},
		{name: "prefix that is not http", url: base + "/titles/t-1/seg0.ts?" + ftpQuery, want: "signature_malformed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			v, err := NewVerifier(f.signerKeys(), func() time.Time { return f.now.Add(tt.later) })
			if err != nil {
				t.Fatal(err)
			}
			grant, err := v.Verify(tt.url, tt.cookies)
			if got := reason(err); got != tt.want {
				t.Fatalf("Verify(%s) reason = %q (%v), want %q", tt.url, got, err, tt.want)
			}
			if err != nil {
				return
			}
			if grant.KeyID != "k1" || !grant.Expires.Equal(f.exp) {
				t.Errorf("grant = %+v", grant)
			}
			if (grant.ReusableQuery != "") != tt.reusable || tt.reusable && grant.ReusableQuery != q {
				t.Errorf("ReusableQuery = %q, want reusable=%v (%q)", grant.ReusableQuery, tt.reusable, q)
			}
		})
	}
}

func (f *fixture) signerKeys() []Key { return []Key{f.key} }

func flip(s string) string {
	b := []byte(s)
	if b[0] == 'A' {
		b[0] = 'B'
	} else {
		b[0] = 'A'
	}
	return string(b)
}

func TestVerifyRequestUsesTheRawTarget(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	r, err := http.NewRequest(http.MethodGet, "http://cdn.example.com/titles/t-1/seg0.ts", nil)
	if err != nil {
		t.Fatal(err)
	}
	r.Host = "cdn.example.com"
	r.RequestURI = "/titles/t-1/seg0.ts"
	for _, c := range httpx.Cookies(f.acc.Cookies) {
		r.AddCookie(c)
	}
	// The fixture signed https://; a plain-HTTP request is another URL.
	if _, err := f.verifier.VerifyRequest(r, netip.Addr{}); reason(err) != "resource_mismatch" {
		t.Fatalf("VerifyRequest over http = %v, want resource_mismatch", err)
	}
}

func TestKeyRotation(t *testing.T) {
	t.Parallel()
	oldKey, newKey := GenerateDevKey("old"), GenerateDevKey("new")
	now := time.Now()
	req := playback.SignRequest{BaseURL: base, Prefix: "/titles/t-1/", Manifest: "/titles/t-1/master.m3u8", Expires: now.Add(time.Hour)}

	before, _ := NewKeySet("old", oldKey)
	oldSigner, _ := New(Config{}, before)
	oldAccess, err := oldSigner.Sign(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	// Rotation: the new key is added and made active, the old one stays listed.
	during, err := NewKeySet("new", oldKey, newKey)
	if err != nil {
		t.Fatal(err)
	}
	newSigner, _ := New(Config{}, during)
	newAccess, err := newSigner.Sign(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	if newAccess.KeyID != "new" {
		t.Fatalf("signed with %q after rotation, want new", newAccess.KeyID)
	}
	v, _ := NewVerifier(during.Keys(), nil)
	for _, acc := range []playback.SignedAccess{oldAccess, newAccess} {
		if _, err := v.Verify(acc.ManifestURL, nil); err != nil {
			t.Errorf("during rotation, URL signed by %q: %v", acc.KeyID, err)
		}
	}
	// The old key is removed once its URLs have expired.
	after, _ := NewKeySet("new", newKey)
	v, _ = NewVerifier(after.Keys(), nil)
	if _, err := v.Verify(oldAccess.ManifestURL, nil); reason(err) != "unknown_key" {
		t.Errorf("old key removed: %v, want unknown_key", err)
	}
	if _, err := v.Verify(newAccess.ManifestURL, nil); err != nil {
		t.Errorf("new key after rotation: %v", err)
	}
}
