// Package cloudcdn signs and verifies Google Cloud CDN signed requests:
// signed URLs, URLPrefix-signed queries and Cloud-CDN-Cookie, with several
// named 128-bit keys of which one signs.
package cloudcdn

import (
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// KeySize is the length of a Cloud CDN signing key (128 bits).
const KeySize = 16

// MaxKeys is how many signed request keys a Cloud CDN backend service or
// bucket holds at a time (Google's "Use signed cookies", "Configuring
// signed request keys"): a rotation's old, current and next key.
const MaxKeys = 3

// Key is one signed-request key of a backend service or bucket.
type Key struct {
	Name   string
	Secret []byte
}

// KeySet holds every key configured on the backend (at most MaxKeys) and
// which one signs. Rotation is: add the new key to the backend
// and the set, switch the active name, wait for the longest signature
// lifetime, delete the old key from both.
type KeySet struct {
	active string
	keys   []Key
}

// NewKeySet validates names (as Cloud CDN: 1-63 of A-Z a-z 0-9 _ -) and
// secrets (16 bytes) and the active name.
func NewKeySet(activeName string, keys ...Key) (*KeySet, error) {
	if len(keys) == 0 {
		return nil, fmt.Errorf("cloudcdn.NewKeySet: no keys")
	}
	// A list longer than a backend holds names keys the CDN cannot have:
	// the setting describes no backend.
	if len(keys) > MaxKeys {
		return nil, fmt.Errorf("cloudcdn.NewKeySet: %d keys listed (CLOUDCDN_KEYS); a Cloud CDN backend holds at most %d", len(keys), MaxKeys)
	}
	seen := map[string]bool{}
	out := make([]Key, 0, len(keys))
	for _, k := range keys {
		if err := validKeyName(k.Name); err != nil {
			return nil, fmt.Errorf("cloudcdn.NewKeySet: %w", err)
		}
		if seen[k.Name] {
			return nil, fmt.Errorf("cloudcdn.NewKeySet: key name %q listed twice", k.Name)
		}
		seen[k.Name] = true
		if len(k.Secret) != KeySize {
			return nil, fmt.Errorf("cloudcdn.NewKeySet: key %q has %d bytes; Cloud CDN keys have %d", k.Name, len(k.Secret), KeySize)
		}
		out = append(out, Key{Name: k.Name, Secret: slices.Clone(k.Secret)})
	}
	if !seen[activeName] {
		return nil, fmt.Errorf("cloudcdn.NewKeySet: active key name %q is not among the keys", activeName)
	}
	return &KeySet{active: activeName, keys: out}, nil
}

// Active returns the key that signs.
func (ks *KeySet) Active() Key {
	for _, k := range ks.keys {
		if k.Name == ks.active {
			return k
		}
	}
	panic("cloudcdn: KeySet without its active key") // NewKeySet guarantees it
}

// Keys returns every key, for a Verifier.
func (ks *KeySet) Keys() []Key { return slices.Clone(ks.keys) }

// LoadKeySet builds the KeySet of cfg: cfg.Keys is "name=ref,name=ref",
// where a ref is "env:NAME", "file:/absolute/path" (a mounted secret, e.g.
// the file given to `gcloud compute backend-services add-signed-url-key
// --key-file`), or the key itself; a key is the base64url encoding of 16
// bytes. Relative paths are refused so that a key is never read from the
// working tree by accident.
func LoadKeySet(cfg Config) (*KeySet, error) {
	return ParseKeySet(cfg.Keys, cfg.ActiveKeyName, os.LookupEnv)
}

// ParseKeySet is LoadKeySet with the environment lookup injected.
func ParseKeySet(spec, activeName string, lookupEnv func(string) (string, bool)) (*KeySet, error) {
	var keys []Key
	for entry := range strings.SplitSeq(spec, ",") {
		entry = strings.TrimSpace(entry)
		if entry == "" {
			continue
		}
		name, ref, ok := strings.Cut(entry, "=")
		name = strings.TrimSpace(name)
		if !ok || validKeyName(name) != nil {
			return nil, fmt.Errorf("cloudcdn.ParseKeySet: an entry is not name=ref with a valid key name")
		}
		material, err := resolveRef(strings.TrimSpace(ref), lookupEnv)
		if err != nil {
			return nil, fmt.Errorf("cloudcdn.ParseKeySet: key %q: %w", name, err)
		}
		secret, err := DecodeKey(material)
		if err != nil {
			return nil, fmt.Errorf("cloudcdn.ParseKeySet: key %q: %w", name, err)
		}
		keys = append(keys, Key{Name: name, Secret: secret})
	}
	return NewKeySet(activeName, keys...)
}

func resolveRef(ref string, lookupEnv func(string) (string, bool)) (string, error) {
	switch {
	case strings.HasPrefix(ref, "env:"):
		name := strings.TrimPrefix(ref, "env:")
		v, ok := lookupEnv(name)
		if !ok || strings.TrimSpace(v) == "" {
			return "", fmt.Errorf("environment variable %q is not set", name)
		}
		return v, nil
	case strings.HasPrefix(ref, "file:"):
		path := strings.TrimPrefix(ref, "file:")
		if !filepath.IsAbs(path) {
			return "", fmt.Errorf("key file %q must be an absolute path (a mounted secret, not a file of the repository)", path)
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return "", fmt.Errorf("reading key file: %w", err)
		}
		return string(b), nil
	case ref == "":
		return "", fmt.Errorf("empty key reference")
	default:
		return ref, nil
	}
}

// DecodeKey reads a key as Cloud CDN and gcloud write it: base64url of 16
// bytes, padded or not.
func DecodeKey(encoded string) ([]byte, error) {
	encoded = strings.TrimSpace(encoded)
	secret, err := base64.URLEncoding.DecodeString(encoded)
	if err != nil {
		secret, err = base64.RawURLEncoding.DecodeString(encoded)
	}
	if err != nil {
		return nil, fmt.Errorf("key is not base64url")
	}
	if len(secret) != KeySize {
		return nil, fmt.Errorf("key has %d bytes; Cloud CDN keys have %d", len(secret), KeySize)
	}
	return secret, nil
}

// EncodeKey is the inverse of DecodeKey, in the padded form gcloud reads.
func EncodeKey(secret []byte) string { return base64.URLEncoding.EncodeToString(secret) }

// GenerateDevKey makes a random key in memory for local runs and tests.
func GenerateDevKey(name string) Key {
	secret := make([]byte, KeySize)
	_, _ = rand.Read(secret) // crypto/rand.Read never fails since Go 1.24
	return Key{Name: name, Secret: secret}
}

func validKeyName(name string) error {
	if name == "" || len(name) > 63 {
		return fmt.Errorf("key name %q must be 1-63 characters", name)
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
			return fmt.Errorf("key name %q may hold only A-Z a-z 0-9 _ -", name)
		}
	}
	return nil
}
