package roundtrips_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	gfirestore "cloud.google.com/go/firestore"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	awssqs "github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/sethvargo/go-envconfig"
	"google.golang.org/api/option"

	"github.com/playplane/playplane/events"
	"github.com/playplane/playplane/functions/authorizeplay"
	"github.com/playplane/playplane/functions/heartbeat"
	"github.com/playplane/playplane/functions/pickedge"
	"github.com/playplane/playplane/functions/signurl"
	"github.com/playplane/playplane/shared/auth"
	"github.com/playplane/playplane/shared/cloudfront"
	"github.com/playplane/playplane/shared/demo"
	"github.com/playplane/playplane/shared/dynamo"
	"github.com/playplane/playplane/shared/emulators"
	"github.com/playplane/playplane/shared/emulators/gcpemu"
	"github.com/playplane/playplane/shared/firestore"
	"github.com/playplane/playplane/shared/httpx"
	"github.com/playplane/playplane/shared/playback"
	"github.com/playplane/playplane/shared/pubsub"
	"github.com/playplane/playplane/shared/pubsub/pull"
	"github.com/playplane/playplane/shared/roundtrip"
	"github.com/playplane/playplane/shared/sqs"
	"github.com/playplane/playplane/shared/steering/ranker"
)

const (
	issuer   = "roundtrips"
	audience = "playplane"
	kid      = "k1"
	account  = demo.AccountFamily
	title    = "sintel"
)

// The wire layers: the store's RPCs and the bus's, counted apart.
const (
	layerStore = "store-rpc"
	layerBus   = "bus-rpc"
)

var jwtKey = []byte("roundtrips-test-key-0123456789abcdef")

// cloud is one store and bus pair, its RPCs recorded at the wire.
type cloud struct {
	name  string
	store playback.Store
	bus   playback.Bus
	// another is a new adapter instance over the same data (sharing the
	// client): what a function instance that never served a session has.
	another func() playback.Store
}

func dynamoCloud(t testing.TB) cloud {
	t.Helper()
	ctx := context.Background()
	opts := dynamodb.Options{Region: "us-east-1", BaseEndpoint: aws.String(emulators.DynamoDB(t)),
		Credentials: credentials.NewStaticCredentialsProvider("local", "local", ""), HTTPClient: roundtrip.HTTPClient(layerStore, nil)}
	table := playback.NewID("rt")
	client := dynamodb.New(opts)
	s, err := dynamo.New(ctx, dynamo.Config{Table: table}, client)
	if err != nil {
		t.Fatal(err)
	}
	another := func() playback.Store {
		s, err := dynamo.New(ctx, dynamo.Config{Table: table}, client)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	if err := s.CreateTable(ctx); err != nil {
		t.Fatal(err)
	}
	db := dynamodb.New(opts)
	t.Cleanup(func() {
		_, _ = db.DeleteTable(context.Background(), &dynamodb.DeleteTableInput{TableName: aws.String(table)})
	})
	q, err := sqs.New(ctx, sqs.Config{QueuePrefix: playback.NewID("rt") + "-"}, awssqs.New(awssqs.Options{Region: "us-east-1",
		BaseEndpoint: aws.String(emulators.SQS(t)), Credentials: credentials.NewStaticCredentialsProvider("local", "local", ""),
		HTTPClient: roundtrip.HTTPClient(layerBus, nil)}))
	if err != nil {
		t.Fatal(err)
	}
	if err := q.EnsureQueues(ctx, events.TopicHeartbeats, events.TopicEdgeHealth); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = q.Close() })
	return cloud{name: "DynamoDB + SQS", store: s, bus: q, another: another}
}

func firestoreCloud(t testing.TB) cloud {
	t.Helper()
	ctx := context.Background()
	grpcOpts := func(layer string) (opts []option.ClientOption) {
		for _, o := range roundtrip.DialOptions(layer) {
			opts = append(opts, option.WithGRPCDialOption(o))
		}
		return opts
	}
	cfg := firestore.Config{ProjectID: "playplane-test", CollectionPrefix: playback.NewID("rt") + "_"}
	client, err := gfirestore.NewClient(ctx, cfg.ProjectID, append(gcpemu.FirestoreClientOptions(emulators.Firestore(t)), grpcOpts(layerStore)...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = client.Close() })
	another := func() playback.Store {
		s, err := firestore.New(ctx, cfg, client)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	s := another()
	b, err := pull.New(ctx, pubsub.Config{ProjectID: "playplane-test", TopicPrefix: playback.NewID("rt") + "-"},
		append(gcpemu.PubSubClientOptions(gcpemu.PubSub(t)), grpcOpts(layerBus)...)...)
	if err != nil {
		t.Fatal(err)
	}
	if err := b.EnsureTopics(ctx, events.TopicHeartbeats, events.TopicEdgeHealth); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = b.Close() })
	return cloud{name: "Firestore + Pub/Sub", store: s, bus: b, another: another}
}

// clock is the functions' shared, settable time.
type clock struct{ ns atomic.Int64 }

func (c *clock) now() time.Time      { return time.Unix(0, c.ns.Load()).UTC() }
func (c *clock) add(d time.Duration) { c.ns.Add(int64(d)) }

// rig is the four functions on one cloud, behind one mux.
type rig struct {
	t      testing.TB
	cloud  cloud
	clock  *clock
	tokens *auth.Keyring
	h      http.Handler
	beat   heartbeat.Config
	bus    playback.Bus
	ids    heartbeat.Authenticator
	// signRanking is sign's ranking, for the row that makes it reload.
	signRanking *ranker.Ranker
}

func newRig(t testing.TB, c cloud) *rig {
	t.Helper()
	return newRigWith(t, c, nil)
}

// newRigWith sets authorize play's environment to playVars.
func newRigWith(t testing.TB, c cloud, playVars map[string]string) *rig {
	t.Helper()
	ctx := context.Background()
	r := &rig{t: t, cloud: c, clock: &clock{}, tokens: auth.NewDevKeyring()}
	r.clock.ns.Store(time.Now().UTC().Truncate(time.Second).UnixNano())
	if err := demo.SeedOn(ctx, c.store, map[string]string{demo.CDNCloudFront: "http://edge.test"}, r.clock.now()); err != nil {
		t.Fatal(err)
	}
	verifier, err := auth.NewVerifier(auth.VerifierConfig{Issuer: issuer, Audience: audience,
		HS256Keys: kid + ":" + base64.StdEncoding.EncodeToString(jwtKey), Leeway: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	store, bus := roundtrip.WrapStore(c.store), roundtrip.WrapBus(c.bus)
	mux := http.NewServeMux()
	// The functions as deployed: their settings' defaults (the plan
	// cache's TTL among them), and what a deployment must set.
	env := func(target any, vars map[string]string) {
		t.Helper()
		if err := envconfig.ProcessWith(ctx, &envconfig.Config{Target: target, Lookuper: envconfig.MapLookuper(vars)}); err != nil {
			t.Fatal(err)
		}
	}
	var playCfg authorizeplay.Config
	env(&playCfg, playVars)
	play, err := authorizeplay.New(playCfg,
		authorizeplay.Deps{Store: store, Identity: verifier, Tokens: r.tokens, Now: r.clock.now})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = play.Close() })
	play.Register(mux)

	key, err := cloudfront.GenerateDevKey("K1", cloudfront.ECDSAP256)
	if err != nil {
		t.Fatal(err)
	}
	keys, err := cloudfront.NewKeySet(key.ID, key)
	if err != nil {
		t.Fatal(err)
	}
	signer, err := cloudfront.New(cloudfront.Config{HashAlgorithm: cloudfront.SHA256}, keys)
	if err != nil {
		t.Fatal(err)
	}
	var signCfg signurl.Config
	// Two CDNs, as the local runner has: with one, signurl ranks nothing.
	env(&signCfg, map[string]string{"SIGNURL_DEFAULT_CDN": demo.CDNCloudFront,
		"SIGNURL_CDN_BASES": demo.CDNCloudFront + "=http://edge.test," + demo.CDNCloudCDN + "=http://edge-2.test",
		"PUBLIC_API_URL":    "http://api.test"})
	// Sign starts a session on the steering server's first choice, over
	// its own cached copy of the edge table, as deployed (signurl.Build).
	var rankCfg ranker.Config
	env(&rankCfg, nil)
	r.signRanking, err = ranker.New(rankCfg, ranker.Deps{Store: store, ZoneStore: store, Log: slog.New(slog.DiscardHandler), Now: r.clock.now})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = r.signRanking.Close() })
	sign, err := signurl.New(signCfg, signurl.Deps{Store: store, Tokens: r.tokens,
		Signers: map[string]playback.URLSigner{demo.CDNCloudFront: signer, demo.CDNCloudCDN: signer}, Now: r.clock.now, Steering: r.signRanking})
	if err != nil {
		t.Fatal(err)
	}
	sign.Register(mux)

	env(&r.beat, nil)
	r.bus, r.ids = bus, verifier
	beats, err := heartbeat.New(r.beat, heartbeat.Deps{Store: store, Bus: bus, Tokens: r.tokens, Identity: verifier,
		Log: slog.New(slog.DiscardHandler), Now: r.clock.now})
	if err != nil {
		t.Fatal(err)
	}
	beats.Register(mux)

	var pcfg pickedge.Config
	env(&pcfg, map[string]string{"PICKEDGE_DEFAULT_LAT": "38.9", "PICKEDGE_DEFAULT_LON": "-77.0",
		"EDGE_HMAC_KEYS": pickedge.NewDevEdgeKeys(demo.EdgeIDs()...).Spec()})
	pick, err := pickedge.New(pcfg, pickedge.Deps{Store: store, Bus: bus, Tokens: r.tokens, Log: slog.New(slog.DiscardHandler), Now: r.clock.now})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = pick.Close() })
	pick.Register(mux)
	r.h = httpx.Middleware(slog.New(slog.DiscardHandler), mux)
	return r
}

func (r *rig) jwt(accountID string) string {
	tok, err := auth.MintHS256(kid, jwtKey, issuer, audience, accountID, time.Hour, time.Now())
	if err != nil {
		r.t.Fatal(err)
	}
	return "Bearer " + tok
}

// do serves one request with a fresh Op in its context and returns the
// answer and the Op.
func (r *rig) do(method, path, authz, body string) (*httptest.ResponseRecorder, *roundtrip.Op) {
	op := new(roundtrip.Op)
	req := httptest.NewRequestWithContext(roundtrip.WithOp(context.Background(), op), method, path, strings.NewReader(body))
	if authz != "" {
		req.Header.Set("Authorization", authz)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	rec := httptest.NewRecorder()
	r.h.ServeHTTP(rec, req)
	return rec, op
}

type played struct {
	SessionID     string `json:"session_id"`
	PlaybackToken string `json:"playback_token"`
}

func (r *rig) mustPlay(accountID, device string) (played, *roundtrip.Op) {
	r.t.Helper()
	rec, op := r.do(http.MethodPost, "/v1/play", r.jwt(accountID), fmt.Sprintf(`{"title_id":%q,"device_id":%q}`, title, device))
	if rec.Code != http.StatusCreated {
		r.t.Fatalf("play: %d %s", rec.Code, rec.Body)
	}
	var p played
	if err := json.Unmarshal(rec.Body.Bytes(), &p); err != nil {
		r.t.Fatal(err)
	}
	return p, op
}

func (r *rig) heartbeat(p played) (*httptest.ResponseRecorder, *roundtrip.Op) {
	body := fmt.Sprintf(`{"event":"progress","position_ms":1000,"duration_ms":5400000,"device_time":%q}`,
		r.clock.now().Format(time.RFC3339Nano))
	return r.do(http.MethodPost, "/v1/playback/"+p.SessionID+"/heartbeat", "Bearer "+p.PlaybackToken, body)
}

// coldHeartbeat is a heartbeat served by a new instance of the heartbeat
// function over a new store adapter instance: nothing of the session is
// in its lease cache or its adapter's memo, as when a session's beats
// land on instances that did not serve its earlier ones.
func (r *rig) coldHeartbeat(p played) (*httptest.ResponseRecorder, *roundtrip.Op) {
	r.t.Helper()
	beats, err := heartbeat.New(r.beat, heartbeat.Deps{Store: roundtrip.WrapStore(r.cloud.another()), Bus: r.bus,
		Tokens: r.tokens, Identity: r.ids, Log: slog.New(slog.DiscardHandler), Now: r.clock.now})
	if err != nil {
		r.t.Fatal(err)
	}
	mux := http.NewServeMux()
	beats.Register(mux)
	op := new(roundtrip.Op)
	body := fmt.Sprintf(`{"event":"progress","position_ms":1000,"duration_ms":5400000,"device_time":%q}`,
		r.clock.now().Format(time.RFC3339Nano))
	req := httptest.NewRequestWithContext(roundtrip.WithOp(context.Background(), op), http.MethodPost,
		"/v1/playback/"+p.SessionID+"/heartbeat", strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+p.PlaybackToken)
	req.Header.Set("Content-Type", "application/json")
	rec := httptest.NewRecorder()
	httpx.Middleware(slog.New(slog.DiscardHandler), mux).ServeHTTP(rec, req)
	return rec, op
}

// measure runs a request n times and keeps the median latency and the
// counts of the run with the fewest sequential store steps. Every run makes
// the same calls, but whether calls issued side by side overlap in time is
// up to the scheduler: on a busy machine one may end before the other
// starts and count as a step of its own. The fewest steps seen is what the
// code issues: a stall only ever adds a step, and calls the code makes one
// after the other never overlap. A row whose steps are checked therefore
// runs runs times, not 3: at load 15-19 on 2 cores one admitted play in
// twenty counted a step more.
func measure(t testing.TB, n int, fn func() (int, *roundtrip.Op)) (code int, op *roundtrip.Op, median time.Duration) {
	t.Helper()
	lat := make([]time.Duration, n)
	for i := range n {
		start := time.Now()
		c, o := fn()
		lat[i] = time.Since(start)
		if op == nil || o.Count(layerStore).Sequential <= op.Count(layerStore).Sequential {
			code, op = c, o
		}
	}
	slices.Sort(lat)
	return code, op, lat[n/2]
}

// row is one line of the round-trip table.
type row struct {
	name  string
	code  int
	op    *roundtrip.Op
	p50   time.Duration
	floor time.Duration
}

func (r row) String() string {
	st, bus, publish := r.op.Count(layerStore), r.op.Count(layerBus), r.op.Count(roundtrip.LayerBus)
	return fmt.Sprintf("| %-34s | %d | %d | %d | %d (%d) | %6.2f ms | %5.2f× | %s |", r.name, r.code, st.Sequential, st.Total, publish.Total, bus.Total,
		float64(r.p50.Microseconds())/1000, float64(r.p50)/float64(r.floor), r.op.Names(layerStore))
}

// runs is how many times each request is timed.
const runs = 15

// TestRoundTrips measures every function's requests on each cloud store
// and bus and checks the goals it meets: the store RPCs (sequential and
// total) and bus RPCs of one request, its median latency and that over the
// floor, one GetItem / one Get timed in the same run. Refused requests
// must cost no more than the check that refuses them.
func TestRoundTrips(t *testing.T) {
	for _, mk := range []func(testing.TB) cloud{dynamoCloud, firestoreCloud} {
		c := mk(t)
		t.Run(strings.Fields(c.name)[0], func(t *testing.T) {
			r := newRig(t, c)
			ctx := context.Background()
			var rows []row
			// The floor: GetPlan is one GetItem on DynamoDB, one document
			// read on Firestore.
			_, floorOp, floor := measure(t, runs, func() (int, *roundtrip.Op) {
				op := new(roundtrip.Op)
				if _, err := c.store.GetPlan(roundtrip.WithOp(ctx, op), "basic"); err != nil {
					t.Fatal(err)
				}
				return 0, op
			})
			if got := floorOp.Count(layerStore); got != (roundtrip.Count{Total: 1, Sequential: 1}) {
				t.Fatalf("the floor cost %v (%s), want one read", got, floorOp.Names(layerStore))
			}
			add := func(name string, want int, n int, fn func() (*httptest.ResponseRecorder, *roundtrip.Op)) *roundtrip.Op {
				t.Helper()
				var last *httptest.ResponseRecorder
				code, op, p50 := measure(t, n, func() (int, *roundtrip.Op) {
					rec, op := fn()
					last = rec
					return rec.Code, op
				})
				if code != want {
					t.Fatalf("%s: %d %s, want %d", name, code, last.Body, want)
				}
				rows = append(rows, row{name: name, code: code, op: op, p50: p50, floor: floor})
				return op
			}
			rows = append(rows, row{name: "floor: one GetItem / one Get", op: floorOp, p50: floor, floor: floor})

			// Authorize play on a registered device: the device's previous
			// session is replaced.
			device := playback.NewID("dev")
			p, _ := r.mustPlay(account, device)
			play := add("authorize play", http.StatusCreated, runs, func() (*httptest.ResponseRecorder, *roundtrip.Op) {
				rec, op := r.do(http.MethodPost, "/v1/play", r.jwt(account), fmt.Sprintf(`{"title_id":%q,"device_id":%q}`, title, device))
				if rec.Code == http.StatusCreated {
					_ = json.Unmarshal(rec.Body.Bytes(), &p)
				}
				return rec, op
			})
			// A device's first play registers it in the admission itself.
			// Each run plays on an account of its own, made beforehand:
			// one account reaches its plan's stream limit within a few
			// runs, and the first run also reads the plan into its cache,
			// a step of its own, so a row of 3 runs left 2 to overlap
			// their reads in, which a busy machine can stall both of
			// (measure).
			newcomers := make([]string, runs)
			for i := range newcomers {
				newcomer, err := c.store.GetAccount(ctx, account)
				if err != nil {
					t.Fatal(err)
				}
				newcomer.ID, newcomer.PlanID, newcomer.Devices = playback.NewID("acct"), "premium", nil
				if err := c.store.PutAccount(ctx, newcomer); err != nil {
					t.Fatal(err)
				}
				newcomers[i] = newcomer.ID
			}
			firstPlay := add("authorize play, new device", http.StatusCreated, runs, func() (*httptest.ResponseRecorder, *roundtrip.Op) {
				newcomer := newcomers[0]
				newcomers = newcomers[1:]
				return r.do(http.MethodPost, "/v1/play", r.jwt(newcomer), fmt.Sprintf(`{"title_id":%q,"device_id":%q}`, title, playback.NewID("dev")))
			})
			badToken := add("authorize play, bad token (401)", http.StatusUnauthorized, 3, func() (*httptest.ResponseRecorder, *roundtrip.Op) {
				return r.do(http.MethodPost, "/v1/play", "Bearer nope", fmt.Sprintf(`{"title_id":%q,"device_id":%q}`, title, device))
			})
			forbidden := add("authorize play, canceled (403)", http.StatusForbidden, runs, func() (*httptest.ResponseRecorder, *roundtrip.Op) {
				return r.do(http.MethodPost, "/v1/play", r.jwt(demo.AccountCanceled), fmt.Sprintf(`{"title_id":%q,"device_id":%q}`, title, device))
			})
			// The solo plan streams once: a second registered device is
			// refused at the lease.
			soloA, soloB := playback.NewID("dev"), playback.NewID("dev")
			r.mustPlay(demo.AccountSolo, soloA)
			if rec, _ := r.do(http.MethodPost, "/v1/play", r.jwt(demo.AccountSolo), fmt.Sprintf(`{"title_id":%q,"device_id":%q}`, title, soloB)); rec.Code != http.StatusConflict {
				t.Fatalf("second solo stream: %d %s", rec.Code, rec.Body)
			}
			// As many runs as the admitted play it is held to: a refusal
			// writes nothing, so every run is the same refusal.
			conflict := add("authorize play, stream limit (409)", http.StatusConflict, runs, func() (*httptest.ResponseRecorder, *roundtrip.Op) {
				return r.do(http.MethodPost, "/v1/play", r.jwt(demo.AccountSolo), fmt.Sprintf(`{"title_id":%q,"device_id":%q}`, title, soloB))
			})

			sign := add("sign", http.StatusOK, runs, func() (*httptest.ResponseRecorder, *roundtrip.Op) {
				return r.do(http.MethodPost, "/v1/playback/"+p.SessionID+"/urls", "Bearer "+p.PlaybackToken, "{}")
			})
			// Once every PICKEDGE_REFRESH the ranking reloads the edge
			// table: beside the session's reads, not after them.
			signStale := add("sign, edge table reloaded", http.StatusOK, runs, func() (*httptest.ResponseRecorder, *roundtrip.Op) {
				r.signRanking.Invalidate()
				return r.do(http.MethodPost, "/v1/playback/"+p.SessionID+"/urls", "Bearer "+p.PlaybackToken, "{}")
			})
			signBad := add("sign, bad token (401)", http.StatusUnauthorized, 3, func() (*httptest.ResponseRecorder, *roundtrip.Op) {
				return r.do(http.MethodPost, "/v1/playback/"+p.SessionID+"/urls", "Bearer nope", "{}")
			})

			// Edges are read into a table refreshed in the background: a
			// pick reads the session only.
			r.do(http.MethodPost, "/v1/playback/"+p.SessionID+"/edges", "Bearer "+p.PlaybackToken, "")
			pick := add("pick edge", http.StatusOK, runs, func() (*httptest.ResponseRecorder, *roundtrip.Op) {
				return r.do(http.MethodPost, "/v1/playback/"+p.SessionID+"/edges", "Bearer "+p.PlaybackToken, "")
			})

			inside := add("heartbeat, inside the write slack", http.StatusOK, runs, func() (*httptest.ResponseRecorder, *roundtrip.Op) {
				return r.heartbeat(p)
			})
			outside := add("heartbeat, outside the write slack", http.StatusOK, runs, func() (*httptest.ResponseRecorder, *roundtrip.Op) {
				// Every beat comes after the slack: the lease is renewed.
				r.clock.add(r.beat.LeaseRenewSlack + time.Second)
				return r.heartbeat(p)
			})
			// The same, on an instance that never served the session.
			coldInside := add("heartbeat, inside, cold instance", http.StatusOK, runs, func() (*httptest.ResponseRecorder, *roundtrip.Op) {
				return r.coldHeartbeat(p)
			})
			coldOutside := add("heartbeat, outside, cold instance", http.StatusOK, runs, func() (*httptest.ResponseRecorder, *roundtrip.Op) {
				r.clock.add(r.beat.LeaseRenewSlack + time.Second)
				return r.coldHeartbeat(p)
			})
			beatBad := add("heartbeat, bad token (401)", http.StatusUnauthorized, 3, func() (*httptest.ResponseRecorder, *roundtrip.Op) {
				return r.do(http.MethodPost, "/v1/playback/"+p.SessionID+"/heartbeat", "Bearer nope", "{}")
			})

			var b strings.Builder
			fmt.Fprintf(&b, "\n%s (store RPCs sequential / total; publishes, and in brackets the bus RPCs made in the request; median of %d; ÷ floor)\n", c.name, runs)
			b.WriteString("| request | status | store seq | store total | publish (bus RPCs) | p50 | ÷ floor | store RPCs |\n")
			for _, row := range rows {
				b.WriteString(row.String() + "\n")
			}
			t.Log(b.String())

			// Refused requests cost no more than the check that refuses
			// them: a bad token is refused before any read, a canceled
			// account by its account read, a full plan by the lease.
			for name, op := range map[string]*roundtrip.Op{"play": badToken, "sign": signBad, "heartbeat": beatBad} {
				if n := op.Count(layerStore).Total + op.Count(layerBus).Total; n != 0 {
					t.Errorf("%s with a bad token made %d RPCs (%s)", name, n, op.Names(""))
				}
			}
			if got := forbidden.Count(layerStore); got.Sequential > 1 {
				t.Errorf("a canceled account's play cost %v store RPCs (%s), more than its account read", got, forbidden.Names(layerStore))
			}
			if got, admitted := conflict.Count(layerStore).Sequential, play.Count(layerStore).Sequential; got > admitted {
				t.Errorf("a refused play cost %d sequential store RPCs, more than an admitted one (%d)", got, admitted)
			}
			for _, op := range []*roundtrip.Op{play, firstPlay} {
				if got := op.Count(layerStore); got.Sequential > 2 {
					t.Errorf("authorize play cost %v store RPCs (%s), want at most two round trips", got, op.Names(layerStore))
				}
			}
			// Heartbeats on the instance that served the session's last
			// one: none inside the slack (its lease cache), the renewal's
			// one conditional write outside it (its adapter's memo).
			if got := inside.Count(layerStore); got.Total > 0 {
				t.Errorf("a heartbeat inside the slack cost %v store RPCs (%s)", got, inside.Names(layerStore))
			}
			if got := signStale.Count(layerStore); got.Sequential > 1 || got.Total < 2 {
				t.Errorf("sign reloading the edge table cost %v store RPCs (%s), want the reload beside one round trip",
					got, signStale.Names(layerStore))
			}
			if got := sign.Count(layerStore); got.Sequential > 1 {
				t.Errorf("sign cost %v store RPCs (%s), want one round trip", got, sign.Names(layerStore))
			}
			if got := pick.Count(layerStore); got.Total > 1 {
				t.Errorf("pick edge cost %v store RPCs (%s), want the session read only", got, pick.Names(layerStore))
			}
			if got := outside.Count(layerStore); got.Total > 1 {
				t.Errorf("a heartbeat outside the slack cost %v store RPCs (%s), want one write", got, outside.Names(layerStore))
			}
			// On an instance that never served the session. DynamoDB
			// renews on the slot the playback token names, in one
			// conditional transaction, inside the slack (refused, nothing
			// written: the lease is fresh) and outside it alike. Firestore
			// cannot condition a write on the slot without reading its
			// revision first (shared/firestore RenewHeldLease): it reads
			// the session and the slot the token names side by side, then
			// commits.
			wantColdOutside := 2
			if strings.HasPrefix(c.name, "DynamoDB") {
				wantColdOutside = 1
			}
			if got := coldInside.Count(layerStore); got.Total != 1 {
				t.Errorf("a cold heartbeat inside the slack cost %v store RPCs (%s), want one", got, coldInside.Names(layerStore))
			}
			if got := coldOutside.Count(layerStore); got.Sequential > wantColdOutside {
				t.Errorf("a cold heartbeat outside the slack cost %v store RPCs (%s), want %d", got, coldOutside.Names(layerStore), wantColdOutside)
			}
		})
	}
}
