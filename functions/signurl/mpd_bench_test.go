package signurl_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/playplane/playplane/functions/signurl"
	"github.com/playplane/playplane/shared/demo"
)

// BenchmarkPersonalizeMPD personalizes stored MPDs for a session's two
// pathways (cookie grants) and for one (query grants): the three-rendition
// ladder the tests store, and a two-hour title's whose SegmentTemplate
// holds a SegmentTimeline of 3,600 segments. The "dot segment" rows have
// one in the template's media (staying in the title), which makes the
// personalizer read the MPD as XML to resolve its URLs. Run: go test
// -run '^$' -bench PersonalizeMPD ./functions/signurl
func BenchmarkPersonalizeMPD(b *testing.B) {
	ladder := string(storedObjects("bench-film", 1)["/titles/bench-film/manifest.mpd"])
	var timeline strings.Builder
	timeline.WriteString(`<SegmentTimeline>`)
	for n := range 3600 {
		fmt.Fprintf(&timeline, "\n        <S t=\"%d\" d=\"%d\"/>", n*2000, 2000-n%2)
	}
	timeline.WriteString("\n      </SegmentTimeline></SegmentTemplate>")
	long := strings.Replace(ladder, `duration="2000" `, "", 1)
	long = strings.Replace(long, `init.mp4"/>`, `init.mp4">`+timeline.String(), 1)
	const media = `media="$RepresentationID$/`
	queries := map[string]string{"sd": "Policy=x&Signature=y&Key-Pair-Id=z", "hd": "Policy=x&Signature=y&Key-Pair-Id=z", "uhd": "Policy=x&Signature=y&Key-Pair-Id=z"}
	for _, mpd := range []struct{ name, stored string }{
		{"ladder", ladder},
		{"ladder, dot segment", strings.Replace(ladder, media, `media="./x/../$RepresentationID$/`, 1)},
		{"timeline-3600", long},
		{"timeline-3600, dot segment", strings.Replace(long, media, `media="./x/../$RepresentationID$/`, 1)},
	} {
		for _, grant := range []struct {
			name     string
			pathways []signurl.Pathway
			queries  map[string]string
		}{{"cookie", examplePathways, nil}, {"query", examplePathways[:1], queries}} {
			stored := []byte(mpd.stored)
			b.Run(mpd.name+"/"+grant.name, func(b *testing.B) {
				if _, err := signurl.PersonalizeMPD(nil, stored, demo.Ladder, grant.pathways, "/titles/bench-film/", "https://api.example.com/v1/steering/ses_1?format=dash", grant.queries); err != nil {
					b.Fatal(err)
				}
				b.SetBytes(int64(len(stored)))
				b.ReportAllocs()
				for b.Loop() {
					if _, err := signurl.PersonalizeMPD(nil, stored, demo.Ladder, grant.pathways, "/titles/bench-film/", "https://api.example.com/v1/steering/ses_1?format=dash", grant.queries); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}
