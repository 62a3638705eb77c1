package gcp

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"log/slog"
	"maps"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"
	"github.com/sethvargo/go-envconfig"

	"github.com/playplane/playplane/events"
	"github.com/playplane/playplane/functions/catalog"
	"github.com/playplane/playplane/functions/pickedge"
	"github.com/playplane/playplane/shared/auth"
	"github.com/playplane/playplane/shared/cloudcdn"
	"github.com/playplane/playplane/shared/emulators"
	"github.com/playplane/playplane/shared/emulators/gcpemu"
	"github.com/playplane/playplane/shared/gcpfn"
	"github.com/playplane/playplane/shared/gcpfn/pubsubbus"
	"github.com/playplane/playplane/shared/playback"
)

const testProject = "playplane-test"

// The deploy unit registers, for each catalogue function, exactly the entry
// points the stacks deploy: its HTTP entry point, one per consumed topic and
// its jobs entry point.
func TestFunctionsMatchTheCatalog(t *testing.T) {
	t.Parallel()
	if _, err := gcpfn.NewSet(gcpfn.NewResources(gcpfn.Options{}), Functions...); err != nil {
		t.Fatal(err)
	}
	if len(Functions) != len(catalog.Functions) {
		t.Errorf("%d functions registered, the catalogue deploys %d", len(Functions), len(catalog.Functions))
	}
	for i, fn := range catalog.Functions {
		if i >= len(Functions) {
			break
		}
		want := []string{fn.GCPEntryPoint}
		for _, c := range slices.SortedFunc(slices.Values(fn.Consumes), func(a, b catalog.Consumer) int { return strings.Compare(a.Topic, b.Topic) }) {
			want = append(want, c.GCPEntryPoint)
		}
		if fn.GCPJobsEntryPoint != "" {
			want = append(want, fn.GCPJobsEntryPoint)
		}
		if got := Functions[i]; got.Name != fn.Name || !slices.Equal(got.EntryPoints(), want) {
			t.Errorf("%s registers %v, the catalogue deploys %s %v", got.Name, got.EntryPoints(), fn.Name, want)
		}
	}
}

// TestLinksOnlyGCPAdapters keeps the deploy unit free of the AWS SDK and of
// the other platforms' adapters.
func TestLinksOnlyGCPAdapters(t *testing.T) {
	t.Parallel()
	out, err := exec.Command("go", "list", "-deps", ".").Output()
	if err != nil {
		t.Fatal(err)
	}
	forbidden := []string{"github.com/aws/", "go.etcd.io/bbolt", "github.com/pulumi/",
		"github.com/playplane/playplane/shared/bolt", "github.com/playplane/playplane/shared/dynamo",
		"github.com/playplane/playplane/shared/sqs", "github.com/playplane/playplane/shared/membus",
		"github.com/playplane/playplane/shared/awsfn", "github.com/playplane/playplane/shared/lambdahttp",
		"github.com/playplane/playplane/shared/emulators"}
	// The CloudFront URL signer is not an AWS adapter: the hybrid stack
	// runs signurl on GCP for video on CloudFront. Its AWS module is the
	// standard-library-only signing package.
	allowed := []string{"github.com/aws/aws-sdk-go-v2/feature/cloudfront/sign"}
	var gcp bool
	for pkg := range strings.FieldsSeq(string(out)) {
		if slices.Contains(allowed, pkg) {
			continue
		}
		for _, f := range forbidden {
			if pkg == f || strings.HasPrefix(pkg, f) && (strings.HasSuffix(f, "/") || strings.HasPrefix(pkg, f+"/")) {
				t.Errorf("links %s", pkg)
			}
		}
		gcp = gcp || pkg == "github.com/playplane/playplane/shared/firestore"
	}
	if !gcp {
		t.Fatal("does not link the Firestore adapter: the dependency list is not what this test thinks")
	}
}

// testEnv is a deployment's environment on the emulators: what the stack
// and Secret Manager set, with local values.
type testEnv struct {
	vars      map[string]string
	jwtKey    []byte
	keyring   *auth.Keyring
	firestore string
	pubsub    string
}

func newTestEnv(t testing.TB) *testEnv {
	t.Helper()
	jwtKey := bytes.Repeat([]byte{7}, 32)
	ring := auth.NewDevKeyring()
	e := &testEnv{jwtKey: jwtKey, keyring: ring, firestore: emulators.Firestore(t), pubsub: gcpemu.PubSub(t)}
	prefix := playback.NewID("t") + "_"
	e.vars = map[string]string{
		"GOOGLE_CLOUD_PROJECT":        testProject,
		"FIRESTORE_COLLECTION_PREFIX": prefix,
		"PUBSUB_TOPICS":               topicsVar(prefix),
		"JWT_ISSUER":                  "test-issuer",
		"JWT_AUDIENCE":                "playplane",
		"JWT_HS256_KEYS":              "k1:" + encodeKey(jwtKey),
		"PLAYBACK_TOKEN_KEYS":         ring.Spec(),
		"STRIPE_WEBHOOK_SECRETS":      "whsec_test",
		"STRIPE_PRICE_PLANS":          "price_std=standard",
		"CDN":                         "cloudcdn",
		"CDN_BASE_URL":                "https://cdn.example.com",
		"CLOUDCDN_KEYS":               "k1=env:CLOUDCDN_SIGNING_KEY",
		"CLOUDCDN_ACTIVE_KEY_NAME":    "k1",
		"CLOUDCDN_SIGNING_KEY":        cloudcdn.EncodeKey(cloudcdn.GenerateDevKey("k1").Secret),
		"EDGE_HMAC_KEYS":              pickedge.NewDevEdgeKeys("fra-1").Spec(),
	}
	return e
}

func topicsVar(prefix string) string {
	var pairs []string
	for _, topic := range events.Topics {
		pairs = append(pairs, topic+":projects/"+testProject+"/topics/"+prefix+topic)
	}
	return strings.Join(pairs, ",")
}

func encodeKey(k []byte) string { return base64.StdEncoding.EncodeToString(k) }

func (e *testEnv) set(t testing.TB) *gcpfn.Set {
	t.Helper()
	res := gcpfn.NewResources(gcpfn.Options{
		Lookuper:         envconfig.MapLookuper(e.vars),
		Log:              slog.New(slog.DiscardHandler),
		FirestoreOptions: gcpemu.FirestoreClientOptions(e.firestore),
		PubSubOptions:    gcpemu.PubSubClientOptions(e.pubsub),
		Bus:              pubsubbus.Make,
	})
	t.Cleanup(func() { _ = res.Close() })
	s, err := gcpfn.NewSet(res, Functions...)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestEveryFunctionBuildsOnTheGCPAdapters(t *testing.T) {
	t.Parallel()
	env := newTestEnv(t)
	set := env.set(t)
	if err := set.Build(context.Background()); err != nil {
		t.Fatal(err)
	}
	// A real request through an HTTP entry point: the caller's sessions,
	// read from the Firestore emulator.
	h, _ := set.HTTPHandler("AuthorizePlay")
	tok, err := auth.MintHS256("k1", env.jwtKey, "test-issuer", "playplane", "acct_nobody", time.Minute, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	req := httptest.NewRequest("GET", "/v1/sessions", nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	if w.Code != 200 || strings.TrimSpace(w.Body.String()) != `{"sessions":[]}` {
		t.Fatalf("GET /v1/sessions: %d %s", w.Code, w.Body)
	}
	// The device routes are mounted too: the account is not stored, so
	// it lists none, as its sessions.
	req = httptest.NewRequest("GET", "/v1/devices", nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	w = httptest.NewRecorder()
	h.ServeHTTP(w, req)
	if w.Code != 200 || strings.TrimSpace(w.Body.String()) != `{"devices":[]}` {
		t.Fatalf("GET /v1/devices: %d %s", w.Code, w.Body)
	}
}

// A function's deploy unit has a bus only when its catalogue entry
// publishes (functions/gcp/source): each function that publishes nothing
// builds without one, and each that publishes asks for it, so an entry
// that forgot a topic fails here rather than on its first request.
func TestOnlyFunctionsThatPublishNeedTheBus(t *testing.T) {
	t.Parallel()
	env := newTestEnv(t)
	for i, fn := range catalog.Functions {
		t.Run(fn.Name, func(t *testing.T) {
			t.Parallel()
			res := gcpfn.NewResources(gcpfn.Options{
				Lookuper:         envconfig.MapLookuper(env.vars),
				Log:              slog.New(slog.DiscardHandler),
				FirestoreOptions: gcpemu.FirestoreClientOptions(env.firestore),
			})
			t.Cleanup(func() { _ = res.Close() })
			set, err := gcpfn.NewSet(res, Functions[i])
			if err != nil {
				t.Fatal(err)
			}
			err = set.Build(context.Background())
			switch publishes := len(fn.Publishes) > 0; {
			case !publishes && err != nil:
				t.Fatalf("publishes nothing, but does not build without a bus: %v", err)
			case publishes && (err == nil || !strings.Contains(err.Error(), "publish nothing")):
				t.Fatalf("publishes %v, but built without a bus: %v", fn.Publishes, err)
			}
		})
	}
}

func TestMissingConfigurationIsNamed(t *testing.T) {
	t.Parallel()
	env := newTestEnv(t)
	delete(env.vars, "PLAYBACK_TOKEN_KEYS")
	delete(env.vars, "STRIPE_PRICE_PLANS")
	err := env.set(t).Build(context.Background())
	for _, want := range []string{"authorizeplay", "PLAYBACK_TOKEN_KEYS", "STRIPE_PRICE_PLANS"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("build error %v does not name %s", err, want)
		}
	}
}

// decoders decode a message of each topic strictly into its events type;
// the consumer entry point of a topic is the catalogue's.
var decoders = map[string]func([]byte) error{
	events.TopicEntitlementChanged: strictInto[events.EntitlementChanged],
	events.TopicHeartbeats:         strictInto[events.Heartbeat],
	events.TopicStripeEvents:       strictInto[events.StripeEventRecorded],
	events.TopicEdgeHealth:         strictInto[events.EdgeHealth],
}

func strictInto[T any](data []byte) error {
	var v T
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	return dec.Decode(&v)
}

// pushMessage is the message of a push body or of a CloudEvent's data.
type pushMessage struct {
	Message struct {
		Data        []byte            `json:"data"`
		Attributes  map[string]string `json:"attributes"`
		MessageID   string            `json:"messageId"`
		PublishTime time.Time         `json:"publishTime"`
		OrderingKey string            `json:"orderingKey"`
	} `json:"message"`
	Subscription string `json:"subscription"`
}

func readSample(t *testing.T, name string) []byte {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("..", "..", "events", "gcp", name))
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

// TestSamplesReachTheConsumers checks events/gcp: each push body and
// CloudEvent carries a valid message of its topic, the two forms agree, and
// the CloudEvent is acknowledged by its consumer entry point.
func TestSamplesReachTheConsumers(t *testing.T) {
	t.Parallel()
	set := newTestEnv(t).set(t)
	var consumers []catalog.Consumer
	for _, fn := range catalog.Functions {
		consumers = append(consumers, fn.Consumes...)
	}
	for _, s := range consumers {
		t.Run(s.Topic, func(t *testing.T) {
			t.Parallel()
			decode, ok := decoders[s.Topic]
			if !ok {
				t.Fatalf("no events type for topic %s: add it to decoders", s.Topic)
			}
			var push pushMessage
			if err := json.Unmarshal(readSample(t, s.Topic+".push.json"), &push); err != nil {
				t.Fatal(err)
			}
			if err := decode(push.Message.Data); err != nil {
				t.Fatalf("push message data: %v", err)
			}
			var e event.Event
			if err := json.Unmarshal(readSample(t, s.Topic+".cloudevent.json"), &e); err != nil {
				t.Fatal(err)
			}
			if err := e.Validate(); err != nil {
				t.Fatal(err)
			}
			var ce pushMessage
			if err := json.Unmarshal(e.Data(), &ce); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(ce.Message.Data, push.Message.Data) || ce.Message.MessageID != push.Message.MessageID ||
				!maps.Equal(ce.Message.Attributes, push.Message.Attributes) || e.ID() != push.Message.MessageID {
				t.Fatalf("the CloudEvent and the push body carry different messages")
			}
			consume, ok := set.CloudEventHandler(s.GCPEntryPoint)
			if !ok {
				t.Fatalf("no entry point %s", s.GCPEntryPoint)
			}
			if err := consume(context.Background(), e); err != nil {
				t.Fatalf("%s asked to redeliver the sample: %v", s.GCPEntryPoint, err)
			}
		})
	}
}

// TestConsumerRedeliversWhenTheStoreIsDown: a retry can help, so the entry
// point fails and Pub/Sub redelivers.
func TestConsumerRedeliversWhenTheStoreIsDown(t *testing.T) {
	t.Parallel()
	env := newTestEnv(t)
	env.firestore = "127.0.0.1:1"
	consume, _ := env.set(t).CloudEventHandler("AuthorizePlayConsumer")
	var e event.Event
	if err := json.Unmarshal(readSample(t, "entitlement-changed.cloudevent.json"), &e); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := consume(ctx, e); err == nil {
		t.Fatal("acknowledged a message it could not apply")
	}
}
