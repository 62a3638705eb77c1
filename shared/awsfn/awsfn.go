// Package awsfn runs a playplane function on AWS Lambda. It builds the
// function over the AWS adapters (the DynamoDB store, the SQS bus) from the
// environment the SAM template or the Pulumi stack sets, and serves one
// trigger per Lambda, the one PLAYPLANE_TRIGGER names: the function's API
// Gateway HTTP API routes (payload format 2.0), the SQS consumer of the
// topic PLAYPLANE_TOPIC names (partial batch responses), or its scheduled
// jobs. A function with routes, a consumer and jobs is deployed as several
// Lambdas from one zip, each told its trigger; nothing is guessed from a
// payload's shape or a queue's name.
//
// A function's Lambda main names its package's Build and makes one call:
//
//	var build = fnenv.Erase(heartbeat.Build)
//
//	func main() { awsfn.Main(build) }
//
// The SQS bus and the Secrets Manager reader are linked only by the mains
// that import shared/awsfn/sqsbus and shared/awsfn/smsecrets (their
// functions publish, or read secrets), and the SDK configuration is built
// from the Lambda environment (shared/awsfn/lambdaconfig): each client
// package linked costs every cold start its initialisation.
//
// Lifecycle: the function is built on the first invocation and kept; a
// build that fails answers that invocation (a 500, or a failed batch or
// job) and the next invocation builds again, so a transient failure (a
// secret not yet readable) needs no new execution environment. Nothing here
// makes a network call before the first invocation: clients are built from
// the environment, and an identity provider's keys are fetched on the first
// token that needs them. Process start to first response is what Lambda
// bills as a cold start either way; building lazily keeps failures out of
// the init phase, which Lambda would retry only by restarting the process.
//
// This is a composition package: it imports the adapters, which never
// import each other.
package awsfn

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-lambda-go/lambdacontext"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/sethvargo/go-envconfig"
	"go.opentelemetry.io/otel/attribute"
	semconv "go.opentelemetry.io/otel/semconv/v1.40.0"

	"github.com/playplane/playplane/functions/catalog"
	"github.com/playplane/playplane/shared/fnenv"
	"github.com/playplane/playplane/shared/telemetry"
)

// Function is what every function package's Server offers.
type Function = fnenv.Function

// Builder constructs a function over env (an *Env): a function package's
// Build, through fnenv.Erase. It runs on the first invocation of an
// execution environment, and again on the next one if it failed.
type Builder = fnenv.Builder

// The variables that tell a Lambda which trigger it serves, set per Lambda
// by template.yaml and the Pulumi stack, as the catalogue spells them.
const (
	// EnvTrigger is "http", "queue" or "job" (Trigger).
	EnvTrigger = catalog.EnvTrigger
	// EnvTopic names the topic a queue Lambda consumes, "heartbeats"; its
	// SQS event source mapping is the only queue that invokes it.
	EnvTopic = catalog.EnvTopic
)

// Trigger is what invokes a Lambda.
type Trigger string

const (
	// TriggerHTTP: API Gateway HTTP API requests, payload format 2.0.
	TriggerHTTP Trigger = catalog.TriggerHTTP
	// TriggerQueue: SQS batches of one topic, with ReportBatchItemFailures.
	TriggerQueue Trigger = catalog.TriggerQueue
	// TriggerJob: EventBridge schedules sending {"job":"<name>"}.
	TriggerJob Trigger = catalog.TriggerJob
)

// readTrigger reads EnvTrigger and EnvTopic; a topic is required for a
// queue and refused otherwise, so a mistyped template fails loudly.
func readTrigger(lookup envconfig.Lookuper) (Trigger, string, error) {
	v, _ := lookup.Lookup(EnvTrigger)
	topic, _ := lookup.Lookup(EnvTopic)
	switch t := Trigger(v); t {
	case TriggerHTTP, TriggerJob:
		if topic != "" {
			return "", "", fmt.Errorf("%s=%s is for %s=%s only, not %s", EnvTopic, topic, EnvTrigger, TriggerQueue, t)
		}
		return t, "", nil
	case TriggerQueue:
		if topic == "" {
			return "", "", fmt.Errorf("%s=%s needs %s, the topic its queue carries", EnvTrigger, t, EnvTopic)
		}
		return t, topic, nil
	}
	return "", "", fmt.Errorf("%s=%q: want %s, %s or %s", EnvTrigger, v, TriggerHTTP, TriggerQueue, TriggerJob)
}

// Options replace what a Lambda takes from its surroundings; the zero value
// is what Main uses.
type Options struct {
	// Lookuper reads the environment (default: the process environment).
	Lookuper envconfig.Lookuper
	// AWS is the SDK configuration of the clients (default: built from
	// the Lambda environment by lambdaconfig.Load).
	AWS *aws.Config
	Log *slog.Logger
	Now func() time.Time
}

// Main serves the trigger the environment names until the execution
// environment ends. Only an unreadable trigger configuration stops it at
// start (no handler can be chosen, as when Lambda cannot find a handler);
// the function itself is built on the first invocation. silentTracers are
// Telemetry's.
func Main(build Builder, silentTracers ...string) {
	log := NewLogger()
	slog.SetDefault(log)
	if _, err := telemetry.Setup(context.Background(), Telemetry(os.Getenv("AWS_LAMBDA_FUNCTION_NAME"), os.Stdout, silentTracers...)); err != nil {
		log.Error("telemetry is off: its configuration is unusable", "err", err)
	}
	h, err := New(context.Background(), build, Options{Log: log})
	if err != nil {
		log.Error("lambda init failed", "err", err)
		os.Exit(1)
	}
	lambda.Start(h.typed())
}

// Telemetry is what Main passes to telemetry.Setup for service
// (AWS_LAMBDA_FUNCTION_NAME), the EMF lines going to out (stdout).
// Metrics leave as EMF lines beside the logs: CloudWatch Logs extracts
// them, and the request path makes no call for them. Spans go wherever
// OTEL_EXPORTER_OTLP_ENDPOINT says (a collector layer or sidecar),
// flushed before each invocation returns. silentTracers name the client
// libraries' tracers whose spans the operator turned off
// (telemetry.Options.SilentTracers): the Google clients' of the hybrid
// stack's Lambda (shared/gcpclient). An invocation's spans carry its
// request id (invocationID).
func Telemetry(service string, out io.Writer, silentTracers ...string) telemetry.Options {
	return telemetry.Options{Service: service, Metrics: telemetry.SinkEMF, EMFOut: out, SilentTracers: silentTracers,
		Resource: lambdaResource(os.Getenv), Invocation: invocationID}
}

// invocationID is the request id of the invocation ctx serves, which the
// Lambda runtime puts in its context: the FaaS conventions' invocation id
// for Lambda.
func invocationID(ctx context.Context) string {
	if lc, ok := lambdacontext.FromContext(ctx); ok {
		return lc.AwsRequestID
	}
	return ""
}

// lambdaResource is the resource of a Lambda function as the resource
// conventions name it (cloud.*, faas.*), from the variables the Lambda
// runtime sets; those it did not set are left out.
func lambdaResource(getenv func(string) string) []attribute.KeyValue {
	attrs := []attribute.KeyValue{semconv.CloudProviderAWS, semconv.CloudPlatformAWSLambda}
	for _, v := range []struct {
		name string
		attr func(string) attribute.KeyValue
	}{
		{"AWS_REGION", semconv.CloudRegion},
		{"AWS_LAMBDA_FUNCTION_NAME", semconv.FaaSName},
		{"AWS_LAMBDA_FUNCTION_VERSION", semconv.FaaSVersion},
		{"AWS_LAMBDA_LOG_STREAM_NAME", semconv.FaaSInstance},
	} {
		if s := getenv(v.name); s != "" {
			attrs = append(attrs, v.attr(s))
		}
	}
	// The runtime gives MiB; faas.max_memory is in bytes.
	if mib, err := strconv.Atoi(getenv("AWS_LAMBDA_FUNCTION_MEMORY_SIZE")); err == nil && mib > 0 {
		attrs = append(attrs, semconv.FaaSMaxMemory(mib<<20))
	}
	return attrs
}

// NewLogger is the JSON logger on stdout a Lambda logs with, at the level
// of AWS_LAMBDA_LOG_LEVEL.
func NewLogger() *slog.Logger {
	return slog.New(slog.NewJSONHandler(os.Stdout, &slog.HandlerOptions{Level: logLevel(os.Getenv("AWS_LAMBDA_LOG_LEVEL"))}))
}

// logLevel follows Lambda's advanced logging controls (AWS_LAMBDA_LOG_LEVEL).
func logLevel(v string) slog.Level {
	switch strings.ToUpper(v) {
	case "TRACE", "DEBUG":
		return slog.LevelDebug
	case "WARN":
		return slog.LevelWarn
	case "ERROR", "FATAL":
		return slog.LevelError
	}
	return slog.LevelInfo
}
