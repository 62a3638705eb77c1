package pubsubbus_test

import (
	"context"
	"log/slog"
	"strings"
	"testing"

	"github.com/sethvargo/go-envconfig"

	"github.com/playplane/playplane/shared/emulators/gcpemu"
	"github.com/playplane/playplane/shared/gcpfn"
	"github.com/playplane/playplane/shared/gcpfn/pubsubbus"
)

// resources has Pub/Sub client options for an address where nothing
// listens: making a bus sends nothing.
func resources(vars map[string]string, bus gcpfn.BusMaker) *gcpfn.Resources {
	return gcpfn.NewResources(gcpfn.Options{Lookuper: envconfig.MapLookuper(vars), Log: slog.New(slog.DiscardHandler), Bus: bus,
		PubSubOptions: gcpemu.PubSubClientOptions("127.0.0.1:1")})
}

func TestBusConfigFromPubSubTopics(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name        string
		vars        map[string]string
		wantProject string
		wantPrefix  string
		wantErr     bool
	}{
		{name: "stack topics", vars: map[string]string{"PUBSUB_TOPICS": "heartbeats:projects/p1/topics/pp-dev-heartbeats, edge-health:projects/p1/topics/pp-dev-edge-health"},
			wantProject: "p1", wantPrefix: "pp-dev-"},
		{name: "no prefix", vars: map[string]string{"PUBSUB_TOPICS": "heartbeats:projects/p1/topics/heartbeats"}, wantProject: "p1"},
		{name: "plain variables", vars: map[string]string{"PUBSUB_PROJECT_ID": "p2", "PUBSUB_TOPIC_PREFIX": "x-"}, wantProject: "p2", wantPrefix: "x-"},
		{name: "project from GOOGLE_CLOUD_PROJECT", vars: map[string]string{"GOOGLE_CLOUD_PROJECT": "p3"}, wantProject: "p3"},
		{name: "agreeing explicit project", vars: map[string]string{"PUBSUB_PROJECT_ID": "p1", "PUBSUB_TOPICS": "heartbeats:projects/p1/topics/heartbeats"}, wantProject: "p1"},
		{name: "two projects", vars: map[string]string{"PUBSUB_TOPICS": "heartbeats:projects/p1/topics/heartbeats,edge-health:projects/p2/topics/edge-health"}, wantErr: true},
		{name: "two prefixes", vars: map[string]string{"PUBSUB_TOPICS": "heartbeats:projects/p1/topics/a-heartbeats,edge-health:projects/p1/topics/b-edge-health"}, wantErr: true},
		{name: "id without the topic", vars: map[string]string{"PUBSUB_TOPICS": "heartbeats:projects/p1/topics/beats"}, wantErr: true},
		{name: "not a resource name", vars: map[string]string{"PUBSUB_TOPICS": "heartbeats:pp-heartbeats"}, wantErr: true},
		{name: "disagreeing explicit prefix", vars: map[string]string{"PUBSUB_TOPIC_PREFIX": "y-", "PUBSUB_TOPICS": "heartbeats:projects/p1/topics/x-heartbeats"}, wantErr: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			cfg, err := pubsubbus.Config(context.Background(), resources(tc.vars, nil))
			if (err != nil) != tc.wantErr {
				t.Fatalf("err = %v, want error %v", err, tc.wantErr)
			}
			if err == nil && (cfg.ProjectID != tc.wantProject || cfg.TopicPrefix != tc.wantPrefix) {
				t.Fatalf("project %q prefix %q, want %q %q", cfg.ProjectID, cfg.TopicPrefix, tc.wantProject, tc.wantPrefix)
			}
		})
	}
}

// The resources make the bus with Make, once, and a configuration it
// refuses fails the getter by name.
func TestResourcesMakeTheBusWithMake(t *testing.T) {
	t.Parallel()
	res := resources(map[string]string{"PUBSUB_TOPICS": "heartbeats:projects/p1/topics/pp-heartbeats"}, pubsubbus.Make)
	t.Cleanup(func() { _ = res.Close() })
	one, err := res.Bus(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	two, err := res.Bus(context.Background())
	if err != nil || one != two {
		t.Fatalf("second Bus = %v, %v: want the same bus", two, err)
	}

	bad := resources(map[string]string{"PUBSUB_TOPICS": "heartbeats:pp-heartbeats"}, pubsubbus.Make)
	if _, err := bad.Bus(context.Background()); err == nil || !strings.Contains(err.Error(), "PUBSUB_TOPICS") {
		t.Fatalf("Bus with a malformed PUBSUB_TOPICS: %v", err)
	}
}
