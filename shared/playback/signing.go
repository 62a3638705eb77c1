package playback

import (
	"context"
	"net/netip"
	"strings"
	"time"
)

// SignRequest asks a CDN signer for access to one title's stream.
type SignRequest struct {
	BaseURL  string     // CDN origin base, e.g. "https://d111.cloudfront.net"
	Prefix   string     // the title's own path prefix, e.g. "/titles/t-123/" (always starts and ends with "/")
	Manifest string     // manifest path under Prefix, e.g. "/titles/t-123/master.m3u8"
	Expires  time.Time  // never later than the session lease (+grace); the caller computes it
	ClientIP netip.Addr // optional; zero value = no IP condition
}

// SignedAccess is what a player needs to fetch the manifest and every segment.
type SignedAccess struct {
	ManifestURL string   // signed URL of the manifest
	Cookies     []Cookie // signed cookies scoped to Prefix (CloudFront policy cookies / Cloud-CDN-Cookie); may be empty
	QueryParams string   // prefix-scoped signature query to append to segment URLs (e.g. Cloud CDN URLPrefix); may be empty
	Expires     time.Time
	KeyID       string // the key pair id / key name that signed
}

// URLSigner grants a player time-limited access to one title on one CDN.
// Signing is local work on keys read at construction: Sign fails only on
// the context or on a request or key it refuses, the same on every try, so
// callers answer its failure without offering a retry. It holds Expires to
// its own clock: a grant its caller checked may have ended by then, which
// is the grant's end, not a fault.
type URLSigner interface {
	Sign(ctx context.Context, req SignRequest) (SignedAccess, error)
}

// SignedGrant is what a verified signed request entitles its bearer to. Only
// the local edge needs it (in production the CDN verifies), but it lives
// here so that every verifier speaks the same type.
type SignedGrant struct {
	KeyID   string
	Expires time.Time
	// Scope is what the credential covers: a CloudFront policy resource
	// (may hold * and ? wildcards), a Cloud CDN URL prefix, or one URL.
	Scope string
	// ReusableQuery is the signature query the request carried when it
	// covers every URL under Scope, so that a playlist server may append it
	// to the URIs it writes. Empty for cookies and single-URL signatures.
	ReusableQuery string
}

// Validate checks what every signer relies on: a prefix and manifest that
// name exactly one title's files, so that a wildcard or URL-prefix signature
// cannot reach another title, and an expiry in the future.
func (r SignRequest) Validate(now time.Time) error {
	if err := validateSignBaseURL(r.BaseURL); err != nil {
		return err
	}
	if !strings.HasPrefix(r.Prefix, "/") || !strings.HasSuffix(r.Prefix, "/") || len(r.Prefix) < 2 {
		return Errorf(CodeInvalid, "sign_prefix", "prefix %q must start and end with /", r.Prefix)
	}
	if err := SignablePath(r.Prefix); err != nil {
		return err
	}
	if !strings.HasPrefix(r.Manifest, r.Prefix) || len(r.Manifest) == len(r.Prefix) || strings.HasSuffix(r.Manifest, "/") {
		return Errorf(CodeInvalid, "sign_manifest", "manifest %q must name a file under prefix %q", r.Manifest, r.Prefix)
	}
	if err := SignablePath(r.Manifest); err != nil {
		return err
	}
	if r.Expires.IsZero() {
		return Errorf(CodeInvalid, "sign_expires", "expires is required")
	}
	// CDNs compare whole seconds: an expiry inside the current second is
	// already over for them.
	if r.Expires.Unix() <= now.Unix() {
		return Errorf(CodeInvalid, "sign_expires", "expires %s is not after now %s", r.Expires.UTC().Format(time.RFC3339), now.UTC().Format(time.RFC3339))
	}
	return nil
}

// validateSignBaseURL accepts "scheme://host[:port]" and nothing more: a path,
// query or userinfo in the base would end up inside signed resources.
func validateSignBaseURL(base string) error {
	rest, ok := strings.CutPrefix(base, "https://")
	if !ok {
		rest, ok = strings.CutPrefix(base, "http://")
	}
	if !ok || rest == "" {
		return Errorf(CodeInvalid, "sign_base_url", "base URL %q must be http(s)://host", base)
	}
	for i := 0; i < len(rest); i++ {
		c := rest[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '.' || c == '-' || c == ':' || c == '[' || c == ']') {
			return Errorf(CodeInvalid, "sign_base_url", "base URL %q must be http(s)://host with a lower-case host and no path, query or userinfo", base)
		}
	}
	return nil
}

// SignablePath reports whether p is a canonical absolute path made of
// unreserved characters only. Signers refuse anything else, and verifiers
// refuse requests for anything else: a dot segment, an empty segment or a
// percent-escape (%2F, %2E) is read one way by a glob or prefix match and
// another way by the origin, which is how /titles/t-1/../t-2/x.ts would slip
// past a signature for /titles/t-1/*. Wildcards (* ?) are excluded too, so a
// title id can never widen a policy.
func SignablePath(p string) error {
	if p == "" || p[0] != '/' {
		return Errorf(CodeInvalid, "path_not_canonical", "path %q must be absolute", p)
	}
	segStart := 1
	for i := 1; i <= len(p); i++ {
		if i < len(p) {
			c := p[i]
			if c != '/' {
				if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.' || c == '~') {
					return Errorf(CodeInvalid, "path_not_canonical", "path %q holds %q; only A-Z a-z 0-9 - _ . ~ are allowed", p, c)
				}
				continue
			}
		}
		seg := p[segStart:i]
		last := i == len(p)
		if seg == "." || seg == ".." || seg == "" && !last {
			return Errorf(CodeInvalid, "path_not_canonical", "path %q has an empty or dot segment", p)
		}
		segStart = i + 1
	}
	return nil
}

// SplitSignedURL splits a URL a CDN checks a signature on into base
// (scheme://host/path) and the query without its fragment, and refuses
// (path_not_canonical) a URL without a scheme or whose path SignablePath
// refuses.
func SplitSignedURL(rawURL string) (base, rawQuery string, err *Error) {
	base, rawQuery, _ = strings.Cut(rawURL, "?")
	if i := strings.IndexByte(rawQuery, '#'); i >= 0 {
		rawQuery = rawQuery[:i]
	}
	_, afterScheme, ok := strings.Cut(base, "://")
	if !ok {
		return "", "", Errorf(CodeInvalid, "path_not_canonical", "URL %q has no scheme", base)
	}
	path := "/"
	if i := strings.IndexByte(afterScheme, '/'); i >= 0 {
		path = afterScheme[i:]
	}
	if err := SignablePath(path); err != nil {
		return "", "", AsError(err)
	}
	return base, rawQuery, nil
}

// Cookie is a signed cookie a player must send with every request under
// Path. How it travels is the HTTP layer's business (httpx.SetCookie): the
// domain only says which origin it is for.
type Cookie struct {
	Name, Value string
	Path        string // the title's prefix
	Domain      string // "" for a host-only cookie
	// Secure marks a grant for an https base: the cookie must then never
	// travel in clear, and may be sent cross-site (players usually run on
	// another site than the CDN).
	Secure bool
}

// GrantCookie is a CDN grant cookie for req's prefix, Secure on an https
// base.
func GrantCookie(name, value, domain string, req SignRequest) Cookie {
	return Cookie{Name: name, Value: value, Path: req.Prefix, Domain: domain, Secure: strings.HasPrefix(req.BaseURL, "https://")}
}
