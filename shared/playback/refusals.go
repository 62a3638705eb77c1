package playback

// Reasons of a play's refusal (CodeForbidden) that are neither licensing's
// (licence.go) nor the plan's (ReasonPlanMissing).
const (
	// ReasonAccountSuspended: an operator's hold (Account.Suspended).
	ReasonAccountSuspended = "account_suspended"
	// ReasonSubscriptionInactive: the account is not entitled now
	// (Account.Entitled): canceled, unpaid, paused, or past due beyond the
	// grace.
	ReasonSubscriptionInactive = "subscription_inactive"
	// ReasonParentalRating: the title is rated above the account's
	// parental cap, or unrated under a cap.
	ReasonParentalRating = "parental_rating"
	// ReasonDeviceLimit: a new device, and the plan's registered devices
	// are all taken; the refusal lists them.
	ReasonDeviceLimit = "device_limit"
	// ReasonTitleNotSignable: the title's stored catalogue entry cannot
	// be granted (Title.Signable). It is the catalogue's, which an
	// operator fixes, not the request's, and a retry meets it again.
	ReasonTitleNotSignable = "title_not_signable"
)

// PlayRefusals are every reason a play (POST /v1/play) is refused 403
// with. Players switch on them to tell the viewer what to do, so the
// OpenAPI document's PlayForbidden lists exactly these, checked against
// this list.
var PlayRefusals = []string{
	ReasonAccountSuspended, ReasonSubscriptionInactive, ReasonPlanMissing, ReasonDeviceLimit,
	ReasonNotLicensed, ReasonNotLicensedHere, ReasonNotLicensedHomeOrHere, ReasonViewerLocationUnknown, ReasonAnonymousProxy,
	ReasonLicenceEnded, ReasonParentalRating, ReasonTitleNotSignable,
}

// Reasons of the 404 of a personalized manifest (GET /v1/manifests/...)
// that are its own; a title or account removed since the play is
// NotFound's.
const (
	// ReasonTitleHasNoLadder: the title has no renditions to personalize;
	// a player plays its manifest_url.
	ReasonTitleHasNoLadder = "title_has_no_ladder"
	// ReasonManifestNotStored: the origin holds no such manifest (a
	// rendition missing from the asset bucket).
	ReasonManifestNotStored = "manifest_not_stored"
)

// ManifestNotFounds are every reason a personalized manifest is refused
// 404 with. The OpenAPI document's ManifestNotFound lists exactly these,
// checked against this list.
var ManifestNotFounds = []string{
	string(KindTitle) + "_not_found", string(KindAccount) + "_not_found",
	ReasonTitleHasNoLadder, ReasonManifestNotStored,
}
