package paymentwebhook

import (
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stripe/stripe-go/v76/webhook"

	"github.com/playplane/playplane/shared/playback"
)

// stripeAccepts is the reference: the official package, tried with each
// endpoint secret as a multi-secret endpoint would.
func stripeAccepts(payload []byte, header string, secrets []string) bool {
	if fromTheFuture(header, time.Now(), 300*time.Second) {
		// stripe-go checks only the past; this endpoint refuses both ways.
		return false
	}
	for _, s := range secrets {
		_, err := webhook.ConstructEventWithOptions(payload, header, s,
			webhook.ConstructEventOptions{Tolerance: 300 * time.Second})
		if err == nil {
			return true
		}
	}
	return false
}

// fromTheFuture reports whether the header's timestamp (the last t=, as
// stripe-go reads it) is more than tolerance ahead of now.
func fromTheFuture(header string, now time.Time, tolerance time.Duration) bool {
	ts, ok := int64(0), false
	for _, pair := range strings.Split(header, ",") {
		if k, v, _ := strings.Cut(pair, "="); k == "t" {
			if n, err := strconv.ParseInt(v, 10, 64); err == nil {
				ts, ok = n, true
			}
		}
	}
	return ok && time.Unix(ts, 0).Sub(now) > tolerance
}

func oursAccepts(v *verifier, payload []byte, header string) error {
	if err := v.verify(payload, header, time.Now()); err != nil {
		return err
	}
	_, err := decodeEnvelope(payload)
	return err
}

func hexSig(ts int64, payload []byte, secret string) string {
	return hex.EncodeToString(webhook.ComputeSignature(time.Unix(ts, 0), payload, secret))
}

type crossCase struct {
	name    string
	payload []byte
	header  string
}

func crossCases(t testing.TB) []crossCase {
	good := stripeEvent("evt_cross", "customer.subscription.updated", at(0),
		subObj("sub_1", "cus_1", "active", "price_std", at(0), at(720*time.Hour)))
	sample, err := os.ReadFile(filepath.Join("..", "..", "events", "testdata", "stripe", "invoice.paid.json"))
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().Unix()
	sig := func(ts int64, p []byte, secret string) string { return hexSig(ts, p, secret) }
	h := func(ts int64, p []byte, secret string) string {
		return fmt.Sprintf("t=%d,v1=%s", ts, sig(ts, p, secret))
	}
	wrongVersion := []byte(strings.Replace(string(good), APIVersion, "2022-11-15", 1))
	body := func(s string) []byte { return []byte(s) }
	evJSON := func(data string) []byte {
		return body(`{"id":"evt_x","object":"event","api_version":"` + APIVersion + `","created":1,"type":"invoice.paid"` + data + `}`)
	}
	cases := []crossCase{
		{"valid", good, h(now, good, testSecret)},
		{"valid with the previous secret", good, h(now, good, testOldSecret)},
		{"full sample", sample, h(now, sample, testSecret)},
		{"two signatures, second valid", good, fmt.Sprintf("t=%d,v1=%s,v1=%s", now, sig(now, good, "whsec_other"), sig(now, good, testSecret))},
		{"three signatures, third valid", good, fmt.Sprintf("t=%d,v1=%s,v1=%s,v1=%s", now, sig(now, good, "a"), sig(now, good, "b"), sig(now, good, testSecret))},
		{"v0 and v1", good, fmt.Sprintf("t=%d,v0=%s,v1=%s", now, sig(now, good, "x"), sig(now, good, testSecret))},
		{"unknown scheme first", good, fmt.Sprintf("x=1,t=%d,v1=%s", now, sig(now, good, testSecret))},
		{"timestamp last", good, fmt.Sprintf("v1=%s,t=%d", sig(now, good, testSecret), now)},
		{"uppercase hex", good, fmt.Sprintf("t=%d,v1=%s", now, strings.ToUpper(sig(now, good, testSecret)))},
		{"timestamp with plus sign", good, fmt.Sprintf("t=+%d,v1=%s", now, sig(now, good, testSecret))},
		{"timestamp with leading zero", good, fmt.Sprintf("t=0%d,v1=%s", now, sig(now, good, testSecret))},
		{"duplicate timestamp, last wins", good, fmt.Sprintf("t=1,t=%d,v1=%s", now, sig(now, good, testSecret))},
		{"duplicate timestamp, stale last", good, fmt.Sprintf("t=%d,t=1,v1=%s", now, sig(now, good, testSecret))},
		{"future timestamp", good, h(now+3600, good, testSecret)},
		{"just inside tolerance ahead", good, h(now+240, good, testSecret)},
		{"just outside tolerance ahead", good, h(now+400, good, testSecret)},
		{"just inside tolerance", good, h(now-240, good, testSecret)},
		{"expired", good, h(now-400, good, testSecret)},
		{"zero timestamp", good, h(0, good, testSecret)},
		{"negative timestamp", good, h(-5, good, testSecret)},
		{"wrong secret", good, h(now, good, "whsec_wrong")},
		{"no header", good, ""},
		{"timestamp only", good, fmt.Sprintf("t=%d", now)},
		{"signature only", good, "v1=" + sig(now, good, testSecret)},
		{"v0 only", good, fmt.Sprintf("t=%d,v0=%s", now, sig(now, good, testSecret))},
		{"trailing comma", good, h(now, good, testSecret) + ","},
		{"extra equals", good, h(now, good, testSecret) + "="},
		{"space after comma", good, fmt.Sprintf("t=%d, v1=%s", now, sig(now, good, testSecret))},
		{"space in timestamp", good, fmt.Sprintf("t= %d,v1=%s", now, sig(now, good, testSecret))},
		{"bad timestamp", good, fmt.Sprintf("t=abc,v1=%s", sig(now, good, testSecret))},
		{"odd-length hex plus valid", good, fmt.Sprintf("t=%d,v1=abc,v1=%s", now, sig(now, good, testSecret))},
		{"non-hex plus valid", good, fmt.Sprintf("t=%d,v1=zz%s,v1=%s", now, sig(now, good, testSecret)[2:], sig(now, good, testSecret))},
		{"only non-hex", good, fmt.Sprintf("t=%d,v1=zz", now)},
		{"only short hex", good, fmt.Sprintf("t=%d,v1=abcd", now)},
		{"empty v1", good, fmt.Sprintf("t=%d,v1=", now)},
		{"truncated signature", good, fmt.Sprintf("t=%d,v1=%s", now, sig(now, good, testSecret)[:62])},
		{"signature over other body", good, h(now, []byte("{}"), testSecret)},
		{"body with extra byte", append(append([]byte{}, good...), ' '), h(now, good, testSecret)},
		{"wrong api version", wrongVersion, h(now, wrongVersion, testSecret)},
		{"malformed json", body(`{"id":`), h(now, body(`{"id":`), testSecret)},
		{"empty body", body(""), h(now, body(""), testSecret)},
		{"json array", body(`[]`), h(now, body(`[]`), testSecret)},
		{"created is a string", body(`{"api_version":"` + APIVersion + `","created":"1"}`), ""},
		{"no data", evJSON(``), ""},
		{"data null", evJSON(`,"data":null`), ""},
		{"data without object", evJSON(`,"data":{}`), ""},
		{"data.object null", evJSON(`,"data":{"object":null}`), ""},
		{"data.object array", evJSON(`,"data":{"object":[]}`), ""},
		{"data.object string", evJSON(`,"data":{"object":"x"}`), ""},
		{"previous_attributes string", evJSON(`,"data":{"object":{},"previous_attributes":"x"}`), ""},
		{"previous_attributes null", evJSON(`,"data":{"object":{},"previous_attributes":null}`), ""},
		{"request as string", evJSON(`,"data":{"object":{}},"request":"req_1"`), ""},
		{"livemode as string", evJSON(`,"data":{"object":{}},"livemode":"no"`), ""},
		{"keys in other case", body(`{"ID":"evt_x","API_VERSION":"` + APIVersion + `","Data":{"Object":{}}}`), ""},
		{"trailing garbage", append(evJSON(`,"data":{"object":{}}`), "x"...), ""},
	}
	for i := range cases {
		if cases[i].header == "" && !strings.HasPrefix(cases[i].name, "no header") {
			cases[i].header = h(now, cases[i].payload, testSecret)
		}
	}
	return cases
}

// TestVerifierMatchesStripe holds the fast verifier to the official one:
// same accept/reject decision on every case.
func TestVerifierMatchesStripe(t *testing.T) {
	t.Parallel()
	v := newVerifier([]string{testSecret, testOldSecret}, 300*time.Second)
	accepted := 0
	for _, tc := range crossCases(t) {
		t.Run(tc.name, func(t *testing.T) {
			want := stripeAccepts(tc.payload, tc.header, []string{testSecret, testOldSecret})
			err := oursAccepts(v, tc.payload, tc.header)
			if (err == nil) != want {
				t.Fatalf("stripe-go accepts=%v, ours err=%v\nheader %q", want, err, tc.header)
			}
			if err != nil && !playback.IsCode(err, playback.CodeInvalid) {
				t.Fatalf("rejection must be a 400 (invalid), got %v", err)
			}
			if want {
				accepted++
			}
		})
	}
	if accepted < 10 {
		t.Fatalf("only %d cases accepted: the table no longer tests acceptance", accepted)
	}
}

// FuzzVerifierMatchesStripe extends the table to mutated headers and
// bodies (go test -fuzz=FuzzVerifierMatchesStripe).
func FuzzVerifierMatchesStripe(f *testing.F) {
	for _, tc := range crossCases(f) {
		f.Add(tc.payload, tc.header)
	}
	v := newVerifier([]string{testSecret, testOldSecret}, 300*time.Second)
	f.Fuzz(func(t *testing.T, payload []byte, header string) {
		want := stripeAccepts(payload, header, []string{testSecret, testOldSecret})
		if err := oursAccepts(v, payload, header); (err == nil) != want {
			t.Fatalf("stripe-go accepts=%v, ours err=%v\nheader %q\npayload %q", want, err, header, payload)
		}
	})
}
