package deployedtest_test

import (
	"context"
	"testing"

	"go.opentelemetry.io/otel"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"github.com/playplane/playplane/shared/deployedtest"
)

// Mode leaves a library that starts spans with the global provider (the
// Firestore client) recording nothing while telemetry is off and
// recording under the installed provider while it is on, however often
// it switches.
func TestModeSwitchesTheGlobalProvider(t *testing.T) {
	sdk := sdktrace.NewTracerProvider()
	t.Cleanup(func() { _ = sdk.Shutdown(context.Background()) })
	before := otel.GetTracerProvider()
	otel.SetTracerProvider(sdk)
	t.Cleanup(func() { otel.SetTracerProvider(before) })
	recording := func() bool {
		_, span := otel.GetTracerProvider().Tracer("library").Start(context.Background(), "op")
		defer span.End()
		return span.IsRecording()
	}
	var g deployedtest.GCP
	for i, on := range []bool{false, true, true, false, true} {
		g.Mode(on)
		if got := recording(); got != on {
			t.Fatalf("switch %d to on=%v: a library span records %v", i, on, got)
		}
	}
}
