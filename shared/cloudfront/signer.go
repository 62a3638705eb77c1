package cloudfront

import (
	"context"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/playplane/playplane/shared/httpx"
	"github.com/playplane/playplane/shared/playback"
)

// Config is the signer's part of a function's environment.
type Config struct {
	// Keys lists every key of the trusted key group as "id=ref,id=ref"; see
	// LoadKeySet for the forms of ref.
	Keys string `env:"CLOUDFRONT_KEYS"`
	// ActiveKeyID is the key that signs; the others stay listed while
	// signatures they made are still alive.
	ActiveKeyID string `env:"CLOUDFRONT_ACTIVE_KEY_ID"`
	// HashAlgorithm is SHA256 (sent as Hash-Algorithm=SHA256) or SHA1
	// (CloudFront's default, sent without the parameter).
	HashAlgorithm HashAlgorithm `env:"CLOUDFRONT_HASH_ALGORITHM, default=SHA256"`
	// CookieDomain is the Domain of the signed cookies, e.g.
	// ".media.example.com" when the API and the CDN share a parent domain;
	// empty means host-only cookies.
	CookieDomain string `env:"CLOUDFRONT_COOKIE_DOMAIN"`
}

// Signer signs with the active key of a KeySet. It is safe for concurrent
// use.
type Signer struct {
	key          Key
	alg          HashAlgorithm
	cookieDomain string
	now          func() time.Time
}

var _ playback.URLSigner = (*Signer)(nil)

// New returns a signer for the active key of keys.
func New(cfg Config, keys *KeySet) (*Signer, error) {
	if keys == nil {
		return nil, fmt.Errorf("cloudfront.New: no key set")
	}
	alg := cfg.HashAlgorithm
	if alg == "" {
		alg = SHA256
	}
	if _, err := alg.hash(); err != nil {
		return nil, fmt.Errorf("cloudfront.New: %w", err)
	}
	if err := httpx.CheckCookieDomain(cfg.CookieDomain); err != nil {
		return nil, fmt.Errorf("cloudfront.New: %w", err)
	}
	return &Signer{key: keys.Active(), alg: alg, cookieDomain: cfg.CookieDomain, now: time.Now}, nil
}

// Sign grants access to req.Prefix until req.Expires with one custom policy
// for BaseURL+Prefix+"*" (bound to req.ClientIP when set), delivered both as
// signed cookies scoped to Prefix and as a query for clients without
// cookies. The manifest URL carries a canned policy for exactly the manifest,
// or the custom policy when the grant is bound to an address, since a canned
// policy cannot carry one.
func (s *Signer) Sign(ctx context.Context, req playback.SignRequest) (playback.SignedAccess, error) {
	if err := ctx.Err(); err != nil {
		return playback.SignedAccess{}, fmt.Errorf("cloudfront.Sign: %w", err)
	}
	if err := req.Validate(s.now()); err != nil {
		return playback.SignedAccess{}, fmt.Errorf("cloudfront.Sign: %w", err)
	}
	expires := time.Unix(req.Expires.Unix(), 0).UTC()
	policy := Policy{Resource: req.BaseURL + req.Prefix + "*", DateLessThan: expires}
	if req.ClientIP.IsValid() {
		ip := req.ClientIP.Unmap()
		policy.SourceIP = netip.PrefixFrom(ip, ip.BitLen())
	}
	encPolicy, encSig, err := s.SignPolicy(policy)
	if err != nil {
		return playback.SignedAccess{}, fmt.Errorf("cloudfront.Sign: %w", err)
	}

	query := paramPolicy + "=" + encPolicy + "&" + paramSignature + "=" + encSig + "&" + paramKeyPairID + "=" + s.key.ID
	if s.alg != SHA1 {
		query += "&" + paramHashAlgorithm + "=" + string(s.alg)
	}
	manifestURL := req.BaseURL + req.Manifest + "?" + query
	if !policy.SourceIP.IsValid() {
		manifestURL, err = s.SignCannedURL(req.BaseURL+req.Manifest, expires)
		if err != nil {
			return playback.SignedAccess{}, fmt.Errorf("cloudfront.Sign: %w", err)
		}
	}

	cookie := func(name, value string) playback.Cookie {
		return playback.GrantCookie(name, value, s.cookieDomain, req)
	}
	cookies := []playback.Cookie{cookie(CookiePolicy, encPolicy), cookie(CookieSignature, encSig), cookie(CookieKeyPairID, s.key.ID)}
	if s.alg != SHA1 {
		cookies = append(cookies, cookie(CookieHashAlgorithm, string(s.alg)))
	}
	return playback.SignedAccess{ManifestURL: manifestURL, Cookies: cookies, QueryParams: query, Expires: expires, KeyID: s.key.ID}, nil
}

// SignCannedURL signs rawURL with a canned policy: valid for exactly that URL
// (query included) until expires.
func (s *Signer) SignCannedURL(rawURL string, expires time.Time) (string, error) {
	if err := checkURLToSign(rawURL); err != nil {
		return "", fmt.Errorf("cloudfront.SignCannedURL: %w", err)
	}
	exp := expires.Unix()
	var scratch [512]byte
	policy := appendCannedPolicy(scratch[:0], rawURL, exp)
	sig, err := signPolicy(s.key.Signer, s.alg, policy)
	if err != nil {
		return "", fmt.Errorf("cloudfront.SignCannedURL: %w", err)
	}
	out := make([]byte, 0, len(rawURL)+len(sig)*4/3+96)
	out = append(out, rawURL...)
	if strings.IndexByte(rawURL, '?') >= 0 {
		out = append(out, '&')
	} else {
		out = append(out, '?')
	}
	out = append(out, paramExpires+"="...)
	out = strconv.AppendInt(out, exp, 10)
	out = append(out, "&"+paramSignature+"="...)
	out = appendEncoded(out, sig)
	out = append(out, "&"+paramKeyPairID+"="...)
	out = append(out, s.key.ID...)
	if s.alg != SHA1 {
		out = append(out, "&"+paramHashAlgorithm+"="...)
		out = append(out, s.alg...)
	}
	return string(out), nil
}

// SignPolicy signs a custom policy and returns the policy and the signature
// in CloudFront's base64, ready for a query or cookies.
func (s *Signer) SignPolicy(p Policy) (encodedPolicy, encodedSignature string, err error) {
	if err := validResource(p.Resource); err != nil {
		return "", "", fmt.Errorf("cloudfront.SignPolicy: %w", err)
	}
	if p.DateLessThan.IsZero() {
		return "", "", fmt.Errorf("cloudfront.SignPolicy: DateLessThan is required")
	}
	if !p.DateGreaterThan.IsZero() && !p.DateGreaterThan.Before(p.DateLessThan) {
		return "", "", fmt.Errorf("cloudfront.SignPolicy: DateGreaterThan must be before DateLessThan")
	}
	var scratch [512]byte
	policy := appendCustomPolicy(scratch[:0], p)
	sig, err := signPolicy(s.key.Signer, s.alg, policy)
	if err != nil {
		return "", "", fmt.Errorf("cloudfront.SignPolicy: %w", err)
	}
	return string(appendEncoded(nil, policy)), string(appendEncoded(nil, sig)), nil
}

// KeyID returns the id of the signing key.
func (s *Signer) KeyID() string { return s.key.ID }

// checkURLToSign refuses what CloudFront would not verify: a scheme other
// than http(s), a fragment, characters that need escaping, and the signing
// parameters themselves.
func checkURLToSign(rawURL string) error {
	if !strings.HasPrefix(rawURL, "https://") && !strings.HasPrefix(rawURL, "http://") {
		return fmt.Errorf("URL %q must be http(s)", rawURL)
	}
	if err := validResource(rawURL); err != nil {
		return err
	}
	if strings.ContainsAny(rawURL, "#*") {
		return fmt.Errorf("URL %q holds a fragment or a wildcard", rawURL)
	}
	_, query, _ := strings.Cut(rawURL, "?")
	for pair := range strings.SplitSeq(query, "&") {
		name, _, _ := strings.Cut(pair, "=")
		if isSigningParam(name) {
			return fmt.Errorf("URL %q already holds the signing parameter %s", rawURL, name)
		}
	}
	return nil
}

func isSigningParam(name string) bool {
	switch name {
	case paramExpires, paramPolicy, paramSignature, paramKeyPairID, paramHashAlgorithm:
		return true
	}
	return false
}
