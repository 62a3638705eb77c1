package playback

import (
	"fmt"
	"strings"
)

// Rendition is one encoding of a title's ladder, stored under
// Title.AssetPath + Path + "/" (its media playlist, init segment and
// segments). The same CMAF renditions serve HLS and DASH.
type Rendition struct {
	// Path is the rendition's folder under the title's asset path and its
	// name in manifests (the DASH Representation id), e.g. "hd".
	Path      string  `json:"path"`
	Quality   Quality `json:"quality"`
	Bandwidth int     `json:"bandwidth"` // peak bits per second, as EXT-X-STREAM-INF BANDWIDTH
	Width     int     `json:"width"`
	Height    int     `json:"height"`
	Codecs    string  `json:"codecs"` // RFC 6381, e.g. "avc1.64001f"
}

// qualityRank orders qualities; an unknown quality ranks above every known
// one, so that a typo in the catalogue hides a rendition rather than
// granting it.
var qualityRank = map[Quality]int{QualitySD: 1, QualityHD: 2, QualityUHD: 3}

// Allows reports whether a plan capped at limit may stream quality q. An
// unknown cap or quality allows nothing.
func (limit Quality) Allows(q Quality) bool {
	rm, ok := qualityRank[limit]
	rq, known := qualityRank[q]
	return ok && known && rq <= rm
}

// Valid reports whether q is SD, HD or UHD.
func (q Quality) Valid() bool { _, ok := qualityRank[q]; return ok }

// AllowedRenditions returns the title's renditions at or under max, in
// ladder order. A title without a ladder yields none.
func (t Title) AllowedRenditions(max Quality) []Rendition {
	var out []Rendition
	for _, r := range t.Renditions {
		if max.Allows(r.Quality) {
			out = append(out, r)
		}
	}
	return out
}

// ValidateRenditions checks what manifests and grants rely on: each
// rendition a distinct single canonical path segment with a known quality.
func (t Title) ValidateRenditions() error {
	seen := map[string]bool{}
	for _, r := range t.Renditions {
		if r.Path == "" || seen[r.Path] || SignablePath("/"+r.Path) != nil || strings.Contains(r.Path, "/") || r.Path == "." || r.Path == ".." {
			return Errorf(CodeInvalid, "rendition_path", "title %q: rendition path %q must be a distinct single path segment", t.ID, r.Path)
		}
		seen[r.Path] = true
		if !r.Quality.Valid() {
			return Errorf(CodeInvalid, "rendition_quality", "title %q: rendition %q has quality %q, not SD, HD or UHD", t.ID, r.Path, r.Quality)
		}
		if r.Bandwidth <= 0 {
			return Errorf(CodeInvalid, "rendition_bandwidth", "title %q: rendition %q needs a positive bandwidth", t.ID, r.Path)
		}
	}
	return nil
}

// MediaPaths returns the title's signed scope (its asset path) and its
// manifest's path, refusing an entry whose scope could reach other titles:
// the asset path must be canonical (SignablePath: no dot segments, escapes
// or wildcards) and end in the title's own folder, so "/", "/titles/" or
// another title's folder never become a signed scope; the manifest is a
// file under it. Catalogue writes refuse such a title, so a title that
// imported can be signed.
func (t Title) MediaPaths() (prefix, manifest string, err error) {
	prefix = t.AssetPath
	if len(prefix) < 3 || prefix[0] != '/' || prefix[len(prefix)-1] != '/' {
		return "", "", Errorf(CodeInvalid, "asset_path", "title %q: asset path %q must be /.../%s/", t.ID, prefix, t.ID)
	}
	if err := SignablePath(prefix); err != nil {
		return "", "", Errorf(CodeInvalid, "asset_path", "title %q: asset path: %v", t.ID, err)
	}
	trimmed := prefix[:len(prefix)-1]
	if last := trimmed[strings.LastIndexByte(trimmed, '/')+1:]; last != t.ID {
		return "", "", Errorf(CodeInvalid, "asset_path", "title %q: asset path %q does not end in the title's own folder", t.ID, prefix)
	}
	if t.Manifest == "" || strings.HasPrefix(t.Manifest, "/") || strings.HasSuffix(t.Manifest, "/") {
		return "", "", Errorf(CodeInvalid, "manifest", "title %q: manifest %q must be a file under the asset path", t.ID, t.Manifest)
	}
	manifest = prefix + t.Manifest
	if err := SignablePath(manifest); err != nil {
		return "", "", Errorf(CodeInvalid, "manifest", "title %q: manifest: %v", t.ID, err)
	}
	return prefix, manifest, nil
}

// Signable holds a stored title to what granting it needs, its paths
// (MediaPaths) and its ladder (ValidateRenditions): the play that would
// lease a stream for it and every route that grants it ask the same.
// Catalogue writes refuse such a title, so one stored anyway (written
// before those rules, or straight into the store) is refused
// ReasonTitleNotSignable, the cause kept for the log.
func (t Title) Signable() error {
	err := t.ValidateRenditions()
	if err == nil {
		_, _, err = t.MediaPaths()
	}
	if err != nil {
		return &Error{Code: CodeForbidden, Reason: ReasonTitleNotSignable,
			Message: fmt.Sprintf("title %q cannot be played: its catalogue entry needs an operator's fix", t.ID), Err: err}
	}
	return nil
}
