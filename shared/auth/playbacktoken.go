package auth

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/playplane/playplane/shared/playback"
)

// PlaybackClaims bind a playback token to one session of one account playing
// one title. Times have whole-second precision.
type PlaybackClaims struct {
	SessionID string
	AccountID string
	TitleID   string
	DeviceID  string // optional
	IssuedAt  time.Time
	ExpiresAt time.Time
	// Viewer is who plays, for the QoE aggregates (optional): heartbeats
	// copy it onto their messages from the token they already verify,
	// so it costs them no lookup.
	Viewer playback.Viewer
	// StartedAt and Lease are the session's start and its store's lease
	// locator (playback.Session.Lease), optional: with them a heartbeat
	// renews the lease without reading the session first
	// (SessionStore.RenewHeldLease). Lease is at most 32 bytes.
	StartedAt time.Time
	Lease     string
	// LicenceEnds says ExpiresAt is the end of the licence window the play
	// was admitted under, not only the token's lifetime: a use after it is
	// refused 403 playback.ReasonLicenceEnded rather than 401 token
	// expired, since authorizing again would be refused as well.
	LicenceEnds bool
}

// Held is the session the claims describe, as RenewHeldLease takes it.
func (c PlaybackClaims) Held() playback.Session {
	return playback.Session{ID: c.SessionID, AccountID: c.AccountID, TitleID: c.TitleID, DeviceID: c.DeviceID,
		StartedAt: c.StartedAt, Lease: c.Lease}
}

// A playback token is
//
//	v1.<kid>.<base64url(payload)>.<base64url(HMAC-SHA256(key, macLabel || "v1.<kid>.<payload>"))>
//
// with a fixed binary payload: issued-at and expires-at as big-endian Unix
// seconds, then session, account, title and device ids, each prefixed by
// its length in one byte; then, only when the claims name a viewer, the
// viewer's country and device type, each prefixed by its length in one
// byte, and its ASN as a big-endian uint32 (tokens without the viewer
// block, older ones included, have an unknown viewer); then, only when the
// claims carry a lease (the viewer block then always comes first, empty if
// the viewer is unknown), the session's start as big-endian Unix
// nanoseconds and the lease locator prefixed by its length in one byte
// (a zero start and an empty locator mean no lease, for a later release
// that appends a block of its own without a lease); then, only when the
// licence ends the token (the viewer and lease blocks then always come
// first, empty if unknown), one flags byte whose lowest bit says so,
// carved from the room older verifiers skip. A verifier ignores
// whatever follows the blocks it knows, so later releases can add
// optional blocks after these (at most laterBlocksLen bytes) without
// older verifiers rejecting their tokens.
// Heartbeats check
// it tens of thousands of times a second, so verifying it must not cost a
// JSON decode or a JWT library's allocations. Four segments and the "v1." prefix keep it from ever parsing
// as a three-segment JWT, and the MAC label keeps the same keys from
// authenticating any other format signed with them.
const (
	playbackTokenPrefix = "v1."
	macLabel            = "playplane/playback-token\x00"
	maxMacLabelLen      = 32
	maxClaimIDLen       = 128
	maxDeviceTypeLen    = 32
	payloadTimesLen     = 16
	viewerBlockLen      = 1 + 2 + 1 + maxDeviceTypeLen + 4
	maxLeaseLen         = 32
	leaseBlockLen       = 8 + 1 + maxLeaseLen
	licenceBlockLen     = 1
	// Room for optional blocks of later releases, which this one skips:
	// the 64 bytes the releases before the licence block left for it and
	// for them, so that their verifiers still take every token.
	laterBlocksLen      = 64 - licenceBlockLen
	maxPayloadLen       = payloadTimesLen + 4*(1+maxClaimIDLen) + viewerBlockLen + leaseBlockLen + licenceBlockLen + laterBlocksLen
	macLen              = sha256.Size
	macTextLen          = (macLen*8 + 5) / 6 // unpadded base64
	maxPayloadTextLen   = (maxPayloadLen*8 + 5) / 6
	maxSignedLen        = len(playbackTokenPrefix) + maxKIDLen + 1 + maxPayloadTextLen
	maxPlaybackTokenLen = maxSignedLen + 1 + macTextLen
	hmacBlockSize       = 64
)

var tokenEncoding = base64.RawURLEncoding.Strict()

// Keyring holds the HMAC keys of playback tokens. The first key signs; every
// key verifies, so a new key can be put first while tokens signed with the
// previous one are still in flight. A Keyring is immutable and safe for
// concurrent use.
type Keyring struct {
	keys []ringKey
}

type ringKey struct {
	namedKey
	// The key already XORed with HMAC's pads, so each MAC is two SHA-256
	// sums over stack buffers and allocates nothing.
	ipad, opad [hmacBlockSize]byte
}

func newRingKey(k namedKey) ringKey {
	rk := ringKey{namedKey: k}
	block := k.key
	if len(block) > hmacBlockSize {
		sum := sha256.Sum256(block)
		block = sum[:]
	}
	copy(rk.ipad[:], block)
	copy(rk.opad[:], block)
	for i := range hmacBlockSize {
		rk.ipad[i] ^= 0x36
		rk.opad[i] ^= 0x5c
	}
	return rk
}

// mac is HMAC-SHA256 (RFC 2104) of macLabel||signed. signed is at most
// maxSignedLen bytes; callers check.
func mac[T string | []byte](k *ringKey, label string, signed T) [macLen]byte {
	var inner [hmacBlockSize + maxMacLabelLen + maxSignedLen]byte
	n := copy(inner[:], k.ipad[:])
	n += copy(inner[n:], label)
	n += copy(inner[n:], signed)
	innerSum := sha256.Sum256(inner[:n])
	var outer [hmacBlockSize + macLen]byte
	copy(outer[:], k.opad[:])
	copy(outer[hmacBlockSize:], innerSum[:])
	return sha256.Sum256(outer[:])
}

// ParseKeyring parses "kid1:base64key,kid2:base64key"; the first key is the
// active signing key. Keys must have at least MinKeyBytes bytes.
func ParseKeyring(spec string) (*Keyring, error) {
	if strings.TrimSpace(spec) == "" {
		return nil, errors.New("auth.ParseKeyring: empty key spec")
	}
	keys, err := parseKeySpec(spec)
	if err != nil {
		return nil, fmt.Errorf("auth.ParseKeyring: %w", err)
	}
	ring := &Keyring{keys: make([]ringKey, len(keys))}
	for i, k := range keys {
		ring.keys[i] = newRingKey(k)
	}
	return ring, nil
}

// NewDevKeyring returns a ring with one random key, for local runs and tests.
// Share it between processes with Spec.
func NewDevKeyring() *Keyring {
	key := make([]byte, MinKeyBytes)
	_, _ = rand.Read(key) // crypto/rand.Read never fails since Go 1.24
	return &Keyring{keys: []ringKey{newRingKey(namedKey{kid: "dev", key: key})}}
}

// Spec returns the ring in the form ParseKeyring reads. It contains the
// secret keys.
func (k *Keyring) Spec() string {
	keys := make([]namedKey, len(k.keys))
	for i, rk := range k.keys {
		keys[i] = rk.namedKey
	}
	return encodeKeySpec(keys)
}

// ActiveKID is the id of the key Issue signs with.
func (k *Keyring) ActiveKID() string { return k.keys[0].kid }

// Issue signs c with the active key. SessionID, AccountID and TitleID are
// required; IssuedAt defaults to now; ExpiresAt must follow IssuedAt.
func (k *Keyring) Issue(c PlaybackClaims) (string, error) {
	return k.issue(playbackTokenPrefix, macLabel, c)
}

// issue signs c as a token of the format named by prefix, MACed under
// label so that no other format's tokens verify as this one.
func (k *Keyring) issue(prefix, label string, c PlaybackClaims) (string, error) {
	if k == nil || len(k.keys) == 0 {
		return "", errors.New("auth.Issue: keyring has no keys; use ParseKeyring or NewDevKeyring")
	}
	if c.IssuedAt.IsZero() {
		c.IssuedAt = time.Now()
	}
	iat, exp := c.IssuedAt.Unix(), c.ExpiresAt.Unix()
	if c.ExpiresAt.IsZero() || exp <= iat {
		return "", playback.Errorf(playback.CodeInvalid, "playback_claims", "auth.Issue: expires_at must be at least a second after issued_at")
	}
	var payload [maxPayloadLen]byte
	binary.BigEndian.PutUint64(payload[0:], uint64(iat))
	binary.BigEndian.PutUint64(payload[8:], uint64(exp))
	n := payloadTimesLen
	for _, f := range [...]struct {
		name, value string
		required    bool
	}{
		{"session_id", c.SessionID, true},
		{"account_id", c.AccountID, true},
		{"title_id", c.TitleID, true},
		{"device_id", c.DeviceID, false},
	} {
		if f.required && f.value == "" {
			return "", playback.Errorf(playback.CodeInvalid, "playback_claims", "auth.Issue: %s is required", f.name)
		}
		if len(f.value) > maxClaimIDLen {
			return "", playback.Errorf(playback.CodeInvalid, "playback_claims", "auth.Issue: %s exceeds %d bytes", f.name, maxClaimIDLen)
		}
		payload[n] = byte(len(f.value))
		n++
		n += copy(payload[n:], f.value)
	}
	if c.Lease != "" && (len(c.Lease) > maxLeaseLen || c.StartedAt.IsZero()) {
		return "", playback.Errorf(playback.CodeInvalid, "playback_claims", "auth.Issue: a lease needs its session's start and at most %d bytes", maxLeaseLen)
	}
	if v := c.Viewer; v != (playback.Viewer{}) || c.Lease != "" || c.LicenceEnds {
		if v.Country != "" && !playback.ValidCountry(v.Country) {
			return "", playback.Errorf(playback.CodeInvalid, "playback_claims", "auth.Issue: viewer country %q is not ISO 3166-1 alpha-2", v.Country)
		}
		if len(v.DeviceType) > maxDeviceTypeLen {
			return "", playback.Errorf(playback.CodeInvalid, "playback_claims", "auth.Issue: device type exceeds %d bytes", maxDeviceTypeLen)
		}
		payload[n] = byte(len(v.Country))
		n++
		n += copy(payload[n:], v.Country)
		payload[n] = byte(len(v.DeviceType))
		n++
		n += copy(payload[n:], v.DeviceType)
		binary.BigEndian.PutUint32(payload[n:], v.ASN)
		n += 4
	}
	if c.Lease != "" {
		binary.BigEndian.PutUint64(payload[n:], uint64(c.StartedAt.UnixNano()))
		n += 8
		payload[n] = byte(len(c.Lease))
		n++
		n += copy(payload[n:], c.Lease)
	} else if c.LicenceEnds {
		n += 8 + 1 // no lease: a zero start and an empty locator
	}
	if c.LicenceEnds {
		payload[n] = licenceEndsFlag
		n++
	}

	key := &k.keys[0]
	var buf [maxPlaybackTokenLen]byte
	t := copy(buf[:], prefix)
	t += copy(buf[t:], key.kid)
	buf[t] = '.'
	t++
	tokenEncoding.Encode(buf[t:], payload[:n])
	t += tokenEncoding.EncodedLen(n)
	sum := mac(key, label, buf[:t])
	buf[t] = '.'
	t++
	tokenEncoding.Encode(buf[t:], sum[:])
	t += macTextLen
	return string(buf[:t]), nil
}

// Verify checks the token's MAC and expiry at now and returns its claims.
// Callers still compare the claims with the request (session, title, ...).
func (k *Keyring) Verify(token string, now time.Time) (PlaybackClaims, error) {
	return k.verify(playbackTokenPrefix, macLabel, token, now)
}

func (k *Keyring) verify(prefix, label, token string, now time.Time) (PlaybackClaims, error) {
	if token == "" {
		return PlaybackClaims{}, unauthenticated(ReasonTokenMissing, "empty playback token")
	}
	if len(token) > maxPlaybackTokenLen || !strings.HasPrefix(token, prefix) {
		return PlaybackClaims{}, unauthenticated(ReasonTokenMalformed, "not a playback token")
	}
	rest := token[len(prefix):]
	kidEnd := strings.IndexByte(rest, '.')
	macDot := strings.LastIndexByte(token, '.')
	if kidEnd < 0 || len(prefix)+kidEnd >= macDot {
		return PlaybackClaims{}, unauthenticated(ReasonTokenMalformed, "not a playback token")
	}
	kid := rest[:kidEnd]
	payloadText := token[len(prefix)+kidEnd+1 : macDot]
	macText := token[macDot+1:]
	if len(macText) != macTextLen || strings.IndexByte(payloadText, '.') >= 0 {
		return PlaybackClaims{}, unauthenticated(ReasonTokenMalformed, "not a playback token")
	}
	key := k.lookup(kid)
	if key == nil {
		return PlaybackClaims{}, unauthenticated(ReasonTokenKeyUnknown, "playback token signed with an unknown key")
	}

	// Comparing the encoded MACs rejects every change to the MAC text,
	// including the unused low bits of its last character.
	sum := mac(key, label, token[:macDot])
	var want [macTextLen]byte
	tokenEncoding.Encode(want[:], sum[:])
	var diff byte
	for i := range want {
		diff |= want[i] ^ macText[i]
	}
	if diff != 0 {
		return PlaybackClaims{}, unauthenticated(ReasonTokenSignature, "playback token signature mismatch")
	}

	var payload [maxPayloadLen]byte
	n, err := tokenEncoding.Decode(payload[:], []byte(payloadText))
	if err != nil {
		return PlaybackClaims{}, unauthenticated(ReasonTokenMalformed, "playback token payload is not base64")
	}
	c, ok := decodePlaybackPayload(payload[:n])
	if !ok {
		return PlaybackClaims{}, unauthenticated(ReasonTokenMalformed, "playback token payload is malformed")
	}
	if !now.Before(c.ExpiresAt) {
		if c.LicenceEnds {
			return PlaybackClaims{}, playback.LicenceEnded(c.TitleID, c.ExpiresAt)
		}
		return PlaybackClaims{}, unauthenticated(ReasonTokenExpired, "playback token expired")
	}
	return c, nil
}

// Authenticate verifies the "Authorization: Bearer <token>" playback token.
func (k *Keyring) Authenticate(r *http.Request, now time.Time) (PlaybackClaims, error) {
	token, err := BearerToken(r)
	if err != nil {
		return PlaybackClaims{}, err
	}
	return k.Verify(token, now)
}

func (k *Keyring) lookup(kid string) *ringKey {
	for i := range k.keys {
		if k.keys[i].kid == kid {
			return &k.keys[i]
		}
	}
	return nil
}

// licenceEndsFlag is the licence block's bit for PlaybackClaims.LicenceEnds.
const licenceEndsFlag = 1

func decodePlaybackPayload(p []byte) (PlaybackClaims, bool) {
	if len(p) < payloadTimesLen {
		return PlaybackClaims{}, false
	}
	iat := int64(binary.BigEndian.Uint64(p[0:]))
	exp := int64(binary.BigEndian.Uint64(p[8:]))
	// One string for all ids: the claims share it instead of costing an
	// allocation each.
	ids := string(p[payloadTimesLen:])
	var fields [4]string
	at, ok := readPrefixed(ids, 0, fields[:])
	if !ok {
		return PlaybackClaims{}, false
	}
	var viewer playback.Viewer
	var started time.Time
	var lease string
	if at != len(ids) {
		// The viewer block: country, device type, ASN.
		var vf [2]string
		if at, ok = readPrefixed(ids, at, vf[:]); !ok {
			return PlaybackClaims{}, false
		}
		if at+4 > len(ids) || (vf[0] != "" && !playback.ValidCountry(vf[0])) || len(vf[1]) > maxDeviceTypeLen {
			return PlaybackClaims{}, false
		}
		viewer = playback.Viewer{Country: vf[0], DeviceType: vf[1], ASN: uint32(ids[at])<<24 | uint32(ids[at+1])<<16 | uint32(ids[at+2])<<8 | uint32(ids[at+3])}
		at += 4
	}
	if at != len(ids) {
		// The lease block: start and lease locator; both zero is no lease.
		if at+8 > len(ids) {
			return PlaybackClaims{}, false
		}
		var ns int64
		for _, b := range []byte(ids[at : at+8]) {
			ns = ns<<8 | int64(b)
		}
		var lf [1]string
		if at, ok = readPrefixed(ids, at+8, lf[:]); !ok || (lf[0] == "") != (ns == 0) || len(lf[0]) > maxLeaseLen {
			return PlaybackClaims{}, false
		}
		if lf[0] != "" {
			started, lease = time.Unix(0, ns).UTC(), lf[0]
		}
	}
	var licenceEnds bool
	if at != len(ids) {
		// The licence block: its other bits are a later release's.
		licenceEnds = ids[at]&licenceEndsFlag != 0
	}
	// Bytes after the last block this release knows are a later release's
	// optional blocks, authentic since the MAC covers them: skipping them
	// keeps tokens that release issues verifying here while a deploy rolls.
	return PlaybackClaims{
		Viewer:      viewer,
		StartedAt:   started,
		Lease:       lease,
		LicenceEnds: licenceEnds,
		SessionID:   fields[0],
		AccountID:   fields[1],
		TitleID:     fields[2],
		DeviceID:    fields[3],
		IssuedAt:    time.Unix(iat, 0).UTC(),
		ExpiresAt:   time.Unix(exp, 0).UTC(),
	}, true
}

// readPrefixed fills dst with the length-prefixed strings (one length
// byte each) of ids from at, returning where they end; ok is false when
// ids ends first.
func readPrefixed(ids string, at int, dst []string) (end int, ok bool) {
	for i := range dst {
		if at >= len(ids) {
			return 0, false
		}
		n := int(ids[at])
		at++
		if at+n > len(ids) {
			return 0, false
		}
		dst[i] = ids[at : at+n]
		at += n
	}
	return at, true
}
