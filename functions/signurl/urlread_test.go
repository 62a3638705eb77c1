package signurl_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"html"
	"io/fs"
	"net/url"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/playplane/playplane/functions/signurl"
	"github.com/playplane/playplane/shared/demo"
	"github.com/playplane/playplane/shared/playback"
	"github.com/playplane/playplane/web"
)

// The URL tables of the personalize tests (mediaURIRows, defaultPortRows,
// ipv4Rows, ipv6Rows, browserHostRows, hlsJsKeyRows; masterHeaderRows and
// mpdOffPathwayRows below) say how a player reads each URI; their
// expectations were taken from node's WHATWG URL and hls.js's url-toolkit
// by hand. TestURLReadingsAgreeWithThePlayers reads each row's URI with
// them (testdata/players.cjs, one node for the whole table): the URL the
// player fetches from the stored playlist on the CDN, and the one it
// fetches from the row's personalized line (and from ours, where that
// differs) served by the API. A row claims that:
//   - a URI written on the pathway is fetched from the same URL, with the
//     grant exactly when that URL is in the rendition's folder, and that
//     URL is in the title's folder;
//   - a URI passed unchanged (a key or an ad server's) is fetched from the
//     same URL, another origin than the pathway's;
//   - a refused URI is one the browser cannot fetch, fetches from the
//     page's host (the URL depends on the page), one hls.js fetches from
//     another URL than a URL parser resolving it against the playlist
//     does (which may only pass unchanged otherwise), or one fetched from
//     the pathway outside the title's folder, or (a segment, a map) from
//     another host.
//
// Rows whose refusal is stricter than that say why in stricterThanPlayers;
// rows about reading the playlist's lines (variables, attribute lists, line
// breaks) rather than URLs are not URL readings, and are left to their
// own test.

// stricterThanPlayers names the rows (table/row) refused where the
// players' reading alone would not refuse them, and why.
var stricterThanPlayers = map[string]string{
	"mediaURIRows/a map with an empty URI":                      emptyURI,
	"mediaURIRows/a key with a URI of spaces":                   emptyURI,
	"mediaURIRows/an interstitial asset list with an empty URI": emptyURI,
	"mediaURIRows/a segment of a query alone":                   emptyURI,
	"mediaURIRows/a map of a query alone":                       emptyURI,
	"mediaURIRows/a map of a fragment alone":                    emptyURI,
	"mediaURIRows/an interstitial asset list of a query alone":  emptyURI,
}

const emptyURI = "an empty URI, or a query or a fragment alone, names the stored playlist itself, which a personalized one " +
	"would name on the API: no object of the title"

// disagreesWithPlayers names the rows (table/row) whose expectation the
// players' reading contradicts: known gaps, each to be fixed. A row listed
// here that agrees fails, so the list is no longer than the gaps.
var disagreesWithPlayers = map[string]string{}

const (
	storedMediaURL        = "/titles/t1/sd/media.m3u8" // on the row's pathway
	personalizedMediaURL  = "https://api.example.com/v1/manifests/ses_1/hls/cloudfront/sd?token=m1.x"
	storedMasterURL       = "https://cdn.example.com/titles/t1/master.m3u8"
	personalizedMasterURL = "https://api.example.com/v1/manifests/ses_1/hls?token=m1.x"
	titleFolder           = "/titles/t1/"
	renditionFolder       = "/titles/t1/sd/"
	grantQuery            = "Sig=1"
)

// pages are two pages a player may be on: a URL fetched from the page's
// host differs between them.
var pages = [2]string{"https://app.example/watch/page.html", "http://app.example/watch/page.html"}

type urlRow struct {
	table, name, base, line, want string
	err                           bool
}

func urlRows() []urlRow {
	var rows []urlRow
	const cdn = "https://cdn.example.com"
	for _, r := range mediaURIRows {
		rows = append(rows, urlRow{"mediaURIRows", r.name, cdn, r.line, r.want, r.err})
	}
	for _, r := range defaultPortRows {
		rows = append(rows, urlRow{"defaultPortRows", r.name, r.base, r.line, r.want, r.err})
	}
	for _, r := range ipv4Rows {
		rows = append(rows, urlRow{"ipv4Rows", r.name, r.base, r.line, r.want, r.err})
	}
	for _, r := range ipv6Rows {
		rows = append(rows, urlRow{"ipv6Rows", r.name, r.base, r.line, r.want, r.err})
	}
	for _, r := range browserHostRows {
		rows = append(rows, urlRow{"browserHostRows", r.name, cdn, r.line, r.want, r.err})
	}
	for _, r := range hlsJsKeyRows {
		want := r.line
		if r.err {
			want = ""
		}
		rows = append(rows, urlRow{"hlsJsKeyRows", r.name, cdn, r.line, want, r.err})
	}
	return rows
}

// uriAttr finds a URI attribute as it is quoted in a tag hls.js reads
// plainly: after the tag's ':' or a ',', followed by a ',' or the end.
var uriAttr = regexp.MustCompile(`^(#[A-Z0-9-]+):(?:.*,)?(URI|X-ASSET-URI|X-ASSET-LIST)="([^"]*)"(?:,|$)`)

// lineURI returns the URI of a playlist line and how the player reads it:
// reader ("hls": url-toolkit, then the page's URL parser; "url": new URL
// against the playlist's URL) and whether it may name another host (a key
// or an ad server's). ok is false for a line that is no plain URL reading.
func lineURI(line string) (uri, reader string, elsewhere, ok bool) {
	if line == "" || strings.ContainsAny(line, "\n\r\u2028\u2029") || strings.Contains(line, "{$") {
		return "", "", false, false
	}
	if line[0] != '#' {
		return line, "hls", false, true
	}
	m := uriAttr.FindStringSubmatch(line)
	if m == nil || strings.Count(line, `URI=`)+strings.Count(line, `X-ASSET-LIST=`) != 1 {
		return "", "", false, false
	}
	tag, name := m[1], m[2]
	switch {
	case name == "URI":
		return m[3], "hls", tag == "#EXT-X-KEY" || tag == "#EXT-X-SESSION-KEY", tag != "#EXT-X-DATERANGE"
	case tag == "#EXT-X-DATERANGE" && name == "X-ASSET-LIST":
		// hls.js resolves an asset list with new URL(uri, playlist URL)
		// (the interstitials controller's cu()).
		return m[3], "url", true, true
	case tag == "#EXT-X-DATERANGE":
		return m[3], "asset", true, true
	}
	return "", "", false, false
}

type reading struct {
	Reader string `json:"reader"`
	Ref    string `json:"ref"`
	Base   string `json:"base"`
	Page   string `json:"page"`
}

type answer struct {
	Toolkit string `json:"toolkit"`
	Href    string `json:"href"`
	Error   string `json:"error"`
}

func (a answer) String() string {
	if a.Error != "" {
		return "refused (" + a.Error + ")"
	}
	if a.Toolkit != "" {
		return fmt.Sprintf("%s (url-toolkit: %q)", a.Href, a.Toolkit)
	}
	return a.Href
}

// readAsPlayers answers each reading in one node process.
func readAsPlayers(t *testing.T, rs []reading) (string, []answer) {
	t.Helper()
	node, err := exec.LookPath("node")
	if err != nil {
		missingNode(t, err.Error())
	}
	in, err := json.Marshal(map[string]any{"hls": hlsMinJS(t), "readings": rs})
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(node, "testdata/players.cjs")
	cmd.Stdin = bytes.NewReader(in)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("node testdata/players.cjs: %v\n%s", err, stderr.String())
	}
	var res struct {
		Node    string   `json:"node"`
		Answers []answer `json:"answers"`
	}
	if err := json.Unmarshal(out, &res); err != nil || len(res.Answers) != len(rs) {
		t.Fatalf("node testdata/players.cjs answered %d of %d readings (%v): %.300s", len(res.Answers), len(rs), err, out)
	}
	major, _, _ := strings.Cut(strings.TrimPrefix(res.Node, "v"), ".")
	if n, err := strconv.Atoi(major); err != nil || n < 20 {
		missingNode(t, "found node "+res.Node)
	}
	return res.Node, res.Answers
}

// missingNode ends a test that has no Node.js 20 to read URLs with (the
// tables' expectations were taken with it): make test needs it anyway
// (infra/local/install.sh's require_node, for the emulators), so under
// CI=true it fails, elsewhere it skips, as the browser tests do.
func missingNode(t *testing.T, why string) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatalf("no Node.js 20 or newer on PATH under CI=true: %s", why)
	}
	t.Skipf("no Node.js 20 or newer on PATH: %s", why)
}

// hlsMinJS is the hls.js build the player page loads.
func hlsMinJS(t *testing.T) string {
	t.Helper()
	page, err := fs.ReadFile(web.FS(), "player/index.html")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`<script src="\.\./(vendor/hls\.js-[^"/]+/hls\.min\.js)"`).FindSubmatch(page)
	if m == nil {
		t.Fatal("player/index.html loads no vendor/hls.js-*/hls.min.js")
	}
	src, err := fs.ReadFile(web.FS(), string(m[1]))
	if err != nil {
		t.Fatal(err)
	}
	return string(src)
}

// sameObject is href as the object it names: credentials are no part of
// it, nor is a host's trailing dot (the same name in DNS; sameHost).
func sameObject(href string) string {
	u, err := url.Parse(href)
	if err != nil || u.Host == "" {
		return href
	}
	u.User = nil
	if h := u.Hostname(); strings.HasSuffix(h, ".") {
		u.Host = strings.TrimSuffix(h, ".") + strings.TrimPrefix(u.Host, h)
	}
	return u.String()
}

// withoutGrant is href without the grant's query parameter, and whether it
// had it.
func withoutGrant(href string) (string, bool) {
	for _, g := range []struct{ from, to string }{{"?" + grantQuery + "&", "?"}, {"&" + grantQuery, ""}, {"?" + grantQuery, ""}} {
		if i := strings.Index(href, g.from); i >= 0 {
			rest := href[i+len(g.from):]
			if rest == "" || rest[0] == '#' || rest[0] == '&' || g.to == "?" {
				return href[:i] + g.to + rest, true
			}
		}
	}
	return href, false
}

// TestPlayerReadingListsNameRefusedRows: an entry of stricterThanPlayers
// stands for a refusal, so it must name a row read as a URL that is
// refused; one left behind when its row was renamed, removed or no longer
// refuses would excuse nothing and hide that. Likewise a known gap must
// name a row read as a URL. Needs no node, so it runs everywhere.
func TestPlayerReadingListsNameRefusedRows(t *testing.T) {
	t.Parallel()
	read := map[string]urlRow{}
	for _, row := range urlRows() {
		if _, _, _, ok := lineURI(row.line); ok {
			read[row.table+"/"+row.name] = row
		}
	}
	for key := range stricterThanPlayers {
		if row, ok := read[key]; !ok {
			t.Errorf("stricterThanPlayers names %q, which is no row read as a URL", key)
		} else if !row.err {
			t.Errorf("stricterThanPlayers names %q, which is not refused", key)
		}
	}
	for key := range disagreesWithPlayers {
		if _, ok := read[key]; !ok {
			t.Errorf("disagreesWithPlayers names %q, which is no row read as a URL", key)
		}
	}
}

func TestURLReadingsAgreeWithThePlayers(t *testing.T) {
	t.Parallel()
	type check struct {
		row          urlRow
		reader       string
		elsewhere    bool
		stored       [len(pages)]int // readings of the stored URI, one a page
		parsed       int             // the stored URI as new URL(uri, playlist) reads it
		pathway      int             // the pathway's origin
		wanted, ours int             // the row's line and ours, personalized; -1 for none
		uris         [2]string       // their URIs
		got          string
		gotErr       error
		storedURI    string
	}
	var rs []reading
	add := func(r reading) int { rs = append(rs, r); return len(rs) - 1 }
	var checks []check
	for _, row := range urlRows() {
		uri, reader, elsewhere, ok := lineURI(row.line)
		if !ok {
			continue
		}
		c := check{row: row, reader: reader, elsewhere: elsewhere, storedURI: uri, wanted: -1, ours: -1}
		for i, page := range pages {
			c.stored[i] = add(reading{reader, uri, row.base + storedMediaURL, page})
		}
		c.parsed = add(reading{"url", uri, row.base + storedMediaURL, ""})
		c.pathway = add(reading{"url", "/", row.base, ""})
		personalized := func(line string, uri *string) int {
			u, _, _, ok := lineURI(line)
			if !ok {
				return -1
			}
			*uri = u
			return add(reading{reader, u, personalizedMediaURL, pages[0]})
		}
		if !row.err {
			c.wanted = personalized(row.want, &c.uris[0])
		}
		out, err := signurl.PersonalizeMedia(nil, []byte("#EXTM3U\n"+row.line+"\n"), signurl.Grant{Base: row.base, Prefix: renditionFolder, Query: grantQuery})
		c.got, c.gotErr = strings.TrimSuffix(strings.TrimPrefix(string(out), "#EXTM3U\n"), "\n"), err
		if err == nil && (row.err || c.got != row.want) {
			c.ours = personalized(c.got, &c.uris[1])
		}
		checks = append(checks, c)
	}
	if len(checks) < 50 {
		t.Fatalf("only %d rows read as URLs", len(checks))
	}
	masterHeader := masterHeaderReadings(t, add)
	mpd := mpdReadings(t, add)
	version, answers := readAsPlayers(t, rs)
	masterHeader(version, answers)
	mpd(version, answers)
	for _, c := range checks {
		t.Run(c.row.table+"/"+c.row.name, func(t *testing.T) {
			t.Parallel()
			stored := answers[c.stored[0]]
			pathway, err := url.Parse(answers[c.pathway].Href)
			if err != nil {
				t.Fatalf("pathway %s: %v", c.row.base, err)
			}
			var fetched *url.URL
			if stored.Error == "" {
				fetched, _ = url.Parse(sameObject(stored.Href))
			}
			onPathway := fetched != nil && fetched.Scheme == pathway.Scheme && fetched.Host == pathway.Host
			// Why the players' reading has it refused, or "".
			var refuse string
			switch {
			case stored.Error != "" || fetched == nil:
				refuse = "the browser cannot fetch it: " + stored.String()
			case answers[c.stored[1]] != stored:
				refuse = fmt.Sprintf("fetched from the page's host: %s from an https page, %s from an http one", stored, answers[c.stored[1]])
			case onPathway && !strings.HasPrefix(fetched.EscapedPath(), titleFolder):
				refuse = "fetched from the pathway outside the title's folder: " + stored.String()
			case !onPathway && !c.elsewhere:
				refuse = "fetched from another host than the pathway's: " + stored.String()
			}
			// Another player (Safari's own HLS, Shaka Player) reads the
			// URI with the URL parser alone: where it fetches another
			// object than hls.js, a URI rewritten for one of them is
			// wrong for the other. One passed unchanged stays as each
			// read it.
			var ambiguous string
			if answers[c.parsed] != (answer{Href: stored.Href}) {
				ambiguous = fmt.Sprintf("hls.js fetches it from %s, a browser's URL parser resolving it against the playlist from %s", stored, answers[c.parsed])
			}
			unchanged := func(uri string) bool {
				return uri == c.storedURI || strings.HasPrefix(c.storedURI, "//") && strings.HasSuffix(uri, ":"+c.storedURI)
			}
			// agrees tells whether a personalized line (the row's or ours)
			// is read as the players read the stored one.
			key := c.row.table + "/" + c.row.name
			why, stricter := stricterThanPlayers[key]
			var found []string
			failf := func(format string, args ...any) { found = append(found, fmt.Sprintf(format, args...)) }
			// agrees tells whether a personalized line (the row's or ours)
			// is read as the players read the stored one.
			agrees := func(whose string, refused bool, at int, uri string) {
				switch {
				case refused && refuse == "" && ambiguous == "" && !stricter:
					failf("%s refuses %q, which node %s reads as a player may fetch it: %s", whose, c.storedURI, version, stored)
				case refused && (refuse != "" || ambiguous != "") && stricter:
					failf("%s refuses %q, marked stricter than the players (%s), though they refuse it too: %s%s", whose, c.storedURI, why, refuse, ambiguous)
				case refused:
				case refuse != "":
					failf("%s's URI for %q is fetched from %s; node %s: want it refused, %s", whose, c.storedURI, answers[at], version, refuse)
				case ambiguous != "" && !unchanged(uri):
					failf("%s's URI for %q is fetched from %s; node %s: want it refused or unchanged, %s", whose, c.storedURI, answers[at], version, ambiguous)
				case answers[at].Error != "":
					failf("%s's URI cannot be fetched: node %s: %s; the stored one is %s", whose, version, answers[at], stored)
				case onPathway:
					href, granted := withoutGrant(answers[at].Href)
					if sameObject(href) != fetched.String() {
						failf("%s's URI is fetched from %s; node %s fetches the stored %q from %s", whose, answers[at], version, c.storedURI, stored)
					}
					if want := strings.HasPrefix(fetched.EscapedPath(), renditionFolder); granted != want {
						failf("%s's URI %s carries the grant: %v, want %v (node %s fetches the stored one from %s)", whose, answers[at].Href, granted, want, version, stored)
					}
				case answers[at].Href != stored.Href:
					failf("%s's URI is fetched from %s; node %s fetches the stored %q from %s", whose, answers[at], version, c.storedURI, stored)
				}
			}
			agrees("the row", c.row.err, c.wanted, c.uris[0])
			if pe := playback.AsError(c.gotErr); c.gotErr != nil && (pe == nil || pe.Reason != "manifest_unsupported") {
				t.Fatalf("personalized: %v", c.gotErr)
			}
			if c.gotErr != nil != c.row.err || c.ours >= 0 {
				agrees("our personalizing", c.gotErr != nil, c.ours, c.uris[1])
			}
			gap, known := disagreesWithPlayers[key]
			switch {
			case known && len(found) == 0:
				t.Errorf("listed as a known gap (%s), but the row and our personalizing agree with the players", gap)
			case known:
				t.Logf("a known gap, %s: %s", gap, strings.Join(found, "; "))
			default:
				for _, f := range found {
					t.Error(f)
				}
			}
		})
	}
}

// masterHeaderReadings adds the readings of masterHeaderRows' URIs, and
// returns what checks them once answered: a tag of the multivariant
// playlist's header is kept only when the player fetches its URI from the
// same URL from the personalized playlist (served by the API) as from the
// stored one (on the CDN), whatever the page, and that URL is on no
// pathway's origin (the master's URIs carry no grant). A dropped one is
// one that fails any of that.
func masterHeaderReadings(t *testing.T, add func(reading) int) func(version string, answers []answer) {
	type check struct {
		name, uri string
		kept, got bool
		stored    [len(pages)]int
		served    int
	}
	var checks []check
	link := func(dst []byte, p, r string) []byte { return append(dst, p+"/"+r...) }
	for _, row := range masterHeaderRows {
		uri, reader, _, ok := lineURI(row.line)
		if !ok {
			continue
		}
		c := check{name: row.name, uri: uri, kept: row.kept}
		for i, page := range pages {
			c.stored[i] = add(reading{reader, uri, storedMasterURL, page})
		}
		c.served = add(reading{reader, uri, personalizedMasterURL, pages[0]})
		stored := strings.Replace(string(storedObjects("t1", 1)["/titles/t1/master.m3u8"]), "#EXT-X-INDEPENDENT-SEGMENTS\n",
			"#EXT-X-INDEPENDENT-SEGMENTS\n"+row.line+"\n", 1)
		out, err := signurl.PersonalizeMaster(nil, []byte(stored), demo.Ladder[:1], examplePathways, "https://s", link)
		if err != nil {
			t.Fatalf("%s: %v", row.name, err)
		}
		c.got = strings.Contains(string(out), "\n"+row.line+"\n")
		checks = append(checks, c)
	}
	origins := make([]int, len(examplePathways))
	for i, p := range examplePathways {
		origins[i] = add(reading{"url", "/", p.Base, ""})
	}
	return func(version string, answers []answer) {
		for _, c := range checks {
			t.Run("masterHeaderRows/"+c.name, func(t *testing.T) {
				t.Parallel()
				stored := answers[c.stored[0]]
				var drop string
				switch {
				case stored.Error != "":
					drop = "the browser cannot fetch it: " + stored.String()
				case answers[c.stored[1]] != stored:
					drop = fmt.Sprintf("fetched from the page's host: %s from an https page, %s from an http one", stored, answers[c.stored[1]])
				case answers[c.served].Href != stored.Href:
					drop = fmt.Sprintf("fetched from %s when the API serves the playlist, from %s when the CDN does", answers[c.served], stored)
				default:
					fetched, _ := url.Parse(sameObject(stored.Href))
					for i, p := range examplePathways {
						if o, _ := url.Parse(answers[origins[i]].Href); fetched != nil && o != nil && fetched.Scheme == o.Scheme && fetched.Host == o.Host {
							drop = fmt.Sprintf("fetched from the pathway %s without a grant: %s", p.ID, stored)
						}
					}
				}
				for _, k := range []struct {
					whose string
					kept  bool
				}{{"the row", c.kept}, {"our personalizing", c.got}} {
					switch {
					case k.kept && drop != "":
						t.Errorf("%s keeps %q; node %s: want it dropped, %s", k.whose, c.uri, version, drop)
					case !k.kept && drop == "":
						t.Errorf("%s drops %q, which node %s reads as fetched from %s wherever the playlist is served", k.whose, c.uri, version, stored)
					}
				}
			})
		}
	}
}

// mpdAttr is the media attribute of the stored MPD's SegmentTemplate.
var mpdAttr = regexp.MustCompile(`\smedia\s*=\s*(?:"([^"]*)"|'([^']*)')`)

// mpdReadings adds the readings of mpdOffPathwayRows' segment templates
// (the rows replacing the template's media), and returns what checks them
// once answered. dash.js resolves a template's URL against the BaseURL of
// the pathway it plays from (the personalized MPD's, the title's folder
// there), so a template is personalized only where, from each pathway's
// BaseURL and whatever the page, the player fetches it from that
// pathway's origin inside the title's folder; it is refused where it fails
// any of that.
func mpdReadings(t *testing.T, add func(reading) int) func(version string, answers []answer) {
	type check struct {
		name, ref string
		pathways  []signurl.Pathway
		refused   bool
		got       error
		fetched   [][len(pages)]int // a pathway's, one a page
		origins   []int
	}
	stored := string(storedObjects("t1", 1)["/titles/t1/manifest.mpd"])
	var checks []check
	for _, row := range mpdOffPathwayRows {
		if row.old != mpdMedia {
			continue
		}
		mpd := strings.Replace(stored, row.old, row.new, 1)
		m := mpdAttr.FindStringSubmatch(mpd)
		if m == nil {
			t.Fatalf("%s: no media in\n%s", row.name, mpd)
		}
		// XML 1.0 3.3.3: white space in a value is a space, a character
		// reference the character.
		ref := html.UnescapeString(strings.NewReplacer("\t", " ", "\n", " ", "\r", " ").Replace(m[1] + m[2]))
		ref = strings.NewReplacer("$RepresentationID$", "sd", "$Number$", "1").Replace(ref)
		c := check{name: row.name, ref: ref, pathways: row.pathways, refused: row.refused}
		if c.pathways == nil {
			c.pathways = examplePathways[:1]
		}
		for _, p := range c.pathways {
			var at [len(pages)]int
			for i, page := range pages {
				at[i] = add(reading{"dash", ref, p.Base + titleFolder, page})
			}
			c.fetched = append(c.fetched, at)
			c.origins = append(c.origins, add(reading{"url", "/", p.Base, ""}))
		}
		_, c.got = signurl.PersonalizeMPD(nil, []byte(mpd), demo.Ladder, c.pathways, titleFolder, "https://s", nil)
		checks = append(checks, c)
	}
	return func(version string, answers []answer) {
		for _, c := range checks {
			t.Run("mpdOffPathwayRows/"+c.name, func(t *testing.T) {
				t.Parallel()
				var refuse string
				for i, p := range c.pathways {
					fetched := answers[c.fetched[i][0]]
					u, _ := url.Parse(sameObject(fetched.Href))
					o, _ := url.Parse(answers[c.origins[i]].Href)
					switch {
					case fetched.Error != "" || u == nil:
						refuse = "the browser cannot fetch it: " + fetched.String()
					case answers[c.fetched[i][1]] != fetched:
						refuse = fmt.Sprintf("fetched from the page's host: %s from an https page, %s from an http one", fetched, answers[c.fetched[i][1]])
					case u.Scheme != o.Scheme || u.Host != o.Host:
						refuse = fmt.Sprintf("fetched off the pathway %s: %s", p.ID, fetched)
					case !strings.HasPrefix(u.EscapedPath(), titleFolder):
						refuse = fmt.Sprintf("fetched from the pathway %s outside the title's folder: %s", p.ID, fetched)
					default:
						continue
					}
					break
				}
				if pe := playback.AsError(c.got); c.got != nil && (pe == nil || pe.Reason != "manifest_unsupported") {
					t.Fatalf("personalized: %v", c.got)
				}
				for _, k := range []struct {
					whose   string
					refused bool
				}{{"the row", c.refused}, {"our personalizing", c.got != nil}} {
					switch {
					case k.refused && refuse == "":
						t.Errorf("%s refuses %q, which node %s reads as fetched from the pathways in the title's folder (%s)", k.whose, c.ref, version, answers[c.fetched[0][0]])
					case !k.refused && refuse != "":
						t.Errorf("%s personalizes %q; node %s: want it refused, %s", k.whose, c.ref, version, refuse)
					}
				}
			})
		}
	}
}
