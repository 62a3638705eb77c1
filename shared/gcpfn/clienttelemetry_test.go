package gcpfn_test

import (
	"context"
	"io"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	vkit "cloud.google.com/go/pubsub/v2/apiv1"
	"cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"
	"github.com/sethvargo/go-envconfig"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/playplane/playplane/functions/catalog"
	"github.com/playplane/playplane/shared/emulators/gcpemu"
	"github.com/playplane/playplane/shared/gcpfn"
	"github.com/playplane/playplane/shared/telemetry"
)

// GCP_CLIENT_TELEMETRY=false (the catalogue's setting) turns off both
// kinds of the Google client libraries' own spans in a deploy unit: the
// gRPC transport's of every
// Firestore and Pub/Sub RPC (the clients' options) and the Firestore
// library's of every operation (a tracer telemetry.Setup leaves silent);
// unset or true, both record, as the libraries do by default. The
// Firestore client is pointed at a closed port: the operation fails, and
// its spans are started all the same. Not parallel: Setup sets the
// globals.
func TestClientTelemetrySettingReachesTheLibraries(t *testing.T) {
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
			vars := map[string]string{telemetry.EnvGoogleCloudProject: "p"}
			if tc.value != "" {
				vars[catalog.SettingGCPClientTelemetry] = tc.value
			}
			r := gcpfn.NewResources(gcpfn.Options{
				Lookuper:         envconfig.MapLookuper(vars),
				Log:              slog.New(slog.NewTextHandler(io.Discard, nil)),
				FirestoreOptions: gcpemu.DeployedClientOptions("127.0.0.1:1"),
				PubSubOptions:    gcpemu.DeployedClientOptions(gcpemu.PubSub(t)),
			})
			t.Cleanup(func() { _ = r.Close() })
			exp := tracetest.NewInMemoryExporter()
			opts := r.Telemetry("test")
			opts.SpanExporter = exp
			p, err := telemetry.Setup(context.Background(), opts)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = p.Shutdown(context.Background()) })

			store, err := r.Store(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(t.Context(), 300*time.Millisecond)
			defer cancel()
			if _, err := store.GetPlan(ctx, "basic"); err == nil {
				t.Fatal("a plan read from a closed port")
			}
			pub, err := vkit.NewTopicAdminClient(t.Context(), r.PubSubOptions()...)
			if err != nil {
				t.Fatal(err)
			}
			defer pub.Close()
			if _, err := pub.CreateTopic(t.Context(), &pubsubpb.Topic{Name: "projects/p/topics/t"}); err != nil {
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
				slices.Contains(names, "google.pubsub.v1.Publisher/CreateTopic")
			if got != tc.want || (!tc.want && len(names) > 0) {
				t.Errorf("spans %q: want the libraries' and the transport's: %v", names, tc.want)
			}
		})
	}
}
