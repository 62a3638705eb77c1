package steering

import (
	"errors"
	"math"
	"net/url"
	"slices"
	"strconv"
	"strings"
)

// SteeringManifest is a content steering server's answer (HLS Content
// Steering in draft-pantos-hls-rfc8216bis; DASH-IF Content Steering). hls.js,
// dash.js, Shaka, video.js and ExoPlayer read VERSION, TTL (seconds before
// the next reload), RELOAD-URI (resolved against the previous steering URI)
// and the priority list of Pathway IDs.
type SteeringManifest struct {
	Version   int    `json:"VERSION"`
	TTL       int    `json:"TTL"`
	ReloadURI string `json:"RELOAD-URI,omitempty"`
	// PathwayPriority is the HLS key, and also the one current dash.js
	// reads for DASH.
	PathwayPriority []string `json:"PATHWAY-PRIORITY,omitempty"`
	// ServiceLocationPriority is the DASH key of the DASH-IF community
	// review draft, which older dash.js and video.js read.
	ServiceLocationPriority []string `json:"SERVICE-LOCATION-PRIORITY,omitempty"`
}

// StartOn moves pathway to the front of the priority lists when they hold
// it (the ranking has a usable edge on it for the viewer) and reports
// whether they do; the order of the others is kept. It is for the first
// answer of a session that started on pathway: that answer is read while
// the player loads its first segment, and a switch then stalls hls.js
// 1.7.4 for good (docs/manifests.md). A pathway the lists lack is left to
// the ranking: the player cannot stay on it.
func (m *SteeringManifest) StartOn(pathway string) bool {
	i := slices.Index(m.PathwayPriority, pathway)
	if i <= 0 {
		return i == 0
	}
	// A fresh slice: the DASH key may share the HLS key's array.
	out := make([]string, 0, len(m.PathwayPriority))
	out = append(append(append(out, pathway), m.PathwayPriority[:i]...), m.PathwayPriority[i+1:]...)
	m.PathwayPriority = out
	if m.ServiceLocationPriority != nil {
		m.ServiceLocationPriority = m.PathwayPriority
	}
	return true
}

// ErrNoPathway is returned when a ranking has no pathway to advertise; the
// specifications require a non-empty priority list.
var ErrNoPathway = errors.New("steering: ranking has no pathway")

// HLSManifest writes the ranking's CDN order as an HLS steering manifest.
func HLSManifest(r *Ranking, reloadURI string) (SteeringManifest, error) {
	m := SteeringManifest{Version: 1, TTL: ttlSeconds(r), ReloadURI: reloadURI, PathwayPriority: r.AppendPathways(nil)}
	if len(m.PathwayPriority) == 0 {
		return SteeringManifest{}, ErrNoPathway
	}
	return m, nil
}

// DASHManifest writes the ranking's CDN order as a DASH steering manifest
// (the serviceLocation of each BaseURL is the CDN name). Both priority keys
// carry the list, since DASH players disagree on which one to read.
func DASHManifest(r *Ranking, reloadURI string) (SteeringManifest, error) {
	m, err := HLSManifest(r, reloadURI)
	if err != nil {
		return m, err
	}
	m.ServiceLocationPriority = m.PathwayPriority
	return m, nil
}

func ttlSeconds(r *Ranking) int {
	return max(1, int(math.Ceil(r.TTL.Seconds())))
}

// SteeringRequest is what a player reports when it reloads the steering
// manifest: the pathways it has been using and its measured throughput on
// them, best first.
type SteeringRequest struct {
	Pathways      []string
	ThroughputBps []int64
}

// ParseSteeringQuery reads the query parameters players add to the steering
// URI: _HLS_pathway and _HLS_throughput (one value each), or _DASH_pathway (a
// quoted comma-separated list) and _DASH_throughput (a comma-separated
// list). Malformed values are dropped: they are hints, never a reason to
// refuse a manifest.
func ParseSteeringQuery(q url.Values) SteeringRequest {
	var req SteeringRequest
	pathways, throughput := q.Get("_HLS_pathway"), q.Get("_HLS_throughput")
	if pathways == "" && throughput == "" {
		pathways, throughput = q.Get("_DASH_pathway"), q.Get("_DASH_throughput")
	}
	for p := range strings.SplitSeq(strings.Trim(pathways, `"`), ",") {
		if p = strings.TrimSpace(p); ValidPathwayID(p) {
			req.Pathways = append(req.Pathways, p)
		}
	}
	for t := range strings.SplitSeq(throughput, ",") {
		if bps, err := strconv.ParseInt(strings.TrimSpace(t), 10, 64); err == nil && bps > 0 {
			req.ThroughputBps = append(req.ThroughputBps, bps)
		}
	}
	return req
}
