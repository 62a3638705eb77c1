package auth

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/playplane/playplane/shared/playback"
)

func testClaims(now time.Time) PlaybackClaims {
	return PlaybackClaims{
		SessionID: "ses_k2n4q7x3b5m6z8c1d9f0g2h4j6",
		AccountID: "acc_p3r5t7v9x1z3b5d7f9h1k3m5n7",
		TitleID:   "ttl_w2y4a6c8e0g2i4k6m8o0q2s4u6",
		DeviceID:  "dev_a1b2c3d4e5f6g7h8i9j0k1l2m3",
		IssuedAt:  now,
		ExpiresAt: now.Add(10 * time.Minute),
	}
}

func mustIssue(t testing.TB, ring *Keyring, c PlaybackClaims) string {
	t.Helper()
	token, err := ring.Issue(c)
	if err != nil {
		t.Fatalf("Issue: %v", err)
	}
	return token
}

func mustParseKeyring(t testing.TB, spec string) *Keyring {
	t.Helper()
	ring, err := ParseKeyring(spec)
	if err != nil {
		t.Fatalf("ParseKeyring: %v", err)
	}
	return ring
}

func TestPlaybackTokenRoundTrip(t *testing.T) {
	t.Parallel()
	ring := NewDevKeyring()
	withoutDevice := testClaims(testNow)
	withoutDevice.DeviceID = ""
	longIDs := testClaims(testNow)
	longIDs.SessionID = strings.Repeat("s", maxClaimIDLen)
	longIDs.AccountID = strings.Repeat("a", maxClaimIDLen)
	longIDs.TitleID = strings.Repeat("t", maxClaimIDLen)
	longIDs.DeviceID = strings.Repeat("d", maxClaimIDLen)
	subSecond := testClaims(testNow.Add(700 * time.Millisecond))
	withViewer := testClaims(testNow)
	withViewer.Viewer = playback.Viewer{Country: "DE", ASN: 4294967295, DeviceType: playback.DeviceTV}
	longest := longIDs
	longest.Viewer = playback.Viewer{Country: "JP", ASN: 3320, DeviceType: strings.Repeat("x", maxDeviceTypeLen)}
	onlyASN := testClaims(testNow)
	onlyASN.Viewer.ASN = 16509
	withLease := testClaims(testNow)
	withLease.StartedAt, withLease.Lease = testNow.Add(-1234567891*time.Nanosecond).UTC(), "3"
	leaseAndViewer := withViewer
	leaseAndViewer.StartedAt, leaseAndViewer.Lease = withLease.StartedAt, "63"
	longestWithLease := longest
	longestWithLease.StartedAt, longestWithLease.Lease = withLease.StartedAt, strings.Repeat("l", maxLeaseLen)
	licenceOnly := testClaims(testNow)
	licenceOnly.LicenceEnds = true
	licenceAndLease := withLease
	licenceAndLease.LicenceEnds = true
	longestOfAll := longestWithLease
	longestOfAll.LicenceEnds = true

	for _, tc := range []struct {
		name   string
		claims PlaybackClaims
	}{
		{name: "all fields", claims: testClaims(testNow)},
		{name: "no device", claims: withoutDevice},
		{name: "longest ids", claims: longIDs},
		{name: "sub-second times are truncated", claims: subSecond},
		{name: "viewer", claims: withViewer},
		{name: "viewer with only an ASN", claims: onlyASN},
		{name: "longest ids and viewer", claims: longest},
		{name: "lease, no viewer", claims: withLease},
		{name: "lease and viewer", claims: leaseAndViewer},
		{name: "longest with lease", claims: longestWithLease},
		{name: "licence ends it, no viewer, no lease", claims: licenceOnly},
		{name: "licence ends it, lease", claims: licenceAndLease},
		{name: "longest of everything", claims: longestOfAll},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			token := mustIssue(t, ring, tc.claims)
			if len(token) > maxPlaybackTokenLen {
				t.Fatalf("token has %d bytes, more than the %d Verify accepts", len(token), maxPlaybackTokenLen)
			}
			got, err := ring.Verify(token, tc.claims.IssuedAt)
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			want := tc.claims
			want.IssuedAt = want.IssuedAt.Truncate(time.Second).UTC()
			want.ExpiresAt = want.ExpiresAt.Truncate(time.Second).UTC()
			if got != want {
				t.Fatalf("claims = %+v\nwant     %+v", got, want)
			}
		})
	}
}

func TestPlaybackTokenIssueRejects(t *testing.T) {
	t.Parallel()
	ring := NewDevKeyring()
	edit := func(f func(*PlaybackClaims)) PlaybackClaims {
		c := testClaims(testNow)
		f(&c)
		return c
	}
	for _, tc := range []struct {
		name   string
		claims PlaybackClaims
	}{
		{name: "no session", claims: edit(func(c *PlaybackClaims) { c.SessionID = "" })},
		{name: "no account", claims: edit(func(c *PlaybackClaims) { c.AccountID = "" })},
		{name: "no title", claims: edit(func(c *PlaybackClaims) { c.TitleID = "" })},
		{name: "no expiry", claims: edit(func(c *PlaybackClaims) { c.ExpiresAt = time.Time{} })},
		{name: "expires before issued", claims: edit(func(c *PlaybackClaims) { c.ExpiresAt = c.IssuedAt.Add(-time.Second) })},
		{name: "expires within the issuing second", claims: edit(func(c *PlaybackClaims) { c.ExpiresAt = c.IssuedAt.Add(500 * time.Millisecond) })},
		{name: "id too long", claims: edit(func(c *PlaybackClaims) { c.TitleID = strings.Repeat("t", maxClaimIDLen+1) })},
		{name: "country not alpha-2", claims: edit(func(c *PlaybackClaims) { c.Viewer.Country = "DEU" })},
		{name: "country lower case", claims: edit(func(c *PlaybackClaims) { c.Viewer.Country = "de" })},
		{name: "device type too long", claims: edit(func(c *PlaybackClaims) { c.Viewer.DeviceType = strings.Repeat("x", maxDeviceTypeLen+1) })},
		{name: "lease too long", claims: edit(func(c *PlaybackClaims) { c.StartedAt, c.Lease = testNow, strings.Repeat("l", maxLeaseLen+1) })},
		{name: "lease without start", claims: edit(func(c *PlaybackClaims) { c.Lease = "1" })},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			token, err := ring.Issue(tc.claims)
			if !playback.IsCode(err, playback.CodeInvalid) {
				t.Fatalf("Issue = %q, %v; want an invalid error", token, err)
			}
		})
	}
}

func TestPlaybackTokenIssuedAtDefaultsToNow(t *testing.T) {
	t.Parallel()
	ring := NewDevKeyring()
	c := testClaims(time.Time{})
	before := time.Now().Truncate(time.Second)
	c.ExpiresAt = time.Now().Add(time.Minute)
	got, err := ring.Verify(mustIssue(t, ring, c), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if got.IssuedAt.Before(before) || got.IssuedAt.After(time.Now()) {
		t.Fatalf("issued at %v, want about now", got.IssuedAt)
	}
}

func TestPlaybackTokenVerify(t *testing.T) {
	t.Parallel()
	ring := mustParseKeyring(t, keySpec("k1", randomKey(t)))
	sameKIDOtherKey := mustParseKeyring(t, keySpec("k1", randomKey(t)))
	claims := testClaims(testNow)
	good := mustIssue(t, ring, claims)
	licensed := claims
	licensed.LicenceEnds = true
	licenceEnds := mustIssue(t, ring, licensed)
	jwtToken, err := MintHS256("k1", randomKey(t), testIssuer, testAudience, "acc_1", time.Hour, testNow)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name   string
		token  string
		now    time.Time
		reason string
		// forbidden is a 403's reason: a use the token may not make, not
		// a token that is no good.
		forbidden string
	}{
		{name: "good", token: good, now: testNow},
		{name: "last valid second", token: good, now: claims.ExpiresAt.Add(-time.Second)},
		{name: "expired at exp", token: good, now: claims.ExpiresAt, reason: ReasonTokenExpired},
		{name: "expired later", token: good, now: claims.ExpiresAt.Add(time.Hour), reason: ReasonTokenExpired},
		{name: "licence ends it: last valid second", token: licenceEnds, now: claims.ExpiresAt.Add(-time.Second)},
		{name: "licence ended at exp", token: licenceEnds, now: claims.ExpiresAt, forbidden: playback.ReasonLicenceEnded},
		{name: "licence ended later", token: licenceEnds, now: claims.ExpiresAt.Add(time.Hour), forbidden: playback.ReasonLicenceEnded},
		{name: "forged with another key under the same kid", token: mustIssue(t, sameKIDOtherKey, claims), now: testNow, reason: ReasonTokenSignature},
		{name: "empty", token: "", now: testNow, reason: ReasonTokenMissing},
		{name: "garbage", token: "hello", now: testNow, reason: ReasonTokenMalformed},
		{name: "jwt", token: jwtToken, now: testNow, reason: ReasonTokenMalformed},
		{name: "other version", token: "v2" + good[2:], now: testNow, reason: ReasonTokenMalformed},
		{name: "extra segment", token: good[:len(good)-macTextLen] + "x." + good[len(good)-macTextLen:], now: testNow, reason: ReasonTokenMalformed},
		{name: "oversized", token: "v1.k1." + strings.Repeat("A", maxPlaybackTokenLen), now: testNow, reason: ReasonTokenMalformed},
		{name: "unknown kid", token: "v1.k9" + good[5:], now: testNow, reason: ReasonTokenKeyUnknown},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := ring.Verify(tc.token, tc.now)
			if tc.reason != "" {
				wantReason(t, err, playback.CodeUnauthenticated, tc.reason)
				return
			}
			if tc.forbidden != "" {
				wantReason(t, err, playback.CodeForbidden, tc.forbidden)
				return
			}
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			if got.SessionID != claims.SessionID || got.TitleID != claims.TitleID {
				t.Fatalf("claims = %+v, want %+v", got, claims)
			}
		})
	}
}

// Every single-byte change, truncation and extension must be rejected.
func TestPlaybackTokenTamper(t *testing.T) {
	t.Parallel()
	ring := NewDevKeyring()
	token := mustIssue(t, ring, testClaims(testNow))
	replacements := "AQgw_-.9az"
	checked := 0
	for i := range len(token) {
		for _, r := range []byte(replacements) {
			if token[i] == r {
				continue
			}
			tampered := token[:i] + string(r) + token[i+1:]
			if _, err := ring.Verify(tampered, testNow); !playback.IsCode(err, playback.CodeUnauthenticated) {
				t.Fatalf("byte %d changed to %q: Verify error = %v, want unauthenticated", i, r, err)
			}
			checked++
		}
		// Flipping the low bits of a base64 character is the change a lax
		// decoder would not see.
		flipped := token[:i] + string(token[i]^1) + token[i+1:]
		if _, err := ring.Verify(flipped, testNow); err == nil {
			t.Fatalf("byte %d with its low bit flipped was accepted", i)
		}
	}
	for n := range len(token) {
		if _, err := ring.Verify(token[:n], testNow); err == nil {
			t.Fatalf("token truncated to %d bytes was accepted", n)
		}
	}
	for _, suffix := range []string{"A", "=", ".", "AAAA"} {
		if _, err := ring.Verify(token+suffix, testNow); err == nil {
			t.Fatalf("token with %q appended was accepted", suffix)
		}
	}
	if checked < len(token)*(len(replacements)-1) {
		t.Fatalf("checked only %d tampered tokens", checked)
	}
}

func TestPlaybackTokenRotation(t *testing.T) {
	t.Parallel()
	old, next := keySpec("k1", randomKey(t)), keySpec("k2", randomKey(t))
	before := mustParseKeyring(t, old)
	during := mustParseKeyring(t, next+","+old)
	after := mustParseKeyring(t, next)

	fromOld := mustIssue(t, before, testClaims(testNow))
	fromNew := mustIssue(t, during, testClaims(testNow))
	if during.ActiveKID() != "k2" || !strings.HasPrefix(fromNew, "v1.k2.") {
		t.Fatalf("rotated ring signs with %q (token %q), want k2", during.ActiveKID(), fromNew[:8])
	}
	for _, tc := range []struct {
		name   string
		ring   *Keyring
		token  string
		reason string
	}{
		{name: "old token on rotated ring", ring: during, token: fromOld},
		{name: "new token on rotated ring", ring: during, token: fromNew},
		{name: "new token after old key removed", ring: after, token: fromNew},
		{name: "old token after old key removed", ring: after, token: fromOld, reason: ReasonTokenKeyUnknown},
		{name: "new token on a ring that never had the key", ring: before, token: fromNew, reason: ReasonTokenKeyUnknown},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := tc.ring.Verify(tc.token, testNow)
			if tc.reason != "" {
				wantReason(t, err, playback.CodeUnauthenticated, tc.reason)
				return
			}
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
		})
	}
}

func TestKeyringSpecRoundTrip(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		ring *Keyring
	}{
		{name: "dev", ring: NewDevKeyring()},
		{name: "two keys", ring: mustParseKeyring(t, keySpec("a", randomKey(t))+","+keySpec("b", make([]byte, 80)))},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			copied := mustParseKeyring(t, tc.ring.Spec())
			if copied.Spec() != tc.ring.Spec() {
				t.Fatalf("Spec changed on round trip: %q vs %q", copied.Spec(), tc.ring.Spec())
			}
			if _, err := copied.Verify(mustIssue(t, tc.ring, testClaims(testNow)), testNow); err != nil {
				t.Fatalf("copy rejects the original's token: %v", err)
			}
			if _, err := tc.ring.Verify(mustIssue(t, copied, testClaims(testNow)), testNow); err != nil {
				t.Fatalf("original rejects the copy's token: %v", err)
			}
		})
	}
}

func TestParseKeyring(t *testing.T) {
	t.Parallel()
	key := randomKey(t)
	std := base64.StdEncoding.EncodeToString(key)
	for _, tc := range []struct {
		name    string
		spec    string
		wantErr string
	}{
		{name: "standard base64", spec: "k1:" + std},
		{name: "unpadded url base64", spec: "k1:" + base64.RawURLEncoding.EncodeToString(key)},
		{name: "spaces around entries", spec: " k1:" + std + " , k2:" + std + " "},
		{name: "empty", spec: "", wantErr: "empty"},
		{name: "no colon", spec: "k1" + std, wantErr: "kid:base64key"},
		{name: "trailing comma", spec: "k1:" + std + ",", wantErr: "empty"},
		{name: "short key", spec: "k1:" + base64.StdEncoding.EncodeToString(key[:31]), wantErr: "at least 32"},
		{name: "not base64", spec: "k1:!!!!", wantErr: "base64"},
		{name: "dot in kid", spec: "k.1:" + std, wantErr: "letters, digits"},
		{name: "empty kid", spec: ":" + std, wantErr: "1 to 32"},
		{name: "duplicate kid", spec: "k1:" + std + ",k1:" + std, wantErr: "twice"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := ParseKeyring(tc.spec)
			if tc.wantErr == "" {
				if err != nil {
					t.Fatalf("ParseKeyring: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("ParseKeyring error = %v, want it to mention %q", err, tc.wantErr)
			}
		})
	}
}

// The precomputed-pad MAC must be exactly HMAC-SHA256, including keys longer
// than a block, which HMAC hashes first.
func TestMACIsHMACSHA256(t *testing.T) {
	t.Parallel()
	signed := "v1.k1." + strings.Repeat("payload", 20)
	for _, n := range []int{32, 63, 64, 65, 200} {
		key := make([]byte, n)
		for i := range key {
			key[i] = byte(i*7 + n)
		}
		rk := newRingKey(namedKey{kid: "k1", key: key})
		want := hmac.New(sha256.New, key)
		want.Write([]byte(macLabel + signed))
		got := mac(&rk, macLabel, signed)
		if !hmac.Equal(got[:], want.Sum(nil)) {
			t.Fatalf("key of %d bytes: MAC differs from crypto/hmac", n)
		}
	}
}

func TestKeyringAuthenticate(t *testing.T) {
	t.Parallel()
	ring := NewDevKeyring()
	token := mustIssue(t, ring, testClaims(testNow))
	for _, tc := range []struct {
		name   string
		header string
		reason string
	}{
		{name: "bearer", header: "Bearer " + token},
		{name: "missing", reason: ReasonTokenMissing},
		{name: "wrong scheme", header: "Token " + token, reason: ReasonTokenMalformed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := httptest.NewRequest(http.MethodPost, "/v1/heartbeat", nil)
			if tc.header != "" {
				r.Header.Set("Authorization", tc.header)
			}
			c, err := ring.Authenticate(r, testNow)
			if tc.reason != "" {
				wantReason(t, err, playback.CodeUnauthenticated, tc.reason)
				return
			}
			if err != nil || c.SessionID != testClaims(testNow).SessionID {
				t.Fatalf("Authenticate = %+v, %v", c, err)
			}
		})
	}
}

// A viewer block must be whole and last: a payload the MAC covers but no
// Issue writes is refused, not read as a partial viewer.
func TestPlaybackPayloadViewerBlock(t *testing.T) {
	t.Parallel()
	ids := make([]byte, payloadTimesLen)
	for _, id := range []string{"ses_1", "acct_1", "title_1", ""} {
		ids = append(ids, byte(len(id)))
		ids = append(ids, id...)
	}
	block := func(parts ...string) []byte { return append(append([]byte{}, ids...), strings.Join(parts, "")...) }
	for _, tc := range []struct {
		name    string
		payload []byte
		ok      bool
		want    playback.Viewer
		lease   string
		started time.Time
	}{
		{name: "no block", payload: block(), ok: true},
		{name: "whole block", payload: block("\x02DE", "\x02tv", "\x00\x00\x0c\xe4"), ok: true,
			want: playback.Viewer{Country: "DE", DeviceType: "tv", ASN: 3300}},
		{name: "empty strings", payload: block("\x00", "\x00", "\x00\x00\x00\x01"), ok: true, want: playback.Viewer{ASN: 1}},
		{name: "ASN cut short", payload: block("\x02DE", "\x02tv", "\x00\x00\x0c")},
		{name: "bytes after the ASN", payload: block("\x02DE", "\x02tv", "\x00\x00\x0c\xe4", "x")},
		{name: "device type overruns", payload: block("\x02DE", "\x09tv")},
		{name: "country not alpha-2", payload: block("\x03DEU", "\x02tv", "\x00\x00\x0c\xe4")},
		{name: "one stray byte", payload: block("\x00")},
		{name: "lease block", payload: block("\x00", "\x00", "\x00\x00\x00\x00", "\x00\x00\x00\x00\x00\x00\x00\x07", "\x012"), ok: true,
			lease: "2", started: time.Unix(0, 7).UTC()},
		{name: "start cut short", payload: block("\x00", "\x00", "\x00\x00\x00\x00", "\x00\x00\x07")},
		{name: "empty lease with a start", payload: block("\x00", "\x00", "\x00\x00\x00\x00", "\x00\x00\x00\x00\x00\x00\x00\x07", "\x00")},
		{name: "lease without a start", payload: block("\x00", "\x00", "\x00\x00\x00\x00", "\x00\x00\x00\x00\x00\x00\x00\x00", "\x012")},
		{name: "no lease, a later block after it", payload: block("\x00", "\x00", "\x00\x00\x00\x00", "\x00\x00\x00\x00\x00\x00\x00\x00", "\x00", "\x03new"), ok: true},
		{name: "lease overruns", payload: block("\x00", "\x00", "\x00\x00\x00\x00", "\x00\x00\x00\x00\x00\x00\x00\x07", "\x052")},
		{name: "lease longer than allowed", payload: block("\x00", "\x00", "\x00\x00\x00\x00", "\x00\x00\x00\x00\x00\x00\x00\x07", "\x21", strings.Repeat("l", 33))},
		{name: "bytes after the lease", payload: block("\x00", "\x00", "\x00\x00\x00\x00", "\x00\x00\x00\x00\x00\x00\x00\x07", "\x012", "x"), ok: true,
			lease: "2", started: time.Unix(0, 7).UTC()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c, ok := decodePlaybackPayload(tc.payload)
			if ok != tc.ok || c.Viewer != tc.want || c.Lease != tc.lease || !c.StartedAt.Equal(tc.started) {
				t.Fatalf("decode = %+v, %v; want viewer %+v, lease %q from %v, %v", c, ok, tc.want, tc.lease, tc.started, tc.ok)
			}
		})
	}
}

// A later release's optional blocks follow the ones this release knows: a
// token carrying them verifies here, with the claims this release reads,
// as long as its MAC covers them.
func TestPlaybackTokenLaterBlocks(t *testing.T) {
	t.Parallel()
	ring := mustParseKeyring(t, keySpec("k1", randomKey(t)))
	claims := testClaims(testNow)
	claims.Viewer = playback.Viewer{Country: "DE", DeviceType: "tv", ASN: 3300}
	claims.StartedAt, claims.Lease = testNow.Add(-time.Minute).UTC(), "63"
	// resign appends extra to the payload of a token issued for claims
	// and signs the result as Issue does.
	resign := func(extra string) string {
		t.Helper()
		token := mustIssue(t, ring, claims)
		parts := strings.Split(token, ".")
		payload, err := tokenEncoding.DecodeString(parts[2])
		if err != nil {
			t.Fatal(err)
		}
		signed := parts[0] + "." + parts[1] + "." + tokenEncoding.EncodeToString(append(payload, extra...))
		sum := mac(&ring.keys[0], macLabel, signed)
		return signed + "." + tokenEncoding.EncodeToString(sum[:])
	}
	// Later blocks follow the licence block, the last this release knows.
	later := resign("\x00\x05block\x00\x00\x00\x2a")
	parts := strings.Split(later, ".")
	payload, err := tokenEncoding.DecodeString(parts[2])
	if err != nil {
		t.Fatal(err)
	}
	payload[len(payload)-1] ^= 1
	tampered := parts[0] + "." + parts[1] + "." + tokenEncoding.EncodeToString(payload) + "." + parts[3]
	for _, tc := range []struct {
		name   string
		token  string
		reason string
		ends   bool
	}{
		{name: "none", token: resign("")},
		{name: "a later block", token: later},
		{name: "a later block after a licence block that ends the token", token: resign("\x01\x05block\x00\x00\x00\x2a"), ends: true},
		{name: "a later release's flags beside the licence's", token: resign("\xfe"), ends: false},
		{name: "as many later bytes as there is room for", token: resign("\x00" + strings.Repeat("x", laterBlocksLen))},
		{name: "a later block changed after signing", token: tampered, reason: ReasonTokenSignature},
		{name: "more later bytes than there is room for", token: resign(strings.Repeat("x", laterBlocksLen+maxClaimIDLen*4)), reason: ReasonTokenMalformed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := ring.Verify(tc.token, testNow)
			if tc.reason != "" {
				wantReason(t, err, playback.CodeUnauthenticated, tc.reason)
				return
			}
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			want := claims
			want.LicenceEnds = tc.ends
			if got != want {
				t.Fatalf("claims = %+v, want %+v", got, want)
			}
		})
	}
}
