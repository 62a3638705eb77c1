package heartbeat_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	lambdaevents "github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	awssqs "github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/playplane/playplane/events"
	"github.com/playplane/playplane/functions/heartbeat"
	"github.com/playplane/playplane/shared/auth"
	"github.com/playplane/playplane/shared/awsfn/lambdatest"
	_ "github.com/playplane/playplane/shared/awsfn/sqsbus" // the Lambda publishes to SQS, as its main links
	"github.com/playplane/playplane/shared/demo"
	"github.com/playplane/playplane/shared/deployedtest"
	"github.com/playplane/playplane/shared/fnenv"
	"github.com/playplane/playplane/shared/playback"
	"github.com/playplane/playplane/shared/telemetry/otlptest"
)

// BenchmarkHandlerTelemetryDeployed is BenchmarkHandlerTelemetry with the
// function as each cloud runs it (deployedtest), under its deployed
// sampler (parentbased_traceidratio at the catalogue's ratio): on AWS its
// HTTP Lambda invoked with an HTTP API event, reading the lease from
// DynamoDB Local and sending the message to fauxqs (SQS), metrics as EMF
// lines; on GCP its HTTP entry point over the Firestore emulator,
// publishing to a Pub/Sub fake, metrics pushed as to Cloud Monitoring. Each
// invocation flushes as the platforms' glue does. The queue or topic is
// emptied between chunks (untimed). The emulators and the fake run in
// processes of their own, so "cpu-on/off" counts the function's CPU and not
// theirs. PLAYPLANE_OVERHEAD_RATIOS adds the same sampler at those ratios
// (0: nothing recorded). It needs the emulators
// infra/local/with-emulators.sh serves.
func BenchmarkHandlerTelemetryDeployed(b *testing.B) {
	build := fnenv.Erase(heartbeat.Build)
	for _, s := range otlptest.WithRatios(otlptest.HeartbeatSampler()) {
		b.Run("aws/"+s.Name, func(b *testing.B) {
			fn := deployedtest.NewAWS(b, build, "HeartbeatFunction", events.TopicHeartbeats)
			id, tok := deployedSession(b, fn.Backend.Store, fn.Keyring)
			var ev lambdaevents.APIGatewayV2HTTPRequest
			if err := json.Unmarshal(lambdatest.Sample(b, "heartbeat/heartbeat.json"), &ev); err != nil {
				b.Fatal(err)
			}
			ev.RawPath = "/v1/playback/" + id + "/heartbeat"
			ev.RequestContext.HTTP.Path = ev.RawPath
			ev.Headers["authorization"] = "Bearer " + tok
			ev.Body = deployedBeat("@DEVICE_TIME@")
			payload, err := json.Marshal(ev)
			if err != nil {
				b.Fatal(err)
			}
			before, after, _ := bytes.Cut(payload, []byte("@DEVICE_TIME@"))
			queue := aws.String(fn.Backend.QueueURLs[events.TopicHeartbeats])
			otlptest.OverheadSink(b, fn.Env(s), fn.Telemetry, func() {
				p := append(append(append(make([]byte, 0, len(payload)+8), before...), time.Now().UTC().Format(time.RFC3339Nano)...), after...)
				out, err := fn.Handler.Invoke(context.Background(), p)
				if err != nil || !bytes.Contains(out, []byte(`"statusCode":200`)) {
					b.Fatalf("%s %v", out, err)
				}
			}, func() {
				if _, err := fn.Backend.SQS.PurgeQueue(context.Background(), &awssqs.PurgeQueueInput{QueueUrl: queue}); err != nil {
					b.Fatal(err)
				}
			}, nil)
		})
		b.Run("gcp/"+s.Name, func(b *testing.B) {
			fn := deployedtest.NewGCP(b, "heartbeat", build)
			id, tok := deployedSession(b, fn.Store, fn.Keyring)
			path := "/v1/playback/" + id + "/heartbeat"
			otlptest.OverheadSink(b, fn.Env(s), fn.Telemetry, func() {
				req := httptest.NewRequest(http.MethodPost, path, strings.NewReader(deployedBeat(time.Now().UTC().Format(time.RFC3339Nano))))
				req.Header.Set("Authorization", "Bearer "+tok)
				req.Header.Set("Content-Type", "application/json")
				rec := httptest.NewRecorder()
				fn.Handler.ServeHTTP(rec, req)
				if rec.Code != http.StatusOK {
					b.Fatalf("%d %s", rec.Code, rec.Body)
				}
			}, func() { fn.PubSub.Clear(b) }, fn.Mode)
		})
	}
}

// deployedSession admits a session of the demo family in store and returns
// its id and playback token.
func deployedSession(b *testing.B, store playback.Store, ring *auth.Keyring) (string, string) {
	b.Helper()
	now := time.Now()
	id := playback.NewID("ses")
	l := playback.LeaseRequest{SessionID: id, AccountID: demo.AccountFamily, DeviceID: "bench-tv", TitleID: "sintel",
		Limit: 2, TTL: 2 * time.Minute, Now: now}
	if _, err := store.AcquireLease(context.Background(), l); err != nil {
		b.Fatal(err)
	}
	tok, err := ring.Issue(auth.PlaybackClaims{SessionID: id, AccountID: l.AccountID, TitleID: l.TitleID, DeviceID: l.DeviceID,
		IssuedAt: now, ExpiresAt: now.Add(4 * time.Hour)})
	if err != nil {
		b.Fatal(err)
	}
	return id, tok
}

// deployedBeat is BenchmarkHandlerTelemetry's heartbeat body at a device
// time.
func deployedBeat(deviceTime string) string {
	return `{"event":"progress","position_ms":1000,"duration_ms":5400000,"device_time":"` + deviceTime +
		`","qoe":{"br":5800,"bl":21000,"mtp":48000,"rc":1,"rd":900,"pd":1000,"cdn":"local","edge":"fra-1"}}`
}
