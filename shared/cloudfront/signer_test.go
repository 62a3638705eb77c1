package cloudfront

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"fmt"
	"net/http"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/feature/cloudfront/sign"

	"github.com/playplane/playplane/shared/httpx"
	"github.com/playplane/playplane/shared/playback"
)

const base = "https://d111.cloudfront.net"

// RSA-2048 generation is slow; tests share a few keys.
var testKeys = sync.OnceValue(func() map[string]Key {
	keys := map[string]Key{}
	for _, k := range []struct {
		id  string
		alg KeyAlgorithm
	}{{"KRSA1", RSA2048}, {"KRSA2", RSA2048}, {"KEC1", ECDSAP256}, {"KEC2", ECDSAP256}} {
		key, err := GenerateDevKey(k.id, k.alg)
		if err != nil {
			panic(err)
		}
		keys[k.id] = key
	}
	return keys
})

func newSigner(t testing.TB, alg HashAlgorithm, active string, ids ...string) *Signer {
	t.Helper()
	var keys []Key
	for _, id := range ids {
		keys = append(keys, testKeys()[id])
	}
	ks, err := NewKeySet(active, keys...)
	if err != nil {
		t.Fatal(err)
	}
	s, err := New(Config{HashAlgorithm: alg}, ks)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// cfDecode is CloudFront's base64, written again here so that the checks
// below do not go through the package's own decoder.
func cfDecode(t *testing.T, s string) []byte {
	t.Helper()
	b, err := base64.StdEncoding.DecodeString(strings.NewReplacer("-", "+", "_", "=", "~", "/").Replace(s))
	if err != nil {
		t.Fatalf("decoding %q: %v", s, err)
	}
	return b
}

// checkSignature verifies sig over policy with the public key through
// crypto/rsa or crypto/ecdsa directly.
func checkSignature(t *testing.T, pub crypto.PublicKey, alg HashAlgorithm, policy string, sig []byte) {
	t.Helper()
	var digest []byte
	h := crypto.SHA1
	if alg == SHA256 {
		d := sha256.Sum256([]byte(policy))
		digest, h = d[:], crypto.SHA256
	} else {
		d := sha1.Sum([]byte(policy))
		digest = d[:]
	}
	switch k := pub.(type) {
	case *rsa.PublicKey:
		if err := rsa.VerifyPKCS1v15(k, h, digest, sig); err != nil {
			t.Fatalf("RSA signature does not verify over %s: %v", policy, err)
		}
	case *ecdsa.PublicKey:
		if !ecdsa.VerifyASN1(k, digest, sig) {
			t.Fatalf("ECDSA signature does not verify over %s", policy)
		}
	default:
		t.Fatalf("key type %T", pub)
	}
}

func TestSignatureVerifiesWithThePublicKey(t *testing.T) {
	t.Parallel()
	exp := time.Now().Add(10 * time.Minute).Truncate(time.Second)
	for _, keyID := range []string{"KRSA1", "KEC1"} {
		for _, alg := range []HashAlgorithm{SHA1, SHA256} {
			for _, ip := range []string{"", "192.0.2.7", "2001:db8::7", "::ffff:198.51.100.9"} {
				t.Run(fmt.Sprintf("%s/%s/ip=%s", keyID, alg, ip), func(t *testing.T) {
					t.Parallel()
					s := newSigner(t, alg, keyID, keyID)
					pub := testKeys()[keyID].Signer.Public()
					req := playback.SignRequest{BaseURL: base, Prefix: "/titles/t-123/", Manifest: "/titles/t-123/master.m3u8",
						Expires: exp.Add(900 * time.Millisecond)}
					wantIP := ""
					if ip != "" {
						req.ClientIP = netip.MustParseAddr(ip)
						a := req.ClientIP.Unmap()
						wantIP = fmt.Sprintf(`"IpAddress":{"AWS:SourceIp":"%s/%d"},`, a, a.BitLen())
					}
					acc, err := s.Sign(context.Background(), req)
					if err != nil {
						t.Fatal(err)
					}
					if !acc.Expires.Equal(exp) || acc.KeyID != keyID {
						t.Errorf("Expires, KeyID = %v, %s; want %v, %s", acc.Expires, acc.KeyID, exp, keyID)
					}
					customPolicy := fmt.Sprintf(`{"Statement":[{"Resource":"%s/titles/t-123/*","Condition":{%s"DateLessThan":{"AWS:EpochTime":%d}}}]}`, base, wantIP, exp.Unix())

					u, err := url.Parse(acc.ManifestURL)
					if err != nil {
						t.Fatal(err)
					}
					q := u.Query()
					if got := u.Scheme + "://" + u.Host + u.Path; got != base+req.Manifest {
						t.Errorf("manifest URL points at %s", got)
					}
					if q.Get("Key-Pair-Id") != keyID {
						t.Errorf("Key-Pair-Id = %q", q.Get("Key-Pair-Id"))
					}
					if wantAlg := map[HashAlgorithm]string{SHA1: "", SHA256: "SHA256"}[alg]; q.Get("Hash-Algorithm") != wantAlg || q.Has("Hash-Algorithm") != (wantAlg != "") {
						t.Errorf("Hash-Algorithm = %q, want %q", q.Get("Hash-Algorithm"), wantAlg)
					}
					if ip == "" {
						// Canned policy, rebuilt from the URL as CloudFront does.
						if q.Get("Expires") != fmt.Sprint(exp.Unix()) || q.Has("Policy") {
							t.Fatalf("manifest URL %s is not a canned-policy URL expiring at %d", acc.ManifestURL, exp.Unix())
						}
						canned := fmt.Sprintf(`{"Statement":[{"Resource":"%s","Condition":{"DateLessThan":{"AWS:EpochTime":%d}}}]}`, base+req.Manifest, exp.Unix())
						checkSignature(t, pub, alg, canned, cfDecode(t, q.Get("Signature")))
					} else {
						// An address binding needs the custom policy.
						if got := string(cfDecode(t, q.Get("Policy"))); got != customPolicy || q.Has("Expires") {
							t.Fatalf("manifest policy = %s, want %s", got, customPolicy)
						}
						checkSignature(t, pub, alg, customPolicy, cfDecode(t, q.Get("Signature")))
					}

					cookies := map[string]*http.Cookie{}
					for _, c := range httpx.Cookies(acc.Cookies) {
						cookies[c.Name] = c
						if c.Path != req.Prefix || !c.HttpOnly || !c.Secure || c.SameSite != http.SameSiteNoneMode {
							t.Errorf("cookie %s has attributes %+v", c.Name, c)
						}
						if err := c.Valid(); err != nil {
							t.Errorf("cookie %s is not valid for Set-Cookie: %v", c.Name, err)
						}
					}
					policy := string(cfDecode(t, cookies["CloudFront-Policy"].Value))
					if policy != customPolicy {
						t.Fatalf("cookie policy = %s, want %s", policy, customPolicy)
					}
					checkSignature(t, pub, alg, policy, cfDecode(t, cookies["CloudFront-Signature"].Value))
					if cookies["CloudFront-Key-Pair-Id"].Value != keyID {
						t.Errorf("CloudFront-Key-Pair-Id = %q", cookies["CloudFront-Key-Pair-Id"].Value)
					}
					wantQuery := "Policy=" + cookies["CloudFront-Policy"].Value + "&Signature=" + cookies["CloudFront-Signature"].Value + "&Key-Pair-Id=" + keyID
					if alg == SHA256 {
						if cookies["CloudFront-Hash-Algorithm"] == nil || cookies["CloudFront-Hash-Algorithm"].Value != "SHA256" {
							t.Errorf("CloudFront-Hash-Algorithm cookie missing")
						}
						wantQuery += "&Hash-Algorithm=SHA256"
					} else if cookies["CloudFront-Hash-Algorithm"] != nil {
						t.Errorf("CloudFront-Hash-Algorithm cookie set for SHA1")
					}
					if acc.QueryParams != wantQuery {
						t.Errorf("QueryParams = %s\nwant %s", acc.QueryParams, wantQuery)
					}
				})
			}
		}
	}
}

// With SHA-1 and RSA (deterministic PKCS#1 v1.5) the signer must produce
// exactly what the AWS SDK produces.
func TestSHA1OutputEqualsTheSDK(t *testing.T) {
	t.Parallel()
	key := testKeys()["KRSA1"]
	s := newSigner(t, SHA1, "KRSA1", "KRSA1")
	sdk := sign.NewURLSigner("KRSA1", key.Signer)
	exp := time.Now().Add(time.Hour)

	for _, raw := range []string{base + "/titles/t-1/master.m3u8", base + "/titles/t-1/master.m3u8?lang=en&x=1"} {
		got, err := s.SignCannedURL(raw, exp)
		if err != nil {
			t.Fatal(err)
		}
		want, err := sdk.Sign(raw, exp)
		if err != nil {
			t.Fatal(err)
		}
		if got != want {
			t.Errorf("canned URL\n got %s\nwant %s (SDK)", got, want)
		}
	}

	acc, err := s.Sign(context.Background(), playback.SignRequest{BaseURL: base, Prefix: "/titles/t-1/", Manifest: "/titles/t-1/master.m3u8",
		Expires: exp, ClientIP: netip.MustParseAddr("192.0.2.7")})
	if err != nil {
		t.Fatal(err)
	}
	want, err := sdk.SignWithPolicy(base+"/titles/t-1/master.m3u8", &sign.Policy{Statements: []sign.Statement{{
		Resource: base + "/titles/t-1/*",
		Condition: sign.Condition{
			IPAddress:    &sign.IPAddress{SourceIP: "192.0.2.7/32"},
			DateLessThan: sign.NewAWSEpochTime(time.Unix(exp.Unix(), 0)),
		},
	}}})
	if err != nil {
		t.Fatal(err)
	}
	if acc.ManifestURL != want {
		t.Errorf("custom-policy URL\n got %s\nwant %s (SDK)", acc.ManifestURL, want)
	}
}

func TestSignRejectsUnsafeRequests(t *testing.T) {
	t.Parallel()
	s := newSigner(t, SHA256, "KEC1", "KEC1")
	good := playback.SignRequest{BaseURL: base, Prefix: "/titles/t-1/", Manifest: "/titles/t-1/master.m3u8", Expires: time.Now().Add(time.Hour)}
	tests := []struct {
		name   string
		modify func(*playback.SignRequest)
	}{
		{"base with path", func(r *playback.SignRequest) { r.BaseURL += "/x" }},
		{"base with userinfo", func(r *playback.SignRequest) { r.BaseURL = "https://u@d111.cloudfront.net" }},
		{"wildcard id", func(r *playback.SignRequest) { r.Prefix, r.Manifest = "/titles/*/", "/titles/*/master.m3u8" }},
		{"question mark id", func(r *playback.SignRequest) { r.Prefix, r.Manifest = "/titles/t-?/", "/titles/t-?/master.m3u8" }},
		{"dot dot", func(r *playback.SignRequest) { r.Prefix, r.Manifest = "/titles/t-1/../", "/titles/t-1/../m.m3u8" }},
		{"encoded slash", func(r *playback.SignRequest) { r.Prefix, r.Manifest = "/titles/t-1%2F/", "/titles/t-1%2F/m.m3u8" }},
		{"quote", func(r *playback.SignRequest) { r.Prefix, r.Manifest = `/titles/t"1/`, `/titles/t"1/m.m3u8` }},
		{"manifest elsewhere", func(r *playback.SignRequest) { r.Manifest = "/titles/t-2/master.m3u8" }},
		{"expired", func(r *playback.SignRequest) { r.Expires = time.Now().Add(-time.Minute) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			req := good
			tt.modify(&req)
			if _, err := s.Sign(context.Background(), req); !playback.IsCode(err, playback.CodeInvalid) {
				t.Errorf("Sign(%+v) = %v, want invalid", req, err)
			}
		})
	}
	for _, raw := range []string{"ftp://x/a", base + "/a?Expires=1", base + "/a?x=1&Key-Pair-Id=K", base + "/a#frag", base + "/é", base + "/a*"} {
		if _, err := s.SignCannedURL(raw, time.Now().Add(time.Hour)); err == nil {
			t.Errorf("SignCannedURL(%q) succeeded", raw)
		}
	}
	if _, _, err := s.SignPolicy(Policy{Resource: base + "/*"}); err == nil {
		t.Error("SignPolicy without DateLessThan succeeded")
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := s.Sign(ctx, good); err == nil {
		t.Error("Sign with a cancelled context succeeded")
	}
}

func pemOf(t *testing.T, typ string, der []byte) string {
	t.Helper()
	return string(pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}))
}

func TestParseKeySet(t *testing.T) {
	t.Parallel()
	rsaKey := testKeys()["KRSA1"].Signer.(*rsa.PrivateKey)
	ecKey := testKeys()["KEC1"].Signer.(*ecdsa.PrivateKey)
	pkcs1 := pemOf(t, "RSA PRIVATE KEY", x509.MarshalPKCS1PrivateKey(rsaKey))
	ecDER, err := x509.MarshalPKCS8PrivateKey(ecKey)
	if err != nil {
		t.Fatal(err)
	}
	pkcs8 := pemOf(t, "PRIVATE KEY", ecDER)
	sec1DER, err := x509.MarshalECPrivateKey(testKeys()["KEC2"].Signer.(*ecdsa.PrivateKey))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	sec1Path := filepath.Join(dir, "kec2.pem")
	if err := os.WriteFile(sec1Path, []byte(pemOf(t, "EC PRIVATE KEY", sec1DER)), 0o600); err != nil {
		t.Fatal(err)
	}
	small, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	p384, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	p384DER, _ := x509.MarshalPKCS8PrivateKey(p384)
	env := map[string]string{
		"CF_RSA":     pkcs1,
		"CF_EC_B64":  base64.StdEncoding.EncodeToString([]byte(pkcs8)),
		"CF_SMALL":   pemOf(t, "RSA PRIVATE KEY", x509.MarshalPKCS1PrivateKey(small)),
		"CF_P384":    pemOf(t, "PRIVATE KEY", p384DER),
		"CF_GARBAGE": "not a key",
	}
	lookup := func(name string) (string, bool) { v, ok := env[name]; return v, ok }

	ks, err := ParseKeySet("KRSA1=env:CF_RSA, KEC1=env:CF_EC_B64, KEC2=file:"+sec1Path, "KEC1", lookup)
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(ks.IDs(), ","); got != "KRSA1,KEC1,KEC2" {
		t.Errorf("IDs = %s", got)
	}
	if !ks.Active().Signer.Public().(*ecdsa.PublicKey).Equal(ecKey.Public()) {
		t.Error("active key is not KEC1")
	}
	pubs := ks.PublicKeys()
	if !pubs["KRSA1"].(*rsa.PublicKey).Equal(rsaKey.Public()) {
		t.Error("KRSA1 public key differs")
	}

	bad := []struct{ name, spec, active string }{
		{"relative file", "K1=file:keys/k1.pem", "K1"},
		{"missing file", "K1=file:" + filepath.Join(dir, "nope.pem"), "K1"},
		{"missing env", "K1=env:NOPE", "K1"},
		{"RSA 1024", "K1=env:CF_SMALL", "K1"},
		{"P-384", "K1=env:CF_P384", "K1"},
		{"garbage", "K1=env:CF_GARBAGE", "K1"},
		{"bad id", "K 1=env:CF_RSA", "K 1"},
		{"duplicate id", "K1=env:CF_RSA,K1=env:CF_RSA", "K1"},
		{"unknown active", "K1=env:CF_RSA", "K2"},
		{"no keys", "", "K1"},
		{"inline key without id", base64.StdEncoding.EncodeToString([]byte(pkcs1)), "K1"},
	}
	for _, tt := range bad {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := ParseKeySet(tt.spec, tt.active, lookup)
			if err == nil {
				t.Fatalf("ParseKeySet(%q) succeeded", tt.spec)
			}
			if strings.Contains(err.Error(), "PRIVATE KEY") || len(err.Error()) > 400 {
				t.Errorf("error may leak key material: %v", err)
			}
		})
	}

	inline, err := ParseKeySet("KRSA1="+pkcs1, "KRSA1", lookup)
	if err != nil {
		t.Fatalf("inline PEM: %v", err)
	}
	if !inline.Active().Signer.Public().(*rsa.PublicKey).Equal(rsaKey.Public()) {
		t.Error("inline PEM parsed to another key")
	}
}

// TestNewChecksTheCookieDomain: a cookie domain net/http would drop from
// Set-Cookie (it logs and sends a host-only cookie, which never reaches a
// CDN on another host) stops New, while the answer's cookies would still
// name it.
func TestNewChecksTheCookieDomain(t *testing.T) {
	t.Parallel()
	ks, err := NewKeySet("KEC1", testKeys()["KEC1"])
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, domain string
		ok           bool
	}{
		{"host-only", "", true},
		{"parent domain", ".media.example.com", true},
		{"host", "d111.cloudfront.net", true},
		{"with a port", "d111.cloudfront.net:443", false},
		{"wildcard", "*.example.com", false},
		{"empty label", "media..example.com", false},
		{"label starting with a hyphen", "-cdn.example.com", false},
		{"URL", "https://d111.cloudfront.net", false},
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

// TestParsePrivateKeyAfterECParameters: `openssl ecparam -genkey -name
// prime256v1` without -noout writes the curve's EC PARAMETERS block before
// the EC PRIVATE KEY; the key file is read as OpenSSL reads it, past the
// parameters.
func TestParsePrivateKeyAfterECParameters(t *testing.T) {
	t.Parallel()
	ecKey := testKeys()["KEC2"].Signer.(*ecdsa.PrivateKey)
	sec1DER, err := x509.MarshalECPrivateKey(ecKey)
	if err != nil {
		t.Fatal(err)
	}
	// The DER of the prime256v1 OID, as openssl ecparam writes it.
	params := pemOf(t, "EC PARAMETERS", []byte{0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07})
	withParams := params + pemOf(t, "EC PRIVATE KEY", sec1DER)
	for _, tc := range []struct{ name, material string }{
		{"PEM", withParams},
		{"base64 of PEM", base64.StdEncoding.EncodeToString([]byte(withParams))},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			signer, err := ParsePrivateKey([]byte(tc.material))
			if err != nil {
				t.Fatalf("ParsePrivateKey: %v", err)
			}
			if !ecKey.PublicKey.Equal(signer.Public()) {
				t.Fatal("parsed another key")
			}
		})
	}
	if _, err := ParsePrivateKey([]byte(params)); err == nil {
		t.Error("EC PARAMETERS alone parsed as a key")
	}
}
