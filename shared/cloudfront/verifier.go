package cloudfront

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/rsa"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/feature/cloudfront/sign"

	"github.com/playplane/playplane/shared/httpx"
	"github.com/playplane/playplane/shared/playback"
)

// Verifier checks signed URLs and signed cookies the way a CloudFront cache
// behavior with a trusted key group does. It is what the local edge runs in
// place of CloudFront, and what tests use to prove signatures are accepted.
type Verifier struct {
	keys map[string]crypto.PublicKey
	now  func() time.Time
}

// NewVerifier trusts keys (key pair id -> public key). now may be nil
// (time.Now).
func NewVerifier(keys map[string]crypto.PublicKey, now func() time.Time) (*Verifier, error) {
	if len(keys) == 0 {
		return nil, fmt.Errorf("cloudfront.NewVerifier: no keys")
	}
	for id, k := range keys {
		if err := validKeyID(id); err != nil {
			return nil, fmt.Errorf("cloudfront.NewVerifier: %w", err)
		}
		if err := checkKeyType(k); err != nil {
			return nil, fmt.Errorf("cloudfront.NewVerifier: key %q: %w", id, err)
		}
	}
	if now == nil {
		now = time.Now
	}
	return &Verifier{keys: maps.Clone(keys), now: now}, nil
}

// VerifyRequest verifies r as CloudFront would, with the viewer address
// client.
func (v *Verifier) VerifyRequest(r *http.Request, client netip.Addr) (playback.SignedGrant, error) {
	return v.Verify(httpx.RequestURL(r), r.Cookies(), client)
}

func denied(reason, format string, args ...any) error {
	return playback.Errorf(playback.CodeForbidden, reason, format, args...)
}

// credentials are the signing values of one request, from the query or from
// cookies.
type credentials struct {
	fromQuery  bool
	expires    string
	policy     string
	signature  string
	keyID      string
	hashAlg    string
	reusable   string // the raw signing parameters, for ReusableQuery
	hasExpires bool
	hasPolicy  bool
}

// Verify checks the request for rawURL ("scheme://host/path?query") carrying
// cookies from viewer address client. A URL signature wins over cookies, as
// in CloudFront. The error is a *playback.Error with code forbidden and a
// reason: signature_missing, signature_malformed, hash_algorithm_unsupported,
// unknown_key, signature_invalid, policy_malformed, expired, not_yet_valid,
// resource_mismatch, ip_mismatch or path_not_canonical.
func (v *Verifier) Verify(rawURL string, cookies []*http.Cookie, client netip.Addr) (playback.SignedGrant, error) {
	base, rawQuery, bad := playback.SplitSignedURL(rawURL)
	if bad != nil {
		return playback.SignedGrant{}, denied("path_not_canonical", "%s", bad.Message)
	}

	cred, rest, err := queryCredentials(rawQuery)
	if err != nil {
		return playback.SignedGrant{}, err
	}
	if cred == nil {
		cred, err = cookieCredentials(cookies)
		if err != nil {
			return playback.SignedGrant{}, err
		}
	}
	// The resource is the URL without the signing parameters, other query
	// parameters kept in the order the viewer sent them.
	resourceURL := base
	if rest != "" {
		resourceURL += "?" + rest
	}

	alg := SHA1
	switch cred.hashAlg {
	case "", "SHA1":
	case "SHA256":
		alg = SHA256
	default:
		return playback.SignedGrant{}, denied("hash_algorithm_unsupported", "hash algorithm %q is not SHA1 or SHA256", cred.hashAlg)
	}
	pub, ok := v.keys[cred.keyID]
	if !ok {
		return playback.SignedGrant{}, denied("unknown_key", "key pair id %q is not trusted", cred.keyID)
	}
	sig, err := decodeCloudFront(cred.signature)
	if err != nil || len(sig) == 0 {
		return playback.SignedGrant{}, denied("signature_malformed", "signature is not CloudFront base64")
	}

	var policy []byte
	var cannedExpires int64
	if cred.hasExpires {
		cannedExpires, err = strconv.ParseInt(cred.expires, 10, 64)
		if err != nil || cannedExpires <= 0 {
			return playback.SignedGrant{}, denied("signature_malformed", "Expires %q is not a positive Unix time", cred.expires)
		}
		if err := validResource(resourceURL); err != nil {
			return playback.SignedGrant{}, denied("resource_mismatch", "%v", err)
		}
		policy = appendCannedPolicy(nil, resourceURL, cannedExpires)
	} else {
		policy, err = decodeCloudFront(cred.policy)
		if err != nil {
			return playback.SignedGrant{}, denied("policy_malformed", "policy is not CloudFront base64")
		}
	}
	if err := verifySignature(pub, alg, policy, sig); err != nil {
		return playback.SignedGrant{}, denied("signature_invalid", "signature does not match the policy for key %q", cred.keyID)
	}

	now := v.now().Unix()
	if cred.hasExpires {
		if now >= cannedExpires {
			return playback.SignedGrant{}, denied("expired", "signature expired at %d (now %d)", cannedExpires, now)
		}
		return playback.SignedGrant{KeyID: cred.keyID, Expires: time.Unix(cannedExpires, 0).UTC(), Scope: resourceURL}, nil
	}

	st, err := parsePolicy(policy)
	if err != nil {
		return playback.SignedGrant{}, denied("policy_malformed", "%v", err)
	}
	dlt := st.Condition.DateLessThan.Unix()
	if now >= dlt {
		return playback.SignedGrant{}, denied("expired", "signature expired at %d (now %d)", dlt, now)
	}
	if st.Condition.DateGreaterThan != nil && now < st.Condition.DateGreaterThan.Unix() {
		return playback.SignedGrant{}, denied("not_yet_valid", "signature is valid from %d (now %d)", st.Condition.DateGreaterThan.Unix(), now)
	}
	// An absent resource covers the whole distribution, as in CloudFront.
	if st.Resource != "" && !globMatch(st.Resource, resourceURL) {
		return playback.SignedGrant{}, denied("resource_mismatch", "policy resource %q does not cover %q", st.Resource, resourceURL)
	}
	if st.Condition.IPAddress != nil {
		prefix, err := netip.ParsePrefix(st.Condition.IPAddress.SourceIP)
		if err != nil {
			return playback.SignedGrant{}, denied("policy_malformed", "AWS:SourceIp %q is not a CIDR range", st.Condition.IPAddress.SourceIP)
		}
		if !client.IsValid() || !prefix.Contains(client.Unmap()) {
			return playback.SignedGrant{}, denied("ip_mismatch", "viewer address %s is outside %s", client, prefix)
		}
	}
	grant := playback.SignedGrant{KeyID: cred.keyID, Expires: time.Unix(dlt, 0).UTC(), Scope: st.Resource}
	if cred.fromQuery && strings.ContainsAny(st.Resource, "*?") {
		grant.ReusableQuery = cred.reusable
	}
	return grant, nil
}

// queryCredentials takes the signing parameters out of rawQuery. It returns
// nil credentials when the query carries no Key-Pair-Id (the request may
// still be signed by cookies), and the remaining query.
func queryCredentials(rawQuery string) (*credentials, string, error) {
	if rawQuery == "" {
		return nil, "", nil
	}
	var c credentials
	var rest, signing []string
	seen := map[string]bool{}
	for pair := range strings.SplitSeq(rawQuery, "&") {
		name, value, _ := strings.Cut(pair, "=")
		if !isSigningParam(name) {
			rest = append(rest, pair)
			continue
		}
		if seen[name] {
			return nil, "", denied("signature_malformed", "query parameter %s appears twice", name)
		}
		seen[name] = true
		unescaped, err := url.QueryUnescape(value)
		if err != nil {
			return nil, "", denied("signature_malformed", "query parameter %s is not URL-encoded", name)
		}
		switch name {
		case paramExpires:
			c.expires, c.hasExpires = unescaped, true
		case paramPolicy:
			c.policy, c.hasPolicy = unescaped, true
		case paramSignature:
			c.signature = unescaped
		case paramKeyPairID:
			c.keyID = unescaped
		case paramHashAlgorithm:
			c.hashAlg = unescaped
		}
		signing = append(signing, pair)
	}
	if !seen[paramKeyPairID] {
		return nil, rawQuery, nil
	}
	if c.signature == "" {
		return nil, "", denied("signature_malformed", "Key-Pair-Id without Signature")
	}
	if c.hasExpires == c.hasPolicy {
		return nil, "", denied("signature_malformed", "exactly one of Expires and Policy is required")
	}
	c.fromQuery = true
	c.reusable = strings.Join(signing, "&")
	return &c, strings.Join(rest, "&"), nil
}

func cookieCredentials(cookies []*http.Cookie) (*credentials, error) {
	var c credentials
	seen := map[string]bool{}
	for _, ck := range cookies {
		// A browser sends the cookie of the most specific path first; later
		// duplicates belong to wider paths.
		if seen[ck.Name] {
			continue
		}
		switch ck.Name {
		case CookieExpires:
			c.expires, c.hasExpires = ck.Value, true
		case CookiePolicy:
			c.policy, c.hasPolicy = ck.Value, true
		case CookieSignature:
			c.signature = ck.Value
		case CookieKeyPairID:
			c.keyID = ck.Value
		case CookieHashAlgorithm:
			c.hashAlg = ck.Value
		default:
			continue
		}
		seen[ck.Name] = true
	}
	if !seen[CookieKeyPairID] && !seen[CookieSignature] {
		return nil, denied("signature_missing", "no CloudFront signature in the query or cookies")
	}
	if c.keyID == "" || c.signature == "" {
		return nil, denied("signature_malformed", "signed cookies need CloudFront-Signature and CloudFront-Key-Pair-Id")
	}
	if c.hasExpires == c.hasPolicy {
		return nil, denied("signature_malformed", "exactly one of CloudFront-Expires and CloudFront-Policy is required")
	}
	return &c, nil
}

func verifySignature(pub crypto.PublicKey, alg HashAlgorithm, policy, sig []byte) error {
	h, digest, err := alg.digest(policy)
	if err != nil {
		return err
	}
	switch k := pub.(type) {
	case *rsa.PublicKey:
		return rsa.VerifyPKCS1v15(k, h, digest, sig)
	case *ecdsa.PublicKey:
		if !ecdsa.VerifyASN1(k, digest, sig) {
			return fmt.Errorf("ECDSA signature invalid")
		}
		return nil
	default:
		return fmt.Errorf("unsupported key type %T", pub)
	}
}

// parsePolicy reads a custom policy strictly: one statement, known fields
// only, DateLessThan present.
func parsePolicy(policy []byte) (sign.Statement, error) {
	var p sign.Policy
	dec := json.NewDecoder(bytes.NewReader(policy))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&p); err != nil {
		return sign.Statement{}, fmt.Errorf("policy is not valid JSON: %v", err)
	}
	if dec.More() {
		return sign.Statement{}, fmt.Errorf("trailing data after the policy")
	}
	if len(p.Statements) != 1 {
		return sign.Statement{}, fmt.Errorf("policy has %d statements; exactly one is allowed", len(p.Statements))
	}
	st := p.Statements[0]
	if st.Condition.DateLessThan == nil {
		return sign.Statement{}, fmt.Errorf("policy has no DateLessThan")
	}
	return st, nil
}

// globMatch matches s against pattern where * is any run of characters
// (including none) and ? is exactly one, case-sensitively, as CloudFront
// matches policy resources. Greedy with one backtrack point: linear in
// practice, O(len(p)*len(s)) at worst.
func globMatch(pattern, s string) bool {
	p, i := 0, 0
	star, mark := -1, 0
	for i < len(s) {
		switch {
		case p < len(pattern) && (pattern[p] == '?' || pattern[p] == s[i]):
			p++
			i++
		case p < len(pattern) && pattern[p] == '*':
			star, mark = p, i
			p++
		case star >= 0:
			p = star + 1
			mark++
			i = mark
		default:
			return false
		}
	}
	for p < len(pattern) && pattern[p] == '*' {
		p++
	}
	return p == len(pattern)
}
