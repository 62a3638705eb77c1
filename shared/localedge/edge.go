// Package localedge stands in for the CDN in local runs. Like an origin
// bucket behind CloudFront or Cloud CDN, it holds stored objects for every
// title under /titles/{id}/ (a CMAF ladder with HLS and DASH manifests,
// see Stream) and serves them unchanged, only to requests whose CloudFront-
// or Cloud CDN-style signature verifies.
package localedge

import (
	"bytes"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/playplane/playplane/shared/httpx"
	"github.com/playplane/playplane/shared/playback"
)

// Verifier decides whether a CDN would serve r to the viewer at client;
// cloudfront.Verifier and cloudcdn.Verifier are Verifiers.
type Verifier interface {
	VerifyRequest(r *http.Request, client netip.Addr) (playback.SignedGrant, error)
}

// Handler serves /titles/{id}/{object} for the objects of Stream. Mount it
// at the root or under "/titles/".
type Handler struct {
	verifiers []Verifier
	stream    *Stream
	log       *slog.Logger
	cors      CORSPolicy // nil: no page of another origin may read
}

// CORSPolicy says whether a web page of origin may read what the edge
// serves, and whether with credentials (the viewer's cookie grants), as a
// CDN's CORS configuration does.
type CORSPolicy func(origin string) (allowed, credentials bool)

// New builds the test stream (once per process) and returns a handler that accepts a request
// when any of verifiers accepts it. It logs nothing until WithAccessLog.
func New(verifiers ...Verifier) (*Handler, error) {
	if len(verifiers) == 0 {
		return nil, fmt.Errorf("localedge.New: no verifiers")
	}
	for i, v := range verifiers {
		if v == nil {
			return nil, fmt.Errorf("localedge.New: verifier %d is nil", i)
		}
	}
	s, err := sharedStream()
	if err != nil {
		return nil, fmt.Errorf("localedge.New: %w", err)
	}
	return &Handler{verifiers: verifiers, stream: s, log: slog.New(slog.DiscardHandler)}, nil
}

// WithAccessLog returns a handler that writes one line per request to log,
// as a CDN's access log does, with the request's CMCD data parsed.
func (h *Handler) WithAccessLog(log *slog.Logger) *Handler {
	c := *h
	c.log = log
	return &c
}

// WithCORS returns a handler that answers pages of other origins as
// policy says. Without one, only pages of the edge's own origin may read
// the video.
func (h *Handler) WithCORS(policy CORSPolicy) *Handler {
	c := *h
	c.cors = policy
	return &c
}

// Stream returns the stored presentation the handler serves.
func (h *Handler) Stream() *Stream { return h.stream }

// Methods and headers a CDN configured for web players allows cross-origin.
// The CMCD headers are those of CTA-5004 header mode; Range lets players
// fetch byte ranges. The stacks give CloudFront and the Cloud CDN video
// bucket the same (infra/stack).
var (
	CORSAllowMethods  = []string{http.MethodGet, http.MethodHead, http.MethodOptions}
	CORSAllowHeaders  = []string{"CMCD-Request", "CMCD-Object", "CMCD-Status", "CMCD-Session", "Range"}
	CORSExposeHeaders = []string{"Content-Length", "Content-Range", "ETag"}
)

// CORSMaxAge is how long, in seconds, a browser may reuse a preflight.
const CORSMaxAge = 600

var (
	corsAllowMethods  = strings.Join(CORSAllowMethods, ", ")
	corsAllowHeaders  = strings.Join(CORSAllowHeaders, ", ")
	corsExposeHeaders = strings.Join(CORSExposeHeaders, ", ")
	corsMaxAge        = strconv.Itoa(CORSMaxAge)
)

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	rec := &recorder{ResponseWriter: w}
	reason := h.serve(rec, r)
	h.logAccess(r, rec, reason, time.Since(start))
}

// serve answers r and returns the reason of a refusal, if any.
func (h *Handler) serve(w http.ResponseWriter, r *http.Request) string {
	h.allowCORS(w, r)
	switch r.Method {
	case http.MethodGet, http.MethodHead:
	case http.MethodOptions:
		// Cloud CDN treats a request with a Signature query parameter as
		// signed and serves it only for GET and HEAD, so a preflight of a
		// query-signed Cloud CDN URL is refused (see edge_test.go).
		// A preflight with CloudFront's signature in the query is checked
		// like any request of a restricted cache behavior. One without a
		// signature (browsers send no cookies with preflights) is answered
		// as Cloud CDN does: it passes unsigned requests to the origin,
		// whose CORS configuration answers. CloudFront refuses it on a
		// restricted behavior (it requires a signature on every request:
		// TrustedKeyGroups in its API reference), which an edge serving
		// both styles at one address cannot tell apart.
		var err error
		if cloudCDNSignedQuery(r.URL.RawQuery) {
			err = playback.Errorf(playback.CodeForbidden, "method_not_signable", "a signed Cloud CDN request must be GET or HEAD, not %s", r.Method)
		} else if cloudFrontSignedQuery(r.URL.RawQuery) {
			_, err = h.verify(r)
		}
		if err != nil {
			w.Header().Set("Cache-Control", "no-store")
			httpx.WriteError(w, r, err)
			return playback.AsError(err).Reason
		}
		w.Header().Set("Allow", corsAllowMethods)
		if r.Header.Get("Origin") != "" && r.Header.Get("Access-Control-Request-Method") != "" {
			w.Header().Set("Access-Control-Allow-Methods", corsAllowMethods)
			w.Header().Set("Access-Control-Allow-Headers", corsAllowHeaders)
			w.Header().Set("Access-Control-Max-Age", corsMaxAge)
		}
		w.WriteHeader(http.StatusNoContent)
		return ""
	default:
		w.Header().Set("Allow", corsAllowMethods)
		err := playback.Errorf(playback.CodeMethodNotAllowed, "method_not_allowed", "method %s is not allowed", r.Method)
		httpx.WriteError(w, r, err)
		return playback.AsError(err).Reason
	}

	if _, err := h.verify(r); err != nil {
		// 403 must not be cached, or a later valid request would get it.
		w.Header().Set("Cache-Control", "no-store")
		httpx.WriteError(w, r, err)
		return playback.AsError(err).Reason
	}

	name, ok := objectName(r.URL.Path)
	var obj object
	if ok {
		obj, ok = h.stream.objects[name]
	}
	if !ok {
		err := playback.Errorf(playback.CodeNotFound, "object_not_found", "no object at %s", r.URL.Path)
		httpx.WriteError(w, r, err)
		return playback.AsError(err).Reason
	}
	w.Header().Set("Content-Type", obj.contentType)
	w.Header().Set("ETag", obj.etag)
	// The response depends on the signature, which the URL or a cookie
	// carries: a shared cache must not serve it to another viewer.
	w.Header().Set("Cache-Control", "private, max-age=60")
	// ServeContent answers HEAD, Range and If-None-Match as a CDN does.
	http.ServeContent(w, r, name, time.Time{}, bytes.NewReader(obj.body))
	return ""
}

// cloudCDNSignedQuery reports whether a query carries a Cloud CDN signature
// (KeyName and Signature); CloudFront's carries Key-Pair-Id instead.
func cloudCDNSignedQuery(rawQuery string) bool {
	var keyName, signature bool
	for p := range strings.SplitSeq(rawQuery, "&") {
		name, _, _ := strings.Cut(p, "=")
		switch name {
		case "KeyName":
			keyName = true
		case "Signature":
			signature = true
		}
	}
	return keyName && signature
}

// cloudFrontSignedQuery reports whether a query carries a CloudFront
// signature (Key-Pair-Id).
func cloudFrontSignedQuery(rawQuery string) bool {
	for p := range strings.SplitSeq(rawQuery, "&") {
		if name, _, _ := strings.Cut(p, "="); name == "Key-Pair-Id" {
			return true
		}
	}
	return false
}

// verify accepts r when one verifier does. When none does, the reason given
// is that of a verifier that found its kind of signature, so a tampered
// CloudFront URL answers signature_invalid rather than Cloud CDN's
// signature_missing.
func (h *Handler) verify(r *http.Request) (playback.SignedGrant, error) {
	client := clientAddr(r)
	var first, specific *playback.Error
	for _, v := range h.verifiers {
		grant, err := v.VerifyRequest(r, client)
		if err == nil {
			return grant, nil
		}
		pe := playback.AsError(err)
		if pe.Code != playback.CodeForbidden {
			pe = &playback.Error{Code: playback.CodeForbidden, Reason: "signature_invalid", Message: "signature rejected", Err: err}
		}
		if first == nil {
			first = pe
		}
		if specific == nil && pe.Reason != "signature_missing" {
			specific = pe
		}
	}
	if specific != nil {
		return playback.SignedGrant{}, specific
	}
	return playback.SignedGrant{}, first
}

// clientAddr is the viewer address as a CDN sees it: the peer of the
// connection, IPv4-mapped addresses unmapped.
func clientAddr(r *http.Request) netip.Addr {
	ap, err := netip.ParseAddrPort(r.RemoteAddr)
	if err != nil {
		return netip.Addr{}
	}
	return ap.Addr().Unmap()
}

// objectName returns the object path of /titles/{id}/{object}, where id is
// any title id (every title holds the same test presentation).
func objectName(path string) (string, bool) {
	rest, ok := strings.CutPrefix(path, "/titles/")
	if !ok {
		return "", false
	}
	id, name, ok := strings.Cut(rest, "/")
	if !ok || id == "" || len(id) > 128 || name == "" {
		return "", false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return "", false
		}
	}
	return name, true
}

// allowCORS lets a player page of an origin the policy allows fetch, with
// credentials (cookies) where it allows them, as a CDN configured for web
// players does: the origin named, never "*", which browsers refuse
// together with credentials. Any other origin gets no CORS headers: with
// credentials, a page anywhere could read a viewer's video with the
// viewer's cookie grants.
//
// The answer depends on Origin, so every response says so, with Origin or
// without: a cached copy made without it must not serve a player's page.
func (h *Handler) allowCORS(w http.ResponseWriter, r *http.Request) {
	w.Header().Add("Vary", "Origin")
	origin := r.Header.Get("Origin")
	if origin == "" || h.cors == nil {
		return
	}
	allowed, credentials := h.cors(origin)
	if !allowed {
		return
	}
	w.Header().Set("Access-Control-Allow-Origin", origin)
	if credentials {
		w.Header().Set("Access-Control-Allow-Credentials", "true")
	}
	w.Header().Set("Access-Control-Expose-Headers", corsExposeHeaders)
}

// recorder keeps the status and size of a response for the access log.
type recorder struct {
	http.ResponseWriter
	status int
	bytes  int64
}

func (r *recorder) WriteHeader(code int) {
	if r.status == 0 {
		r.status = code
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *recorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	n, err := r.ResponseWriter.Write(b)
	r.bytes += int64(n)
	return n, err
}

// ReadFrom keeps io.Copy from bypassing the count.
func (r *recorder) ReadFrom(src io.Reader) (int64, error) {
	return io.Copy(struct{ io.Writer }{r}, src)
}

func (r *recorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

// logAccess writes the access line: what was asked, the answer, and the
// player's CMCD data, from the query (CMCD=) or the CMCD-* headers. The
// signing parameters are left out: a log must not hold usable grants.
func (h *Handler) logAccess(r *http.Request, rec *recorder, reason string, took time.Duration) {
	attrs := []slog.Attr{
		slog.String("method", r.Method),
		slog.String("path", r.URL.Path),
		slog.Int("status", rec.status),
		slog.Int64("bytes", rec.bytes),
		slog.Int64("duration_us", took.Microseconds()),
	}
	if reason != "" {
		attrs = append(attrs, slog.String("reason", reason))
	}
	if rg := r.Header.Get("Range"); rg != "" {
		attrs = append(attrs, slog.String("range", rg))
	}
	if origin := r.Header.Get("Origin"); origin != "" {
		attrs = append(attrs, slog.String("origin", origin))
	}
	if c := requestCMCD(r); c.mode != "" {
		attrs = append(attrs, slog.String("cmcd_mode", c.mode), slog.Attr{Key: "cmcd", Value: slog.GroupValue(c.attrs()...)})
	}
	h.log.LogAttrs(r.Context(), slog.LevelInfo, "edge request", attrs...)
}
