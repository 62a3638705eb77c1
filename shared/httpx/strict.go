package httpx

import (
	"mime"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/playplane/playplane/shared/playback"
)

// ReasonContentType is the reason of a body declared as anything but JSON.
const ReasonContentType = "content_type"

// CheckJSONContentType refuses (415) a body not declared as JSON: the
// media type must be application/json (compared as a media type, so
// "Application/JSON; charset=utf-8" passes and "application/jsonx" does
// not), with no charset but UTF-8, which JSON requires. Call it only for a
// body that is there: routes whose body is optional check it only then.
func CheckJSONContentType(r *http.Request) error {
	ct := r.Header.Get("Content-Type")
	if ct == "" {
		return playback.Errorf(playback.CodeUnsupportedMediaType, ReasonContentType, "Content-Type must be application/json, got none")
	}
	mt, params, err := mime.ParseMediaType(ct)
	if err != nil || mt != "application/json" {
		return playback.Errorf(playback.CodeUnsupportedMediaType, ReasonContentType, "Content-Type must be application/json, got %q", ct)
	}
	for k, v := range params {
		if k != "charset" || !strings.EqualFold(v, "utf-8") {
			return playback.Errorf(playback.CodeUnsupportedMediaType, ReasonContentType,
				"Content-Type must be application/json, with charset=utf-8 at most, got %q", ct)
		}
	}
	return nil
}

// CheckQuery refuses (400 unknown_parameter, Details {"field": its name})
// the first query parameter that is not one of known, the ones the route
// documents. Call it on routes a client calls with parameters of its own
// choosing, after authenticating: a misspelt filter or flag must not
// quietly change what the request means. URLs the server hands to player
// libraries are not held to it, as those append parameters of their own
// (CMCD, _HLS_ and _DASH_ steering parameters, cache busters).
func CheckQuery(r *http.Request, known ...string) error {
	raw := r.URL.RawQuery
	for raw != "" {
		var pair string
		pair, raw, _ = strings.Cut(raw, "&")
		name, _, _ := strings.Cut(pair, "=")
		if name == "" {
			continue
		}
		if n, err := url.QueryUnescape(name); err == nil {
			name = n
		}
		if !slices.Contains(known, name) {
			e := playback.Errorf(playback.CodeInvalid, playback.ReasonUnknownParameter,
				"query parameter %q is not one this route takes (%s)", name, takes(known))
			e.Details = map[string]string{"field": name}
			return e
		}
	}
	return nil
}

func takes(known []string) string {
	if len(known) == 0 {
		return "it takes none"
	}
	return "it takes " + strings.Join(known, ", ")
}
