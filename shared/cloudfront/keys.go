// Package cloudfront signs and verifies Amazon CloudFront signed URLs and
// signed cookies: canned and custom policies, RSA-2048 and ECDSA P-256 keys,
// SHA-1 and SHA-256, several trusted keys with one active signer.
package cloudfront

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/feature/cloudfront/sign"
)

// Key is one key pair of the distribution's trusted key group: the CloudFront
// public key id and the private key that signs for it.
type Key struct {
	ID     string
	Signer crypto.Signer // *rsa.PrivateKey (2048 bits) or *ecdsa.PrivateKey (P-256)
}

// KeyAlgorithm names the key types CloudFront accepts for signed URLs.
type KeyAlgorithm string

const (
	RSA2048   KeyAlgorithm = "RSA2048"
	ECDSAP256 KeyAlgorithm = "ECDSAP256"
)

// KeySet holds every key the trusted key group lists, in configuration order,
// and which one signs. Rotation is: add the new key to the key group and the
// set, switch the active id, wait for the longest signature lifetime, remove
// the old key from both.
type KeySet struct {
	active string
	keys   []Key
}

// NewKeySet validates keys (distinct ids, supported types) and the active id.
func NewKeySet(activeID string, keys ...Key) (*KeySet, error) {
	if len(keys) == 0 {
		return nil, fmt.Errorf("cloudfront.NewKeySet: no keys")
	}
	seen := make(map[string]bool, len(keys))
	for _, k := range keys {
		if err := validKeyID(k.ID); err != nil {
			return nil, fmt.Errorf("cloudfront.NewKeySet: %w", err)
		}
		if seen[k.ID] {
			return nil, fmt.Errorf("cloudfront.NewKeySet: key id %q listed twice", k.ID)
		}
		seen[k.ID] = true
		if err := checkKeyType(k.Signer.Public()); err != nil {
			return nil, fmt.Errorf("cloudfront.NewKeySet: key %q: %w", k.ID, err)
		}
	}
	if !seen[activeID] {
		return nil, fmt.Errorf("cloudfront.NewKeySet: active key id %q is not among the keys", activeID)
	}
	return &KeySet{active: activeID, keys: slices.Clone(keys)}, nil
}

// Active returns the key that signs.
func (ks *KeySet) Active() Key {
	for _, k := range ks.keys {
		if k.ID == ks.active {
			return k
		}
	}
	panic("cloudfront: KeySet without its active key") // NewKeySet guarantees it
}

// PublicKeys returns the public half of every key, for a Verifier.
func (ks *KeySet) PublicKeys() map[string]crypto.PublicKey {
	out := make(map[string]crypto.PublicKey, len(ks.keys))
	for _, k := range ks.keys {
		out[k.ID] = k.Signer.Public()
	}
	return out
}

// IDs returns the key ids in configuration order.
func (ks *KeySet) IDs() []string {
	ids := make([]string, len(ks.keys))
	for i, k := range ks.keys {
		ids[i] = k.ID
	}
	return ids
}

// LoadKeySet builds the KeySet of cfg: cfg.Keys is "id=ref,id=ref", where a
// ref is "env:NAME" (a variable holding the key), "file:/absolute/path"
// (a mounted secret), or the key itself; a key is PEM (PKCS#1, PKCS#8 or
// SEC 1) or the base64 of that PEM. Relative paths are refused so that a key
// is never read from the working tree by accident.
func LoadKeySet(cfg Config) (*KeySet, error) {
	return ParseKeySet(cfg.Keys, cfg.ActiveKeyID, os.LookupEnv)
}

// ParseKeySet is LoadKeySet with the environment lookup injected.
func ParseKeySet(spec, activeID string, lookupEnv func(string) (string, bool)) (*KeySet, error) {
	var keys []Key
	for entry := range strings.SplitSeq(spec, ",") {
		entry = strings.TrimSpace(entry)
		if entry == "" {
			continue
		}
		id, ref, ok := strings.Cut(entry, "=")
		if !ok {
			return nil, fmt.Errorf("cloudfront.ParseKeySet: entry %q is not id=ref", redact(entry))
		}
		id = strings.TrimSpace(id)
		if err := validKeyID(id); err != nil {
			return nil, fmt.Errorf("cloudfront.ParseKeySet: entry %q: key id must be 1-128 characters of A-Z a-z 0-9 - _", redact(entry))
		}
		material, err := resolveRef(strings.TrimSpace(ref), lookupEnv)
		if err != nil {
			return nil, fmt.Errorf("cloudfront.ParseKeySet: key %q: %w", id, err)
		}
		signer, err := ParsePrivateKey(material)
		if err != nil {
			return nil, fmt.Errorf("cloudfront.ParseKeySet: key %q: %w", id, err)
		}
		keys = append(keys, Key{ID: id, Signer: signer})
	}
	return NewKeySet(activeID, keys...)
}

func resolveRef(ref string, lookupEnv func(string) (string, bool)) ([]byte, error) {
	switch {
	case strings.HasPrefix(ref, "env:"):
		name := strings.TrimPrefix(ref, "env:")
		v, ok := lookupEnv(name)
		if !ok || strings.TrimSpace(v) == "" {
			return nil, fmt.Errorf("environment variable %q is not set", name)
		}
		return []byte(v), nil
	case strings.HasPrefix(ref, "file:"):
		path := strings.TrimPrefix(ref, "file:")
		if !filepath.IsAbs(path) {
			return nil, fmt.Errorf("key file %q must be an absolute path (a mounted secret, not a file of the repository)", path)
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("reading key file: %w", err)
		}
		return b, nil
	case ref == "":
		return nil, fmt.Errorf("empty key reference")
	default:
		return []byte(ref), nil
	}
}

// ParsePrivateKey reads a PEM private key (PKCS#1 RSA, PKCS#8 RSA/ECDSA or
// SEC 1 EC, after an EC PARAMETERS block or not), or the standard base64 of
// such a PEM, as env-var-friendly form.
func ParsePrivateKey(material []byte) (crypto.Signer, error) {
	material = bytes.TrimSpace(material)
	if !bytes.HasPrefix(material, []byte("-----BEGIN")) {
		decoded := make([]byte, base64.StdEncoding.DecodedLen(len(material)))
		n, err := base64.StdEncoding.Decode(decoded, material)
		if err != nil {
			return nil, fmt.Errorf("key is neither PEM nor base64 of PEM")
		}
		material = bytes.TrimSpace(decoded[:n])
	}
	block, rest := pem.Decode(material)
	if block != nil && block.Type == "EC PARAMETERS" {
		// openssl ecparam -genkey without -noout writes the curve first;
		// the key that follows names its curve too (checkKeyType).
		material = rest
		block, _ = pem.Decode(material)
	}
	if block == nil {
		return nil, fmt.Errorf("no PEM block in key")
	}
	var signer crypto.Signer
	switch block.Type {
	case "RSA PRIVATE KEY":
		k, err := sign.LoadPEMPrivKey(bytes.NewReader(material))
		if err != nil {
			return nil, fmt.Errorf("parsing PKCS#1 key: %w", err)
		}
		signer = k
	case "PRIVATE KEY":
		k, err := sign.LoadPEMPrivKeyPKCS8AsSigner(bytes.NewReader(material))
		if err != nil {
			return nil, fmt.Errorf("parsing PKCS#8 key: %w", err)
		}
		signer = k
	case "EC PRIVATE KEY":
		k, err := x509.ParseECPrivateKey(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("parsing SEC 1 key: %w", err)
		}
		signer = k
	default:
		return nil, fmt.Errorf("unsupported PEM block %q", block.Type)
	}
	if err := checkKeyType(signer.Public()); err != nil {
		return nil, err
	}
	return signer, nil
}

// GenerateDevKey makes a key in memory for local runs and tests; it is never
// written anywhere.
func GenerateDevKey(id string, alg KeyAlgorithm) (Key, error) {
	var signer crypto.Signer
	var err error
	switch alg {
	case RSA2048:
		signer, err = rsa.GenerateKey(rand.Reader, 2048)
	case ECDSAP256:
		signer, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	default:
		return Key{}, fmt.Errorf("cloudfront.GenerateDevKey: unknown algorithm %q", alg)
	}
	if err != nil {
		return Key{}, fmt.Errorf("cloudfront.GenerateDevKey: %w", err)
	}
	return Key{ID: id, Signer: signer}, nil
}

// checkKeyType admits what CloudFront admits in a public key: RSA 2048 and
// ECDSA P-256.
func checkKeyType(pub crypto.PublicKey) error {
	switch k := pub.(type) {
	case *rsa.PublicKey:
		if k.N.BitLen() != 2048 {
			return fmt.Errorf("RSA key has %d bits; CloudFront requires 2048", k.N.BitLen())
		}
	case *ecdsa.PublicKey:
		if k.Curve != elliptic.P256() {
			return fmt.Errorf("ECDSA key on %s; CloudFront requires P-256", k.Curve.Params().Name)
		}
	default:
		return fmt.Errorf("key type %T is not supported; use RSA 2048 or ECDSA P-256", pub)
	}
	return nil
}

// validKeyID keeps ids to what CloudFront issues (K2JCJMDEHXQW5F, APKA...);
// the id travels unescaped in a query parameter and a cookie.
func validKeyID(id string) error {
	if id == "" || len(id) > 128 {
		return fmt.Errorf("key id %q must be 1-128 characters", id)
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return fmt.Errorf("key id %q may hold only A-Z a-z 0-9 - _", id)
		}
	}
	return nil
}

// redact keeps key material out of error messages.
func redact(entry string) string {
	if len(entry) > 16 {
		return entry[:16] + "..."
	}
	return entry
}
