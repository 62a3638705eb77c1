package cloudfront

import (
	"crypto"
	"crypto/rand"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"net/netip"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/feature/cloudfront/sign"
)

// HashAlgorithm is the digest signed over the policy. CloudFront assumes
// SHA1 unless the URL carries Hash-Algorithm=SHA256 (or the cookie
// CloudFront-Hash-Algorithm=SHA256).
type HashAlgorithm string

const (
	SHA1   HashAlgorithm = "SHA1"
	SHA256 HashAlgorithm = "SHA256"
)

func (a HashAlgorithm) hash() (crypto.Hash, error) {
	switch a {
	case SHA1:
		return crypto.SHA1, nil
	case SHA256:
		return crypto.SHA256, nil
	default:
		return 0, fmt.Errorf("hash algorithm %q is not SHA1 or SHA256", string(a))
	}
}

// digest hashes b with a, for signing b or checking a signature of it.
func (a HashAlgorithm) digest(b []byte) (crypto.Hash, []byte, error) {
	h, err := a.hash()
	if err != nil {
		return 0, nil, err
	}
	if h == crypto.SHA1 {
		d := sha1.Sum(b)
		return h, d[:], nil
	}
	d := sha256.Sum256(b)
	return h, d[:], nil
}

// Policy is a custom policy with the one statement CloudFront allows in a
// signed URL or cookie.
type Policy struct {
	Resource        string       // URL, may hold * (any run) and ? (one character)
	DateLessThan    time.Time    // required: valid strictly before this second
	DateGreaterThan time.Time    // optional: valid from this second on
	SourceIP        netip.Prefix // optional: viewer address range
}

// Signing parameter names, in the query and as cookies.
const (
	paramExpires       = "Expires"
	paramPolicy        = "Policy"
	paramSignature     = "Signature"
	paramKeyPairID     = "Key-Pair-Id"
	paramHashAlgorithm = "Hash-Algorithm"

	CookieExpires       = "CloudFront-Expires"
	CookiePolicy        = sign.CookiePolicyName
	CookieSignature     = sign.CookieSignatureName
	CookieKeyPairID     = sign.CookieKeyIDName
	CookieHashAlgorithm = "CloudFront-Hash-Algorithm"
)

// appendCannedPolicy writes the statement CloudFront reconstructs for a canned
// policy. It is byte-for-byte what the SDK's json encoder produces, which a
// test pins; the verifier rebuilds it with this same function.
func appendCannedPolicy(dst []byte, resource string, expires int64) []byte {
	dst = append(dst, `{"Statement":[{"Resource":"`...)
	dst = append(dst, resource...)
	dst = append(dst, `","Condition":{"DateLessThan":{"AWS:EpochTime":`...)
	dst = strconv.AppendInt(dst, expires, 10)
	return append(dst, `}}}]}`...)
}

// appendCustomPolicy writes p in the SDK's field order (IpAddress,
// DateGreaterThan, DateLessThan) without whitespace.
func appendCustomPolicy(dst []byte, p Policy) []byte {
	dst = append(dst, `{"Statement":[{"Resource":"`...)
	dst = append(dst, p.Resource...)
	dst = append(dst, `","Condition":{`...)
	if p.SourceIP.IsValid() {
		dst = append(dst, `"IpAddress":{"AWS:SourceIp":"`...)
		dst = append(dst, p.SourceIP.String()...)
		dst = append(dst, `"},`...)
	}
	if !p.DateGreaterThan.IsZero() {
		dst = append(dst, `"DateGreaterThan":{"AWS:EpochTime":`...)
		dst = strconv.AppendInt(dst, p.DateGreaterThan.Unix(), 10)
		dst = append(dst, `},`...)
	}
	dst = append(dst, `"DateLessThan":{"AWS:EpochTime":`...)
	dst = strconv.AppendInt(dst, p.DateLessThan.Unix(), 10)
	return append(dst, `}}}]}`...)
}

// validResource admits printable ASCII without the two characters that JSON
// would escape, so the policy needs no escaping and signer and verifier agree
// on its bytes.
func validResource(r string) error {
	if r == "" {
		return fmt.Errorf("resource is empty")
	}
	for i := 0; i < len(r); i++ {
		if c := r[i]; c < 0x21 || c > 0x7e || c == '"' || c == '\\' {
			return fmt.Errorf("resource %q holds %q; escape it in the URL", r, c)
		}
	}
	return nil
}

// appendEncoded is CloudFront's URL-safe base64: the standard alphabet with
// + = / replaced by - _ ~.
func appendEncoded(dst, src []byte) []byte {
	start := len(dst)
	dst = base64.StdEncoding.AppendEncode(dst, src)
	for i := start; i < len(dst); i++ {
		switch dst[i] {
		case '+':
			dst[i] = '-'
		case '=':
			dst[i] = '_'
		case '/':
			dst[i] = '~'
		}
	}
	return dst
}

// decodeCloudFront reverses appendEncoded.
func decodeCloudFront(s string) ([]byte, error) {
	b := []byte(s)
	for i, c := range b {
		switch c {
		case '-':
			b[i] = '+'
		case '_':
			b[i] = '='
		case '~':
			b[i] = '/'
		case '+', '=', '/':
			return nil, fmt.Errorf("character %q is not in CloudFront's base64 alphabet", c)
		}
	}
	return base64.StdEncoding.DecodeString(string(b))
}

// signPolicy hashes the policy with alg and signs the digest: PKCS#1 v1.5
// for RSA, ASN.1 DER for ECDSA (what OpenSSL and CloudFront use).
func signPolicy(signer crypto.Signer, alg HashAlgorithm, policy []byte) ([]byte, error) {
	h, digest, err := alg.digest(policy)
	if err != nil {
		return nil, err
	}
	return signer.Sign(rand.Reader, digest, h)
}
