package lambdatest

import (
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"sync"
	"time"
)

// runtimeAPI emulates the part of the Lambda runtime API a Go bootstrap
// uses (next invocation, response, invocation and init errors) on
// 127.0.0.1, so a built bootstrap can run outside Lambda, with
// AWS_LAMBDA_RUNTIME_API set to its address.
type runtimeAPI struct {
	srv  *http.Server
	addr string

	queue chan *Invocation
	mu    sync.Mutex
	sent  map[string]*Invocation // handed to the runtime, awaiting its answer
	seq   int
}

// Invocation is one queued event and, once Done is closed, its outcome.
type Invocation struct {
	ID      string
	Payload []byte
	Done    chan struct{}

	// Set before Done closes.
	Response []byte
	Error    bool      // the runtime reported an invocation or init error
	At       time.Time // when the answer arrived
}

func newRuntimeAPI() (*runtimeAPI, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	r := &runtimeAPI{addr: ln.Addr().String(), queue: make(chan *Invocation, 16), sent: map[string]*Invocation{}}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /2018-06-01/runtime/invocation/next", r.next)
	mux.HandleFunc("POST /2018-06-01/runtime/invocation/{id}/response", r.answer(false))
	mux.HandleFunc("POST /2018-06-01/runtime/invocation/{id}/error", r.answer(true))
	mux.HandleFunc("POST /2018-06-01/runtime/init/error", r.initError)
	r.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = r.srv.Serve(ln) }()
	return r, nil
}

// Close stops the emulator.
func (r *runtimeAPI) Close() { _ = r.srv.Close() }

// Enqueue queues an event for the next runtime that asks.
func (r *runtimeAPI) Enqueue(payload []byte) *Invocation {
	r.mu.Lock()
	r.seq++
	inv := &Invocation{ID: "inv-" + strconv.Itoa(r.seq), Payload: payload, Done: make(chan struct{})}
	r.mu.Unlock()
	r.queue <- inv
	return inv
}

func (r *runtimeAPI) next(w http.ResponseWriter, req *http.Request) {
	select {
	case inv := <-r.queue:
		r.mu.Lock()
		r.sent[inv.ID] = inv
		r.mu.Unlock()
		h := w.Header()
		h.Set("Lambda-Runtime-Aws-Request-Id", inv.ID)
		h.Set("Lambda-Runtime-Deadline-Ms", strconv.FormatInt(time.Now().Add(30*time.Second).UnixMilli(), 10))
		h.Set("Lambda-Runtime-Invoked-Function-Arn", "arn:aws:lambda:us-east-1:000000000000:function:lambdatest")
		h.Set("Lambda-Runtime-Trace-Id", "Root=1-00000000-000000000000000000000000;Sampled=0")
		h.Set("Content-Type", "application/json")
		_, _ = w.Write(inv.Payload)
	case <-req.Context().Done():
	}
}

func (r *runtimeAPI) answer(isError bool) http.HandlerFunc {
	return func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		at := time.Now()
		r.mu.Lock()
		inv, ok := r.sent[req.PathValue("id")]
		delete(r.sent, req.PathValue("id"))
		r.mu.Unlock()
		if !ok {
			http.Error(w, "unknown invocation", http.StatusNotFound)
			return
		}
		inv.Response, inv.Error, inv.At = body, isError, at
		close(inv.Done)
		w.WriteHeader(http.StatusAccepted)
	}
}

// initError fails whatever waits: the runtime will not answer it.
func (r *runtimeAPI) initError(w http.ResponseWriter, req *http.Request) {
	body, _ := io.ReadAll(req.Body)
	r.mu.Lock()
	defer r.mu.Unlock()
	for id, inv := range r.sent {
		inv.Response, inv.Error, inv.At = body, true, time.Now()
		close(inv.Done)
		delete(r.sent, id)
	}
	w.WriteHeader(http.StatusAccepted)
}

// Start is one run of a bootstrap against the emulator: the process start,
// its first answer and how long that took.
type Start struct {
	Invocation *Invocation
	Elapsed    time.Duration // process start → answer received
	// CPU is the user and system time the process used, to the answer
	// and the kill right after it: on a machine shared with other load
	// it moves less than Elapsed, which includes waiting for a core.
	CPU    time.Duration
	Output string // stdout and stderr
}

// StartOnce starts bootstrap with env (plus AWS_LAMBDA_RUNTIME_API) against
// a runtime API of its own, hands it payload, waits for its answer, and
// kills the process. A process that exits before answering is an error.
// Each start gets its own emulator: a killed process's pending request for
// the next invocation must not take the next process's event.
func StartOnce(bootstrap string, env []string, payload []byte, timeout time.Duration) (Start, error) {
	r, err := newRuntimeAPI()
	if err != nil {
		return Start{}, err
	}
	defer r.Close()
	inv := r.Enqueue(payload)
	cmd := exec.Command(bootstrap)
	cmd.Env = append(env, "AWS_LAMBDA_RUNTIME_API="+r.addr)
	var output lockedBuffer
	cmd.Stderr, cmd.Stdout = &output, &output
	exited := make(chan error, 1)
	begin := time.Now()
	if err := cmd.Start(); err != nil {
		return Start{}, err
	}
	go func() { exited <- cmd.Wait() }()
	stop := func() {
		_ = cmd.Process.Signal(os.Kill)
		<-exited
	}
	select {
	case <-inv.Done:
		stop()
		cpu := cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
		return Start{Invocation: inv, Elapsed: inv.At.Sub(begin), CPU: cpu, Output: output.String()}, nil
	case err := <-exited:
		return Start{Output: output.String()}, errors.Join(errors.New("bootstrap exited before answering"), err)
	case <-time.After(timeout):
		stop()
		return Start{Output: output.String()}, errors.New("bootstrap did not answer in time")
	}
}

type lockedBuffer struct {
	mu  sync.Mutex
	buf []byte
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.buf = append(b.buf, p...)
	return len(p), nil
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return string(b.buf)
}
