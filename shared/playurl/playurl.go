// Package playurl builds the URLs a player loads by URL alone: the
// personalized manifests of a session (functions/signurl serves them) and
// its content steering server (functions/pickedge), both carrying the
// session's manifest credential (auth.IssueManifest). Authorize play and
// sign URLs hand them out, so they are written once, here.
package playurl

import (
	"net/http"
	"net/url"
	"strings"
)

// Manifests are the personalized manifests of a session.
type Manifests struct {
	HLS  string `json:"hls"`
	DASH string `json:"dash"`
}

// PersonalizedManifests returns the manifest URLs of session id under
// apiBase with credential. cdn names the pathway to start on ("" for the
// default CDN); grant is "query" (or "", the default) or "cookie".
func PersonalizedManifests(apiBase, id, credential, cdn, grant string) Manifests {
	q := ManifestQuery(credential, cdn, grant)
	base := apiBase + "/v1/manifests/" + url.PathEscape(id)
	return Manifests{HLS: base + "/hls?" + q, DASH: base + "/dash?" + q}
}

// ManifestQuery is the query of a personalized manifest URL.
func ManifestQuery(credential, cdn, grant string) string {
	v := url.Values{"token": {credential}}
	if cdn != "" {
		v.Set("cdn", cdn)
	}
	if grant != "" && grant != "query" {
		v.Set("grant", grant)
	}
	return v.Encode()
}

// Steering is the session's content steering server for format ("hls" or
// "dash").
func Steering(apiBase, id, credential, format string) string {
	return apiBase + "/v1/steering/" + url.PathEscape(id) + "?" + url.Values{"format": {format}, "token": {credential}}.Encode()
}

// APIBase is how players reach this API: publicURL (PUBLIC_API_URL) when
// set, else the request's own scheme and host.
func APIBase(r *http.Request, publicURL string) string {
	if publicURL != "" {
		return publicURL
	}
	scheme := "http"
	if r.TLS != nil || strings.EqualFold(r.Header.Get("X-Forwarded-Proto"), "https") {
		scheme = "https"
	}
	return scheme + "://" + r.Host
}
