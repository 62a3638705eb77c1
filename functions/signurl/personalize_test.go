package signurl_test

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"io"
	"slices"
	"strings"
	"testing"

	"github.com/playplane/playplane/functions/signurl"
	"github.com/playplane/playplane/shared/demo"
	"github.com/playplane/playplane/shared/playback"
)

var examplePathways = []signurl.Pathway{{ID: "cloudfront", Base: "https://d111.cloudfront.net"}, {ID: "cloudcdn", Base: "https://cdn.example.com"}}

func ExamplePersonalizeMaster() {
	stored := storedObjects("t1", 1)["/titles/t1/master.m3u8"]
	link := func(dst []byte, pathway, rendition string) []byte {
		return fmt.Appendf(dst, "https://api.example.com/v1/manifests/ses_1/hls/%s/%s?token=m1.x", pathway, rendition)
	}
	out, err := signurl.PersonalizeMaster(nil, stored, demo.Ladder[:2], examplePathways,
		"https://api.example.com/v1/steering/ses_1?format=hls&token=m1.x", link)
	fmt.Print(string(out), err)
	// Output:
	// #EXTM3U
	// #EXT-X-VERSION:7
	// #EXT-X-INDEPENDENT-SEGMENTS
	// #EXT-X-CONTENT-STEERING:SERVER-URI="https://api.example.com/v1/steering/ses_1?format=hls&token=m1.x",PATHWAY-ID="cloudfront"
	// #EXT-X-STREAM-INF:BANDWIDTH=800000,RESOLUTION=640x360,CODECS="avc1.42c01e",FRAME-RATE=30.000,PATHWAY-ID="cloudfront",STABLE-VARIANT-ID="sd"
	// https://api.example.com/v1/manifests/ses_1/hls/cloudfront/sd?token=m1.x
	// #EXT-X-STREAM-INF:BANDWIDTH=3000000,RESOLUTION=1280x720,CODECS="avc1.4d401f",FRAME-RATE=30.000,PATHWAY-ID="cloudfront",STABLE-VARIANT-ID="hd"
	// https://api.example.com/v1/manifests/ses_1/hls/cloudfront/hd?token=m1.x
	// #EXT-X-STREAM-INF:BANDWIDTH=800000,RESOLUTION=640x360,CODECS="avc1.42c01e",FRAME-RATE=30.000,PATHWAY-ID="cloudcdn",STABLE-VARIANT-ID="sd"
	// https://api.example.com/v1/manifests/ses_1/hls/cloudcdn/sd?token=m1.x
	// #EXT-X-STREAM-INF:BANDWIDTH=3000000,RESOLUTION=1280x720,CODECS="avc1.4d401f",FRAME-RATE=30.000,PATHWAY-ID="cloudcdn",STABLE-VARIANT-ID="hd"
	// https://api.example.com/v1/manifests/ses_1/hls/cloudcdn/hd?token=m1.x
	// <nil>
}

func ExamplePersonalizeMedia() {
	stored := storedObjects("t1", 2)["/titles/t1/sd/media.m3u8"]
	out, err := signurl.PersonalizeMedia(nil, stored, signurl.Grant{Base: "https://cdn.example.com", Prefix: "/titles/t1/sd/",
		Query: "URLPrefix=aHR0cHM6Ly9jZG4uZXhhbXBsZS5jb20vdGl0bGVzL3QxL3NkLw&Expires=1800000000&KeyName=k1&Signature=c2ln"})
	fmt.Print(string(out), err)
	// Output:
	// #EXTM3U
	// #EXT-X-VERSION:7
	// #EXT-X-TARGETDURATION:2
	// #EXT-X-PLAYLIST-TYPE:VOD
	// #EXT-X-MAP:URI="https://cdn.example.com/titles/t1/sd/init.mp4?URLPrefix=aHR0cHM6Ly9jZG4uZXhhbXBsZS5jb20vdGl0bGVzL3QxL3NkLw&Expires=1800000000&KeyName=k1&Signature=c2ln"
	// #EXTINF:2.000,
	// https://cdn.example.com/titles/t1/sd/seg1.m4s?URLPrefix=aHR0cHM6Ly9jZG4uZXhhbXBsZS5jb20vdGl0bGVzL3QxL3NkLw&Expires=1800000000&KeyName=k1&Signature=c2ln
	// #EXTINF:2.000,
	// https://cdn.example.com/titles/t1/sd/seg2.m4s?URLPrefix=aHR0cHM6Ly9jZG4uZXhhbXBsZS5jb20vdGl0bGVzL3QxL3NkLw&Expires=1800000000&KeyName=k1&Signature=c2ln
	// #EXT-X-ENDLIST
	// <nil>
}

func ExamplePersonalizeMPD() {
	stored := storedObjects("t1", 1)["/titles/t1/manifest.mpd"]
	out, err := signurl.PersonalizeMPD(nil, stored, demo.Ladder[:2], examplePathways, "/titles/t1/",
		"https://api.example.com/v1/steering/ses_1?format=dash&token=m1.x", nil)
	fmt.Print(string(out), err)
	// Output:
	// <?xml version="1.0" encoding="UTF-8"?>
	// <MPD xmlns="urn:mpeg:dash:schema:mpd:2011" profiles="urn:mpeg:dash:profile:isoff-live:2011" type="static" mediaPresentationDuration="PT6S" minBufferTime="PT2S">
	//   <BaseURL serviceLocation="cloudfront">https://d111.cloudfront.net/titles/t1/</BaseURL>
	//   <BaseURL serviceLocation="cloudcdn">https://cdn.example.com/titles/t1/</BaseURL>
	//   <ContentSteering defaultServiceLocation="cloudfront" queryBeforeStart="false">https://api.example.com/v1/steering/ses_1?format=dash&amp;token=m1.x</ContentSteering>
	//   <Period id="0" start="PT0S">
	//     <AdaptationSet contentType="video" mimeType="video/mp4" segmentAlignment="true" startWithSAP="1">
	//       <SegmentTemplate timescale="1000" duration="2000" startNumber="1" media="$RepresentationID$/seg$Number$.m4s" initialization="$RepresentationID$/init.mp4"/>
	//       <Representation id="sd" bandwidth="800000" width="640" height="360" codecs="avc1.42c01e"/>
	//       <Representation id="hd" bandwidth="3000000" width="1280" height="720" codecs="avc1.4d401f"/>
	//     </AdaptationSet>
	//   </Period>
	// </MPD>
	// <nil>
}

// masterHeaderRows are TestPersonalizeMasterHeaderURIs's rows: a tag of a
// multivariant playlist's header and whether it is kept; urlread_test.go
// reads them as the players do.
var masterHeaderRows = []struct {
	name, line string
	kept       bool
}{
	// A relative URI resolves against the personalized playlist's URL,
	// the API, where no key is, as EXT-X-SESSION-DATA's does.
	{"a relative session key", `#EXT-X-SESSION-KEY:METHOD=AES-128,URI="sd/key.bin"`, false},
	{"a relative image stream", `#EXT-X-IMAGE-STREAM-INF:BANDWIDTH=5000,RESOLUTION=320x180,CODECS="jpeg",URI="thumbs/index.m3u8"`, false},
	{"relative session data", `#EXT-X-SESSION-DATA:DATA-ID="com.example.title",URI="meta/t1.json"`, false},
	// An http(s) URL without a host's slashes is fetched from the
	// player's page (hostlessWebURL): as relative.
	{"a scheme without a host's slashes", `#EXT-X-SESSION-KEY:METHOD=AES-128,URI="https:/keys/k2"`, false},
	{"an upper-case scheme and a relative path", `#EXT-X-SESSION-KEY:METHOD=AES-128,URI="HTTPS:sd/key.bin"`, false},
	// A key server's URI is kept.
	{"a key server's scheme", `#EXT-X-SESSION-KEY:METHOD=SAMPLE-AES,URI="skd://key1",KEYFORMAT="com.apple.streamingkeydelivery"`, true},
	{"a key server as a network path", `#EXT-X-SESSION-KEY:METHOD=AES-128,URI="//keys.example.com/k1"`, true},
	{"a key server, backslashes for the slashes", `#EXT-X-SESSION-KEY:METHOD=AES-128,URI="https:\\keys.example.com\k3"`, true},
	{"a key server", `#EXT-X-SESSION-KEY:METHOD=AES-128,URI="https://keys.example.com/k1"`, true},
	// A URI on a pathway's origin goes without a grant (the master's
	// URIs carry none), inside the title's folder or out of it: dropped,
	// as the media playlists' EXT-X-KEY name the key with its grant.
	{"a pathway's origin, the rendition's folder", `#EXT-X-SESSION-KEY:METHOD=AES-128,URI="https://cdn.example.com/titles/t1/sd/key.bin"`, false},
	{"a pathway's origin, out of the title", `#EXT-X-SESSION-KEY:METHOD=AES-128,URI="https://cdn.example.com/keys/k1"`, false},
	{"another pathway's origin as a network path", `#EXT-X-SESSION-KEY:METHOD=AES-128,URI="//d111.cloudfront.net/keys/k1"`, false},
	{"a pathway's origin, the default port", `#EXT-X-SESSION-KEY:METHOD=AES-128,URI="https://CDN.example.com:443/keys/k1"`, false},
	{"a pathway's origin past more slashes", `#EXT-X-SESSION-KEY:METHOD=AES-128,URI="https:////cdn.example.com/keys/k1"`, false},
	{"an image stream on a pathway's origin", `#EXT-X-IMAGE-STREAM-INF:BANDWIDTH=5000,URI="https://cdn.example.com/titles/t1/thumbs/index.m3u8"`, false},
	// Hosts a browser, or hls.js, reads as a pathway's, or not at all.
	{"hls.js moves the host to the pathway's", `#EXT-X-SESSION-KEY:METHOD=AES-128,URI="https:///keys.example.com/../cdn.example.com/keys/k1"`, false},
	{"a fullwidth host", `#EXT-X-SESSION-KEY:METHOD=AES-128,URI="https://ｃｄｎ.example.com/keys/k1"`, false},
	{"a percent-encoded port", `#EXT-X-SESSION-KEY:METHOD=AES-128,URI="https://keys.example.com:%38%34%34%33/k1"`, false},
	{"a tab between the slashes, hls.js moves the host to the pathway's", "#EXT-X-SESSION-KEY:METHOD=AES-128,URI=\"https:/\t/keys.example.com/../cdn.example.com/keys/k1\"", false},
	{"a tab before the slashes, hls.js moves the host to the pathway's", "#EXT-X-SESSION-KEY:METHOD=AES-128,URI=\"https:\t//keys.example.com/../cdn.example.com/keys/k1\"", false},
}

// TestPersonalizeMasterHeaderURIs: a tag of a multivariant playlist's
// header with a URI is kept only when it names an object off the
// pathways that a player fetches from the same URL wherever the playlist
// is served (a key server's); the media playlists' EXT-X-KEY still name
// the key, on the CDN with its grant.
func TestPersonalizeMasterHeaderURIs(t *testing.T) {
	t.Parallel()
	link := func(dst []byte, p, r string) []byte { return append(dst, p+"/"+r...) }
	for _, tc := range masterHeaderRows {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			stored := strings.Replace(string(storedObjects("t1", 1)["/titles/t1/master.m3u8"]), "#EXT-X-INDEPENDENT-SEGMENTS\n",
				"#EXT-X-INDEPENDENT-SEGMENTS\n"+tc.line+"\n", 1)
			out, err := signurl.PersonalizeMaster(nil, []byte(stored), demo.Ladder[:1], examplePathways, "https://s", link)
			if err != nil {
				t.Fatal(err)
			}
			if kept := strings.Contains(string(out), "\n"+tc.line+"\n"); kept != tc.kept {
				t.Fatalf("%s kept: %v, want %v:\n%s", tc.line, kept, tc.kept, out)
			}
		})
	}
}

// mediaURIRows are TestPersonalizeMediaURIs's rows; urlread_test.go reads them as the players do.
var mediaURIRows = []struct {
	name, line, want string
	err              bool
}{
	{"relative segment", "seg1.m4s", "https://cdn.example.com/titles/t1/sd/seg1.m4s?Sig=1", false},
	{"segment with a query", "seg1.m4s?v=2", "https://cdn.example.com/titles/t1/sd/seg1.m4s?v=2&Sig=1", false},
	{"segment with a fragment", "seg1.m4s#t=2", "https://cdn.example.com/titles/t1/sd/seg1.m4s?Sig=1#t=2", false},
	{"segment with a query and a fragment", "seg1.m4s?v=2#a?b", "https://cdn.example.com/titles/t1/sd/seg1.m4s?v=2&Sig=1#a?b", false},
	{"map attribute with a fragment", `#EXT-X-MAP:URI="init.mp4#x"`, `#EXT-X-MAP:URI="https://cdn.example.com/titles/t1/sd/init.mp4?Sig=1#x"`, false},
	{"subfolder", "parts/seg1.m4s", "https://cdn.example.com/titles/t1/sd/parts/seg1.m4s?Sig=1", false},
	// The title's objects are on the pathway, in the title's folder:
	// the grants cover nothing else, and the CDN refuses (403) what
	// they do not cover. A key server's or an ad server's URI (below)
	// may name another host.
	{"a segment on another host", "https://other.example.com/titles/t1/sd/seg1.m4s", "", true},
	{"a segment on another scheme", "http://cdn.example.com/titles/t1/sd/seg1.m4s", "", true},
	{"a segment as a network path to another host", "//other.example.com/titles/t1/sd/seg1.m4s", "", true},
	{"a map on another host", `#EXT-X-MAP:URI="https://other.example.com/init.mp4"`, "", true},
	{"an absolute path to another title", "/titles/t2/sd/seg1.m4s", "", true},
	{"an absolute path out of the titles", "/shared/seg1.m4s", "", true},
	{"a slash and a backslash", `/\other.example.com/seg1.m4s`, "", true},
	{"a key as an absolute path out of the title", `#EXT-X-KEY:METHOD=AES-128,URI="/keys/k1"`, "", true},
	{"an interstitial asset list in another title", `#EXT-X-DATERANGE:ID="ad5",X-ASSET-LIST="/titles/t2/ads.json"`, "", true},
	{"an absolute URL on the pathway, in the folder", "https://cdn.example.com/titles/t1/sd/seg1.m4s", "https://cdn.example.com/titles/t1/sd/seg1.m4s?Sig=1", false},
	{"an absolute URL on the pathway, in another case", "HTTPS://CDN.Example.com/titles/t1/sd/seg1.m4s?v=2", "https://cdn.example.com/titles/t1/sd/seg1.m4s?v=2&Sig=1", false},
	{"a network path on the pathway, another rendition", "//cdn.example.com/titles/t1/hd/seg1.m4s", "https://cdn.example.com/titles/t1/hd/seg1.m4s", false},
	{"an absolute URL on the pathway, another title", "https://cdn.example.com/titles/t2/sd/seg1.m4s", "", true},
	{"an absolute URL on the pathway, climbing out", "https://cdn.example.com/titles/t1/sd/../../t2/sd/seg1.m4s", "", true},
	{"absolute path in the folder", "/titles/t1/sd/seg1.m4s", "https://cdn.example.com/titles/t1/sd/seg1.m4s?Sig=1", false},
	{"absolute path elsewhere gets no grant", "/titles/t1/uhd/seg1.m4s", "https://cdn.example.com/titles/t1/uhd/seg1.m4s", false},
	{"map attribute", `#EXT-X-MAP:URI="init.mp4",BYTERANGE="100@0"`, `#EXT-X-MAP:URI="https://cdn.example.com/titles/t1/sd/init.mp4?Sig=1",BYTERANGE="100@0"`, false},
	{"key server URI", `#EXT-X-KEY:METHOD=SAMPLE-AES,URI="skd://key1"`, `#EXT-X-KEY:METHOD=SAMPLE-AES,URI="skd://key1"`, false},
	// RFC 3986 4.2: a network-path reference names another host; it
	// takes the scheme of the playlist's CDN base, not its path.
	{"network-path key URI", `#EXT-X-KEY:METHOD=AES-128,URI="//keys.example.com/k1"`, `#EXT-X-KEY:METHOD=AES-128,URI="https://keys.example.com/k1"`, false},
	{"URI after a vendor attribute ending in URI", `#EXT-X-MAP:X-SRC-URI="a",URI="init.mp4"`, `#EXT-X-MAP:X-SRC-URI="a",URI="https://cdn.example.com/titles/t1/sd/init.mp4?Sig=1"`, false},
	{"vendor attribute ending in URI", `#EXT-X-FOO:X-URI="a"`, `#EXT-X-FOO:X-URI="a"`, false},
	{"plain tag", "#EXTINF:2.000,", "#EXTINF:2.000,", false},
	// HLS interstitials (draft-pantos-hls-rfc8216bis appendix D): the
	// asset's URI and asset list's are URIs of the playlist too.
	{"interstitial asset", `#EXT-X-DATERANGE:ID="ad1",CLASS="com.apple.hls.interstitial",START-DATE="2020-01-02T21:55:44.000Z",DURATION=15.0,X-ASSET-URI="promo/master.m3u8",X-RESTRICT="SKIP,JUMP"`,
		`#EXT-X-DATERANGE:ID="ad1",CLASS="com.apple.hls.interstitial",START-DATE="2020-01-02T21:55:44.000Z",DURATION=15.0,X-ASSET-URI="https://cdn.example.com/titles/t1/sd/promo/master.m3u8?Sig=1",X-RESTRICT="SKIP,JUMP"`, false},
	{"interstitial asset list", `#EXT-X-DATERANGE:ID="ad2",CLASS="com.apple.hls.interstitial",START-DATE="2020-01-02T21:55:44.000Z",X-ASSET-LIST="./ads.json?slot=1"`,
		`#EXT-X-DATERANGE:ID="ad2",CLASS="com.apple.hls.interstitial",START-DATE="2020-01-02T21:55:44.000Z",X-ASSET-LIST="https://cdn.example.com/titles/t1/sd/ads.json?slot=1&Sig=1"`, false},
	{"interstitial asset on another host", `#EXT-X-DATERANGE:ID="ad3",CLASS="com.apple.hls.interstitial",X-ASSET-URI="https://ads.example.com/a.m3u8"`,
		`#EXT-X-DATERANGE:ID="ad3",CLASS="com.apple.hls.interstitial",X-ASSET-URI="https://ads.example.com/a.m3u8"`, false},
	{"asset attribute of another tag", `#EXT-X-FOO:X-ASSET-URI="a.m3u8"`, `#EXT-X-FOO:X-ASSET-URI="a.m3u8"`, false},
	{"interstitial asset out of the title", `#EXT-X-DATERANGE:ID="ad4",X-ASSET-URI="../../t2/master.m3u8"`, "", true},
	// Dot segments go as a player removes them (RFC 3986 5.2.4): the
	// URI is the object it resolves to, granted when that is in the
	// rendition's folder.
	{"dot segment", "./seg1.m4s", "https://cdn.example.com/titles/t1/sd/seg1.m4s?Sig=1", false},
	{"dot segment in an attribute", `#EXT-X-MAP:URI="./init.mp4"`, `#EXT-X-MAP:URI="https://cdn.example.com/titles/t1/sd/init.mp4?Sig=1"`, false},
	{"dot-dot back into the folder", "../sd/seg1.m4s?v=2#t", "https://cdn.example.com/titles/t1/sd/seg1.m4s?v=2&Sig=1#t", false},
	// hls.js's url-toolkit reads a last segment's ";params" apart (RFC
	// 1808 2.4.4), so "..;x" is a dot-dot to it and no dot segment to the
	// parser, and a URI of params alone names the playlist's own file.
	{"a dot-dot with params, out of the title", "../..;x", "", true},
	{"a dot-dot with params, out of the rendition", "..;p", "", true},
	{"a map's dot-dot with params, out of the title", `#EXT-X-MAP:URI="../..;x"`, "", true},
	{"an absolute URL on the pathway, a dot-dot with params out of the title", "https://cdn.example.com/titles/t1/..;x", "", true},
	{"a dot with params", "./.;p", "", true},
	{"params alone", ";p=1", "", true},
	{"params after a segment's name", "seg1.m4s;p=1", "https://cdn.example.com/titles/t1/sd/seg1.m4s;p=1?Sig=1", false},
	{"params in a folder's name, a dot-dot after it", "a;p/../seg1.m4s", "https://cdn.example.com/titles/t1/sd/seg1.m4s?Sig=1", false},
	{"an interstitial asset list, a dot-dot with params", `#EXT-X-DATERANGE:ID="ad7",X-ASSET-LIST="..;x"`, `#EXT-X-DATERANGE:ID="ad7",X-ASSET-LIST="https://cdn.example.com/titles/t1/sd/..;x?Sig=1"`, false},
	{"a key server, a dot-dot with params", `#EXT-X-KEY:METHOD=AES-128,URI="https://keys.example.com/a/..;x"`, `#EXT-X-KEY:METHOD=AES-128,URI="https://keys.example.com/a/..;x"`, false},
	{"dot-dot in a subfolder", "parts/../seg1.m4s", "https://cdn.example.com/titles/t1/sd/seg1.m4s?Sig=1", false},
	{"dot segments in an absolute path", "/titles/t1/./sd/seg1.m4s", "https://cdn.example.com/titles/t1/sd/seg1.m4s?Sig=1", false},
	{"dot-dot above the root stops there", "../../../../titles/t1/sd/seg1.m4s", "https://cdn.example.com/titles/t1/sd/seg1.m4s?Sig=1", false},
	// Another folder of the title is as its absolute path: no grant.
	{"dot-dot to another rendition", "../uhd/seg1.m4s", "https://cdn.example.com/titles/t1/uhd/seg1.m4s", false},
	{"dot-dot to another rendition in an attribute", `#EXT-X-MAP:URI="./../hd/init.mp4"`, `#EXT-X-MAP:URI="https://cdn.example.com/titles/t1/hd/init.mp4"`, false},
	// Out of the title's folder is a path trick: refused.
	{"dot-dot out of the title", "../../t2/sd/seg1.m4s", "", true},
	{"dot-dot out of the title in an absolute path", "/titles/t1/sd/../../t2/sd/seg1.m4s", "", true},
	{"dot-dot out of the title in an attribute", `#EXT-X-KEY:METHOD=AES-128,URI="../../../keys/k1"`, "", true},
	// A browser's URL parser (WHATWG URL Standard, path state) also
	// takes %2e, in any case and mix, for a dot and, in an http(s)
	// URL, '\' for '/': hls.js leaves them to it, so they are dot
	// segments too, or the grant would ride to another folder.
	{"percent-encoded dot-dot to another rendition", "%2e%2e/hd/seg1.m4s", "https://cdn.example.com/titles/t1/hd/seg1.m4s", false},
	{"mixed dot-dot to another rendition", ".%2E/hd/seg1.m4s", "https://cdn.example.com/titles/t1/hd/seg1.m4s", false},
	{"percent-encoded dot", "%2E/seg1.m4s", "https://cdn.example.com/titles/t1/sd/seg1.m4s?Sig=1", false},
	{"percent-encoded dot-dot in an absolute path", "/titles/t1/sd/%2e./hd/seg1.m4s", "https://cdn.example.com/titles/t1/hd/seg1.m4s", false},
	{"backslashed dot-dot to another rendition", `..\hd\seg1.m4s`, "https://cdn.example.com/titles/t1/hd/seg1.m4s", false},
	{"percent-encoded dot-dot in an attribute", `#EXT-X-MAP:URI="%2e%2e/hd/init.mp4"`, `#EXT-X-MAP:URI="https://cdn.example.com/titles/t1/hd/init.mp4"`, false},
	{"percent-encoded dot-dot out of the title", "%2e%2e/%2E%2E/t2/sd/seg1.m4s", "", true},
	{"backslashed dot-dot out of the title", `..\..\t2\sd\seg1.m4s`, "", true},
	// It also removes every tab and newline, and spaces and controls
	// at either end, before it parses (WHATWG URL Standard, basic URL
	// parser): the URI is written as it reads it.
	{"a tab in a dot-dot, out of the title", ".\t./.\t./t2/sd/seg1.m4s", "", true},
	{"a carriage return in a dot-dot, out of the title", "..\r/../t2/sd/seg1.m4s", "", true},
	{"a tab in a dot-dot in an attribute, out of the title", "#EXT-X-MAP:URI=\".\t./.\t./t2/sd/init.mp4\"", "", true},
	{"a tab in a dot-dot to another rendition", ".\t./hd/seg1.m4s", "https://cdn.example.com/titles/t1/hd/seg1.m4s", false},
	{"a tab in a segment name", "seg\t1.m4s", "https://cdn.example.com/titles/t1/sd/seg1.m4s?Sig=1", false},
	// RFC 8216bis 4.3 (variable substitution): hls.js replaces each
	// {$name} in a URI line or a quoted attribute with an EXT-X-DEFINE's
	// value (or one IMPORTed from the multivariant playlist) as it
	// parses, before it resolves the URI, so the URI checked is not
	// the one fetched.
	{"a variable holding dot-dots, out of the title", "#EXT-X-DEFINE:NAME=\"up\",VALUE=\"../..\"\n{$up}/t2/sd/seg1.m4s", "", true},
	{"a variable holding dot-dots in an attribute", "#EXT-X-DEFINE:NAME=\"up\",VALUE=\"../..\"\n#EXT-X-MAP:URI=\"{$up}/t2/sd/init.mp4\"", "", true},
	{"an imported variable", "#EXT-X-DEFINE:IMPORT=\"p\"\n{$p}/seg1.m4s", "", true},
	{"a variable in a key's URI", "#EXT-X-DEFINE:NAME=\"k\",VALUE=\"../../../keys/k1\"\n#EXT-X-KEY:METHOD=AES-128,URI=\"{$k}\"", "", true},
	// hls.js 1.7.4 reads an attribute list with /(.+?)=(".*?"|.*?)(?:,|$)/:
	// a name trimmed of white space (a BOM too), an unquoted value
	// taken as it is, a quoted one running to the last quote before a
	// comma. A URI attribute is read so, or refused.
	{"a space before a map's URI name, another host", `#EXT-X-MAP: URI="https://other.example.com/init.mp4"`, "", true},
	{"a BOM before a map's URI name, another host", "#EXT-X-MAP:\ufeffURI=\"https://other.example.com/init.mp4\"", "", true},
	{"a space after a map's URI name, out of the title", `#EXT-X-MAP:URI ="../../t2/sd/init.mp4"`, "", true},
	{"a space before a map's URI name, in the folder", `#EXT-X-MAP: URI="init.mp4"`, `#EXT-X-MAP: URI="https://cdn.example.com/titles/t1/sd/init.mp4?Sig=1"`, false},
	{"an unquoted map URI on another host", `#EXT-X-MAP:URI=https://other.example.com/init.mp4`, "", true},
	{"an unquoted map URI out of the title", `#EXT-X-MAP:URI=../../t2/sd/init.mp4`, "", true},
	{"an unquoted interstitial asset list", `#EXT-X-DATERANGE:ID="ad6",X-ASSET-LIST=../../t2/ads.json`, "", true},
	{"text after a map URI's quote, out of the title", `#EXT-X-MAP:URI="x"/../../../t2/sd/init.mp4"`, "", true},
	// hls.js 1.7.4 finds a media playlist's tags and URIs with
	// /#EXTINF:…(?:,(.*)\s+)?|(?!#) *(\S[^\r\n]*)|#.*/g, where a tag
	// ends at a CR, U+2028 or U+2029 ('.' stops there) and what follows
	// is a tag or a URI of its own.
	{"a CR in a tag, then a map on another host", "#EXT-X-FOO:x\r#EXT-X-MAP:URI=\"https://other.example.com/init.mp4\"", "", true},
	{"a CR in EXTINF, then a segment on another host", "#EXTINF:4,\rhttps://other.example.com/seg1.m4s", "", true},
	{"a line separator in a tag, then a map out of the title", "#EXT-X-FOO:x\u2028#EXT-X-MAP:URI=\"/titles/t2/sd/init.mp4\"", "", true},
	{"a paragraph separator in a tag, then a map on another host", "#EXT-X-FOO:x\u2029#EXT-X-MAP:URI=\"https://other.example.com/init.mp4\"", "", true},
	// hls.js resolves a URI with url-toolkit before the browser reads it:
	// String.prototype.trim strips white space (a no-break space, a BOM
	// too) but no other control, and a scheme or a network path is what
	// the text starts with. Where that differs from what a browser's URL
	// parser reads once it has stripped controls, tabs and newlines, hls.js
	// fetches one object and a browser another: refused. Node 20 with
	// url-toolkit as hls.min.js holds it: "ht\ttps://keys.example.com/k1"
	// is fetched as https://cdn.example.com/titles/t1/sd/https://keys.example.com/k1,
	// new URL of it alone is https://keys.example.com/k1.
	// An empty reference is the playlist itself (RFC 3986 5.2.2; node 20:
	// new URL("", playlist) is the playlist, url-toolkit's
	// buildAbsoluteURL returns it too): no object of the title a grant
	// could go with, and on the API once personalized.
	{"a map with an empty URI", `#EXT-X-MAP:URI=""`, "", true},
	{"a key with a URI of spaces", `#EXT-X-KEY:METHOD=AES-128,URI="  "`, "", true},
	// A query or a fragment alone has an empty path too: the stored
	// playlist itself with it (RFC 3986 5.2.2), not the rendition's folder.
	{"a segment of a query alone", "?v=1", "", true},
	{"a map of a query alone", `#EXT-X-MAP:URI="?v=1"`, "", true},
	{"a map of a fragment alone", `#EXT-X-MAP:URI="#x"`, "", true},
	{"an interstitial asset list of a query alone", `#EXT-X-DATERANGE:ID="ad16",X-ASSET-LIST="?slot=1"`, "", true},
	{"an interstitial asset list with an empty URI", `#EXT-X-DATERANGE:ID="ad12",CLASS="com.apple.hls.interstitial",X-ASSET-LIST=""`, "", true},
	// url-toolkit removes the dot segments it sees ("." and ".." between
	// '/') before the browser removes the rest (with a tab or a newline in
	// them, %2e, after a '\'): where one the browser alone sees, or a '\',
	// comes before one of url-toolkit's "..", the two pair them otherwise.
	// Node 20 with url-toolkit as hls.min.js holds it: "x/%2e%2e/../seg1.m4s"
	// is …/sd/x/seg1.m4s to hls.js, …/t1/seg1.m4s to new URL.
	{"a tab in a dot-dot before a dot-dot", "hd/..\t/../seg1.m4s", "", true},
	{"a percent-encoded dot-dot before a dot-dot", "x/%2e%2e/../seg1.m4s", "", true},
	{"a backslash before a dot-dot", `x\y/../seg1.m4s`, "", true},
	{"a percent-encoded dot-dot before a dot-dot in an absolute path", "/titles/t1/sd/x/%2E./../seg1.m4s", "", true},
	{"an absolute URL on the pathway, a backslash before a dot-dot", `https://cdn.example.com/titles/t1/sd/x\y/../seg1.m4s`, "", true},
	{"a key server, a tab in a dot-dot before a dot-dot", "#EXT-X-KEY:METHOD=AES-128,URI=\"https://keys.example.com/a/..\t/../k1\"", "", true},
	{"an absolute path after a backslash", `\titles\t1\sd\seg1.m4s`, "", true},
	{"a backslash after a dot-dot", `../hd\seg1.m4s`, "https://cdn.example.com/titles/t1/hd/seg1.m4s", false},
	{"a tab in a dot-dot after a dot-dot", "../x/..\t/y.m4s", "https://cdn.example.com/titles/t1/y.m4s", false},
	// url-toolkit takes only "//" for a network path; a URL parser takes
	// either slash for one ('\' in an http(s) URL, the relative slash
	// state): "\\keys.example.com\k1" is a path in the rendition's folder
	// to hls.js, the key server to a player reading it with the parser,
	// and to hls.js's own asset-list loader (new URL(uri, playlist)).
	{"a segment after two backslashes", `\\cdn.example.com\titles\t1\sd\seg1.m4s`, "", true},
	{"a key server after two backslashes", `#EXT-X-KEY:METHOD=AES-128,URI="\\keys.example.com\k1"`, "", true},
	{"an interstitial asset list after a backslash and a slash", `#EXT-X-DATERANGE:ID="ad14",X-ASSET-LIST="\/cdn.example.com/titles/t2/ads.json"`, "", true},
	{"a tab in a key server's scheme", "#EXT-X-KEY:METHOD=AES-128,URI=\"ht\ttps://keys.example.com/k1\"", "", true},
	{"a control before a key server's scheme", "#EXT-X-KEY:METHOD=AES-128,URI=\"\x01https://keys.example.com/k1\"", "", true},
	{"a tab between a key server's slashes", "#EXT-X-KEY:METHOD=AES-128,URI=\"/\t/keys.example.com/k1\"", "", true},
	{"a no-break space before a key server's scheme", "#EXT-X-KEY:METHOD=AES-128,URI=\"\u00a0https://keys.example.com/k1\"", "", true},
	{"a no-break space before a segment's name", "\u00a0seg1.m4s", "", true},
	// The other way round, a control url-toolkit keeps (String.prototype.trim
	// removes white space only) and the parser strips: "\x01seg1.m4s" is
	// sd/%01seg1.m4s to hls.js, sd/seg1.m4s to the parser.
	{"a control before a segment's name", "\x01seg1.m4s", "", true},
	{"a control before a dot-dot", "\x1f../hd/seg1.m4s", "", true},
	{"a control before a map's name", "#EXT-X-MAP:URI=\"\x01init.mp4\"", "", true},
	{"a control before an interstitial asset list, which new URL strips", "#EXT-X-DATERANGE:ID=\"ad15\",X-ASSET-LIST=\"\x01ads.json\"", `#EXT-X-DATERANGE:ID="ad15",X-ASSET-LIST="https://cdn.example.com/titles/t1/sd/ads.json?Sig=1"`, false},
	{"a space before a key server's scheme", `#EXT-X-KEY:METHOD=AES-128,URI=" https://keys.example.com/k1"`, `#EXT-X-KEY:METHOD=AES-128,URI="https://keys.example.com/k1"`, false},
	{"a tab in a key server's host", "#EXT-X-KEY:METHOD=AES-128,URI=\"https://keys.exa\tmple.com/k1\"", `#EXT-X-KEY:METHOD=AES-128,URI="https://keys.example.com/k1"`, false},
	// An http(s) URL without the two slashes of a host is fetched as
	// it is by hls.js 1.7.4 (url-toolkit keeps a URL with a scheme)
	// and resolved by the browser against the player's page (WHATWG
	// URL Standard, scheme state: the page's host where the schemes
	// are the same), not against the playlist's URL: not on the CDN,
	// nor a host of its own. Node 20's URL, url-toolkit as hls.min.js
	// holds it, page https://app.example/watch/page.html:
	// "https:/other/x" is fetched as https://app.example/other/x.
	{"a key, a scheme without a host's slashes", `#EXT-X-KEY:METHOD=AES-128,URI="https:/keys.example.com/k1"`, "", true},
	{"a key, a scheme before a host's name", `#EXT-X-KEY:METHOD=AES-128,URI="https:keys.example.com/k1"`, "", true},
	{"a key, an upper-case scheme and a path in the folder", `#EXT-X-KEY:METHOD=AES-128,URI="HTTPS:/titles/t1/sd/key.bin"`, "", true},
	{"a key, a scheme and a relative path", `#EXT-X-KEY:METHOD=AES-128,URI="http:key.bin"`, "", true},
	{"a key, a scheme alone", `#EXT-X-KEY:METHOD=AES-128,URI="https:"`, "", true},
	{"a key, a control and a space before a scheme without a host", "#EXT-X-KEY:METHOD=AES-128,URI=\"\x01 https:/keys/k1\"", "", true},
	{"an interstitial asset list, a scheme without a host", `#EXT-X-DATERANGE:ID="ad7",CLASS="com.apple.hls.interstitial",X-ASSET-LIST="https:/ads/list.json"`, "", true},
	{"an interstitial asset, a scheme and a relative path", `#EXT-X-DATERANGE:ID="ad8",CLASS="com.apple.hls.interstitial",X-ASSET-URI="https:promo/master.m3u8"`, "", true},
	{"a map, a scheme and a path in the folder", `#EXT-X-MAP:URI="https:/titles/t1/sd/init.mp4"`, "", true},
	{"a segment, a scheme and a relative path", "https:seg1.m4s", "", true},
	// Backslashes are its slashes (WHATWG URL Standard, relative slash
	// state): a host of its own, kept as today.
	{"a key server, backslashes for the slashes", `#EXT-X-KEY:METHOD=AES-128,URI="https:\\keys.example.com\k1"`, `#EXT-X-KEY:METHOD=AES-128,URI="https:\\keys.example.com\k1"`, false},
	{"a key server, a slash and a backslash", `#EXT-X-KEY:METHOD=AES-128,URI="https:/\keys.example.com/k1"`, `#EXT-X-KEY:METHOD=AES-128,URI="https:/\keys.example.com/k1"`, false},
}

func TestPersonalizeMediaURIs(t *testing.T) {
	t.Parallel()
	g := signurl.Grant{Base: "https://cdn.example.com", Prefix: "/titles/t1/sd/", Query: "Sig=1"}
	for _, tc := range mediaURIRows {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			out, err := signurl.PersonalizeMedia(nil, []byte("#EXTM3U\n"+tc.line+"\n"), g)
			if tc.err {
				if pe := playback.AsError(err); pe == nil || pe.Reason != "manifest_unsupported" {
					t.Fatalf("= %q, %v; want manifest_unsupported", out, err)
				}
				return
			}
			if err != nil || string(out) != "#EXTM3U\n"+tc.want+"\n" {
				t.Fatalf("= %q, %v; want %q", out, err, tc.want)
			}
		})
	}
}

// defaultPortRows are TestPersonalizeMediaReadsTheDefaultPort's rows; urlread_test.go reads them as the players do.
var defaultPortRows = []struct {
	name, base, line, want string
	err                    bool
}{
	{"a map, the default port", "https://cdn.example.com", `#EXT-X-MAP:URI="https://cdn.example.com:443/titles/t1/sd/init.mp4"`,
		`#EXT-X-MAP:URI="https://cdn.example.com/titles/t1/sd/init.mp4?Sig=1"`, false},
	{"a segment, the default port with leading zeros", "https://cdn.example.com", "https://cdn.example.com:0443/titles/t1/sd/seg1.m4s",
		"https://cdn.example.com/titles/t1/sd/seg1.m4s?Sig=1", false},
	{"a segment as a network path, an empty port", "https://cdn.example.com", "//cdn.example.com:/titles/t1/sd/seg1.m4s?v=2",
		"https://cdn.example.com/titles/t1/sd/seg1.m4s?v=2&Sig=1", false},
	{"a segment, another rendition, the default port", "https://cdn.example.com", "https://cdn.example.com:443/titles/t1/hd/seg1.m4s",
		"https://cdn.example.com/titles/t1/hd/seg1.m4s", false},
	{"a key in the folder, the default port", "https://cdn.example.com", `#EXT-X-KEY:METHOD=AES-128,URI="https://CDN.example.com:443/titles/t1/sd/key.bin"`,
		`#EXT-X-KEY:METHOD=AES-128,URI="https://cdn.example.com/titles/t1/sd/key.bin?Sig=1"`, false},
	{"a key out of the title, the default port", "https://cdn.example.com", `#EXT-X-KEY:METHOD=AES-128,URI="https://cdn.example.com:443/keys/k1"`, "", true},
	{"a key out of the title, a network path and the default port", "https://cdn.example.com", `#EXT-X-KEY:METHOD=AES-128,URI="//cdn.example.com:443/keys/k1"`, "", true},
	{"an interstitial asset list in another title, the default port", "https://cdn.example.com",
		`#EXT-X-DATERANGE:ID="ad9",CLASS="com.apple.hls.interstitial",X-ASSET-LIST="https://cdn.example.com:443/titles/t2/ads.json"`, "", true},
	{"an http pathway, a segment with its default port", "http://edge.example", "http://edge.example:80/titles/t1/sd/seg1.m4s",
		"http://edge.example/titles/t1/sd/seg1.m4s?Sig=1", false},
	{"an http pathway written with its default port, a segment without", "http://edge.example:80", "http://edge.example/titles/t1/sd/seg1.m4s",
		"http://edge.example:80/titles/t1/sd/seg1.m4s?Sig=1", false},
	{"an http pathway, a key out of the title with its default port", "http://edge.example", `#EXT-X-KEY:METHOD=AES-128,URI="http://edge.example:080/keys/k1"`, "", true},
	// Another port, or https's port on http, is another origin: off the
	// pathway for the title's objects, a key server's own for a key.
	{"a segment, another port", "https://cdn.example.com", "https://cdn.example.com:8443/titles/t1/sd/seg1.m4s", "", true},
	{"a segment, http's port on https", "https://cdn.example.com", "https://cdn.example.com:80/titles/t1/sd/seg1.m4s", "", true},
	{"a key server, another port", "https://cdn.example.com", `#EXT-X-KEY:METHOD=AES-128,URI="https://cdn.example.com:8443/k1"`,
		`#EXT-X-KEY:METHOD=AES-128,URI="https://cdn.example.com:8443/k1"`, false},
	// A port is digits, never percent-decoded, up to 65535, and a
	// percent-decoded host holds no ':' (WHATWG URL Standard, port state
	// and host parsing: a forbidden domain code point): the parser refuses
	// such a URL (node 20: new URL("https://cdn.example.com:%34%34%33/x")
	// throws), so no player fetches it, from the pathway or elsewhere.
	{"a segment in the folder, a percent-encoded port", "https://cdn.example.com", "https://cdn.example.com:%34%34%33/titles/t1/sd/seg1.m4s", "", true},
	{"a map in the folder, a percent-encoded colon and port", "https://cdn.example.com", `#EXT-X-MAP:URI="https://cdn.example.com%3A443/titles/t1/sd/init.mp4"`, "", true},
	{"a key server, a percent-encoded port", "https://cdn.example.com", `#EXT-X-KEY:METHOD=AES-128,URI="https://keys.example.com:%38%34%34%33/k1"`, "", true},
	{"a key server, a percent-encoded colon", "https://cdn.example.com", `#EXT-X-KEY:METHOD=AES-128,URI="//keys.example.com%3a8443/k1"`, "", true},
	{"a key server, a port past 65535", "https://cdn.example.com", `#EXT-X-KEY:METHOD=AES-128,URI="https://keys.example.com:65536/k1"`, "", true},
	{"a key server, the highest port with leading zeros", "https://cdn.example.com", `#EXT-X-KEY:METHOD=AES-128,URI="https://keys.example.com:0065535/k1"`,
		`#EXT-X-KEY:METHOD=AES-128,URI="https://keys.example.com:0065535/k1"`, false},
}

// TestPersonalizeMediaReadsTheDefaultPort: a URL's port is no part of its
// origin when it is its scheme's default (WHATWG URL Standard, port
// state: https 443, http 80; leading zeros are no part of the number, an
// empty port is none), so the browser fetches
// https://cdn.example.com:443/… from the pathway (node 20: new
// URL("https://cdn.example.com:0443/x").href is
// "https://cdn.example.com/x"). On the pathway's origin it is the
// pathway's path: granted in the rendition's folder, refused outside the
// title, a key's or an ad's too. Another port is another origin.
func TestPersonalizeMediaReadsTheDefaultPort(t *testing.T) {
	t.Parallel()
	for _, tc := range defaultPortRows {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			g := signurl.Grant{Base: tc.base, Prefix: "/titles/t1/sd/", Query: "Sig=1"}
			out, err := signurl.PersonalizeMedia(nil, []byte("#EXTM3U\n"+tc.line+"\n"), g)
			if tc.err {
				if pe := playback.AsError(err); pe == nil || pe.Reason != "manifest_unsupported" || pe.RetryAfter != playback.NoRetry {
					t.Fatalf("= %q, %v; want manifest_unsupported", out, err)
				}
				return
			}
			if err != nil || string(out) != "#EXTM3U\n"+tc.want+"\n" {
				t.Fatalf("= %q, %v; want %q", out, err, tc.want)
			}
		})
	}
}

// ipv4Rows are TestPersonalizeMediaReadsAnIPv4AddressAsABrowserDoes's
// rows; urlread_test.go reads them as the players do.
var ipv4Rows = []struct {
	name, base, line, want string
	err                    bool
}{
	{"a key out of the title, the address as one number", "http://127.0.0.1:8080", `#EXT-X-KEY:METHOD=AES-128,URI="http://2130706433:8080/keys/k1"`, "", true},
	{"a key out of the title, hexadecimal parts", "http://127.0.0.1:8080", `#EXT-X-KEY:METHOD=AES-128,URI="http://0x7f.1:8080/keys/k1"`, "", true},
	{"a key out of the title, octal parts", "http://127.0.0.1:8080", `#EXT-X-KEY:METHOD=AES-128,URI="//0177.0.0.01:8080/keys/k1"`, "", true},
	{"an interstitial asset list in another title, a short address", "http://127.0.0.1:8080",
		`#EXT-X-DATERANGE:ID="ad11",CLASS="com.apple.hls.interstitial",X-ASSET-LIST="http://127.1:8080/titles/t2/ads.json"`, "", true},
	{"a segment in the folder, the address as one number", "https://192.168.0.1", "https://3232235521/titles/t1/sd/seg1.m4s",
		"https://192.168.0.1/titles/t1/sd/seg1.m4s?Sig=1", false},
	{"a map in the folder, hexadecimal and octal parts", "http://127.0.0.1:8080", `#EXT-X-MAP:URI="http://0X7F.000.0x0.1:8080/titles/t1/sd/init.mp4"`,
		`#EXT-X-MAP:URI="http://127.0.0.1:8080/titles/t1/sd/init.mp4?Sig=1"`, false},
	{"a segment in another rendition, a trailing dot", "http://127.0.0.1:8080", "http://127.0.0.1.:8080/titles/t1/hd/seg1.m4s",
		"http://127.0.0.1:8080/titles/t1/hd/seg1.m4s", false},
	// A host ending in a number that is no address is no URL to the
	// browser: nothing a player fetches.
	{"a key, a host ending in a number that is no address", "https://cdn.example.com", `#EXT-X-KEY:METHOD=AES-128,URI="https://keys.example.0x1/k1"`, "", true},
	{"a key, a part past 255", "http://127.0.0.1:8080", `#EXT-X-KEY:METHOD=AES-128,URI="http://127.0.0.256:8080/keys/k1"`, "", true},
	// Another address is another host: a key server's own.
	{"a key server at another address", "http://127.0.0.1:8080", `#EXT-X-KEY:METHOD=AES-128,URI="http://0x7f.2:8080/k1"`,
		`#EXT-X-KEY:METHOD=AES-128,URI="http://0x7f.2:8080/k1"`, false},
	{"a segment at another address", "http://127.0.0.1:8080", "http://2130706434:8080/titles/t1/sd/seg1.m4s", "", true},
}

// TestPersonalizeMediaReadsAnIPv4AddressAsABrowserDoes: a browser's URL
// parser reads a host ending in a number as an IPv4 address (WHATWG URL
// Standard, host parsing: the ends-in-a-number checker and the IPv4
// parser): one number, fewer than four parts, hexadecimal (0x) and octal
// (a leading 0) parts, and refuses the URL when that is no address. Node
// 20: new URL("http://0x7f.1:8080/k").host is "127.0.0.1:8080", new
// URL("https://3232235521/x").host "192.168.0.1", and new
// URL("https://keys.example.0x1/k") throws. So such a URI names a pathway
// written with the address (a local edge, a CDN reached by its address)
// as the browser reads it.
func TestPersonalizeMediaReadsAnIPv4AddressAsABrowserDoes(t *testing.T) {
	t.Parallel()
	for _, tc := range ipv4Rows {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			g := signurl.Grant{Base: tc.base, Prefix: "/titles/t1/sd/", Query: "Sig=1"}
			out, err := signurl.PersonalizeMedia(nil, []byte("#EXTM3U\n"+tc.line+"\n"), g)
			if tc.err {
				if pe := playback.AsError(err); pe == nil || pe.Reason != "manifest_unsupported" || pe.RetryAfter != playback.NoRetry {
					t.Fatalf("= %q, %v; want manifest_unsupported", out, err)
				}
				return
			}
			if err != nil || string(out) != "#EXTM3U\n"+tc.want+"\n" {
				t.Fatalf("= %q, %v; want %q", out, err, tc.want)
			}
		})
	}
}

// ipv6Rows are TestPersonalizeMediaReadsAnIPv6AddressAsABrowserDoes's
// rows; urlread_test.go reads them as the players do.
var ipv6Rows = []struct {
	name, base, line, want string
	err                    bool
}{
	{"a key out of the title, every group written", "http://[::1]:8080", `#EXT-X-KEY:METHOD=AES-128,URI="http://[0:0:0:0:0:0:0:1]:8080/keys/k1"`, "", true},
	{"a key out of the title, leading zeros and upper case", "http://[::1]:8080", `#EXT-X-KEY:METHOD=AES-128,URI="//[0000::0001]:8080/keys/k1"`, "", true},
	{"an interstitial asset list in another title, the pathway in upper case", "http://[FE80::A]:8080",
		`#EXT-X-DATERANGE:ID="ad13",CLASS="com.apple.hls.interstitial",X-ASSET-LIST="http://[fe80:0::a]:8080/titles/t2/ads.json"`, "", true},
	{"a segment in the folder, another spelling", "http://[::1]:8080", "http://[0::1]:8080/titles/t1/sd/seg1.m4s",
		"http://[::1]:8080/titles/t1/sd/seg1.m4s?Sig=1", false},
	// The parser refuses an address it cannot read, and a zone.
	{"a key, no address", "http://[::1]:8080", `#EXT-X-KEY:METHOD=AES-128,URI="http://[::g]:8080/k1"`, "", true},
	{"a key, a zone", "http://[::1]:8080", `#EXT-X-KEY:METHOD=AES-128,URI="http://[fe80::1%25eth0]:8080/k1"`, "", true},
	// Another address is another host: a key server's own, an IPv4
	// address mapped into IPv6 too ([::ffff:7f00:1] to the parser).
	{"a key server at another address", "http://[::1]:8080", `#EXT-X-KEY:METHOD=AES-128,URI="http://[::2]:8080/k1"`,
		`#EXT-X-KEY:METHOD=AES-128,URI="http://[::2]:8080/k1"`, false},
	{"a key server at an IPv4 address mapped", "http://127.0.0.1:8080", `#EXT-X-KEY:METHOD=AES-128,URI="http://[::ffff:127.0.0.1]:8080/k1"`,
		`#EXT-X-KEY:METHOD=AES-128,URI="http://[::ffff:127.0.0.1]:8080/k1"`, false},
	{"a segment at another address", "http://[::1]:8080", "http://[::2]:8080/titles/t1/sd/seg1.m4s", "", true},
}

// TestPersonalizeMediaReadsAnIPv6AddressAsABrowserDoes: a browser's URL
// parser reads a host in brackets as an IPv6 address (WHATWG URL Standard,
// IPv6 parser), in any spelling of it: groups of zeros compressed or
// not, leading zeros, either case. Node 20: new
// URL("http://[0:0:0:0:0:0:0:1]:8080/k").host is "[::1]:8080". So such a
// URI names a pathway written with the address as the browser reads it;
// an address it cannot read, or a zone, it refuses.
func TestPersonalizeMediaReadsAnIPv6AddressAsABrowserDoes(t *testing.T) {
	t.Parallel()
	for _, tc := range ipv6Rows {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			g := signurl.Grant{Base: tc.base, Prefix: "/titles/t1/sd/", Query: "Sig=1"}
			out, err := signurl.PersonalizeMedia(nil, []byte("#EXTM3U\n"+tc.line+"\n"), g)
			if tc.err {
				if pe := playback.AsError(err); pe == nil || pe.Reason != "manifest_unsupported" || pe.RetryAfter != playback.NoRetry {
					t.Fatalf("= %q, %v; want manifest_unsupported", out, err)
				}
				return
			}
			if err != nil || string(out) != "#EXTM3U\n"+tc.want+"\n" {
				t.Fatalf("= %q, %v; want %q", out, err, tc.want)
			}
		})
	}
}

// browserHostRows are TestPersonalizeMediaReadsTheHostAsABrowserDoes's rows; urlread_test.go reads them as the players do.
var browserHostRows = []struct {
	name, line, want string
	err              bool
}{
	{"a key past more slashes, out of the title", `#EXT-X-KEY:METHOD=AES-128,URI="////cdn.example.com/keys/k1"`, "", true},
	{"a key past a scheme and three slashes, out of the title", `#EXT-X-KEY:METHOD=AES-128,URI="https:///cdn.example.com/keys/k1"`, "", true},
	{"a key past two slashes and a backslash, out of the title", `#EXT-X-KEY:METHOD=AES-128,URI="//\\cdn.example.com/keys/k1"`, "", true},
	{"an interstitial asset list past more slashes, another title", `#EXT-X-DATERANGE:ID="ad10",X-ASSET-LIST="https:\\\\cdn.example.com/titles/t2/ads.json"`, "", true},
	{"a segment past more slashes, in the folder", "https:////cdn.example.com/titles/t1/sd/seg1.m4s", "https://cdn.example.com/titles/t1/sd/seg1.m4s?Sig=1", false},
	{"a key with credentials, out of the title", `#EXT-X-KEY:METHOD=AES-128,URI="https://user:pw@cdn.example.com/keys/k1"`, "", true},
	{"a map with credentials, in the folder", `#EXT-X-MAP:URI="https://user@cdn.example.com/titles/t1/sd/init.mp4"`, `#EXT-X-MAP:URI="https://cdn.example.com/titles/t1/sd/init.mp4?Sig=1"`, false},
	{"a key, the host percent-encoded, out of the title", `#EXT-X-KEY:METHOD=AES-128,URI="https://cdn%2Eexample%2ecom/keys/k1"`, "", true},
	{"a key, the host with a trailing dot, out of the title", `#EXT-X-KEY:METHOD=AES-128,URI="https://cdn.example.com./keys/k1"`, "", true},
	{"a key, a fullwidth host", `#EXT-X-KEY:METHOD=AES-128,URI="https://ｃｄｎ.example.com/keys/k1"`, "", true},
	{"a key, a percent-encoded fullwidth host", `#EXT-X-KEY:METHOD=AES-128,URI="//%EF%BD%83dn.example.com/keys/k1"`, "", true},
	{"a segment, a backslash after the host, another title", `https://cdn.example.com\titles\t2\sd\seg1.m4s`, "", true},
	{"a segment, a backslash after the host, in the folder", `https://cdn.example.com\titles\t1\sd\seg1.m4s`, `https://cdn.example.com/titles\t1\sd\seg1.m4s?Sig=1`, false},
	{"an absolute path with backslashes, in the folder", `/titles\t1\sd\seg1.m4s`, `https://cdn.example.com/titles\t1\sd\seg1.m4s?Sig=1`, false},
	{"a key server with credentials", `#EXT-X-KEY:METHOD=AES-128,URI="https://user@keys.example.com/k1"`, `#EXT-X-KEY:METHOD=AES-128,URI="https://user@keys.example.com/k1"`, false},
	{"a key server percent-encoded", `#EXT-X-KEY:METHOD=AES-128,URI="https://keys%2Eexample.com/k1"`, `#EXT-X-KEY:METHOD=AES-128,URI="https://keys%2Eexample.com/k1"`, false},
	{"a key server past more slashes", `#EXT-X-KEY:METHOD=AES-128,URI="////keys.example.com/k1"`, `#EXT-X-KEY:METHOD=AES-128,URI="https:////keys.example.com/k1"`, false},
	{"a key server's scheme with a user", `#EXT-X-KEY:METHOD=SAMPLE-AES,URI="skd://user@key1"`, `#EXT-X-KEY:METHOD=SAMPLE-AES,URI="skd://user@key1"`, false},
}

// TestPersonalizeMediaReadsTheHostAsABrowserDoes: the host of a URL that
// names one is read as a browser's URL parser reads it (WHATWG URL
// Standard), which hls.js 1.7.4 leaves it to: any slashes or backslashes
// past the first two are skipped (special authority ignore slashes
// state), credentials before an '@' are no part of the host, a host is
// percent-decoded, and a path may start with '\' (a trailing dot, which
// the parser keeps, names the same host in DNS: the CDN's). Node 20:
// new URL("https:////cdn.example.com/k").href, new
// URL("https://u@cdn%2Eexample.com/k").host and new
// URL("//\\cdn.example.com/k", "https://a/").host all name
// cdn.example.com. So such a URI on the pathway is the pathway's path:
// refused outside the title, a key's too, and granted in the rendition's
// folder. A host with a character outside ASCII, which the parser maps
// (UTS #46), is not read here: a key or an ad there is refused. A key
// server's own host passes as before.
func TestPersonalizeMediaReadsTheHostAsABrowserDoes(t *testing.T) {
	t.Parallel()
	g := signurl.Grant{Base: "https://cdn.example.com", Prefix: "/titles/t1/sd/", Query: "Sig=1"}
	for _, tc := range browserHostRows {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			out, err := signurl.PersonalizeMedia(nil, []byte("#EXTM3U\n"+tc.line+"\n"), g)
			if tc.err {
				if pe := playback.AsError(err); pe == nil || pe.Reason != "manifest_unsupported" || pe.RetryAfter != playback.NoRetry {
					t.Fatalf("= %q, %v; want manifest_unsupported", out, err)
				}
				return
			}
			if err != nil || string(out) != "#EXTM3U\n"+tc.want+"\n" {
				t.Fatalf("= %q, %v; want %q", out, err, tc.want)
			}
		})
	}
}

// hlsJsKeyRows are TestPersonalizeMediaReadsAKeyAsHlsJsDoes's rows; urlread_test.go reads them as the players do.
var hlsJsKeyRows = []struct {
	name, line string
	err        bool
}{
	{"past three slashes, a dot segment before the pathway's host", `#EXT-X-KEY:METHOD=AES-128,URI="https:///keys.example.com/../cdn.example.com/keys/k1"`, true},
	{"a network path past more slashes, another title", `#EXT-X-KEY:METHOD=AES-128,URI="////keys.example.com/a/../../cdn.example.com/titles/t2/k1"`, true},
	{"a slash and a backslash", `#EXT-X-KEY:METHOD=AES-128,URI="https:/\keys.example.com/../cdn.example.com/keys/k1"`, true},
	{"a backslash and a slash", `#EXT-X-KEY:METHOD=AES-128,URI="https:\/keys.example.com/../cdn.example.com/keys/k1"`, true},
	{"a key server, a dot segment after its host", `#EXT-X-KEY:METHOD=AES-128,URI="https://keys.example.com/a/../k1"`, false},
	{"a key server past more slashes, a dot segment in its query", `#EXT-X-KEY:METHOD=AES-128,URI="https:///keys.example.com/k1?p=/../x"`, false},
	{"a tab between the slashes, a dot segment before the pathway's host", "#EXT-X-KEY:METHOD=AES-128,URI=\"https:/\t/keys.example.com/../cdn.example.com/keys/k1\"", true},
	{"a tab before the slashes, a dot segment before the pathway's host", "#EXT-X-KEY:METHOD=AES-128,URI=\"https:\t//keys.example.com/../cdn.example.com/keys/k1\"", true},
}

// TestPersonalizeMediaReadsAKeyAsHlsJsDoes: hls.js 1.7.4 resolves an
// EXT-X-KEY's URI with url-toolkit's buildAbsoluteURL, alwaysNormalize
// (web/vendor: M3U8Parser.resolve), which takes the host to be "//" and
// what follows up to the next '/', '?' or '#', and removes the dot
// segments of the rest. Where the browser's host is in that rest (more
// slashes, or a backslash among the first two), a "name/.." before it is
// removed too: node 20 with url-toolkit as hls.min.js holds it turns
// "https:///keys.example.com/../cdn.example.com/keys/k1" into
// "https:///cdn.example.com/keys/k1", and new URL of that is
// https://cdn.example.com/keys/k1, where new URL of the URI itself names
// keys.example.com. Such a key is fetched from the pathway outside the
// title's folder: refused. A key server's URL whose host follows its two
// slashes keeps its host through hls.js's normalizing, and passes.
func TestPersonalizeMediaReadsAKeyAsHlsJsDoes(t *testing.T) {
	t.Parallel()
	g := signurl.Grant{Base: "https://cdn.example.com", Prefix: "/titles/t1/sd/", Query: "Sig=1"}
	for _, tc := range hlsJsKeyRows {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			out, err := signurl.PersonalizeMedia(nil, []byte("#EXTM3U\n"+tc.line+"\n"), g)
			if tc.err {
				if pe := playback.AsError(err); pe == nil || pe.Reason != "manifest_unsupported" || pe.RetryAfter != playback.NoRetry {
					t.Fatalf("= %q, %v; want manifest_unsupported", out, err)
				}
				return
			}
			if err != nil || string(out) != "#EXTM3U\n"+tc.line+"\n" {
				t.Fatalf("= %q, %v; want it unchanged", out, err)
			}
		})
	}
}

// TestPersonalizeMasterNamesAVariantAsAPlayerResolvesIt: a variant URI
// whose percent-encoded or backslashed dot segments a browser resolves
// into another rendition's folder is that rendition's variant, and one
// with dot segments in its fragment the variant of the folder its path
// names: above the plan's cap it is dropped, not offered with its
// BANDWIDTH and RESOLUTION on another folder.
func TestPersonalizeMasterNamesAVariantAsAPlayerResolvesIt(t *testing.T) {
	t.Parallel()
	link := func(dst []byte, p, r string) []byte { return append(dst, p+"/"+r...) }
	for _, tc := range []struct{ name, hdURI string }{
		{"percent-encoded", "sd/%2e%2e/hd/media.m3u8"},
		{"mixed case", "sd/.%2E/hd/media.m3u8"},
		{"backslashed", `sd\..\hd\media.m3u8`},
		// WHATWG URL Standard: tabs and newlines are removed first.
		{"a tab in the dots", "sd/.\t./hd/media.m3u8"},
		// RFC 3986 3.5: a fragment is no part of the path.
		{"dot segments in a fragment", "hd/media.m3u8#/../../sd/media.m3u8"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			stored := strings.Replace(string(storedObjects("t1", 1)["/titles/t1/master.m3u8"]), "\nhd/media.m3u8", "\n"+tc.hdURI, 1)
			out, err := signurl.PersonalizeMaster(nil, []byte(stored), demo.Ladder[:1], examplePathways[:1], "https://s", link)
			if err != nil {
				t.Fatal(err)
			}
			if n := strings.Count(string(out), "#EXT-X-STREAM-INF"); n != 1 || strings.Contains(string(out), "RESOLUTION=1280x720") {
				t.Fatalf("%d variants for a plan capped at sd, want only sd's:\n%s", n, out)
			}
		})
	}
}

// TestPersonalizeMPDKeepsTheGrantOnThePathways: a BaseURL below the MPD
// level naming a host of its own (ISO/IEC 23009-1 5.6: the lowest level's
// BaseURL resolves a Representation's URLs) takes the segments off the
// pathways, and with query grants the rendition's signature to that host
// in every segment URL: refused, as an MPD-level BaseURL is.
func TestPersonalizeMPDKeepsTheGrantOnThePathways(t *testing.T) {
	t.Parallel()
	mpd := string(storedObjects("t1", 1)["/titles/t1/manifest.mpd"])
	for _, tc := range []struct{ name, from, to string }{
		{"Period", "<AdaptationSet", "<BaseURL>https://other.example.com/titles/t1/</BaseURL><AdaptationSet"},
		{"AdaptationSet", "<SegmentTemplate", "<BaseURL>https://other.example.com/titles/t1/</BaseURL><SegmentTemplate"},
		{"Representation", `<Representation id="sd" bandwidth="800000" width="640" height="360" codecs="avc1.42c01e"/>`,
			`<Representation id="sd" bandwidth="800000" width="640" height="360" codecs="avc1.42c01e"><BaseURL> //other.example.com/titles/t1/ </BaseURL></Representation>`},
		// XML 1.0 2.7, 4.1: the host may be in a CDATA section or
		// written with character references.
		{"Period in CDATA", "<AdaptationSet", "<BaseURL><![CDATA[https://other.example.com/titles/t1/]]></BaseURL><AdaptationSet"},
		{"Period with a character reference", "<AdaptationSet", "<BaseURL>&#104;ttps://other.example.com/titles/t1/</BaseURL><AdaptationSet"},
		// A browser reads '\\' as '/' in an http(s) URL and removes tabs
		// (the WHATWG URL Standard, which dash.js and Shaka resolve with).
		{"AdaptationSet, a network path with backslashes", "<SegmentTemplate", `<BaseURL>\\other.example.com\titles\t1\</BaseURL><SegmentTemplate`},
		{"Period, a slash and a backslash", "<AdaptationSet", `<BaseURL>/\other.example.com/titles/t1/</BaseURL><AdaptationSet`},
		{"Period, a tab in its scheme", "<AdaptationSet", "<BaseURL>ht&#9;tps://other.example.com/titles/t1/</BaseURL><AdaptationSet"},
		{"AdaptationSet, a tab between its slashes", "<SegmentTemplate", "<BaseURL>/&#9;/other.example.com/titles/t1/</BaseURL><SegmentTemplate"},
	} {
		for _, queries := range []map[string]string{nil, {"sd": "Sig=1"}} {
			t.Run(fmt.Sprintf("%s/queries=%v", tc.name, queries != nil), func(t *testing.T) {
				t.Parallel()
				stored := strings.Replace(mpd, tc.from, tc.to, 1)
				if stored == mpd {
					t.Fatalf("no %s in the stored MPD", tc.from)
				}
				out, err := signurl.PersonalizeMPD(nil, []byte(stored), demo.Ladder[:1], examplePathways[:1], "/titles/t1/", "https://s", queries)
				if pe := playback.AsError(err); pe == nil || pe.Reason != "manifest_unsupported" {
					t.Fatalf("= %v, want manifest_unsupported; wrote\n%s", err, out)
				}
			})
		}
	}
}

// mpdMedia and mpdSet are what mpdOffPathwayRows replace in the stored
// MPD: its SegmentTemplate's media, up to the rendition's folder, and the
// template itself.
const (
	mpdMedia = `media="$RepresentationID$/`
	mpdSet   = `<SegmentTemplate`
)

// mpdOffPathwayRows are TestPersonalizeMPDRefusesURLsOffThePathways's rows; urlread_test.go reads them as the players do.
var mpdOffPathwayRows = []struct {
	name, old, new string
	pathways       []signurl.Pathway
	refused        bool
}{
	{"a scheme", mpdMedia, `media="https://other.example.com/t1/$RepresentationID$/`, nil, true},
	{"another scheme", mpdMedia, `media="http://d111.cloudfront.net/titles/t1/$RepresentationID$/`, nil, true},
	{"a network path", mpdMedia, `media="//other.example.com/t1/$RepresentationID$/`, nil, true},
	{"a network path with backslashes", mpdMedia, `media="\\other.example.com\t1\$RepresentationID$/`, nil, true},
	{"a slash and a backslash", mpdMedia, `media="/\other.example.com/t1/$RepresentationID$/`, nil, true},
	{"a leading space", mpdMedia, `media=" //other.example.com/t1/$RepresentationID$/`, nil, true},
	{"a tab between its slashes", mpdMedia, `media="/&#9;/other.example.com/t1/$RepresentationID$/`, nil, true},
	{"a scheme with a character reference", mpdMedia, `media="&#104;ttps://other.example.com/$RepresentationID$/`, nil, true},
	{"a network path with character references", mpdMedia, `media="&#x2F;&#x2f;other.example.com/$RepresentationID$/`, nil, true},
	{"an absolute path to another title", mpdMedia, `media="/titles/t2/$RepresentationID$/`, nil, true},
	{"an absolute path with backslashes", mpdMedia, `media="\titles\t2\$RepresentationID$/`, nil, true},
	{"an absolute path in single quotes", `media="$RepresentationID$/seg$Number$.m4s"`, `media = '/titles/t2/$RepresentationID$/seg$Number$.m4s'`, nil, true},
	{"the root", mpdMedia, `media="/$RepresentationID$/`, nil, true},
	{"the pathway's origin, another title", mpdMedia, `media="https://d111.cloudfront.net/titles/t2/$RepresentationID$/`, nil, true},
	{"an AdaptationSet BaseURL to another title", mpdSet, `<BaseURL>/titles/t2/</BaseURL>` + mpdSet, nil, true},
	{"a BaseURL in CDATA to another title", mpdSet, `<BaseURL> <![CDATA[/titles/t2/]]></BaseURL>` + mpdSet, nil, true},
	// XML 1.0 2.5: a parser joins the text about a comment.
	{"a BaseURL to another title after a comment", mpdSet, `<BaseURL><!-- x -->/titles/t2/</BaseURL>` + mpdSet, nil, true},
	{"an Initialization sourceURL", mpdSet, `<SegmentBase><Initialization sourceURL="/titles/t2/sd/init.mp4"/></SegmentBase>` + mpdSet, nil, true},
	{"a SegmentURL on another host", mpdSet, `<SegmentList><SegmentURL media="https://other.example.com/sd/seg1.m4s"/></SegmentList>` + mpdSet, nil, true},
	// The pathways are alternatives a client may fetch from: an
	// origin only one of them has leaves the others.
	// dash.js 5.2.1 fetches an http(s) URL without a host's slashes as
	// it is (DefaultURLUtils.isRelative: not relative), from the
	// player's page (hostlessWebURL), never the BaseURL's host.
	{"a scheme without a host's slashes, a path in the title", mpdMedia, `media="https:/titles/t1/$RepresentationID$/`, nil, true},
	{"a scheme and a relative path", mpdMedia, `media="HTTPS:$RepresentationID$/`, nil, true},
	// dash.js 5.2.1 reads a scheme with '_' (DefaultURLUtils.isRelative,
	// /^[a-z][a-z0-9+\-_.]*:/i), which no URL parser does, and fetches
	// the URL as it is: the browser resolves it against the player's
	// page (node 20: new URL("a_b:seg1.m4s",
	// "https://app.example/watch/page.html").href is
	// "https://app.example/watch/a_b:seg1.m4s").
	{"a scheme dash.js reads, no URL parser does", mpdMedia, `media="a_b:$RepresentationID$/`, nil, true},
	{"a scheme dash.js reads in an AdaptationSet BaseURL", mpdSet, `<BaseURL>x_y:titles/t1/</BaseURL>` + mpdSet, nil, true},
	{"one pathway's origin of two", mpdMedia, `media="https://d111.cloudfront.net/titles/t1/$RepresentationID$/`, examplePathways, true},
	// A scheme's default port is none (WHATWG URL Standard, port
	// state); another is another origin.
	{"the pathway's host, another port", mpdMedia, `media="https://d111.cloudfront.net:8443/titles/t1/$RepresentationID$/`, nil, true},
	{"the pathway's host, http's port", mpdMedia, `media="https://d111.cloudfront.net:80/titles/t1/$RepresentationID$/`, nil, true},
	{"the pathway's origin and its default port, in the title", mpdMedia, `media="https://d111.cloudfront.net:443/titles/t1/$RepresentationID$/`, nil, false},
	{"the pathway's origin, the default port with leading zeros, a network path", mpdMedia, `media="//d111.cloudfront.net:00443/titles/t1/$RepresentationID$/`, nil, false},
	{"the pathway's origin, an empty port", mpdMedia, `media="https://d111.cloudfront.net:/titles/t1/$RepresentationID$/`, nil, false},
	{"an http pathway written with its default port", mpdMedia, `media="http://edge.example/titles/t1/$RepresentationID$/`,
		[]signurl.Pathway{{ID: "edge", Base: "http://edge.example:80"}}, false},
	// The host as a browser reads it (WHATWG URL Standard): past more
	// slashes, after credentials, percent-decoded.
	{"the pathway's origin past more slashes, in the title", mpdMedia, `media="https:////d111.cloudfront.net/titles/t1/$RepresentationID$/`, nil, false},
	{"the pathway's origin after credentials, a network path, in the title", mpdMedia, `media="//user@d111.cloudfront.net/titles/t1/$RepresentationID$/`, nil, false},
	{"the pathway's origin percent-encoded, in the title", mpdMedia, `media="https://d111%2Ecloudfront.net/titles/t1/$RepresentationID$/`, nil, false},
	{"the pathway's origin, a backslash, another title", mpdMedia, `media="https://d111.cloudfront.net\titles\t2\$RepresentationID$/`, nil, true},
	{"an absolute path in the title", mpdMedia, `media="/titles/t1/$RepresentationID$/`, nil, false},
	{"the pathway's origin, in the title", mpdMedia, `media="https://d111.cloudfront.net/titles/t1/$RepresentationID$/`, nil, false},
	{"the pathway's origin in another case, a network path", mpdMedia, `media="//D111.CloudFront.net/titles/t1/$RepresentationID$/`, nil, false},
}

// TestPersonalizeMPDRefusesURLsOffThePathways: an MPD URL that names
// another host, or an absolute path outside the title's folder, is
// refused as the media playlists' are (manifest_unsupported, no retry):
// no grant covers it, so the CDN refuses every segment (403), and with
// query grants a template carried the rendition's signature there. The
// host is read as a browser reads the URL (the WHATWG URL Standard, which
// dash.js's and Shaka's new URL(ref, base) follow: '\\' for '/', tabs
// removed, leading spaces stripped) after XML's references (XML 1.0 4.1).
// A URL on the origin of every pathway, in the title's folder, plays, and
// with query grants carries the grant.
func TestPersonalizeMPDRefusesURLsOffThePathways(t *testing.T) {
	t.Parallel()
	mpd := string(storedObjects("t1", 1)["/titles/t1/manifest.mpd"])
	queries := map[string]string{"sd": "Sig=1", "hd": "Sig=2", "uhd": "Sig=3"}
	for _, tc := range mpdOffPathwayRows {
		for _, queries := range []map[string]string{nil, queries} {
			t.Run(fmt.Sprintf("%s/queries=%v", tc.name, queries != nil), func(t *testing.T) {
				t.Parallel()
				stored := strings.Replace(mpd, tc.old, tc.new, 1)
				if stored == mpd {
					t.Fatalf("no %s in the stored MPD", tc.old)
				}
				pathways := examplePathways[:1]
				if tc.pathways != nil {
					if queries != nil {
						t.Skip("a query-style MPD serves one pathway")
					}
					pathways = tc.pathways
				}
				out, err := signurl.PersonalizeMPD(nil, []byte(stored), demo.Ladder, pathways, "/titles/t1/", "https://s", queries)
				pe := playback.AsError(err)
				switch {
				case tc.refused && (pe == nil || pe.Code != playback.CodeInternal || pe.Reason != "manifest_unsupported" || pe.RetryAfter != playback.NoRetry):
					t.Fatalf("= %v, want manifest_unsupported without retry; wrote\n%s", err, out)
				case !tc.refused && err != nil:
					t.Fatalf("%v, want it personalized", err)
				case !tc.refused && queries != nil:
					// Each Representation's template carries its grant.
					_, reps, _ := strings.Cut(string(out), "<Representation")
					if n := strings.Count(reps, `/$RepresentationID$/seg$Number$.m4s?Sig=`); n != 3 {
						t.Errorf("%d granted media, want 3:\n%s", n, out)
					}
				}
			})
		}
	}
}

// TestPersonalizeMPDGrantsTemplatesWithCharacterReferences: the query
// grant goes into a template's URL as XML reads the attribute (XML 1.0
// 4.1: "&#35;" is '#', "&#63;" is '?'), before its fragment and after its
// query. The '#' that opens a character reference was taken for a
// fragment, which put the grant inside the reference and made the MPD
// ill-formed.
func TestPersonalizeMPDGrantsTemplatesWithCharacterReferences(t *testing.T) {
	t.Parallel()
	mpd := string(storedObjects("t1", 1)["/titles/t1/manifest.mpd"])
	for _, tc := range []struct{ name, stored, want string }{
		{"a character in the path", "seg&#45;$Number$.m4s", "sd/seg-$Number$.m4s?Sig=1"},
		{"a query", "seg$Number$.m4s&#63;v=2", "sd/seg$Number$.m4s?v=2&Sig=1"},
		{"a fragment", "seg$Number$.m4s&#35;t=1", "sd/seg$Number$.m4s?Sig=1#t=1"},
		{"an ampersand in the query", "seg$Number$.m4s?a=1&amp;b=2", "sd/seg$Number$.m4s?a=1&b=2&Sig=1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			stored := strings.Replace(mpd, `media="$RepresentationID$/seg$Number$.m4s"`, `media="$RepresentationID$/`+tc.stored+`"`, 1)
			out, err := signurl.PersonalizeMPD(nil, []byte(stored), demo.Ladder[:1], examplePathways[:1], "/titles/t1/", "https://s", map[string]string{"sd": "Sig=1"})
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			d := xml.NewDecoder(bytes.NewReader(out))
			for {
				tok, err := d.Token()
				if err == io.EOF {
					break
				}
				if err != nil {
					t.Fatalf("personalized MPD: %v\n%s", err, out)
				}
				if el, ok := tok.(xml.StartElement); ok && el.Name.Local == "SegmentTemplate" {
					for _, a := range el.Attr {
						if a.Name.Local == "media" && strings.Contains(a.Value, "Sig=") {
							got = append(got, strings.ReplaceAll(a.Value, "$RepresentationID$", "sd"))
						}
					}
				}
			}
			if len(got) != 1 || got[0] != tc.want {
				t.Errorf("granted media %q, want [%q]", got, tc.want)
			}
		})
	}
}

func TestPersonalizeRefusesWhatItCannotHandle(t *testing.T) {
	t.Parallel()
	link := func(dst []byte, p, r string) []byte { return append(dst, p+"/"+r...) }
	for _, tc := range []struct {
		name   string
		master string
	}{
		{"not a playlist", "<html>"},
		{"alternate audio", "#EXTM3U\n#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID=\"a\",NAME=\"en\",URI=\"audio/media.m3u8\"\n"},
		// As hls.js 1.7.4 reads an attribute list (AttrList.parseAttrList):
		// a name trimmed, a value without quotes as it is.
		{"alternate audio, an unquoted URI", "#EXTM3U\n#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID=\"a\",NAME=\"en\",URI=audio/media.m3u8\n"},
		{"alternate audio on another host, an unquoted URI", "#EXTM3U\n#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID=\"a\",NAME=\"en\",URI=https://other.example.com/audio.m3u8\n"},
		{"alternate audio, a space after URI", "#EXTM3U\n#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID=\"a\",NAME=\"en\",URI =\"audio/media.m3u8\"\n"},
		{"alternate audio behind text after a quote", "#EXTM3U\n#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID=\"a\"x,URI=https://other.example.com/audio.m3u8\n"},
		{"a session key, an unquoted URI", "#EXTM3U\n#EXT-X-SESSION-KEY:METHOD=AES-128,URI=../../t2/key.bin\n"},
		// hls.js 1.7.4 finds a master's tags with regular expressions
		// anchored to no line start (/#EXT-X-MEDIA:(.*)/g, and
		// /#EXT-X-STREAM-INF:([^\r\n]*)…([^\r\n]+)/g, where a CR ends the
		// attributes and starts the URI).
		{"an alternate rendition inside another tag", "#EXTM3U\n#EXT-X-FOO:x#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID=\"a\",NAME=\"en\",URI=\"https://other.example.com/a.m3u8\"\n#EXT-X-STREAM-INF:BANDWIDTH=1,AUDIO=\"a\"\nsd/media.m3u8\n"},
		{"an alternate rendition in a variant's attribute", "#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1,X-N=\"#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID=a,NAME=en,URI=https://other.example.com/a.m3u8\"\nsd/media.m3u8\n"},
		{"a variant inside another tag, after a CR", "#EXTM3U\n#EXT-X-FOO:x#EXT-X-STREAM-INF:BANDWIDTH=9000000\rhttps://other.example.com/v.m3u8\n"},
		{"a CR in a variant's attributes", "#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1\rhttps://other.example.com/v.m3u8\nsd/media.m3u8\n"},
		{"variant at the root", "#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1\nmedia.m3u8\n"},
		{"variant without URI", "#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1\n"},
		{"variant out of the title", "#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1\n../t2/sd/media.m3u8\n"},
		// Not relative to a player (hostlessWebURL): hls.js fetches it from
		// the page's host. It was dropped as a rendition named "https:sd".
		{"variant with a scheme and no host", "#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1\nhttps:sd/media.m3u8\n"},
		{"variant with a scheme and a path in the title", "#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1\nHTTPS:/titles/t1/sd/media.m3u8\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := signurl.PersonalizeMaster(nil, []byte(tc.master), demo.Ladder, examplePathways, "https://s", link)
			if pe := playback.AsError(err); pe == nil || pe.Code != playback.CodeInternal || pe.Reason != "manifest_unsupported" {
				t.Fatalf("%v, want manifest_unsupported", err)
			}
		})
	}
	mpd := string(storedObjects("t1", 1)["/titles/t1/manifest.mpd"])
	withBase := strings.Replace(mpd, "<Period", "<BaseURL>https://origin/</BaseURL><Period", 1)
	if _, err := signurl.PersonalizeMPD(nil, []byte(withBase), demo.Ladder, examplePathways, "/titles/t1/", "https://s", nil); err == nil {
		t.Fatal("an MPD-level BaseURL was silently replaced")
	}
	if _, err := signurl.PersonalizeMPD(nil, []byte(mpd), demo.Ladder, examplePathways, "/titles/t1/", "https://s", map[string]string{}); err == nil {
		t.Fatal("a query-style MPD for two pathways")
	}
	// Alternate renditions, as HLS's EXT-X-MEDIA with URIs: no grant covers
	// their folders, and dropping them as renditions outside the ladder
	// left an AdaptationSet without Representations, a title without sound.
	audioSet := `    <AdaptationSet contentType="audio" lang="en">
      <SegmentTemplate timescale="1000" duration="2000" startNumber="1" media="$RepresentationID$/seg$Number$.m4s" initialization="$RepresentationID$/init.mp4"/>
      <Representation id="audio_en" mimeType="audio/mp4" bandwidth="128000" codecs="mp4a.40.2"/>
    </AdaptationSet>
  </Period>`
	for _, tc := range []struct{ name, mpd string }{
		{"separate audio", strings.Replace(mpd, "  </Period>", audioSet, 1)},
		{"audio by mime type", strings.Replace(mpd, "  </Period>", strings.Replace(audioSet, ` contentType="audio"`, "", 1), 1)},
		{"subtitles", strings.Replace(mpd, "  </Period>", strings.NewReplacer(`contentType="audio"`, `contentType="text"`,
			`mimeType="audio/mp4"`, `mimeType="application/mp4"`).Replace(audioSet), 1)},
	} {
		for _, queries := range []map[string]string{nil, {"sd": "Sig=1", "hd": "Sig=2", "uhd": "Sig=3"}} {
			pathways := examplePathways
			if queries != nil {
				pathways = pathways[:1]
			}
			_, err := signurl.PersonalizeMPD(nil, []byte(tc.mpd), demo.Ladder, pathways, "/titles/t1/", "https://s", queries)
			if pe := playback.AsError(err); pe == nil || pe.Code != playback.CodeInternal || pe.Reason != "manifest_unsupported" {
				t.Errorf("%s (query grants %v): %v, want manifest_unsupported", tc.name, queries != nil, err)
			}
		}
	}
}

// TestPersonalizeMPDRefusesURLsClimbingOutOfTheTitle: an MPD URL whose dot
// segments take it out of the title's folder, as a DASH client resolves it
// (each relative BaseURL against the one above it, ISO/IEC 23009-1 5.6,
// then the segment's URL against that: RFC 3986 5.2), is refused as the
// media playlists' are (manifest_unsupported, no retry). It was written
// out, and with query grants carried the rendition's signature to another
// title's folder, where the CDN refused every segment (403) and the player
// was told nothing of why. Dot segments that stay in the title still play.
func TestPersonalizeMPDRefusesURLsClimbingOutOfTheTitle(t *testing.T) {
	t.Parallel()
	mpd := string(storedObjects("t1", 1)["/titles/t1/manifest.mpd"])
	const (
		media = `media="$RepresentationID$/seg$Number$.m4s"`
		init  = `initialization="$RepresentationID$/init.mp4"`
		set   = `<SegmentTemplate`
		// A Period and its AdaptationSet's start tag.
		period = `<Period id="0" start="PT0S">
    <AdaptationSet contentType="video" mimeType="video/mp4" segmentAlignment="true" startWithSAP="1">`
	)
	// reps is the set's template and Representations; withBases writes
	// prefix before the template's "$RepresentationID$/" and gives the
	// Representations named BaseURLs (id → BaseURL).
	reps := mpd[strings.Index(mpd, set):strings.Index(mpd, "    </AdaptationSet>")]
	withBases := func(prefix string, bases map[string]string) string {
		out := strings.ReplaceAll(reps, `="$RepresentationID$/`, `="`+prefix+`$RepresentationID$/`)
		for id, base := range bases {
			start := strings.Index(out, `<Representation id="`+id+`"`)
			end := start + strings.IndexByte(out[start:], '\n')
			rep := strings.TrimSuffix(strings.TrimSuffix(out[start:end], "</Representation>"), "/>")
			rep = strings.TrimSuffix(rep, ">") + "><BaseURL>" + base + "</BaseURL></Representation>"
			out = out[:start] + rep + out[end:]
		}
		return out
	}
	for _, tc := range []struct {
		name, old, new string
		refused        bool
	}{
		// A set's template resolves against each Representation's
		// BaseURLs: dash.js requests the template resolved against
		// BaseURLController.resolve(representation.path), Shaka against
		// the Representation's getBaseUris().
		{"Representation BaseURLs, the set's template up into them", reps, withBases("../", map[string]string{"sd": "v/sd/", "hd": "v/hd/", "uhd": "v/uhd/"}), false},
		{"a Representation's BaseURL up, the set's template out", reps, `<BaseURL>x/y/</BaseURL>` + withBases("../../", map[string]string{"sd": "../../"}), true},
		// A Representation's own template replaces the set's media, which
		// it then never fetches.
		{"a set's media every Representation replaces", reps, strings.NewReplacer(
			`media="$RepresentationID$/`, `media="../t2/$RepresentationID$/`,
			`codecs="avc1.42c01e"/>`, `codecs="avc1.42c01e"><SegmentTemplate media="sd/seg$Number$.m4s"/></Representation>`,
			`codecs="avc1.4d401f"/>`, `codecs="avc1.4d401f"><SegmentTemplate media="hd/seg$Number$.m4s"/></Representation>`,
			`codecs="avc1.640033"></Representation>`, `codecs="avc1.640033"><SegmentTemplate media="uhd/seg$Number$.m4s"/></Representation>`,
		).Replace(reps), false},
		{"a set's media one Representation does not replace", reps, strings.NewReplacer(
			`media="$RepresentationID$/`, `media="../t2/$RepresentationID$/`,
			`codecs="avc1.42c01e"/>`, `codecs="avc1.42c01e"><SegmentTemplate media="sd/seg$Number$.m4s"/></Representation>`,
			`codecs="avc1.4d401f"/>`, `codecs="avc1.4d401f"><SegmentTemplate initialization="hd/init.mp4"/></Representation>`,
		).Replace(reps), true},
		// Each BaseURL of an element is an alternative, and a client may
		// fetch from any: Shaka Player resolves every one against every
		// one above (shaka.util.URL.resolveUris) and falls back through
		// them, dash.js's selectors pick among them.
		{"a set's second BaseURL, then template", set, `<BaseURL>a/b/</BaseURL><BaseURL>c/</BaseURL><SegmentTemplate media="../../t2/$RepresentationID$/seg$Number$.m4s"/>` + set, true},
		{"a Period's second BaseURL, then the set's", period, strings.Replace(period, ">", "><BaseURL>p/q/</BaseURL><BaseURL>r/</BaseURL>", 1) + `<BaseURL>../../x/</BaseURL>`, true},
		{"a set's BaseURLs, each then template, inside", set, `<BaseURL>a/b/</BaseURL><BaseURL>c/d/</BaseURL><SegmentTemplate media="../../$RepresentationID$/seg$Number$.m4s"/>` + set, false},
		{"template media", media, `media="../t2/$RepresentationID$/seg$Number$.m4s"`, true},
		{"template initialization", init, `initialization="./../../t2/$RepresentationID$/init.mp4"`, true},
		{"template media as an absolute path", media, `media="/titles/t1/../t2/$RepresentationID$/seg$Number$.m4s"`, true},
		{"template media, percent-encoded dots", media, `media="%2E%2e/t2/$RepresentationID$/seg$Number$.m4s"`, true},
		{"template media, a character reference", media, `media="&#46;./t2/$RepresentationID$/seg$Number$.m4s"`, true},
		{"Period BaseURL", `<Period id="0" start="PT0S">`, `<Period id="0" start="PT0S"><BaseURL>../t2/</BaseURL>`, true},
		// XML 1.0 2.5: a parser joins the text about a comment, which
		// hid the dot-dot segment from the look for "..".
		{"Period BaseURL, a comment between its dots", `<Period id="0" start="PT0S">`, `<Period id="0" start="PT0S"><BaseURL>.<!-- -->./t2/</BaseURL>`, true},
		{"AdaptationSet BaseURL", set, `<BaseURL>../../../</BaseURL>` + set, true},
		{"BaseURL then template", set, `<BaseURL>sd/</BaseURL><SegmentTemplate media="../../t2/x.m4s"/>` + set, true},
		{"SegmentList URL", set, `<SegmentList><SegmentURL media="../t2/sd/seg1.m4s"/></SegmentList>` + set, true},
		{"Initialization sourceURL", set, `<SegmentBase><Initialization sourceURL="../t2/sd/init.mp4"/></SegmentBase>` + set, true},
		// A browser's URL parser (the WHATWG URL Standard, which dash.js
		// and Shaka resolve with: new URL(ref, base)) reads '\' as '/' in
		// an http(s) URL, so a leading one makes an absolute path; it
		// strips leading and trailing spaces and removes tabs and newlines.
		{"template media as an absolute path with backslashes", media, `media="\titles\t1\..\..\t2\$RepresentationID$\seg$Number$.m4s"`, true},
		{"template media after a space", media, `media=" ../t2/$RepresentationID$/seg$Number$.m4s"`, true},
		{"template media, a tab in its dot segment", media, `media=".&#9;./t2/$RepresentationID$/seg$Number$.m4s"`, true},
		// A SegmentTimeline holds no URL; what is around it still counts.
		{"template with a SegmentTimeline, climbing", `duration="2000" startNumber="1" media="$RepresentationID$/seg$Number$.m4s" initialization="$RepresentationID$/init.mp4"/>`,
			`startNumber="1" media="../t2/$RepresentationID$/seg$Number$.m4s" initialization="$RepresentationID$/init.mp4"><SegmentTimeline><S t="0" d="2000" r="2"/></SegmentTimeline></SegmentTemplate>`, true},
		{"a SegmentTimeline, then a Representation's BaseURL climbing", "init.mp4\"/>\n      <Representation id=\"sd\" bandwidth=\"800000\" width=\"640\" height=\"360\" codecs=\"avc1.42c01e\"/>",
			"init.mp4\"><SegmentTimeline><S t=\"0\" d=\"2000\"/><S d=\"2000\" r=\"1\"/></SegmentTimeline><SegmentTimeline/></SegmentTemplate>\n      <Representation id=\"sd\" bandwidth=\"800000\" width=\"640\" height=\"360\" codecs=\"avc1.42c01e\"><BaseURL>../t2/</BaseURL></Representation>", true},
		{"dot segments inside the title", media, `media="./x/../$RepresentationID$/seg$Number$.m4s"`, false},
		{"BaseURL down, template back up", set, `<BaseURL>a/b/</BaseURL><SegmentTemplate media="../../$RepresentationID$/seg$Number$.m4s"/>` + set, false},
		{"out and back in", media, `media="../t1/$RepresentationID$/seg$Number$.m4s"`, false},
		{"dot-dot in the query", media, `media="$RepresentationID$/seg$Number$.m4s?next=../../t2/"`, false},
		// An MPD may declare another encoding; its URLs are ASCII in it.
		{"declared Latin-1, climbing", media, `media="../t2/$RepresentationID$/seg$Number$.m4s"`, true},
		{"declared Latin-1, inside the title", media, `media="x/../$RepresentationID$/seg$Number$.m4s"`, false},
		// Its other text need not be: a title in Latin-1 is no UTF-8.
		{"declared Latin-1, a title in it, climbing", `<Period id="0" start="PT0S">`,
			"<ProgramInformation><Title>L\xe0-haut</Title></ProgramInformation><Period id=\"0\" start=\"PT0S\"><BaseURL>../t2/</BaseURL>", true},
		{"declared Latin-1, a title in it, inside the title", `<Period id="0" start="PT0S">`,
			"<ProgramInformation><Title>L\xe0-haut</Title></ProgramInformation><Period id=\"0\" start=\"PT0S\"><BaseURL>x/../</BaseURL>", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			stored := strings.Replace(mpd, tc.old, tc.new, 1)
			if strings.HasPrefix(tc.name, "declared Latin-1") {
				stored = strings.Replace(stored, `encoding="UTF-8"`, `encoding="ISO-8859-1"`, 1)
			}
			if stored == mpd {
				t.Fatalf("%q is not in the MPD", tc.old)
			}
			for _, queries := range []map[string]string{nil, {"sd": "Sig=1", "hd": "Sig=2", "uhd": "Sig=3"}} {
				pathways := examplePathways
				if queries != nil {
					pathways = pathways[:1]
				}
				out, err := signurl.PersonalizeMPD(nil, []byte(stored), demo.Ladder, pathways, "/titles/t1/", "https://s", queries)
				pe := playback.AsError(err)
				switch {
				case !tc.refused && err != nil:
					t.Errorf("query grants %v: %v, want it personalized", queries != nil, err)
				case tc.refused && (pe == nil || pe.Code != playback.CodeInternal || pe.Reason != "manifest_unsupported" || pe.RetryAfter != playback.NoRetry):
					t.Errorf("query grants %v: %v, want manifest_unsupported without retry; wrote\n%s", queries != nil, err, out)
				case tc.refused && !strings.Contains(err.Error(), "climbs out of the title's folder"):
					t.Errorf("query grants %v: %v, want it to say the URL climbs out of the title's folder", queries != nil, err)
				}
			}
		})
	}
}

// TestPersonalizeMPDRefusesRemoteElements: an element with an xlink:href
// (ISO/IEC 23009-1 5.5) is loaded by dash.js and Shaka Player from there
// and put in its place, so what they play was never personalized: its
// Representations not bound to the plan's cap, its URLs not held to the
// title's folder, its templates without the grant. Such an MPD is refused
// (manifest_unsupported, no retry), whatever prefix names the XLink
// namespace (Shaka Player reads it so) or with the prefix xlink (dash.js
// reads "xlink:href"); resolve-to-zero, which removes the element, and an
// href of another namespace are not remote elements.
func TestPersonalizeMPDRefusesRemoteElements(t *testing.T) {
	t.Parallel()
	mpd := strings.Replace(string(storedObjects("t1", 1)["/titles/t1/manifest.mpd"]), "<MPD ",
		`<MPD xmlns:xlink="http://www.w3.org/1999/xlink" xmlns:x="http://www.w3.org/1999/xlink" xmlns:o="urn:example:other" `, 1)
	const period, set = "  </Period>\n", "    </AdaptationSet>\n"
	for _, tc := range []struct {
		name, old, new string
		refused        bool
	}{
		{"a remote Period", period, period + `  <Period xlink:href="https://ads.example.com/period.xml" xlink:actuate="onLoad"/>` + "\n", true},
		{"a remote AdaptationSet", set, set + `    <AdaptationSet xlink:href="remote/set.xml"/>` + "\n", true},
		{"a remote Period with content", period, period + `  <Period id="1" xlink:href="../t2/period.xml" xlink:actuate="onRequest"><AdaptationSet/></Period>` + "\n", true},
		{"another prefix", set, set + `    <AdaptationSet x:href="remote/set.xml"/>` + "\n", true},
		{"a remote SegmentList", set, set + `    <AdaptationSet><SegmentList xlink:href="list.xml"/></AdaptationSet>` + "\n", true},
		{"resolve-to-zero", period, period + `  <Period id="1" xlink:href="urn:mpeg:dash:resolve-to-zero:2013" xlink:actuate="onLoad"/>` + "\n", false},
		// dash.js 5.2.1 reads the attribute named "xlink:href", whatever
		// namespace the prefix is bound to.
		{"the xlink prefix bound elsewhere", set, set + `    <AdaptationSet xmlns:xlink="urn:example:other" xlink:href="remote/set.xml"/>` + "\n", true},
		{"an href of another namespace", set, set + `    <AdaptationSet o:href="remote/set.xml"/>` + "\n", false},
	} {
		for _, queries := range []map[string]string{nil, {"sd": "Sig=1", "hd": "Sig=2", "uhd": "Sig=3"}} {
			t.Run(fmt.Sprintf("%s/queries=%v", tc.name, queries != nil), func(t *testing.T) {
				t.Parallel()
				stored := strings.Replace(mpd, tc.old, tc.new, 1)
				if stored == mpd {
					t.Fatalf("no %q in the stored MPD", tc.old)
				}
				pathways := examplePathways
				if queries != nil {
					pathways = pathways[:1]
				}
				out, err := signurl.PersonalizeMPD(nil, []byte(stored), demo.Ladder, pathways, "/titles/t1/", "https://s", queries)
				pe := playback.AsError(err)
				switch {
				case !tc.refused && err != nil:
					t.Errorf("%v, want it personalized", err)
				case tc.refused && (pe == nil || pe.Reason != "manifest_unsupported" || pe.RetryAfter != playback.NoRetry):
					t.Errorf("= %v, want manifest_unsupported without retry; wrote\n%s", err, out)
				}
			})
		}
	}
}

// representationOrder is the sequence of a Representation's children in
// the MPD schema (ISO/IEC 23009-1 DASH-MPD.xsd, MPEGGroup/DASHSchema:
// RepresentationBaseType's elements, then RepresentationType's).
var representationOrder = []string{"FramePacking", "AudioChannelConfiguration", "ContentProtection", "EssentialProperty",
	"SupplementalProperty", "InbandEventStream", "Switching", "RandomAccess", "GroupLabel", "Label", "ProducerReferenceTime",
	"ContentPopularityRate", "BaseURL", "SubRepresentation", "SegmentBase", "SegmentList", "SegmentTemplate"}

// TestPersonalizeMPDKeepsTheSchemaOrder: with query grants each
// Representation gets a SegmentTemplate of its own, which the schema puts
// after its other children (descriptors, BaseURLs); it was written first.
// dash.js and Shaka Player read it either way, a validating parser does
// not.
func TestPersonalizeMPDKeepsTheSchemaOrder(t *testing.T) {
	t.Parallel()
	mpd := string(storedObjects("t1", 1)["/titles/t1/manifest.mpd"])
	const sd = `codecs="avc1.42c01e"/>`
	for _, tc := range []struct{ name, children string }{
		{"a BaseURL", "<BaseURL>./</BaseURL>"},
		{"a descriptor and a BaseURL, on lines", "\n        <ContentProtection schemeIdUri=\"urn:mpeg:dash:mp4protection:2011\" value=\"cenc\"/>\n        <BaseURL>./</BaseURL>\n      "},
		{"a SubRepresentation", `<SubRepresentation level="0" bandwidth="400000"/>`},
		{"its own template", `<BaseURL>./</BaseURL><SegmentTemplate startNumber="1"/>`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			stored := strings.Replace(mpd, sd, strings.TrimSuffix(sd, "/>")+">"+tc.children+"</Representation>", 1)
			out, err := signurl.PersonalizeMPD(nil, []byte(stored), demo.Ladder[:1], examplePathways[:1], "/titles/t1/", "https://s", map[string]string{"sd": "Sig=1"})
			if err != nil {
				t.Fatal(err)
			}
			d := xml.NewDecoder(bytes.NewReader(out))
			var stack []string
			last, templates := -1, 0
			for {
				tok, err := d.Token()
				if err == io.EOF {
					break
				}
				if err != nil {
					t.Fatalf("personalized MPD: %v\n%s", err, out)
				}
				switch el := tok.(type) {
				case xml.StartElement:
					if len(stack) > 0 && stack[len(stack)-1] == "Representation" {
						rank := slices.Index(representationOrder, el.Name.Local)
						if rank < last {
							t.Errorf("<%s> after <%s> in a Representation, against the schema's order:\n%s", el.Name.Local, representationOrder[last], out)
						}
						last = max(last, rank)
						if el.Name.Local == "SegmentTemplate" {
							templates++
						}
					}
					stack = append(stack, el.Name.Local)
				case xml.EndElement:
					stack = stack[:len(stack)-1]
				}
			}
			if templates != 1 {
				t.Errorf("%d SegmentTemplates in the Representation, want 1:\n%s", templates, out)
			}
		})
	}
}

// TestPersonalizeMPDDropsThumbnails: a thumbnail track (DASH-IF image
// AdaptationSet, as MediaConvert's and Shaka Packager's trick play write)
// is dropped whole, as the HLS master drops EXT-X-IMAGE-STREAM-INF: its
// tiles are no rendition a grant covers, and the video still plays.
func TestPersonalizeMPDDropsThumbnails(t *testing.T) {
	t.Parallel()
	mpd := string(storedObjects("t1", 1)["/titles/t1/manifest.mpd"])
	thumbs := `    <AdaptationSet id="9" contentType="image" mimeType="image/jpeg">
      <SegmentTemplate media="thumbs/$Number$.jpg" duration="10" startNumber="1"/>
      <Representation bandwidth="12288" id="thumbnails" width="1024" height="1152">
        <EssentialProperty schemeIdUri="http://dashif.org/thumbnail_tile" value="4x4"/>
      </Representation>
    </AdaptationSet>
`
	for _, tc := range []struct{ name, set string }{
		{"by content type", thumbs},
		{"by mime type", strings.Replace(thumbs, ` contentType="image"`, "", 1)},
		{"self-closing", "    <AdaptationSet contentType=\"image\" mimeType=\"image/png\"/>\n"},
	} {
		withThumbs := strings.Replace(mpd, "  </Period>", tc.set+"  </Period>", 1)
		for _, queries := range []map[string]string{nil, {"sd": "Sig=1", "hd": "Sig=2", "uhd": "Sig=3"}} {
			pathways := examplePathways
			if queries != nil {
				pathways = pathways[:1]
			}
			want, err := signurl.PersonalizeMPD(nil, []byte(mpd), demo.Ladder, pathways, "/titles/t1/", "https://s", queries)
			if err != nil {
				t.Fatal(err)
			}
			got, err := signurl.PersonalizeMPD(nil, []byte(withThumbs), demo.Ladder, pathways, "/titles/t1/", "https://s", queries)
			if err != nil {
				t.Errorf("%s (query grants %v): %v, want the thumbnails dropped", tc.name, queries != nil, err)
				continue
			}
			if string(got) != string(want) {
				t.Errorf("%s (query grants %v): MPD\n%s\nwant it as without thumbnails\n%s", tc.name, queries != nil, got, want)
			}
		}
	}
}

func TestPersonalizeMPDPutsTheGrantBeforeAFragment(t *testing.T) {
	t.Parallel()
	mpd := strings.Replace(string(storedObjects("t1", 1)["/titles/t1/manifest.mpd"]),
		`media="$RepresentationID$/seg$Number$.m4s"`, `media="$RepresentationID$/seg$Number$.m4s#t=0"`, 1)
	out, err := signurl.PersonalizeMPD(nil, []byte(mpd), demo.Ladder[:1], examplePathways[:1], "/titles/t1/", "https://s",
		map[string]string{"sd": "Sig=1"})
	if err != nil {
		t.Fatal(err)
	}
	if want := `media="$RepresentationID$/seg$Number$.m4s?Sig=1#t=0"`; !strings.Contains(string(out), want) {
		t.Fatalf("no %s in\n%s", want, out)
	}
}

// TestPersonalizeMPDBoundsTheSetToItsRepresentations: an AdaptationSet's
// maxWidth, maxHeight and maxBandwidth are the largest of its
// Representations' (ISO/IEC 23009-1, 5.3.3.2). A packager writes them for
// the whole ladder; once the cap drops the UHD Representation, keeping
// 3840x2160 would describe a Representation the MPD no longer has (and tell
// a standard plan's player what the premium one gets). An attribute a
// kept Representation does not state (it inherits the set's) is left as
// stored.
func TestPersonalizeMPDBoundsTheSetToItsRepresentations(t *testing.T) {
	t.Parallel()
	stored := strings.Replace(string(storedObjects("t1", 1)["/titles/t1/manifest.mpd"]), `<AdaptationSet contentType="video"`,
		`<AdaptationSet contentType="video" maxWidth="3840" maxHeight="2160" maxBandwidth="12000000" maxFrameRate="30"`, 1)
	for _, tc := range []struct {
		name    string
		ladder  []playback.Rendition
		stored  string
		wantTag string
	}{
		{name: "capped at HD", ladder: demo.Ladder[:2], stored: stored,
			wantTag: `<AdaptationSet contentType="video" maxWidth="1280" maxHeight="720" maxBandwidth="3000000" maxFrameRate="30"`},
		{name: "the whole ladder", ladder: demo.Ladder, stored: stored,
			wantTag: `<AdaptationSet contentType="video" maxWidth="3840" maxHeight="2160" maxBandwidth="12000000" maxFrameRate="30"`},
		// Frame rates as DASH writes them, a fraction too: the UHD
		// rendition's 60 goes with it.
		{name: "frame rates, capped at HD", ladder: demo.Ladder[:2],
			stored: strings.NewReplacer(`maxFrameRate="30"`, `maxFrameRate="60"`, `width="640"`, `width="640" frameRate="25"`,
				`width="1280"`, `width="1280" frameRate="30000/1001"`, `width="3840"`, `width="3840" frameRate="60"`).Replace(stored),
			wantTag: `<AdaptationSet contentType="video" maxWidth="1280" maxHeight="720" maxBandwidth="3000000" maxFrameRate="30000/1001"`},
		{name: "a width the Representations inherit", ladder: demo.Ladder[:1],
			stored:  strings.ReplaceAll(stored, ` width="`, ` w="`),
			wantTag: `<AdaptationSet contentType="video" maxWidth="3840" maxHeight="360" maxBandwidth="800000" maxFrameRate="30"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			for _, queries := range []map[string]string{nil, {"sd": "a=1", "hd": "a=2", "uhd": "a=3"}} {
				pathways := examplePathways
				if queries != nil {
					pathways = pathways[:1]
				}
				out, err := signurl.PersonalizeMPD([]byte("prefix"), []byte(tc.stored), tc.ladder, pathways, "/titles/t1/", "https://s", queries)
				if err != nil {
					t.Fatal(err)
				}
				if !strings.Contains(string(out), tc.wantTag) || !strings.HasPrefix(string(out), "prefix<?xml") {
					t.Fatalf("queries %v: want %s in\n%s", queries, tc.wantTag, out)
				}
			}
		})
	}
}

// TestPersonalizeMPDReadsElementsAsDashJSDoes: dash.js 5.2.1 (web/vendor)
// reads an element by its local name, whatever its prefix (its parser sets
// nodeName to localName), and skips comments, processing instructions and
// CDATA sections, where PersonalizeMPD looked for "<Representation" and
// "<BaseURL" in the text. An MPD whose elements it would misread so is
// refused (manifest_unsupported, no retry): a Representation above the
// plan's cap would be offered, a BaseURL off the pathways kept.
func TestPersonalizeMPDReadsElementsAsDashJSDoes(t *testing.T) {
	t.Parallel()
	mpd := strings.Replace(string(storedObjects("t1", 1)["/titles/t1/manifest.mpd"]), "<MPD ",
		`<MPD xmlns:x="urn:mpeg:dash:schema:mpd:2011" xmlns:cenc="urn:mpeg:cenc:2013" `, 1)
	const uhd = `<Representation id="uhd" bandwidth="12000000" width="3840" height="2160" codecs="avc1.640033"></Representation>`
	const tmpl = "<SegmentTemplate"
	for _, tc := range []struct {
		name, old, new string
		refused        bool
	}{
		{"a prefixed Representation above the cap", uhd,
			`<x:Representation id="uhd" bandwidth="12000000" width="3840" height="2160" codecs="avc1.640033"></x:Representation>`, true},
		{"a prefixed BaseURL on another host", tmpl, `<x:BaseURL>https://other.example.com/titles/t1/</x:BaseURL>` + tmpl, true},
		{"a Representation in a comment, then one above the cap", uhd, `<!-- <Representation id="sd"> -->` + uhd, true},
		{"a Representation in a processing instruction, then one above the cap", uhd, `<?x <Representation id="sd"> ?>` + uhd, true},
		// What packagers write: a generator comment, a pssh box in its
		// namespace (Shaka Packager, Bento4).
		{"a generator comment", "<MPD ", "<!--Generated with https://github.com/shaka-project/shaka-packager version v3.2.0-->\n<MPD ", false},
		// dash.js's parser takes a '<' in a quoted value as text, where
		// the search took it for a tag: sd's Representation running to
		// uhd's end tag, hd and uhd with it.
		{"a Representation in an attribute, then one above the cap", "<AdaptationSet ", `<AdaptationSet x='<Representation id="sd">' `, true},
		{"a Representation in a double-quoted attribute", "<AdaptationSet ", `<AdaptationSet x="<Representation id='sd'>" `, true},
		{"a self-closing Representation's end in a value, above the cap", `<Representation id="uhd" `, `<Representation x="/>" id="uhd" `, true},
		{"a value without quotes", "<AdaptationSet ", `<AdaptationSet x=a `, true},
		{"a quote opening no value", "<AdaptationSet ", `<AdaptationSet 'x' `, true},
		{"a '<' opening no markup", tmpl, `< x ` + tmpl, true},
		{"a document type declaration with an MPD in an entity", "<MPD ", "<!DOCTYPE MPD [<!ENTITY e \"<MPD>\">]>\n<MPD ", true},
		{"an MPD end in a comment's quote", "<MPD ", "<!-- don't -->\n<MPD ", false},
		{"a pssh box", tmpl, `<ContentProtection schemeIdUri="urn:uuid:edef8ba9-79d6-4ace-a3c8-27dcd51d21ed"><cenc:pssh>AAAAMnBzc2g=</cenc:pssh></ContentProtection>` + "\n      " + tmpl, false},
		{"Shaka Packager's MPD element", "<MPD ", "<!--Generated with https://github.com/shaka-project/shaka-packager version v3.2.0-->\n" +
			`<MPD xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xmlns:xlink="http://www.w3.org/1999/xlink" xsi:schemaLocation="urn:mpeg:dash:schema:mpd:2011 DASH-MPD.xsd" `, false},
		{"Bento4's comment and protection", tmpl, "<!-- Created with Bento4 mp4-dash.py, VERSION=2.0.0-639 -->\n      " +
			`<ContentProtection schemeIdUri="urn:mpeg:dash:mp4protection:2011" value="cenc" cenc:default_KID="90953e09-6cb2-49a3-a260-7a5fefeeaa3e"/>` + "\n      " + tmpl, false},
		{"MediaConvert-like program information", "<Period ", "<!-- Created with AWS Elemental MediaConvert -->\n  " +
			`<ProgramInformation moreInformationURL="https://example.com/?a=1&amp;b=2"><Title>It's the "cut" &gt; 2 &lt; 3</Title></ProgramInformation>` + "\n  <Period ", false},
		{"single quotes and spaces about '='", "<AdaptationSet ", `<AdaptationSet id = '0' x='say "hi"' `, false},
		{"an escaped Representation in a value", "<AdaptationSet ", `<AdaptationSet x="&lt;Representation id=&quot;sd&quot;&gt;" `, false},
	} {
		for _, queries := range []map[string]string{nil, {"sd": "Sig=1"}} {
			t.Run(fmt.Sprintf("%s/queries=%v", tc.name, queries != nil), func(t *testing.T) {
				t.Parallel()
				stored := strings.Replace(mpd, tc.old, tc.new, 1)
				if stored == mpd {
					t.Fatalf("no %q in the stored MPD", tc.old)
				}
				pathways := examplePathways
				if queries != nil {
					pathways = pathways[:1]
				}
				out, err := signurl.PersonalizeMPD(nil, []byte(stored), demo.Ladder[:1], pathways, "/titles/t1/", "https://s", queries)
				pe := playback.AsError(err)
				switch {
				case !tc.refused && err != nil:
					t.Errorf("%v, want it personalized", err)
				case !tc.refused && strings.Contains(string(out), `id="uhd"`):
					t.Errorf("uhd offered on a plan capped at sd:\n%s", out)
				case tc.refused && (pe == nil || pe.Reason != "manifest_unsupported" || pe.RetryAfter != playback.NoRetry):
					t.Errorf("= %v, want manifest_unsupported without retry; wrote\n%s", err, out)
				}
			})
		}
	}
}

// TestPersonalizeMPDDropsLocations: a Location (ISO/IEC 23009-1 5.3.1.2)
// or PatchLocation (5.15) names where a client reloads the MPD or fetches
// its patches (dash.js 5.2.1 reloads from PatchLocation, else Location,
// else the MPD's own URL): a stored MPD's would take the player off the
// session's personalized MPD. Both are dropped, with their line; the rest
// is personalized as the MPD without them.
func TestPersonalizeMPDDropsLocations(t *testing.T) {
	t.Parallel()
	mpd := string(storedObjects("t1", 1)["/titles/t1/manifest.mpd"])
	dynamic := strings.Replace(mpd, `type="static"`, `type="dynamic" minimumUpdatePeriod="PT2S" publishTime="2026-12-07T00:00:00Z"`, 1)
	for _, tc := range []struct {
		name, mpd, old, new string
	}{
		{"a Location to the stored MPD", mpd, "<Period ", "<Location>https://cdn.example.com/titles/t1/manifest.mpd</Location>\n  <Period "},
		{"a relative Location", mpd, "<Period ", `<Location serviceLocation="a">manifest.mpd</Location>` + "\n  <Period "},
		{"an empty Location", mpd, "<Period ", "<Location/>\n  <Period "},
		{"a Location after the Period", mpd, "</Period>\n", "</Period>\n  <Location >https://other.example.com/t1.mpd</Location >\n"},
		{"a PatchLocation", dynamic, "<Period ", `<PatchLocation ttl="60">https://origin.example.com/titles/t1/patch.mpp</PatchLocation>` + "\n  <Period "},
		{"both, on a dynamic MPD", dynamic, "<Period ", "<Location>https://cdn.example.com/titles/t1/manifest.mpd</Location>\r\n  " +
			`<PatchLocation ttl="60">https://origin.example.com/titles/t1/patch.mpp</PatchLocation>` + "\n  <Period "},
	} {
		for _, queries := range []map[string]string{nil, {"sd": "Sig=1"}} {
			t.Run(fmt.Sprintf("%s/queries=%v", tc.name, queries != nil), func(t *testing.T) {
				t.Parallel()
				stored := strings.Replace(tc.mpd, tc.old, tc.new, 1)
				if stored == tc.mpd {
					t.Fatalf("no %q in the stored MPD", tc.old)
				}
				pathways := examplePathways
				if queries != nil {
					pathways = pathways[:1]
				}
				personalize := func(stored string) string {
					t.Helper()
					out, err := signurl.PersonalizeMPD(nil, []byte(stored), demo.Ladder[:1], pathways, "/titles/t1/", "https://s", queries)
					if err != nil {
						t.Fatalf("%v, want it personalized", err)
					}
					return string(out)
				}
				out, want := personalize(stored), personalize(tc.mpd)
				if strings.Contains(out, "Location>") || strings.Contains(out, "<Location") || strings.Contains(out, "<PatchLocation") {
					t.Errorf("a location kept:\n%s", out)
				}
				if out != want {
					t.Errorf("wrote\n%s\nwant, as without it,\n%s", out, want)
				}
			})
		}
	}
}
