package signurl

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	neturl "net/url"
	"sync"
	"time"

	"github.com/playplane/playplane/shared/playback"
)

// Origin reads a title's stored objects (its manifests) by path, e.g.
// "/titles/t1/master.m3u8".
type Origin interface {
	Get(ctx context.Context, path string) ([]byte, error)
}

// maxManifestBytes bounds a stored manifest: a media playlist of a
// three-hour title at 2 s segments is about 150 kB.
const maxManifestBytes = 4 << 20

// HTTPOrigin fetches stored objects over HTTP: from the asset bucket's
// endpoint, or through a CDN when Sign is set (each fetch then carries a
// grant for exactly the object's folder, valid for a minute). Answers are
// kept for TTL, so a title's manifests cost one fetch per instance and
// TTL however many sessions play it.
type HTTPOrigin struct {
	Base   string // "https://bucket.s3.amazonaws.com", no trailing slash
	Client *http.Client
	// Sign, when set, signs the fetch as the CDN wants it.
	Sign func(ctx context.Context, path string) (string, error)
	TTL  time.Duration
	Max  int // entries kept; the oldest go first
	Now  func() time.Time

	mu    sync.Mutex
	cache map[string]cached
	order []string
}

type cached struct {
	body []byte
	at   time.Time
}

// Get returns the object at path, from the cache while it is fresh.
func (o *HTTPOrigin) Get(ctx context.Context, path string) ([]byte, error) {
	now := o.Now()
	o.mu.Lock()
	if c, ok := o.cache[path]; ok && now.Sub(c.at) < o.TTL {
		o.mu.Unlock()
		return c.body, nil
	}
	o.mu.Unlock()

	body, err := o.fetch(ctx, path)
	if err != nil {
		return nil, err
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.cache == nil {
		o.cache = map[string]cached{}
	}
	if _, ok := o.cache[path]; !ok {
		o.order = append(o.order, path)
	}
	o.cache[path] = cached{body: body, at: now}
	for len(o.order) > max(o.Max, 1) {
		delete(o.cache, o.order[0])
		o.order = o.order[1:]
	}
	return body, nil
}

func (o *HTTPOrigin) fetch(ctx context.Context, path string) ([]byte, error) {
	url := o.Base + path
	if o.Sign != nil {
		var err error
		if url, err = o.Sign(ctx, path); err != nil {
			return nil, &playback.Error{Code: playback.CodeInternal, Reason: "origin_sign_failed", RetryAfter: playback.NoRetry, Err: fmt.Errorf("signurl: origin %s: %w", path, err)}
		}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, &playback.Error{Code: playback.CodeInternal, Reason: "origin_url", RetryAfter: playback.NoRetry, Err: fmt.Errorf("signurl: origin %s: %w", path, err)}
	}
	resp, err := o.Client.Do(req)
	if err != nil {
		// net/http's error names the URL it fetched, the grant included,
		// and a 5xx's error is logged: name the object only.
		var ue *neturl.Error
		if errors.As(err, &ue) {
			err = &neturl.Error{Op: ue.Op, URL: o.Base + path, Err: ue.Err}
		}
		if ctx.Err() != nil {
			return nil, err
		}
		return nil, playback.Unavailable(err, "signurl: origin %s", path)
	}
	defer resp.Body.Close()
	switch {
	case resp.StatusCode == http.StatusNotFound:
		return nil, playback.Errorf(playback.CodeNotFound, playback.ReasonManifestNotStored, "the origin holds no %s", path)
	case resp.StatusCode >= 500 || resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode == http.StatusRequestTimeout:
		return nil, playback.Unavailable(fmt.Errorf("status %d", resp.StatusCode), "signurl: origin %s", path)
	case resp.StatusCode != http.StatusOK:
		// 403 and the like: our credentials or configuration, not the
		// player's request, and the same on every try until an operator
		// fixes them.
		return nil, &playback.Error{Code: playback.CodeInternal, Reason: "origin_refused", RetryAfter: playback.NoRetry, Err: fmt.Errorf("signurl: origin %s: status %d", path, resp.StatusCode)}
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxManifestBytes+1))
	if err != nil {
		return nil, playback.Unavailable(err, "signurl: origin %s", path)
	}
	if len(body) > maxManifestBytes {
		return nil, &playback.Error{Code: playback.CodeInternal, Reason: "manifest_too_large", RetryAfter: playback.NoRetry, Err: errors.New("signurl: origin " + path + " exceeds 4 MiB")}
	}
	return body, nil
}
