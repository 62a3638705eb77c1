// Package promsink is telemetry's Prometheus sink: a metric reader kept for
// a scrape, and the handler serving it in the Prometheus text format. It
// sits apart from package telemetry so that only the binary serving a
// scrape (the local runner) links the Prometheus client: its package
// initialisation (the client, procfs, runtime/metrics) ran on every Lambda
// cold start that never reads it.
package promsink

import (
	"fmt"
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	otelprom "go.opentelemetry.io/otel/exporters/prometheus"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
)

// New returns a reader on a registry of its own, also reading producers,
// and the handler of that registry, for telemetry.Options.Prometheus.
func New(producers ...sdkmetric.Producer) (sdkmetric.Reader, http.Handler, error) {
	reg := prometheus.NewRegistry()
	opts := []otelprom.Option{otelprom.WithRegisterer(reg), otelprom.WithoutScopeInfo()}
	for _, p := range producers {
		opts = append(opts, otelprom.WithProducer(p))
	}
	exp, err := otelprom.New(opts...)
	if err != nil {
		return nil, nil, fmt.Errorf("telemetry: prometheus exporter: %w", err)
	}
	return exp, promhttp.HandlerFor(reg, promhttp.HandlerOpts{}), nil
}
