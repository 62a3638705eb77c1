// Package localedge stands in for the CDN in local runs: it serves a small
// HLS test stream for any title under /titles/{id}/ and, like the CDN, only
// to requests whose CloudFront- or Cloud CDN-style signature verifies.
package localedge

import (
	"fmt"
	"net/http"
	"net/netip"
	"strconv"
	"strings"

	"github.com/playplane/playplane/shared/httpx"
	"github.com/playplane/playplane/shared/playback"
)

// Verifier decides whether a CDN would serve r to the viewer at client;
// cloudfront.Verifier and cloudcdn.Verifier are Verifiers.
type Verifier interface {
	VerifyRequest(r *http.Request, client netip.Addr) (playback.SignedGrant, error)
}

// Handler serves /titles/{id}/master.m3u8, /titles/{id}/media.m3u8 and
// /titles/{id}/seg{n}.ts. Mount it at the root or under "/titles/".
type Handler struct {
	verifiers []Verifier
	stream    *stream
}

// New builds the test stream and returns a handler that accepts a request
// when any of verifiers accepts it.
func New(verifiers ...Verifier) (*Handler, error) {
	if len(verifiers) == 0 {
		return nil, fmt.Errorf("localedge.New: no verifiers")
	}
	for i, v := range verifiers {
		if v == nil {
			return nil, fmt.Errorf("localedge.New: verifier %d is nil", i)
		}
	}
	s, err := buildStream()
	if err != nil {
		return nil, fmt.Errorf("localedge.New: %w", err)
	}
	return &Handler{verifiers: verifiers, stream: s}, nil
}

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	allowCORS(w, r)
	switch r.Method {
	case http.MethodGet, http.MethodHead:
	case http.MethodOptions:
		w.Header().Set("Access-Control-Allow-Methods", "GET, HEAD, OPTIONS")
		w.WriteHeader(http.StatusNoContent)
		return
	default:
		w.Header().Set("Allow", "GET, HEAD, OPTIONS")
		httpx.WriteError(w, r, playback.Errorf(playback.CodeMethodNotAllowed, "method_not_allowed", "method %s is not allowed", r.Method))
		return
	}

	grant, err := h.verify(r)
	if err != nil {
		// 403 must not be cached, or a later valid request would get it.
		w.Header().Set("Cache-Control", "no-store")
		httpx.WriteError(w, r, err)
		return
	}

	file, ok := titleFile(r.URL.Path)
	if !ok {
		httpx.WriteError(w, r, playback.Errorf(playback.CodeNotFound, "object_not_found", "no object at %s", r.URL.Path))
		return
	}
	w.Header().Set("Cache-Control", "private, no-cache")
	switch {
	case file == "master.m3u8":
		writeBody(w, r, "application/vnd.apple.mpegurl", h.stream.masterPlaylist(grant.ReusableQuery))
	case file == "media.m3u8":
		writeBody(w, r, "application/vnd.apple.mpegurl", h.stream.mediaPlaylist(grant.ReusableQuery))
	case strings.HasPrefix(file, "seg") && strings.HasSuffix(file, ".ts"):
		n, err := strconv.Atoi(strings.TrimSuffix(strings.TrimPrefix(file, "seg"), ".ts"))
		if err != nil || n < 0 || n >= len(h.stream.segments) || strconv.Itoa(n)+".ts" != file[3:] {
			httpx.WriteError(w, r, playback.Errorf(playback.CodeNotFound, "object_not_found", "no object at %s", r.URL.Path))
			return
		}
		writeBody(w, r, "video/mp2t", h.stream.segments[n])
	default:
		httpx.WriteError(w, r, playback.Errorf(playback.CodeNotFound, "object_not_found", "no object at %s", r.URL.Path))
	}
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

// titleFile returns the file name of /titles/{id}/{file}.
func titleFile(path string) (string, bool) {
	rest, ok := strings.CutPrefix(path, "/titles/")
	if !ok {
		return "", false
	}
	id, file, ok := strings.Cut(rest, "/")
	if !ok || id == "" || len(id) > 128 || file == "" || strings.Contains(file, "/") {
		return "", false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return "", false
		}
	}
	return file, true
}

func writeBody(w http.ResponseWriter, r *http.Request, contentType string, body []byte) {
	w.Header().Set("Content-Type", contentType)
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		_, _ = w.Write(body)
	}
}

// allowCORS lets a player page on another origin fetch with credentials
// (cookies), as a CDN configured for web players does.
func allowCORS(w http.ResponseWriter, r *http.Request) {
	origin := r.Header.Get("Origin")
	if origin == "" {
		return
	}
	w.Header().Set("Access-Control-Allow-Origin", origin)
	w.Header().Set("Access-Control-Allow-Credentials", "true")
	w.Header().Add("Vary", "Origin")
}
