// Package roundtrip measures how many round trips an operation costs: every
// call to a store, a bus or a cloud API made under an Op's context is
// recorded with its start and end, and the Op reports the total and the
// sequential count, where calls that overlap in time are one step (they
// cost one round trip of latency, not several).
//
// It hooks in at two layers, so a benchmark can report both:
//
//   - the port layer: Store and Bus wrap a playback.Store or playback.Bus
//     and record each method call (LayerStore, LayerBus);
//   - the wire layer: HTTPClient wraps the AWS SDK's HTTP client
//     (DynamoDB, SQS) and UnaryInterceptor/StreamInterceptor the gRPC
//     connection (Firestore, Pub/Sub), recording each RPC, retries
//     included, named after the API operation, into a layer the caller
//     names (LayerWire, or the service, to count a store's RPCs apart from
//     a bus's).
//
// A call is recorded into the Op found in its context (WithOp), so
// concurrent operations are counted apart; calls without one are not
// recorded.
package roundtrip

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"
)

// Layers of a recorded call.
const (
	LayerStore = "store" // a playback.Store method
	LayerBus   = "bus"   // a playback.Bus method
	LayerWire  = "wire"  // one RPC on the network
)

// Call is one recorded call.
type Call struct {
	Layer string
	Name  string
	Start time.Time
	End   time.Time
}

// Op collects the calls of one operation. The zero value is ready; it is
// safe for concurrent use.
type Op struct {
	mu    sync.Mutex
	calls []Call
	gen   int // Reset count, so that a call begun before a Reset ends nothing after it
}

type opKey struct{}

// WithOp returns ctx carrying op: calls made with it are recorded there.
func WithOp(ctx context.Context, op *Op) context.Context {
	return context.WithValue(ctx, opKey{}, op)
}

// FromContext returns the Op of ctx, nil if none.
func FromContext(ctx context.Context) *Op {
	op, _ := ctx.Value(opKey{}).(*Op)
	return op
}

// begin records the start of a call into the Op of ctx and returns what
// ends it; both are no-ops without an Op. A call never ended (a stream its
// reader abandoned) counts as ending where it started.
func begin(ctx context.Context, layer, name string) (end func()) {
	op := FromContext(ctx)
	if op == nil {
		return func() {}
	}
	op.mu.Lock()
	i, gen := len(op.calls), op.gen
	op.calls = append(op.calls, Call{Layer: layer, Name: name, Start: time.Now()})
	op.mu.Unlock()
	var once sync.Once
	return func() {
		once.Do(func() {
			op.mu.Lock()
			defer op.mu.Unlock()
			if op.gen == gen {
				op.calls[i].End = time.Now()
			}
		})
	}
}

// Reset forgets every call.
func (o *Op) Reset() {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.calls = nil
	o.gen++
}

// Calls returns the calls of layer ("" for all), by start time.
func (o *Op) Calls(layer string) []Call {
	o.mu.Lock()
	defer o.mu.Unlock()
	var out []Call
	for _, c := range o.calls {
		if c.End.IsZero() {
			c.End = c.Start
		}
		if layer == "" || c.Layer == layer {
			out = append(out, c)
		}
	}
	slices.SortStableFunc(out, func(a, b Call) int { return a.Start.Compare(b.Start) })
	return out
}

// Count is what an operation cost in one layer.
type Count struct {
	Total      int // calls made
	Sequential int // steps: calls overlapping in time are one
}

func (c Count) String() string { return fmt.Sprintf("%d sequential / %d total", c.Sequential, c.Total) }

// Count returns the cost of the calls of layer.
func (o *Op) Count(layer string) Count {
	calls := o.Calls(layer)
	n := Count{Total: len(calls)}
	var stepEnd time.Time
	for i, c := range calls {
		// A call that starts before every call of the current step has
		// ended ran beside it.
		if i == 0 || !c.Start.Before(stepEnd) {
			n.Sequential++
			stepEnd = c.End
		} else if c.End.After(stepEnd) {
			stepEnd = c.End
		}
	}
	return n
}

// Names returns the names of the calls of layer, by start time, for
// messages.
func (o *Op) Names(layer string) string {
	calls := o.Calls(layer)
	names := make([]string, len(calls))
	for i, c := range calls {
		names[i] = c.Name
	}
	return strings.Join(names, ", ")
}

// Measure runs fn with a fresh Op in its context and returns the Op.
func Measure(ctx context.Context, fn func(ctx context.Context) error) (*Op, error) {
	op := new(Op)
	err := fn(WithOp(ctx, op))
	return op, err
}
