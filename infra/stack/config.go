package stack

import (
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi/config"

	"github.com/playplane/playplane/functions/catalog"
	"github.com/playplane/playplane/shared/telemetry"
)

// Cloud is where a part of a function runs.
type Cloud string

const (
	AWS Cloud = "aws"
	GCP Cloud = "gcp"
)

// Layout places the functions, the data and the video delivery.
type Layout struct {
	Name string
	// Compute runs every function's consumers, and its HTTP routes unless the
	// function is listed in HTTPOnAWS.
	Compute  Cloud
	Store    string // catalog.StoreDynamo or catalog.StoreFirestore
	Bus      string // catalog.BusSQS or catalog.BusPubSub
	Delivery string // catalog.DeliveryCloudFront or catalog.DeliveryCloudCDN
	// HTTPOnAWS lists functions whose HTTP routes run on Lambda while the
	// rest of the stack runs on GCP.
	HTTPOnAWS []string
}

// Layouts are the stacks' shapes, chosen by the playplane:layout config key.
var Layouts = []Layout{
	{Name: "aws", Compute: AWS, Store: catalog.StoreDynamo, Bus: catalog.BusSQS, Delivery: catalog.DeliveryCloudFront},
	{Name: "gcp", Compute: GCP, Store: catalog.StoreFirestore, Bus: catalog.BusPubSub, Delivery: catalog.DeliveryCloudCDN},
	// Compute and data on GCP; video on CloudFront + S3; Stripe calls a
	// Lambda, which records the event in Firestore and publishes it to
	// Pub/Sub through workload identity federation (see pulumi/README.md).
	{Name: "hybrid", Compute: GCP, Store: catalog.StoreFirestore, Bus: catalog.BusPubSub, Delivery: catalog.DeliveryCloudFront,
		HTTPOnAWS: []string{"paymentwebhook"}},
}

// LayoutByName returns the layout called name.
func LayoutByName(name string) (Layout, bool) {
	for _, l := range Layouts {
		if l.Name == name {
			return l, true
		}
	}
	return Layout{}, false
}

// HTTPCloud is where fn's routes are served.
func (l Layout) HTTPCloud(fn catalog.Function) Cloud {
	if slices.Contains(l.HTTPOnAWS, fn.Name) {
		return AWS
	}
	return l.Compute
}

// RunsOn says whether any part of fn runs on cloud: its HTTP routes, or
// its consumers and scheduled jobs, which run where the compute is.
func (l Layout) RunsOn(fn catalog.Function, cloud Cloud) bool {
	return l.HTTPCloud(fn) == cloud || (l.Compute == cloud && (len(fn.Consumes) > 0 || len(fn.Jobs) > 0))
}

// MakesGoogleClients says whether a function part on cloud makes Google
// clients, and so reads catalog.GCPSettings: every Cloud Function
// (shared/gcpfn), and a Lambda over Firestore and Pub/Sub
// (catalog.LambdaMain: lambdahybrid, the hybrid stack's webhook).
func (l Layout) MakesGoogleClients(cloud Cloud) bool {
	return cloud == GCP || l.Store == catalog.StoreFirestore
}

// Uses says whether any part of any function runs on cloud, or the stack
// keeps data or video there.
func (l Layout) Uses(cloud Cloud) bool {
	if l.Compute == cloud {
		return true
	}
	switch cloud {
	case AWS:
		return len(l.HTTPOnAWS) > 0 || l.Store == catalog.StoreDynamo || l.Bus == catalog.BusSQS || l.Delivery == catalog.DeliveryCloudFront
	default:
		return l.Store == catalog.StoreFirestore || l.Bus == catalog.BusPubSub || l.Delivery == catalog.DeliveryCloudCDN
	}
}

// Validate rejects layouts whose parts cannot reach each other.
func (l Layout) Validate() error {
	switch {
	case l.Compute == AWS && (l.Store != catalog.StoreDynamo || l.Bus != catalog.BusSQS):
		return fmt.Errorf("layout %s: functions on AWS use DynamoDB and SQS", l.Name)
	case l.Compute == AWS && len(l.HTTPOnAWS) > 0:
		return fmt.Errorf("layout %s: HTTPOnAWS only applies when compute is on GCP", l.Name)
	case l.Compute == GCP && (l.Store != catalog.StoreFirestore || l.Bus != catalog.BusPubSub):
		// Functions on GCP reach AWS data only with AWS keys, which this
		// stack does not hand out.
		return fmt.Errorf("layout %s: functions on GCP use Firestore and Pub/Sub", l.Name)
	case l.Compute != AWS && l.Compute != GCP:
		return fmt.Errorf("layout %s: compute %q", l.Name, l.Compute)
	}
	if _, ok := catalog.DeliveryByName(l.Delivery); !ok {
		return fmt.Errorf("layout %s: delivery %q", l.Name, l.Delivery)
	}
	for _, name := range l.HTTPOnAWS {
		if _, ok := catalog.FunctionByName(name); !ok {
			return fmt.Errorf("layout %s: unknown function %q", l.Name, name)
		}
	}
	return nil
}

// SecretsOf returns the Env names of the secrets fn's part on cloud reads:
// those of its HTTP routes when only they run there, else all of them.
func (l Layout) SecretsOf(fn catalog.Function, cloud Cloud) []string {
	delivery, _ := catalog.DeliveryByName(l.Delivery)
	switch {
	case !l.RunsOn(fn, cloud):
		return nil
	case l.Compute != cloud:
		return fn.HTTPSecretsFor(delivery)
	}
	return fn.SecretsFor(delivery)
}

// SecretsOn returns the Env names of the secrets read by function parts
// running on cloud, in catalogue order.
func (l Layout) SecretsOn(cloud Cloud) []string {
	used := map[string]bool{}
	for _, fn := range catalog.Functions {
		for _, s := range l.SecretsOf(fn, cloud) {
			used[s] = true
		}
	}
	var out []string
	for _, s := range catalog.Secrets {
		if used[s.Env] {
			out = append(out, s.Env)
		}
	}
	return out
}

// Settings returns the Env names of the settings read by the stack's
// functions, in catalogue order: on Cloud Functions also the ones every
// function part there reads (catalog.GCPSettings).
func (l Layout) Settings() []string {
	used := map[string]bool{}
	for _, fn := range catalog.Functions {
		for _, s := range fn.Settings {
			used[s] = true
		}
	}
	if l.Compute == GCP {
		for _, s := range catalog.GCPSettings {
			used[s] = true
		}
	}
	var out []string
	for _, s := range catalog.Settings {
		if used[s.Env] {
			out = append(out, s.Env)
		}
	}
	return out
}

// Namespace is the config namespace of the stack's own keys.
const Namespace = "playplane"

// Config is everything a stack reads from Pulumi.<stack>.yaml.
type Config struct {
	Stack  string
	Layout Layout
	// Prefix starts every physical resource name (default playplane-<stack>).
	Prefix string

	JWTIssuer   string
	JWTAudience string
	JWTJWKSURL  string
	// CORSAllowedOrigins are the web pages' origins that may call the API
	// (playplane:corsAllowedOrigins, comma-separated; none by default).
	CORSAllowedOrigins []string
	// AlertNotificationChannels are the Cloud Monitoring notification
	// channels every alert policy notifies, by resource name
	// (playplane:alertNotificationChannels, comma-separated; none by
	// default).
	AlertNotificationChannels []string

	// DistDir holds the zips from `make package`, relative to the Pulumi
	// program's directory.
	DistDir          string
	LogRetentionDays int
	// DeletionProtection guards the data stores against `pulumi destroy`
	// and replacement: the DynamoDB table, the Firestore database, the
	// BigQuery QoE table (playplane:deletionProtection, default true; a
	// dev stack that should destroy whole sets false).
	DeletionProtection bool

	AWSRegion string
	// CloudFrontPublicKeyPEM is the public half of the URL signing key.
	CloudFrontPublicKeyPEM string
	CloudFrontPriceClass   string

	GCPProject string
	GCPRegion  string
	// Domain is the load balancer's host name (managed certificate).
	Domain            string
	FirestoreLocation string

	// Secrets holds the secret config values by catalogue Env name. Each one
	// is a Pulumi secret output; nothing prints or stores it in plain text.
	Secrets map[string]pulumi.StringOutput
	// Settings holds the plain settings by catalogue Env name (configured
	// value or the catalogue's default).
	Settings map[string]string
}

// deletionProtectionKey is the config key of Config.DeletionProtection.
const deletionProtectionKey = "deletionProtection"

// alertChannelsKey is the config key of Config.AlertNotificationChannels.
const alertChannelsKey = "alertNotificationChannels"

// notificationChannel is a channel's resource name, the form an alert
// policy's notificationChannels takes.
var notificationChannel = regexp.MustCompile(`^projects/[^/]+/notificationChannels/[^/]+$`)

// boolOr reads the boolean key, def when unset. A value that is no
// boolean is an error, not def: a typo must not turn protection off.
func boolOr(c *config.Config, key string, def bool) (bool, error) {
	v := c.Get(key)
	if v == "" {
		return def, nil
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		return def, fmt.Errorf("%s:%s is %q, want true or false", Namespace, key, v)
	}
	return b, nil
}

// LoadConfig reads the stack's configuration. Secrets are read as Pulumi
// secrets only, and only those the layout uses. Every missing key is named
// in the one error.
func LoadConfig(ctx *pulumi.Context) (Config, error) {
	var missing []string
	own := config.New(ctx, Namespace)
	require := func(c *config.Config, namespace, key string) string {
		v, err := c.Try(key)
		if err != nil {
			missing = append(missing, namespace+":"+key)
		}
		return v
	}
	layoutName := require(own, Namespace, "layout")
	layout, ok := LayoutByName(layoutName)
	if !ok {
		return Config{}, fmt.Errorf("stack.LoadConfig: unknown layout %q (want aws, gcp or hybrid)", layoutName)
	}
	cfg := Config{
		Stack:                ctx.Stack(),
		Layout:               layout,
		Prefix:               own.Get("prefix"),
		JWTIssuer:            require(own, Namespace, "jwtIssuer"),
		JWTAudience:          require(own, Namespace, "jwtAudience"),
		JWTJWKSURL:           require(own, Namespace, "jwtJwksUrl"),
		DistDir:              own.Get("distDir"),
		LogRetentionDays:     own.GetInt("logRetentionDays"),
		CloudFrontPriceClass: own.Get("cloudfrontPriceClass"),
		Secrets:              map[string]pulumi.StringOutput{},
		Settings:             map[string]string{},
	}
	protect, err := boolOr(own, deletionProtectionKey, true)
	if err != nil {
		return Config{}, fmt.Errorf("stack.LoadConfig: %w", err)
	}
	cfg.DeletionProtection = protect
	for _, o := range strings.Split(own.Get("corsAllowedOrigins"), ",") {
		if o = strings.TrimSpace(o); o != "" {
			cfg.CORSAllowedOrigins = append(cfg.CORSAllowedOrigins, o)
		}
	}
	for _, c := range strings.Split(own.Get(alertChannelsKey), ",") {
		if c = strings.TrimSpace(c); c != "" {
			cfg.AlertNotificationChannels = append(cfg.AlertNotificationChannels, c)
		}
	}
	if cfg.Prefix == "" {
		cfg.Prefix = "playplane-" + ctx.Stack()
	}
	if cfg.DistDir == "" {
		cfg.DistDir = "../dist"
	}
	if cfg.LogRetentionDays == 0 {
		cfg.LogRetentionDays = 30
	}
	if cfg.CloudFrontPriceClass == "" {
		cfg.CloudFrontPriceClass = "PriceClass_100"
	}
	if layout.Uses(AWS) {
		cfg.AWSRegion = require(config.New(ctx, "aws"), "aws", "region")
	}
	if layout.Delivery == catalog.DeliveryCloudFront {
		cfg.CloudFrontPublicKeyPEM = require(own, Namespace, "cloudfrontPublicKey")
	}
	if layout.Uses(GCP) {
		gcp := config.New(ctx, "gcp")
		cfg.GCPProject = require(gcp, "gcp", "project")
		cfg.GCPRegion = require(gcp, "gcp", "region")
		cfg.Domain = require(own, Namespace, "domain")
		cfg.FirestoreLocation = own.Get("firestoreLocation")
		if cfg.FirestoreLocation == "" {
			cfg.FirestoreLocation = cfg.GCPRegion
		}
	}
	for _, env := range layout.Settings() {
		s, _ := catalog.SettingByEnv(env)
		v := own.Get(s.ConfigKey)
		if v == "" {
			v = s.Default
		}
		if v == "" {
			if !s.Optional {
				missing = append(missing, Namespace+":"+s.ConfigKey)
			}
			continue
		}
		cfg.Settings[env] = v
	}
	for _, env := range append(layout.SecretsOn(AWS), layout.SecretsOn(GCP)...) {
		if _, done := cfg.Secrets[env]; done {
			continue
		}
		s, _ := catalog.SecretByEnv(env)
		// TrySecret wraps the value as a secret even when someone set it
		// without --secret; pulumi/README.md says to always use --secret.
		v, err := own.TrySecret(s.ConfigKey)
		// An optional secret left unset, or set to "" (which template.yaml
		// takes as absent too), is left out (Config.SecretsOf), and so are
		// the jobs that need it.
		if raw, _ := own.Try(s.ConfigKey); err != nil || s.Optional && raw == "" {
			if !s.Optional {
				missing = append(missing, Namespace+":"+s.ConfigKey+" (secret)")
			}
			continue
		}
		cfg.Secrets[env] = v
	}
	if len(missing) > 0 {
		return Config{}, fmt.Errorf("stack.LoadConfig: stack %s (layout %s) is missing config %s",
			ctx.Stack(), layout.Name, strings.Join(missing, ", "))
	}
	if err := cfg.Validate(); err != nil {
		return Config{}, fmt.Errorf("stack.LoadConfig: %w", err)
	}
	return cfg, nil
}

// Validate checks a Config built by hand or by LoadConfig.
func (c Config) Validate() error {
	if err := c.Layout.Validate(); err != nil {
		return err
	}
	switch {
	case c.Prefix == "" || len(c.Prefix) > 24:
		return fmt.Errorf("prefix %q must have 1 to 24 characters", c.Prefix)
	case c.JWTIssuer == "" || c.JWTAudience == "" || c.JWTJWKSURL == "":
		return fmt.Errorf("jwtIssuer, jwtAudience and jwtJwksUrl are required")
	case c.Layout.Uses(AWS) && c.AWSRegion == "":
		return fmt.Errorf("aws:region is required")
	case c.Layout.Uses(GCP) && (c.GCPProject == "" || c.GCPRegion == "" || c.Domain == ""):
		return fmt.Errorf("gcp:project, gcp:region and playplane:domain are required")
	case c.Layout.Delivery == catalog.DeliveryCloudFront && c.CloudFrontPublicKeyPEM == "":
		return fmt.Errorf("playplane:cloudfrontPublicKey is required")
	}
	for _, env := range c.Layout.Settings() {
		if s, _ := catalog.SettingByEnv(env); c.Settings[env] == "" && !s.Optional {
			return fmt.Errorf("playplane:%s is required", s.ConfigKey)
		}
	}
	// A sampler the functions cannot use would cost the deployed
	// function its traces (telemetry.Setup logs it and traces nothing):
	// refuse it here, by the rules Setup applies.
	if name, arg := c.Settings[catalog.SettingTracesSampler], c.Settings[catalog.SettingTracesSamplerArg]; name != "" || arg != "" {
		if err := telemetry.CheckSampler(name, arg); err != nil {
			sampler, _ := catalog.SettingByEnv(catalog.SettingTracesSampler)
			ratio, _ := catalog.SettingByEnv(catalog.SettingTracesSamplerArg)
			return fmt.Errorf("playplane:%s / playplane:%s: %w", sampler.ConfigKey, ratio.ConfigKey, err)
		}
	}
	if err := c.checkBindIP(); err != nil {
		return err
	}
	for _, ch := range c.AlertNotificationChannels {
		switch {
		case !c.Layout.Uses(GCP):
			return fmt.Errorf("%s:%s: layout %s has no Cloud Monitoring alert policies (its CloudWatch alarms notify the alarmTopicArn output)",
				Namespace, alertChannelsKey, c.Layout.Name)
		case !notificationChannel.MatchString(ch):
			return fmt.Errorf("%s:%s: %q is not a notification channel's name, projects/<project>/notificationChannels/<id>", Namespace, alertChannelsKey, ch)
		}
	}
	if v, ok := c.Settings[catalog.SettingGCPClientTelemetry]; ok && v != "true" && v != "false" {
		s, _ := catalog.SettingByEnv(catalog.SettingGCPClientTelemetry)
		return fmt.Errorf("playplane:%s is %q, want true or false", s.ConfigKey, v)
	}
	for _, cloud := range []Cloud{AWS, GCP} {
		for _, env := range c.Layout.SecretsOn(cloud) {
			if s, _ := catalog.SecretByEnv(env); !s.Optional && !c.HasSecret(env) {
				return fmt.Errorf("secret %s is missing", env)
			}
		}
	}
	return nil
}

// HasSecret says whether the secret env is configured: every required one
// is (Validate), an optional one only when set.
func (c Config) HasSecret(env string) bool {
	_, ok := c.Secrets[env]
	return ok
}

// SecretsOf returns the configured secrets of fn's part on cloud
// (Layout.SecretsOf without the optional ones left unset).
func (c Config) SecretsOf(fn catalog.Function, cloud Cloud) []string {
	return slices.DeleteFunc(c.Layout.SecretsOf(fn, cloud), func(env string) bool { return !c.HasSecret(env) })
}

// SecretsOn returns the configured secrets of the function parts on cloud
// (Layout.SecretsOn without the optional ones left unset).
func (c Config) SecretsOn(cloud Cloud) []string {
	return slices.DeleteFunc(c.Layout.SecretsOn(cloud), func(env string) bool { return !c.HasSecret(env) })
}

// disabledJobs names fn's jobs that cannot run: a job that needs an
// optional secret left unset is scheduled disabled (as template.yaml's
// State), and runs once the secret is set and the stack updated.
func (c Config) disabledJobs(fn catalog.Function) []string {
	var out []string
	for _, job := range fn.Jobs {
		if job.NeedsSecret != "" && !c.HasSecret(job.NeedsSecret) {
			out = append(out, job.Name)
		}
	}
	return out
}

// BindsGrantsToIP says whether signurl binds CloudFront grants to the
// caller's address (catalog.SettingSignURLBindIP): the stack then turns
// the distribution's IPv6 off, as AWS asks of custom policies with
// IpAddress (DistributionConfig IsIPV6Enabled).
func (c Config) BindsGrantsToIP() bool { return c.Settings[catalog.SettingSignURLBindIP] == "true" }

// checkBindIP refuses a bind-IP setting the stack cannot honour: a value
// the template's AllowedValues would refuse too, Cloud CDN (its
// signatures carry no address, so the option would do nothing), and a
// signer on Cloud Functions, which sees Google's front end as its peer
// and would bind every grant to it.
func (c Config) checkBindIP() error {
	s, _ := catalog.SettingByEnv(catalog.SettingSignURLBindIP)
	switch v := c.Settings[s.Env]; {
	case v == "false":
		return nil
	case v != "true":
		return fmt.Errorf("playplane:%s is %q, want true or false", s.ConfigKey, v)
	case c.Layout.Delivery != catalog.DeliveryCloudFront:
		return fmt.Errorf("playplane:%s: layout %s delivers through Cloud CDN, whose signatures carry no address; leave it false", s.ConfigKey, c.Layout.Name)
	}
	for _, fn := range catalog.Functions {
		if slices.Contains(fn.Settings, s.Env) && c.Layout.HTTPCloud(fn) != AWS {
			return fmt.Errorf("playplane:%s: layout %s serves %s on Cloud Functions, whose peer is Google's front end, not the viewer; leave it false",
				s.ConfigKey, c.Layout.Name, fn.Name)
		}
	}
	return nil
}
