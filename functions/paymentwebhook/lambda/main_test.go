package main

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/playplane/playplane/events"
	"github.com/playplane/playplane/shared/awsfn/lambdatest"
	"github.com/playplane/playplane/shared/demo"
	"github.com/playplane/playplane/shared/playback"
)

// The function's Lambdas in template.yaml: the webhook route, the
// stripe-events consumer and the scheduled jobs.
const (
	logicalID         = "PaymentWebhookFunction"
	consumerLogicalID = "PaymentWebhookConsumerFunction"
	jobsLogicalID     = "PaymentWebhookJobsFunction"
)

func TestTemplate(t *testing.T) {
	t.Parallel()
	lambdatest.CheckFunction(t, build, lambdatest.SampleVars(t, logicalID))
}

// TestSamples invokes the Lambda with the samples of events/aws/paymentwebhook
// over DynamoDB Local and fauxqs: the webhook records a Stripe event and
// queues it, the consumer applies it and announces the entitlement change,
// and the scheduled sweep finds nothing left over.
func TestSamples(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	backend := lambdatest.NewBackend(t, events.TopicStripeEvents, events.TopicEntitlementChanged)
	if err := demo.Seed(ctx, backend.Store, "https://edge.example", time.Now()); err != nil {
		t.Fatal(err)
	}
	vars := lambdatest.Merge(lambdatest.SampleVars(t, logicalID), backend.Vars)
	h := lambdatest.NewHandler(t, build, vars)
	consumer := lambdatest.NewHandler(t, build, lambdatest.Merge(lambdatest.SampleVars(t, consumerLogicalID), backend.Vars))
	jobs := lambdatest.NewHandler(t, build, lambdatest.Merge(lambdatest.SampleVars(t, jobsLogicalID), backend.Vars))
	sample := lambdatest.Sample(t, "paymentwebhook/stripe-webhook.json")

	// The sample's signature dates it: outside Stripe's tolerance now.
	if resp := lambdatest.InvokeHTTP(t, h, sample); resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("stripe-webhook.json as written: %d %s, want 400", resp.StatusCode, resp.Body)
	}

	// Signed now, with the sample endpoint secret of events/aws/env.json.
	var ev struct {
		Body string `json:"body"`
	}
	if err := json.Unmarshal(sample, &ev); err != nil {
		t.Fatal(err)
	}
	signed := lambdatest.WithHeader(t, sample, "Stripe-Signature", stripeSignature(vars["STRIPE_WEBHOOK_SECRETS"], ev.Body))
	if resp := lambdatest.InvokeHTTP(t, h, signed); resp.StatusCode != http.StatusOK {
		t.Fatalf("signed webhook: %d %s", resp.StatusCode, resp.Body)
	}

	recorded, err := json.Marshal(backend.Receive(t, events.TopicStripeEvents, 1))
	if err != nil {
		t.Fatal(err)
	}
	if got := lambdatest.Failures(lambdatest.InvokeSQS(t, consumer, recorded)); len(got) != 0 {
		t.Fatalf("consuming the recorded event: batch item failures %v", got)
	}
	acct, err := backend.Store.GetAccount(ctx, demo.AccountFamily)
	if err != nil || acct.Status != playback.StatusCanceled {
		t.Fatalf("account after subscription.deleted: %+v, %v", acct, err)
	}
	var changed events.EntitlementChanged
	announced := backend.Receive(t, events.TopicEntitlementChanged, 1)
	if err := json.Unmarshal([]byte(announced.Records[0].Body), &changed); err != nil ||
		changed.AccountID != demo.AccountFamily || changed.Entitled {
		t.Fatalf("entitlement-changed message %s (%v)", announced.Records[0].Body, err)
	}

	// The sample announcement of the same event: already processed, acked.
	if got := lambdatest.Failures(lambdatest.InvokeSQS(t, consumer, lambdatest.Sample(t, "paymentwebhook/stripe-events.json"))); len(got) != 0 {
		t.Errorf("stripe-events.json: batch item failures %v", got)
	}
	if n := backend.Pending(t, events.TopicEntitlementChanged); n != 0 {
		t.Errorf("a processed event was announced again: %d entitlement-changed messages", n)
	}

	var sweep struct {
		Job    string `json:"job"`
		Result int    `json:"result"`
	}
	if err := json.Unmarshal(lambdatest.Invoke(t, jobs, lambdatest.Sample(t, "paymentwebhook/sweep.json")), &sweep); err != nil ||
		sweep.Job != "sweep" || sweep.Result != 0 {
		t.Errorf("sweep.json: %+v (%v), want nothing to republish", sweep, err)
	}
}

// stripeSignature is the Stripe-Signature header Stripe sends now for
// body under the endpoint secret (https://docs.stripe.com/webhooks#verify-manually).
func stripeSignature(secret, body string) string {
	ts := time.Now().Unix()
	mac := hmac.New(sha256.New, []byte(secret))
	fmt.Fprintf(mac, "%d.%s", ts, body)
	return fmt.Sprintf("t=%d,v1=%s", ts, hex.EncodeToString(mac.Sum(nil)))
}

// TestBase64WebhookBody sends the webhook the way an HTTP API may hand it
// over, isBase64Encoded with the body base64
// (https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-develop-integrations-lambda.html),
// here with non-ASCII text in it. Stripe signs the raw bytes it sent
// (https://docs.stripe.com/webhooks#verify-manually): a signature over them
// is accepted and the event queued; one over the base64 text is refused
// and nothing is queued.
func TestBase64WebhookBody(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	backend := lambdatest.NewBackend(t, events.TopicStripeEvents, events.TopicEntitlementChanged)
	if err := demo.Seed(ctx, backend.Store, "https://edge.example", time.Now()); err != nil {
		t.Fatal(err)
	}
	vars := lambdatest.Merge(lambdatest.SampleVars(t, logicalID), backend.Vars)
	h := lambdatest.NewHandler(t, build, vars)
	var ev map[string]any
	if err := json.Unmarshal(lambdatest.Sample(t, "paymentwebhook/stripe-webhook.json"), &ev); err != nil {
		t.Fatal(err)
	}
	raw := strings.Replace(ev["body"].(string), `"application":null`, `"application":null,"description":"Zoë's plan — Fernsehen für 4 €"`, 1)
	if !strings.Contains(raw, "€") {
		t.Fatal("the sample body changed: no place for the non-ASCII text")
	}
	ev["body"], ev["isBase64Encoded"] = base64.StdEncoding.EncodeToString([]byte(raw)), true
	sign := func(signed string) []byte {
		payload, err := json.Marshal(ev)
		if err != nil {
			t.Fatal(err)
		}
		return lambdatest.WithHeader(t, payload, "Stripe-Signature", stripeSignature(vars["STRIPE_WEBHOOK_SECRETS"], signed))
	}

	if resp := lambdatest.InvokeHTTP(t, h, sign(ev["body"].(string))); resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("signed over the base64 text: %d %s, want 400", resp.StatusCode, resp.Body)
	}
	if n := backend.Pending(t, events.TopicStripeEvents); n != 0 {
		t.Fatalf("a refused webhook queued %d stripe events", n)
	}
	if resp := lambdatest.InvokeHTTP(t, h, sign(raw)); resp.StatusCode != http.StatusOK {
		t.Fatalf("signed over the raw bytes: %d %s, want 200", resp.StatusCode, resp.Body)
	}
	var recorded events.StripeEventRecorded
	if err := json.Unmarshal([]byte(backend.Receive(t, events.TopicStripeEvents, 1).Records[0].Body), &recorded); err != nil ||
		recorded.EventID != "evt_1PlayplaneSubDeleted" {
		t.Fatalf("queued stripe event %+v (%v)", recorded, err)
	}
}
