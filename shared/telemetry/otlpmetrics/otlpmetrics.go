// Package otlpmetrics makes the OTLP/HTTP metric exporter for
// telemetry.Setup's SinkOTLP (telemetry.Options.OTLPMetrics). It is a
// package of its own so that only the processes pushing metrics over OTLP
// (Cloud Functions) link the SDK's exporter, which links gRPC: a Lambda
// sends its metrics as EMF and would otherwise initialise gRPC at every
// cold start for nothing (shared/awsfn/lambdatest
// TestLambdasLinkNoInitHeavyPackages).
package otlpmetrics

import (
	"context"

	"go.opentelemetry.io/otel/exporters/otlp/otlpmetric/otlpmetrichttp"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"

	"github.com/playplane/playplane/shared/telemetry"
)

var _ telemetry.MetricExporterFunc = New

// New is the exporter to cfg's metrics endpoint; the SDK's exporter reads
// the other OTEL_EXPORTER_OTLP_* variables (headers, timeout,
// compression) itself. It connects on the first export.
func New(ctx context.Context, cfg telemetry.Config) (sdkmetric.Exporter, error) {
	var opts []otlpmetrichttp.Option
	if u := cfg.MetricsURL(); u != "" {
		opts = append(opts, otlpmetrichttp.WithEndpointURL(u))
	}
	return otlpmetrichttp.New(ctx, opts...)
}
