package localedge

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

func buildForTest(t testing.TB) *Stream {
	t.Helper()
	s, err := BuildStream()
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func stored(t *testing.T, s *Stream, name string) []byte {
	t.Helper()
	b, _, ok := s.Object(name)
	if !ok {
		t.Fatalf("no object %s", name)
	}
	return b
}

// mp4Box is one parsed box.
type mp4Box struct {
	typ     string
	payload []byte
}

// parseBoxes splits b into boxes and fails on a size that does not add up.
func parseBoxes(t *testing.T, b []byte) []mp4Box {
	t.Helper()
	var out []mp4Box
	for len(b) > 0 {
		if len(b) < 8 {
			t.Fatalf("%d trailing bytes", len(b))
		}
		size := int(binary.BigEndian.Uint32(b))
		if size < 8 || size > len(b) {
			t.Fatalf("box %q has size %d of %d bytes left", b[4:8], size, len(b))
		}
		out = append(out, mp4Box{typ: string(b[4:8]), payload: b[8:size]})
		b = b[size:]
	}
	return out
}

func child(t *testing.T, boxes []mp4Box, path ...string) mp4Box {
	t.Helper()
	for _, bx := range boxes {
		if bx.typ == path[0] {
			if len(path) == 1 {
				return bx
			}
			return child(t, parseBoxes(t, bx.payload), path[1:]...)
		}
	}
	t.Fatalf("no box %s", path[0])
	return mp4Box{}
}

func types(boxes []mp4Box) string {
	var s []string
	for _, b := range boxes {
		s = append(s, b.typ)
	}
	return strings.Join(s, ",")
}

// TestInitSegments checks the sample entry without a decoder: the box
// order a CMAF header has, the avcC holding the parameter sets whose
// profile and level the CODECS string names, and the displayed size.
func TestInitSegments(t *testing.T) {
	t.Parallel()
	s := buildForTest(t)
	for _, r := range s.Renditions() {
		t.Run(r.Name, func(t *testing.T) {
			t.Parallel()
			boxes := parseBoxes(t, stored(t, s, r.Name+"/init.mp4"))
			if got := types(boxes); got != "ftyp,moov" {
				t.Fatalf("top level %s", got)
			}
			if got := types(parseBoxes(t, child(t, boxes, "moov").payload)); got != "mvhd,trak,mvex" {
				t.Errorf("moov holds %s", got)
			}
			trex := child(t, boxes, "moov", "mvex", "trex").payload
			if binary.BigEndian.Uint32(trex[4:]) != 1 {
				t.Errorf("trex is not for track 1")
			}
			stsd := child(t, boxes, "moov", "trak", "mdia", "minf", "stbl", "stsd").payload
			entries := parseBoxes(t, stsd[8:])
			if len(entries) != 1 || entries[0].typ != "avc1" {
				t.Fatalf("stsd holds %s", types(entries))
			}
			avc1 := entries[0].payload
			if w, h := binary.BigEndian.Uint16(avc1[24:]), binary.BigEndian.Uint16(avc1[26:]); int(w) != r.Width || int(h) != r.Height {
				t.Errorf("avc1 size %dx%d", w, h)
			}
			avcC := child(t, parseBoxes(t, avc1[78:]), "avcC").payload
			if got := fmt.Sprintf("avc1.%02x%02x%02x", avcC[1], avcC[2], avcC[3]); got != r.Codecs {
				t.Errorf("avcC says %s, CODECS %s", got, r.Codecs)
			}
			spsLen := int(binary.BigEndian.Uint16(avcC[6:]))
			sps := avcC[8 : 8+spsLen]
			if sps[0]&0x1f != nalSPS || !bytes.Equal(sps[1:4], avcC[1:4]) {
				t.Errorf("avcC SPS %x does not match its profile and level", sps[:4])
			}
			mdhd := child(t, boxes, "moov", "trak", "mdia", "mdhd").payload
			if binary.BigEndian.Uint32(mdhd[12:]) != timescale {
				t.Errorf("mdhd timescale %d", binary.BigEndian.Uint32(mdhd[12:]))
			}
		})
	}
}

// TestMediaSegments checks every fragment: sequence numbers, decode times
// that continue from segment to segment, a trun whose data offset and
// sample sizes cover the mdat exactly, length-prefixed NAL units inside
// each sample, and a sync IDR first.
func TestMediaSegments(t *testing.T) {
	t.Parallel()
	s := buildForTest(t)
	for _, r := range s.Renditions() {
		for n := 1; n <= segmentCount; n++ {
			name := fmt.Sprintf("%s/seg%d.m4s", r.Name, n)
			seg := stored(t, s, name)
			boxes := parseBoxes(t, seg)
			if got := types(boxes); got != "styp,moof,mdat" {
				t.Fatalf("%s: top level %s", name, got)
			}
			moofLen := 8 + len(boxes[1].payload)
			mdat := boxes[2].payload
			if seq := binary.BigEndian.Uint32(child(t, boxes, "moof", "mfhd").payload[4:]); int(seq) != n {
				t.Errorf("%s: mfhd sequence %d", name, seq)
			}
			tfhd := child(t, boxes, "moof", "traf", "tfhd").payload
			if binary.BigEndian.Uint32(tfhd)&0x020000 == 0 {
				t.Errorf("%s: tfhd without default-base-is-moof", name)
			}
			tfdt := child(t, boxes, "moof", "traf", "tfdt").payload
			if base := binary.BigEndian.Uint64(tfdt[4:]); int(base) != (n-1)*ticksPerSegment {
				t.Errorf("%s: decode time %d", name, base)
			}
			trun := child(t, boxes, "moof", "traf", "trun").payload
			count := int(binary.BigEndian.Uint32(trun[4:]))
			offset := int(binary.BigEndian.Uint32(trun[8:]))
			if count != framesPerSeg {
				t.Errorf("%s: %d samples", name, count)
			}
			if offset != moofLen+8 {
				t.Errorf("%s: data offset %d, mdat payload at %d", name, offset, moofLen+8)
			}
			pos, total := 0, 0
			for i := range count {
				e := trun[12+12*i:]
				dur, size, flags := binary.BigEndian.Uint32(e), int(binary.BigEndian.Uint32(e[4:])), binary.BigEndian.Uint32(e[8:])
				if dur != ticksPerFrame {
					t.Errorf("%s sample %d: duration %d", name, i, dur)
				}
				if sync := flags&0x00010000 == 0; sync != (i == 0) {
					t.Errorf("%s sample %d: flags %#x", name, i, flags)
				}
				sample := mdat[pos : pos+size]
				nalType := byte(0)
				for len(sample) > 0 {
					l := int(binary.BigEndian.Uint32(sample))
					if l == 0 || 4+l > len(sample) {
						t.Fatalf("%s sample %d: NAL length %d of %d bytes", name, i, l, len(sample))
					}
					nalType = sample[4] & 0x1f
					sample = sample[4+l:]
				}
				if want := byte(nalSlice); i == 0 && nalType != nalIDR || i > 0 && nalType != want {
					t.Errorf("%s sample %d: NAL type %d", name, i, nalType)
				}
				pos += size
				total += size
			}
			if total != len(mdat) {
				t.Errorf("%s: samples cover %d of %d mdat bytes", name, total, len(mdat))
			}
		}
	}
	// The UHD IDR is tens of kilobytes, not the 12 MB raw samples would take.
	if uhd := stored(t, s, "uhd/seg1.m4s"); len(uhd) > 64<<10 {
		t.Errorf("UHD segment has %d bytes", len(uhd))
	}
}

var attrRE = regexp.MustCompile(`([A-Z0-9-]+)=("[^"]*"|[^,]*)`)

func attributes(line string) map[string]string {
	out := map[string]string{}
	for _, m := range attrRE.FindAllStringSubmatch(line, -1) {
		out[m[1]] = strings.Trim(m[2], `"`)
	}
	return out
}

// TestHLSPlaylists checks the stored playlists against RFC 8216bis: the
// multivariant playlist names every rendition once with a BANDWIDTH at
// least its peak segment bit rate, RESOLUTION, CODECS and FRAME-RATE, and a
// relative URI; each media playlist is version 7 VOD with EXT-X-MAP, its
// EXTINF durations within EXT-X-TARGETDURATION and adding up to the
// presentation, every URI a stored object.
func TestHLSPlaylists(t *testing.T) {
	t.Parallel()
	s := buildForTest(t)
	lines := strings.Split(strings.TrimSuffix(string(stored(t, s, "master.m3u8")), "\n"), "\n")
	if lines[0] != "#EXTM3U" || lines[1] != "#EXT-X-VERSION:7" {
		t.Fatalf("master header %q", lines[:2])
	}
	seen := map[string]bool{}
	for i, line := range lines {
		inf, ok := strings.CutPrefix(line, "#EXT-X-STREAM-INF:")
		if !ok {
			continue
		}
		a := attributes(inf)
		uri := lines[i+1]
		name, ok := strings.CutSuffix(uri, "/media.m3u8")
		if !ok || strings.Contains(name, "/") {
			t.Fatalf("variant URI %q", uri)
		}
		var r *Rendition
		for _, x := range s.Renditions() {
			if x.Name == name {
				r = &x
			}
		}
		if r == nil {
			t.Fatalf("variant %s is not a rendition", name)
		}
		seen[name] = true
		peak := 0
		for n := 1; n <= segmentCount; n++ {
			peak = max(peak, len(stored(t, s, fmt.Sprintf("%s/seg%d.m4s", name, n)))*8/segmentSeconds)
		}
		if bw, _ := strconv.Atoi(a["BANDWIDTH"]); bw < peak {
			t.Errorf("%s: BANDWIDTH %d below the peak %d", name, bw, peak)
		}
		if a["RESOLUTION"] != fmt.Sprintf("%dx%d", r.Width, r.Height) || a["CODECS"] != r.Codecs || a["FRAME-RATE"] != "10.000" {
			t.Errorf("%s: attributes %v", name, a)
		}

		media := string(stored(t, s, name+"/media.m3u8"))
		for _, want := range []string{"#EXTM3U\n#EXT-X-VERSION:7\n", "\n#EXT-X-PLAYLIST-TYPE:VOD\n", "\n#EXT-X-MAP:URI=\"init.mp4\"\n", "\n#EXT-X-ENDLIST\n"} {
			if !strings.Contains(media, want) {
				t.Errorf("%s/media.m3u8 lacks %q", name, want)
			}
		}
		target := 0
		var sum float64
		segs := 0
		mlines := strings.Split(media, "\n")
		for j, l := range mlines {
			if v, ok := strings.CutPrefix(l, "#EXT-X-TARGETDURATION:"); ok {
				target, _ = strconv.Atoi(v)
			}
			if v, ok := strings.CutPrefix(l, "#EXTINF:"); ok {
				d, err := strconv.ParseFloat(strings.TrimSuffix(v, ","), 64)
				if err != nil || int(d+0.5) > target {
					t.Errorf("%s: EXTINF %q over target %d", name, v, target)
				}
				sum += d
				segs++
				stored(t, s, name+"/"+mlines[j+1])
			}
		}
		if segs != segmentCount || sum != segmentCount*segmentSeconds {
			t.Errorf("%s: %d segments, %.3f s", name, segs, sum)
		}
		stored(t, s, name+"/init.mp4")
	}
	if len(seen) != len(ladder) {
		t.Errorf("variants %v", seen)
	}
}

type mpdDoc struct {
	XMLName  xml.Name `xml:"urn:mpeg:dash:schema:mpd:2011 MPD"`
	Type     string   `xml:"type,attr"`
	Profiles string   `xml:"profiles,attr"`
	Duration string   `xml:"mediaPresentationDuration,attr"`
	Periods  []struct {
		Sets []struct {
			MimeType string `xml:"mimeType,attr"`
			Template struct {
				Timescale int    `xml:"timescale,attr"`
				Start     int    `xml:"startNumber,attr"`
				Init      string `xml:"initialization,attr"`
				Media     string `xml:"media,attr"`
				Timeline  []struct {
					T int `xml:"t,attr"`
					D int `xml:"d,attr"`
					R int `xml:"r,attr"`
				} `xml:"SegmentTimeline>S"`
			} `xml:"SegmentTemplate"`
			Reps []struct {
				ID        string `xml:"id,attr"`
				Bandwidth int    `xml:"bandwidth,attr"`
				Width     int    `xml:"width,attr"`
				Height    int    `xml:"height,attr"`
				Codecs    string `xml:"codecs,attr"`
			} `xml:"Representation"`
		} `xml:"AdaptationSet"`
	} `xml:"Period"`
}

// TestDASHManifest resolves the MPD's SegmentTemplate for every
// Representation the way a DASH client does and requires each URL to be a
// stored object, the timeline to add up to mediaPresentationDuration, and
// the Representations to match the ladder.
func TestDASHManifest(t *testing.T) {
	t.Parallel()
	s := buildForTest(t)
	var doc mpdDoc
	if err := xml.Unmarshal(stored(t, s, "manifest.mpd"), &doc); err != nil {
		t.Fatal(err)
	}
	if doc.Type != "static" || doc.Profiles != "urn:mpeg:dash:profile:isoff-live:2011" || doc.Duration != fmt.Sprintf("PT%dS", segmentCount*segmentSeconds) {
		t.Errorf("MPD %s %s %s", doc.Type, doc.Profiles, doc.Duration)
	}
	if len(doc.Periods) != 1 || len(doc.Periods[0].Sets) != 1 {
		t.Fatalf("periods %+v", doc.Periods)
	}
	set := doc.Periods[0].Sets[0]
	tpl := set.Template
	var ticks, count int
	for _, s := range tpl.Timeline {
		if s.T != ticks {
			t.Errorf("timeline gap at %d", s.T)
		}
		ticks += s.D * (s.R + 1)
		count += s.R + 1
	}
	if ticks != segmentCount*segmentSeconds*tpl.Timescale {
		t.Errorf("timeline covers %d ticks", ticks)
	}
	if len(set.Reps) != len(ladder) {
		t.Fatalf("%d representations", len(set.Reps))
	}
	for i, rep := range set.Reps {
		r := s.Renditions()[i]
		if rep.ID != r.Name || rep.Width != r.Width || rep.Height != r.Height || rep.Codecs != r.Codecs || rep.Bandwidth != r.Bandwidth {
			t.Errorf("representation %+v, rendition %+v", rep, r)
		}
		expand := func(tmpl string, n int) string {
			return strings.NewReplacer("$RepresentationID$", rep.ID, "$Number$", strconv.Itoa(n)).Replace(tmpl)
		}
		stored(t, s, expand(tpl.Init, 0))
		for n := tpl.Start; n < tpl.Start+count; n++ {
			stored(t, s, expand(tpl.Media, n))
		}
	}
}

// TestFFprobeRenditions has ffprobe read each rendition as a player's
// buffer holds it (init segment, then the media segments) and count
// frames by decoding them.
func TestFFprobeRenditions(t *testing.T) {
	t.Parallel()
	ffprobe := needTool(t, "ffprobe")
	s := buildForTest(t)
	dir := t.TempDir()
	for _, r := range s.Renditions() {
		t.Run(r.Name, func(t *testing.T) {
			t.Parallel()
			var buf bytes.Buffer
			buf.Write(stored(t, s, r.Name+"/init.mp4"))
			for n := 1; n <= segmentCount; n++ {
				buf.Write(stored(t, s, fmt.Sprintf("%s/seg%d.m4s", r.Name, n)))
			}
			file := filepath.Join(dir, r.Name+".mp4")
			if err := os.WriteFile(file, buf.Bytes(), 0o600); err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			cmd := exec.CommandContext(ctx, ffprobe, "-v", "error", "-count_frames", "-of", "json",
				"-show_entries", "stream=codec_name,profile,level,width,height,nb_read_frames,avg_frame_rate:format=duration", file)
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			out, err := cmd.Output()
			// Decoding errors (a wrong bit in a macroblock) only show on stderr.
			if err != nil || stderr.Len() > 0 {
				t.Fatalf("ffprobe: %v\n%s", err, stderr.String())
			}
			var probe struct {
				Streams []struct {
					Codec     string `json:"codec_name"`
					Profile   string `json:"profile"`
					Level     int    `json:"level"`
					Width     int    `json:"width"`
					Height    int    `json:"height"`
					Frames    string `json:"nb_read_frames"`
					FrameRate string `json:"avg_frame_rate"`
				} `json:"streams"`
				Format struct {
					Duration string `json:"duration"`
				} `json:"format"`
			}
			if err := json.Unmarshal(out, &probe); err != nil || len(probe.Streams) != 1 {
				t.Fatalf("ffprobe output %s: %v", out, err)
			}
			st := probe.Streams[0]
			level, _ := strconv.ParseInt(r.Codecs[len(r.Codecs)-2:], 16, 32)
			if st.Codec != "h264" || st.Profile != "High" || st.Level != int(level) || st.Width != r.Width || st.Height != r.Height ||
				st.Frames != strconv.Itoa(segmentCount*framesPerSeg) || st.FrameRate != "10/1" {
				t.Errorf("ffprobe: %+v", st)
			}
			if d, _ := strconv.ParseFloat(probe.Format.Duration, 64); d != segmentCount*segmentSeconds {
				t.Errorf("duration %s", probe.Format.Duration)
			}
		})
	}
}

// BenchmarkBuildStream measures what New spends building the objects.
func BenchmarkBuildStream(b *testing.B) {
	var size int
	for b.Loop() {
		s := buildForTest(b)
		size = 0
		for _, o := range s.objects {
			size += len(o.body)
		}
	}
	b.ReportMetric(float64(size), "bytes")
}
