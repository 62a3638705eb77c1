// Package gcpclient holds what every process that makes Google Cloud
// clients reads about them, on whichever platform it runs: the Cloud
// Functions of shared/gcpfn and the hybrid stack's Lambda over Firestore
// and Pub/Sub (functions/paymentwebhook/lambdahybrid). It links nothing
// of either platform.
package gcpclient

import (
	"fmt"
	"strconv"

	"google.golang.org/api/option"

	"github.com/playplane/playplane/functions/catalog"
)

// EnvTelemetry, "false", turns off the Google client libraries' own
// telemetry: the span and duration the gRPC transport records of every
// Firestore and Pub/Sub RPC (option.WithTelemetryDisabled), and the span
// the Firestore library starts for every operation (librariesTracer, left
// silent). Unset or "true", both record through the OpenTelemetry
// globals, as the libraries do by default (catalog.SettingGCPClientTelemetry).
const EnvTelemetry = catalog.SettingGCPClientTelemetry

// librariesTracer is the tracer the cloud.google.com/go libraries start
// their own spans with, from the global provider
// (cloud.google.com/go/internal/trace.OpenTelemetryTracerName); no client
// option turns them off.
const librariesTracer = "cloud.google.com/go"

// Telemetry is what EnvTelemetry asks of a process's Google clients.
type Telemetry struct {
	// ClientOptions go to every client the process makes, after its own.
	ClientOptions []option.ClientOption
	// SilentTracers go to the process's telemetry.Options.SilentTracers.
	SilentTracers []string
}

// ReadTelemetry reads EnvTelemetry through lookup. A value that is neither
// true nor false is an error and leaves the libraries' default, which the
// returned Telemetry keeps: the stack refuses such a value, and a function
// that would not start over it would be down for a tracing preference.
func ReadTelemetry(lookup func(string) (string, bool)) (Telemetry, error) {
	v, _ := lookup(EnvTelemetry)
	if v == "" {
		return Telemetry{}, nil
	}
	on, err := strconv.ParseBool(v)
	switch {
	case err != nil:
		return Telemetry{}, fmt.Errorf("gcpclient.ReadTelemetry: client library telemetry stays on: %s=%q is neither true nor false", EnvTelemetry, v)
	case on:
		return Telemetry{}, nil
	}
	return Telemetry{
		ClientOptions: []option.ClientOption{option.WithTelemetryDisabled()},
		SilentTracers: []string{librariesTracer},
	}, nil
}
