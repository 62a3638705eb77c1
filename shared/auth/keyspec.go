package auth

import (
	"encoding/base64"
	"fmt"
	"strings"
)

// MinKeyBytes is the shortest HMAC key accepted: RFC 7518 section 3.2
// requires HS256 keys of at least the hash size.
const MinKeyBytes = 32

// maxKIDLen keeps key ids short; they travel in every playback token.
const maxKIDLen = 32

type namedKey struct {
	kid string
	key []byte
}

// parseKeySpec parses "kid1:base64key,kid2:base64key". Keys may use standard
// or URL-safe base64, padded or not, because secrets managers differ.
func parseKeySpec(spec string) ([]namedKey, error) {
	var keys []namedKey
	seen := map[string]bool{}
	for i, entry := range strings.Split(spec, ",") {
		entry = strings.TrimSpace(entry)
		if entry == "" {
			return nil, fmt.Errorf("key %d is empty", i+1)
		}
		kid, encoded, ok := strings.Cut(entry, ":")
		if !ok {
			return nil, fmt.Errorf("key %d: want kid:base64key", i+1)
		}
		if err := validKID(kid); err != nil {
			return nil, fmt.Errorf("key %d: %w", i+1, err)
		}
		if seen[kid] {
			return nil, fmt.Errorf("key id %q appears twice", kid)
		}
		seen[kid] = true
		key, err := decodeKey(encoded)
		if err != nil {
			return nil, fmt.Errorf("key %q: %w", kid, err)
		}
		if len(key) < MinKeyBytes {
			return nil, fmt.Errorf("key %q has %d bytes, want at least %d", kid, len(key), MinKeyBytes)
		}
		keys = append(keys, namedKey{kid: kid, key: key})
	}
	return keys, nil
}

func decodeKey(s string) ([]byte, error) {
	s = strings.TrimRight(s, "=")
	enc := base64.RawStdEncoding
	if strings.ContainsAny(s, "-_") {
		enc = base64.RawURLEncoding
	}
	key, err := enc.Strict().DecodeString(s)
	if err != nil {
		return nil, fmt.Errorf("key is not base64: %w", err)
	}
	return key, nil
}

func encodeKeySpec(keys []namedKey) string {
	var b strings.Builder
	for i, k := range keys {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(k.kid)
		b.WriteByte(':')
		b.WriteString(base64.StdEncoding.EncodeToString(k.key))
	}
	return b.String()
}

// validKID restricts key ids to URL-safe characters so a kid can never
// contain the token's '.' separator.
func validKID(kid string) error {
	if kid == "" || len(kid) > maxKIDLen {
		return fmt.Errorf("key id %q must have 1 to %d characters", kid, maxKIDLen)
	}
	for i := 0; i < len(kid); i++ {
		c := kid[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
			return fmt.Errorf("key id %q may only contain letters, digits, '-' and '_'", kid)
		}
	}
	return nil
}
