package paymentwebhook

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"sort"
	"strconv"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/playplane/playplane/events"
	"github.com/playplane/playplane/shared/dynamo"
	"github.com/playplane/playplane/shared/emulators"
	"github.com/playplane/playplane/shared/emulators/gcpemu"
	"github.com/playplane/playplane/shared/firestore"
	"github.com/playplane/playplane/shared/playback"
)

// corpusStore opens a fresh, isolated store for one run of the corpus.
type corpusStore struct {
	name  string
	open  func(t *testing.T) harnessStore
	seeds int // shuffled runs, each with its own seed
}

// The cloud stores replay fewer shuffles than bolt: the order logic is the
// same on every store, and one shuffled run on DynamoDB Local or the
// Firestore emulator costs 2.9–3.7 CPU-s under -race, test and emulator
// together (on bolt ~0.8), for what it adds on top of the in-order run:
// the store's own conflicts under four senders and two consumers. Every run starts from another seed (corpusSeed), so
// successive runs replay other orders on every store.
func corpusStores() []corpusStore {
	return []corpusStore{
		{name: "bolt", open: nil, seeds: 16},
		{name: "dynamodb", open: openDynamo, seeds: 4},
		{name: "firestore", open: openFirestore, seeds: 4},
	}
}

// corpusSeed is the first seed of this run's shuffles, PLAYPLANE_CORPUS_SEED
// when set (to replay a failed run: the subtest names carry the seeds),
// else a new one per run.
func corpusSeed(t *testing.T) uint64 {
	t.Helper()
	if v := os.Getenv("PLAYPLANE_CORPUS_SEED"); v != "" {
		seed, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			t.Fatalf("PLAYPLANE_CORPUS_SEED=%q: %v", v, err)
		}
		return seed
	}
	return rand.Uint64() % 1_000_000
}

// openDynamo is a store on a fresh table of DynamoDB Local (shared/emulators).
func openDynamo(t *testing.T) harnessStore {
	t.Helper()
	ctx := context.Background()
	client := dynamodb.New(dynamodb.Options{Region: "us-east-1", BaseEndpoint: aws.String(emulators.DynamoDB(t)),
		Credentials: credentials.NewStaticCredentialsProvider("local", "local", "")})
	table := playback.NewID("pwh")
	s, err := dynamo.New(ctx, dynamo.Config{Table: table}, client)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.CreateTable(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_, _ = client.DeleteTable(context.Background(), &dynamodb.DeleteTableInput{TableName: aws.String(table)})
	})
	return s
}

// openFirestore is a store on the Firestore emulator under its own prefix.
func openFirestore(t *testing.T) harnessStore {
	t.Helper()
	s, err := firestore.New(context.Background(), firestore.Config{ProjectID: "playplane-test",
		CollectionPrefix: playback.NewID("pwh") + "_"}, nil, gcpemu.FirestoreClientOptions(emulators.Firestore(t))...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// TestLifecycleCorpus plays every lifecycle of the corpus on every store,
// once in order and, per seed, shuffled with duplicates from four
// concurrent senders into two consumers, and checks that each account ends
// where Stripe's documentation says and where the in-order replay ends.
func TestLifecycleCorpus(t *testing.T) {
	t.Parallel()
	lifecycles := corpus(t)
	if len(lifecycles) < 13 {
		t.Fatalf("corpus has %d lifecycles", len(lifecycles))
	}
	first := corpusSeed(t)
	t.Logf("shuffles from seed %d (PLAYPLANE_CORPUS_SEED=%d replays their delivery orders; the senders' and consumers' interleaving is the scheduler's)", first, first)
	for _, st := range corpusStores() {
		t.Run(st.name, func(t *testing.T) {
			t.Parallel()
			open := func(t *testing.T) []harnessOption {
				if st.open == nil {
					return nil
				}
				return []harnessOption{withStore(st.open(t))}
			}
			inOrder := playCorpus(t, lifecycles, open(t), nil)
			checkCorpus(t, "in order", lifecycles, inOrder, nil)
			for i := range uint64(st.seeds) {
				seed := first + i
				t.Run(fmt.Sprintf("seed=%d", seed), func(t *testing.T) {
					rng := rand.New(rand.NewPCG(seed, 16))
					got := playCorpus(t, lifecycles, open(t), rng)
					checkCorpus(t, "shuffled", lifecycles, got, inOrder)
				})
			}
		})
	}
}

// playCorpus delivers every lifecycle's events into one fresh harness: in
// true order one at a time when rng is nil, else all of them shuffled
// together with a quarter of them again as duplicates, from four senders
// at once, into two consumers. It returns the accounts once the consumers
// are idle.
func playCorpus(t *testing.T, lifecycles []*lifecycle, opts []harnessOption, rng *rand.Rand) map[string]playback.Account {
	t.Helper()
	// An event of a customer whose checkout.session.completed is still to
	// come parks at once and is woken by the link (LinkWait only trades bus
	// retries for that; the harness bus retries without backoff).
	opts = append(opts, func(c *Config, _ *Deps) { c.LinkWait = 0 })
	h := newHarness(t, opts...)
	var all []signedEvent
	end := base
	for _, l := range lifecycles {
		h.account(l.account)
		all = append(all, l.events...)
		if l.end.After(end) {
			end = l.end
		}
	}
	// Deliveries are signed at the harness clock; the corpus's last
	// moment keeps every signature fresh.
	h.clock.Set(end)
	if rng == nil {
		sort.SliceStable(all, func(i, j int) bool { return all[i].created < all[j].created })
		for _, ev := range all {
			h.run(ev.payload)
		}
	} else {
		ctx, cancel := context.WithCancel(context.Background())
		t.Cleanup(cancel)
		if err := h.bus.Subscribe(ctx, events.TopicStripeEvents, h.srv.HandleStripeEvents); err != nil {
			t.Fatal(err)
		}
		h.deliverShuffled(t, rng, all, len(all)/4)
	}
	// The cloud stand-ins under -race on a shared machine need longer
	// than the harness's settle allows.
	idle, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	if err := h.bus.Idle(idle); err != nil {
		t.Fatal(err)
	}
	if p := h.pending(); len(p) != 0 {
		t.Fatalf("%d events left unprocessed: first %s %s", len(p), p[0].ID, p[0].Type)
	}
	if dead := h.bus.DeadLetters(events.TopicStripeEvents); len(dead) != 0 {
		t.Fatalf("%d events dead-lettered", len(dead))
	}
	out := map[string]playback.Account{}
	for _, l := range lifecycles {
		out[l.account] = h.getAccount(l.account)
	}
	return out
}

// checkCorpus holds every account to its lifecycle's documented end state
// and, when reference is given, to the in-order replay's account.
func checkCorpus(t *testing.T, run string, lifecycles []*lifecycle, got, reference map[string]playback.Account) {
	t.Helper()
	grace := testConfig().PastDueGrace
	for _, l := range lifecycles {
		a := got[l.account]
		entitled := a.Entitled(l.end, grace)
		if a.Status != l.want.status || a.PlanID != l.want.plan || entitled != l.want.entitled {
			t.Errorf("%s, %s: account is %s/%q entitled=%v, Stripe ends %s/%q entitled=%v (sources %v)\nsubscriptions %+v",
				run, l.name, a.Status, a.PlanID, entitled, l.want.status, l.want.plan, l.want.entitled, l.sources, a.Subscriptions)
		}
		if reference != nil {
			if want := stateOf(reference[l.account]); !equalAccounts(want, stateOf(a)) {
				t.Errorf("%s, %s: differs from the in-order replay\nin order: %+v\ngot:      %+v", run, l.name, want, stateOf(a))
			}
		}
	}
}

// TestCorpusIsStripeShaped keeps the corpus honest: every event passes the
// official stripe-go decoder's signature check and carries the fixture's
// full object shape.
func TestCorpusIsStripeShaped(t *testing.T) {
	t.Parallel()
	seen := map[string]bool{}
	types := map[string]bool{} // of the corpus's events
	now := time.Now()
	for _, l := range corpus(t) {
		for _, ev := range l.events {
			if seen[ev.id] {
				t.Fatalf("%s: duplicate event id %s", l.name, ev.id)
			}
			seen[ev.id] = true
			header := fmt.Sprintf("t=%d,v1=%s", now.Unix(), hexSig(now.Unix(), ev.payload, testSecret))
			if !stripeAccepts(ev.payload, header, []string{testSecret}) {
				t.Fatalf("%s: stripe-go refuses event %s", l.name, ev.id)
			}
			env, _ := decodeEnvelope(ev.payload)
			types[env.Type] = true
		}
	}
	for typ := range handledTypes {
		if !types[typ] {
			t.Errorf("the corpus has no %s event", typ)
		}
	}
}
