package authorizeplay_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/playplane/playplane/functions/authorizeplay"
	"github.com/playplane/playplane/shared/awsfn/lambdatest"
	"github.com/playplane/playplane/shared/demo"
	"github.com/playplane/playplane/shared/deployedtest"
	"github.com/playplane/playplane/shared/fnenv"
	"github.com/playplane/playplane/shared/telemetry/otlptest"
)

// BenchmarkAuthorizePlayTelemetryDeployed is BenchmarkAuthorizePlayTelemetry
// with the function as each cloud runs it (deployedtest), under its
// deployed sampler (the default: every play recorded): on AWS its Lambda
// invoked with the play.json sample over DynamoDB Local, metrics as EMF
// lines; on GCP its HTTP entry point over the Firestore emulator, the
// caller's RS256 token checked against a key set, metrics pushed as to
// Cloud Monitoring. Each invocation flushes its spans and metrics before
// it returns, as the platforms' glue does. The emulators run in processes
// of their own, so "cpu-on/off" counts the function's CPU, the store's
// client included, and not the store's. PLAYPLANE_OVERHEAD_RATIOS adds the
// heartbeat's sampler at those ratios (0: everything but a recorded span).
// It needs the emulators infra/local/with-emulators.sh serves.
func BenchmarkAuthorizePlayTelemetryDeployed(b *testing.B) {
	build := fnenv.Erase(authorizeplay.Build)
	for _, s := range otlptest.WithRatios(otlptest.DefaultSampler) {
		b.Run("aws/"+s.Name, func(b *testing.B) {
			fn := deployedtest.NewAWS(b, build, "AuthorizePlayFunction")
			play := lambdatest.Sample(b, "authorizeplay/play.json")
			otlptest.OverheadSink(b, fn.Env(s), fn.Telemetry, func() {
				out, err := fn.Handler.Invoke(context.Background(), play)
				if err != nil || !bytes.Contains(out, []byte(`"statusCode":201`)) {
					b.Fatalf("%s %v", out, err)
				}
			}, nil, nil)
		})
		b.Run("gcp/"+s.Name, func(b *testing.B) {
			fn := deployedtest.NewGCP(b, "authorizeplay", build)
			token := fn.CallerToken(b, demo.AccountFamily)
			body := sampleBody(b, "authorizeplay/play.json")
			otlptest.OverheadSink(b, fn.Env(s), fn.Telemetry, func() {
				req := httptest.NewRequest(http.MethodPost, "/v1/play", strings.NewReader(body))
				req.Header.Set("Authorization", "Bearer "+token)
				req.Header.Set("Content-Type", "application/json")
				rec := httptest.NewRecorder()
				fn.Handler.ServeHTTP(rec, req)
				if rec.Code != http.StatusCreated {
					b.Fatalf("%d %s", rec.Code, rec.Body)
				}
			}, nil, fn.Mode)
		})
	}
}

// sampleBody is the body of an HTTP API sample of events/aws, for the
// same request on GCP.
func sampleBody(b *testing.B, name string) string {
	var ev struct {
		Body string `json:"body"`
	}
	if err := json.Unmarshal(lambdatest.Sample(b, name), &ev); err != nil {
		b.Fatal(err)
	}
	return ev.Body
}
