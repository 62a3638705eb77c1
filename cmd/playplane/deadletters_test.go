package main

import (
	"bytes"
	"context"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	vkit "cloud.google.com/go/pubsub/v2/apiv1"
	"cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"

	"github.com/playplane/playplane/events"
	"github.com/playplane/playplane/shared/bolt"
	"github.com/playplane/playplane/shared/emulators/gcpemu"
	"github.com/playplane/playplane/shared/membus"
	"github.com/playplane/playplane/shared/playback"
	"github.com/playplane/playplane/shared/pubsub/push"
	"github.com/playplane/playplane/shared/walbus"
)

// TestRedriveAfterKilledRunnerHandlesDeadLettersOnce leaves a heartbeat
// dead-lettered in the data directory's journal, as a runner whose
// consumer failed it five times does, and starts the runner binary: the
// dead letter stays dead, and `playplane redrive` is refused while the
// runner holds the directory. With the runner killed (SIGKILL, by its
// PID), `playplane deadletters` lists it and `playplane redrive` moves it
// back, a second one nothing; the next start handles it (the resume
// position it carries), and after that the journal holds nothing of it.
func TestRedriveAfterKilledRunnerHandlesDeadLettersOnce(t *testing.T) {
	t.Parallel()
	bin := buildRunner(t)
	dir := t.TempDir()
	ctx := context.Background()
	cfg := Config{DataDir: dir, Issuer: "playplane-local", Audience: "playplane", Sync: true}
	const account, title = "acct_redrive", "sintel"

	store, err := bolt.Open(filepath.Join(dir, "playplane.db"))
	if err != nil {
		t.Fatal(err)
	}
	if err := store.PutAccount(ctx, playback.Account{ID: account, PlanID: "premium", Status: playback.StatusActive, Territory: "DE"}); err != nil {
		t.Fatal(err)
	}
	if err := store.Close(); err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC().Truncate(time.Millisecond)
	beat := events.Heartbeat{SessionID: "ses_redrive", AccountID: account, TitleID: title, DeviceID: "tv", Event: "progress",
		PositionMS: 42_000, DurationMS: 5_400_000, DeviceTime: now, ReceivedAt: now, SessionStartedAt: now.Add(-time.Minute)}
	data, err := beat.AppendJSON(nil)
	if err != nil {
		t.Fatal(err)
	}
	journal, err := walbus.Open(filepath.Join(dir, "bus.wal"))
	if err != nil {
		t.Fatal(err)
	}
	bus, err := membus.NewWithJournal(membus.Config{MaxAttempts: 2, RetryDelay: time.Millisecond}, journal)
	if err != nil {
		t.Fatal(err)
	}
	failing, stop := context.WithCancel(ctx)
	if err := bus.Subscribe(failing, events.TopicHeartbeats, func(_ context.Context, msgs []playback.Message) (retry []string) {
		for _, m := range msgs {
			retry = append(retry, m.ID)
		}
		return retry
	}); err != nil {
		t.Fatal(err)
	}
	if err := bus.Publish(ctx, events.TopicHeartbeats, playback.Message{OrderingKey: beat.SessionID, Data: data}); err != nil {
		t.Fatal(err)
	}
	idle, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := bus.Idle(idle); err != nil {
		t.Fatal(err)
	}
	stop()
	dead := bus.DeadLetters(events.TopicHeartbeats)
	if len(dead) != 1 {
		t.Fatalf("dead letters %+v, want the heartbeat", dead)
	}
	bus.Close()
	if err := journal.Close(); err != nil {
		t.Fatal(err)
	}

	token, err := DevToken(cfg, account, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	position := func(url string) int64 {
		t.Helper()
		c := &crashClient{url: url, http: &http.Client{Timeout: 10 * time.Second}}
		var got struct {
			PositionMS int64 `json:"position_ms"`
		}
		code, err := c.call("GET", "/v1/progress?title_id="+title, token, "", &got)
		if err != nil || code != http.StatusOK && code != http.StatusNotFound {
			t.Fatalf("progress: %d %v", code, err)
		}
		return got.PositionMS
	}
	cli := func(args ...string) (string, error) {
		var out bytes.Buffer
		handled, err := subcommand(ctx, cfg, args, &out)
		if !handled {
			t.Fatalf("%v: not a subcommand", args)
		}
		return out.String(), err
	}

	run := startRunner(t, bin, dir)
	if _, err := cli("redrive", "--topic", events.TopicHeartbeats); err == nil || !strings.Contains(err.Error(), "stop it first") {
		t.Fatalf("redrive beside a running runner: %v, want refused", err)
	}
	if p := position(run.url); p != 0 {
		t.Fatalf("resume position %d before the redrive: the dead letter was delivered", p)
	}
	run.kill()

	out, err := cli("deadletters")
	if err != nil || !strings.Contains(out, dead[0].ID) || !strings.Contains(out, events.TopicHeartbeats) {
		t.Fatalf("deadletters: %v\n%s", err, out)
	}
	if _, err := cli("redrive", "--topic", "heartbeat"); err == nil || !strings.Contains(err.Error(), events.TopicHeartbeats) {
		t.Fatalf("redrive of an unknown topic: %v, want refused with the topics", err)
	}
	if out, err := cli("redrive", "--topic", events.TopicHeartbeats); err != nil || !strings.Contains(out, "1 dead letter") {
		t.Fatalf("redrive: %v\n%s", err, out)
	}
	if out, err := cli("redrive", "--topic", events.TopicHeartbeats); err != nil || !strings.Contains(out, "0 dead letter") {
		t.Fatalf("second redrive: %v\n%s", err, out)
	}
	if out, err := cli("deadletters"); err != nil || strings.Contains(out, dead[0].ID) {
		t.Fatalf("deadletters after the redrive: %v\n%s", err, out)
	}

	run = startRunner(t, bin, dir)
	deadline := time.Now().Add(10 * time.Second)
	for position(run.url) != beat.PositionMS {
		if time.Now().After(deadline) {
			t.Fatalf("resume position %d after the redrive, want %d; stderr:\n%s", position(run.url), beat.PositionMS, run.log())
		}
		time.Sleep(20 * time.Millisecond)
	}
	run.stop()
	journal, err = walbus.Open(filepath.Join(dir, "bus.wal"))
	if err != nil {
		t.Fatal(err)
	}
	defer journal.Close()
	if err := journal.Load(func(topic string, pending, dead []playback.Message) {
		if topic == events.TopicHeartbeats && len(pending)+len(dead) > 0 {
			t.Errorf("after the redriven run the journal holds %d pending, %d dead heartbeats", len(pending), len(dead))
		}
	}); err != nil {
		t.Fatal(err)
	}
}

// TestRedrivePubSubRepublishesFromTheStacksDeadLetterSubscription runs
// `playplane redrive --bus pubsub` on a Pub/Sub fake laid out as the
// stacks lay it out (PUBSUB_TOPICS; the dead-letter subscription named as
// its topic, PREFIX-TOPIC-dlq): the dead letter is on the topic again,
// under its playplane id, and a second run republishes nothing.
func TestRedrivePubSubRepublishesFromTheStacksDeadLetterSubscription(t *testing.T) {
	addr := gcpemu.PubSub(t)
	t.Setenv("PUBSUB_EMULATOR_HOST", addr)
	t.Setenv("PUBSUB_TOPICS", "heartbeats:projects/playplane-test/topics/pp-heartbeats")
	ctx := context.Background()
	opts := gcpemu.PubSubClientOptions(addr)
	topics, err := vkit.NewTopicAdminClient(ctx, opts...)
	if err != nil {
		t.Fatal(err)
	}
	defer topics.Close()
	subs, err := vkit.NewSubscriptionAdminClient(ctx, opts...)
	if err != nil {
		t.Fatal(err)
	}
	defer subs.Close()
	const project = "projects/playplane-test/"
	for _, id := range []string{"pp-heartbeats", "pp-heartbeats-dlq"} {
		if _, err := topics.CreateTopic(ctx, &pubsubpb.Topic{Name: project + "topics/" + id}); err != nil {
			t.Fatal(err)
		}
		if _, err := subs.CreateSubscription(ctx, &pubsubpb.Subscription{Name: project + "subscriptions/" + id, Topic: project + "topics/" + id}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := topics.Publish(ctx, &pubsubpb.PublishRequest{Topic: project + "topics/pp-heartbeats-dlq", Messages: []*pubsubpb.PubsubMessage{
		{Data: []byte(`{}`), Attributes: map[string]string{push.AttrID: "msg_dead", "CloudPubSubDeadLetterSourceDeliveryCount": "5"}},
	}}); err != nil {
		t.Fatal(err)
	}
	cfg := Config{DataDir: t.TempDir()}
	for i, want := range []string{"heartbeats: 1 dead letter(s) republished", "heartbeats: 0 dead letter(s) republished"} {
		var out bytes.Buffer
		if _, err := subcommand(ctx, cfg, []string{"redrive", "--bus", "pubsub", "--topic", "heartbeats"}, &out); err != nil || !strings.Contains(out.String(), want) {
			t.Fatalf("redrive %d: %v\n%s", i+1, err, out.String())
		}
	}
	resp, err := subs.Pull(ctx, &pubsubpb.PullRequest{Subscription: project + "subscriptions/pp-heartbeats", MaxMessages: 10})
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.ReceivedMessages) != 1 || resp.ReceivedMessages[0].Message.Attributes[push.AttrID] != "msg_dead" {
		t.Fatalf("on the topic after the redrive: %v, want msg_dead", resp.ReceivedMessages)
	}
}
