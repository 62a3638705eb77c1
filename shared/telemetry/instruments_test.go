package telemetry_test

import (
	"context"
	"errors"
	"sync"
	"testing"

	"go.opentelemetry.io/otel"

	"github.com/playplane/playplane/shared/telemetry"
)

// TestInstrumentsAreValid: the instruments are made on their first
// measurement, where a validation error (a bad name or unit) would only
// reach the OpenTelemetry error handler; each one, measured once by
// record, reports none. It runs twice: with the request histogram
// aggregated by requestHistogram (the default, where the SDK's request
// duration instrument is never made) and left to the SDK's instrument.
func TestInstrumentsAreValid(t *testing.T) {
	var mu sync.Mutex
	var handled []error
	// Left installed: the tests of this package are sequential, and later
	// ones only add to a slice nobody reads.
	otel.SetErrorHandler(otel.ErrorHandlerFunc(func(err error) {
		mu.Lock()
		defer mu.Unlock()
		handled = append(handled, err)
	}))
	for _, opts := range []telemetry.Options{{Metrics: telemetry.SinkEMF},
		telemetry.WithSDKRequestHistogram(telemetry.Options{Metrics: telemetry.SinkEMF})} {
		p := setup(t, opts, nil)
		record(t)
		if err := p.Shutdown(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if err := errors.Join(handled...); err != nil {
		t.Fatalf("making the instruments: %v", err)
	}
}
