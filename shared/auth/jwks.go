package auth

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/MicahParks/jwkset"
	"github.com/MicahParks/keyfunc/v3"
	"github.com/golang-jwt/jwt/v5"
	"golang.org/x/time/rate"

	"github.com/playplane/playplane/shared/playback"
)

const minRSABits = 2048

// jwksSource is the identity provider's key set, fetched on first use.
// keyfunc fetches synchronously when constructed, so construction itself is
// the lazy step; concurrent first callers share one fetch.
type jwksSource struct {
	ctx     context.Context // ends background refreshes
	url     string
	refresh time.Duration
	timeout time.Duration
	client  *http.Client
	// retryBackoff is how long a failed fetch is answered from memory.
	retryBackoff time.Duration

	loaded  atomic.Pointer[jwksAttempt]
	mu      sync.Mutex
	attempt *jwksAttempt
}

type jwksAttempt struct {
	done     chan struct{}
	storage  jwkset.Storage
	err      error
	finished time.Time
	stop     context.CancelFunc // ends this attempt's refresh goroutine
}

func newJWKSSource(ctx context.Context, url string, refresh, timeout time.Duration) *jwksSource {
	return &jwksSource{
		ctx:     ctx,
		url:     url,
		refresh: refresh,
		timeout: timeout,
		client:  &http.Client{Timeout: timeout},

		retryBackoff: jwksRetryBackoff,
	}
}

func (j *jwksSource) storage(ctx context.Context) (jwkset.Storage, error) {
	if a := j.loaded.Load(); a != nil {
		return a.storage, nil
	}
	j.mu.Lock()
	a := j.attempt
	if a == nil || isDone(a.done) && a.err != nil && time.Since(a.finished) >= j.retryBackoff {
		a = &jwksAttempt{done: make(chan struct{})}
		j.attempt = a
		go j.load(a)
	}
	j.mu.Unlock()
	select {
	case <-a.done:
	case <-ctx.Done():
		return nil, keysUnavailable(ctx.Err())
	}
	if a.err != nil {
		return nil, keysUnavailable(a.err)
	}
	return a.storage, nil
}

func isDone(ch chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

func (j *jwksSource) load(a *jwksAttempt) {
	// keyfunc starts its refresh goroutine before the first fetch; a failed
	// attempt cancels it so retries do not pile up goroutines.
	ctx, cancel := context.WithCancel(j.ctx)
	a.stop = cancel
	noErrorOnFirstFetch := false
	kf, err := keyfunc.NewDefaultOverrideCtx(ctx, []string{j.url}, keyfunc.Override{
		Client:                    j.client,
		HTTPTimeout:               j.timeout,
		NoErrorReturnFirstHTTPReq: &noErrorOnFirstFetch,
		RefreshInterval:           j.refresh,
		RefreshUnknownKID:         rate.NewLimiter(rate.Every(UnknownKIDRefreshEvery), 1),
		// Also bounds the refetch itself; a wait longer than this fails at
		// once instead of parking the request.
		RateLimitWaitMax:        j.timeout,
		RefreshErrorHandlerFunc: func(string) func(context.Context, error) { return j.refreshFailed },
	})
	if err == nil {
		var keys []jwkset.JWK
		keys, err = kf.Storage().KeyReadAll(ctx)
		if err == nil && len(keys) == 0 {
			err = errors.New("key set has no usable keys")
		}
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	a.finished = time.Now()
	if err != nil {
		a.stop()
		a.err = fmt.Errorf("fetching %s: %w", j.url, err)
	} else {
		a.storage = kf.Storage()
		j.loaded.Store(a)
	}
	close(a.done)
}

// refreshSink collects the refetch failure of one lookup, so that an unknown
// kid during an identity provider outage is a retryable error, not a 401.
type refreshSink struct{ err error }

type refreshSinkKey struct{}

func (j *jwksSource) refreshFailed(ctx context.Context, err error) {
	if sink, ok := ctx.Value(refreshSinkKey{}).(*refreshSink); ok {
		sink.err = err
		return
	}
	slog.WarnContext(ctx, "auth: JWKS refresh failed; keeping cached keys", "url", j.url, "error", err)
}

func keysUnavailable(err error) *playback.Error {
	return &playback.Error{
		Code:       playback.CodeUnavailable,
		Reason:     ReasonKeysUnavailable,
		Message:    "identity provider keys are unavailable",
		RetryAfter: jwksRetryBackoff,
		Err:        err,
	}
}

func (j *jwksSource) key(ctx context.Context, alg, kid string, hasKID bool, sig []byte) (any, error) {
	storage, err := j.storage(ctx)
	if err != nil {
		return nil, err
	}
	if !hasKID {
		all, err := storage.KeyReadAll(ctx)
		if err != nil {
			return nil, keysUnavailable(err)
		}
		var set jwt.VerificationKeySet
		for _, jwk := range all {
			if key, err := checkedKey(jwk, alg, sig); err == nil {
				set.Keys = append(set.Keys, key)
			}
		}
		if len(set.Keys) == 0 {
			return nil, unauthenticated(ReasonTokenKeyUnknown, "no %s key for a token without kid", alg)
		}
		return set, nil
	}
	sink := &refreshSink{}
	jwk, err := storage.KeyRead(context.WithValue(ctx, refreshSinkKey{}, sink), kid)
	if err != nil {
		if sink.err != nil {
			return nil, keysUnavailable(sink.err)
		}
		if ctx.Err() != nil {
			return nil, keysUnavailable(ctx.Err())
		}
		return nil, unauthenticated(ReasonTokenKeyUnknown, "token signed with unknown key %q", kid)
	}
	return checkedKey(jwk, alg, sig)
}

// checkedKey returns the public key of jwk if it may verify an alg token
// with signature sig. A signature whose length does not fit the key was not
// made with alg, e.g. an HMAC over an RS256 header.
func checkedKey(jwk jwkset.JWK, alg string, sig []byte) (any, error) {
	meta := jwk.Marshal()
	if meta.ALG != "" && string(meta.ALG) != alg {
		return nil, unauthenticated(ReasonTokenAlgorithm, "key %q is for %s, token says %s", meta.KID, meta.ALG, alg)
	}
	if meta.USE != "" && meta.USE != jwkset.UseSig {
		return nil, unauthenticated(ReasonTokenAlgorithm, "key %q is not a signing key", meta.KID)
	}
	key := jwk.Key()
	if pk, ok := key.(interface{ Public() crypto.PublicKey }); ok {
		key = pk.Public()
	}
	switch alg {
	case jwt.SigningMethodRS256.Alg():
		pub, ok := key.(*rsa.PublicKey)
		switch {
		case !ok:
			return nil, unauthenticated(ReasonTokenAlgorithm, "key %q is not an RSA key", meta.KID)
		case pub.N.BitLen() < minRSABits:
			return nil, unauthenticated(ReasonTokenAlgorithm, "key %q is shorter than %d bits", meta.KID, minRSABits)
		case len(sig) != pub.Size():
			return nil, unauthenticated(ReasonTokenAlgorithm, "signature is not an RS256 signature")
		}
		return pub, nil
	case jwt.SigningMethodES256.Alg():
		pub, ok := key.(*ecdsa.PublicKey)
		switch {
		case !ok || pub.Curve != elliptic.P256():
			return nil, unauthenticated(ReasonTokenAlgorithm, "key %q is not a P-256 key", meta.KID)
		case len(sig) != 64:
			return nil, unauthenticated(ReasonTokenAlgorithm, "signature is not an ES256 signature")
		}
		return pub, nil
	default:
		return nil, unauthenticated(ReasonTokenAlgorithm, "algorithm %q is not accepted", alg)
	}
}
