package auth

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/MicahParks/jwkset"
	"github.com/golang-jwt/jwt/v5"
	"github.com/sethvargo/go-envconfig"

	"github.com/playplane/playplane/shared/playback"
)

const (
	testIssuer   = "https://id.playplane.test/"
	testAudience = "playplane-api"
)

var testNow = time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)

func randomKey(t testing.TB) []byte {
	t.Helper()
	key := make([]byte, MinKeyBytes)
	if _, err := rand.Read(key); err != nil {
		t.Fatal(err)
	}
	return key
}

func keySpec(kid string, key []byte) string {
	return kid + ":" + base64.StdEncoding.EncodeToString(key)
}

func newTestVerifier(t testing.TB, cfg VerifierConfig) *Verifier {
	t.Helper()
	if cfg.Issuer == "" {
		cfg.Issuer = testIssuer
	}
	if cfg.Audience == "" {
		cfg.Audience = testAudience
	}
	v, err := NewVerifier(cfg)
	if err != nil {
		t.Fatalf("NewVerifier: %v", err)
	}
	v.now = func() time.Time { return testNow }
	t.Cleanup(v.Close)
	return v
}

func baseClaims() jwt.MapClaims {
	return jwt.MapClaims{
		"iss": testIssuer,
		"aud": testAudience,
		"sub": "acc_1",
		"exp": testNow.Add(time.Hour).Unix(),
		"iat": testNow.Add(-time.Minute).Unix(),
		"jti": "tok_1",
	}
}

// sign signs claims (baseClaims changed by edit) with header fields set
// (or removed when nil).
func sign(t testing.TB, method jwt.SigningMethod, key any, header map[string]any, edit func(jwt.MapClaims)) string {
	t.Helper()
	claims := baseClaims()
	if edit != nil {
		edit(claims)
	}
	tok := jwt.NewWithClaims(method, claims)
	for k, v := range header {
		if v == nil {
			delete(tok.Header, k)
		} else {
			tok.Header[k] = v
		}
	}
	s, err := tok.SignedString(key)
	if err != nil {
		t.Fatalf("signing: %v", err)
	}
	return s
}

// rawToken builds header.claims.signature by hand, for tokens no library
// would sign. macKey, if set, HMAC-signs the signing input.
func rawToken(t testing.TB, header map[string]any, claims jwt.MapClaims, macKey []byte) string {
	t.Helper()
	h, err := json.Marshal(header)
	if err != nil {
		t.Fatal(err)
	}
	c, err := json.Marshal(claims)
	if err != nil {
		t.Fatal(err)
	}
	input := base64.RawURLEncoding.EncodeToString(h) + "." + base64.RawURLEncoding.EncodeToString(c)
	sig := []byte("not-a-signature")
	if macKey != nil {
		m := hmac.New(sha256.New, macKey)
		m.Write([]byte(input))
		sig = m.Sum(nil)
	}
	return input + "." + base64.RawURLEncoding.EncodeToString(sig)
}

func wantReason(t *testing.T, err error, code playback.Code, reason string) {
	t.Helper()
	var pe *playback.Error
	if !errors.As(err, &pe) {
		t.Fatalf("error = %v (%T), want *playback.Error %s/%s", err, err, code, reason)
	}
	if pe.Code != code || pe.Reason != reason {
		t.Fatalf("error = %v, want %s/%s", err, code, reason)
	}
}

func TestVerifyHS256(t *testing.T) {
	t.Parallel()
	key := randomKey(t)
	otherKey := randomKey(t)
	v := newTestVerifier(t, VerifierConfig{
		HS256Keys: keySpec("dev1", key) + "," + keySpec("dev2", otherKey),
		Leeway:    30 * time.Second,
	})
	kid := func(k string) map[string]any { return map[string]any{"kid": k} }
	minted, err := MintHS256("dev1", key, testIssuer, testAudience, "acc_minted", time.Hour, testNow)
	if err != nil {
		t.Fatal(err)
	}
	tampered := func() string {
		good := sign(t, jwt.SigningMethodHS256, key, kid("dev1"), nil)
		parts := strings.Split(good, ".")
		c := baseClaims()
		c["sub"] = "acc_victim"
		b, _ := json.Marshal(c)
		return parts[0] + "." + base64.RawURLEncoding.EncodeToString(b) + "." + parts[2]
	}()
	rsaKey := testRSAKey(t)

	cases := []struct {
		name    string
		token   string
		wantSub string
		code    playback.Code
		reason  string
	}{
		{name: "good", token: sign(t, jwt.SigningMethodHS256, key, kid("dev1"), nil), wantSub: "acc_1"},
		{name: "second key", token: sign(t, jwt.SigningMethodHS256, otherKey, kid("dev2"), nil), wantSub: "acc_1"},
		{name: "minted", token: minted, wantSub: "acc_minted"},
		{name: "audience list", token: sign(t, jwt.SigningMethodHS256, key, kid("dev1"), func(c jwt.MapClaims) {
			c["aud"] = []string{"other", testAudience}
		}), wantSub: "acc_1"},
		{name: "expired within leeway", token: sign(t, jwt.SigningMethodHS256, key, kid("dev1"), func(c jwt.MapClaims) {
			c["exp"] = testNow.Add(-10 * time.Second).Unix()
		}), wantSub: "acc_1"},
		{name: "expired beyond leeway", token: sign(t, jwt.SigningMethodHS256, key, kid("dev1"), func(c jwt.MapClaims) {
			c["exp"] = testNow.Add(-31 * time.Second).Unix()
		}), code: playback.CodeUnauthenticated, reason: ReasonTokenExpired},
		{name: "no exp", token: sign(t, jwt.SigningMethodHS256, key, kid("dev1"), func(c jwt.MapClaims) {
			delete(c, "exp")
		}), code: playback.CodeUnauthenticated, reason: ReasonTokenMalformed},
		{name: "not yet valid", token: sign(t, jwt.SigningMethodHS256, key, kid("dev1"), func(c jwt.MapClaims) {
			c["nbf"] = testNow.Add(time.Minute).Unix()
		}), code: playback.CodeUnauthenticated, reason: ReasonTokenNotYetValid},
		{name: "issued in the future", token: sign(t, jwt.SigningMethodHS256, key, kid("dev1"), func(c jwt.MapClaims) {
			c["iat"] = testNow.Add(time.Minute).Unix()
		}), code: playback.CodeUnauthenticated, reason: ReasonTokenNotYetValid},
		{name: "wrong issuer", token: sign(t, jwt.SigningMethodHS256, key, kid("dev1"), func(c jwt.MapClaims) {
			c["iss"] = "https://evil.test/"
		}), code: playback.CodeUnauthenticated, reason: ReasonTokenIssuer},
		{name: "wrong audience", token: sign(t, jwt.SigningMethodHS256, key, kid("dev1"), func(c jwt.MapClaims) {
			c["aud"] = "someone-else"
		}), code: playback.CodeUnauthenticated, reason: ReasonTokenAudience},
		{name: "no audience", token: sign(t, jwt.SigningMethodHS256, key, kid("dev1"), func(c jwt.MapClaims) {
			delete(c, "aud")
		}), code: playback.CodeUnauthenticated, reason: ReasonTokenAudience},
		{name: "empty subject", token: sign(t, jwt.SigningMethodHS256, key, kid("dev1"), func(c jwt.MapClaims) {
			c["sub"] = ""
		}), code: playback.CodeUnauthenticated, reason: ReasonTokenSubject},
		{name: "forged signature", token: sign(t, jwt.SigningMethodHS256, randomKey(t), kid("dev1"), nil),
			code: playback.CodeUnauthenticated, reason: ReasonTokenSignature},
		{name: "signed by the other key", token: sign(t, jwt.SigningMethodHS256, otherKey, kid("dev1"), nil),
			code: playback.CodeUnauthenticated, reason: ReasonTokenSignature},
		{name: "tampered claims", token: tampered, code: playback.CodeUnauthenticated, reason: ReasonTokenSignature},
		{name: "unknown kid", token: sign(t, jwt.SigningMethodHS256, key, kid("dev9"), nil),
			code: playback.CodeUnauthenticated, reason: ReasonTokenKeyUnknown},
		{name: "no kid", token: sign(t, jwt.SigningMethodHS256, key, nil, nil),
			code: playback.CodeUnauthenticated, reason: ReasonTokenKeyUnknown},
		{name: "kid not a string", token: sign(t, jwt.SigningMethodHS256, key, map[string]any{"kid": 7}, nil),
			code: playback.CodeUnauthenticated, reason: ReasonTokenMalformed},
		{name: "crit header", token: sign(t, jwt.SigningMethodHS256, key, map[string]any{"kid": "dev1", "crit": []string{"exp"}}, nil),
			code: playback.CodeUnauthenticated, reason: ReasonTokenMalformed},
		{name: "alg none", token: sign(t, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, kid("dev1"), nil),
			code: playback.CodeUnauthenticated, reason: ReasonTokenAlgorithm},
		{name: "alg HS512", token: sign(t, jwt.SigningMethodHS512, key, kid("dev1"), nil),
			code: playback.CodeUnauthenticated, reason: ReasonTokenAlgorithm},
		{name: "alg unknown", token: rawToken(t, map[string]any{"alg": "XYZ", "kid": "dev1"}, baseClaims(), key),
			code: playback.CodeUnauthenticated, reason: ReasonTokenAlgorithm},
		{name: "alg missing", token: rawToken(t, map[string]any{"kid": "dev1"}, baseClaims(), key),
			code: playback.CodeUnauthenticated, reason: ReasonTokenAlgorithm},
		{name: "RS256 without JWKS", token: sign(t, jwt.SigningMethodRS256, rsaKey, kid("rsa1"), nil),
			code: playback.CodeUnauthenticated, reason: ReasonTokenAlgorithm},
		{name: "empty", token: "", code: playback.CodeUnauthenticated, reason: ReasonTokenMissing},
		{name: "garbage", token: "not-a-token", code: playback.CodeUnauthenticated, reason: ReasonTokenMalformed},
		{name: "bad base64", token: "a.b.c", code: playback.CodeUnauthenticated, reason: ReasonTokenMalformed},
		{name: "playback token", token: mustIssue(t, NewDevKeyring(), testClaims(testNow)),
			code: playback.CodeUnauthenticated, reason: ReasonTokenMalformed},
		{name: "oversized", token: strings.Repeat("a", maxJWTLen+1),
			code: playback.CodeUnauthenticated, reason: ReasonTokenMalformed},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			id, err := v.Verify(context.Background(), tc.token)
			if tc.reason != "" {
				wantReason(t, err, tc.code, tc.reason)
				return
			}
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			if id.AccountID != tc.wantSub || id.Issuer != testIssuer || id.ExpiresAt.IsZero() || id.TokenID == "" {
				t.Fatalf("identity = %+v, want sub %q from %q with exp and jti", id, tc.wantSub, testIssuer)
			}
			found := false
			for _, a := range id.Audience {
				found = found || a == testAudience
			}
			if !found {
				t.Fatalf("audience = %v, want it to contain %q", id.Audience, testAudience)
			}
		})
	}
}

func TestVerifyReturnsClaims(t *testing.T) {
	t.Parallel()
	key := randomKey(t)
	v := newTestVerifier(t, VerifierConfig{HS256Keys: keySpec("dev1", key)})
	token := sign(t, jwt.SigningMethodHS256, key, map[string]any{"kid": "dev1"}, nil)
	id, err := v.Verify(context.Background(), token)
	if err != nil {
		t.Fatal(err)
	}
	want := Identity{
		AccountID: "acc_1",
		Issuer:    testIssuer,
		Audience:  []string{testAudience},
		ExpiresAt: testNow.Add(time.Hour),
		TokenID:   "tok_1",
	}
	if id.AccountID != want.AccountID || id.Issuer != want.Issuer || len(id.Audience) != 1 ||
		id.Audience[0] != testAudience || !id.ExpiresAt.Equal(want.ExpiresAt) || id.TokenID != want.TokenID {
		t.Fatalf("identity = %+v, want %+v", id, want)
	}
}

func TestAuthenticate(t *testing.T) {
	t.Parallel()
	key := randomKey(t)
	v := newTestVerifier(t, VerifierConfig{HS256Keys: keySpec("dev1", key)})
	good := sign(t, jwt.SigningMethodHS256, key, map[string]any{"kid": "dev1"}, nil)
	cases := []struct {
		name   string
		header string
		reason string
	}{
		{name: "bearer", header: "Bearer " + good},
		{name: "scheme is case-insensitive", header: "bearer " + good},
		{name: "missing", header: "", reason: ReasonTokenMissing},
		{name: "empty token", header: "Bearer ", reason: ReasonTokenMissing},
		{name: "basic", header: "Basic dXNlcjpwYXNz", reason: ReasonTokenMalformed},
		{name: "no scheme", header: good, reason: ReasonTokenMalformed},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := httptest.NewRequest(http.MethodGet, "/v1/play", nil)
			if tc.header != "" {
				r.Header.Set("Authorization", tc.header)
			}
			id, err := v.Authenticate(r)
			if tc.reason != "" {
				wantReason(t, err, playback.CodeUnauthenticated, tc.reason)
				return
			}
			if err != nil || id.AccountID != "acc_1" {
				t.Fatalf("Authenticate = %+v, %v; want acc_1", id, err)
			}
		})
	}
}

func TestNewVerifierConfig(t *testing.T) {
	t.Parallel()
	hs := keySpec("dev1", randomKey(t))
	cases := []struct {
		name    string
		cfg     VerifierConfig
		wantErr string
	}{
		{name: "hs256 only", cfg: VerifierConfig{Issuer: testIssuer, Audience: testAudience, HS256Keys: hs}},
		{name: "jwks only", cfg: VerifierConfig{Issuer: testIssuer, Audience: testAudience, JWKSURL: "https://id.example.com/.well-known/jwks.json"}},
		{name: "jwks on loopback http", cfg: VerifierConfig{Issuer: testIssuer, Audience: testAudience, JWKSURL: "http://127.0.0.1:9/jwks"}},
		{name: "no issuer", cfg: VerifierConfig{Audience: testAudience, HS256Keys: hs}, wantErr: "issuer"},
		{name: "no audience", cfg: VerifierConfig{Issuer: testIssuer, HS256Keys: hs}, wantErr: "audience"},
		{name: "no keys", cfg: VerifierConfig{Issuer: testIssuer, Audience: testAudience}, wantErr: "HS256 keys or a JWKS URL"},
		{name: "short key", cfg: VerifierConfig{Issuer: testIssuer, Audience: testAudience, HS256Keys: keySpec("k", make([]byte, 16))}, wantErr: "at least 32"},
		{name: "key not base64", cfg: VerifierConfig{Issuer: testIssuer, Audience: testAudience, HS256Keys: "k:%%%"}, wantErr: "base64"},
		{name: "plain http remote", cfg: VerifierConfig{Issuer: testIssuer, Audience: testAudience, JWKSURL: "http://id.example.com/jwks"}, wantErr: "loopback"},
		{name: "odd scheme", cfg: VerifierConfig{Issuer: testIssuer, Audience: testAudience, JWKSURL: "ftp://id.example.com/jwks"}, wantErr: "https"},
		{name: "negative leeway", cfg: VerifierConfig{Issuer: testIssuer, Audience: testAudience, HS256Keys: hs, Leeway: -time.Second}, wantErr: "negative"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			v, err := NewVerifier(tc.cfg)
			if tc.wantErr == "" {
				if err != nil {
					t.Fatalf("NewVerifier: %v", err)
				}
				v.Close()
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("NewVerifier error = %v, want it to mention %q", err, tc.wantErr)
			}
		})
	}
}

func TestVerifierConfigFromEnv(t *testing.T) {
	t.Parallel()
	var cfg VerifierConfig
	err := envconfig.Process(context.Background(), &envconfig.Config{
		Target: &cfg,
		Lookuper: envconfig.MapLookuper(map[string]string{
			"JWT_ISSUER":   testIssuer,
			"JWT_AUDIENCE": testAudience,
			"JWT_JWKS_URL": "https://id.example.com/jwks",
		}),
	})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Leeway != 30*time.Second || cfg.JWKSRefresh != time.Hour || cfg.JWKSTimeout != 5*time.Second || cfg.Issuer != testIssuer {
		t.Fatalf("config = %+v, want defaults 30s, 1h, 5s", cfg)
	}
	err = envconfig.Process(context.Background(), &envconfig.Config{
		Target:   &VerifierConfig{},
		Lookuper: envconfig.MapLookuper(map[string]string{"JWT_AUDIENCE": testAudience}),
	})
	if err == nil {
		t.Fatal("missing JWT_ISSUER was accepted")
	}
}

// Identity provider keys, generated once: RSA generation is slow.
var testKeys = sync.OnceValues(func() (*rsa.PrivateKey, *ecdsa.PrivateKey) {
	r, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic(err)
	}
	e, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		panic(err)
	}
	return r, e
})

func testRSAKey(testing.TB) *rsa.PrivateKey  { r, _ := testKeys(); return r }
func testECKey(testing.TB) *ecdsa.PrivateKey { _, e := testKeys(); return e }

// jwksServer serves a JWK Set on 127.0.0.1 and can be made to fail.
type jwksServer struct {
	*httptest.Server
	requests atomic.Int64
	failing  atomic.Bool
}

func newJWKSServer(t testing.TB) *jwksServer {
	t.Helper()
	store := jwkset.NewMemoryStorage()
	for _, k := range []struct {
		key any
		kid string
		alg jwkset.ALG
	}{
		{&testRSAKey(t).PublicKey, "rsa1", jwkset.AlgRS256},
		{&testECKey(t).PublicKey, "ec1", jwkset.AlgES256},
	} {
		jwk, err := jwkset.NewJWKFromKey(k.key, jwkset.JWKOptions{
			Metadata: jwkset.JWKMetadataOptions{KID: k.kid, ALG: k.alg, USE: jwkset.UseSig},
		})
		if err != nil {
			t.Fatal(err)
		}
		if err := store.KeyWrite(context.Background(), jwk); err != nil {
			t.Fatal(err)
		}
	}
	body, err := store.JSONPublic(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	s := &jwksServer{}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.requests.Add(1)
		if s.failing.Load() {
			http.Error(w, "identity provider down", http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(body)
	}))
	t.Cleanup(s.Close)
	return s
}

func publicKeyPEM(t testing.TB, pub any) []byte {
	t.Helper()
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
}

func TestVerifyJWKS(t *testing.T) {
	t.Parallel()
	srv := newJWKSServer(t)
	hsKey := randomKey(t)
	jwksOnly := newTestVerifier(t, VerifierConfig{JWKSURL: srv.URL})
	both := newTestVerifier(t, VerifierConfig{JWKSURL: srv.URL, HS256Keys: keySpec("dev1", hsKey)})
	rsaKey, ecKey := testRSAKey(t), testECKey(t)
	otherRSA, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	rsaPEM := publicKeyPEM(t, &rsaKey.PublicKey)
	kid := func(k string) map[string]any { return map[string]any{"kid": k} }
	minted, err := MintHS256("dev1", hsKey, testIssuer, testAudience, "acc_1", time.Hour, testNow)
	if err != nil {
		t.Fatal(err)
	}

	cases := []struct {
		name     string
		verifier *Verifier
		token    string
		reason   string
	}{
		{name: "RS256", token: sign(t, jwt.SigningMethodRS256, rsaKey, kid("rsa1"), nil)},
		{name: "ES256", token: sign(t, jwt.SigningMethodES256, ecKey, kid("ec1"), nil)},
		{name: "RS256 without kid", token: sign(t, jwt.SigningMethodRS256, rsaKey, nil, nil)},
		{name: "ES256 without kid", token: sign(t, jwt.SigningMethodES256, ecKey, nil, nil)},
		{name: "HS256 next to JWKS", verifier: both, token: minted},
		{name: "RS256 next to HS256 keys", verifier: both, token: sign(t, jwt.SigningMethodRS256, rsaKey, kid("rsa1"), nil)},
		{name: "RS256 expired", token: sign(t, jwt.SigningMethodRS256, rsaKey, kid("rsa1"), func(c jwt.MapClaims) {
			c["exp"] = testNow.Add(-time.Hour).Unix()
		}), reason: ReasonTokenExpired},
		{name: "RS256 wrong audience", token: sign(t, jwt.SigningMethodRS256, rsaKey, kid("rsa1"), func(c jwt.MapClaims) {
			c["aud"] = "other"
		}), reason: ReasonTokenAudience},
		{name: "RS256 forged", token: sign(t, jwt.SigningMethodRS256, otherRSA, kid("rsa1"), nil), reason: ReasonTokenSignature},
		{name: "RS256 forged without kid", token: sign(t, jwt.SigningMethodRS256, otherRSA, nil, nil), reason: ReasonTokenSignature},
		{name: "ES256 header on RSA key", token: sign(t, jwt.SigningMethodES256, ecKey, kid("rsa1"), nil), reason: ReasonTokenAlgorithm},
		{name: "RS256 header on EC key", token: sign(t, jwt.SigningMethodRS256, rsaKey, kid("ec1"), nil), reason: ReasonTokenAlgorithm},
		{name: "key confusion RS256 header HMAC with public key",
			token:  rawToken(t, map[string]any{"alg": "RS256", "kid": "rsa1", "typ": "JWT"}, baseClaims(), rsaPEM),
			reason: ReasonTokenAlgorithm},
		{name: "key confusion HS256 header HMAC with public key",
			token:  rawToken(t, map[string]any{"alg": "HS256", "kid": "rsa1", "typ": "JWT"}, baseClaims(), rsaPEM),
			reason: ReasonTokenAlgorithm},
		{name: "key confusion HS256 header next to HS256 keys", verifier: both,
			token:  rawToken(t, map[string]any{"alg": "HS256", "kid": "rsa1", "typ": "JWT"}, baseClaims(), rsaPEM),
			reason: ReasonTokenKeyUnknown},
		{name: "HS256 with only JWKS", token: minted, reason: ReasonTokenAlgorithm},
		{name: "alg none", token: sign(t, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, kid("rsa1"), nil), reason: ReasonTokenAlgorithm},
		{name: "PS256", token: sign(t, jwt.SigningMethodPS256, rsaKey, kid("rsa1"), nil), reason: ReasonTokenAlgorithm},
		{name: "unknown kid", token: sign(t, jwt.SigningMethodRS256, rsaKey, kid("rsa-next"), nil), reason: ReasonTokenKeyUnknown},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			v := tc.verifier
			if v == nil {
				v = jwksOnly
			}
			id, err := v.Verify(context.Background(), tc.token)
			if tc.reason != "" {
				wantReason(t, err, playback.CodeUnauthenticated, tc.reason)
				return
			}
			if err != nil || id.AccountID != "acc_1" {
				t.Fatalf("Verify = %+v, %v; want acc_1", id, err)
			}
		})
	}
}

func TestJWKSFetchedLazilyOnce(t *testing.T) {
	t.Parallel()
	srv := newJWKSServer(t)
	v := newTestVerifier(t, VerifierConfig{JWKSURL: srv.URL})
	if n := srv.requests.Load(); n != 0 {
		t.Fatalf("NewVerifier made %d requests, want none", n)
	}
	token := sign(t, jwt.SigningMethodRS256, testRSAKey(t), map[string]any{"kid": "rsa1"}, nil)
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for range 16 {
		wg.Go(func() {
			_, err := v.Verify(context.Background(), token)
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatalf("Verify: %v", err)
		}
	}
	if n := srv.requests.Load(); n != 1 {
		t.Fatalf("16 concurrent first verifications made %d fetches, want 1", n)
	}
}

func TestJWKSUnavailable(t *testing.T) {
	t.Parallel()
	token := sign(t, jwt.SigningMethodRS256, testRSAKey(t), map[string]any{"kid": "rsa1"}, nil)
	closed := newJWKSServer(t)
	closed.Close()
	erroring := newJWKSServer(t)
	erroring.failing.Store(true)
	for _, tc := range []struct {
		name string
		url  string
	}{
		{name: "server down", url: closed.URL},
		{name: "server error", url: erroring.URL},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			v := newTestVerifier(t, VerifierConfig{JWKSURL: tc.url})
			_, err := v.Verify(context.Background(), token)
			wantReason(t, err, playback.CodeUnavailable, ReasonKeysUnavailable)
			if !playback.ErrorCode(err).Retryable() {
				t.Fatalf("error %v is not retryable", err)
			}
		})
	}
}

func TestJWKSRecoversAfterOutage(t *testing.T) {
	t.Parallel()
	srv := newJWKSServer(t)
	srv.failing.Store(true)
	v := newTestVerifier(t, VerifierConfig{JWKSURL: srv.URL})
	setBackoff := func(d time.Duration) {
		v.jwks.mu.Lock()
		v.jwks.retryBackoff = d
		v.jwks.mu.Unlock()
	}
	// Long enough that a loaded machine cannot outlast it between calls.
	setBackoff(time.Hour)
	token := sign(t, jwt.SigningMethodRS256, testRSAKey(t), map[string]any{"kid": "rsa1"}, nil)

	_, err := v.Verify(context.Background(), token)
	wantReason(t, err, playback.CodeUnavailable, ReasonKeysUnavailable)
	// Within the backoff the failure is answered from memory.
	_, err = v.Verify(context.Background(), token)
	wantReason(t, err, playback.CodeUnavailable, ReasonKeysUnavailable)
	if n := srv.requests.Load(); n != 1 {
		t.Fatalf("%d fetches within the retry backoff, want 1", n)
	}

	srv.failing.Store(false)
	setBackoff(0)
	if _, err := v.Verify(context.Background(), token); err != nil {
		t.Fatalf("Verify after recovery: %v", err)
	}
}

func TestJWKSOutageAfterLoad(t *testing.T) {
	t.Parallel()
	srv := newJWKSServer(t)
	v := newTestVerifier(t, VerifierConfig{JWKSURL: srv.URL})
	known := sign(t, jwt.SigningMethodRS256, testRSAKey(t), map[string]any{"kid": "rsa1"}, nil)
	if _, err := v.Verify(context.Background(), known); err != nil {
		t.Fatal(err)
	}
	srv.failing.Store(true)
	if _, err := v.Verify(context.Background(), known); err != nil {
		t.Fatalf("cached key stopped working during an outage: %v", err)
	}
	// An unknown kid may be a key the provider just rotated in; when the
	// refetch fails that is worth a retry, not a 401.
	unknown := sign(t, jwt.SigningMethodRS256, testRSAKey(t), map[string]any{"kid": "rsa-next"}, nil)
	_, err := v.Verify(context.Background(), unknown)
	wantReason(t, err, playback.CodeUnavailable, ReasonKeysUnavailable)
}

func TestJWKSWaitHonoursContext(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
		http.Error(w, "late", http.StatusServiceUnavailable)
	}))
	t.Cleanup(srv.Close)
	t.Cleanup(func() { close(release) })
	v := newTestVerifier(t, VerifierConfig{JWKSURL: srv.URL})
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	token := sign(t, jwt.SigningMethodRS256, testRSAKey(t), map[string]any{"kid": "rsa1"}, nil)
	_, err := v.Verify(ctx, token)
	wantReason(t, err, playback.CodeUnavailable, ReasonKeysUnavailable)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("error = %v, want it to wrap the request's deadline", err)
	}
}

func TestFormatsDoNotCross(t *testing.T) {
	t.Parallel()
	ring := NewDevKeyring()
	// The same secret as both an HS256 key and a playback key must still not
	// let one token pass as the other.
	v := newTestVerifier(t, VerifierConfig{HS256Keys: ring.Spec()})
	playbackToken := mustIssue(t, ring, testClaims(testNow))
	_, err := v.Verify(context.Background(), playbackToken)
	wantReason(t, err, playback.CodeUnauthenticated, ReasonTokenMalformed)

	jwtToken, err := MintHS256(ring.keys[0].kid, ring.keys[0].key, testIssuer, testAudience, "acc_1", time.Hour, testNow)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := v.Verify(context.Background(), jwtToken); err != nil {
		t.Fatalf("control: JWT with the shared key rejected: %v", err)
	}
	_, err = ring.Verify(jwtToken, testNow)
	wantReason(t, err, playback.CodeUnauthenticated, ReasonTokenMalformed)
}

func TestMintHS256Rejects(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		kid  string
		key  []byte
		ttl  time.Duration
	}{
		{name: "short key", kid: "dev1", key: make([]byte, 31), ttl: time.Hour},
		{name: "bad kid", kid: "a.b", key: make([]byte, 32), ttl: time.Hour},
		{name: "no ttl", kid: "dev1", key: make([]byte, 32)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if _, err := MintHS256(tc.kid, tc.key, testIssuer, testAudience, "acc_1", tc.ttl, testNow); err == nil {
				t.Fatal("MintHS256 accepted bad input")
			}
		})
	}
}
