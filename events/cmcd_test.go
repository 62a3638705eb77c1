package events_test

import (
	"testing"

	"github.com/playplane/playplane/events"
	"github.com/playplane/playplane/shared/playback"
)

func TestDecodeCMCDText(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, body string
		want       events.CMCDReport
	}{
		{"Shaka Player interval report", `br=(134),cid="big-buck-bunny",e=t,sf=d,sid="31499ed2",sn=1,st=v,sta=p,ts=1796420995886,v=2`,
			events.CMCDReport{Event: "t", State: "p", TS: 1796420995886, BitrateKbps: 134, SessionID: "31499ed2", ContentID: "big-buck-bunny", Version: 2}},
		{"dash.js play state with lists", `bl=(6000;v 0;a),br=(128;a 3000;v),e=ps,msd=850,sta=p,ts=5,mtp=(24000)`,
			events.CMCDReport{Event: "ps", State: "p", TS: 5, BitrateKbps: 3000, BufferMS: 6000, ThroughputKbps: 24000, StartupMS: 850}},
		{"v1 plain numbers, spaces", `br=3000, bl=21000 ,mtp=48000,ts=7`, events.CMCDReport{TS: 7, BitrateKbps: 3000, BufferMS: 21000, ThroughputKbps: 48000}},
		{"decimal bitrate rounds", `br=(2999.6),ts=7`, events.CMCDReport{TS: 7, BitrateKbps: 3000}},
		{"playhead and starvation", `pt=41000,bsd=(400),ts=9`, events.CMCDReport{TS: 9, PlayheadMS: 41000, HasPlayhead: true, StarvationMS: 400}},
		{"escaped string", `sid="a\"b\\c",ts=9`, events.CMCDReport{TS: 9, SessionID: `a"b\c`}},
		{"error codes", `e=e,ec=("MEDIA_ERR" "E2"),ts=9`, events.CMCDReport{Event: "e", TS: 9, ErrorCodes: 2}},
		{"unknown keys of every type", `com.example-k=(1 2;q="a"),nor="../s.m4s",bg,x=?0,y=:AQID:,z=*tok/en,ts=9,w=-1.5;p`, events.CMCDReport{TS: 9}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := events.DecodeCMCDText(nil, []byte(tc.body+"\n"))
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != 1 || got[0] != tc.want {
				t.Fatalf("got %+v, want %+v", got, tc.want)
			}
		})
	}
}

// FuzzDecodeCMCDText: any input is decoded or refused with a CodeInvalid
// error, never a panic, and never more than MaxCMCDReports reports.
func FuzzDecodeCMCDText(f *testing.F) {
	for _, s := range []string{
		"", "\n", "ts=1", "br=(134;v 128;a),e=ps,sta=p,ts=1\ne=t,ts=2\n", `sid="x\"y"`, "br=(", "ts=1,", ",ts=1", "a=(1 (2))",
		"x=\"\xff\"", "ts=1234567890123456", "ts=-0", "pr=1.2345", "e=?1", "y=:AQ==", "*k=1", "K=1", "ts=1;a;b=2",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		got, err := events.DecodeCMCDText(nil, data)
		if err != nil && !playback.IsCode(err, playback.CodeInvalid) {
			t.Fatalf("%q: %v, want a CodeInvalid error", data, err)
		}
		if len(got) > events.MaxCMCDReports {
			t.Fatalf("%q: %d reports", data, len(got))
		}
	})
}
