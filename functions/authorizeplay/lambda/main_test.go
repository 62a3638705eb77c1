package main

import (
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/playplane/playplane/events"
	"github.com/playplane/playplane/shared/awsfn/lambdatest"
	"github.com/playplane/playplane/shared/demo"
	"github.com/playplane/playplane/shared/playback"
)

// The function's Lambdas in template.yaml: its routes, and the consumer of
// entitlement-changed.
const (
	logicalID         = "AuthorizePlayFunction"
	consumerLogicalID = "AuthorizePlayConsumerFunction"
)

func TestTemplate(t *testing.T) {
	t.Parallel()
	lambdatest.CheckFunction(t, build, lambdatest.SampleVars(t, logicalID))
}

// TestSamples invokes the Lambda with every sample of events/aws/authorizeplay
// over DynamoDB Local and fauxqs, in the order a client would send them.
func TestSamples(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	backend := lambdatest.NewBackend(t, events.TopicEntitlementChanged)
	now := time.Now()
	if err := demo.Seed(ctx, backend.Store, "https://edge.example", now); err != nil {
		t.Fatal(err)
	}
	// end-session.json ends a session of the family on its other device;
	// entitlement-changed.json must end the session a canceled account still holds.
	for _, l := range []playback.LeaseRequest{
		{SessionID: "ses_sample_authorize", AccountID: demo.AccountFamily, DeviceID: "kitchen-tablet", TitleID: "sintel"},
		{SessionID: "ses_sample_canceled", AccountID: demo.AccountCanceled, DeviceID: "old-phone", TitleID: "sintel"},
	} {
		l.Limit, l.TTL, l.Now = 2, 2*time.Minute, now
		if _, err := backend.Store.AcquireLease(ctx, l); err != nil {
			t.Fatal(err)
		}
	}
	h := lambdatest.NewHandler(t, build, lambdatest.Merge(lambdatest.SampleVars(t, logicalID), backend.Vars))

	var play struct {
		SessionID     string `json:"session_id"`
		PlaybackToken string `json:"playback_token"`
	}
	var listed struct {
		Sessions []struct {
			SessionID string `json:"session_id"`
			DeviceID  string `json:"device_id"`
		} `json:"sessions"`
	}
	httpTests := []struct {
		sample     string
		wantStatus int
		check      func(t *testing.T, body []byte)
	}{
		{sample: "play.json", wantStatus: http.StatusCreated, check: func(t *testing.T, body []byte) {
			if err := json.Unmarshal(body, &play); err != nil || !strings.HasPrefix(play.SessionID, "ses_") || play.PlaybackToken == "" {
				t.Errorf("play answered %s (%v)", body, err)
			}
		}},
		{sample: "list-sessions.json", wantStatus: http.StatusOK, check: func(t *testing.T, body []byte) {
			if err := json.Unmarshal(body, &listed); err != nil {
				t.Fatal(err)
			}
			var ids []string
			for _, s := range listed.Sessions {
				ids = append(ids, s.SessionID)
			}
			want := []string{play.SessionID, "ses_sample_authorize"}
			slices.Sort(ids)
			slices.Sort(want)
			if !slices.Equal(ids, want) {
				t.Errorf("sessions %v, want %v", ids, want)
			}
		}},
		{sample: "end-session.json", wantStatus: http.StatusOK, check: func(t *testing.T, _ []byte) {
			s, err := backend.Store.GetSession(ctx, "ses_sample_authorize")
			if err != nil || s.EndReason != playback.EndByUser {
				t.Errorf("session after DELETE: %+v, %v", s, err)
			}
		}},
	}
	for _, tt := range httpTests {
		resp := lambdatest.InvokeHTTP(t, h, lambdatest.Sample(t, "authorizeplay/"+tt.sample))
		if resp.StatusCode != tt.wantStatus || resp.Headers["Content-Type"] != "application/json" {
			t.Fatalf("%s: %d %s %s, want %d", tt.sample, resp.StatusCode, resp.Headers["Content-Type"], resp.Body, tt.wantStatus)
		}
		tt.check(t, []byte(resp.Body))
	}

	consumer := lambdatest.NewHandler(t, build, lambdatest.Merge(lambdatest.SampleVars(t, consumerLogicalID), backend.Vars))
	resp := lambdatest.InvokeSQS(t, consumer, lambdatest.Sample(t, "authorizeplay/entitlement-changed.json"))
	if got := lambdatest.Failures(resp); len(got) != 0 {
		t.Errorf("entitlement-changed.json: batch item failures %v", got)
	}
	if s, err := backend.Store.GetSession(ctx, "ses_sample_canceled"); err != nil || s.EndReason != playback.EndEntitlement {
		t.Errorf("canceled account's session: %+v, %v; want ended for entitlement", s, err)
	}
	if s, err := backend.Store.GetSession(ctx, play.SessionID); err != nil || !s.Active(time.Now()) {
		t.Errorf("the entitled family's session: %+v, %v; want it still playing", s, err)
	}
}

// TestInitFailsWithoutItsSettings checks that a Lambda missing its secrets
// is not built, and says which setting it misses.
func TestInitFailsWithoutItsSettings(t *testing.T) {
	t.Parallel()
	vars := lambdatest.SampleVars(t, logicalID)
	for _, name := range []string{"DYNAMO_TABLE", "PLAYBACK_TOKEN_KEYS", "JWT_ISSUER"} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			without := lambdatest.Merge(vars)
			delete(without, name)
			if err := lambdatest.InitError(build, without); err == nil || !strings.Contains(err.Error(), name) {
				t.Errorf("init without %s: %v", name, err)
			}
		})
	}
}
