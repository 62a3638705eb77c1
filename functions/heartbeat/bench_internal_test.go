package heartbeat

import (
	"os"
	"testing"
	"time"

	"github.com/playplane/playplane/events"
	"github.com/playplane/playplane/shared/httpload"
	"github.com/playplane/playplane/shared/httpx"
)

// BenchmarkDecodeValidate is the per-event cost of the request body: decode
// plus validation, with the hand-written decoder and with encoding/json
// (strict, as httpx.Unmarshal does it) in the same run.
func BenchmarkDecodeValidate(b *testing.B) {
	raw, err := os.ReadFile("../../events/samples/heartbeat-request.json")
	if err != nil {
		b.Fatal(err)
	}
	req, err := events.DecodeHeartbeatRequest(raw)
	if err != nil {
		b.Fatal(err)
	}
	// The body as a player sends it: compact, stamped now.
	now := time.Now()
	req.DeviceTime = now
	body := []byte(`{"event":"progress","position_ms":1234567,"duration_ms":5400000,"device_time":"` +
		now.UTC().Format(time.RFC3339Nano) + `","qoe":{"br":5800,"bl":21000,"mtp":48000,"su":850,"rc":2,"rd":1900,"pd":1230000,"df":14,"cdn":"cloudfront","edge":"edge-fra-1"}}`)
	s := &Server{cfg: Config{MaxClockSkew: 2 * time.Minute, MaxAge: 24 * time.Hour}}
	b.Run("fast", func(b *testing.B) {
		b.SetBytes(int64(len(body)))
		b.ReportAllocs()
		cpu := httpload.ProcessCPU(b)
		for b.Loop() {
			r, err := events.DecodeHeartbeatRequest(body)
			if err != nil {
				b.Fatal(err)
			}
			if err := s.validate(&r, now); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(httpload.ProcessCPU(b)-cpu)/float64(b.N), "cpu-ns/op")
	})
	b.Run("encoding_json", func(b *testing.B) {
		b.SetBytes(int64(len(body)))
		b.ReportAllocs()
		cpu := httpload.ProcessCPU(b)
		for b.Loop() {
			var r events.HeartbeatRequest
			if err := httpx.Unmarshal(body, &r); err != nil {
				b.Fatal(err)
			}
			if err := s.validate(&r, now); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(httpload.ProcessCPU(b)-cpu)/float64(b.N), "cpu-ns/op")
	})
}
