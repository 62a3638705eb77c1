package paymentwebhook

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"strconv"
	"strings"
	"time"

	"github.com/playplane/playplane/shared/auth"
	"github.com/playplane/playplane/shared/playback"
)

// APIVersion is the Stripe API version the event objects are decoded for;
// stripe-go v76 speaks it. An endpoint on another version sends objects of
// another shape, so such events are refused rather than misread.
const APIVersion = "2023-10-16"

// verifier checks Stripe-Signature headers. It accepts and rejects exactly
// what webhook.ConstructEventWithOptions does for any one of its secrets
// (the cross-check test holds it to that), except that it also refuses
// timestamps more than the tolerance in the future. It parses the header
// without allocating, reuses keyed HMAC states and decodes the body only once.
type verifier struct {
	macs      *auth.TimestampedMACs // one key per endpoint secret
	tolerance time.Duration
}

func newVerifier(secrets []string, tolerance time.Duration) *verifier {
	keys := make([][]byte, len(secrets))
	for i, s := range secrets {
		keys[i] = []byte(s)
	}
	return &verifier{macs: auth.NewTimestampedMACs(keys...), tolerance: tolerance}
}

// Reasons of signature failures; every one is a 400.
const (
	reasonSignatureMissing   = "signature_missing"
	reasonSignatureMalformed = "signature_malformed"
	reasonSignatureMismatch  = "signature_mismatch"
	reasonSignatureExpired   = "signature_expired"
)

func sigError(reason, msg string) error {
	return playback.Errorf(playback.CodeInvalid, reason, "Stripe-Signature: %s", msg)
}

// verify checks header against payload at now. Like stripe-go it reads
// "t=<unix>,v1=<hex>[,v1=<hex>...]", ignores other schemes and undecodable
// v1 values, rejects any pair without exactly one '=', and signs the
// timestamp as re-formatted from its parsed value ("t=+5" signs "5").
func (v *verifier) verify(payload []byte, header string, now time.Time) error {
	if header == "" {
		return sigError(reasonSignatureMissing, "header is absent")
	}
	var (
		ts     int64
		haveTS bool
		anyV1  bool
		buf    [2][sha256.Size]byte // Stripe sends two during a secret roll
		sigs   = buf[:0]
	)
	for rest := header; ; {
		pair, tail, more := strings.Cut(rest, ",")
		k, val, ok := strings.Cut(pair, "=")
		if !ok || strings.IndexByte(val, '=') >= 0 {
			return sigError(reasonSignatureMalformed, "malformed header")
		}
		switch k {
		case "t":
			n, err := strconv.ParseInt(val, 10, 64)
			if err != nil {
				return sigError(reasonSignatureMalformed, "malformed timestamp")
			}
			ts, haveTS = n, true
		case "v1":
			if len(val)%2 != 0 {
				break // not hex: stripe-go skips it
			}
			if len(val) != 2*sha256.Size {
				// Decodable hex of the wrong length still counts as a v1
				// entry for stripe-go, but can never match.
				if _, err := hex.DecodeString(val); err == nil {
					anyV1 = true
				}
				break
			}
			var sig [sha256.Size]byte
			if _, err := hex.Decode(sig[:], []byte(val)); err != nil {
				break
			}
			sigs = append(sigs, sig)
			anyV1 = true
		}
		if !more {
			break
		}
		rest = tail
	}
	if !anyV1 {
		return sigError(reasonSignatureMismatch, "no v1 signature")
	}
	// Refused both ways: a timestamp from the future is as unverifiable as
	// an old one (stripe-go checks only the past).
	if age := now.Sub(time.Unix(ts, 0)); !haveTS || age > v.tolerance || age < -v.tolerance {
		return sigError(reasonSignatureExpired, "timestamp outside the tolerance")
	}
	if v.macs.Match(ts, payload, sigs) {
		return nil
	}
	return sigError(reasonSignatureMismatch, "no signature matches an endpoint secret")
}

// envelope is the part of a Stripe event the webhook needs. Its fields and
// types mirror stripe.Event so that a body stripe-go refuses to decode is
// refused here too; of data.object and previous_attributes it keeps only
// their JSON kind, so the fast path copies nothing of the object.
type envelope struct {
	ID              string     `json:"id"`
	Object          string     `json:"object"`
	Account         string     `json:"account"`
	APIVersion      string     `json:"api_version"`
	Created         int64      `json:"created"`
	Livemode        bool       `json:"livemode"`
	PendingWebhooks int64      `json:"pending_webhooks"`
	Type            string     `json:"type"`
	Request         *eventReq  `json:"request"`
	Data            *eventData `json:"data"`
}

type eventReq struct {
	ID             string `json:"id"`
	IdempotencyKey string `json:"idempotency_key"`
}

type eventData struct {
	Object             jsonKind `json:"object"`
	PreviousAttributes jsonKind `json:"previous_attributes"`
}

// jsonKind is the first byte of a JSON value ('{', '[', '"', 'n', ...), or
// 0 when the value is absent. encoding/json has validated the value before
// it calls UnmarshalJSON.
type jsonKind byte

func (k *jsonKind) UnmarshalJSON(b []byte) error {
	*k = jsonKind(b[0])
	return nil
}

// objectOrNull is what stripe-go accepts for a map[string]any.
func (k jsonKind) objectOrNull() bool { return k == '{' || k == 'n' }

// decodeEnvelope decodes a verified body. Errors are 400s.
func decodeEnvelope(payload []byte) (envelope, error) {
	var ev envelope
	if err := json.Unmarshal(payload, &ev); err != nil {
		return ev, playback.Errorf(playback.CodeInvalid, playback.ReasonMalformedJSON, "event body: %v", err)
	}
	if ev.Data != nil {
		if !ev.Data.Object.objectOrNull() {
			return ev, playback.Errorf(playback.CodeInvalid, playback.ReasonMalformedJSON, "event body: data.object must be an object")
		}
		if ev.Data.PreviousAttributes != 0 && !ev.Data.PreviousAttributes.objectOrNull() {
			return ev, playback.Errorf(playback.CodeInvalid, playback.ReasonMalformedJSON, "event body: data.previous_attributes must be an object")
		}
	}
	if ev.APIVersion != APIVersion {
		return ev, playback.Errorf(playback.CodeInvalid, "api_version_mismatch",
			"event has Stripe API version %q but this endpoint decodes %s: set the webhook endpoint's API version to %s",
			ev.APIVersion, APIVersion, APIVersion)
	}
	return ev, nil
}
