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

// CredentialParam is the query parameter of the URLs built here that
// carries the session's manifest credential, a bearer token (telemetry
// keeps it out of spans).
const CredentialParam = "token"

// ManifestQuery is the query of a personalized manifest URL.
func ManifestQuery(credential, cdn, grant string) string {
	v := url.Values{CredentialParam: {credential}}
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
	return SteeringFrom(apiBase, id, credential, format, "")
}

// SteeringStart is the query parameter of a steering URI naming the
// pathway the session's manifests start on: functions/pickedge keeps that
// pathway first in the answer to that URI, its first, while it has a
// usable edge for the viewer, and leaves it out of RELOAD-URI, so later
// answers rank freely. A switch in the first answer lands while the
// player loads its first segment, which hls.js 1.7.4 never recovers from
// (docs/manifests.md).
const SteeringStart = "start"

// SteeringFrom is Steering for manifests that start on pathway start
// ("" for none: the answer is the ranking's).
func SteeringFrom(apiBase, id, credential, format, start string) string {
	return apiBase + "/v1/steering/" + url.PathEscape(id) + "?" + SteeringQuery(credential, format, start)
}

// SteeringQuery is the query of a steering URI (SteeringFrom), which
// functions/pickedge also puts on the RELOAD-URI it answers with.
func SteeringQuery(credential, format, start string) string {
	v := url.Values{"format": {format}, CredentialParam: {credential}}
	if start != "" {
		v.Set(SteeringStart, start)
	}
	return v.Encode()
}

// APIBase is how players reach this API: publicURL (PUBLIC_API_URL) when
// set, else the request's own scheme (Scheme) and host.
func APIBase(r *http.Request, publicURL string) string {
	if publicURL != "" {
		return publicURL
	}
	return Scheme(r) + "://" + r.Host
}

// Scheme is the scheme the player reached this API by, "https" or "http":
// https over TLS or when the first X-Forwarded-Proto entry
// (forwardedProto) says so, in any case. It is the one rule for every
// reader of that header: the URLs handed back (APIBase), the TLS that
// lambdahttp gives a request API Gateway terminated, and telemetry's
// url.scheme, so a span never names another scheme than the URLs its
// request answered with.
func Scheme(r *http.Request) string {
	if r.TLS != nil || strings.EqualFold(forwardedProto(r), "https") {
		return "https"
	}
	return "http"
}

// forwardedProto is the scheme the player reached the first proxy by.
// API Gateway, ALB and Google's load balancers set X-Forwarded-Proto to
// one value; a proxy that appends adds the scheme it was reached by, so
// the header's lines, one comma-separated list in order as
// X-Forwarded-For's are (RFC 9110 section 5.3), start with the hop the
// player connected to. A client may send the header itself, and a front
// door that appends keeps the client's entries first, so the first entry
// can be the caller's own words where X-Forwarded-For's walk from the
// right (steering.ClientIP) would skip them. No trusted hops are counted
// here all the same: unlike that address, which licensing and steering
// rest on, the scheme only shapes the URLs handed back to the same caller,
// so an entry it wrote itself misleads nobody else.
func forwardedProto(r *http.Request) string {
	for _, line := range r.Header.Values("X-Forwarded-Proto") {
		for entry := range strings.SplitSeq(line, ",") {
			if entry = strings.TrimSpace(entry); entry != "" {
				return entry
			}
		}
	}
	return ""
}
