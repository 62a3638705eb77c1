package gcpfn

import (
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
// own spans are left out (gcpclient.EnvTelemetry).
func (r *Resources) Telemetry(service string) telemetry.Options {
	return telemetry.Options{
		Service: service,
		Metrics: telemetry.SinkOTLP,
		Lookup:  r.lookup,
		MetricExporters: map[string]telemetry.MetricExporterFunc{
			telemetry.ExporterGoogleCloud: googlecloud.Exporter(nil),
		},
		OTLPMetrics:   otlpmetrics.New,
		SilentTracers: r.silent,
	}
}
