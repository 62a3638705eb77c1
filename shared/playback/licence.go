package playback

import (
	"fmt"
	"slices"
	"time"
)

// Reasons of the refusals CheckLicence returns (all CodeForbidden).
const (
	// ReasonNotLicensed: the title is not licensed in the account's home
	// territory (when no viewer location is known to the service at all).
	ReasonNotLicensed = "not_licensed"
	// ReasonNotLicensedHere: the title is not licensed where the viewer is.
	ReasonNotLicensedHere = "not_licensed_in_viewer_country"
	// ReasonNotLicensedHomeOrHere: a subscriber from a state where
	// portability applies (IsPortabilityState), visiting another, asked
	// for a title licensed neither at home nor where they are.
	ReasonNotLicensedHomeOrHere = "not_licensed_at_home_or_in_viewer_country"
	// ReasonViewerLocationUnknown: the service locates viewers, but could
	// not locate this one.
	ReasonViewerLocationUnknown = "viewer_location_unknown"
	// ReasonAnonymousProxy: the viewer comes through a VPN, proxy, hosting
	// provider or Tor exit, and the service refuses those.
	ReasonAnonymousProxy = "anonymous_proxy"
	// ReasonLicenceEnded: the licence window a play was admitted under
	// has ended (or ends within the second the play asks): its session is
	// renewed no further, and a playback token it ends refuses every use
	// with it, where an expired token's 401 would send the player to
	// authorize again ahead of time for nothing. At the end a player
	// authorizes again once: an operator may have extended the window (or
	// another may license the title now) since the play, which the token
	// cannot tell; refused, playback is over, and this says why.
	ReasonLicenceEnded = "licence_window_ended"
)

// ViewerPlace is where a play request comes from, as far as licensing is
// concerned. The account's home territory is a separate fact
// (Account.Territory).
type ViewerPlace struct {
	// Located says the service has a location source (a front door's
	// country header or GeoIP). Without one, licensing falls back to the
	// account's home territory.
	Located bool
	// Country is the ISO 3166-1 alpha-2 country the viewer is in now; ""
	// when the sources do not know it.
	Country string
	// Anonymous says the address is a known VPN, proxy, hosting provider
	// or Tor exit.
	Anonymous bool
}

// LicencePolicy holds the optional rules.
type LicencePolicy struct {
	RefuseAnonymous bool
}

// CheckLicence decides whether title may play now for a subscriber whose
// home territory is home, watching from v, and until when: the end of the
// window it is licensed under (Title.LicensedUntil), past which nothing of
// the play may be renewed (a contract's licence ends availability there).
// Under portability, where a window of either the viewer's country or the
// home licenses the play, it plays on through the windows of both, one
// meeting or overlapping the other's:
//
//   - a title plays where it is licensed for the viewer's location;
//   - cross-border portability (Regulation (EU) 2017/1128): a subscriber
//     whose home is a state where it applies (IsPortabilityState: the EU
//     and the EEA) keeps the home catalogue while in another such state
//     (the regulation's "temporarily present" is the verified home
//     territory on the account against the viewer's current country);
//   - optionally, anonymous proxies are refused, since they hide where the
//     viewer is;
//   - with no location source, the home territory decides.
func CheckLicence(title Title, home string, v ViewerPlace, p LicencePolicy, now time.Time) (until time.Time, err error) {
	if !v.Located {
		if until, ok := title.LicensedUntil(home, now); ok {
			return until, nil
		}
		return until, licenceError(ReasonNotLicensed, home, "", "title %q is not licensed in %s now", title.ID, home)
	}
	if p.RefuseAnonymous && v.Anonymous {
		return until, licenceError(ReasonAnonymousProxy, home, v.Country,
			"playback through an anonymizing VPN or proxy is not allowed; turn it off to play")
	}
	if v.Country == "" {
		return until, licenceError(ReasonViewerLocationUnknown, home, "", "the viewer's country cannot be determined")
	}
	if v.Country != home && IsPortabilityState(home) && IsPortabilityState(v.Country) {
		// Portability: the home catalogue travels within the EU/EEA, on
		// top of what plays where the viewer is.
		if until, ok := title.licensedUntil(now, v.Country, home); ok {
			return until, nil
		}
		return until, licenceError(ReasonNotLicensedHomeOrHere, home, v.Country,
			"title %q is licensed neither in %s (home) nor in %s now", title.ID, home, v.Country)
	}
	if here, ok := title.LicensedUntil(v.Country, now); ok {
		return here, nil
	}
	return until, licenceError(ReasonNotLicensedHere, home, v.Country, "title %q is not licensed in %s now", title.ID, v.Country)
}

// LicenceEnded refuses a use, at or after until, of what a play licensed
// until then was given.
func LicenceEnded(titleID string, until time.Time) error {
	return Errorf(CodeForbidden, ReasonLicenceEnded, "the licence window title %q plays under ends at %s",
		titleID, until.UTC().Format(time.RFC3339))
}

// LicenceDetails are the machine-readable facts of a licensing refusal.
type LicenceDetails struct {
	HomeTerritory string `json:"home_territory"`
	ViewerCountry string `json:"viewer_country,omitempty"`
}

func licenceError(reason, home, viewer, format string, args ...any) error {
	return &Error{Code: CodeForbidden, Reason: reason, Message: fmt.Sprintf(format, args...),
		Details: LicenceDetails{HomeTerritory: home, ViewerCountry: viewer}}
}

// NotCountries are two-letter codes in the shape of ISO 3166-1 alpha-2
// that name no country a viewer is in, nor one a title is licensed in.
// MaxMind's GeoIP Legacy databases (whose codes CloudFront's header
// follows) placed addresses known only by continent in EU (Europe) and
// AP (Asia/Pacific); MaxMind calls them codes that "don't actually
// represent countries", and GeoIP2 answers such an address with no
// country. Google's {client_region} is a Unicode CLDR region code, where
// EU, EZ, UN and QO are groupings of countries and ZZ is the unknown
// region. XX is the unknown country of Cloudflare and others. Kosovo's
// XK, user-assigned in ISO 3166-1, is a country to all of them. The
// catalogue's schema refuses them as territories (checked against this
// list), since no viewer is ever located in one.
var NotCountries = []string{"EU", "AP", "EZ", "UN", "QO", "ZZ", "XX"}

// IsCountryCode reports whether s is two capital letters naming a country
// (not one of NotCountries).
func IsCountryCode(s string) bool {
	return len(s) == 2 && s[0] >= 'A' && s[0] <= 'Z' && s[1] >= 'A' && s[1] <= 'Z' && !slices.Contains(NotCountries, s)
}

// euMemberStates are the member states of the European Union (ISO 3166-1
// alpha-2; Greece is GR), where Regulation (EU) 2017/1128 applies, and
// the parts of them inside the Union that ISO 3166-1 (so GeoIP and front
// doors) codes apart: the outermost regions Guadeloupe, French Guiana,
// Martinique, Mayotte, Réunion and Saint-Martin (TFEU Art. 355(1); the
// Azores, Madeira and the Canaries are coded PT and ES) and Åland (Art.
// 355(4)). Overseas countries and territories (Saint Barthélemy since
// 2012, New Caledonia, ...) and the Faroe Islands are outside it.
var euMemberStates = map[string]bool{
	"AT": true, "BE": true, "BG": true, "HR": true, "CY": true, "CZ": true, "DK": true, "EE": true, "FI": true,
	"FR": true, "DE": true, "GR": true, "HU": true, "IE": true, "IT": true, "LV": true, "LT": true, "LU": true,
	"MT": true, "NL": true, "PL": true, "PT": true, "RO": true, "SK": true, "SI": true, "ES": true, "SE": true,
	"GP": true, "GF": true, "MQ": true, "YT": true, "RE": true, "MF": true, "AX": true,
}

// IsEUMemberState reports whether the ISO 3166-1 alpha-2 code is an EU
// member state or a part of one inside the Union coded apart.
func IsEUMemberState(country string) bool { return euMemberStates[country] }

// eeaEFTAStates are the EEA's states outside the EU. Regulation (EU)
// 2017/1128 is EEA law (EEA Joint Committee Decision No 158/2018), so
// portability holds between them and the member states as among those;
// Svalbard (SJ), outside the EEA Agreement, is coded apart and left out,
// as Switzerland (no EEA member) is.
var eeaEFTAStates = map[string]bool{"NO": true, "IS": true, "LI": true}

// IsPortabilityState reports whether cross-border portability applies to
// a subscriber at home, or temporarily present, in country: the EU's
// member states (IsEUMemberState) and the EEA's other states.
func IsPortabilityState(country string) bool {
	return euMemberStates[country] || eeaEFTAStates[country]
}
