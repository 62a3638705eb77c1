package signurl_test

import (
	"context"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/sethvargo/go-envconfig"

	"github.com/playplane/playplane/functions/signurl"
	"github.com/playplane/playplane/shared/cloudcdn"
	"github.com/playplane/playplane/shared/cloudfront"
)

// TestConfigFromEnv reads the documented variables the way the entry points
// do, and builds signers from them with a key from a mounted secret file.
func TestConfigFromEnv(t *testing.T) {
	t.Parallel()
	cfKey, err := cloudfront.GenerateDevKey("K2JCJMDEHXQW5F", cloudfront.RSA2048)
	if err != nil {
		t.Fatal(err)
	}
	secretFile := filepath.Join(t.TempDir(), "cloudfront.pem")
	if err := os.WriteFile(secretFile, []byte(pemOf(t, cfKey.Signer)), 0o600); err != nil {
		t.Fatal(err)
	}
	cdnKey := cloudcdn.GenerateDevKey("prod-2026")
	env := map[string]string{
		"SIGNURL_DEFAULT_CDN":      "cloudcdn",
		"SIGNURL_CDN_BASES":        "cloudfront=https://d111.cloudfront.net,cloudcdn=https://cdn.example.com",
		"SIGNURL_BIND_IP":          "true",
		"SIGNURL_MAX_TTL":          "5m",
		"CLOUDFRONT_KEYS":          "K2JCJMDEHXQW5F=file:" + secretFile,
		"CLOUDFRONT_ACTIVE_KEY_ID": "K2JCJMDEHXQW5F",
		"CLOUDCDN_KEYS":            "prod-2026=env:CDN_KEY",
		"CLOUDCDN_ACTIVE_KEY_NAME": "prod-2026",
		"CDN_KEY":                  cloudcdn.EncodeKey(cdnKey.Secret),
	}
	lookup := envconfig.MapLookuper(env)
	var cfg signurl.Config
	if err := envconfig.ProcessWith(context.Background(), &envconfig.Config{Target: &cfg, Lookuper: lookup}); err != nil {
		t.Fatal(err)
	}
	want := signurl.Config{DefaultCDN: "cloudcdn", BindIP: true, Grace: 30 * time.Second, MaxTTL: 5 * time.Minute, MaxBody: 1024, OriginCacheTTL: time.Minute,
		PlanCacheTTL: 30 * time.Second,
		CDNBases:     map[string]string{"cloudfront": "https://d111.cloudfront.net", "cloudcdn": "https://cdn.example.com"}}
	if !reflect.DeepEqual(cfg, want) {
		t.Fatalf("config = %+v, want %+v", cfg, want)
	}
	var kc signurl.KeyConfig
	if err := envconfig.ProcessWith(context.Background(), &envconfig.Config{Target: &kc, Lookuper: lookup}); err != nil {
		t.Fatal(err)
	}
	signers, err := signurl.LoadSigners(kc, func(k string) (string, bool) { v, ok := env[k]; return v, ok })
	if err != nil {
		t.Fatal(err)
	}
	cf, ok := signers[signurl.CDNCloudFront].(*cloudfront.Signer)
	if !ok || cf.KeyID() != "K2JCJMDEHXQW5F" {
		t.Fatalf("cloudfront signer = %#v", signers[signurl.CDNCloudFront])
	}
	cdn, ok := signers[signurl.CDNCloudCDN].(*cloudcdn.Signer)
	if !ok || cdn.KeyName() != "prod-2026" {
		t.Fatalf("cloudcdn signer = %#v", signers[signurl.CDNCloudCDN])
	}

	h := newHarness(t)
	if _, err := signurl.New(cfg, signurl.Deps{Store: h.store, Tokens: h.tokens, Signers: signers}); err != nil {
		t.Fatalf("New with the env config: %v", err)
	}
}

func TestLoadSignersRefuses(t *testing.T) {
	t.Parallel()
	cfKey, err := cloudfront.GenerateDevKey("K1", cloudfront.ECDSAP256)
	if err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"CDN_KEY": cloudcdn.EncodeKey(cloudcdn.GenerateDevKey("k").Secret), "CF_KEY": pemOf(t, cfKey.Signer)}
	if _, err := signurl.LoadSigners(signurl.KeyConfig{CloudFront: cloudfront.Config{Keys: "K1=env:CF_KEY", ActiveKeyID: "K1"}},
		func(k string) (string, bool) { v, ok := env[k]; return v, ok }); err != nil {
		t.Fatalf("the control is refused: %v", err)
	}
	lookup := func(k string) (string, bool) { v, ok := env[k]; return v, ok }
	for _, tc := range []struct {
		name string
		kc   signurl.KeyConfig
	}{
		{"no keys at all", signurl.KeyConfig{}},
		{"unset variable", signurl.KeyConfig{CloudCDN: cloudcdn.Config{Keys: "k=env:MISSING", ActiveKeyName: "k"}}},
		{"active key not listed", signurl.KeyConfig{CloudCDN: cloudcdn.Config{Keys: "k=env:CDN_KEY", ActiveKeyName: "other"}}},
		{"key file in the working tree", signurl.KeyConfig{CloudFront: cloudfront.Config{Keys: "K1=file:keys/cf.pem", ActiveKeyID: "K1"}}},
		{"not a key", signurl.KeyConfig{CloudFront: cloudfront.Config{Keys: "K1=env:CDN_KEY", ActiveKeyID: "K1"}}},
		{"unknown hash", signurl.KeyConfig{CloudCDN: cloudcdn.Config{Keys: "k=env:CDN_KEY", ActiveKeyName: "k"},
			CloudFront: cloudfront.Config{Keys: "K1=env:CF_KEY", ActiveKeyID: "K1", HashAlgorithm: "MD5"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if signers, err := signurl.LoadSigners(tc.kc, lookup); err == nil {
				t.Fatalf("LoadSigners accepted it: %v", signers)
			}
		})
	}
}
