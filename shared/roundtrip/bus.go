package roundtrip

import (
	"context"

	"github.com/playplane/playplane/shared/playback"
)

// Publisher is a playback.Publisher that records every Publish (LayerBus).
type Publisher struct{ inner playback.Publisher }

var _ playback.Publisher = Publisher{}

// WrapPublisher wraps p.
func WrapPublisher(p playback.Publisher) Publisher { return Publisher{p} }

// Publish records the call and forwards it.
func (p Publisher) Publish(ctx context.Context, topic string, msgs ...playback.Message) error {
	defer begin(ctx, LayerBus, "Publish")()
	return p.inner.Publish(ctx, topic, msgs...)
}

// Bus is a playback.Bus that records every Publish. Subscribe is forwarded
// unrecorded: it lasts as long as its consumer, and what a handler costs is
// recorded by the handler's own calls.
type Bus struct {
	Publisher
	inner playback.Bus
}

var _ playback.Bus = (*Bus)(nil)

// WrapBus wraps b.
func WrapBus(b playback.Bus) *Bus { return &Bus{Publisher: Publisher{b}, inner: b} }

// Subscribe forwards to the wrapped bus.
func (b *Bus) Subscribe(ctx context.Context, topic string, h playback.BatchHandler) error {
	return b.inner.Subscribe(ctx, topic, h)
}

// Close closes the wrapped bus.
func (b *Bus) Close() error { return b.inner.Close() }

// Unwrap returns the wrapped bus.
func (b *Bus) Unwrap() playback.Bus { return b.inner }
