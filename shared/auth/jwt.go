package auth

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"slices"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/playplane/playplane/shared/playback"
)

// Identity is the verified caller of a request.
type Identity struct {
	AccountID string // the token's `sub`
	Issuer    string
	Audience  []string
	ExpiresAt time.Time
	TokenID   string // jti if present
	// Claims are all the token's claims, when the authenticator has them
	// decoded (behind the API Gateway authorizer, flattened to strings);
	// read them with AllClaims.
	Claims map[string]any
	// rawClaims is the verified payload: the Verifier keeps it and decodes
	// it only for a caller that asks (AllClaims), so the hot path of
	// subscriber requests pays no second decode.
	rawClaims []byte
}

// AllClaims returns all the token's claims as JSON decodes them, for
// checks beyond identity such as HasAdminClaim.
func (id Identity) AllClaims() map[string]any {
	if id.Claims != nil || len(id.rawClaims) == 0 {
		return id.Claims
	}
	var m map[string]any
	if err := json.Unmarshal(id.rawClaims, &m); err != nil {
		return nil // verified and decoded once already: cannot happen
	}
	return m
}

// allClaims reads the registered claims the Verifier checks and keeps
// the payload for AllClaims.
type allClaims struct {
	jwt.RegisteredClaims
	raw []byte
}

func (c *allClaims) UnmarshalJSON(b []byte) error {
	c.raw = slices.Clone(b) // the decoder may reuse b once this returns
	return json.Unmarshal(b, &c.RegisteredClaims)
}

// VerifierConfig names the identity provider whose tokens are accepted and
// the keys that may have signed them. At least one of HS256Keys and JWKSURL
// is required.
type VerifierConfig struct {
	Issuer   string `env:"JWT_ISSUER, required"`
	Audience string `env:"JWT_AUDIENCE, required"`
	// HS256Keys are local development keys, "kid1:base64key,kid2:base64key".
	// Tokens signed with them must name their key in the `kid` header.
	HS256Keys string `env:"JWT_HS256_KEYS"`
	// JWKSURL is the identity provider's key set (RS256 and ES256 keys).
	// Plain http is allowed only for loopback hosts.
	JWKSURL string        `env:"JWT_JWKS_URL"`
	Leeway  time.Duration `env:"JWT_LEEWAY, default=30s"`
	// JWKSRefresh is how often the key set is refetched in the background;
	// a token with an unknown kid also triggers a refetch, at most once per
	// UnknownKIDRefreshEvery.
	JWKSRefresh time.Duration `env:"JWT_JWKS_REFRESH, default=1h"`
	// JWKSTimeout bounds one fetch of the key set.
	JWKSTimeout time.Duration `env:"JWT_JWKS_TIMEOUT, default=5s"`
}

// Defaults applied when VerifierConfig is built without envconfig.
const (
	DefaultJWKSRefresh     = time.Hour
	DefaultJWKSTimeout     = 5 * time.Second
	UnknownKIDRefreshEvery = time.Minute
	// jwksRetryBackoff keeps a fleet of functions from hammering an identity
	// provider that just failed.
	jwksRetryBackoff = time.Second
	maxJWTLen        = 16 << 10
)

// Verifier checks caller JWTs. It is safe for concurrent use.
type Verifier struct {
	issuer   string
	audience string
	leeway   time.Duration
	hsKeys   map[string][]byte
	jwks     *jwksSource // nil without JWKSURL
	parser   *jwt.Parser
	cancel   context.CancelFunc
	now      func() time.Time
}

// NewVerifier validates cfg. It makes no network call: the key set is
// fetched on the first token that needs it, then refreshed in the
// background until Close.
func NewVerifier(cfg VerifierConfig) (*Verifier, error) {
	if cfg.Issuer == "" {
		return nil, errors.New("auth.NewVerifier: issuer is required")
	}
	if cfg.Audience == "" {
		return nil, errors.New("auth.NewVerifier: audience is required")
	}
	if cfg.HS256Keys == "" && cfg.JWKSURL == "" {
		return nil, errors.New("auth.NewVerifier: need HS256 keys or a JWKS URL")
	}
	if cfg.Leeway < 0 || cfg.JWKSRefresh < 0 || cfg.JWKSTimeout < 0 {
		return nil, errors.New("auth.NewVerifier: durations must not be negative")
	}
	if cfg.JWKSRefresh == 0 {
		cfg.JWKSRefresh = DefaultJWKSRefresh
	}
	if cfg.JWKSTimeout == 0 {
		cfg.JWKSTimeout = DefaultJWKSTimeout
	}
	v := &Verifier{
		issuer:   cfg.Issuer,
		audience: cfg.Audience,
		leeway:   cfg.Leeway,
		hsKeys:   map[string][]byte{},
		// Claims are checked by hand so each failure gets its own reason;
		// the library still parses and verifies signatures.
		parser: jwt.NewParser(jwt.WithoutClaimsValidation(), jwt.WithStrictDecoding()),
		now:    time.Now,
	}
	if cfg.HS256Keys != "" {
		keys, err := parseKeySpec(cfg.HS256Keys)
		if err != nil {
			return nil, fmt.Errorf("auth.NewVerifier: HS256 keys: %w", err)
		}
		for _, k := range keys {
			v.hsKeys[k.kid] = k.key
		}
	}
	if cfg.JWKSURL != "" {
		if err := checkJWKSURL(cfg.JWKSURL); err != nil {
			return nil, fmt.Errorf("auth.NewVerifier: %w", err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		v.cancel = cancel
		v.jwks = newJWKSSource(ctx, cfg.JWKSURL, cfg.JWKSRefresh, cfg.JWKSTimeout)
	}
	return v, nil
}

func checkJWKSURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil {
		return fmt.Errorf("JWKS URL: %w", err)
	}
	switch u.Scheme {
	case "https":
		return nil
	case "http":
		host := u.Hostname()
		if ip := net.ParseIP(host); host == "localhost" || ip != nil && ip.IsLoopback() {
			return nil
		}
		return fmt.Errorf("JWKS URL %q: plain http is only allowed for loopback hosts", raw)
	default:
		return fmt.Errorf("JWKS URL %q: want https", raw)
	}
}

// Close stops the background key set refresh.
func (v *Verifier) Close() {
	if v.cancel != nil {
		v.cancel()
	}
}

// Authenticate verifies the "Authorization: Bearer <jwt>" of r.
func (v *Verifier) Authenticate(r *http.Request) (Identity, error) {
	token, err := BearerToken(r)
	if err != nil {
		return Identity{}, err
	}
	return v.Verify(r.Context(), token)
}

// Verify checks the token's signature, then exp, nbf, iat (with the
// configured leeway), iss, aud and sub. ctx bounds a key set fetch.
func (v *Verifier) Verify(ctx context.Context, token string) (Identity, error) {
	if token == "" {
		return Identity{}, unauthenticated(ReasonTokenMissing, "empty bearer token")
	}
	if len(token) > maxJWTLen {
		return Identity{}, unauthenticated(ReasonTokenMalformed, "token exceeds %d bytes", maxJWTLen)
	}
	var all allClaims
	claims := &all.RegisteredClaims
	_, err := v.parser.ParseWithClaims(token, &all, func(t *jwt.Token) (any, error) {
		return v.key(ctx, t)
	})
	if err != nil {
		return Identity{}, classifyJWTError(err)
	}

	now := v.now()
	switch {
	case claims.ExpiresAt == nil:
		return Identity{}, unauthenticated(ReasonTokenMalformed, "token has no exp claim")
	case !now.Before(claims.ExpiresAt.Add(v.leeway)):
		return Identity{}, unauthenticated(ReasonTokenExpired, "token expired at %s", claims.ExpiresAt.UTC().Format(time.RFC3339))
	case claims.NotBefore != nil && now.Add(v.leeway).Before(claims.NotBefore.Time):
		return Identity{}, unauthenticated(ReasonTokenNotYetValid, "token not valid before %s", claims.NotBefore.UTC().Format(time.RFC3339))
	case claims.IssuedAt != nil && now.Add(v.leeway).Before(claims.IssuedAt.Time):
		return Identity{}, unauthenticated(ReasonTokenNotYetValid, "token issued in the future")
	case claims.Issuer != v.issuer:
		return Identity{}, unauthenticated(ReasonTokenIssuer, "token issuer %q is not accepted", claims.Issuer)
	case !slices.Contains(claims.Audience, v.audience):
		return Identity{}, unauthenticated(ReasonTokenAudience, "token is not meant for audience %q", v.audience)
	case claims.Subject == "":
		return Identity{}, unauthenticated(ReasonTokenSubject, "token has no subject")
	}
	return Identity{
		AccountID: claims.Subject,
		Issuer:    claims.Issuer,
		Audience:  []string(claims.Audience),
		ExpiresAt: claims.ExpiresAt.UTC(),
		TokenID:   claims.ID,
		rawClaims: all.raw,
	}, nil
}

// key picks the one key that may verify t. The algorithm comes from the
// token, so it is checked against the key source before any key is handed
// out: HS256 only with a local key named by kid, RS256 and ES256 only with
// the identity provider's keys. That closes "alg: none" and the confusion
// of a public key used as an HMAC secret.
func (v *Verifier) key(ctx context.Context, t *jwt.Token) (any, error) {
	if _, ok := t.Header["crit"]; ok {
		return nil, unauthenticated(ReasonTokenMalformed, "token has critical header extensions")
	}
	alg, _ := t.Header["alg"].(string)
	kid, hasKID := "", false
	if raw, ok := t.Header["kid"]; ok {
		if kid, hasKID = raw.(string); !hasKID {
			return nil, unauthenticated(ReasonTokenMalformed, "token kid is not a string")
		}
	}
	switch alg {
	case jwt.SigningMethodHS256.Alg():
		if len(v.hsKeys) == 0 {
			return nil, unauthenticated(ReasonTokenAlgorithm, "HS256 tokens are not accepted")
		}
		key, ok := v.hsKeys[kid]
		if !hasKID || !ok {
			return nil, unauthenticated(ReasonTokenKeyUnknown, "HS256 token must name a known key in kid")
		}
		return key, nil
	case jwt.SigningMethodRS256.Alg(), jwt.SigningMethodES256.Alg():
		if v.jwks == nil {
			return nil, unauthenticated(ReasonTokenAlgorithm, "%s tokens are not accepted", alg)
		}
		return v.jwks.key(ctx, alg, kid, hasKID, t.Signature)
	default:
		return nil, unauthenticated(ReasonTokenAlgorithm, "algorithm %q is not accepted", alg)
	}
}

func classifyJWTError(err error) error {
	var pe *playback.Error
	switch {
	case errors.As(err, &pe):
		return pe
	case errors.Is(err, jwt.ErrTokenMalformed):
		return unauthenticated(ReasonTokenMalformed, "malformed token")
	case errors.Is(err, jwt.ErrTokenUnverifiable):
		// The library gives up before asking for a key only when alg is
		// missing or unknown to it.
		return unauthenticated(ReasonTokenAlgorithm, "token algorithm missing or unknown")
	case errors.Is(err, jwt.ErrTokenSignatureInvalid):
		return unauthenticated(ReasonTokenSignature, "token signature is invalid")
	default:
		return unauthenticated(ReasonTokenMalformed, "token rejected: %v", err)
	}
}

func randomTokenID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails since Go 1.24
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// MintHS256 signs a caller token with a local key, for development and
// tests. key must have at least MinKeyBytes bytes.
func MintHS256(kid string, key []byte, issuer, audience, subject string, ttl time.Duration, now time.Time) (string, error) {
	if err := validKID(kid); err != nil {
		return "", fmt.Errorf("auth.MintHS256: %w", err)
	}
	if len(key) < MinKeyBytes {
		return "", fmt.Errorf("auth.MintHS256: key has %d bytes, want at least %d", len(key), MinKeyBytes)
	}
	if ttl <= 0 {
		return "", errors.New("auth.MintHS256: ttl must be positive")
	}
	claims := jwt.RegisteredClaims{
		Issuer:    issuer,
		Subject:   subject,
		Audience:  jwt.ClaimStrings{audience},
		ExpiresAt: jwt.NewNumericDate(now.Add(ttl)),
		IssuedAt:  jwt.NewNumericDate(now),
		ID:        randomTokenID(),
	}
	t := jwt.NewWithClaims(jwt.SigningMethodHS256, claims)
	t.Header["kid"] = kid
	signed, err := t.SignedString(key)
	if err != nil {
		return "", fmt.Errorf("auth.MintHS256: %w", err)
	}
	return signed, nil
}
