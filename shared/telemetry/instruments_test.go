package telemetry_test

import (
	"errors"
	"sync"
	"testing"

	"go.opentelemetry.io/otel"

	"github.com/playplane/playplane/shared/telemetry"
)

// TestInstrumentsAreValid: the instruments are made on their first
// measurement, where a validation error (a bad name or unit) would only
// reach the OpenTelemetry error handler; each one, measured once by
// record, reports none.
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
	setup(t, telemetry.Options{Metrics: telemetry.SinkEMF}, nil)
	record(t)
	mu.Lock()
	defer mu.Unlock()
	if err := errors.Join(handled...); err != nil {
		t.Fatalf("making the instruments: %v", err)
	}
}
