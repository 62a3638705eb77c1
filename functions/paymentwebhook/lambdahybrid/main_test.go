package main

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/sethvargo/go-envconfig"

	"github.com/playplane/playplane/events"
	"github.com/playplane/playplane/functions/paymentwebhook"
	"github.com/playplane/playplane/shared/awsfn"
	"github.com/playplane/playplane/shared/awsfn/lambdatest"
	"github.com/playplane/playplane/shared/emulators"
	"github.com/playplane/playplane/shared/emulators/gcpemu"
)

const (
	testProject = "playplane-test"
	testPrefix  = "playplane-hybrid-"
	sampleEvent = "evt_1PlayplaneSubDeleted"
)

// federationConfig is the shape of the stack's GCP_CREDENTIALS_JSON: an
// external_account that exchanges the Lambda's AWS role credentials.
const federationConfig = `{"type":"external_account",` +
	`"audience":"//iam.googleapis.com/projects/123/locations/global/workloadIdentityPools/pool/providers/aws",` +
	`"subject_token_type":"urn:ietf:params:aws:token-type:aws4_request",` +
	`"token_url":"https://sts.googleapis.com/v1/token",` +
	`"service_account_impersonation_url":"https://iamcredentials.googleapis.com/v1/projects/-/serviceAccounts/pw@p.iam.gserviceaccount.com:generateAccessToken",` +
	`"credential_source":{"environment_id":"aws1","regional_cred_verification_url":"https://sts.{region}.amazonaws.com?Action=GetCallerIdentity&Version=2011-06-15"}}`

// hybridVars is the environment the hybrid stack gives the webhook Lambda,
// pointed at the emulators, with the sample secrets of events/aws/env.json.
func hybridVars(t *testing.T, firestoreHost, pubsubHost string) map[string]string {
	sample := lambdatest.SampleVars(t, "PaymentWebhookFunction")
	topics := []string{}
	for _, topic := range []string{events.TopicStripeEvents, events.TopicEntitlementChanged} {
		topics = append(topics, fmt.Sprintf("%s:projects/%s/topics/%s%s", topic, testProject, testPrefix, topic))
	}
	return map[string]string{
		"STRIPE_WEBHOOK_SECRETS":      sample["STRIPE_WEBHOOK_SECRETS"],
		"STRIPE_PRICE_PLANS":          sample["STRIPE_PRICE_PLANS"],
		"PAST_DUE_GRACE":              "72h",
		"FIRESTORE_PROJECT_ID":        testProject,
		"FIRESTORE_DATABASE":          "(default)",
		"FIRESTORE_COLLECTION_PREFIX": fmt.Sprintf("lambdahybrid%d_", time.Now().UnixNano()),
		"PUBSUB_TOPICS":               strings.Join(topics, ","),
		awsfn.EnvTrigger:              string(awsfn.TriggerHTTP),
		// The emulators win over the credentials, as in the client libraries.
		EnvCredentialsJSON:   federationConfig,
		EnvFirestoreEmulator: firestoreHost,
		EnvPubSubEmulator:    pubsubHost,
	}
}

func testOptions(vars map[string]string) awsfn.Options {
	return awsfn.Options{Lookuper: envconfig.MapLookuper(vars), Log: slog.New(slog.NewJSONHandler(io.Discard, nil))}
}

// TestWebhookOverFirestoreAndPubSub invokes the Lambda with the Stripe
// webhook sample: it records the event in Firestore and publishes it on the
// stripe-events topic, once however often Stripe delivers it.
func TestWebhookOverFirestoreAndPubSub(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	fake := gcpemu.PubSubServer(t)
	vars := hybridVars(t, emulators.Firestore(t), fake.Addr)
	env := awsfn.NewEnv(testOptions(vars))

	// The stack creates the topics; here the bus the Lambda uses does.
	setup, err := newBus(ctx, env)
	if err != nil {
		t.Fatal(err)
	}
	if err := setup.EnsureTopics(ctx, events.TopicStripeEvents); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = setup.Close() })
	store, err := newStore(ctx, env)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = store.Close() })

	h, err := awsfn.New(ctx, build, testOptions(vars))
	if err != nil {
		t.Fatal(err)
	}
	sample := lambdatest.Sample(t, "paymentwebhook/stripe-webhook.json")

	// The sample's signature dates it: outside Stripe's tolerance now.
	if resp := lambdatest.InvokeHTTP(t, h, sample); resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("stripe-webhook.json as written: %d %s, want 400", resp.StatusCode, resp.Body)
	}

	var ev struct {
		Body string `json:"body"`
	}
	if err := json.Unmarshal(sample, &ev); err != nil {
		t.Fatal(err)
	}
	ts := time.Now().Unix()
	mac := hmac.New(sha256.New, []byte(vars["STRIPE_WEBHOOK_SECRETS"]))
	fmt.Fprintf(mac, "%d.%s", ts, ev.Body)
	signed := lambdatest.WithHeader(t, sample, "Stripe-Signature", fmt.Sprintf("t=%d,v1=%s", ts, hex.EncodeToString(mac.Sum(nil))))
	if resp := lambdatest.InvokeHTTP(t, h, signed); resp.StatusCode != http.StatusOK {
		t.Fatalf("signed webhook: %d %s", resp.StatusCode, resp.Body)
	}

	recorded, err := store.GetEvent(ctx, paymentwebhook.Source, sampleEvent)
	if err != nil {
		t.Fatalf("the event is not in Firestore: %v", err)
	}
	if recorded.Type != "customer.subscription.deleted" || !recorded.ProcessedAt.IsZero() || len(recorded.Payload) == 0 {
		t.Errorf("recorded %+v, want an unprocessed customer.subscription.deleted with its payload", recorded)
	}

	topicPath := fmt.Sprintf("projects/%s/topics/%s%s", testProject, testPrefix, events.TopicStripeEvents)
	var published []events.StripeEventRecorded
	for _, m := range fake.Messages() {
		if m.Topic != topicPath {
			t.Errorf("published to %s, want only %s", m.Topic, topicPath)
			continue
		}
		var got events.StripeEventRecorded
		if err := json.Unmarshal(m.Data, &got); err != nil {
			t.Fatalf("message %s: %v", m.Data, err)
		}
		published = append(published, got)
	}
	if len(published) != 1 || published[0].EventID != sampleEvent || published[0].Type != recorded.Type {
		t.Fatalf("published %+v, want one announcement of %s", published, sampleEvent)
	}
}

// TestRefusesWhatRunsOnGCP: the consumer and the jobs are GCP's in the
// hybrid stack. A Lambda told to serve them fails every invocation, clearly,
// without building clients; a webhook request when the environment cannot
// build the function gets a 500 without killing the execution environment.
func TestRefusesWhatRunsOnGCP(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		vars    map[string]string
		payload []byte
		want    string // in the invocation error, or else in a 500 body
	}{
		{name: "consumer", vars: map[string]string{awsfn.EnvTrigger: "queue", awsfn.EnvTopic: events.TopicStripeEvents},
			payload: lambdatest.Sample(t, "paymentwebhook/stripe-events.json"), want: "consumer and the jobs run on GCP"},
		{name: "sweep job", vars: map[string]string{awsfn.EnvTrigger: "job"},
			payload: lambdatest.Sample(t, "paymentwebhook/sweep.json"), want: "refusing PLAYPLANE_TRIGGER=job"},
		{name: "not json", vars: map[string]string{awsfn.EnvTrigger: "http"}, payload: []byte("nope"), want: "invalid character"},
		{name: "webhook without configuration", vars: map[string]string{awsfn.EnvTrigger: "http"},
			payload: lambdatest.Sample(t, "paymentwebhook/stripe-webhook.json"), want: `"reason":"function_unavailable"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h, err := awsfn.New(context.Background(), build, testOptions(tc.vars))
			if err != nil {
				t.Fatal(err)
			}
			out, err := h.Invoke(context.Background(), tc.payload)
			var resp struct {
				StatusCode int    `json:"statusCode"`
				Body       string `json:"body"`
			}
			_ = json.Unmarshal(out, &resp)
			switch {
			case err != nil && !strings.Contains(err.Error(), tc.want):
				t.Fatalf("Invoke: %v, want an error containing %q", err, tc.want)
			case err == nil && (resp.StatusCode != http.StatusInternalServerError || !strings.Contains(resp.Body, tc.want)):
				t.Fatalf("answered %s, want a 500 containing %q", out, tc.want)
			}
		})
	}
}

// TestCredentials: the clients take the federation config, build offline
// (the token exchange happens on the first RPC), and refuse any other kind
// of credentials without quoting them.
func TestCredentials(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	for _, tc := range []struct {
		name    string
		creds   string
		wantErr string
	}{
		{name: "workload identity federation", creds: federationConfig},
		{name: "service account key", creds: `{"type":"service_account","private_key":"SECRET"}`, wantErr: `type "service_account"`},
		{name: "not json", creds: "SECRET", wantErr: "GCP_CREDENTIALS_JSON is not JSON"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			vars := map[string]string{
				"FIRESTORE_PROJECT_ID": testProject,
				"PUBSUB_TOPICS":        "stripe-events:projects/" + testProject + "/topics/" + testPrefix + "stripe-events",
				EnvCredentialsJSON:     tc.creds,
			}
			env := awsfn.NewEnv(testOptions(vars))
			store, storeErr := newStore(ctx, env)
			bus, busErr := newBus(ctx, env)
			if store != nil {
				_ = store.Close()
			}
			if bus != nil {
				_ = bus.Close()
			}
			for _, err := range []error{storeErr, busErr} {
				switch {
				case tc.wantErr == "" && err != nil:
					t.Errorf("build: %v", err)
				case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
					t.Errorf("build: %v, want an error containing %q", err, tc.wantErr)
				case err != nil && strings.Contains(err.Error(), "SECRET"):
					t.Errorf("the error quotes the credentials: %v", err)
				}
			}
		})
	}
}
