package stack

import (
	"encoding/json"
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"

	"github.com/playplane/playplane/events"
	"github.com/playplane/playplane/functions/catalog"
	"github.com/playplane/playplane/infra/pulumimock"
	"github.com/playplane/playplane/shared/telemetry"
)

// settingValues are what the functions get for the settings: the test
// stack's price plans and the catalogue defaults, which are the functions'
// own defaults too.
var settingValues = map[string]string{
	"STRIPE_PRICE_PLANS": testPricePlans,
	"LEASE_TTL":          "2m",
	"PAST_DUE_GRACE":     "72h",
	// Playback tokens carry the lease: a new stack's heartbeats renew in one round trip.
	"PLAYBACK_TOKEN_LEASE": "true",
	// The heartbeat function's sampler: it records one trace in a hundred.
	"OTEL_TRACES_SAMPLER":     "parentbased_traceidratio",
	"OTEL_TRACES_SAMPLER_ARG": "0.01",
	// signurl binds no grant to an address unless asked to
	// (TestSignURLBindIPTurnsCloudFrontIPv6Off).
	"SIGNURL_BIND_IP": "false",
	// The Google client libraries' own telemetry stays as they have it.
	"GCP_CLIENT_TELEMETRY": "true",
}

// wantEnv is the environment a function part must receive: on GCP without
// the secrets, which are Secret Manager bindings (checkCloudFunction); on
// AWS with the ARN of each secret it reads, never a value.
func (d *deployment) wantEnv(t *testing.T, fn catalog.Function, cloud Cloud) map[string]string {
	t.Helper()
	l := d.layout
	want := map[string]string{}
	if fn.VerifiesCallerJWT() {
		want[catalog.EnvJWTIssuer] = testIssuer
		want[catalog.EnvJWTAudience] = "playplane-api"
		want[catalog.EnvJWTJWKSURL] = "https://auth.playplane.test/.well-known/jwks.json"
	}
	switch l.Store {
	case catalog.StoreDynamo:
		want[catalog.EnvDynamoTable] = d.prefix()
	case catalog.StoreFirestore:
		want[catalog.EnvFirestoreProject] = testProject
		want[catalog.EnvFirestoreDatabase] = "(default)"
	}
	var addresses []string
	for _, topic := range fn.TopicsOf() {
		switch l.Bus {
		case catalog.BusSQS:
			q := d.one(t, "aws:sqs/queue:Queue", d.prefix()+"-"+topic.Name)
			addresses = append(addresses, topic.Name+":"+q.Str("url"))
		case catalog.BusPubSub:
			addresses = append(addresses, topic.Name+":projects/"+testProject+"/topics/"+d.prefix()+"-"+topic.Name)
		}
	}
	// A Cloud Function gets its messages pushed: it needs the addresses only to publish.
	if len(addresses) > 0 && (cloud != GCP || len(fn.Publishes) > 0) {
		name := map[string]string{catalog.BusSQS: "SQS_QUEUE_URLS", catalog.BusPubSub: "PUBSUB_TOPICS"}[l.Bus]
		want[name] = strings.Join(addresses, ",")
	}
	for _, s := range fn.Settings {
		if c, _ := catalog.SettingByEnv(s); c.Optional && settingValues[s] == "" {
			continue // the test stack leaves it unset: left out (TestStripeProductsIsOptional)
		}
		want[s] = settingValues[s]
	}
	// Every part that makes Google clients: the Cloud Functions, and the
	// Lambda over Firestore (lambdahybrid).
	if cloud == GCP || l.Store == catalog.StoreFirestore {
		for _, s := range catalog.GCPSettings {
			want[s] = settingValues[s]
		}
	}
	if fn.SignsURLs {
		want["SIGNURL_DEFAULT_CDN"] = l.Delivery
		switch l.Delivery {
		case catalog.DeliveryCloudFront:
			dist := d.mock.OfType("aws:cloudfront/distribution:Distribution")[0]
			key := d.mock.OfType("aws:cloudfront/publicKey:PublicKey")[0]
			want["SIGNURL_CDN_BASES"] = "cloudfront=https://" + dist.Str("domainName")
			want["CLOUDFRONT_ACTIVE_KEY_ID"] = key.ID
			want["CLOUDFRONT_KEYS"] = key.ID + "=env:CLOUDFRONT_PRIVATE_KEY"
		case catalog.DeliveryCloudCDN:
			want["SIGNURL_CDN_BASES"] = "cloudcdn=https://" + testDomain
			want["CLOUDCDN_ACTIVE_KEY_NAME"] = d.prefix() + "-url-signing"
			want["CLOUDCDN_KEYS"] = d.prefix() + "-url-signing=env:CLOUDCDN_SIGNING_KEY"
		}
	}
	// Browsers call every function's routes but the Stripe webhook's and
	// the admin API's (operators' tools); on GCP the function answers them
	// itself.
	if cloud == GCP && d.layout.HTTPCloud(fn) == GCP && fn.Name != "paymentwebhook" && fn.Name != "admin" {
		want[catalog.EnvCORSAllowedOrigins] = testCORSOrigins
	}
	if fn.LocatesCaller && cloud == GCP && d.layout.HTTPCloud(fn) == GCP {
		want[catalog.EnvPickEdgeTrustedHops] = "2"
	}
	if cloud == GCP {
		// Metrics to Cloud Monitoring (TestFunctionsWriteMetricsToCloudMonitoring).
		want[telemetry.EnvMetricsExporter] = telemetry.ExporterGoogleCloud
		want[telemetry.EnvGoogleCloudProject] = testProject
		want[telemetry.EnvResourceAttributes] = "cloud.region=" + testRegion
	}
	if cloud == AWS && d.layout.Bus == catalog.BusSQS && fn.ConsumesFrom(events.TopicHeartbeats) {
		want[catalog.EnvQoEFirehoseStream] = d.prefix() + "-heartbeats"
	}
	if cloud == AWS {
		for _, env := range d.layout.SecretsOf(fn, AWS) {
			want[catalog.SecretARNEnv(env)] = d.one(t, "aws:secretsmanager/secret:Secret", d.prefix()+"/"+slug(env)).Str("arn")
		}
	}
	return want
}

func checkEnv(t *testing.T, what string, got map[string]any, want map[string]string) {
	t.Helper()
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s env %s = %v, want %q", what, k, got[k], v)
		}
	}
	for k := range got {
		if _, ok := want[k]; !ok && k != catalog.EnvGCPCredentialsJSON {
			t.Errorf("%s has unexpected env %s", what, k)
		}
	}
}

// secretPaths lists the input paths of r whose strings are marked secret.
func secretPaths(r pulumimock.Resource) map[string]bool {
	out := map[string]bool{}
	pulumimock.Walk(resource.NewObjectProperty(r.Inputs), func(path, _ string, secret bool) {
		if secret {
			out[path] = true
		}
	})
	return out
}

func TestEveryFunctionRunsWithTheRightRuntimeArchAndEnv(t *testing.T) {
	t.Parallel()
	forEachLayout(t, func(t *testing.T, d *deployment) {
		wantLambdas, wantCloudFunctions := 0, 0
		for _, fn := range catalog.Functions {
			if d.stack.runsOn(fn, AWS) {
				// One Lambda per trigger, as on GCP one Cloud Function.
				if d.layout.HTTPCloud(fn) == AWS {
					wantLambdas++
					d.checkLambda(t, fn, d.prefix()+"-"+fn.Name, catalog.TriggerHTTP, "")
				}
				if d.layout.Compute == AWS {
					for _, c := range fn.Consumes {
						wantLambdas++
						d.checkLambda(t, fn, d.prefix()+"-"+fn.Name+"-"+c.Topic, catalog.TriggerQueue, c.Topic)
					}
					if len(fn.Jobs) > 0 {
						wantLambdas++
						d.checkLambda(t, fn, d.prefix()+"-"+fn.Name+"-jobs", catalog.TriggerJob, "")
					}
				}
			}
			if d.stack.runsOn(fn, GCP) {
				if d.layout.HTTPCloud(fn) == GCP {
					wantCloudFunctions++
					d.checkCloudFunction(t, fn, d.prefix()+"-"+fn.Name, fn.GCPEntryPoint, "ALLOW_INTERNAL_AND_GCLB")
				}
				if d.layout.Compute == GCP {
					for _, c := range fn.Consumes {
						wantCloudFunctions++
						d.checkCloudFunction(t, fn, d.prefix()+"-"+fn.Name+"-"+c.Topic, c.GCPEntryPoint, "ALLOW_INTERNAL_ONLY")
					}
					if len(fn.Jobs) > 0 {
						wantCloudFunctions++
						d.checkCloudFunction(t, fn, d.prefix()+"-"+fn.Name+"-jobs", fn.GCPJobsEntryPoint, "ALLOW_INTERNAL_ONLY")
					}
				}
			}
		}
		if got := len(d.mock.OfType("aws:lambda/function:Function")); got != wantLambdas {
			t.Errorf("%d Lambda functions, want %d", got, wantLambdas)
		}
		if got := len(d.mock.OfType("gcp:cloudfunctionsv2/function:Function")); got != wantCloudFunctions {
			t.Errorf("%d Cloud Functions, want %d", got, wantCloudFunctions)
		}
		// One Function component per function part and cloud.
		components := len(d.mock.OfType("playplane:aws:Function")) + len(d.mock.OfType("playplane:gcp:Function"))
		want := 0
		for _, fn := range catalog.Functions {
			for _, c := range []Cloud{AWS, GCP} {
				if d.stack.runsOn(fn, c) {
					want++
				}
			}
		}
		if components != want {
			t.Errorf("%d Function components, want %d", components, want)
		}
	})
}

func (d *deployment) checkLambda(t *testing.T, fn catalog.Function, name, trigger, topic string) {
	t.Helper()
	r := d.one(t, "aws:lambda/function:Function", name)
	d.checkTrigger(t, r, trigger, topic)
	if got := r.InStr("runtime"); got != "provided.al2023" {
		t.Errorf("%s runtime %q", fn.Name, got)
	}
	if got := stringsOf(r.In("architectures")); !slices.Equal(got, []string{"arm64"}) {
		t.Errorf("%s architectures %v", fn.Name, got)
	}
	if got := r.InStr("handler"); got != "bootstrap" {
		t.Errorf("%s handler %q", fn.Name, got)
	}
	// Over Firestore and Pub/Sub (hybrid) the Lambda is the other main,
	// functions/<name>/lambdahybrid, which Makefile.aws zips under this name.
	wantCode := "../dist/" + fn.Name + ".zip"
	if d.layout.Store == catalog.StoreFirestore {
		wantCode = "../dist/" + fn.Name + "-hybrid.zip"
	}
	if got := r.InStr("code"); got != wantCode {
		t.Errorf("%s code %q, want %s", fn.Name, got, wantCode)
	}
	if r.In("timeout") != float64(fn.TimeoutSeconds) || r.In("memorySize") != float64(fn.MemoryMB) {
		t.Errorf("%s timeout %v memory %v", fn.Name, r.In("timeout"), r.In("memorySize"))
	}
	role := d.one(t, "aws:iam/role:Role", d.prefix()+"-"+fn.Name)
	if r.InStr("role") != role.Str("arn") {
		t.Errorf("%s runs as %q, want its own role %q", fn.Name, r.InStr("role"), role.Str("arn"))
	}
	got := mapOf(r.In("environment", "variables"))
	want := d.wantEnv(t, fn, AWS)
	want[catalog.EnvTrigger] = trigger
	if topic != "" {
		want[catalog.EnvTopic] = topic
	}
	checkEnv(t, name+" (Lambda)", got, want)
	// Secret values stay in Secrets Manager: lambda:GetFunctionConfiguration
	// shows the environment to whoever may read the function's settings.
	for path := range secretPaths(r) {
		t.Errorf("%s input %s holds a secret value", fn.Name, path)
	}
	if d.layout.Store == catalog.StoreFirestore {
		d.checkFederatedCredentials(t, fn, got[catalog.EnvGCPCredentialsJSON])
	} else if _, ok := got[catalog.EnvGCPCredentialsJSON]; ok {
		t.Errorf("%s gets GCP credentials it has no use for", fn.Name)
	}
}

// checkFederatedCredentials: the hybrid webhook reaches Firestore and
// Pub/Sub as a GCP service account of its own through workload identity
// federation, with a config that holds no key.
func (d *deployment) checkFederatedCredentials(t *testing.T, fn catalog.Function, raw any) {
	t.Helper()
	s, _ := raw.(string)
	var creds map[string]any
	if err := json.Unmarshal([]byte(s), &creds); err != nil {
		t.Fatalf("%s %s is not JSON: %v", fn.Name, catalog.EnvGCPCredentialsJSON, err)
	}
	provider := d.mock.OfType("gcp:iam/workloadIdentityPoolProvider:WorkloadIdentityPoolProvider")
	if len(provider) != 1 {
		t.Fatalf("%d workload identity providers, want 1", len(provider))
	}
	if creds["type"] != "external_account" || creds["audience"] != "//iam.googleapis.com/"+provider[0].Str("name") {
		t.Errorf("credentials type %v audience %v", creds["type"], creds["audience"])
	}
	if !strings.Contains(creds["service_account_impersonation_url"].(string), "/"+d.federatedEmail(fn.Name)+":") {
		t.Errorf("credentials impersonate %v, want %s", creds["service_account_impersonation_url"], d.federatedEmail(fn.Name))
	}
	if _, ok := creds["private_key"]; ok {
		t.Error("credentials hold a private key")
	}
	if keys := d.mock.OfType("gcp:serviceaccount/key:Key"); len(keys) > 0 {
		t.Errorf("%d service account keys exist", len(keys))
	}
	// The provider trusts only this stack's Lambda role, and the role may
	// impersonate only the Lambda's own service account.
	role := d.prefix() + "-" + fn.Name
	roleArn := "arn:aws:sts::" + pulumimock.AWSAccountID + ":assumed-role/" + role
	if cond := provider[0].InStr("attributeCondition"); !strings.Contains(cond, "'"+roleArn+"'") {
		t.Errorf("provider condition %q does not name %s", cond, roleArn)
	}
	if got := provider[0].InStr("aws", "accountId"); got != pulumimock.AWSAccountID {
		t.Errorf("provider trusts AWS account %q", got)
	}
	var bound bool
	for _, m := range d.mock.OfType("gcp:serviceaccount/iAMMember:IAMMember") {
		if m.InStr("role") != "roles/iam.workloadIdentityUser" {
			continue
		}
		if !strings.HasSuffix(m.InStr("member"), "/attribute.aws_role/"+roleArn) ||
			m.InStr("serviceAccountId") != "projects/"+testProject+"/serviceAccounts/"+d.federatedEmail(fn.Name) {
			t.Errorf("workload identity user %q on %q", m.InStr("member"), m.InStr("serviceAccountId"))
		}
		bound = true
	}
	if !bound {
		t.Errorf("no workload identity binding for %s", role)
	}
}

func (d *deployment) checkCloudFunction(t *testing.T, fn catalog.Function, name, entryPoint, ingress string) {
	t.Helper()
	r := d.one(t, "gcp:cloudfunctionsv2/function:Function", name)
	if got := r.InStr("buildConfig", "runtime"); got != "go126" {
		t.Errorf("%s runtime %q", name, got)
	}
	if got := r.InStr("buildConfig", "entryPoint"); got != entryPoint {
		t.Errorf("%s entry point %q, want %q", name, got, entryPoint)
	}
	src := mapOf(r.In("buildConfig", "source", "storageSource"))
	object := d.one(t, "gcp:storage/bucketObject:BucketObject", fn.Name+".zip")
	if src["object"] != fn.Name+".zip" || src["bucket"] != object.InStr("bucket") || src["generation"] != object.Out("generation") {
		t.Errorf("%s source %v", name, src)
	}
	if got := object.InStr("source"); got != "../dist/gcp/"+fn.Name+".zip" {
		t.Errorf("%s source zip %q", name, got)
	}
	if got := r.InStr("serviceConfig", "serviceAccountEmail"); got != d.serviceAccountEmail(fn.Name) {
		t.Errorf("%s runs as %q, want %q", name, got, d.serviceAccountEmail(fn.Name))
	}
	if got := r.InStr("serviceConfig", "ingressSettings"); got != ingress {
		t.Errorf("%s ingress %q, want %q", name, got, ingress)
	}
	checkEnv(t, name, mapOf(r.In("serviceConfig", "environmentVariables")), d.wantEnv(t, fn, GCP))

	delivery, _ := catalog.DeliveryByName(d.layout.Delivery)
	want := map[string]string{}
	for _, env := range fn.SecretsFor(delivery) {
		want[env] = d.prefix() + "-" + slug(env)
	}
	got := map[string]string{}
	items, _ := r.In("serviceConfig", "secretEnvironmentVariables").([]any)
	for _, item := range items {
		m := mapOf(item)
		got[m["key"].(string)] = m["secret"].(string)
		if m["version"] != "1" || m["projectId"] != testProject {
			t.Errorf("%s secret %v is not pinned to the stack's version", name, m)
		}
	}
	if !maps.Equal(got, want) {
		t.Errorf("%s secret env %v, want %v", name, got, want)
	}
}

func TestDataStoresExpireRecords(t *testing.T) {
	t.Parallel()
	forEachLayout(t, func(t *testing.T, d *deployment) {
		switch d.layout.Store {
		case catalog.StoreDynamo:
			table := d.one(t, "aws:dynamodb/table:Table", d.prefix())
			if table.In("ttl", "enabled") != true || table.InStr("ttl", "attributeName") != catalog.DynamoTable.TTLAttribute {
				t.Errorf("table ttl %v", table.In("ttl"))
			}
			var indexes []string
			for _, idx := range table.In("globalSecondaryIndexes").([]any) {
				indexes = append(indexes, mapOf(idx)["name"].(string))
			}
			if len(indexes) != len(catalog.DynamoTable.Indexes) {
				t.Errorf("table indexes %v", indexes)
			}
			if len(d.mock.OfType("gcp:firestore/database:Database")) > 0 {
				t.Error("a dynamo stack created a Firestore database")
			}
		case catalog.StoreFirestore:
			d.one(t, "gcp:firestore/database:Database", "(default)")
			fields := d.mock.OfType("gcp:firestore/field:Field")
			for _, want := range catalog.FirestoreTTL {
				found := false
				for _, f := range fields {
					if f.InStr("collection") == want.CollectionGroup && f.InStr("field") == want.Field && f.In("ttlConfig") != nil {
						found = true
					}
				}
				if !found {
					t.Errorf("no TTL policy on %s.%s", want.CollectionGroup, want.Field)
				}
			}
			if len(d.mock.OfType("aws:dynamodb/table:Table")) > 0 {
				t.Error("a firestore stack created a DynamoDB table")
			}
		}
	})
}

func TestVideoIsDeliveredThroughSignedURLsOnly(t *testing.T) {
	t.Parallel()
	forEachLayout(t, func(t *testing.T, d *deployment) {
		switch d.layout.Delivery {
		case catalog.DeliveryCloudFront:
			dist := d.mock.OfType("aws:cloudfront/distribution:Distribution")[0]
			group := d.mock.OfType("aws:cloudfront/keyGroup:KeyGroup")[0]
			key := d.mock.OfType("aws:cloudfront/publicKey:PublicKey")[0]
			oac := d.mock.OfType("aws:cloudfront/originAccessControl:OriginAccessControl")[0]
			bucket := d.videoBucket(t)
			behavior := mapOf(dist.In("defaultCacheBehavior"))
			if !slices.Equal(stringsOf(behavior["trustedKeyGroups"]), []string{group.ID}) {
				t.Errorf("distribution trusts key groups %v, want [%s]", behavior["trustedKeyGroups"], group.ID)
			}
			if behavior["viewerProtocolPolicy"] != "https-only" {
				t.Errorf("viewer protocol %v", behavior["viewerProtocolPolicy"])
			}
			if !slices.Equal(stringsOf(group.In("items")), []string{key.ID}) {
				t.Errorf("key group items %v, want [%s]", group.In("items"), key.ID)
			}
			origin := mapOf(dist.In("origins", "0"))
			if origin["originAccessControlId"] != oac.ID || origin["domainName"] != bucket.Str("bucketRegionalDomainName") {
				t.Errorf("origin %v", origin)
			}
			if oac.InStr("signingBehavior") != "always" || oac.InStr("originAccessControlOriginType") != "s3" {
				t.Errorf("origin access control %v", oac.Inputs)
			}
			block := d.publicAccessBlock(t, bucket)
			for _, k := range []string{"blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets"} {
				if block.In(k) != true {
					t.Errorf("public access block %s = %v", k, block.In(k))
				}
			}
		case catalog.DeliveryCloudCDN:
			bb := d.one(t, "gcp:compute/backendBucket:BackendBucket", d.prefix()+"-video")
			if bb.In("enableCdn") != true {
				t.Error("backend bucket without CDN")
			}
			key := d.one(t, "gcp:compute/backendBucketSignedUrlKey:BackendBucketSignedUrlKey", d.prefix()+"-url-signing")
			if key.InStr("backendBucket") != bb.Str("name") {
				t.Errorf("signed URL key on %q", key.InStr("backendBucket"))
			}
			video := d.mock.OfType("gcp:storage/bucket:Bucket")
			for _, b := range video {
				if b.InStr("publicAccessPrevention") != "enforced" {
					t.Errorf("bucket %s allows public access", b.Str("name"))
				}
			}
		}
	})
}

// TestCloudFrontAnswersWebPlayers: the web player's page is on another
// origin than the distribution, and hls.js and dash.js fetch segments with
// XMLHttpRequest/fetch (with credentials under a cookie grant), so the
// browser hands them over only with Access-Control-Allow-Origin naming the
// page (and Access-Control-Allow-Credentials). S3 sends no CORS headers;
// the distribution's response headers policy must, for the origins
// playplane:corsAllowedOrigins names, as the local edge does
// (shared/localedge).
func TestCloudFrontAnswersWebPlayers(t *testing.T) {
	t.Parallel()
	forEachLayout(t, func(t *testing.T, d *deployment) {
		if d.layout.Delivery != catalog.DeliveryCloudFront {
			return
		}
		dist := d.mock.OfType("aws:cloudfront/distribution:Distribution")[0]
		id, _ := mapOf(dist.In("defaultCacheBehavior"))["responseHeadersPolicyId"].(string)
		policy, ok := d.byID("aws:cloudfront/responseHeadersPolicy:ResponseHeadersPolicy", id)
		if !ok {
			t.Fatalf("the distribution's default behavior has response headers policy %q, none of the stack's: segments reach no page on another origin", id)
		}
		cors := mapOf(policy.In("corsConfig"))
		items := func(key string) []string { return stringsOf(mapOf(cors[key])["items"]) }
		for key, want := range map[string][]string{
			"accessControlAllowOrigins":  {"https://app.playplane.test", "http://localhost:5173"},
			"accessControlAllowMethods":  {"GET", "HEAD", "OPTIONS"},
			"accessControlAllowHeaders":  {"CMCD-Request", "CMCD-Object", "CMCD-Status", "CMCD-Session", "Range"},
			"accessControlExposeHeaders": {"Content-Length", "Content-Range", "ETag"},
		} {
			if got := items(key); !slices.Equal(got, want) {
				t.Errorf("corsConfig.%s %v, want %v", key, got, want)
			}
		}
		if cors["accessControlAllowCredentials"] != true || cors["originOverride"] != true || cors["accessControlMaxAgeSec"] != float64(600) {
			t.Errorf("corsConfig %v: want credentials (cookie grants), origin override and a 600 s max age", cors)
		}
	})
}

// TestCloudFrontAnswersPreflights: a player in CMCD header mode (the
// CMCD-* headers) or sending a non-simple Range makes the browser preflight
// every segment (OPTIONS with Origin, Access-Control-Request-Method and
// Access-Control-Request-Headers). The response headers policy only adds
// headers to an answer: the answer itself comes from the cache or S3, which
// answers a preflight from the bucket's CORS configuration (403 without
// one, 400 without the Origin header CloudFront drops unless told). So the
// behavior must allow OPTIONS; cached OPTIONS answers must be keyed on the
// three request headers (AWS: CachedMethods, "Configuring CloudFront to
// respect CORS settings"), or one refused preflight is served to the next
// page, and keying on them is what forwards them to S3.
func TestCloudFrontAnswersPreflights(t *testing.T) {
	t.Parallel()
	forEachLayout(t, func(t *testing.T, d *deployment) {
		if d.layout.Delivery != catalog.DeliveryCloudFront {
			return
		}
		dist := d.mock.OfType("aws:cloudfront/distribution:Distribution")[0]
		behavior := mapOf(dist.In("defaultCacheBehavior"))
		for key, want := range map[string][]string{
			"allowedMethods": {"GET", "HEAD", "OPTIONS"},
			"cachedMethods":  {"GET", "HEAD", "OPTIONS"},
		} {
			if got := stringsOf(behavior[key]); !slices.Equal(slices.Sorted(slices.Values(got)), want) {
				t.Errorf("defaultCacheBehavior.%s %v, want %v", key, got, want)
			}
		}
		id, _ := behavior["cachePolicyId"].(string)
		policy, ok := d.byID("aws:cloudfront/cachePolicy:CachePolicy", id)
		if !ok {
			t.Fatalf("cache policy %q is none of the stack's: a managed one keys no OPTIONS answer on the CORS request headers", id)
		}
		key := mapOf(policy.In("parametersInCacheKeyAndForwardedToOrigin"))
		headers := mapOf(key["headersConfig"])
		got := stringsOf(mapOf(headers["headers"])["items"])
		for _, h := range []string{"Origin", "Access-Control-Request-Method", "Access-Control-Request-Headers"} {
			if headers["headerBehavior"] != "whitelist" || !slices.Contains(got, h) {
				t.Errorf("cache key headers %v (%v) lack %s", got, headers["headerBehavior"], h)
			}
		}
		// The rest is CachingOptimized's: the signing query parameters and
		// cookies differ per viewer and must stay out of the key.
		if b := mapOf(key["queryStringsConfig"])["queryStringBehavior"]; b != "none" {
			t.Errorf("query strings in the cache key: %v", b)
		}
		if b := mapOf(key["cookiesConfig"])["cookieBehavior"]; b != "none" {
			t.Errorf("cookies in the cache key: %v", b)
		}
		if key["enableAcceptEncodingGzip"] != true || key["enableAcceptEncodingBrotli"] != true {
			t.Errorf("cache key %v: want gzip and brotli (the behavior compresses)", key)
		}
	})
}

// TestS3AnswersCloudFrontPreflights: S3 answers the preflights CloudFront
// forwards from the video bucket's CORS configuration (403 without one):
// the player origins (playplane:corsAllowedOrigins, as the response headers
// policy), GET and HEAD, and the headers the players send, which are the
// local edge's (shared/localedge), as for Cloud Storage.
func TestS3AnswersCloudFrontPreflights(t *testing.T) {
	t.Parallel()
	forEachLayout(t, func(t *testing.T, d *deployment) {
		if d.layout.Delivery != catalog.DeliveryCloudFront {
			return
		}
		// The stack has more buckets (the QoE warehouse's), registered
		// in no fixed order.
		i := slices.IndexFunc(d.mock.OfType("aws:s3/bucketV2:BucketV2"), func(b pulumimock.Resource) bool { return b.Name == "video" })
		if i < 0 {
			t.Fatal("no video bucket")
		}
		video := d.mock.OfType("aws:s3/bucketV2:BucketV2")[i]
		var rules []any
		for _, c := range d.mock.OfType("aws:s3/bucketCorsConfigurationV2:BucketCorsConfigurationV2") {
			if c.InStr("bucket") == video.ID {
				rules, _ = c.In("corsRules").([]any)
			}
		}
		if len(rules) != 1 {
			t.Fatalf("video bucket CORS rules %v, want one: S3 refuses every preflight", rules)
		}
		rule := mapOf(rules[0])
		for key, want := range map[string][]string{
			"allowedOrigins": {"https://app.playplane.test", "http://localhost:5173"},
			// S3 takes no OPTIONS here: it answers preflights for these.
			"allowedMethods": {"GET", "HEAD"},
			"allowedHeaders": {"CMCD-Request", "CMCD-Object", "CMCD-Status", "CMCD-Session", "Range"},
			"exposeHeaders":  {"Content-Length", "Content-Range", "ETag"},
		} {
			if got := stringsOf(rule[key]); !slices.Equal(got, want) {
				t.Errorf("corsRules[0].%s %v, want %v", key, got, want)
			}
		}
		if rule["maxAgeSeconds"] != float64(600) {
			t.Errorf("corsRules[0].maxAgeSeconds %v, want 600", rule["maxAgeSeconds"])
		}
	})
}

// TestCloudFrontCORSFollowsTheOrigins: no origins, no CORS policy (as for
// the API); a "*" entry turns credentials off, which browsers refuse
// beside it.
func TestCloudFrontCORSFollowsTheOrigins(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, origins        string
		wantPolicy, wantCred bool
	}{
		{name: "none", origins: ""},
		{name: "exact", origins: "https://app.playplane.test", wantPolicy: true, wantCred: true},
		{name: "any", origins: "*", wantPolicy: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			config := baseConfig("aws")
			config["playplane:corsAllowedOrigins"] = tc.origins
			d, err := deploy(t, "aws", config)
			if err != nil {
				t.Fatal(err)
			}
			policies := d.mock.OfType("aws:cloudfront/responseHeadersPolicy:ResponseHeadersPolicy")
			if len(policies) != map[bool]int{false: 0, true: 1}[tc.wantPolicy] {
				t.Fatalf("%d response headers policies, want one: %v", len(policies), tc.wantPolicy)
			}
			if tc.wantPolicy && policies[0].In("corsConfig", "accessControlAllowCredentials") != tc.wantCred {
				t.Errorf("credentials %v, want %v", policies[0].In("corsConfig", "accessControlAllowCredentials"), tc.wantCred)
			}
			bucketCORS := d.mock.OfType("aws:s3/bucketCorsConfigurationV2:BucketCorsConfigurationV2")
			if len(bucketCORS) != map[bool]int{false: 0, true: 1}[tc.wantPolicy] {
				t.Fatalf("%d video bucket CORS configurations, want one: %v", len(bucketCORS), tc.wantPolicy)
			}
			if tc.wantPolicy && !slices.Equal(stringsOf(mapOf(bucketCORS[0].In("corsRules").([]any)[0])["allowedOrigins"]), strings.Split(tc.origins, ",")) {
				t.Errorf("video bucket CORS origins %v, want %s", bucketCORS[0].In("corsRules"), tc.origins)
			}
		})
	}
}

// TestSignURLBindIPTurnsCloudFrontIPv6Off: playplane:signUrlBindIP is the
// one switch for binding grants to the caller's address. AWS: "if you're
// using signed URLs or signed cookies ... with a custom policy that
// includes the IpAddress parameter ..., don't enable IPv6"
// (DistributionConfig IsIPV6Enabled), so on it sets SIGNURL_BIND_IP=true on
// signurl and turns the distribution's IPv6 off; off (the default) the
// distribution stays dual-stack. Where it cannot work it fails the stack:
// Cloud CDN signatures carry no address, and signurl on Cloud Functions
// (hybrid) sees Google's front end, not the viewer.
func TestSignURLBindIPTurnsCloudFrontIPv6Off(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, layout, value string
		wantIPv6            bool
		wantEnv             string
		wantErr             string // in the deploy error; "" deploys
	}{
		{name: "aws default", layout: "aws", wantIPv6: true, wantEnv: "false"},
		{name: "aws off", layout: "aws", value: "false", wantIPv6: true, wantEnv: "false"},
		{name: "aws on", layout: "aws", value: "true", wantEnv: "true"},
		{name: "aws typo", layout: "aws", value: "yes", wantErr: "playplane:signUrlBindIP"},
		{name: "gcp off", layout: "gcp", value: "false", wantEnv: "false"},
		{name: "gcp on", layout: "gcp", value: "true", wantErr: "Cloud CDN"},
		{name: "hybrid on", layout: "hybrid", value: "true", wantErr: "Cloud Functions"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			config := baseConfig(tc.layout)
			if tc.value != "" {
				config["playplane:signUrlBindIP"] = tc.value
			}
			d, err := deploy(t, tc.layout, config)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) || !strings.Contains(err.Error(), "signUrlBindIP") {
					t.Fatalf("deploy error %v, want one naming playplane:signUrlBindIP and %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var env map[string]any
			if tc.layout == "gcp" {
				env = mapOf(d.one(t, "gcp:cloudfunctionsv2/function:Function", d.prefix()+"-signurl").In("serviceConfig", "environmentVariables"))
			} else {
				env = mapOf(d.lambda(t, "signurl").In("environment", "variables"))
			}
			if got := env["SIGNURL_BIND_IP"]; got != tc.wantEnv {
				t.Errorf("signurl SIGNURL_BIND_IP = %v, want %q", got, tc.wantEnv)
			}
			for _, p := range d.parts(t) {
				if _, ok := p.env["SIGNURL_BIND_IP"]; ok && p.fn.Name != "signurl" {
					t.Errorf("%s gets SIGNURL_BIND_IP", p.name)
				}
			}
			if tc.layout != "aws" {
				return
			}
			if got := d.mock.OfType("aws:cloudfront/distribution:Distribution")[0].In("isIpv6Enabled"); got != tc.wantIPv6 {
				t.Errorf("distribution isIpv6Enabled = %v, want %v", got, tc.wantIPv6)
			}
		})
	}
}

// cdnBucket returns the Cloud Storage bucket behind the Cloud CDN backend bucket.
func (d *deployment) cdnBucket(t *testing.T) pulumimock.Resource {
	t.Helper()
	bb := d.one(t, "gcp:compute/backendBucket:BackendBucket", d.prefix()+"-video")
	for _, b := range d.mock.OfType("gcp:storage/bucket:Bucket") {
		if b.Str("name") == bb.InStr("bucketName") {
			return b
		}
	}
	t.Fatalf("no bucket named %q behind the backend bucket", bb.InStr("bucketName"))
	return pulumimock.Resource{}
}

// TestCloudCDNAnswersWebPlayers: on GCP the player page is on another
// origin than the load balancer too, and Cloud CDN adds no CORS headers of
// its own: Cloud Storage answers with the bucket's CORS configuration
// (Access-Control-Allow-Origin naming the page, and Vary: Origin, with
// which Cloud CDN still caches). It must name playplane:corsAllowedOrigins with the local
// edge's methods, headers and max age (shared/localedge), as CloudFront's
// policy does.
func TestCloudCDNAnswersWebPlayers(t *testing.T) {
	t.Parallel()
	forEachLayout(t, func(t *testing.T, d *deployment) {
		if d.layout.Delivery != catalog.DeliveryCloudCDN {
			return
		}
		cors, _ := d.cdnBucket(t).In("cors").([]any)
		if len(cors) != 1 {
			t.Fatalf("video bucket cors %v, want one entry: segments reach no page on another origin", cors)
		}
		entry := mapOf(cors[0])
		for key, want := range map[string][]string{
			"origins": {"https://app.playplane.test", "http://localhost:5173"},
			"methods": {"GET", "HEAD"},
			// Cloud Storage answers a preflight's Access-Control-Request-Headers
			// and exposes response headers from the same list.
			"responseHeaders": {"CMCD-Request", "CMCD-Object", "CMCD-Status", "CMCD-Session", "Range", "Content-Length", "Content-Range", "ETag"},
		} {
			if got := stringsOf(entry[key]); !slices.Equal(got, want) {
				t.Errorf("cors.%s %v, want %v", key, got, want)
			}
		}
		if entry["maxAgeSeconds"] != float64(600) {
			t.Errorf("cors.maxAgeSeconds %v, want 600", entry["maxAgeSeconds"])
		}
	})
}

// TestCloudCDNCORSFollowsTheOrigins: no origins, no CORS configuration
// (as for the API and CloudFront).
func TestCloudCDNCORSFollowsTheOrigins(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, origins string
		want          []string
	}{
		{name: "none", origins: ""},
		{name: "exact", origins: "https://app.playplane.test", want: []string{"https://app.playplane.test"}},
		{name: "any", origins: "*", want: []string{"*"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			config := baseConfig("gcp")
			config["playplane:corsAllowedOrigins"] = tc.origins
			d, err := deploy(t, "gcp", config)
			if err != nil {
				t.Fatal(err)
			}
			wantEntries := 0
			if tc.want != nil {
				wantEntries = 1
			}
			cors, _ := d.cdnBucket(t).In("cors").([]any)
			if len(cors) != wantEntries {
				t.Fatalf("video bucket cors %v, want origins %v", cors, tc.want)
			}
			if tc.want != nil && !slices.Equal(stringsOf(mapOf(cors[0])["origins"]), tc.want) {
				t.Errorf("cors origins %v, want %v", mapOf(cors[0])["origins"], tc.want)
			}
		})
	}
}

// Behind the GCP load balancer the TCP peer is Cloud Run's front end and
// the rightmost X-Forwarded-For entry the load balancer: pickedge (and
// signurl, which starts sessions on pickedge's ranking: every function the
// catalogue says locates its caller) must believe both, or it places every
// viewer at Google's front end. On AWS the HTTP API passes the caller's
// own address, so nothing is believed there.
func TestPickEdgeBelievesTheGoogleFrontEndOnly(t *testing.T) {
	t.Parallel()
	forEachLayout(t, func(t *testing.T, d *deployment) {
		checked := 0
		for _, fn := range d.mock.OfType("gcp:cloudfunctionsv2/function:Function") {
			hops, set := mapOf(fn.In("serviceConfig", "environmentVariables"))[catalog.EnvPickEdgeTrustedHops]
			locates := false
			for _, c := range catalog.Functions {
				if c.LocatesCaller && strings.HasPrefix(fn.Str("name"), d.prefix()+"-"+c.Name) {
					locates = true
				}
			}
			switch {
			case locates && hops != "2":
				t.Errorf("%s trusts %v hops of X-Forwarded-For, want 2 (front end + load balancer)", fn.Str("name"), hops)
			case !locates && set:
				t.Errorf("%s is told to trust proxies it never asks about", fn.Str("name"))
			}
			if strings.HasPrefix(fn.Str("name"), d.prefix()+"-pickedge") {
				checked++
			}
		}
		for _, fn := range d.mock.OfType("aws:lambda/function:Function") {
			if _, set := mapOf(fn.In("environment", "variables"))[catalog.EnvPickEdgeTrustedHops]; set {
				t.Errorf("%s trusts X-Forwarded-For behind API Gateway", fn.Str("name"))
			}
		}
		if d.layout.Compute == GCP && checked == 0 {
			t.Error("no pickedge Cloud Function checked")
		}
	})
}

// TestStripeProductsIsOptional: playplane:stripeProducts scopes
// paymentwebhook to the service's Stripe products (STRIPE_PRODUCTS). A
// stack without it deploys, and no function part gets the variable (the
// function reads it unset: every product); set, it reaches every part of
// paymentwebhook, webhook, consumer and jobs, on every cloud, and no
// other function.
func TestStripeProductsIsOptional(t *testing.T) {
	t.Parallel()
	for _, layout := range []string{"aws", "gcp", "hybrid"} {
		for _, value := range []string{"", "prod_Stream1,prod_Stream2"} {
			t.Run(layout+"/"+value, func(t *testing.T) {
				t.Parallel()
				config := baseConfig(layout)
				if value != "" {
					config["playplane:stripeProducts"] = value
				}
				d, err := deploy(t, layout, config)
				if err != nil {
					t.Fatal(err)
				}
				webhook := 0
				for _, p := range d.parts(t) {
					got, set := p.env[catalog.SettingStripeProducts]
					switch {
					case p.fn.Name != "paymentwebhook":
						if set {
							t.Errorf("%s gets %s", p.name, catalog.SettingStripeProducts)
						}
					case value == "" && set:
						t.Errorf("%s gets %s=%q, want it unset", p.name, catalog.SettingStripeProducts, got)
					case value != "" && got != value:
						t.Errorf("%s gets %s=%q, want %q", p.name, catalog.SettingStripeProducts, got, value)
					}
					if p.fn.Name == "paymentwebhook" {
						webhook++
					}
				}
				if webhook == 0 {
					t.Fatal("no paymentwebhook part deployed")
				}
			})
		}
	}
}
