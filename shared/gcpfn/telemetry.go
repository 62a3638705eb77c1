package gcpfn

import (
	"github.com/GoogleCloudPlatform/functions-framework-go/funcframework"
	"go.opentelemetry.io/otel/attribute"
	semconv "go.opentelemetry.io/otel/semconv/v1.40.0"

	"github.com/playplane/playplane/shared/telemetry"
	"github.com/playplane/playplane/shared/telemetry/googlecloud"
	"github.com/playplane/playplane/shared/telemetry/otlpmetrics"
)

// Telemetry is what the deploy unit passes to telemetry.Setup for service
// (K_SERVICE): the OTEL_* environment read through the resources' lookup,
// metrics pushed to the exporter OTEL_METRICS_EXPORTER names, which on
// Cloud Functions may also be googlecloud: Cloud Monitoring through
// Google's Telemetry API (OTLP) with the function's default credentials,
// in the project GOOGLE_CLOUD_PROJECT names (the stack sets both). Nothing
// connects, nor reads credentials, until the first flush after an
// invocation. With GCP_CLIENT_TELEMETRY=false the Google client libraries'
// own spans are left out (gcpclient.EnvTelemetry). The resource names the
// platform (platformResource). An invocation's spans carry its execution
// id: the Functions Framework's, which is the Function-Execution-Id
// header's where the platform sends one, else one it makes for its own
// log lines (execution_id).
func (r *Resources) Telemetry(service string) telemetry.Options {
	return telemetry.Options{
		Service:    service,
		Resource:   platformResource(r.getenv),
		Invocation: funcframework.ExecutionIDFromContext,
		Metrics:    telemetry.SinkOTLP,
		Lookup:     r.lookup,
		MetricExporters: map[string]telemetry.MetricExporterFunc{
			telemetry.ExporterGoogleCloud: googlecloud.Exporter(nil),
		},
		OTLPMetrics:   otlpmetrics.New,
		SilentTracers: r.silent,
	}
}

// getenv is the variable name's value through the resources' lookup.
func (r *Resources) getenv(name string) string {
	v, _ := r.lookup.Lookup(name)
	return v
}

// platformResource is the resource of a process Cloud Run runs as the
// resource conventions name it, from the variables Cloud Run sets
// (K_SERVICE, K_REVISION; none off the platform: the local runner). A 2nd
// gen function runs as a Cloud Run service, yet is gcp_cloud_functions
// when FUNCTION_TARGET names its entry point, as Google's own resource
// detector decides: the Telemetry API files gcp_cloud_run's metrics under
// prometheus_target cluster "__run__", every other platform's under "",
// so a function's series keep the labels they had before it was named.
func platformResource(getenv func(string) string) []attribute.KeyValue {
	service := getenv("K_SERVICE")
	if service == "" {
		return nil
	}
	platform := semconv.CloudPlatformGCPCloudRun
	if getenv("FUNCTION_TARGET") != "" {
		platform = semconv.CloudPlatformGCPCloudFunctions
	}
	attrs := []attribute.KeyValue{semconv.CloudProviderGCP, platform, semconv.FaaSName(service)}
	if v := getenv("K_REVISION"); v != "" {
		attrs = append(attrs, semconv.FaaSVersion(v))
	}
	return attrs
}
