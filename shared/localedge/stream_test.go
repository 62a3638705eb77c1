package localedge

import (
	"bytes"
	"testing"
)

// TestStreamStructure checks the transport stream without a decoder
// (TestFFmpegPlays decodes it when ffmpeg is installed): whole packets,
// continuity counters running on across segments, PSI with valid CRCs at
// every segment start, one PES per frame with evenly spaced PTS, and a
// random-access IDR with SPS and PPS opening each segment.
func TestStreamStructure(t *testing.T) {
	t.Parallel()
	s, err := buildStream()
	if err != nil {
		t.Fatal(err)
	}
	if len(s.segments) != segmentCount {
		t.Fatalf("%d segments", len(s.segments))
	}
	lastCC := map[uint16]int{}
	var lastPTS int64 = -1
	frames := 0
	for i, seg := range s.segments {
		if len(seg)%tsPacketSize != 0 || len(seg) > 16<<10 {
			t.Fatalf("segment %d has %d bytes", i, len(seg))
		}
		for off := 0; off < len(seg); off += tsPacketSize {
			pkt := seg[off : off+tsPacketSize]
			if pkt[0] != 0x47 {
				t.Fatalf("segment %d packet %d: sync byte %#x", i, off/tsPacketSize, pkt[0])
			}
			pid := uint16(pkt[1]&0x1f)<<8 | uint16(pkt[2])
			pusi := pkt[1]&0x40 != 0
			afc := pkt[3] >> 4 & 3
			cc := int(pkt[3] & 0x0f)
			if prev, ok := lastCC[pid]; ok && cc != (prev+1)%16 {
				t.Fatalf("segment %d pid %#x: continuity %d after %d", i, pid, cc, prev)
			}
			lastCC[pid] = cc
			switch off / tsPacketSize {
			case 0:
				if pid != 0 {
					t.Fatalf("segment %d does not open with the PAT", i)
				}
			case 1:
				if pid != pidPMT {
					t.Fatalf("segment %d: second packet is not the PMT", i)
				}
			case 2:
				if pid != pidVideo || !pusi || afc != 3 || pkt[5]&0x40 == 0 {
					t.Fatalf("segment %d: first video packet is not a random access point", i)
				}
			}
			payload := pkt[4:]
			if afc == 3 {
				payload = pkt[5+int(pkt[4]):]
			}
			if pid == 0 || pid == pidPMT {
				sectionLen := int(payload[2]&0x0f)<<8 | int(payload[3])
				section := payload[1 : 4+sectionLen]
				if crc32MPEG2(section) != 0 {
					t.Fatalf("segment %d pid %#x: CRC mismatch", i, pid)
				}
				continue
			}
			if !pusi {
				continue
			}
			if !bytes.HasPrefix(payload, []byte{0, 0, 1, 0xE0}) {
				t.Fatalf("segment %d: PES start code missing", i)
			}
			p := payload[9:14]
			pts := int64(p[0]>>1&7)<<30 | int64(p[1])<<22 | int64(p[2]>>1)<<15 | int64(p[3])<<7 | int64(p[4]>>1)
			if lastPTS >= 0 && pts-lastPTS != ticksPerFrame {
				t.Fatalf("PTS %d after %d", pts, lastPTS)
			}
			lastPTS = pts
			es := payload[14:]
			if !bytes.HasPrefix(es, []byte{0, 0, 0, 1, 0x09}) {
				t.Fatalf("access unit does not open with a delimiter")
			}
			if off/tsPacketSize == 2 && !bytes.HasPrefix(es[6:], []byte{0, 0, 0, 1, 0x67, profileIDC, constraints, levelIDC}) {
				t.Fatalf("segment %d: IDR access unit does not carry the SPS", i)
			}
			frames++
		}
	}
	if frames != segmentCount*framesPerSeg {
		t.Errorf("%d frames, want %d", frames, segmentCount*framesPerSeg)
	}
}

func TestPlaylistsPassOnTheQuery(t *testing.T) {
	t.Parallel()
	s, err := buildStream()
	if err != nil {
		t.Fatal(err)
	}
	master := string(s.masterPlaylist("URLPrefix=x&Expires=1&KeyName=k&Signature=s"))
	if !bytes.Contains([]byte(master), []byte("\nmedia.m3u8?URLPrefix=x&Expires=1&KeyName=k&Signature=s\n")) {
		t.Errorf("master playlist:\n%s", master)
	}
	media := string(s.mediaPlaylist(""))
	for _, want := range []string{"#EXT-X-TARGETDURATION:2\n", "\nseg0.ts\n", "\nseg2.ts\n", "#EXT-X-ENDLIST\n"} {
		if !bytes.Contains([]byte(media), []byte(want)) {
			t.Errorf("media playlist lacks %q:\n%s", want, media)
		}
	}
}
