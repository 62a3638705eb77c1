package main

import (
	"context"
	"io"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sethvargo/go-envconfig"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/playplane/playplane/events"
	"github.com/playplane/playplane/functions/catalog"
	"github.com/playplane/playplane/shared/awsfn"
	"github.com/playplane/playplane/shared/emulators/gcpemu"
	"github.com/playplane/playplane/shared/telemetry"
)

// GCP_CLIENT_TELEMETRY=false (the catalogue's setting, which the hybrid
// stack gives this Lambda) turns off the Google client libraries' own
// spans here as on Cloud Functions: the gRPC transport's of every
// Firestore and Pub/Sub RPC (the clients' options) and the Firestore
// library's of every operation (a tracer the Lambda's telemetry leaves
// silent); unset or true, both record. The Firestore client is pointed at
// a closed port: the operation fails, and its spans are started all the
// same. Not parallel: Setup sets the globals.
func TestClientTelemetrySettingReachesTheClients(t *testing.T) {
	tp0 := otel.GetTracerProvider()
	t.Cleanup(func() { otel.SetTracerProvider(tp0) })
	for _, tc := range []struct {
		name, value string
		want        bool
	}{
		{name: "unset", want: true},
		{name: "true", value: "true", want: true},
		{name: "false", value: "false", want: false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			vars := hybridVars(t, "127.0.0.1:1", gcpemu.PubSub(t))
			if tc.value != "" {
				vars[catalog.SettingGCPClientTelemetry] = tc.value
			}
			// What main passes to awsfn.Main.
			exp := tracetest.NewInMemoryExporter()
			opts := awsfn.Telemetry("test", io.Discard, silentTracers(envconfig.MapLookuper(vars).Lookup)...)
			opts.SpanExporter = exp
			p, err := telemetry.Setup(context.Background(), opts)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = p.Shutdown(context.Background()) })

			env := awsfn.NewEnv(testOptions(vars))
			store, err := newStore(t.Context(), env)
			if err != nil {
				t.Fatal(err)
			}
			defer store.Close()
			ctx, cancel := context.WithTimeout(t.Context(), 300*time.Millisecond)
			defer cancel()
			if _, err := store.GetPlan(ctx, "basic"); err == nil {
				t.Fatal("a plan read from a closed port")
			}
			bus, err := newBus(t.Context(), env)
			if err != nil {
				t.Fatal(err)
			}
			defer bus.Close()
			if err := bus.EnsureTopics(t.Context(), events.TopicStripeEvents); err != nil {
				t.Fatal(err)
			}
			if err := p.Flush(context.Background()); err != nil {
				t.Fatal(err)
			}
			var names []string
			for _, s := range exp.GetSpans() {
				names = append(names, s.Name)
			}
			got := slices.Contains(names, "cloud.google.com/go/firestore.DocumentRef.Get") &&
				slices.ContainsFunc(names, func(n string) bool { return strings.HasPrefix(n, "google.firestore.v1.Firestore/") }) &&
				slices.ContainsFunc(names, func(n string) bool { return strings.HasPrefix(n, "google.pubsub.v1.Publisher/") })
			if got != tc.want || (!tc.want && len(names) > 0) {
				t.Errorf("spans %q: want the libraries' and the transport's: %v", names, tc.want)
			}
		})
	}
}
