package playback

import (
	"slices"
	"strings"
)

// Viewer is who is watching, as far as QoE aggregates break views down:
// fixed when the play is admitted (authorize play), carried in the
// playback token's claims and on every heartbeat message, so that no
// heartbeat costs a lookup for it. The zero value is "unknown".
type Viewer struct {
	// Country is ISO 3166-1 alpha-2: where the front door or GeoIP put
	// the viewer at the play, else the account's home territory.
	Country string
	// ASN is the viewer's network (autonomous system), 0 when unknown:
	// from the front door's header (CloudFront-Viewer-ASN) or the GeoIP
	// ASN database.
	ASN uint32
	// DeviceType is one of DeviceTypes, "" when unknown.
	DeviceType string
}

// Device types, the coarse classes QoE compares (Mux Data's "device
// category" has the same granularity).
const (
	DeviceDesktop = "desktop"
	DeviceMobile  = "mobile"
	DeviceTablet  = "tablet"
	DeviceTV      = "tv"
	DeviceConsole = "console"
	DeviceOther   = "other"
)

// DeviceTypes lists every device type, as the play request's device_type
// enum does.
var DeviceTypes = []string{DeviceDesktop, DeviceMobile, DeviceTablet, DeviceTV, DeviceConsole, DeviceOther}

// ValidDeviceType reports whether t is one of DeviceTypes.
func ValidDeviceType(t string) bool { return slices.Contains(DeviceTypes, t) }

// ValidCountry reports whether c looks like an ISO 3166-1 alpha-2 code
// (two upper-case letters).
func ValidCountry(c string) bool {
	return len(c) == 2 && c[0] >= 'A' && c[0] <= 'Z' && c[1] >= 'A' && c[1] <= 'Z'
}

// DeviceTypeFromUserAgent classes a User-Agent when the player did not say
// what it runs on. It looks for the tokens device makers put in their
// browsers' and players' agents; an agent it does not recognise is ""
// (unknown), not a guess. The order matters: TV and console agents often also say
// "Android" or "Mobile", and tablets say "Android" without "Mobile".
func DeviceTypeFromUserAgent(ua string) string {
	if ua == "" {
		return ""
	}
	has := func(tokens ...string) bool {
		for _, t := range tokens {
			if strings.Contains(ua, t) {
				return true
			}
		}
		return false
	}
	switch {
	case has("SmartTV", "SMART-TV", "Smart-TV", "Tizen", "Web0S", "WebOS", "webOS", "HbbTV", "AppleTV", "Apple TV",
		"Roku", "BRAVIA", "CrKey", "AFTS", "AFTM", "AFTB", "GoogleTV", "Android TV", "AndroidTV", "VIDAA"):
		return DeviceTV
	case has("PlayStation", "Xbox", "Nintendo"):
		return DeviceConsole
	case has("iPad", "Tablet", "Kindle", "Silk/"):
		return DeviceTablet
	case has("iPhone", "iPod", "Mobile", "Android"):
		// Android without "Mobile" is a tablet by Google's own rule.
		if strings.Contains(ua, "Android") && !strings.Contains(ua, "Mobile") {
			return DeviceTablet
		}
		return DeviceMobile
	case has("Windows NT", "Macintosh", "X11", "CrOS"):
		return DeviceDesktop
	}
	return ""
}
