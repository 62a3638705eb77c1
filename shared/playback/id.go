package playback

import (
	"crypto/rand"
	"encoding/base32"
	"strings"
	"unicode/utf8"
)

// idEncoding is base32 in lower case: ids are minted on every request and
// message, so they are encoded straight into their final bytes.
var idEncoding = base32.NewEncoding(idAlphabet).WithPadding(base32.NoPadding)

const idAlphabet = "abcdefghijklmnopqrstuvwxyz234567"

// SessionIDPrefix is the prefix of the playback session ids authorize play
// mints: NewID(SessionIDPrefix).
const SessionIDPrefix = "ses"

// IsSessionID reports whether id has the form of a playback session id
// (NewID(SessionIDPrefix)). An id a client gives for a session, which no
// store can vouch for when it is read (CMCD's sid), names one only in
// that form: a player library's own random UUID, or an app's play id, is
// then told from a session's id by its form.
func IsSessionID(id string) bool {
	rest, ok := strings.CutPrefix(id, SessionIDPrefix+"_")
	if !ok || len(id) != NewIDLen(SessionIDPrefix) {
		return false
	}
	for i := 0; i < len(rest); i++ {
		if strings.IndexByte(idAlphabet, rest[i]) < 0 {
			return false
		}
	}
	return true
}

// NewID returns prefix + "_" + 128 random bits, URL- and key-safe.
func NewID(prefix string) string {
	var sb strings.Builder
	sb.Grow(NewIDLen(prefix))
	WriteNewID(&sb, prefix)
	return sb.String()
}

// NewIDLen is the length of NewID(prefix).
func NewIDLen(prefix string) int { return len(prefix) + 1 + idEncoding.EncodedLen(16) }

// WriteNewID writes what NewID(prefix) returns to sb: a caller minting an
// id beside another string builds both in one allocation (the bus, an id
// and a traceparent per message).
func WriteNewID(sb *strings.Builder, prefix string) {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails since Go 1.24
	var enc [32]byte
	n := idEncoding.EncodedLen(len(b))
	idEncoding.Encode(enc[:n], b[:])
	sb.WriteString(prefix)
	sb.WriteByte('_')
	sb.Write(enc[:n])
}

// IDRule is ValidID's rule, as an error states it.
const IDRule = "1-128 characters of [A-Za-z0-9._-], and not ., .. or __x__"

// ValidID reports whether id is a well-formed client-supplied id
// (IDRule): 1-128 characters of [A-Za-z0-9._-], and not a reserved name
// (ReservedID). Ids become storage keys and CDN path segments, so
// separators, dot-only names and control bytes are kept out.
func ValidID(id string) bool {
	if id == "" || len(id) > 128 || ReservedID(id) {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !(c == '-' || c == '_' || c == '.' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z') {
			return false
		}
	}
	return true
}

// ReservedID reports whether id is a name some store or path keeps for
// itself, so no id may be it: "." and ".." (path segments) and anything
// that starts and ends with "__" (Cloud Firestore refuses document ids
// matching __.*__, though its emulator stores them; "__" and "___" are
// counted in, as our Firestore adapter and other clients' checks count
// them, since only production could tell).
func ReservedID(id string) bool {
	return id == "." || id == ".." || strings.HasPrefix(id, "__") && strings.HasSuffix(id, "__")
}

// ValidCustomerID reports whether id can name an account's payment
// customer (CustomerIDRule), so that every store can key the customer's
// link to the account by it: the operator's link and Stripe's alike.
func ValidCustomerID(id string) bool {
	return id != "" && len(id) <= 256 && utf8.ValidString(id) && !strings.ContainsAny(id, "|#/ ") && !ReservedID(id)
}

// CustomerIDRule is ValidCustomerID's rule, as a problem states it.
const CustomerIDRule = "customer_id must be 1-256 bytes of UTF-8 without '|', '#', '/' or spaces, and not ., .. or __x__"
