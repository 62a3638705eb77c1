package push

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"
	cehttp "github.com/cloudevents/sdk-go/v2/protocol/http"

	"github.com/playplane/playplane/shared/httpx"
	"github.com/playplane/playplane/shared/playback"
)

// ReasonMalformedPush is the reason of the 400 answering a request that is
// neither a push subscription's nor a CloudEvent.
const ReasonMalformedPush = "malformed_push"

// HTTPHandler serves fn, a messagePublished consumer, at the endpoint of a
// push subscription. It takes the CloudEvent (binary or structured mode,
// as Eventarc and the local bridge send it) and the body a push
// subscription sends, which becomes that CloudEvent's data whole. The
// Functions Framework makes a CloudEvent of a push body too, but keeps only
// the message's data, attributes, id and time: the delivery attempt, the
// ordering key and the subscription were lost on every push the stack
// delivers. An error of fn is a 500, which Pub/Sub redelivers; a request
// that is neither form is a 400.
func HTTPHandler(fn func(context.Context, event.Event) error) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var e *event.Event
		var err error
		// As the Functions Framework tells them apart.
		if r.Header.Get("Ce-Id") != "" || strings.Contains(r.Header.Get("Content-Type"), "cloudevents") {
			if e, err = cehttp.NewEventFromHTTPRequest(r); err == nil {
				err = e.Validate()
			}
		} else {
			e, err = fromPushBody(r)
		}
		if err != nil {
			httpx.WriteError(w, r, playback.Errorf(playback.CodeInvalid, ReasonMalformedPush, "not a Pub/Sub push request: %v", err))
			return
		}
		if err := fn(r.Context(), *e); err != nil {
			slog.Default().WarnContext(r.Context(), "pubsub push not acknowledged; it will be redelivered", "event_id", e.ID(), "err", err)
			http.Error(w, "not acknowledged", http.StatusInternalServerError)
			return
		}
		w.WriteHeader(http.StatusOK)
	})
}

// fromPushBody reads a push subscription's request as the messagePublished
// CloudEvent Eventarc would deliver for it: the body is the event's data.
func fromPushBody(r *http.Request) (*event.Event, error) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return nil, fmt.Errorf("reading the body: %w", err)
	}
	var envelope struct {
		Message struct {
			MessageID      string    `json:"messageId"`
			MessageIDSnake string    `json:"message_id"`
			PublishTime    time.Time `json:"publishTime"`
		} `json:"message"`
		Subscription string `json:"subscription"`
	}
	if err := json.Unmarshal(body, &envelope); err != nil {
		return nil, fmt.Errorf("body: %w", err)
	}
	id := cmp.Or(envelope.Message.MessageID, envelope.Message.MessageIDSnake)
	if id == "" {
		return nil, errors.New("no message id")
	}
	// The stack's push endpoints end in the topic's name, which the
	// Functions Framework reads as the event's source too; without it the
	// subscription names where the message came from.
	source := cmp.Or(topicName(r.URL.Path), envelope.Subscription)
	e := event.New()
	e.SetID(id)
	e.SetType(MessagePublishedType)
	e.SetSource("//pubsub.googleapis.com/" + source)
	if !envelope.Message.PublishTime.IsZero() {
		e.SetTime(envelope.Message.PublishTime)
	}
	if err := e.SetData(event.ApplicationJSON, body); err != nil {
		return nil, fmt.Errorf("data: %w", err)
	}
	return &e, nil
}

// topicName finds projects/P/topics/T in a request path, or "".
func topicName(path string) string {
	segments := strings.Split(path, "/")
	for i := 0; i+3 < len(segments); i++ {
		if segments[i] == "projects" && segments[i+1] != "" && segments[i+2] == "topics" && segments[i+3] != "" {
			return strings.Join(segments[i:i+4], "/")
		}
	}
	return ""
}
