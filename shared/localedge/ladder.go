package localedge

import (
	"fmt"
	"hash/fnv"
	"strings"
	"sync"
	"time"

	"github.com/playplane/playplane/shared/playback"
)

// Rendition is one rung of the test ladder; its Name is the path segment
// under the title's asset path (/titles/<id>/<Name>/).
type Rendition struct {
	Name      string
	Quality   playback.Quality
	Width     int
	Height    int
	Codecs    string // RFC 6381 codecs parameter, e.g. "avc1.64001f"
	Bandwidth int    // peak segment bit rate, bits per second (HLS BANDWIDTH, DASH @bandwidth)
	// AverageBandwidth is the mean bit rate over the presentation.
	AverageBandwidth int
}

// Shape of the test presentation: every rendition has segmentCount
// segments of segmentSeconds at framesPerSecond, each opening with an IDR.
const (
	framesPerSecond = 10
	segmentSeconds  = 2
	segmentCount    = 3
	framesPerSeg    = framesPerSecond * segmentSeconds
	ticksPerFrame   = timescale / framesPerSecond
	ticksPerSegment = timescale * segmentSeconds
)

// ladder lists the renditions with the H.264 level each picture size needs
// (ITU-T H.264 table A-1: MaxFS in macroblocks and MaxMBPS at this frame
// rate): 640x360 is 920 MBs, level 3.0 (MaxFS 1620); 1280x720 is 3600,
// level 3.1 (MaxFS 3600); 3840x2160 is 32400, level 5.1 (MaxFS 36864; 5.0
// allows only 22080).
var ladder = []struct {
	name    string
	quality playback.Quality
	picture picture
}{
	{"sd", playback.QualitySD, picture{width: 640, height: 360, level: 30, fps: framesPerSecond}},
	{"hd", playback.QualityHD, picture{width: 1280, height: 720, level: 31, fps: framesPerSecond}},
	{"uhd", playback.QualityUHD, picture{width: 3840, height: 2160, level: 51, fps: framesPerSecond}},
}

// Content types the edge stores objects with, as an upload to S3 or Cloud
// Storage would set them.
const (
	typeHLS     = "application/vnd.apple.mpegurl"
	typeDASH    = "application/dash+xml"
	typeInit    = "video/mp4"
	typeSegment = "video/iso.segment"
)

// object is one stored file of a title.
type object struct {
	body        []byte
	contentType string
	etag        string
}

// Stream is the stored test presentation every title serves: CMAF
// renditions with an HLS multivariant playlist and a DASH MPD over them.
type Stream struct {
	objects    map[string]object // by path under the title prefix, e.g. "hd/seg2.m4s"
	renditions []Rendition
	buildTime  time.Duration
}

// sharedStream is built on first use and shared by every Handler: the
// objects never change.
var sharedStream = sync.OnceValues(BuildStream)

// BuildStream generates the test presentation (about 20 ms and 125 KB).
// New uses one shared build.
func BuildStream() (*Stream, error) {
	start := time.Now()
	s := &Stream{objects: map[string]object{}}
	put := func(name, contentType string, body []byte) {
		s.objects[name] = object{body: body, contentType: contentType, etag: etag(body)}
	}
	for ri, r := range ladder {
		p := r.picture
		sps, pps := nal(3, nalSPS, p.sps()), nal(3, nalPPS, pps())
		put(r.name+"/init.mp4", typeInit, initSegment(p, sps, pps, segmentCount*ticksPerSegment))
		peak, total := 0, 0
		for seg := range segmentCount {
			samples := make([]sample, framesPerSeg)
			c := segmentColour(ri, seg)
			samples[0] = sample{data: lengthPrefixed(nal(3, nalIDR, p.idrSlice(seg%2, c))), sync: true}
			for f := 1; f < framesPerSeg; f++ {
				samples[f] = sample{data: lengthPrefixed(nal(2, nalSlice, p.skipSlice(f)))}
			}
			body := mediaSegment(seg+1, seg*ticksPerSegment, ticksPerFrame, samples)
			put(fmt.Sprintf("%s/seg%d.m4s", r.name, seg+1), typeSegment, body)
			peak = max(peak, len(body))
			total += len(body)
		}
		rend := Rendition{
			Name: r.name, Quality: r.quality, Width: p.width, Height: p.height,
			Codecs:           fmt.Sprintf("avc1.%02x%02x%02x", sps[1], sps[2], sps[3]),
			Bandwidth:        ceilDiv(peak*8, segmentSeconds),
			AverageBandwidth: ceilDiv(total*8, segmentCount*segmentSeconds),
		}
		s.renditions = append(s.renditions, rend)
		put(r.name+"/media.m3u8", typeHLS, mediaPlaylist())
	}
	put("master.m3u8", typeHLS, multivariantPlaylist(s.renditions))
	put("manifest.mpd", typeDASH, mpd(s.renditions))
	s.buildTime = time.Since(start)
	return s, nil
}

func ceilDiv(a, b int) int { return (a + b - 1) / b }

// segmentColour differs per rendition and per segment, so a viewer sees
// both a switch and a segment boundary.
func segmentColour(rendition, seg int) colour {
	return colour{
		y:  byte(60 + (rendition*50+seg*40)%150),
		cb: byte(70 + (rendition*70+seg*30)%120),
		cr: byte(190 - (rendition*40+seg*50)%120),
	}
}

// BuildTime is how long BuildStream took.
func (s *Stream) BuildTime() time.Duration { return s.buildTime }

// Renditions describes the ladder, lowest first.
func (s *Stream) Renditions() []Rendition { return append([]Rendition(nil), s.renditions...) }

// Object returns the stored bytes and content type of name, a path under a
// title's prefix ("master.m3u8", "sd/seg1.m4s").
func (s *Stream) Object(name string) (body []byte, contentType string, ok bool) {
	o, ok := s.objects[name]
	return o.body, o.contentType, ok
}

// Names lists every stored object path.
func (s *Stream) Names() []string {
	out := make([]string, 0, len(s.objects))
	for n := range s.objects {
		out = append(out, n)
	}
	return out
}

// multivariantPlaylist follows RFC 8216bis 4.4.6: one EXT-X-STREAM-INF per
// rendition with relative URIs, so it resolves against wherever it is
// stored. Version 7 because EXT-X-MAP appears in media playlists without
// I-frame-only playlists (4.4.2.5 needs 6; 7 is what fMP4 VOD uses).
func multivariantPlaylist(rs []Rendition) []byte {
	var b strings.Builder
	b.WriteString("#EXTM3U\n#EXT-X-VERSION:7\n#EXT-X-INDEPENDENT-SEGMENTS\n")
	for _, r := range rs {
		fmt.Fprintf(&b, "#EXT-X-STREAM-INF:BANDWIDTH=%d,AVERAGE-BANDWIDTH=%d,RESOLUTION=%dx%d,CODECS=\"%s\",FRAME-RATE=%d.000\n%s/media.m3u8\n",
			r.Bandwidth, r.AverageBandwidth, r.Width, r.Height, r.Codecs, framesPerSecond, r.Name)
	}
	return []byte(b.String())
}

// mediaPlaylist is the same for every rendition: URIs are relative to the
// rendition's directory.
func mediaPlaylist() []byte {
	var b strings.Builder
	fmt.Fprintf(&b, "#EXTM3U\n#EXT-X-VERSION:7\n#EXT-X-TARGETDURATION:%d\n#EXT-X-MEDIA-SEQUENCE:1\n#EXT-X-PLAYLIST-TYPE:VOD\n#EXT-X-INDEPENDENT-SEGMENTS\n#EXT-X-MAP:URI=\"init.mp4\"\n", segmentSeconds)
	for n := 1; n <= segmentCount; n++ {
		fmt.Fprintf(&b, "#EXTINF:%d.000,\nseg%d.m4s\n", segmentSeconds, n)
	}
	b.WriteString("#EXT-X-ENDLIST\n")
	return []byte(b.String())
}

// mpd is a static MPD in the DASH-IF IOP live profile shape: one video
// AdaptationSet, one SegmentTemplate with $Number$ addressing shared by the
// Representations, URLs relative to the MPD. The segments are listed by a
// SegmentTimeline rather than derived from @duration: ffmpeg 5.1's DASH
// reader counts one segment too many from @duration and fetches a fourth.
func mpd(rs []Rendition) []byte {
	var b strings.Builder
	last := rs[len(rs)-1]
	total := segmentCount * segmentSeconds
	fmt.Fprintf(&b, `<?xml version="1.0" encoding="UTF-8"?>
<MPD xmlns="urn:mpeg:dash:schema:mpd:2011" profiles="urn:mpeg:dash:profile:isoff-live:2011" type="static" mediaPresentationDuration="PT%dS" minBufferTime="PT%dS">
  <Period id="0" start="PT0S">
    <AdaptationSet id="0" contentType="video" mimeType="video/mp4" segmentAlignment="true" startWithSAP="1" maxWidth="%d" maxHeight="%d" maxFrameRate="%d" par="16:9">
      <SegmentTemplate timescale="%d" startNumber="1" initialization="$RepresentationID$/init.mp4" media="$RepresentationID$/seg$Number$.m4s">
        <SegmentTimeline>
          <S t="0" d="%d" r="%d"/>
        </SegmentTimeline>
      </SegmentTemplate>
`, total, segmentSeconds, last.Width, last.Height, framesPerSecond, timescale, ticksPerSegment, segmentCount-1)
	for _, r := range rs {
		fmt.Fprintf(&b, `      <Representation id="%s" bandwidth="%d" width="%d" height="%d" sar="1:1" frameRate="%d" codecs="%s"/>
`, r.Name, r.Bandwidth, r.Width, r.Height, framesPerSecond, r.Codecs)
	}
	b.WriteString("    </AdaptationSet>\n  </Period>\n</MPD>\n")
	return []byte(b.String())
}

// etag names an object's bytes, as S3 and Cloud Storage do with a hash.
func etag(b []byte) string {
	h := fnv.New64a()
	h.Write(b)
	return fmt.Sprintf(`"%016x"`, h.Sum64())
}
