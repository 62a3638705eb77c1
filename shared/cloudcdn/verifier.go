package cloudcdn

import (
	"crypto/hmac"
	"encoding/base64"
	"fmt"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/playplane/playplane/shared/httpx"
	"github.com/playplane/playplane/shared/playback"
)

// Verifier checks signed URLs, URLPrefix-signed queries and Cloud-CDN-Cookie
// the way a Cloud CDN backend with signed request keys does. It is what the
// local edge runs in place of Cloud CDN.
type Verifier struct {
	keys map[string]*macKey
	now  func() time.Time
}

// NewVerifier trusts keys. now may be nil (time.Now).
func NewVerifier(keys []Key, now func() time.Time) (*Verifier, error) {
	if len(keys) == 0 {
		return nil, fmt.Errorf("cloudcdn.NewVerifier: no keys")
	}
	m := make(map[string]*macKey, len(keys))
	for _, k := range keys {
		if err := validKeyName(k.Name); err != nil {
			return nil, fmt.Errorf("cloudcdn.NewVerifier: %w", err)
		}
		if len(k.Secret) != KeySize {
			return nil, fmt.Errorf("cloudcdn.NewVerifier: key %q has %d bytes, want %d", k.Name, len(k.Secret), KeySize)
		}
		m[k.Name] = newMACKey(Key{Name: k.Name, Secret: append([]byte(nil), k.Secret...)})
	}
	if now == nil {
		now = time.Now
	}
	return &Verifier{keys: m, now: now}, nil
}

// VerifyRequest verifies r as Cloud CDN would. Cloud CDN signatures carry
// no address condition, so client is not consulted; it is there so that
// every CDN verifier has the same shape.
func (v *Verifier) VerifyRequest(r *http.Request, client netip.Addr) (playback.SignedGrant, error) {
	return v.Verify(httpx.RequestURL(r), r.Cookies())
}

func denied(reason, format string, args ...any) error {
	return playback.Errorf(playback.CodeForbidden, reason, format, args...)
}

// signed is one signature to check: the exact bytes signed and the values
// they carry.
type signed struct {
	message   string // the bytes the HMAC covers
	prefix    string // encoded URLPrefix, or "" for a single-URL signature
	expires   string
	keyName   string
	signature string
	reusable  string
}

// Verify checks the request for rawURL ("scheme://host/path?query") carrying
// cookies. A signature in the query wins over the cookie. The error is a
// *playback.Error with code forbidden and a reason: signature_missing,
// signature_malformed, unknown_key, signature_invalid, expired,
// resource_mismatch or path_not_canonical.
func (v *Verifier) Verify(rawURL string, cookies []*http.Cookie) (playback.SignedGrant, error) {
	base, rawQuery, bad := playback.SplitSignedURL(rawURL)
	if bad != nil {
		return playback.SignedGrant{}, denied("path_not_canonical", "%s", bad.Message)
	}

	var sg *signed
	var requestURL string // what the URL prefix must cover
	var err error
	if rawQuery != "" {
		sg, requestURL, err = querySignature(base, rawQuery)
		if err != nil {
			return playback.SignedGrant{}, err
		}
	}
	if sg == nil {
		sg, err = cookieSignature(cookies)
		if err != nil {
			return playback.SignedGrant{}, err
		}
		requestURL = base
		if rawQuery != "" {
			requestURL += "?" + rawQuery
		}
	}

	key, ok := v.keys[sg.keyName]
	if !ok {
		return playback.SignedGrant{}, denied("unknown_key", "key name %q is not configured", sg.keyName)
	}
	sig, err := decodeBase64URL(sg.signature)
	if err != nil {
		return playback.SignedGrant{}, denied("signature_malformed", "signature is not base64url")
	}
	st := key.get()
	msg := append(st.buf[:0], sg.message...)
	ok = hmac.Equal(st.mac(msg), sig)
	key.put(st, msg)
	if !ok {
		return playback.SignedGrant{}, denied("signature_invalid", "signature does not match for key %q", sg.keyName)
	}

	exp, err := strconv.ParseInt(sg.expires, 10, 64)
	if err != nil || exp <= 0 {
		return playback.SignedGrant{}, denied("signature_malformed", "Expires %q is not a positive Unix time", sg.expires)
	}
	if now := v.now().Unix(); now >= exp {
		return playback.SignedGrant{}, denied("expired", "signature expired at %d (now %d)", exp, now)
	}
	grant := playback.SignedGrant{KeyID: sg.keyName, Expires: time.Unix(exp, 0).UTC(), Scope: requestURL}
	if sg.prefix != "" {
		prefix, err := decodeBase64URL(sg.prefix)
		if err != nil {
			return playback.SignedGrant{}, denied("signature_malformed", "URLPrefix is not base64url")
		}
		if !strings.HasPrefix(string(prefix), "http://") && !strings.HasPrefix(string(prefix), "https://") {
			return playback.SignedGrant{}, denied("signature_malformed", "URLPrefix %q is not an http(s) URL", prefix)
		}
		if !strings.HasPrefix(requestURL, string(prefix)) {
			return playback.SignedGrant{}, denied("resource_mismatch", "URL prefix %q does not cover %q", prefix, requestURL)
		}
		grant.Scope = string(prefix)
		grant.ReusableQuery = sg.reusable
	}
	return grant, nil
}

// querySignature reads a signature from the query. It returns nil when the
// query names no KeyName and no URLPrefix (the request may be signed by the
// cookie). Signature must be the last parameter and the signed parameters
// must precede it in Cloud CDN's order; the returned URL is what a
// URL prefix must cover: the request without the signing parameters.
func querySignature(base, rawQuery string) (*signed, string, error) {
	params := strings.Split(rawQuery, "&")
	var prefixes, expiries, keyNames, signatures int
	for _, p := range params {
		name, _, _ := strings.Cut(p, "=")
		switch name {
		case paramURLPrefix:
			prefixes++
		case paramExpires:
			expiries++
		case paramKeyName:
			keyNames++
		case paramSignature:
			signatures++
		}
	}
	if keyNames == 0 && prefixes == 0 {
		return nil, "", nil
	}
	if prefixes > 1 || expiries > 1 || keyNames > 1 || signatures > 1 {
		return nil, "", denied("signature_malformed", "a signing parameter appears more than once")
	}
	n := len(params)
	value := func(i int, want string) (string, bool) {
		if i < 0 {
			return "", false
		}
		name, val, ok := strings.Cut(params[i], "=")
		if !ok || name != want {
			return "", false
		}
		unescaped, err := url.QueryUnescape(val)
		return unescaped, err == nil
	}
	sigValue, ok := value(n-1, paramSignature)
	if !ok {
		return nil, "", denied("signature_malformed", "Signature must be the last query parameter")
	}
	keyName, ok1 := value(n-2, paramKeyName)
	expires, ok2 := value(n-3, paramExpires)
	if !ok1 || !ok2 {
		return nil, "", denied("signature_malformed", "the query must end with Expires, KeyName, Signature")
	}
	if prefixes == 0 {
		signedURL := base + "?" + strings.Join(params[:n-1], "&")
		requestURL := base
		if n > 3 {
			requestURL += "?" + strings.Join(params[:n-3], "&")
		}
		return &signed{message: signedURL, expires: expires, keyName: keyName, signature: sigValue}, requestURL, nil
	}
	prefix, ok := value(n-4, paramURLPrefix)
	if !ok {
		return nil, "", denied("signature_malformed", "URLPrefix must directly precede Expires, KeyName, Signature")
	}
	requestURL := base
	if n > 4 {
		requestURL += "?" + strings.Join(params[:n-4], "&")
	}
	return &signed{
		message:   strings.Join(params[n-4:n-1], "&"),
		prefix:    prefix,
		expires:   expires,
		keyName:   keyName,
		signature: sigValue,
		reusable:  strings.Join(params[n-4:], "&"),
	}, requestURL, nil
}

// cookieSignature reads Cloud-CDN-Cookie:
// URLPrefix=..:Expires=..:KeyName=..:Signature=.., fields in that order.
func cookieSignature(cookies []*http.Cookie) (*signed, error) {
	var value string
	found := false
	for _, c := range cookies {
		// A browser sends the cookie of the most specific path first.
		if c.Name == CookieName {
			value, found = c.Value, true
			break
		}
	}
	if !found {
		return nil, denied("signature_missing", "no Cloud CDN signature in the query or cookie")
	}
	fields := strings.Split(value, ":")
	names := [...]string{paramURLPrefix, paramExpires, paramKeyName, paramSignature}
	var vals [4]string
	if len(fields) != len(names) {
		return nil, denied("signature_malformed", "%s must hold URLPrefix, Expires, KeyName, Signature", CookieName)
	}
	for i, f := range fields {
		name, val, ok := strings.Cut(f, "=")
		if !ok || name != names[i] {
			return nil, denied("signature_malformed", "%s field %d must be %s", CookieName, i+1, names[i])
		}
		vals[i] = val
	}
	return &signed{
		message:   strings.Join(fields[:3], ":"),
		prefix:    vals[0],
		expires:   vals[1],
		keyName:   vals[2],
		signature: vals[3],
	}, nil
}

func decodeBase64URL(s string) ([]byte, error) {
	if strings.HasSuffix(s, "=") || len(s)%4 == 0 {
		return base64.URLEncoding.DecodeString(s)
	}
	return base64.RawURLEncoding.DecodeString(s)
}
