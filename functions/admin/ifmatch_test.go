package admin_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/playplane/playplane/shared/auth"
)

// TestIfMatchComparesTheTagAsWritten: an entity-tag is the characters
// between its double quotes, compared character by character (RFC 9110
// sections 8.8.3 and 8.8.3.2); a backslash in it is one of them, not an
// escape. So an If-Match that spells the current version with an escape is
// another tag (412), and a tag not in double quotes is no tag (400).
func TestIfMatchComparesTheTagAsWritten(t *testing.T) {
	t.Parallel()
	const title = `{"id":"bbb","name":"%s","rating":0,"asset_path":"/titles/bbb/","manifest":"master.m3u8"}`
	for _, tc := range []struct {
		name   string
		spell  func(tag string) string // from the ETag GET gave
		status int
		reason string
	}{
		{name: "as given", spell: func(tag string) string { return tag }, status: http.StatusOK},
		{name: "first character escaped", spell: func(tag string) string {
			return fmt.Sprintf(`"\x%02x%s`, tag[1], tag[2:])
		}, status: http.StatusPreconditionFailed, reason: "version_mismatch"},
		{name: "backquoted", spell: func(tag string) string {
			return "`" + strings.Trim(tag, `"`) + "`"
		}, status: http.StatusBadRequest, reason: "if_match_invalid"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t, auth.DefaultAdminClaim)
			tag := h.mustDo("POST", "/v1/admin/titles", "", fmt.Sprintf(title, "One"), http.StatusCreated).header.Get("ETag")
			r := h.do("PUT", "/v1/admin/titles/bbb", h.admin, tc.spell(tag), fmt.Sprintf(title, "Two"))
			if r.status != tc.status {
				t.Fatalf("If-Match %s over ETag %s: status %d, want %d: %s", tc.spell(tag), tag, r.status, tc.status, r.body)
			}
			if tc.reason != "" && r.errBody(t).Reason != tc.reason {
				t.Fatalf("reason %q, want %q", r.errBody(t).Reason, tc.reason)
			}
		})
	}
}

// TestZonesIfMatchIsTheVersionAsWritten: a coverage zone file's ETag is
// its version in plain digits; "+1" or "01" is no version's tag, and a
// write conditioned on one is refused, not taken as version 1's.
func TestZonesIfMatchIsTheVersionAsWritten(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, ifMatch string
		status        int
	}{
		{name: "as given", ifMatch: `"1"`, status: http.StatusCreated},
		{name: "plus sign", ifMatch: `"+1"`, status: http.StatusBadRequest},
		{name: "leading zero", ifMatch: `"01"`, status: http.StatusBadRequest},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t, auth.DefaultAdminClaim)
			h.mustDo("PUT", "/v1/admin/coverage-zones", "", zonesGood, http.StatusCreated)
			if r := h.do("PUT", "/v1/admin/coverage-zones", h.admin, tc.ifMatch, zonesGood2); r.status != tc.status {
				t.Fatalf("If-Match %s over ETag \"1\": status %d, want %d: %s", tc.ifMatch, r.status, tc.status, r.body)
			}
		})
	}
}
