package cloudcdn

import (
	"context"
	"crypto/hmac"
	"crypto/sha1"
	"encoding/base64"
	"fmt"
	"hash"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/playplane/playplane/shared/httpx"
	"github.com/playplane/playplane/shared/playback"
)

// Config is the signer's part of a function's environment.
type Config struct {
	// Keys lists every key of the backend as "name=ref,name=ref"; see
	// LoadKeySet for the forms of ref.
	Keys string `env:"CLOUDCDN_KEYS"`
	// ActiveKeyName is the key that signs; the others stay listed while
	// signatures they made are still alive.
	ActiveKeyName string `env:"CLOUDCDN_ACTIVE_KEY_NAME"`
	// CookieDomain is the Domain of Cloud-CDN-Cookie, e.g.
	// ".media.example.com"; empty means a host-only cookie.
	CookieDomain string `env:"CLOUDCDN_COOKIE_DOMAIN"`
}

// Parameter and cookie names of Cloud CDN signed requests.
const (
	paramURLPrefix = "URLPrefix"
	paramExpires   = "Expires"
	paramKeyName   = "KeyName"
	paramSignature = "Signature"

	CookieName = "Cloud-CDN-Cookie"
)

// macKey is a key ready to sign. HMAC-SHA1 states are pooled with a
// scratch buffer, so a signature costs one Reset (which restores the
// precomputed inner pad state), one Write and one Sum, and a signed URL
// costs one allocation: its string.
type macKey struct {
	name string
	pool sync.Pool
}

type macState struct {
	h   hash.Hash
	sum [sha1.Size]byte
	buf []byte
}

func newMACKey(k Key) *macKey {
	secret := k.Secret
	mk := &macKey{name: k.Name}
	mk.pool.New = func() any { return &macState{h: hmac.New(sha1.New, secret), buf: make([]byte, 0, 512)} }
	return mk
}

func (k *macKey) get() *macState { return k.pool.Get().(*macState) }

// put returns st to the pool with buf, the scratch buffer it lent, unless
// buf grew unusually large.
func (k *macKey) put(st *macState, buf []byte) {
	if cap(buf) <= 4<<10 {
		st.buf = buf[:0]
	}
	k.pool.Put(st)
}

// mac returns HMAC-SHA1(key, msg), valid until st is put back.
func (st *macState) mac(msg []byte) []byte {
	st.h.Reset()
	st.h.Write(msg)
	return st.h.Sum(st.sum[:0])
}

// appendSignature appends sigSep and base64url(HMAC-SHA1(key, dst[from:])).
func (st *macState) appendSignature(dst []byte, from int, sigSep string) []byte {
	sum := st.mac(dst[from:])
	dst = append(dst, sigSep...)
	return base64.URLEncoding.AppendEncode(dst, sum)
}

// Signer signs with the active key of a KeySet. It is safe for concurrent
// use.
type Signer struct {
	key          *macKey
	cookieDomain string
	now          func() time.Time
}

var _ playback.URLSigner = (*Signer)(nil)

// New returns a signer for the active key of keys.
func New(cfg Config, keys *KeySet) (*Signer, error) {
	if keys == nil {
		return nil, fmt.Errorf("cloudcdn.New: no key set")
	}
	if err := httpx.CheckCookieDomain(cfg.CookieDomain); err != nil {
		return nil, fmt.Errorf("cloudcdn.New: %w", err)
	}
	return &Signer{key: newMACKey(keys.Active()), cookieDomain: cfg.CookieDomain, now: time.Now}, nil
}

// KeyName returns the name of the signing key.
func (s *Signer) KeyName() string { return s.key.name }

// Sign grants access to BaseURL+Prefix until req.Expires with one URL-prefix
// signature, delivered as a query (appended to the manifest URL too, so a
// playlist rewriter can pass it on to segment URIs) and as Cloud-CDN-Cookie
// scoped to Prefix.
//
// Cloud CDN signed requests carry no viewer-address condition, so
// req.ClientIP cannot narrow the grant; the short expiry is the only bound
// on a leaked URL.
func (s *Signer) Sign(ctx context.Context, req playback.SignRequest) (playback.SignedAccess, error) {
	if err := ctx.Err(); err != nil {
		return playback.SignedAccess{}, fmt.Errorf("cloudcdn.Sign: %w", err)
	}
	if err := req.Validate(s.now()); err != nil {
		return playback.SignedAccess{}, fmt.Errorf("cloudcdn.Sign: %w", err)
	}
	exp := req.Expires.Unix()

	// One buffer and one string for the three results: the manifest URL
	// ends with the query, the cookie value follows.
	st := s.key.get()
	buf := st.buf[:0]
	buf = append(buf, req.BaseURL...)
	buf = append(buf, req.Manifest...)
	buf = append(buf, '?')
	queryStart := len(buf)
	buf = s.appendPrefixSignature(st, buf, req.BaseURL, req.Prefix, exp, '&')
	queryEnd := len(buf)
	buf = s.appendPrefixSignature(st, buf, req.BaseURL, req.Prefix, exp, ':')
	all := string(buf)
	s.key.put(st, buf)

	cookie := playback.GrantCookie(CookieName, all[queryEnd:], s.cookieDomain, req)
	return playback.SignedAccess{
		ManifestURL: all[:queryEnd],
		Cookies:     []playback.Cookie{cookie},
		QueryParams: all[queryStart:queryEnd],
		Expires:     time.Unix(exp, 0).UTC(),
		KeyID:       s.key.name,
	}, nil
}

// SignURL signs exactly rawURL (query included) until expires:
// rawURL?Expires=..&KeyName=..&Signature=base64url(HMAC-SHA1(key, URL up to
// KeyName)).
func (s *Signer) SignURL(rawURL string, expires time.Time) (string, error) {
	hasQuery, err := checkURLToSign(rawURL)
	if err != nil {
		return "", fmt.Errorf("cloudcdn.SignURL: %w", err)
	}
	st := s.key.get()
	buf := append(st.buf[:0], rawURL...)
	if hasQuery {
		buf = append(buf, '&')
	} else {
		buf = append(buf, '?')
	}
	buf = append(buf, paramExpires+"="...)
	buf = strconv.AppendInt(buf, expires.Unix(), 10)
	buf = append(buf, "&"+paramKeyName+"="...)
	buf = append(buf, s.key.name...)
	buf = st.appendSignature(buf, 0, "&"+paramSignature+"=")
	out := string(buf)
	s.key.put(st, buf)
	return out, nil
}

// SignPrefixQuery returns URLPrefix=..&Expires=..&KeyName=..&Signature=..
// for every URL starting with prefixURL ("https://host/path/").
func (s *Signer) SignPrefixQuery(prefixURL string, expires time.Time) (string, error) {
	if err := checkPrefixToSign(prefixURL); err != nil {
		return "", fmt.Errorf("cloudcdn.SignPrefixQuery: %w", err)
	}
	st := s.key.get()
	buf := s.appendPrefixSignature(st, st.buf[:0], prefixURL, "", expires.Unix(), '&')
	out := string(buf)
	s.key.put(st, buf)
	return out, nil
}

// SignCookieValue returns the Cloud-CDN-Cookie value
// URLPrefix=..:Expires=..:KeyName=..:Signature=.. for prefixURL.
func (s *Signer) SignCookieValue(prefixURL string, expires time.Time) (string, error) {
	if err := checkPrefixToSign(prefixURL); err != nil {
		return "", fmt.Errorf("cloudcdn.SignCookieValue: %w", err)
	}
	st := s.key.get()
	buf := s.appendPrefixSignature(st, st.buf[:0], prefixURL, "", expires.Unix(), ':')
	out := string(buf)
	s.key.put(st, buf)
	return out, nil
}

// appendPrefixSignature appends URLPrefix=<base64url(a+b)><sep>Expires=..
// <sep>KeyName=..<sep>Signature=.. where the signature covers everything
// before <sep>Signature. The prefix comes as two strings so that callers
// need not concatenate them.
func (s *Signer) appendPrefixSignature(st *macState, dst []byte, a, b string, exp int64, sep byte) []byte {
	start := len(dst)
	dst = append(dst, paramURLPrefix+"="...)
	dst = appendBase64URL(dst, a, b)
	dst = append(dst, sep)
	dst = append(dst, paramExpires+"="...)
	dst = strconv.AppendInt(dst, exp, 10)
	dst = append(dst, sep)
	dst = append(dst, paramKeyName+"="...)
	dst = append(dst, s.key.name...)
	sigSep := "&" + paramSignature + "="
	if sep == ':' {
		sigSep = ":" + paramSignature + "="
	}
	return st.appendSignature(dst, start, sigSep)
}

const base64URLAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"

// appendBase64URL appends the padded base64url encoding of a+b without
// building a+b.
func appendBase64URL(dst []byte, a, b string) []byte {
	n := len(a) + len(b)
	at := func(i int) uint {
		if i < len(a) {
			return uint(a[i])
		}
		return uint(b[i-len(a)])
	}
	i := 0
	for ; i+3 <= n; i += 3 {
		v := at(i)<<16 | at(i+1)<<8 | at(i+2)
		dst = append(dst, base64URLAlphabet[v>>18&0x3f], base64URLAlphabet[v>>12&0x3f], base64URLAlphabet[v>>6&0x3f], base64URLAlphabet[v&0x3f])
	}
	switch n - i {
	case 1:
		v := at(i) << 16
		dst = append(dst, base64URLAlphabet[v>>18&0x3f], base64URLAlphabet[v>>12&0x3f], '=', '=')
	case 2:
		v := at(i)<<16 | at(i+1)<<8
		dst = append(dst, base64URLAlphabet[v>>18&0x3f], base64URLAlphabet[v>>12&0x3f], base64URLAlphabet[v>>6&0x3f], '=')
	}
	return dst
}

// checkURLToSign refuses what Cloud CDN would not verify: a scheme other
// than http(s), a fragment, characters that need escaping, and the signing
// parameters themselves. It reports whether the URL has a query. One pass,
// no allocation: it sits on the signing hot path.
func checkURLToSign(rawURL string) (hasQuery bool, err error) {
	if !strings.HasPrefix(rawURL, "https://") && !strings.HasPrefix(rawURL, "http://") {
		return false, fmt.Errorf("URL %q must be http(s)", rawURL)
	}
	param := -1 // start of the current query parameter
	for i := 0; i <= len(rawURL); i++ {
		var c byte = '&'
		if i < len(rawURL) {
			c = rawURL[i]
			if c <= 0x20 || c >= 0x7f || c == '#' {
				return false, fmt.Errorf("URL %q holds %q; escape it", rawURL, c)
			}
		}
		switch {
		case c == '?' && param < 0:
			param = i + 1
		case c == '&' && param >= 0:
			name := rawURL[param:i]
			if eq := strings.IndexByte(name, '='); eq >= 0 {
				name = name[:eq]
			}
			switch name {
			case paramURLPrefix, paramExpires, paramKeyName, paramSignature:
				return false, fmt.Errorf("URL %q already holds the signing parameter %s", rawURL, name)
			}
			param = i + 1
		}
	}
	return param >= 0, nil
}

func checkPrefixToSign(prefixURL string) error {
	if err := checkPrintableHTTP(prefixURL); err != nil {
		return err
	}
	if strings.IndexByte(prefixURL, '?') >= 0 {
		return fmt.Errorf("URL prefix %q must not hold a query", prefixURL)
	}
	return nil
}

func checkPrintableHTTP(u string) error {
	if !strings.HasPrefix(u, "https://") && !strings.HasPrefix(u, "http://") {
		return fmt.Errorf("URL %q must be http(s)", u)
	}
	for i := 0; i < len(u); i++ {
		if c := u[i]; c <= 0x20 || c >= 0x7f || c == '#' {
			return fmt.Errorf("URL %q holds %q; escape it", u, c)
		}
	}
	return nil
}
