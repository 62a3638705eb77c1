package heartbeat

import (
	"fmt"
	"os"
	"strconv"
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
		now.UTC().Format(time.RFC3339Nano) + `","qoe":{"br":5800,"bl":21000,"mtp":48000,"startup_ms":850,"rebuffer_count":2,"rebuffer_ms":1900,"played_ms":1230000,"df":14,"cdn":"cloudfront","edge":"edge-fra-1"}}`)
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

// BenchmarkCMCDDecode holds decoding a CMCD v2 event report (a Shaka
// Player / dash.js application/cmcd line, mapped to a heartbeat) to at
// most twice the cost of decoding and validating a heartbeat body, both
// measured in this run: the ratio is reported, and over 2 fails.
func BenchmarkCMCDDecode(b *testing.B) {
	now := time.Now()
	s := &Server{cfg: Config{MaxClockSkew: 2 * time.Minute, MaxAge: 24 * time.Hour}}
	heartbeatBody := []byte(`{"event":"progress","position_ms":1234567,"duration_ms":5400000,"device_time":"` +
		now.UTC().Format(time.RFC3339Nano) + `","qoe":{"br":5800,"bl":21000,"mtp":48000,"startup_ms":850,"rebuffer_count":2,"rebuffer_ms":1900,"played_ms":1230000,"df":14,"cdn":"cloudfront","edge":"edge-fra-1"}}`)
	// Every key the reporter of Shaka Player 5.2 and dash.js 5.2 puts in a
	// time-interval report, plus pt and bsd.
	cmcdBody := []byte(`ab=(5800;v 128;a),bl=(21000;v 21000;a),br=(5800;v 128;a),cid="title_big_buck_bunny",e=t,msd=850,` +
		`mtp=(48000),pb=(8000;v 192;a),pt=1234567,bsd=(400),sf=d,sid="6e2f5c1a-8c1e-4f7e-9d0b-2f6b5a1c9e3d",sn=12,st=v,sta=p,` +
		`tb=(8000;v 192;a),tpb=(8000;v 192;a),ts=` + strconv.FormatInt(now.UnixMilli(), 10) + `,v=2` + "\n")
	decodeHeartbeat := func() {
		r, err := events.DecodeHeartbeatRequest(heartbeatBody)
		if err == nil {
			err = s.validate(&r, now)
		}
		if err != nil {
			b.Fatal(err)
		}
	}
	var reports [4]events.CMCDReport
	var h events.Heartbeat
	decodeCMCD := func() {
		rs, err := events.DecodeCMCDText(reports[:0], cmcdBody)
		if err == nil && len(rs) != 1 {
			err = fmt.Errorf("%d reports", len(rs))
		}
		if err == nil {
			err = s.cmcdBeat(&h, &rs[0], now)
		}
		if err != nil {
			b.Fatal(err)
		}
	}
	b.Run("heartbeat", func(b *testing.B) {
		b.SetBytes(int64(len(heartbeatBody)))
		b.ReportAllocs()
		for b.Loop() {
			decodeHeartbeat()
		}
	})
	b.Run("cmcd", func(b *testing.B) {
		b.SetBytes(int64(len(cmcdBody)))
		b.ReportAllocs()
		for b.Loop() {
			decodeCMCD()
		}
	})
	// Both in one loop, interleaved in rounds, so that the floor and the
	// CMCD decode see the same machine load.
	b.Run("ratio", func(b *testing.B) {
		const round = 200
		var floor, got time.Duration
		for b.Loop() {
			t0 := time.Now()
			for range round {
				decodeHeartbeat()
			}
			t1 := time.Now()
			for range round {
				decodeCMCD()
			}
			floor, got = floor+t1.Sub(t0), got+time.Since(t1)
		}
		ratio := float64(got) / float64(floor)
		b.ReportMetric(float64(floor.Nanoseconds())/float64(b.N*round), "heartbeat-ns/report")
		b.ReportMetric(float64(got.Nanoseconds())/float64(b.N*round), "cmcd-ns/report")
		b.ReportMetric(ratio, "cmcd/heartbeat")
		if ratio > 2 {
			b.Errorf("a CMCD report costs %.2f× a heartbeat body, want at most 2×", ratio)
		}
	})
}
