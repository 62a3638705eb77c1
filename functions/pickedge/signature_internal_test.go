package pickedge

import (
	"bytes"
	"encoding/base64"
	"strings"
	"testing"
	"time"

	"github.com/playplane/playplane/shared/playback"
)

func TestParseEdgeKeys(t *testing.T) {
	t.Parallel()
	k1, k2 := bytes.Repeat([]byte{1}, 32), bytes.Repeat([]byte{0xfb}, 34) // 34 bytes: padded base64
	std, url := base64.StdEncoding.EncodeToString(k2), base64.RawURLEncoding.EncodeToString(k2)
	if !strings.HasSuffix(std, "=") || !strings.ContainsAny(url, "-_") {
		t.Fatalf("fixture keys do not exercise padding and the URL alphabet: %s %s", std, url)
	}
	for _, tc := range []struct {
		name string
		spec string
		want EdgeKeys
		err  string
	}{
		{name: "empty", spec: "", want: EdgeKeys{}},
		{name: "padded key", spec: "fra-1=" + std, want: EdgeKeys{"fra-1": {k2}}},
		{name: "url alphabet unpadded", spec: "fra-1=" + url, want: EdgeKeys{"fra-1": {k2}}},
		{name: "rotation and spaces", spec: " fra-1 = " + base64.StdEncoding.EncodeToString(k1) + " , fra-1=" + std + ",lhr-1=" + std + ",",
			want: EdgeKeys{"fra-1": {k1, k2}, "lhr-1": {k2}}},
		{name: "no separator", spec: "fra-1", err: "not edge-id=base64key"},
		{name: "no id", spec: "=" + std, err: "not edge-id=base64key"},
		{name: "not base64", spec: "fra-1=***", err: "not base64"},
		{name: "short key", spec: "fra-1=" + base64.StdEncoding.EncodeToString(k1[:31]), err: "at least 32"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := ParseEdgeKeys(tc.spec)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err = %v, want %q", err, tc.err)
				}
				if _, secret, ok := strings.Cut(tc.spec, "="); ok && len(secret) > 8 && strings.Contains(err.Error(), secret) {
					t.Fatalf("error leaks the key: %v", err)
				}
				return
			}
			if err != nil || got.Spec() != tc.want.Spec() || len(got) != len(tc.want) {
				t.Fatalf("got %v, %v; want %v", got.Spec(), err, tc.want.Spec())
			}
			back, err := ParseEdgeKeys(got.Spec())
			if err != nil || back.Spec() != got.Spec() {
				t.Fatalf("Spec does not round-trip: %v", err)
			}
		})
	}
}

func TestEdgeVerifier(t *testing.T) {
	t.Parallel()
	keys := NewDevEdgeKeys("fra-1", "lhr-1")
	rotated := NewDevEdgeKeys("fra-1")["fra-1"][0]
	keys["fra-1"] = append(keys["fra-1"], rotated)
	v := newEdgeVerifier(keys, 5*time.Minute)
	now := time.Unix(1_772_396_130, 0)
	body := []byte(`{"edge_id":"fra-1"}`)
	sig := SignEdgeReport(keys["fra-1"][0], now, body)
	for _, tc := range []struct {
		name, edge, header string
		body               []byte
		reason             string
	}{
		{name: "good", edge: "fra-1", header: sig, body: body},
		{name: "rotated key", edge: "fra-1", header: SignEdgeReport(rotated, now, body), body: body},
		{name: "extra scheme and a second v1", edge: "fra-1", header: sig + ",v0=zz,v1=" + strings.Repeat("0", 64), body: body},
		{name: "timestamp at the tolerance", edge: "fra-1", header: SignEdgeReport(keys["fra-1"][0], now.Add(-5*time.Minute), body), body: body},
		{name: "timestamp past the tolerance", edge: "fra-1", header: SignEdgeReport(keys["fra-1"][0], now.Add(-5*time.Minute-time.Second), body), body: body, reason: reasonSignatureExpired},
		{name: "other edge's key", edge: "fra-1", header: SignEdgeReport(keys["lhr-1"][0], now, body), body: body, reason: reasonSignatureMismatch},
		{name: "tampered body", edge: "fra-1", header: sig, body: []byte(`{"edge_id":"fra-2"}`), reason: reasonSignatureMismatch},
		{name: "timestamp changed", edge: "fra-1", header: strings.Replace(sig, "t=1772396130", "t=1772396131", 1), body: body, reason: reasonSignatureMismatch},
		{name: "two timestamps", edge: "fra-1", header: "t=1," + sig, body: body, reason: reasonSignatureMalformed},
		{name: "no v1", edge: "fra-1", header: "t=1772396130", body: body, reason: reasonSignatureMalformed},
		{name: "short v1", edge: "fra-1", header: "t=1772396130,v1=abcd", body: body, reason: reasonSignatureMalformed},
		{name: "non-hex v1", edge: "fra-1", header: "t=1772396130,v1=" + strings.Repeat("g", 64), body: body, reason: reasonSignatureMalformed},
		{name: "too many v1", edge: "fra-1", header: sig + strings.Repeat(",v1="+strings.Repeat("0", 64), 4), body: body, reason: reasonSignatureMalformed},
		{name: "not key=value", edge: "fra-1", header: "garbage", body: body, reason: reasonSignatureMalformed},
		{name: "missing", edge: "fra-1", body: body, reason: reasonSignatureMissing},
		{name: "unknown edge", edge: "ams-1", header: sig, body: body, reason: reasonEdgeUnknown},
		{name: "no edge", header: sig, body: body, reason: reasonEdgeIDMissing},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			parsed, err := v.checkHeaders(tc.edge, tc.header, now)
			if err == nil {
				err = v.checkBody(tc.edge, parsed, tc.body)
			}
			if tc.reason == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			pe := playback.AsError(err)
			if pe.Code != playback.CodeUnauthenticated || pe.Reason != tc.reason {
				t.Fatalf("err = %v, want unauthenticated/%s", err, tc.reason)
			}
		})
	}
}
