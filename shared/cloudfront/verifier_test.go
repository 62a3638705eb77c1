package cloudfront

import (
	"context"
	"crypto"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/playplane/playplane/shared/httpx"
	"github.com/playplane/playplane/shared/playback"
)

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

func replaceCookie(cookies []playback.Cookie, name, value string) []playback.Cookie {
	var out []playback.Cookie
	for _, c := range cookies {
		if c.Name == name {
			c.Value = value
		}
		out = append(out, c)
	}
	return out
}

func flipFirst(s string) string {
	b := []byte(s)
	if b[0] == 'A' {
		b[0] = 'B'
	} else {
		b[0] = 'A'
	}
	return string(b)
}

func queryValue(rawURL, name string) string {
	_, q, _ := strings.Cut(rawURL, "?")
	for p := range strings.SplitSeq(q, "&") {
		if n, v, _ := strings.Cut(p, "="); n == name {
			return v
		}
	}
	return ""
}

func TestVerifier(t *testing.T) {
	t.Parallel()
	now := time.Now().Truncate(time.Second)
	exp := now.Add(10 * time.Minute)
	client := netip.MustParseAddr("192.0.2.7")
	other := netip.MustParseAddr("192.0.2.8")
	ctx := context.Background()
	req := playback.SignRequest{BaseURL: base, Prefix: "/titles/t-1/", Manifest: "/titles/t-1/master.m3u8", Expires: exp}
	ipReq := req
	ipReq.ClientIP = client

	s256 := newSigner(t, SHA256, "KEC1", "KEC1")
	canned, err := s256.Sign(ctx, req) // canned manifest URL + cookies, no address
	if err != nil {
		t.Fatal(err)
	}
	bound, err := s256.Sign(ctx, ipReq) // custom policy everywhere, bound to client
	if err != nil {
		t.Fatal(err)
	}
	rsaSigned, err := newSigner(t, SHA1, "KRSA1", "KRSA1").Sign(ctx, ipReq)
	if err != nil {
		t.Fatal(err)
	}
	stranger, err := newSigner(t, SHA256, "KEC2", "KEC2").Sign(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	ePolicy, eSig, err := s256.SignPolicy(Policy{Resource: base + "/titles/t-1/*", DateGreaterThan: now.Add(time.Minute), DateLessThan: exp})
	if err != nil {
		t.Fatal(err)
	}
	early := "Policy=" + ePolicy + "&Signature=" + eSig + "&Key-Pair-Id=KEC1&Hash-Algorithm=SHA256"
	// A policy for every title, signed by the trusted key: valid, and the
	// reason the signer refuses wildcards in ids.
	wPolicy, wSig, _ := s256.SignPolicy(Policy{Resource: base + "/titles/*", DateLessThan: exp})
	// A policy widened after signing keeps the old signature.
	widened := string(appendEncoded(nil, []byte(strings.Replace(string(cfDecode(t, queryValue(bound.ManifestURL, "Policy"))), "/titles/t-1/*", "/titles/*", 1))))

	seg := base + "/titles/t-1/seg0.ts"
	q := bound.QueryParams
	tests := []struct {
		name     string
		url      string
		cookies  []playback.Cookie
		client   netip.Addr
		later    time.Duration
		keys     []string
		want     string
		reusable bool
	}{
		{name: "canned manifest URL", url: canned.ManifestURL},
		{name: "cookies on a segment", url: seg, cookies: canned.Cookies},
		{name: "cookies on a segment with a query", url: seg + "?v=2", cookies: canned.Cookies},
		{name: "bound manifest URL", url: bound.ManifestURL, client: client, reusable: true},
		{name: "bound query on a segment", url: seg + "?" + q, client: client, reusable: true},
		{name: "bound cookies", url: seg, cookies: bound.Cookies, client: client},
		{name: "RSA SHA1 query", url: seg + "?" + rsaSigned.QueryParams, client: client, reusable: true},
		{name: "just before expiry", url: canned.ManifestURL, later: 10*time.Minute - time.Second},
		{name: "policy for all titles", url: base + "/titles/t-9/seg0.ts?Policy=" + wPolicy + "&Signature=" + wSig + "&Key-Pair-Id=KEC1&Hash-Algorithm=SHA256", reusable: true},
		{name: "once DateGreaterThan has passed", url: seg + "?" + early, later: time.Minute, reusable: true},

		{name: "nothing", url: seg, want: "signature_missing"},
		{name: "expired URL", url: canned.ManifestURL, later: 10 * time.Minute, want: "expired"},
		{name: "expired cookies", url: seg, cookies: canned.Cookies, later: time.Hour, want: "expired"},
		{name: "not yet valid", url: seg + "?" + early, want: "not_yet_valid"},
		{name: "tampered signature", url: strings.Replace(canned.ManifestURL, queryValue(canned.ManifestURL, "Signature"), flipFirst(queryValue(canned.ManifestURL, "Signature")), 1), want: "signature_invalid"},
		{name: "tampered cookie signature", url: seg, cookies: replaceCookie(canned.Cookies, CookieSignature, flipFirst(canned.Cookies[1].Value)), want: "signature_invalid"},
		{name: "tampered canned expiry", url: strings.Replace(canned.ManifestURL, "Expires="+strconv.FormatInt(exp.Unix(), 10), "Expires="+strconv.FormatInt(exp.Unix()+3600, 10), 1), want: "signature_invalid"},
		{name: "widened policy", url: base + "/titles/t-2/seg0.ts?" + strings.Replace(q, queryValue("?"+q, "Policy"), widened, 1), client: client, want: "signature_invalid"},
		{name: "canned URL with a parameter added", url: canned.ManifestURL + "&debug=1", want: "signature_invalid"},
		{name: "canned URL on another file", url: strings.Replace(canned.ManifestURL, "master.m3u8", "seg0.ts", 1), want: "signature_invalid"},
		{name: "hash algorithm dropped", url: strings.Replace(seg+"?"+q, "&Hash-Algorithm=SHA256", "", 1), client: client, want: "signature_invalid"},
		{name: "hash algorithm unknown", url: strings.Replace(seg+"?"+q, "Hash-Algorithm=SHA256", "Hash-Algorithm=MD5", 1), client: client, want: "hash_algorithm_unsupported"},
		{name: "other title with query", url: base + "/titles/t-2/seg0.ts?" + q, client: client, want: "resource_mismatch"},
		{name: "other title with cookies", url: base + "/titles/t-2/seg0.ts", cookies: canned.Cookies, want: "resource_mismatch"},
		{name: "title id sharing the prefix", url: base + "/titles/t-10/seg0.ts", cookies: canned.Cookies, want: "resource_mismatch"},
		{name: "other host", url: "https://evil.example.com/titles/t-1/seg0.ts", cookies: canned.Cookies, want: "resource_mismatch"},
		{name: "path traversal", url: base + "/titles/t-1/../t-2/x.ts", cookies: canned.Cookies, want: "path_not_canonical"},
		{name: "path traversal in query mode", url: base + "/titles/t-1/../t-2/x.ts?" + q, client: client, want: "path_not_canonical"},
		{name: "encoded slash", url: base + "/titles/t-1/..%2Ft-2%2Fx.ts", cookies: canned.Cookies, want: "path_not_canonical"},
		{name: "encoded dots", url: base + "/titles/t-1/%2e%2e/t-2/x.ts", cookies: canned.Cookies, want: "path_not_canonical"},
		{name: "dot segment", url: base + "/titles/t-1/./x.ts", cookies: canned.Cookies, want: "path_not_canonical"},
		{name: "wildcard in id", url: base + "/titles/t-*/x.ts", cookies: canned.Cookies, want: "path_not_canonical"},
		{name: "wrong address", url: seg + "?" + q, client: other, want: "ip_mismatch"},
		{name: "wrong address with cookies", url: seg, cookies: bound.Cookies, client: other, want: "ip_mismatch"},
		{name: "no address", url: seg + "?" + q, want: "ip_mismatch"},
		{name: "IPv6 viewer on an IPv4 binding", url: seg + "?" + q, client: netip.MustParseAddr("2001:db8::7"), want: "ip_mismatch"},
		{name: "unknown key", url: stranger.ManifestURL, want: "unknown_key"},
		{name: "unknown key in cookies", url: seg, cookies: stranger.Cookies, want: "unknown_key"},
		{name: "Signature twice", url: seg + "?" + q + "&Signature=x", client: client, want: "signature_malformed"},
		{name: "Expires and Policy", url: seg + "?Expires=1&" + q, client: client, want: "signature_malformed"},
		{name: "signature not base64", url: seg + "?Policy=" + ePolicy + "&Signature=%21%21&Key-Pair-Id=KEC1", want: "signature_malformed"},
		{name: "query wins over valid cookies", url: seg + "?Expires=1&Signature=AAAA&Key-Pair-Id=KEC1", cookies: canned.Cookies, want: "signature_invalid"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			v, err := NewVerifier(publicKeys("KEC1", "KRSA1"), func() time.Time { return now.Add(tt.later) })
			if err != nil {
				t.Fatal(err)
			}
			grant, err := v.Verify(tt.url, httpx.Cookies(tt.cookies), tt.client)
			if got := reason(err); got != tt.want {
				t.Fatalf("Verify(%s) = %q (%v), want %q", tt.url, got, err, tt.want)
			}
			if err != nil {
				return
			}
			if !grant.Expires.Equal(exp) {
				t.Errorf("grant expires %v, want %v", grant.Expires, exp)
			}
			if (grant.ReusableQuery != "") != tt.reusable {
				t.Errorf("ReusableQuery = %q, want reusable=%v", grant.ReusableQuery, tt.reusable)
			}
		})
	}
}

func publicKeys(ids ...string) map[string]crypto.PublicKey {
	m := map[string]crypto.PublicKey{}
	for _, id := range ids {
		m[id] = testKeys()[id].Signer.Public()
	}
	return m
}

func TestVerifyRequestReadsTheRequest(t *testing.T) {
	t.Parallel()
	s := newSigner(t, SHA256, "KEC1", "KEC1")
	acc, err := s.Sign(context.Background(), playback.SignRequest{BaseURL: "http://edge.local:8080", Prefix: "/titles/t-1/",
		Manifest: "/titles/t-1/master.m3u8", Expires: time.Now().Add(time.Hour), ClientIP: netip.MustParseAddr("::ffff:10.0.0.5")})
	if err != nil {
		t.Fatal(err)
	}
	v, err := NewVerifier(publicKeys("KEC1"), nil)
	if err != nil {
		t.Fatal(err)
	}
	r, err := http.NewRequest(http.MethodGet, "http://edge.local:8080/titles/t-1/seg2.ts", nil)
	if err != nil {
		t.Fatal(err)
	}
	r.RequestURI = "/titles/t-1/seg2.ts"
	for _, c := range httpx.Cookies(acc.Cookies) {
		r.AddCookie(c)
	}
	if _, err := v.VerifyRequest(r, netip.MustParseAddr("10.0.0.5")); err != nil {
		t.Errorf("VerifyRequest: %v", err)
	}
	r.Host = "edge.local:9090"
	if _, err := v.VerifyRequest(r, netip.MustParseAddr("10.0.0.5")); reason(err) != "resource_mismatch" {
		t.Errorf("VerifyRequest on another host = %v, want resource_mismatch", err)
	}
}

func TestKeyRotation(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	req := playback.SignRequest{BaseURL: base, Prefix: "/titles/t-1/", Manifest: "/titles/t-1/master.m3u8", Expires: time.Now().Add(time.Hour)}
	oldAcc, err := newSigner(t, SHA256, "KRSA1", "KRSA1").Sign(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	// Rotation: KEC1 joins the key group and signs; KRSA1 stays listed.
	during, err := NewKeySet("KEC1", testKeys()["KRSA1"], testKeys()["KEC1"])
	if err != nil {
		t.Fatal(err)
	}
	s, err := New(Config{}, during)
	if err != nil {
		t.Fatal(err)
	}
	newAcc, err := s.Sign(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	if newAcc.KeyID != "KEC1" {
		t.Fatalf("signed by %s after rotation", newAcc.KeyID)
	}
	v, _ := NewVerifier(during.PublicKeys(), nil)
	for _, acc := range []playback.SignedAccess{oldAcc, newAcc} {
		if _, err := v.Verify(acc.ManifestURL, nil, netip.Addr{}); err != nil {
			t.Errorf("during rotation, URL of %s: %v", acc.KeyID, err)
		}
		if _, err := v.Verify(base+"/titles/t-1/seg0.ts", httpx.Cookies(acc.Cookies), netip.Addr{}); err != nil {
			t.Errorf("during rotation, cookies of %s: %v", acc.KeyID, err)
		}
	}
	after, _ := NewKeySet("KEC1", testKeys()["KEC1"])
	v, _ = NewVerifier(after.PublicKeys(), nil)
	if _, err := v.Verify(oldAcc.ManifestURL, nil, netip.Addr{}); reason(err) != "unknown_key" {
		t.Errorf("after removing KRSA1: %v, want unknown_key", err)
	}
	if _, err := v.Verify(newAcc.ManifestURL, nil, netip.Addr{}); err != nil {
		t.Errorf("after rotation, new URL: %v", err)
	}
}

func TestGlobMatch(t *testing.T) {
	t.Parallel()
	tests := []struct {
		pattern, s string
		want       bool
	}{
		{"https://d/titles/t-1/*", "https://d/titles/t-1/seg0.ts", true},
		{"https://d/titles/t-1/*", "https://d/titles/t-1/", true},
		{"https://d/titles/t-1/*", "https://d/titles/t-10/seg0.ts", false},
		{"https://d/titles/t-1/*", "https://d/titles/t-1", false},
		{"https://d/*.ts", "https://d/a/b/c.ts", true},
		{"https://d/*.ts", "https://d/a.tsx", false},
		{"https://d/seg?.ts", "https://d/seg1.ts", true},
		{"https://d/seg?.ts", "https://d/seg12.ts", false},
		{"http*://d/x", "https://d/x", true},
		{"*", "", true},
		{"a*b*c", "aXbYbZc", true},
		{"a*b*c", "aXbYbZ", false},
		{"https://D/x", "https://d/x", false},
	}
	for _, tt := range tests {
		if got := globMatch(tt.pattern, tt.s); got != tt.want {
			t.Errorf("globMatch(%q, %q) = %v, want %v", tt.pattern, tt.s, got, tt.want)
		}
	}
}
