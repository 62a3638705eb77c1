package roundtrip

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"

	"github.com/playplane/playplane/shared/bolt"
	"github.com/playplane/playplane/shared/membus"
	"github.com/playplane/playplane/shared/playback"
)

func at(ms int) time.Time { return time.Unix(0, 0).Add(time.Duration(ms) * time.Millisecond) }

func TestCountMergesOverlappingCalls(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		calls [][2]int // start, end in ms
		want  Count
	}{
		{name: "none", want: Count{}},
		{name: "one", calls: [][2]int{{0, 5}}, want: Count{Total: 1, Sequential: 1}},
		{name: "back to back", calls: [][2]int{{0, 5}, {5, 9}, {10, 12}}, want: Count{Total: 3, Sequential: 3}},
		{name: "three in parallel", calls: [][2]int{{0, 5}, {1, 4}, {2, 8}}, want: Count{Total: 3, Sequential: 1}},
		{name: "parallel then one", calls: [][2]int{{0, 5}, {1, 7}, {8, 9}}, want: Count{Total: 3, Sequential: 2}},
		{name: "chained overlap", calls: [][2]int{{0, 5}, {4, 10}, {9, 12}}, want: Count{Total: 3, Sequential: 1}},
		{name: "unordered", calls: [][2]int{{20, 25}, {0, 5}, {3, 6}}, want: Count{Total: 3, Sequential: 2}},
		{name: "never ended is a step of its own", calls: [][2]int{{0, -1}, {1, 2}}, want: Count{Total: 2, Sequential: 2}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			op := new(Op)
			for _, c := range tt.calls {
				call := Call{Layer: LayerWire, Name: "x", Start: at(c[0])}
				if c[1] >= 0 {
					call.End = at(c[1])
				}
				op.calls = append(op.calls, call)
			}
			op.calls = append(op.calls, Call{Layer: LayerStore, Start: at(100), End: at(101)})
			if got := op.Count(LayerWire); got != tt.want {
				t.Errorf("Count = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestCallsWithoutAnOpAreNotRecorded(t *testing.T) {
	t.Parallel()
	op := new(Op)
	begin(context.Background(), LayerStore, "x")()
	end := begin(WithOp(context.Background(), op), LayerStore, "y")
	op.Reset()
	end() // begun before the Reset: ends nothing after it
	if got := op.Count(""); got.Total != 0 {
		t.Fatalf("recorded %v", got)
	}
}

func openBolt(t *testing.T) *bolt.Store {
	t.Helper()
	s, err := bolt.Open(filepath.Join(t.TempDir(), "rt.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func TestStoreRecordsAndForwards(t *testing.T) {
	t.Parallel()
	inner := openBolt(t)
	s := WrapStore(inner)
	op := new(Op)
	ctx := WithOp(context.Background(), op)
	if err := s.PutPlan(ctx, playback.Plan{ID: "basic", MaxStreams: 1, MaxDevices: 2}); err != nil {
		t.Fatal(err)
	}
	p, err := s.GetPlan(ctx, "basic")
	if err != nil || p.MaxStreams != 1 {
		t.Fatalf("GetPlan = %+v, %v", p, err)
	}
	if _, err := s.GetTitle(ctx, "absent"); !playback.IsCode(err, playback.CodeNotFound) {
		t.Fatalf("GetTitle of nothing = %v, want not found passed through", err)
	}
	if got, want := op.Names(LayerStore), "PutPlan, GetPlan, GetTitle"; got != want {
		t.Errorf("recorded %q, want %q", got, want)
	}
	if got := op.Count(LayerStore); got != (Count{Total: 3, Sequential: 3}) {
		t.Errorf("Count = %v", got)
	}
	if c, b := s.ChangeSetLimits(); [2]int{c, b} != func() [2]int { c, b := playback.ChangeSetLimits(inner); return [2]int{c, b} }() {
		t.Errorf("ChangeSetLimits = %d, %d, not the wrapped store's", c, b)
	}
}

func TestStoreForwardsTheBatchInterface(t *testing.T) {
	t.Parallel()
	s := WrapStore(openBolt(t))
	b, ok := s.Batch()
	if !ok {
		t.Fatal("bolt's ProgressBatchStore is not forwarded")
	}
	op := new(Op)
	ctx := WithOp(context.Background(), op)
	res, err := b.SaveProgressBatch(ctx, []playback.ProgressWrite{{Progress: playback.Progress{AccountID: "a", TitleID: "t",
		SessionID: "s", DeviceTime: time.Now()}}})
	if err != nil || len(res) != 1 || !res[0].ProgressApplied {
		t.Fatalf("SaveProgressBatch = %+v, %v", res, err)
	}
	if got := op.Names(LayerStore); got != "SaveProgressBatch" {
		t.Errorf("recorded %q", got)
	}

	// A store without it offers none (an adapter that is not a
	// ProgressBatchStore: the wrapper itself, seen as a plain Store).
	if _, ok := WrapStore(plainStore{s}).Batch(); ok {
		t.Error("Batch offered by a store that has none")
	}
}

// plainStore hides every method but playback.Store's.
type plainStore struct{ playback.Store }

func TestBusRecordsPublish(t *testing.T) {
	t.Parallel()
	b := WrapBus(membus.New(membus.Config{}))
	t.Cleanup(func() { _ = b.Close() })
	op := new(Op)
	ctx := WithOp(context.Background(), op)
	var wg sync.WaitGroup
	for range 3 {
		wg.Go(func() {
			if err := b.Publish(ctx, "t", playback.Message{Data: []byte("x")}); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if got := op.Count(LayerBus); got.Total != 3 || got.Sequential < 1 {
		t.Errorf("Count = %v", got)
	}
}

// meetDoer answers none of the first n requests before all n have been
// made, so they overlap however late the scheduler runs one of them (a
// delay did not: at load 25 one request in 500 was made after the other
// was answered). Later requests are answered at once.
type meetDoer struct {
	srv  *httptest.Server
	mu   sync.Mutex
	left int
	met  chan struct{}
}

func newMeetDoer(srv *httptest.Server, n int) *meetDoer {
	return &meetDoer{srv: srv, left: n, met: make(chan struct{})}
}

func (d *meetDoer) Do(req *http.Request) (*http.Response, error) {
	d.mu.Lock()
	first := d.left > 0
	if first {
		d.left--
		if d.left == 0 {
			close(d.met)
		}
	}
	d.mu.Unlock()
	if first {
		select {
		case <-d.met:
		case <-time.After(10 * time.Second): // only bounds a hang
			return nil, errors.New("the requests made side by side never all came")
		}
	}
	return d.srv.Client().Do(req)
}

func TestHTTPClientRecordsEachRequestByTarget(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, "{}") }))
	t.Cleanup(srv.Close)
	c := HTTPClient(LayerWire, newMeetDoer(srv, 2))
	op := new(Op)
	ctx := WithOp(context.Background(), op)
	do := func(target string) {
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, srv.URL, nil)
		req.Header.Set("X-Amz-Target", target)
		resp, err := c.Do(req)
		if err != nil {
			t.Error(err)
			return
		}
		_, _ = io.ReadAll(resp.Body)
		_ = resp.Body.Close()
	}
	var wg sync.WaitGroup
	for _, target := range []string{"DynamoDB_20120810.GetItem", "DynamoDB_20120810.Query"} {
		wg.Go(func() { do(target) })
	}
	wg.Wait()
	do("DynamoDB_20120810.TransactWriteItems")
	if got := op.Count(LayerWire); got != (Count{Total: 3, Sequential: 2}) {
		t.Errorf("Count = %v (%s)", got, op.Names(LayerWire))
	}
	if calls := op.Calls(LayerWire); calls[2].Name != "TransactWriteItems" {
		t.Errorf("last call %q", calls[2].Name)
	}
}

type fakeStream struct {
	grpc.ClientStream
	left int
}

func (s *fakeStream) RecvMsg(any) error {
	if s.left == 0 {
		return io.EOF
	}
	s.left--
	return nil
}

func TestInterceptorsRecordRPCsUntilTheStreamEnds(t *testing.T) {
	t.Parallel()
	op := new(Op)
	ctx := WithOp(context.Background(), op)
	err := UnaryInterceptor(LayerWire)(ctx, "/google.firestore.v1.Firestore/Commit", nil, nil, nil,
		func(context.Context, string, any, any, *grpc.ClientConn, ...grpc.CallOption) error {
			return errors.New("refused")
		})
	if err == nil {
		t.Fatal("the invoker's error was lost")
	}
	cs, err := StreamInterceptor(LayerWire)(ctx, &grpc.StreamDesc{}, nil, "/google.firestore.v1.Firestore/BatchGetDocuments",
		func(context.Context, *grpc.StreamDesc, *grpc.ClientConn, string, ...grpc.CallOption) (grpc.ClientStream, error) {
			return &fakeStream{left: 2}, nil
		})
	if err != nil {
		t.Fatal(err)
	}
	for cs.RecvMsg(nil) == nil {
	}
	calls := op.Calls(LayerWire)
	if len(calls) != 2 || calls[0].Name != "Commit" || calls[1].Name != "BatchGetDocuments" || calls[1].End.Before(calls[1].Start) {
		t.Fatalf("calls %+v", calls)
	}
	if got := op.Count(LayerWire); got != (Count{Total: 2, Sequential: 2}) {
		t.Errorf("Count = %v", got)
	}
}
