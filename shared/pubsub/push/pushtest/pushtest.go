// Package pushtest holds what tests of Pub/Sub push delivery share: the
// CloudEvent Eventarc delivers and a handler that records what reached it.
package pushtest

import (
	"context"
	"testing"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"

	"github.com/playplane/playplane/shared/playback"
)

// MessageEvent builds the CloudEvent Eventarc delivers for a Pub/Sub
// message, of type typ with data as its JSON payload.
func MessageEvent(t testing.TB, typ string, data any) event.Event {
	t.Helper()
	e := event.New()
	e.SetID("evt-1")
	e.SetSource("//pubsub.googleapis.com/projects/p/topics/heartbeats")
	e.SetType(typ)
	e.SetTime(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC))
	if err := e.SetData(event.ApplicationJSON, data); err != nil {
		t.Fatal(err)
	}
	return e
}

// Recorder is a batch handler that keeps every message it is given. With
// Retry it asks for the batch's first message again; with Panic it panics
// after recording.
type Recorder struct {
	Got   []playback.Message
	Retry bool
	Panic bool
}

// Handle is the handler.
func (r *Recorder) Handle(_ context.Context, batch []playback.Message) []string {
	r.Got = append(r.Got, batch...)
	if r.Panic {
		panic("boom")
	}
	if r.Retry {
		return []string{batch[0].ID}
	}
	return nil
}
