package pickedge

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/playplane/playplane/shared/auth"
	"github.com/playplane/playplane/shared/playback"
)

// Headers of an edge health report.
const (
	HeaderEdgeID        = "X-Edge-Id"
	HeaderEdgeSignature = "X-Edge-Signature"
)

// EdgeKeys maps edge ids to their HMAC keys. An edge may hold several keys
// while one is rotated: any of them authenticates its reports.
type EdgeKeys map[string][][]byte

// ParseEdgeKeys reads "edge-id=base64key,edge-id=base64key,...". Repeating
// an edge id adds a key to it. Keys decode as standard or URL-safe base64,
// padded or not, and must have at least auth.MinKeyBytes bytes. An empty
// spec gives no keys: every report is refused.
func ParseEdgeKeys(spec string) (EdgeKeys, error) {
	keys := EdgeKeys{}
	for entry := range strings.SplitSeq(spec, ",") {
		entry = strings.TrimSpace(entry)
		if entry == "" {
			continue
		}
		// Base64 padding is '=', so the id ends at the first one.
		id, text, ok := strings.Cut(entry, "=")
		id = strings.TrimSpace(id)
		if !ok || id == "" {
			return nil, fmt.Errorf("pickedge.ParseEdgeKeys: entry %q is not edge-id=base64key", redact(entry))
		}
		key, err := decodeKey(strings.TrimSpace(text))
		if err != nil {
			return nil, fmt.Errorf("pickedge.ParseEdgeKeys: key of edge %q: %w", id, err)
		}
		if len(key) < auth.MinKeyBytes {
			return nil, fmt.Errorf("pickedge.ParseEdgeKeys: key of edge %q has %d bytes, at least %d required", id, len(key), auth.MinKeyBytes)
		}
		keys[id] = append(keys[id], key)
	}
	return keys, nil
}

// redact keeps the edge id of a malformed entry and drops what may be a key.
func redact(entry string) string {
	if id, _, ok := strings.Cut(entry, "="); ok {
		return id + "=…"
	}
	if len(entry) > 8 {
		return entry[:4] + "…"
	}
	return entry
}

func decodeKey(s string) ([]byte, error) {
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if b, err := enc.DecodeString(s); err == nil {
			return b, nil
		}
	}
	return nil, errors.New("not base64")
}

// Spec writes keys in the form ParseEdgeKeys reads, edges sorted. It
// contains the secret keys.
func (k EdgeKeys) Spec() string {
	var b strings.Builder
	for _, id := range slices.Sorted(maps.Keys(k)) {
		for _, key := range k[id] {
			if b.Len() > 0 {
				b.WriteByte(',')
			}
			b.WriteString(id + "=" + base64.StdEncoding.EncodeToString(key))
		}
	}
	return b.String()
}

// NewDevEdgeKeys returns one random key per edge, for local runs and tests.
func NewDevEdgeKeys(edgeIDs ...string) EdgeKeys {
	keys := EdgeKeys{}
	for _, id := range edgeIDs {
		key := make([]byte, auth.MinKeyBytes)
		_, _ = rand.Read(key) // crypto/rand.Read never fails since Go 1.24
		keys[id] = [][]byte{key}
	}
	return keys
}

// SignEdgeReport returns the X-Edge-Signature value for body sent at t:
// "t=<unix>,v1=<hex HMAC-SHA256(key, t + "." + body)>". Edges sign like
// this; the local runner and tests use it too.
func SignEdgeReport(key []byte, t time.Time, body []byte) string {
	ts := strconv.FormatInt(t.Unix(), 10)
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(ts))
	mac.Write([]byte{'.'})
	mac.Write(body)
	return "t=" + ts + ",v1=" + hex.EncodeToString(mac.Sum(nil))
}

// Reasons of refused health reports; all are 401 but edge_mismatch (403).
const (
	reasonEdgeIDMissing      = "edge_id_missing"
	reasonEdgeUnknown        = "edge_unknown"
	reasonSignatureMissing   = "signature_missing"
	reasonSignatureMalformed = "signature_malformed"
	reasonSignatureExpired   = "signature_expired"
	reasonSignatureMismatch  = "signature_mismatch"
	reasonEdgeMismatch       = "edge_mismatch"
)

func unauthenticated(reason, format string, args ...any) error {
	return playback.Errorf(playback.CodeUnauthenticated, reason, format, args...)
}

// edgeVerifier checks X-Edge-Signature headers with pooled, keyed HMAC
// states, so a check costs two SHA-256 passes and no key schedule.
type edgeVerifier struct {
	macs      map[string]*auth.TimestampedMACs // by edge id
	tolerance time.Duration
}

func newEdgeVerifier(keys EdgeKeys, tolerance time.Duration) *edgeVerifier {
	v := &edgeVerifier{macs: make(map[string]*auth.TimestampedMACs, len(keys)), tolerance: tolerance}
	for id, ks := range keys {
		if len(ks) > 0 {
			v.macs[id] = auth.NewTimestampedMACs(ks...)
		}
	}
	return v
}

// signature is a parsed X-Edge-Signature header.
type signature struct {
	ts   int64
	sigs [][sha256.Size]byte
}

// checkHeaders authenticates everything but the body: the edge is known
// and the signature header is well formed and recent. It runs before the
// body is read, so strangers cannot make the function read large bodies.
func (v *edgeVerifier) checkHeaders(edgeID, header string, now time.Time) (signature, error) {
	if edgeID == "" {
		return signature{}, unauthenticated(reasonEdgeIDMissing, "%s header is required", HeaderEdgeID)
	}
	if v.macs[edgeID] == nil {
		return signature{}, unauthenticated(reasonEdgeUnknown, "no key is configured for edge %q", edgeID)
	}
	if header == "" {
		return signature{}, unauthenticated(reasonSignatureMissing, "%s header is required", HeaderEdgeSignature)
	}
	var sig signature
	haveTS := false
	for pair := range strings.SplitSeq(header, ",") {
		k, val, ok := strings.Cut(strings.TrimSpace(pair), "=")
		if !ok {
			return signature{}, unauthenticated(reasonSignatureMalformed, "%s is not t=<unix>,v1=<hex>", HeaderEdgeSignature)
		}
		switch k {
		case "t":
			n, err := strconv.ParseInt(val, 10, 64)
			if err != nil || haveTS {
				return signature{}, unauthenticated(reasonSignatureMalformed, "%s needs exactly one integer t", HeaderEdgeSignature)
			}
			sig.ts, haveTS = n, true
		case "v1":
			var s [sha256.Size]byte
			if len(val) != hex.EncodedLen(sha256.Size) {
				return signature{}, unauthenticated(reasonSignatureMalformed, "v1 must be %d hex digits", hex.EncodedLen(sha256.Size))
			}
			if _, err := hex.Decode(s[:], []byte(val)); err != nil {
				return signature{}, unauthenticated(reasonSignatureMalformed, "v1 must be hex")
			}
			if len(sig.sigs) == 4 {
				return signature{}, unauthenticated(reasonSignatureMalformed, "at most 4 v1 signatures")
			}
			sig.sigs = append(sig.sigs, s)
		}
		// Other schemes are skipped, so a v2 can be added beside v1.
	}
	if !haveTS || len(sig.sigs) == 0 {
		return signature{}, unauthenticated(reasonSignatureMalformed, "%s needs t and v1", HeaderEdgeSignature)
	}
	// Both directions: a timestamp far ahead would let a captured request
	// be replayed for longer.
	if d := now.Sub(time.Unix(sig.ts, 0)); d > v.tolerance || d < -v.tolerance {
		return signature{}, unauthenticated(reasonSignatureExpired, "signature timestamp is more than %s from the server clock", v.tolerance)
	}
	return sig, nil
}

// checkBody verifies the MAC of body under each of the edge's keys.
func (v *edgeVerifier) checkBody(edgeID string, sig signature, body []byte) error {
	if v.macs[edgeID].Match(sig.ts, body, sig.sigs) {
		return nil
	}
	return unauthenticated(reasonSignatureMismatch, "%s does not match the body under the edge's keys", HeaderEdgeSignature)
}

// NewReportRequest builds the signed POST /v1/edges/health request an edge
// sends: url is the route's full URL, key the edge's key, now the edge's
// clock.
func NewReportRequest(ctx context.Context, url string, key []byte, r playback.EdgeReport, now time.Time) (*http.Request, error) {
	body, err := json.Marshal(r)
	if err != nil {
		return nil, fmt.Errorf("pickedge.NewReportRequest: %w", err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("pickedge.NewReportRequest: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(HeaderEdgeID, r.EdgeID)
	req.Header.Set(HeaderEdgeSignature, SignEdgeReport(key, now, body))
	return req, nil
}
