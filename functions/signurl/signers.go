package signurl

import (
	"fmt"

	"github.com/playplane/playplane/shared/cloudcdn"
	"github.com/playplane/playplane/shared/cloudfront"
	"github.com/playplane/playplane/shared/playback"
)

// CDN names of the cloud signers, as SIGNURL_CDN_BASES and requests name
// them.
const (
	CDNCloudFront = "cloudfront"
	CDNCloudCDN   = "cloudcdn"
)

// KeyConfig is where the cloud entry points find the signing keys:
// CLOUDFRONT_KEYS / CLOUDFRONT_ACTIVE_KEY_ID and CLOUDCDN_KEYS /
// CLOUDCDN_ACTIVE_KEY_NAME, each listing every key still trusted by the CDN
// ("id=env:VAR,id=file:/run/secrets/key") and naming the one that signs.
// Keys come from the environment or a mounted secret, never from the
// repository; local runs generate their own.
type KeyConfig struct {
	CloudFront cloudfront.Config
	CloudCDN   cloudcdn.Config
}

// LoadSigners builds a signer for each CDN whose keys are configured,
// reading "env:" references with lookupEnv. Listing the previous key beside
// the new active one keeps URLs signed before a rotation valid at the CDN,
// whose trusted key group or backend lists both keys too.
func LoadSigners(cfg KeyConfig, lookupEnv func(string) (string, bool)) (map[string]playback.URLSigner, error) {
	signers := map[string]playback.URLSigner{}
	if cfg.CloudFront.Keys != "" {
		keys, err := cloudfront.ParseKeySet(cfg.CloudFront.Keys, cfg.CloudFront.ActiveKeyID, lookupEnv)
		if err != nil {
			return nil, fmt.Errorf("signurl.LoadSigners: %w", err)
		}
		signer, err := cloudfront.New(cfg.CloudFront, keys)
		if err != nil {
			return nil, fmt.Errorf("signurl.LoadSigners: %w", err)
		}
		signers[CDNCloudFront] = signer
	}
	if cfg.CloudCDN.Keys != "" {
		keys, err := cloudcdn.ParseKeySet(cfg.CloudCDN.Keys, cfg.CloudCDN.ActiveKeyName, lookupEnv)
		if err != nil {
			return nil, fmt.Errorf("signurl.LoadSigners: %w", err)
		}
		signer, err := cloudcdn.New(cfg.CloudCDN, keys)
		if err != nil {
			return nil, fmt.Errorf("signurl.LoadSigners: %w", err)
		}
		signers[CDNCloudCDN] = signer
	}
	if len(signers) == 0 {
		return nil, fmt.Errorf("signurl.LoadSigners: no CDN keys configured (CLOUDFRONT_KEYS, CLOUDCDN_KEYS)")
	}
	return signers, nil
}
