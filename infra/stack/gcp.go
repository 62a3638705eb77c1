package stack

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"sort"
	"strings"

	"github.com/playplane/playplane/infra/gcpres"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/playplane/playplane/functions/catalog"
	"github.com/playplane/playplane/infra/gcpfn"
	"github.com/playplane/playplane/shared/localedge"
)

// GCPResources are the stack's resources on GCP.
type GCPResources struct {
	ProjectNumber pulumi.StringOutput
	Database      *gcpres.Database
	TTLFields     []*gcpres.Field
	Topics        map[string]*Topic     // by topic
	Secrets       map[string]*GCPSecret // by catalogue Env
	SourceBucket  *gcpres.Bucket
	CDN           *CloudCDN
	LB            *LoadBalancer
	Federation    *Federation // hybrid only: AWS functions using Firestore and Pub/Sub
	Functions     map[string]*gcpfn.Function
	Warehouse     *GCPWarehouse // QoE; nil unless the heartbeats ride Pub/Sub
	Alerts        *GCPAlerts

	labels            pulumi.StringMap
	needsLoadBalancer bool
}

// Topic is a Pub/Sub topic, its dead-letter topic and the subscription
// that keeps dead letters until someone looks at them.
type Topic struct {
	Name         string
	Topic        *gcpres.Topic
	DeadLetter   *gcpres.Topic
	DeadLetters  *gcpres.Subscription
	ResourceName pulumi.StringOutput // projects/P/topics/T
	deadLetterID pulumi.StringOutput
}

func (t *Topic) asArg() gcpfn.Topic {
	return gcpfn.Topic{Name: t.Name, ID: t.ResourceName, DeadLetter: t.deadLetterID}
}

// GCPSecret is a Secret Manager secret and its current version.
type GCPSecret struct {
	Secret  *gcpres.Secret
	Version *gcpres.SecretVersion
}

// CloudCDN is the video delivery on GCP: a private bucket behind a CDN
// backend bucket whose key signs the URLs.
type CloudCDN struct {
	Bucket        *gcpres.Bucket
	BackendBucket *gcpres.BackendBucket
	Key           *gcpres.BackendBucketSignedUrlKey
}

// LoadBalancer is the global HTTPS load balancer in front of the functions
// (and of the CDN bucket in the gcp stack).
type LoadBalancer struct {
	Address     *gcpres.GlobalAddress
	Certificate *gcpres.ManagedSslCertificate
	URLMap      *gcpres.URLMap
	HTTPSProxy  *gcpres.TargetHttpsProxy
	HTTPS       *gcpres.GlobalForwardingRule
	Redirect    *gcpres.URLMap
	HTTPProxy   *gcpres.TargetHttpProxy
	HTTP        *gcpres.GlobalForwardingRule
}

func newGCPShared(ctx *pulumi.Context, cfg Config) (*GCPResources, error) {
	g := &GCPResources{
		Topics:    map[string]*Topic{},
		Secrets:   map[string]*GCPSecret{},
		Functions: map[string]*gcpfn.Function{},
		labels:    pulumi.StringMap{"app": pulumi.String("playplane"), "stack": pulumi.String(cfg.Stack)},
	}
	project, err := gcpres.LookupProject(ctx, &gcpres.LookupProjectArgs{ProjectId: pulumi.StringRef(cfg.GCPProject)})
	if err != nil {
		return nil, fmt.Errorf("project %s: %w", cfg.GCPProject, err)
	}
	g.ProjectNumber = pulumi.String(project.Number).ToStringOutput()
	l := cfg.Layout

	if l.Store == catalog.StoreFirestore {
		if err := g.newFirestore(ctx, cfg); err != nil {
			return nil, err
		}
	}
	if l.Bus == catalog.BusPubSub {
		for _, t := range catalog.Topics {
			if g.Topics[t.Name], err = g.newTopic(ctx, cfg, t); err != nil {
				return nil, err
			}
		}
	}
	for _, env := range cfg.SecretsOn(GCP) {
		if g.Secrets[env], err = g.newSecret(ctx, cfg, env); err != nil {
			return nil, err
		}
	}
	if l.Compute == GCP {
		g.SourceBucket, err = gcpres.NewBucket(ctx, "function-source", &gcpres.BucketArgs{
			Project:                  pulumi.String(cfg.GCPProject),
			Location:                 pulumi.String(cfg.GCPRegion),
			UniformBucketLevelAccess: pulumi.Bool(true),
			PublicAccessPrevention:   pulumi.String("enforced"),
			Labels:                   g.labels,
		})
		if err != nil {
			return nil, fmt.Errorf("function source bucket: %w", err)
		}
	}
	if l.Delivery == catalog.DeliveryCloudCDN {
		if err := g.newCloudCDN(ctx, cfg); err != nil {
			return nil, err
		}
		g.needsLoadBalancer = true
	}
	if len(l.HTTPOnAWS) > 0 && l.Store == catalog.StoreFirestore {
		if g.Federation, err = newFederation(ctx, cfg, g.ProjectNumber); err != nil {
			return nil, err
		}
	}
	return g, nil
}

func (g *GCPResources) newFirestore(ctx *pulumi.Context, cfg Config) error {
	// Protected, Firestore refuses to delete the database and `pulumi
	// destroy` only forgets it (ABANDON); a dev stack deletes it.
	state, policy := "DELETE_PROTECTION_DISABLED", "DELETE"
	if cfg.DeletionProtection {
		state, policy = "DELETE_PROTECTION_ENABLED", "ABANDON"
	}
	var err error
	g.Database, err = gcpres.NewDatabase(ctx, "store", &gcpres.DatabaseArgs{
		Project:                       pulumi.String(cfg.GCPProject),
		Name:                          pulumi.String("(default)"),
		LocationId:                    pulumi.String(cfg.FirestoreLocation),
		Type:                          pulumi.String("FIRESTORE_NATIVE"),
		ConcurrencyMode:               pulumi.String("OPTIMISTIC"),
		PointInTimeRecoveryEnablement: pulumi.String("POINT_IN_TIME_RECOVERY_ENABLED"),
		DeleteProtectionState:         pulumi.String(state),
		DeletionPolicy:                pulumi.String(policy),
	})
	if err != nil {
		return fmt.Errorf("firestore database: %w", err)
	}
	for _, ttl := range catalog.FirestoreTTL {
		field, err := gcpres.NewField(ctx, "ttl-"+ttl.CollectionGroup, &gcpres.FieldArgs{
			Project:    pulumi.String(cfg.GCPProject),
			Database:   g.Database.Name,
			Collection: pulumi.String(ttl.CollectionGroup),
			Field:      pulumi.String(ttl.Field),
			TtlConfig:  &gcpres.FieldTtlConfigArgs{},
		})
		if err != nil {
			return fmt.Errorf("firestore ttl %s.%s: %w", ttl.CollectionGroup, ttl.Field, err)
		}
		g.TTLFields = append(g.TTLFields, field)
	}
	return nil
}

func (g *GCPResources) newTopic(ctx *pulumi.Context, cfg Config, t catalog.Topic) (*Topic, error) {
	name := cfg.Prefix + "-" + t.Name
	deadLetterName := catalog.DeadLetterName(name)
	topic, err := gcpres.NewTopic(ctx, t.Name, &gcpres.TopicArgs{
		Project: pulumi.String(cfg.GCPProject),
		Name:    pulumi.String(name),
		Labels:  withTag(g.labels, "role", "topic"),
	})
	if err != nil {
		return nil, fmt.Errorf("topic %s: %w", t.Name, err)
	}
	dlq, err := gcpres.NewTopic(ctx, t.Name+"-dlq", &gcpres.TopicArgs{
		Project: pulumi.String(cfg.GCPProject),
		Name:    pulumi.String(deadLetterName),
		Labels:  withTag(g.labels, "role", "dead-letter"),
	})
	if err != nil {
		return nil, fmt.Errorf("topic %s dlq: %w", t.Name, err)
	}
	deadLetterID := pulumi.Sprintf("projects/%s/topics/%s", cfg.GCPProject, dlq.Name)
	// A topic without subscriptions drops what is published to it. The
	// keeper is named as its topic: the name shared/pubsub's Redrive and
	// dead-letter Subscribe ask for.
	keeper, err := gcpres.NewSubscription(ctx, t.Name+"-dlq", &gcpres.SubscriptionArgs{
		Project:                  pulumi.String(cfg.GCPProject),
		Name:                     pulumi.String(deadLetterName),
		Topic:                    deadLetterID,
		MessageRetentionDuration: pulumi.String("604800s"),
		AckDeadlineSeconds:       pulumi.Int(60),
		ExpirationPolicy:         &gcpres.SubscriptionExpirationPolicyArgs{Ttl: pulumi.String("")},
		Labels:                   withTag(g.labels, "role", "dead-letter"),
	})
	if err != nil {
		return nil, fmt.Errorf("topic %s dlq subscription: %w", t.Name, err)
	}
	// The Pub/Sub service agent forwards undeliverable messages here.
	_, err = gcpres.NewTopicIAMMember(ctx, t.Name+"-dlq-forward", &gcpres.TopicIAMMemberArgs{
		Project: pulumi.String(cfg.GCPProject),
		Topic:   deadLetterID,
		Role:    pulumi.String("roles/pubsub.publisher"),
		Member:  pulumi.Sprintf("serviceAccount:service-%s@gcp-sa-pubsub.iam.gserviceaccount.com", g.ProjectNumber),
	})
	if err != nil {
		return nil, fmt.Errorf("topic %s dlq publisher: %w", t.Name, err)
	}
	return &Topic{
		Name: t.Name, Topic: topic, DeadLetter: dlq, DeadLetters: keeper,
		ResourceName: pulumi.Sprintf("projects/%s/topics/%s", cfg.GCPProject, topic.Name),
		deadLetterID: deadLetterID,
	}, nil
}

func (g *GCPResources) newSecret(ctx *pulumi.Context, cfg Config, env string) (*GCPSecret, error) {
	slug := catalog.EnvSlug(env)
	secret, err := gcpres.NewSecret(ctx, slug, &gcpres.SecretArgs{
		Project:     pulumi.String(cfg.GCPProject),
		SecretId:    pulumi.String(cfg.Prefix + "-" + slug),
		Replication: &gcpres.SecretReplicationArgs{Auto: &gcpres.SecretReplicationAutoArgs{}},
		Labels:      g.labels,
	})
	if err != nil {
		return nil, fmt.Errorf("secret %s: %w", env, err)
	}
	version, err := gcpres.NewSecretVersion(ctx, slug, &gcpres.SecretVersionArgs{
		Secret:     secret.ID(),
		SecretData: cfg.Secrets[env],
	})
	if err != nil {
		return nil, fmt.Errorf("secret %s version: %w", env, err)
	}
	return &GCPSecret{Secret: secret, Version: version}, nil
}

func (g *GCPResources) newCloudCDN(ctx *pulumi.Context, cfg Config) error {
	c := &CloudCDN{}
	var err error
	c.Bucket, err = gcpres.NewBucket(ctx, "video", &gcpres.BucketArgs{
		Project:                  pulumi.String(cfg.GCPProject),
		Location:                 pulumi.String(cfg.GCPRegion),
		UniformBucketLevelAccess: pulumi.Bool(true),
		PublicAccessPrevention:   pulumi.String("enforced"),
		Labels:                   g.labels,
		Cors:                     videoBucketCORS(cfg),
	})
	if err != nil {
		return fmt.Errorf("video bucket: %w", err)
	}
	c.BackendBucket, err = gcpres.NewBackendBucket(ctx, "video", &gcpres.BackendBucketArgs{
		Project:    pulumi.String(cfg.GCPProject),
		Name:       pulumi.String(cfg.Prefix + "-video"),
		BucketName: c.Bucket.Name,
		EnableCdn:  pulumi.Bool(true),
		CdnPolicy: &gcpres.BackendBucketCdnPolicyArgs{
			CacheMode:               pulumi.String("CACHE_ALL_STATIC"),
			SignedUrlCacheMaxAgeSec: pulumi.Int(3600),
		},
	})
	if err != nil {
		return fmt.Errorf("backend bucket: %w", err)
	}
	c.Key, err = gcpres.NewBackendBucketSignedUrlKey(ctx, "url-signing", &gcpres.BackendBucketSignedUrlKeyArgs{
		Project:       pulumi.String(cfg.GCPProject),
		Name:          pulumi.String(cfg.Prefix + "-url-signing"),
		BackendBucket: c.BackendBucket.Name,
		KeyValue:      cfg.Secrets[catalog.SecretCloudCDNSigningKey],
	})
	if err != nil {
		return fmt.Errorf("signed url key: %w", err)
	}
	// With a signed URL key the CDN fetches from the private bucket as its
	// fill service agent, which exists once the key does.
	_, err = gcpres.NewBucketIAMMember(ctx, "video-cdn-fill", &gcpres.BucketIAMMemberArgs{
		Bucket: c.Bucket.Name,
		Role:   pulumi.String("roles/storage.objectViewer"),
		Member: pulumi.Sprintf("serviceAccount:service-%s@cloud-cdn-fill.iam.gserviceaccount.com", g.ProjectNumber),
	}, pulumi.DependsOn([]pulumi.Resource{c.Key}))
	if err != nil {
		return fmt.Errorf("video bucket cdn reader: %w", err)
	}
	g.CDN = c
	return nil
}

// videoBucketCORS is the video bucket's CORS configuration for the
// configured origins (none without them): the local edge's
// (shared/localedge), as CloudFront's policy. The player pages' origins
// differ from the load balancer's and hls.js and dash.js fetch segments
// with XMLHttpRequest/fetch; Cloud CDN adds no CORS headers, it passes on
// those Cloud Storage answers from this (with Vary: Origin, which does not
// keep Cloud CDN from caching the response).
// Cloud Storage answers preflights itself for the methods listed, so
// OPTIONS is not one, and its one header list both answers a preflight's
// Access-Control-Request-Headers and exposes response headers. It sends no
// Access-Control-Allow-Credentials, so cookie grants cannot cross origins
// here (pulumi/README.md).
func videoBucketCORS(cfg Config) []gcpres.BucketCorArgs {
	if len(cfg.CORSAllowedOrigins) == 0 {
		return nil
	}
	return []gcpres.BucketCorArgs{{
		Origins:         pulumi.ToStringArray(cfg.CORSAllowedOrigins),
		Methods:         pulumi.ToStringArray(storageCORSMethods()),
		ResponseHeaders: pulumi.ToStringArray(slices.Concat(localedge.CORSAllowHeaders, localedge.CORSExposeHeaders)),
		MaxAgeSeconds:   pulumi.Int(localedge.CORSMaxAge),
	}}
}

// storageCORSMethods are the local edge's CORS methods for a bucket's CORS
// configuration: Cloud Storage and S3 answer preflights themselves for the
// methods listed, and take no OPTIONS there.
func storageCORSMethods() []string {
	return slices.DeleteFunc(slices.Clone(localedge.CORSAllowMethods), func(m string) bool { return m == http.MethodOptions })
}

// PathTemplate turns an API Gateway style path into a URL map
// pathTemplateMatch: {name} becomes {name=*}.
func PathTemplate(path string) string {
	parts := strings.Split(path, "/")
	for i, p := range parts {
		if strings.HasPrefix(p, "{") && strings.HasSuffix(p, "}") {
			parts[i] = strings.TrimSuffix(p, "}") + "=*}"
		}
	}
	return strings.Join(parts, "/")
}

func (g *GCPResources) newLoadBalancer(ctx *pulumi.Context, cfg Config) error {
	lb := &LoadBalancer{}
	var err error
	lb.Address, err = gcpres.NewGlobalAddress(ctx, "lb", &gcpres.GlobalAddressArgs{
		Project: pulumi.String(cfg.GCPProject),
		Name:    pulumi.String(cfg.Prefix + "-lb"),
	})
	if err != nil {
		return fmt.Errorf("lb address: %w", err)
	}
	lb.Certificate, err = gcpres.NewManagedSslCertificate(ctx, "lb", &gcpres.ManagedSslCertificateArgs{
		Project: pulumi.String(cfg.GCPProject),
		Name:    pulumi.String(cfg.Prefix + "-lb"),
		Managed: &gcpres.ManagedSslCertificateManagedArgs{Domains: pulumi.StringArray{pulumi.String(cfg.Domain)}},
	})
	if err != nil {
		return fmt.Errorf("lb certificate: %w", err)
	}

	// One route rule per distinct path; the method is the function's business.
	type rule struct {
		path    string
		backend pulumi.StringInput
	}
	var rules []rule
	seen := map[string]bool{}
	var firstBackend pulumi.StringInput
	for _, fn := range catalog.Functions {
		f := g.Functions[fn.Name]
		if f == nil || f.Backend == nil {
			continue
		}
		if firstBackend == nil {
			firstBackend = f.Backend.ID()
		}
		for _, r := range fn.Routes {
			if seen[r.Path] {
				continue
			}
			seen[r.Path] = true
			rules = append(rules, rule{path: r.Path, backend: f.Backend.ID()})
		}
	}
	sort.Slice(rules, func(i, j int) bool { return rules[i].path < rules[j].path })
	var routeRules []gcpres.URLMapPathMatcherRouteRuleArgs
	for i, r := range rules {
		routeRules = append(routeRules, gcpres.URLMapPathMatcherRouteRuleArgs{
			Priority:   pulumi.Int(i + 1),
			MatchRules: []gcpres.URLMapPathMatcherRouteRuleMatchRuleArgs{{PathTemplateMatch: pulumi.String(PathTemplate(r.path))}},
			Service:    r.backend,
		})
	}
	// Everything that is not an API route is video when the CDN lives here.
	defaultService := firstBackend
	if g.CDN != nil {
		defaultService = g.CDN.BackendBucket.ID()
	}
	if defaultService == nil {
		return fmt.Errorf("load balancer has nothing to serve")
	}
	lb.URLMap, err = gcpres.NewURLMap(ctx, "lb", &gcpres.URLMapArgs{
		Project:        pulumi.String(cfg.GCPProject),
		Name:           pulumi.String(cfg.Prefix + "-lb"),
		DefaultService: defaultService,
		HostRules: []gcpres.URLMapHostRuleArgs{{
			Hosts: pulumi.StringArray{pulumi.String(cfg.Domain)}, PathMatcher: pulumi.String("playplane"),
		}},
		PathMatchers: []gcpres.URLMapPathMatcherArgs{{
			Name:           pulumi.String("playplane"),
			DefaultService: defaultService,
			RouteRules:     routeRules,
		}},
	})
	if err != nil {
		return fmt.Errorf("lb url map: %w", err)
	}
	lb.HTTPSProxy, err = gcpres.NewTargetHttpsProxy(ctx, "lb", &gcpres.TargetHttpsProxyArgs{
		Project:         pulumi.String(cfg.GCPProject),
		Name:            pulumi.String(cfg.Prefix + "-lb"),
		UrlMap:          lb.URLMap.ID(),
		SslCertificates: pulumi.StringArray{lb.Certificate.ID()},
	})
	if err != nil {
		return fmt.Errorf("lb https proxy: %w", err)
	}
	lb.HTTPS, err = gcpres.NewGlobalForwardingRule(ctx, "lb-https", &gcpres.GlobalForwardingRuleArgs{
		Project:             pulumi.String(cfg.GCPProject),
		Name:                pulumi.String(cfg.Prefix + "-https"),
		IpAddress:           lb.Address.Address,
		IpProtocol:          pulumi.String("TCP"),
		PortRange:           pulumi.String("443"),
		LoadBalancingScheme: pulumi.String("EXTERNAL_MANAGED"),
		Target:              lb.HTTPSProxy.ID(),
	})
	if err != nil {
		return fmt.Errorf("lb https rule: %w", err)
	}
	lb.Redirect, err = gcpres.NewURLMap(ctx, "lb-redirect", &gcpres.URLMapArgs{
		Project: pulumi.String(cfg.GCPProject),
		Name:    pulumi.String(cfg.Prefix + "-redirect"),
		DefaultUrlRedirect: &gcpres.URLMapDefaultUrlRedirectArgs{
			HttpsRedirect:        pulumi.Bool(true),
			RedirectResponseCode: pulumi.String("MOVED_PERMANENTLY_DEFAULT"),
			StripQuery:           pulumi.Bool(false),
		},
	})
	if err != nil {
		return fmt.Errorf("lb redirect map: %w", err)
	}
	lb.HTTPProxy, err = gcpres.NewTargetHttpProxy(ctx, "lb-redirect", &gcpres.TargetHttpProxyArgs{
		Project: pulumi.String(cfg.GCPProject),
		Name:    pulumi.String(cfg.Prefix + "-redirect"),
		UrlMap:  lb.Redirect.ID(),
	})
	if err != nil {
		return fmt.Errorf("lb http proxy: %w", err)
	}
	lb.HTTP, err = gcpres.NewGlobalForwardingRule(ctx, "lb-http", &gcpres.GlobalForwardingRuleArgs{
		Project:             pulumi.String(cfg.GCPProject),
		Name:                pulumi.String(cfg.Prefix + "-http"),
		IpAddress:           lb.Address.Address,
		IpProtocol:          pulumi.String("TCP"),
		PortRange:           pulumi.String("80"),
		LoadBalancingScheme: pulumi.String("EXTERNAL_MANAGED"),
		Target:              lb.HTTPProxy.ID(),
	})
	if err != nil {
		return fmt.Errorf("lb http rule: %w", err)
	}
	g.LB = lb
	return nil
}

// marshal is json.Marshal for values that cannot fail to encode.
func marshal(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(fmt.Sprintf("stack: encoding %T: %v", v, err))
	}
	return string(b)
}
