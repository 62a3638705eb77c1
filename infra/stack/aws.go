package stack

import (
	"encoding/json"
	"fmt"
	"slices"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/playplane/playplane/functions/catalog"
	"github.com/playplane/playplane/infra/awsfn"
	"github.com/playplane/playplane/infra/awsres"
	"github.com/playplane/playplane/shared/localedge"
)

// AWSResources are the stack's resources on AWS.
type AWSResources struct {
	Table      *awsres.Table
	Queues     map[string]*Queue     // by topic
	Secrets    map[string]*AWSSecret // by catalogue Env
	API        *awsres.Api
	Stage      *awsres.Stage
	Authorizer *awsres.Authorizer // nil when no JWT route is served on AWS
	CDN        *CloudFront
	Functions  map[string]*awsfn.Function // by function name
	Warehouse  *AWSWarehouse              // QoE; nil unless the heartbeats ride SQS
	Alarms     *AWSAlarms

	tags pulumi.StringMap
}

// AWSSecret is a Secrets Manager secret and its current version; the
// functions get the secret's ARN and read the value at run time.
type AWSSecret struct {
	Secret  *awsres.Secret
	Version *awsres.SecretVersion
}

// Queue is a topic's SQS queue and its dead-letter queue.
type Queue struct {
	Queue      *awsres.Queue
	DeadLetter *awsres.Queue
}

// CloudFront is the video delivery: a private bucket read by the
// distribution through origin access control, and the key group whose key
// signs the URLs.
type CloudFront struct {
	Bucket       *awsres.BucketV2
	BucketPolicy *awsres.BucketPolicy
	OAC          *awsres.OriginAccessControl
	PublicKey    *awsres.PublicKey
	KeyGroup     *awsres.KeyGroup
	// CORS answers player pages on playplane:corsAllowedOrigins, and
	// PreflightCache and BucketCORS let their preflights through; nil
	// without origins.
	CORS           *awsres.ResponseHeadersPolicy
	PreflightCache *awsres.CachePolicy
	BucketCORS     *awsres.BucketCorsConfigurationV2
	Distribution   *awsres.Distribution
}

func newAWSShared(ctx *pulumi.Context, cfg Config) (*AWSResources, error) {
	a := &AWSResources{
		Queues:    map[string]*Queue{},
		Secrets:   map[string]*AWSSecret{},
		Functions: map[string]*awsfn.Function{},
		tags:      pulumi.StringMap{"app": pulumi.String("playplane"), "stack": pulumi.String(cfg.Stack)},
	}
	l := cfg.Layout
	var err error
	if l.Store == catalog.StoreDynamo {
		if a.Table, err = newTable(ctx, cfg, a.tags); err != nil {
			return nil, err
		}
	}
	if l.Bus == catalog.BusSQS {
		for _, t := range catalog.Topics {
			if a.Queues[t.Name], err = newQueue(ctx, cfg, t, a.tags); err != nil {
				return nil, err
			}
		}
	}
	for _, env := range cfg.SecretsOn(AWS) {
		if a.Secrets[env], err = newAWSSecret(ctx, cfg, env, a.tags); err != nil {
			return nil, err
		}
	}
	if l.Delivery == catalog.DeliveryCloudFront {
		if a.CDN, err = newCloudFront(ctx, cfg, a.tags); err != nil {
			return nil, err
		}
	}
	var routes []catalog.Route
	for _, fn := range catalog.Functions {
		if l.HTTPCloud(fn) == AWS {
			routes = append(routes, fn.Routes...)
		}
	}
	if len(routes) > 0 {
		if err := a.newAPI(ctx, cfg, routes); err != nil {
			return nil, err
		}
	}
	return a, nil
}

func newTable(ctx *pulumi.Context, cfg Config, tags pulumi.StringMap) (*awsres.Table, error) {
	layout := catalog.DynamoTable
	keys := []string{layout.HashKey, layout.RangeKey}
	var indexes []awsres.TableGlobalSecondaryIndexArgs
	for _, idx := range layout.Indexes {
		keys = append(keys, idx.HashKey, idx.RangeKey)
		indexes = append(indexes, awsres.TableGlobalSecondaryIndexArgs{
			Name:           pulumi.String(idx.Name),
			HashKey:        pulumi.String(idx.HashKey),
			RangeKey:       pulumi.String(idx.RangeKey),
			ProjectionType: pulumi.String(idx.Projection),
		})
	}
	var attributes []awsres.TableAttributeArgs
	for _, k := range keys {
		attributes = append(attributes, awsres.TableAttributeArgs{Name: pulumi.String(k), Type: pulumi.String("S")})
	}
	t, err := awsres.NewTable(ctx, "store", &awsres.TableArgs{
		Name:                   pulumi.String(cfg.Prefix),
		BillingMode:            pulumi.String("PAY_PER_REQUEST"),
		HashKey:                pulumi.String(layout.HashKey),
		RangeKey:               pulumi.String(layout.RangeKey),
		Attributes:             attributes,
		GlobalSecondaryIndexes: indexes,
		Ttl:                    &awsres.TableTtlArgs{AttributeName: pulumi.String(layout.TTLAttribute), Enabled: pulumi.Bool(true)},
		PointInTimeRecovery:    &awsres.TablePointInTimeRecoveryArgs{Enabled: pulumi.Bool(true)},
		// Every account, lease and inbox event: DeleteTable is refused
		// while this is on, whatever `pulumi destroy` or a replacement asks.
		DeletionProtectionEnabled: pulumi.Bool(cfg.DeletionProtection),
		ServerSideEncryption:      &awsres.TableServerSideEncryptionArgs{Enabled: pulumi.Bool(true)},
		Tags:                      tags,
	})
	if err != nil {
		return nil, fmt.Errorf("table: %w", err)
	}
	return t, nil
}

// indexResources are the ARNs of the indexes fn queries.
func (a *AWSResources) indexResources(fn catalog.Function) pulumi.StringArray {
	var out pulumi.StringArray
	for _, idx := range catalog.DynamoTable.Indexes {
		if slices.Contains(fn.StoreIndexes, idx.Name) {
			out = append(out, pulumi.Sprintf("%s/index/%s", a.Table.Arn, idx.Name))
		}
	}
	return out
}

func newQueue(ctx *pulumi.Context, cfg Config, t catalog.Topic, tags pulumi.StringMap) (*Queue, error) {
	name := cfg.Prefix + "-" + t.Name
	dlq, err := awsres.NewQueue(ctx, t.Name+"-dlq", &awsres.QueueArgs{
		Name:                    pulumi.String(catalog.DeadLetterName(name)),
		MessageRetentionSeconds: pulumi.Int(14 * 24 * 3600),
		SqsManagedSseEnabled:    pulumi.Bool(true),
		Tags:                    withTag(tags, "role", "dead-letter"),
	})
	if err != nil {
		return nil, fmt.Errorf("queue %s dlq: %w", t.Name, err)
	}
	redrive := dlq.Arn.ApplyT(func(arn string) (string, error) {
		b, err := json.Marshal(map[string]any{"deadLetterTargetArn": arn, "maxReceiveCount": catalog.MaxDeliveryAttempts})
		return string(b), err
	}).(pulumi.StringOutput)
	q, err := awsres.NewQueue(ctx, t.Name, &awsres.QueueArgs{
		Name:                     pulumi.String(name),
		VisibilityTimeoutSeconds: pulumi.Int(catalog.QueueVisibilitySeconds(t.Name)),
		MessageRetentionSeconds:  pulumi.Int(4 * 24 * 3600),
		ReceiveWaitTimeSeconds:   pulumi.Int(20),
		RedrivePolicy:            redrive,
		SqsManagedSseEnabled:     pulumi.Bool(true),
		Tags:                     withTag(tags, "role", "topic"),
	})
	if err != nil {
		return nil, fmt.Errorf("queue %s: %w", t.Name, err)
	}
	// Only this topic's queue may dead-letter into the DLQ.
	_, err = awsres.NewRedriveAllowPolicy(ctx, t.Name+"-dlq", &awsres.RedriveAllowPolicyArgs{
		QueueUrl: dlq.Url,
		RedriveAllowPolicy: q.Arn.ApplyT(func(arn string) (string, error) {
			b, err := json.Marshal(map[string]any{"redrivePermission": "byQueue", "sourceQueueArns": []string{arn}})
			return string(b), err
		}).(pulumi.StringOutput),
	})
	if err != nil {
		return nil, fmt.Errorf("queue %s redrive allow: %w", t.Name, err)
	}
	return &Queue{Queue: q, DeadLetter: dlq}, nil
}

func newAWSSecret(ctx *pulumi.Context, cfg Config, env string, tags pulumi.StringMap) (*AWSSecret, error) {
	slug := catalog.EnvSlug(env)
	secret, err := awsres.NewSecret(ctx, slug, &awsres.SecretArgs{
		Name:                 pulumi.String(cfg.Prefix + "/" + slug),
		Description:          pulumi.String("playplane " + env),
		RecoveryWindowInDays: pulumi.Int(7),
		Tags:                 tags,
	})
	if err != nil {
		return nil, fmt.Errorf("secret %s: %w", env, err)
	}
	version, err := awsres.NewSecretVersion(ctx, slug, &awsres.SecretVersionArgs{
		SecretId:     secret.ID(),
		SecretString: cfg.Secrets[env],
	})
	if err != nil {
		return nil, fmt.Errorf("secret %s version: %w", env, err)
	}
	return &AWSSecret{Secret: secret, Version: version}, nil
}

// CachingOptimized is the AWS managed cache policy for static objects.
const cachingOptimizedPolicyID = "658327ea-f89d-4fab-a63d-7e88639e58f6"

func newCloudFront(ctx *pulumi.Context, cfg Config, tags pulumi.StringMap) (*CloudFront, error) {
	c := &CloudFront{}
	var err error
	c.Bucket, err = awsres.NewBucketV2(ctx, "video", &awsres.BucketV2Args{
		BucketPrefix: pulumi.String(cfg.Prefix + "-video-"),
		Tags:         tags,
	})
	if err != nil {
		return nil, fmt.Errorf("video bucket: %w", err)
	}
	if _, err = awsres.NewBucketPublicAccessBlock(ctx, "video", &awsres.BucketPublicAccessBlockArgs{
		Bucket:                c.Bucket.ID(),
		BlockPublicAcls:       pulumi.Bool(true),
		BlockPublicPolicy:     pulumi.Bool(true),
		IgnorePublicAcls:      pulumi.Bool(true),
		RestrictPublicBuckets: pulumi.Bool(true),
	}); err != nil {
		return nil, fmt.Errorf("video bucket public access block: %w", err)
	}
	if _, err = awsres.NewBucketOwnershipControls(ctx, "video", &awsres.BucketOwnershipControlsArgs{
		Bucket: c.Bucket.ID(),
		Rule:   &awsres.BucketOwnershipControlsRuleArgs{ObjectOwnership: pulumi.String("BucketOwnerEnforced")},
	}); err != nil {
		return nil, fmt.Errorf("video bucket ownership: %w", err)
	}
	if _, err = awsres.NewBucketServerSideEncryptionConfigurationV2(ctx, "video", &awsres.BucketServerSideEncryptionConfigurationV2Args{
		Bucket: c.Bucket.ID(),
		Rules: []awsres.BucketServerSideEncryptionConfigurationV2RuleArgs{{
			ApplyServerSideEncryptionByDefault: &awsres.BucketServerSideEncryptionConfigurationV2RuleApplyServerSideEncryptionByDefaultArgs{
				SseAlgorithm: pulumi.String("AES256"),
			},
		}},
	}); err != nil {
		return nil, fmt.Errorf("video bucket encryption: %w", err)
	}
	c.OAC, err = awsres.NewOriginAccessControl(ctx, "video", &awsres.OriginAccessControlArgs{
		Name:                          pulumi.String(cfg.Prefix + "-video"),
		OriginAccessControlOriginType: pulumi.String("s3"),
		SigningBehavior:               pulumi.String("always"),
		SigningProtocol:               pulumi.String("sigv4"),
	})
	if err != nil {
		return nil, fmt.Errorf("origin access control: %w", err)
	}
	c.PublicKey, err = awsres.NewPublicKey(ctx, "url-signing", &awsres.PublicKeyArgs{
		Name:       pulumi.String(cfg.Prefix + "-url-signing"),
		EncodedKey: pulumi.String(cfg.CloudFrontPublicKeyPEM),
		Comment:    pulumi.String("Verifies playplane signed URLs (private half in Secrets Manager)"),
	})
	if err != nil {
		return nil, fmt.Errorf("public key: %w", err)
	}
	c.KeyGroup, err = awsres.NewKeyGroup(ctx, "url-signing", &awsres.KeyGroupArgs{
		Name:  pulumi.String(cfg.Prefix + "-url-signing"),
		Items: pulumi.StringArray{c.PublicKey.ID()},
	})
	if err != nil {
		return nil, fmt.Errorf("key group: %w", err)
	}
	const originID = "video"
	behavior := &awsres.DistributionDefaultCacheBehaviorArgs{
		TargetOriginId:       pulumi.String(originID),
		ViewerProtocolPolicy: pulumi.String("https-only"),
		AllowedMethods:       pulumi.ToStringArray([]string{"GET", "HEAD", "OPTIONS"}),
		CachedMethods:        pulumi.ToStringArray([]string{"GET", "HEAD"}),
		CachePolicyId:        pulumi.String(cachingOptimizedPolicyID),
		Compress:             pulumi.Bool(true),
		// Every object needs a URL signed by a key of this group.
		TrustedKeyGroups: pulumi.StringArray{c.KeyGroup.ID()},
	}
	if len(cfg.CORSAllowedOrigins) > 0 {
		// The player pages' origins differ from the distribution's, and
		// hls.js and dash.js fetch segments with XMLHttpRequest (with
		// credentials under a cookie grant): the browser hands a page
		// nothing without these headers.
		if c.CORS, err = newVideoCORS(ctx, cfg); err != nil {
			return nil, err
		}
		behavior.ResponseHeadersPolicyId = c.CORS.ID().ToStringOutput()
		if err = c.newPreflights(ctx, cfg); err != nil {
			return nil, err
		}
		behavior.CachePolicyId = c.PreflightCache.ID().ToStringOutput()
		behavior.CachedMethods = pulumi.ToStringArray([]string{"GET", "HEAD", "OPTIONS"})
	}
	// Dual-stack, unless grants carry the viewer's address: AWS says not
	// to enable IPv6 under custom policies with IpAddress
	// (DistributionConfig IsIPV6Enabled).
	ipv6 := !cfg.BindsGrantsToIP()
	c.Distribution, err = awsres.NewDistribution(ctx, "video", &awsres.DistributionArgs{
		Enabled:       pulumi.Bool(true),
		Comment:       pulumi.String(cfg.Prefix + " video"),
		IsIpv6Enabled: pulumi.Bool(ipv6),
		HttpVersion:   pulumi.String("http2and3"),
		PriceClass:    pulumi.String(cfg.CloudFrontPriceClass),
		Origins: []awsres.DistributionOriginArgs{{
			OriginId:              pulumi.String(originID),
			DomainName:            c.Bucket.BucketRegionalDomainName,
			OriginAccessControlId: c.OAC.ID(),
		}},
		DefaultCacheBehavior: behavior,
		Restrictions: &awsres.DistributionRestrictionsArgs{
			GeoRestriction: &awsres.DistributionRestrictionsGeoRestrictionArgs{RestrictionType: pulumi.String("none")},
		},
		ViewerCertificate: &awsres.DistributionViewerCertificateArgs{CloudfrontDefaultCertificate: pulumi.Bool(true)},
		Tags:              tags,
	})
	if err != nil {
		return nil, fmt.Errorf("distribution: %w", err)
	}
	c.BucketPolicy, err = awsres.NewBucketPolicy(ctx, "video", &awsres.BucketPolicyArgs{
		Bucket: c.Bucket.ID(),
		Policy: pulumi.All(c.Bucket.Arn, c.Distribution.Arn).ApplyT(func(v []any) (string, error) {
			return cloudFrontReadPolicy(v[0].(string), v[1].(string))
		}).(pulumi.StringOutput),
	})
	if err != nil {
		return nil, fmt.Errorf("video bucket policy: %w", err)
	}
	return c, nil
}

// newVideoCORS is the distribution's CORS policy: the one the local edge
// applies (shared/localedge), for the configured origins. Cookie grants
// need credentials, which browsers refuse beside a "*" origin.
func newVideoCORS(ctx *pulumi.Context, cfg Config) (*awsres.ResponseHeadersPolicy, error) {
	p, err := awsres.NewResponseHeadersPolicy(ctx, "video-cors", &awsres.ResponseHeadersPolicyArgs{
		Name:    pulumi.String(cfg.Prefix + "-video-cors"),
		Comment: pulumi.String("Lets playplane player pages read video"),
		CorsConfig: &awsres.ResponseHeadersPolicyCorsConfigArgs{
			AccessControlAllowCredentials: pulumi.Bool(!slices.Contains(cfg.CORSAllowedOrigins, "*")),
			AccessControlAllowOrigins: &awsres.ResponseHeadersPolicyCorsConfigAccessControlAllowOriginsArgs{
				Items: pulumi.ToStringArray(cfg.CORSAllowedOrigins),
			},
			AccessControlAllowMethods: &awsres.ResponseHeadersPolicyCorsConfigAccessControlAllowMethodsArgs{
				Items: pulumi.ToStringArray(localedge.CORSAllowMethods),
			},
			AccessControlAllowHeaders: &awsres.ResponseHeadersPolicyCorsConfigAccessControlAllowHeadersArgs{
				Items: pulumi.ToStringArray(localedge.CORSAllowHeaders),
			},
			AccessControlExposeHeaders: &awsres.ResponseHeadersPolicyCorsConfigAccessControlExposeHeadersArgs{
				Items: pulumi.ToStringArray(localedge.CORSExposeHeaders),
			},
			AccessControlMaxAgeSec: pulumi.Int(localedge.CORSMaxAge),
			// These replace S3's (bucket CORS, newPreflights): one policy
			// says what a page may read, with or without credentials.
			OriginOverride: pulumi.Bool(true),
		},
	})
	if err != nil {
		return nil, fmt.Errorf("video cors policy: %w", err)
	}
	return p, nil
}

// newPreflights lets the browsers' preflights through. CMCD header mode and
// non-simple Ranges make a browser preflight every segment (OPTIONS with
// Origin, Access-Control-Request-Method and -Headers). The response
// headers policy only adds headers to an answer, which comes from the
// cache or from S3; S3 answers a preflight from the bucket's CORS
// configuration (403 without one) and needs Origin, which CloudFront drops
// unless a policy forwards it. So the bucket gets the local edge's CORS
// (as Cloud Storage does, gcp.go), and the distribution a cache policy
// that keys on the three headers and thereby forwards them: AWS asks for
// them in the cache key when OPTIONS answers are cached (CachedMethods in
// the CloudFront API reference), or a refused preflight would be served to
// the next page. Caching them spares each segment a trip to S3 first. The
// rest is CachingOptimized's: no query string (the signing parameters) and
// no cookie in the key, gzip and Brotli, its TTLs.
//
// A restricted behavior needs a signed URL or cookies on every request
// (TrustedKeyGroups in the API reference): a preflight of a query-signed
// URL carries the query and passes, one under a cookie grant carries no
// cookie and gets 403 (pulumi/README.md).
func (c *CloudFront) newPreflights(ctx *pulumi.Context, cfg Config) error {
	var err error
	c.BucketCORS, err = awsres.NewBucketCorsConfigurationV2(ctx, "video", &awsres.BucketCorsConfigurationV2Args{
		Bucket: c.Bucket.ID(),
		CorsRules: []awsres.BucketCorsConfigurationV2CorsRuleArgs{{
			AllowedOrigins: pulumi.ToStringArray(cfg.CORSAllowedOrigins),
			AllowedMethods: pulumi.ToStringArray(storageCORSMethods()),
			AllowedHeaders: pulumi.ToStringArray(localedge.CORSAllowHeaders),
			ExposeHeaders:  pulumi.ToStringArray(localedge.CORSExposeHeaders),
			MaxAgeSeconds:  pulumi.Int(localedge.CORSMaxAge),
		}},
	})
	if err != nil {
		return fmt.Errorf("video bucket cors: %w", err)
	}
	c.PreflightCache, err = awsres.NewCachePolicy(ctx, "video-cors", &awsres.CachePolicyArgs{
		Name:       pulumi.String(cfg.Prefix + "-video-cors"),
		Comment:    pulumi.String("CachingOptimized, keyed on the CORS request headers"),
		MinTtl:     pulumi.Int(1),
		DefaultTtl: pulumi.Int(86400),
		MaxTtl:     pulumi.Int(31536000),
		ParametersInCacheKeyAndForwardedToOrigin: &awsres.CachePolicyParametersInCacheKeyAndForwardedToOriginArgs{
			CookiesConfig: &awsres.CachePolicyParametersInCacheKeyAndForwardedToOriginCookiesConfigArgs{
				CookieBehavior: pulumi.String("none"),
			},
			QueryStringsConfig: &awsres.CachePolicyParametersInCacheKeyAndForwardedToOriginQueryStringsConfigArgs{
				QueryStringBehavior: pulumi.String("none"),
			},
			HeadersConfig: &awsres.CachePolicyParametersInCacheKeyAndForwardedToOriginHeadersConfigArgs{
				HeaderBehavior: pulumi.String("whitelist"),
				Headers: &awsres.CachePolicyParametersInCacheKeyAndForwardedToOriginHeadersConfigHeadersArgs{
					Items: pulumi.ToStringArray([]string{"Origin", "Access-Control-Request-Method", "Access-Control-Request-Headers"}),
				},
			},
			EnableAcceptEncodingGzip:   pulumi.Bool(true),
			EnableAcceptEncodingBrotli: pulumi.Bool(true),
		},
	})
	if err != nil {
		return fmt.Errorf("video cors cache policy: %w", err)
	}
	return nil
}

// cloudFrontReadPolicy lets only this distribution (through its origin
// access control) read the bucket's objects. Object keys are not known in
// advance, so the resource is the bucket's object space.
func cloudFrontReadPolicy(bucketArn, distributionArn string) (string, error) {
	doc := map[string]any{
		"Version": "2012-10-17",
		"Statement": []map[string]any{{
			"Sid":       "CloudFrontReadsVideo",
			"Effect":    "Allow",
			"Principal": map[string]string{"Service": "cloudfront.amazonaws.com"},
			"Action":    []string{"s3:GetObject"},
			"Resource":  []string{bucketArn + "/*"},
			"Condition": map[string]any{"StringEquals": map[string]string{"AWS:SourceArn": distributionArn}},
		}},
	}
	b, err := json.Marshal(doc)
	return string(b), err
}

func (a *AWSResources) newAPI(ctx *pulumi.Context, cfg Config, routes []catalog.Route) error {
	var err error
	api := &awsres.ApiArgs{
		Name:         pulumi.String(cfg.Prefix),
		ProtocolType: pulumi.String("HTTP"),
		Tags:         a.tags,
	}
	if len(cfg.CORSAllowedOrigins) > 0 {
		// API Gateway answers preflights (before the JWT authorizer) and
		// sets the headers on every answer, replacing the function's.
		api.CorsConfiguration = &awsres.ApiCorsConfigurationArgs{
			AllowOrigins:     pulumi.ToStringArray(cfg.CORSAllowedOrigins),
			AllowMethods:     pulumi.ToStringArray(catalog.CORSAllowMethods),
			AllowHeaders:     pulumi.ToStringArray(catalog.CORSAllowHeaders),
			ExposeHeaders:    pulumi.ToStringArray(catalog.CORSExposeHeaders),
			MaxAge:           pulumi.Int(catalog.CORSMaxAge),
			AllowCredentials: pulumi.Bool(false),
		}
	}
	a.API, err = awsres.NewApi(ctx, "api", api)
	if err != nil {
		return fmt.Errorf("http api: %w", err)
	}
	a.Stage, err = awsres.NewStage(ctx, "api", &awsres.StageArgs{
		ApiId:      a.API.ID(),
		Name:       pulumi.String("$default"),
		AutoDeploy: pulumi.Bool(true),
		DefaultRouteSettings: &awsres.StageDefaultRouteSettingsArgs{
			ThrottlingBurstLimit: pulumi.Int(500),
			ThrottlingRateLimit:  pulumi.Float64(1000),
		},
		Tags: a.tags,
	})
	if err != nil {
		return fmt.Errorf("http api stage: %w", err)
	}
	for _, r := range routes {
		if !r.Auth.VerifiedAsJWT() {
			continue
		}
		a.Authorizer, err = awsres.NewAuthorizer(ctx, "jwt", &awsres.AuthorizerArgs{
			ApiId:           a.API.ID(),
			Name:            pulumi.String("jwt"),
			AuthorizerType:  pulumi.String("JWT"),
			IdentitySources: pulumi.StringArray{pulumi.String("$request.header.Authorization")},
			JwtConfiguration: &awsres.AuthorizerJwtConfigurationArgs{
				Issuer:    pulumi.String(cfg.JWTIssuer),
				Audiences: pulumi.StringArray{pulumi.String(cfg.JWTAudience)},
			},
		})
		if err != nil {
			return fmt.Errorf("jwt authorizer: %w", err)
		}
		break
	}
	return nil
}

func withTag(tags pulumi.StringMap, key, value string) pulumi.StringMap {
	out := pulumi.StringMap{key: pulumi.String(value)}
	for k, v := range tags {
		out[k] = v
	}
	return out
}
