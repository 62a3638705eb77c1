package httpx

import (
	"mime"
	"net/http"
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
