package signurl

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"io"
	"net/netip"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/playplane/playplane/shared/playback"
)

// Personalizing rewrites the manifests the packager stored (relative URIs,
// every rendition; see docs/manifests.md) for one session: renditions above
// the plan's cap are dropped, and every URI becomes absolute on a CDN
// pathway, carrying that pathway's grant for the rendition it belongs to.
// Each function is a single pass appending to one buffer, since a media
// playlist has a line per segment.

// Pathway is one CDN a personalized manifest offers: an HLS PATHWAY-ID or a
// DASH BaseURL@serviceLocation.
type Pathway struct {
	ID   string // the CDN name, as steering manifests list it
	Base string // "https://cdn.example.com", no trailing slash
}

// VariantLink builds the URI of a personalized media playlist.
type VariantLink func(dst []byte, pathway, rendition string) []byte

// manifestError is a stored manifest personalizing cannot handle: the
// catalogue's fault, not the player's, and every retry reads the same
// manifest until an operator fixes it.
func manifestError(format string, args ...any) error {
	return &playback.Error{Code: playback.CodeInternal, Reason: "manifest_unsupported", RetryAfter: playback.NoRetry,
		Err: fmt.Errorf("signurl: stored manifest: "+format, args...)}
}

// lines calls fn for each line of b without its line ending.
func eachLine(b []byte, fn func(line []byte) error) error {
	for len(b) > 0 {
		i := bytes.IndexByte(b, '\n')
		var line []byte
		if i < 0 {
			line, b = b, nil
		} else {
			line, b = b[:i], b[i+1:]
		}
		line = bytes.TrimSuffix(line, []byte{'\r'})
		if err := fn(line); err != nil {
			return err
		}
	}
	return nil
}

// PersonalizeMaster writes the multivariant playlist of a session from the
// stored one: the variants of allowed renditions (the first path segment of
// a variant's URI names its rendition), repeated for each pathway with
// PATHWAY-ID and STABLE-VARIANT-ID (draft-pantos-hls-rfc8216bis section
// 4.4.6.2: the variants of a pathway must be the same as those of the
// others), URIs from link, and EXT-X-CONTENT-STEERING naming steeringURI
// and the first pathway as the one to use until the steering manifest has
// been read. I-frame variants and other tags with relative URIs (session
// keys), or with URIs on a pathway (offThePathways), are dropped;
// alternate renditions with URIs (EXT-X-MEDIA) are refused, as their
// groups would have to be repeated per pathway too.
func PersonalizeMaster(dst, stored []byte, allowed []playback.Rendition, pathways []Pathway, steeringURI string, link VariantLink) ([]byte, error) {
	if len(pathways) == 0 {
		return dst, manifestError("no pathway")
	}
	type variant struct {
		attrs     []byte
		rendition string
	}
	var header [][]byte
	var variants []variant
	var pendingInf []byte
	sawHeader := false
	err := eachLine(stored, func(line []byte) error {
		switch {
		case len(bytes.TrimSpace(line)) == 0:
			return nil
		case line[0] == '#' && (bytes.Contains(line[1:], []byte("#EXT")) || hasJSLineBreak(line)):
			// hls.js 1.7.4 finds a master's tags with regular expressions
			// anchored to no line start (/#EXT-X-MEDIA:(.*)/g, and
			// EXT-X-STREAM-INF's, whose attributes end at a CR, where its
			// URI starts): a tag inside this one, never personalized.
			return manifestError("a tag hls.js reads inside %q", line)
		case pendingInf != nil:
			if line[0] == '#' {
				return manifestError("EXT-X-STREAM-INF not followed by its URI")
			}
			r, ok := renditionOf(string(line))
			if !ok {
				return manifestError("variant URI %q is not <rendition>/<playlist>", line)
			}
			if isAllowed(allowed, r) {
				variants = append(variants, variant{attrs: pendingInf, rendition: r})
			}
			pendingInf = nil
		case bytes.HasPrefix(line, []byte("#EXTM3U")):
			sawHeader = true
		case bytes.HasPrefix(line, []byte("#EXT-X-STREAM-INF:")):
			pendingInf = withoutAttrs(line[len("#EXT-X-STREAM-INF:"):], "PATHWAY-ID", "STABLE-VARIANT-ID")
		case bytes.HasPrefix(line, []byte("#EXT-X-I-FRAME-STREAM-INF:")),
			bytes.HasPrefix(line, []byte("#EXT-X-CONTENT-STEERING:")):
			// Dropped: pointing at the origin's relative URIs, or replaced.
		case line[0] == '#':
			uri, ok, err := tagURIAttr(line)
			switch {
			case err != nil:
				return err
			case !ok:
				header = append(header, line)
			case bytes.HasPrefix(line, []byte("#EXT-X-MEDIA:")):
				return manifestError("alternate renditions with URIs are not personalized")
			case bytes.HasPrefix(line, []byte("#EXT-X-SESSION-DATA:")), !offThePathways(uri, pathways):
				// Dropped too: any other tag naming an object beside the
				// stored playlist (a session key, a vendor's image stream)
				// would resolve against the API's URL, or one on a
				// pathway would go there without a grant
				// (offThePathways). A session key only lets a player load
				// a key early: the media playlists' EXT-X-KEY name it on
				// the CDN, with its grant.
			default:
				header = append(header, line)
			}
		default:
			return manifestError("URI %q outside a variant", line)
		}
		return nil
	})
	if err != nil {
		return dst, err
	}
	if !sawHeader {
		return dst, manifestError("no #EXTM3U")
	}
	if pendingInf != nil {
		return dst, manifestError("EXT-X-STREAM-INF without a URI")
	}
	dst = append(dst, "#EXTM3U\n"...)
	for _, h := range header {
		dst = append(append(dst, h...), '\n')
	}
	dst = append(dst, `#EXT-X-CONTENT-STEERING:SERVER-URI="`...)
	dst = append(dst, steeringURI...)
	dst = append(dst, `",PATHWAY-ID="`...)
	dst = append(dst, pathways[0].ID...)
	dst = append(dst, "\"\n"...)
	for _, p := range pathways {
		for _, v := range variants {
			dst = append(dst, "#EXT-X-STREAM-INF:"...)
			dst = append(dst, v.attrs...)
			dst = append(dst, `,PATHWAY-ID="`...)
			dst = append(dst, p.ID...)
			dst = append(dst, `",STABLE-VARIANT-ID="`...)
			dst = append(dst, v.rendition...)
			dst = append(dst, "\"\n"...)
			dst = link(dst, p.ID, v.rendition)
			dst = append(dst, '\n')
		}
	}
	return dst, nil
}

// offThePathways reports whether a URI of a multivariant playlist's header
// names an object a player fetches from the same URL wherever the playlist
// is served, off every pathway, as appendURI passes a key server's
// unchanged: an absolute URL or a network path (as hls.js's url-toolkit
// finds one, before a browser strips anything from it) naming a host of
// its own (hostlessWebURL) that browserHost reads (unreadHost), hls.js
// takes for one as the parser does (hlsReadsAlike) and does not move
// (hlsMovesHost), and that is no pathway's origin. The
// master's URIs carry no grant, so one on a pathway would be refused (403)
// or fetched outside the title's folder.
func offThePathways(uri []byte, pathways []Pathway) bool {
	if !hasScheme(uri) && !bytes.HasPrefix(uri, []byte("//")) {
		return false
	}
	ref := asBrowserReads(string(uri))
	if !hlsReadsAlike(string(uri), ref) || hostlessWebURL(ref) || unreadHost(ref) || hlsMovesHost(ref) {
		return false
	}
	for _, p := range pathways {
		if _, on := sameOriginPath(ref, p.Base); on {
			return false
		}
	}
	return true
}

func isAllowed(allowed []playback.Rendition, path string) bool {
	for _, r := range allowed {
		if r.Path == path {
			return true
		}
	}
	return false
}

// renditionOf returns the first segment of a relative URI "<r>/<file>",
// once dot segments are removed as a player resolving it removes them
// (./sd/media.m3u8 is sd's); one climbing out of the title's folder is
// none, as is one with a scheme: "https:sd/media.m3u8" is no relative
// URI to a player (hostlessWebURL), and a rendition's name holds no ':'
// (playback.SignablePath).
func renditionOf(uri string) (string, bool) {
	if needsBrowserRead([]byte(uri)) {
		uri = asBrowserReads(uri)
	}
	path := uri
	if q := strings.IndexAny(uri, "?#"); q >= 0 {
		path = uri[:q]
	}
	if hasDotSegment([]byte(path)) && !strings.HasPrefix(path, "/") {
		const title = "/title/"
		resolved := removeDotSegments(title + path)
		if !strings.HasPrefix(resolved, title) {
			return "", false
		}
		uri = resolved[len(title):]
	}
	r, rest, ok := strings.Cut(uri, "/")
	if !ok || rest == "" || hasScheme(uri) || strings.Contains(uri, "://") || r == "" || r == "." || r == ".." {
		return "", false
	}
	return r, true
}

// withoutAttrs copies an attribute list without the named attributes.
// Quoted values may hold commas.
func withoutAttrs(list []byte, names ...string) []byte {
	out := make([]byte, 0, len(list))
	for len(list) > 0 {
		end, inQuote := 0, false
		for end < len(list) && (inQuote || list[end] != ',') {
			if list[end] == '"' {
				inQuote = !inQuote
			}
			end++
		}
		attr := list[:end]
		if end < len(list) {
			list = list[end+1:]
		} else {
			list = nil
		}
		name, _, _ := bytes.Cut(attr, []byte{'='})
		drop := false
		for _, n := range names {
			if string(bytes.TrimSpace(name)) == n {
				drop = true
			}
		}
		if drop {
			continue
		}
		if len(out) > 0 {
			out = append(out, ',')
		}
		out = append(out, attr...)
	}
	return out
}

// Grant is what a personalized URI on one pathway carries: Base+Prefix is
// where the rendition's objects live, Query the pathway's signature for
// Prefix ("" for cookie grants).
type Grant struct {
	Base   string // "https://cdn.example.com"
	Prefix string // "/titles/t1/sd/"
	Query  string // e.g. "Policy=..&Signature=..&Key-Pair-Id=.." or "URLPrefix=..&Expires=..&KeyName=..&Signature=.."
}

// PersonalizeMedia writes the media playlist of one rendition on one
// pathway: every relative URI (segment lines and URI attributes such as
// EXT-X-MAP's, interstitials' X-ASSET-URI and X-ASSET-LIST) becomes
// Base+Prefix+URI with the grant's query appended.
// An absolute path, or an absolute URL on the pathway's origin, gets the
// base, and the query only when it is under Prefix. Dot segments are
// removed as a player resolving the URI removes them. What resolves
// outside the title's folder on the pathway, or names another host, is
// refused (appendURI): no grant covers it. Key servers' and interstitials'
// URIs on other hosts pass unchanged.
func PersonalizeMedia(dst, stored []byte, g Grant) ([]byte, error) {
	if !bytes.HasPrefix(stored, []byte("#EXTM3U")) {
		return dst, manifestError("no #EXTM3U")
	}
	// The output is the input plus base, prefix and query on each URI.
	extra := len(g.Base) + len(g.Prefix) + len(g.Query) + 1
	if n := bytes.Count(stored, []byte{'\n'}) + 1; cap(dst)-len(dst) < len(stored)+n/2*extra {
		dst = append(make([]byte, 0, len(dst)+len(stored)+n/2*extra+extra), dst...)
	}
	var err error
	for rest := stored; len(rest) > 0 && err == nil; {
		i := bytes.IndexByte(rest, '\n')
		var line []byte
		if i < 0 {
			line, rest = rest, nil
		} else {
			line, rest = rest[:i], rest[i+1:]
		}
		line = bytes.TrimSuffix(line, []byte{'\r'})
		switch {
		case len(line) == 0:
		case line[0] != '#':
			dst, err = g.appendURI(dst, line, false, true)
		case hasJSLineBreak(line):
			err = manifestError("a line break hls.js reads inside %q", line)
		default:
			dst, err = g.appendTag(dst, line)
		}
		dst = append(dst, '\n')
	}
	return dst, err
}

// variableRef opens a variable reference, {$name} (RFC 8216bis 4.3).
var variableRef = []byte("{$")

// appendTag copies a tag, personalizing its attributes whose value is a
// URI (isURIAttr).
func (g Grant) appendTag(dst, line []byte) ([]byte, error) {
	colon := bytes.IndexByte(line, ':')
	if colon < 0 || !bytes.Contains(line[colon:], uriName) && !bytes.Contains(line[colon:], assetListName) {
		return append(dst, line...), nil
	}
	tag := line[:colon]
	written := 0 // line[:written] is in dst
	for i := colon + 1; ; {
		a, next, ok, err := nextAttr(line, i)
		if err != nil {
			return dst, err
		}
		if !ok {
			break
		}
		i = next
		if !isURIAttr(tag, a.name) {
			continue
		}
		if a.end < 0 {
			return dst, manifestError("unquoted %s in %q", a.name, line)
		}
		dst = append(dst, line[written:a.value+1]...)
		if dst, err = g.appendURI(dst, line[a.value+1:a.end], mayBeElsewhere(tag, a.name), string(tag) != "#EXT-X-DATERANGE"); err != nil {
			return dst, err
		}
		written = a.end
	}
	return append(dst, line[written:]...), nil
}

// uriName and assetListName are in every tag with a URI attribute
// (isURIAttr), whatever white space or quotes surround them.
// hasJSLineBreak reports whether a line holds a CR, U+2028 or U+2029: a
// JavaScript regular expression's '.' stops there, and hls.js 1.7.4 reads
// a playlist's tags with /#.*/ and its master's with [^\r\n]: what follows
// is a tag, or a URI, of its own that the line's personalizing never saw.
// A URI line is written as the browser reads it (asBrowserReads).
func hasJSLineBreak(line []byte) bool {
	if bytes.IndexByte(line, '\r') >= 0 {
		return true
	}
	for i := bytes.IndexByte(line, 0xe2); i >= 0 && i+2 < len(line); {
		if line[i+1] == 0x80 && (line[i+2] == 0xa8 || line[i+2] == 0xa9) {
			return true
		}
		j := bytes.IndexByte(line[i+1:], 0xe2)
		if j < 0 {
			break
		}
		i += 1 + j
	}
	return false
}

var uriName, assetListName = []byte("URI"), []byte("X-ASSET-LIST")

// isJSSpace is what JavaScript's String.prototype.trim removes: Unicode
// white space and line terminators, and the BOM (ECMA-262 WhiteSpace).
func isJSSpace(r rune) bool { return unicode.IsSpace(r) || r == '\ufeff' }

// isURIAttr reports whether attribute name of tag is a URI, resolved
// against the playlist's URL (RFC 8216bis 4.1) when relative: URI, and an
// HLS interstitial's asset and asset list (draft-pantos-hls-rfc8216bis
// appendix D, EXT-X-DATERANGE). Names ending in URI are others (a vendor's
// X-FOO-URI).
func isURIAttr(tag, name []byte) bool {
	switch string(name) {
	case "URI":
		return true
	case "X-ASSET-URI", "X-ASSET-LIST":
		return string(tag) == "#EXT-X-DATERANGE"
	}
	return false
}

// mayBeElsewhere reports whether attribute name of tag may name another
// host: a key server's (EXT-X-KEY: https, skd, data URIs), an ad
// server's (an interstitial's asset or asset list). The title's own
// objects (segments, EXT-X-MAP, parts) are on the pathway.
func mayBeElsewhere(tag, name []byte) bool {
	switch string(tag) {
	case "#EXT-X-KEY", "#EXT-X-SESSION-KEY":
		return true
	case "#EXT-X-DATERANGE":
		return string(name) != "URI"
	}
	return false
}

// appendURI writes uri as the playlist's player resolves it, on the
// pathway. What it names there must be in the title's folder: the grants
// cover the title's rendition folders only, and the CDN refuses every
// other URL (403), telling the player nothing. An absolute URL on the
// pathway's own origin is its path there; one naming another host is
// refused, unless elsewhere (a key or an ad server) passes it unchanged.
// toolkit tells a URI hls.js resolves with url-toolkit (a segment's, a
// key's, a map's) from an interstitial's, which it reads with new URL.
func (g Grant) appendURI(dst, uri []byte, elsewhere, toolkit bool) ([]byte, error) {
	if bytes.Contains(uri, variableRef) {
		// hls.js puts an EXT-X-DEFINE's value (or one IMPORTed from the
		// multivariant playlist, or a QUERYPARAM of the playlist's URL)
		// in its place before it resolves the URI (RFC 8216bis 4.3), so
		// the URI checked here is not the one fetched.
		return dst, manifestError("URI %q holds a variable reference", uri)
	}
	raw := uri
	if needsBrowserRead(uri) || len(uri) > 0 && (uri[0] >= utf8.RuneSelf || uri[len(uri)-1] >= utf8.RuneSelf) ||
		len(uri) > 0 && uri[0] == '\\' || len(uri) > 1 && uri[0] == '/' && uri[1] == '\\' {
		read := asBrowserReads(string(uri))
		// Written as read, a key server's URI too: its dot segments must
		// be the ones hls.js would have removed (hlsRemovesDotsAlike).
		if !hlsReadsAlike(string(uri), read) || !hlsRemovesDotsAlike(uri) || toolkit && hlsKeepsControl(uri) {
			return dst, manifestError("URI %q is another URL to hls.js than to a browser's URL parser", uri)
		}
		// Written as the browser will read it, so that the dot segments
		// and the host checked are those it fetches from.
		uri = []byte(read)
	}
	if len(uri) == 0 || uri[0] == '?' || uri[0] == '#' {
		// The playlist itself, with a query or a fragment alone too (RFC
		// 3986 5.2.2: an empty path is the base's), which once
		// personalized is on the API: no object of the title, nor the
		// rendition's folder it would be written as.
		return dst, manifestError("URI %q has an empty path: the playlist itself", uri)
	}
	if hasScheme(uri) || bytes.HasPrefix(uri, []byte("//")) {
		// Read as text once: each conversion is a copy, on every line of
		// a playlist written with the CDN's URLs.
		ref := string(uri)
		if hostlessWebURL(ref) {
			return dst, manifestError("URI %q has no host after its scheme: a player fetches it from its page's", uri)
		}
		if path, ok := sameOriginPath(ref, g.Base); ok {
			if strings.HasSuffix(ref, path) {
				// Most often the URI's own tail: no copy of it.
				uri = uri[len(uri)-len(path):]
			} else {
				uri = []byte(path)
			}
		} else if !elsewhere {
			return dst, manifestError("URI %q names a host off the pathway %s", uri, g.Base)
		} else if unreadHost(ref) {
			return dst, manifestError("URI %q names a host a browser may read as the pathway's %s, or none", uri, g.Base)
		} else if hlsMovesHost(ref) {
			return dst, manifestError("URI %q names a host hls.js may read as another, the pathway's %s", uri, g.Base)
		} else if hasScheme(uri) {
			return append(dst, uri...), nil
		} else {
			// A network-path reference keeps only the scheme the
			// playlist was read with.
			scheme, _, _ := strings.Cut(g.Base, "//")
			return append(append(dst, scheme...), uri...), nil
		}
	}
	// On the pathway: a key server's URI passed unchanged above is read
	// by each player as it reads the stored one.
	if toolkit && bytes.IndexByte(raw, ';') >= 0 && !hlsReadsParamsAlike(raw) {
		return dst, manifestError("URI %q has params hls.js reads apart from its path, unlike a browser's URL parser", raw)
	}
	path, rest := uri, []byte(nil)
	if q := bytes.IndexAny(uri, "?#"); q >= 0 {
		path, rest = uri[:q], uri[q:]
	}
	if hasDotSegment(path) {
		// A player removes them as it resolves the URI against the
		// playlist's (RFC 3986 5.2.2, 5.2.4), so the URI written is the
		// object it would fetch from the stored playlist: granted in the
		// rendition's folder, as an absolute path elsewhere in the title.
		if !hlsRemovesDotsAlike(raw) {
			return dst, manifestError("URI %q has dot segments hls.js removes otherwise than a browser's URL parser", raw)
		}
		resolved := string(path)
		if resolved[0] != '/' {
			resolved = g.Prefix + resolved
		}
		resolved = removeDotSegments(resolved)
		title := g.titleFolder()
		if !strings.HasPrefix(resolved, title) {
			return dst, manifestError("URI %q climbs out of the title's folder %s", uri, title)
		}
		uri = append([]byte(resolved), rest...)
	}
	dst = append(dst, g.Base...)
	covered := true
	if len(uri) > 0 && uri[0] == '/' {
		if !hasPathPrefix(uri, g.titleFolder()) {
			return dst, manifestError("URI %q is outside the title's folder %s", uri, g.titleFolder())
		}
		covered = hasPathPrefix(uri, g.Prefix)
	} else {
		dst = append(dst, g.Prefix...)
	}
	// The grant goes at the end of the query, before a fragment: what
	// follows '#' never reaches the CDN.
	var fragment []byte
	if f := bytes.IndexByte(uri, '#'); f >= 0 {
		uri, fragment = uri[:f], uri[f:]
	}
	dst = append(dst, uri...)
	if g.Query != "" && covered {
		if bytes.IndexByte(uri, '?') >= 0 {
			dst = append(dst, '&')
		} else {
			dst = append(dst, '?')
		}
		dst = append(dst, g.Query...)
	}
	return append(dst, fragment...), nil
}

// hlsReadsAlike reports whether hls.js 1.7.4 takes uri for the kind of
// reference a browser's URL parser takes read (asBrowserReads of uri) for:
// a URL with a scheme, a network path, or a path. hls.js resolves a
// playlist's URI with url-toolkit's buildAbsoluteURL (M3U8Parser.resolve)
// before the browser reads the URL, and url-toolkit trims the URI as
// String.prototype.trim does (white space: a no-break space and a BOM too,
// no other control) and finds a scheme or "//" in what is left as it is,
// tabs and all, where the parser strips controls and spaces at either end
// and removes tabs and newlines first. Where the two differ, or trimming
// took what the parser keeps (a no-break space, which it encodes), hls.js
// fetches one object ("ht\ttps://keys.x/k" is a path in the rendition's
// folder to it) and a player reading the URI with the parser (Safari's own
// HLS, Shaka Player) another (https://keys.x/k). So with a network path
// or an absolute path: url-toolkit takes only "//" and "/" for them, the
// parser either slash, so `\\keys.x\k` and `\titles\t1\x` are paths in
// the rendition's folder to hls.js. After a scheme, url-toolkit finds a
// host only right after "//", the parser past slashes it has removed tabs
// from: "https:/<TAB>/keys.x/../cdn.x/k" has no host to url-toolkit, which
// removes "keys.x/.." from its path, and the browser then fetches it from
// cdn.x, while hlsMovesHost, reading the URL as the parser does, sees the
// host right after two slashes. So the slashes the parser reads before the
// host must be in the URI as they are (hostSlashesAsWritten).
func hlsReadsAlike(uri, read string) bool {
	uri = strings.TrimFunc(uri, isJSSpace)
	if asBrowserReads(uri) != read || hasScheme(uri) != hasScheme(read) {
		return false
	}
	if hasScheme(read) {
		scheme, rest, _ := strings.Cut(uri, ":")
		return !webScheme(scheme) || hostSlashesAsWritten(rest, read[len(scheme)+1:])
	}
	return strings.HasPrefix(uri, "//") == hostSlashes(read) && strings.HasPrefix(uri, "/") == (read != "" && isSlash(read[0]))
}

// hlsKeepsControl reports whether uri starts, past the white space
// String.prototype.trim removes, with a C0 control: url-toolkit keeps it
// in the path it resolves, where the browser percent-encodes it
// ("\x01seg1.m4s" is sd/%01seg1.m4s to hls.js, "\x01../hd/seg1.m4s" stays
// in sd), while a browser's URL parser reading the URI strips it (WHATWG
// URL Standard, basic URL parser: leading C0 controls and spaces). With a
// scheme or slashes after it, hlsReadsAlike tells the two apart already.
func hlsKeepsControl(uri []byte) bool {
	uri = bytes.TrimLeftFunc(uri, isJSSpace)
	return len(uri) > 0 && uri[0] < ' '
}

// hlsReadsParamsAlike reports whether hls.js 1.7.4 reads a ";params" in
// uri's last path segment as a browser's URL parser does. url-toolkit
// (parseURL, buildAbsoluteURL) takes what follows the last segment's first
// ';' for params (RFC 1808 section 2.4.4), apart from the path whose dot
// segments it removes, and a reference with params and no path for the
// base's path with them; the parser has no params. So "..;x" is a dot-dot
// to hls.js ("../..;x" is /titles/;x from the rendition's folder) and a
// file named "..;x" to the parser, and ";x" is media.m3u8;x to hls.js and
// a file named ";x" beside it to the parser.
func hlsReadsParamsAlike(uri []byte) bool {
	uri = bytes.TrimFunc(uri, isJSSpace)
	if q := bytes.IndexAny(uri, "?#"); q >= 0 {
		uri = uri[:q]
	}
	if len(uri) > 0 && uri[0] == ';' {
		return false
	}
	last := uri[bytes.LastIndexByte(uri, '/')+1:]
	name, _, params := bytes.Cut(last, []byte{';'})
	return !params || string(name) != "." && string(name) != ".."
}

// hostSlashesAsWritten reports whether the slashes (each '/' or '\') that
// read, a URL's text after its scheme as asBrowserReads has it, starts
// with are at the start of written, the same text as the manifest has it:
// no tab or newline the parser removed is among them or before them.
func hostSlashesAsWritten(written, read string) bool {
	n := len(read) - len(strings.TrimLeft(read, `/\`))
	return strings.HasPrefix(written, read[:n])
}

// hlsRemovesDotsAlike reports whether hls.js 1.7.4 removes the dot
// segments of uri as a browser's URL parser does. url-toolkit
// (buildAbsoluteURL, alwaysNormalize) removes those it sees first, "." and
// ".." between '/' only (RFC 1808 section 4 step 6), and the browser the
// rest from what it left: one with a tab or a newline in it, or %2e, or
// after a '\' (dotSegment, splitPath). A ".." of url-toolkit's takes the
// segment before it with it, so where a segment only the browser splits
// or takes for a dot comes before one, the two remove different segments:
// "x/%2e%2e/../seg" is x/seg to hls.js and ../seg to the parser.
func hlsRemovesDotsAlike(uri []byte) bool {
	if q := bytes.IndexAny(uri, "?#"); q >= 0 {
		uri = uri[:q]
	}
	other := false
	for seg := range bytes.SplitSeq(uri, []byte("/")) {
		switch {
		case string(seg) == "..":
			if other {
				return false
			}
		case string(seg) == ".":
		case bytes.IndexByte(seg, '\\') >= 0:
			other = true
		case bytes.ContainsAny(seg, "\t\n\r"):
			// A dot once the browser has removed them.
			other = other || dotSegment(asBrowserReads(string(seg))) != 0
		case len(seg) <= len("%2e%2e") && dotSegment(string(seg)) != 0:
			other = true
		}
	}
	return true
}

// titleFolder is the folder of the grant's title: the rendition's folder
// is one segment under it (Title.ValidateRenditions).
func (g Grant) titleFolder() string {
	return g.Prefix[:strings.LastIndexByte(strings.TrimSuffix(g.Prefix, "/"), '/')+1]
}

// hasPathPrefix reports whether path starts with prefix as a browser reads
// an http(s) URL's path: '\' for '/'.
func hasPathPrefix(path []byte, prefix string) bool {
	if len(path) < len(prefix) {
		return false
	}
	for i := range len(prefix) {
		if c := path[i]; c != prefix[i] && !(c == '\\' && prefix[i] == '/') {
			return false
		}
	}
	return true
}

// sameOriginPath returns the path (with its query and fragment) of an
// absolute URL or network-path reference, as asBrowserReads has it, that
// names base's origin ("https://cdn.x"): its scheme in any case, its host
// as browserHost reads it and its port as sameHost does. The player
// fetches it from the pathway as it would the absolute path. Another
// origin, a host read otherwise, or base without one, is not.
func sameOriginPath(ref, base string) (string, bool) {
	scheme, host, ok := strings.Cut(base, "://")
	if !ok {
		return "", false
	}
	refScheme, authority, path, ok := urlAuthority(ref)
	if !ok || refScheme != "" && !strings.EqualFold(refScheme, scheme) {
		return "", false
	}
	if h, ok := browserHost(authority); !ok || !sameHost(h, host, scheme) {
		return "", false
	}
	switch {
	case path == "" || !isSlash(path[0]):
		return "/" + path, true
	case path[0] == '\\':
		// The path starts there all the same (WHATWG URL Standard, path
		// start state): an absolute path, which the title's folder is
		// checked against.
		return "/" + path[1:], true
	}
	return path, true
}

// urlAuthority splits an absolute URL or network-path reference naming a
// host of its own into its scheme ("" for a network path), its authority
// and what follows, as a browser's URL parser reads an http(s) URL
// (WHATWG URL Standard): two slashes after the scheme, or alone, each '/'
// or '\' (special authority slashes and relative slash states), any more
// skipped (special authority ignore slashes state: "https:////cdn.x/"
// names cdn.x), and the authority up to the next '/', '\', '?' or '#'
// (authority state). ok is false for a reference without the two slashes.
func urlAuthority(ref string) (scheme, authority, rest string, ok bool) {
	if hasScheme(ref) {
		colon := strings.IndexByte(ref, ':')
		scheme, ref = ref[:colon], ref[colon+1:]
	}
	if !hostSlashes(ref) {
		return "", "", "", false
	}
	ref = strings.TrimLeft(ref, `/\`)
	end := strings.IndexAny(ref, `/\?#`)
	if end < 0 {
		end = len(ref)
	}
	return scheme, ref[:end], ref[end:], true
}

// browserHost is an authority's host and port as a browser's URL parser
// reads them (WHATWG URL Standard, authority and host states): what
// follows the last '@' (credentials before it), percent-decoded
// ("cdn%2Ex" is "cdn.x"). ok is false for one holding a character outside
// ASCII, which the parser maps (UTS #46: a fullwidth letter is its ASCII
// letter) as nothing here does, for a percent sign opening no escape, and
// for what the parser refuses: a port that is no number (browserPort), a
// percent-decoded host holding a character no domain holds
// (forbiddenInDomain), a host ending in a number that is no IPv4 address
// (ipv4), one in brackets that is no IPv6 address (ipv6). The port is
// never percent-decoded.
func browserHost(authority string) (host string, ok bool) {
	if at := strings.LastIndexByte(authority, '@'); at >= 0 {
		authority = authority[at+1:]
	}
	h, port := splitPort(authority)
	if !browserPort(port) {
		return authority, false
	}
	if strings.HasPrefix(h, "[") {
		// Parsed as it is, never percent-decoded (host parser).
		_, ok := ipv6(h)
		return authority, ok
	}
	if strings.IndexByte(h, '%') >= 0 {
		decoded, err := url.PathUnescape(h)
		if err != nil || strings.IndexFunc(decoded, forbiddenInDomain) >= 0 {
			return authority, false
		}
		authority = decoded + authority[len(h):]
	}
	for i := range len(authority) {
		if authority[i] >= utf8.RuneSelf {
			return authority, false
		}
	}
	if h, _ := splitPort(authority); endsInANumber(h) {
		if _, ok := ipv4(h); !ok {
			// The parser refuses the URL: no host a player fetches from.
			return authority, false
		}
	}
	return authority, true
}

// browserPort reports whether a browser's URL parser reads port (WHATWG
// URL Standard, port state): none, or ASCII digits up to 65535, leading
// zeros and all. A percent-encoded digit is none: the parser refuses the
// URL.
func browserPort(port string) bool {
	v := 0
	for i := range len(port) {
		if port[i] < '0' || port[i] > '9' {
			return false
		}
		if v = v*10 + int(port[i]-'0'); v > 65535 {
			return false
		}
	}
	return true
}

// forbiddenInDomain reports whether a percent-decoded host may not hold r
// (WHATWG URL Standard, forbidden domain code point): a ':' decoded there
// starts no port, the parser refuses the URL.
func forbiddenInDomain(r rune) bool {
	return r <= ' ' || r == 0x7f || strings.ContainsRune("#%/:<>?@[\\]^|", r)
}

// ipv6 is the address a browser's URL parser reads in a host in brackets
// (WHATWG URL Standard, IPv6 parser: any spelling of it, "[0:0::1]" is
// "[::1]"). ok is false where the parser refuses the URL: no address, or
// one with a zone.
func ipv6(host string) (netip.Addr, bool) {
	if len(host) < 2 || host[0] != '[' || host[len(host)-1] != ']' || strings.IndexByte(host, '%') >= 0 {
		return netip.Addr{}, false
	}
	a, err := netip.ParseAddr(host[1 : len(host)-1])
	return a, err == nil && a.Is6()
}

// endsInANumber reports whether a browser's URL parser reads host as an
// IPv4 address (WHATWG URL Standard, ends in a number checker): its last
// label (past a trailing dot) is digits, or a number ipv4 reads ("0x7f").
func endsInANumber(host string) bool {
	host = strings.TrimSuffix(host, ".")
	last := host[strings.LastIndexByte(host, '.')+1:]
	if last != "" && strings.Trim(last, "0123456789") == "" {
		return true
	}
	_, ok := ipv4Number(last)
	return ok
}

// ipv4 is the address a browser's URL parser reads in a host that ends in
// a number (WHATWG URL Standard, IPv4 parser): up to four parts, each
// decimal, octal after a leading 0 or hexadecimal after 0x, the last one
// taking the bytes the others leave ("127.1" is 127.0.0.1, "2130706433"
// too). ok is false where the parser refuses the URL.
func ipv4(host string) (addr uint32, ok bool) {
	host = strings.TrimSuffix(host, ".")
	n := strings.Count(host, ".") + 1
	if n > 4 {
		return 0, false
	}
	var v uint64
	for i := 0; i < n; i++ {
		part := host
		if dot := strings.IndexByte(host, '.'); dot >= 0 {
			part, host = host[:dot], host[dot+1:]
		}
		num, ok := ipv4Number(part)
		switch {
		case !ok:
			return 0, false
		case i < n-1:
			if num > 255 {
				return 0, false
			}
			v |= num << (8 * (3 - i))
		case num >= 1<<(8*(5-n)):
			return 0, false
		default:
			v |= num
		}
	}
	return uint32(v), true
}

// ipv4Number is one part of an IPv4 address as the URL parser reads it
// (IPv4 number parser): hexadecimal after "0x" or "0X" (none is 0), octal
// after a leading 0, else decimal. ok is false for an empty part, a digit
// its base does not have, or a number past any address.
func ipv4Number(part string) (uint64, bool) {
	if part == "" {
		return 0, false
	}
	base := uint64(10)
	switch {
	case len(part) >= 2 && part[0] == '0' && (part[1] == 'x' || part[1] == 'X'):
		base, part = 16, part[2:]
	case len(part) >= 2 && part[0] == '0':
		base, part = 8, part[1:]
	}
	var v uint64
	for i := range len(part) {
		var d uint64
		switch c := part[i] | 0x20; {
		case part[i] >= '0' && part[i] <= '9':
			d = uint64(part[i] - '0')
		case base == 16 && c >= 'a' && c <= 'f':
			d = uint64(c-'a') + 10
		default:
			return 0, false
		}
		if d >= base {
			return 0, false
		}
		if v = v*base + d; v > 1<<32 {
			return 0, false
		}
	}
	return v, true
}

// unreadHost reports whether an http(s) URL or a network path names a
// host browserHost cannot read, which may be the pathway's, or none the
// browser reads.
func unreadHost(ref string) bool {
	scheme, authority, _, ok := urlAuthority(ref)
	if !ok || scheme != "" && !webScheme(scheme) {
		return false
	}
	_, read := browserHost(authority)
	return !read
}

// hlsMovesHost reports whether hls.js 1.7.4 may fetch an http(s) URL or a
// network path from another host than the one a browser reads in it.
// hls.js resolves an EXT-X-KEY's URI with url-toolkit's buildAbsoluteURL,
// alwaysNormalize (M3U8Parser.resolve), which takes "//" and what follows
// up to the next '/', '?' or '#' for the host and removes the dot segments
// of the path after it before the browser reads the URL. Where the
// browser's host does not follow the first two characters, two '/' (more
// slashes, or a '\' among them: urlAuthority), it is in that path, and a
// "name/.." before it goes too: "https:///keys.x/../cdn.x/k" is fetched
// from cdn.x. Any dot segment before a query there is taken for one.
func hlsMovesHost(ref string) bool {
	scheme, _, _, ok := urlAuthority(ref)
	if !ok || scheme != "" && !webScheme(scheme) {
		return false
	}
	if scheme != "" {
		ref = ref[len(scheme)+1:]
	}
	if len(ref) > 2 && ref[0] == '/' && ref[1] == '/' && !isSlash(ref[2]) {
		return false
	}
	if q := strings.IndexAny(ref, "?#"); q >= 0 {
		ref = ref[:q]
	}
	return hasDotSegment([]byte(ref))
}

// sameHost reports whether the authorities a and b ("host" or "host:port")
// name one host and port of an http(s) URL of scheme: hosts in any case,
// an IPv4 or IPv6 address as its number,
// a port as a browser's URL parser reads it (WHATWG URL Standard, port
// state: leading zeros are no part of the number, and the scheme's default
// port, http's 80 or https's 443, or an empty one, is none), so that
// "cdn.x:443" and "cdn.x:0443" are "cdn.x" to https.
func sameHost(a, b, scheme string) bool {
	ah, ap := splitPort(a)
	bh, bp := splitPort(b)
	// A host's trailing dot names it in DNS all the same: the CDN's.
	ah, bh = strings.TrimSuffix(ah, "."), strings.TrimSuffix(bh, ".")
	if urlPort(ap, scheme) != urlPort(bp, scheme) {
		return false
	}
	if strings.HasPrefix(ah, "[") || strings.HasPrefix(bh, "[") {
		a, aok := ipv6(ah)
		b, bok := ipv6(bh)
		return aok && bok && a == b
	}
	if endsInANumber(ah) || endsInANumber(bh) {
		// An IPv4 address, in whichever way written (ipv4).
		a, aok := ipv4(ah)
		b, bok := ipv4(bh)
		return aok && bok && a == b
	}
	return strings.EqualFold(ah, bh)
}

// splitPort splits an authority at the ':' before its port, if any (not
// one inside an IPv6 address's brackets).
func splitPort(authority string) (host, port string) {
	i := strings.LastIndexByte(authority, ':')
	if i < 0 || strings.IndexByte(authority[i:], ']') >= 0 {
		return authority, ""
	}
	return authority[:i], authority[i+1:]
}

// urlPort is a port as a URL's origin has it: "" for none or the scheme's
// default, the number without leading zeros. One that is no number is
// kept as written: such a URL fails to parse, and matches no base's.
func urlPort(port, scheme string) string {
	if port == "" || strings.Trim(port, "0123456789") != "" {
		return port
	}
	if port = strings.TrimLeft(port, "0"); port == "" {
		port = "0"
	}
	if port == "443" && strings.EqualFold(scheme, "https") || port == "80" && strings.EqualFold(scheme, "http") {
		return ""
	}
	return port
}

// dotSegment tells a segment a browser removes as "." (1) or ".." (2), or
// 0: the WHATWG URL Standard's single- and double-dot segments, which take
// %2e in any case for a dot (RFC 3986 6.2.2.2: %2E is the dot it
// encodes), so that a grant goes with the folder the player fetches from.
func dotSegment(seg string) int {
	switch {
	case seg == "." || strings.EqualFold(seg, "%2e"):
		return 1
	case seg == ".." || strings.EqualFold(seg, ".%2e") || strings.EqualFold(seg, "%2e.") || strings.EqualFold(seg, "%2e%2e"):
		return 2
	}
	return 0
}

// splitPath splits a path into its segments (empty ones too) as a browser
// reads an http(s) URL's: the WHATWG URL Standard's path state takes '\'
// for '/', and hls.js leaves the URLs it resolves to that parser.
func splitPath(path string) []string {
	return strings.Split(strings.ReplaceAll(path, `\`, "/"), "/")
}

// hasDotSegment reports whether path has a segment dotSegment tells, as
// splitPath splits it, without splitting it: it runs on every URI of every
// playlist served, and an empty segment is never a dot.
func hasDotSegment(path []byte) bool {
	for seg := range bytes.FieldsFuncSeq(path, func(r rune) bool { return r == '/' || r == '\\' }) {
		if len(seg) <= len("%2e%2e") && dotSegment(string(seg)) != 0 {
			return true
		}
	}
	return false
}

// removeDotSegments is RFC 3986 5.2.4 on an absolute path: "." goes, ".."
// takes the segment before it with it (none above the root), and a path
// ending in either names a folder. Segments are splitPath's, dots
// dotSegment's; they are joined with '/'.
func removeDotSegments(path string) string {
	segs := splitPath(path[1:])
	out := make([]string, 0, len(segs))
	for i, seg := range segs {
		last := i == len(segs)-1
		switch dotSegment(seg) {
		case 1:
		case 2:
			if len(out) > 0 {
				out = out[:len(out)-1]
			}
		default:
			out = append(out, seg)
			continue
		}
		if last {
			out = append(out, "")
		}
	}
	return "/" + strings.Join(out, "/")
}

// tagURIAttr returns the value of a tag's URI attribute as hls.js 1.7.4
// reads the attribute list (AttrList.parseAttrList), as appendTag does: a
// name trimmed of white space, a value in quotes. ok is false without one.
// A URI without quotes, or a quoted value followed by anything but a comma
// (hls.js would read the attributes after it otherwise), is refused.
func tagURIAttr(line []byte) (uri []byte, ok bool, err error) {
	colon := bytes.IndexByte(line, ':')
	if colon < 0 || !bytes.Contains(line[colon:], uriName) {
		return nil, false, nil
	}
	for i := colon + 1; ; {
		a, next, more, err := nextAttr(line, i)
		if err != nil || !more {
			return nil, false, err
		}
		if string(a.name) == "URI" {
			if a.end < 0 {
				return nil, false, manifestError("unquoted URI in %q", line)
			}
			return line[a.value+1 : a.end], true, nil
		}
		i = next
	}
}

// hlsAttr is one attribute of a tag's list: its name trimmed of white space,
// where its value starts in the line and, quoted, where its closing quote
// is (end -1 when unquoted).
type hlsAttr struct {
	name       []byte
	value, end int
}

// nextAttr reads the attribute at line[i:] as hls.js 1.7.4 reads an
// attribute list (AttrList.parseAttrList, /(.+?)=(".*?"|.*?)(?:,|$)/): a
// name trimmed of white space, an unquoted value as it is, a quoted one to
// the last quote before a comma or the end. Where that is not the closing
// quote, what follows is not an attribute to hls.js, and may be a URI to
// it: refused. next is where the attribute after it starts; ok is false
// past the list's last attribute. appendTag and tagURIAttr read lists
// through it, so the media playlist and the master are read alike.
func nextAttr(line []byte, i int) (a hlsAttr, next int, ok bool, err error) {
	if i >= len(line) {
		return hlsAttr{}, 0, false, nil
	}
	eq := bytes.IndexByte(line[i:], '=')
	if eq < 0 {
		return hlsAttr{}, 0, false, nil
	}
	a.name, a.value = bytes.TrimFunc(line[i:i+eq], isJSSpace), i+eq+1
	if a.value >= len(line) || line[a.value] != '"' {
		a.end = -1
		// An unquoted value holds no comma.
		comma := bytes.IndexByte(line[a.value:], ',')
		if comma < 0 {
			return a, len(line), true, nil
		}
		return a, a.value + comma + 1, true, nil
	}
	end := bytes.IndexByte(line[a.value+1:], '"')
	if end < 0 {
		return hlsAttr{}, 0, false, manifestError("unterminated %s in %q", a.name, line)
	}
	a.end = end + a.value + 1
	if a.end+1 < len(line) && line[a.end+1] != ',' {
		return hlsAttr{}, 0, false, manifestError("%s's quoted value is followed by %q in %q", a.name, line[a.end+1:], line)
	}
	return a, min(a.end+2, len(line)), true, nil
}

// hasScheme reports whether uri starts with an RFC 3986 scheme and ':'.
func hasScheme[T string | []byte](uri T) bool { return startsWithScheme(uri, false) }

// startsWithScheme reports whether uri starts with a scheme and ':': a
// letter, then letters, digits, '+', '-', '.' (RFC 3986 3.1), and '_' too
// where underscore (as dash.js reads one: dashScheme).
func startsWithScheme[T string | []byte](uri T, underscore bool) bool {
	for i := range len(uri) {
		switch c := uri[i]; {
		case c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z':
		case i > 0 && (c >= '0' && c <= '9' || c == '+' || c == '-' || c == '.' || underscore && c == '_'):
		case i > 0 && c == ':':
			return true
		default:
			return false
		}
	}
	return false
}

// PersonalizeMPD writes the DASH MPD of a session from the stored one:
// Representations of renditions not allowed are removed, one MPD-level
// BaseURL per pathway (serviceLocation = pathway id) points at the title's
// folder on that CDN, and ContentSteering names steeringURI with the first
// pathway as defaultServiceLocation (DASH-IF Content Steering). The stored
// SegmentTemplate's relative media and initialization resolve against the
// BaseURLs. Thumbnail tracks are dropped (videoSets); other
// AdaptationSets and Representations that are not video (separate audio,
// subtitles) are refused (refuseAlternate).
//
// queries (rendition → signature query) is for query-style grants: each
// kept Representation then gets a SegmentTemplate of its own carrying its
// rendition's query, since BaseURL resolution drops a query. A template is
// shared by every BaseURL, so a query-style MPD serves exactly one
// pathway; cookie grants (queries nil) serve them all.
func PersonalizeMPD(dst, stored []byte, allowed []playback.Rendition, pathways []Pathway, assetPath, steeringURI string, queries map[string]string) ([]byte, error) {
	switch {
	case len(pathways) == 0:
		return dst, manifestError("no pathway")
	case queries != nil && len(pathways) != 1:
		return dst, manifestError("a query-style MPD serves one pathway, not %d", len(pathways))
	}
	start := len(dst)
	s := string(stored)
	mpd := indexTag(s, "MPD", 0)
	if mpd < 0 {
		return dst, manifestError("no <MPD>")
	}
	mpdEnd := strings.IndexByte(s[mpd:], '>')
	if mpdEnd < 0 {
		return dst, manifestError("unterminated <MPD>")
	}
	mpdEnd += mpd + 1
	period := indexTag(s, "Period", mpdEnd)
	if period < 0 {
		return dst, manifestError("no <Period>")
	}
	if indexTag(s[:period], "BaseURL", mpdEnd) >= 0 {
		return dst, manifestError("an MPD-level BaseURL would be replaced by the pathways'")
	}
	if err := refuseMisreadMarkup(s); err != nil {
		return dst, err
	}
	s, err := withoutLocations(s)
	if err != nil {
		return dst, err
	}
	if period = indexTag(s, "Period", mpdEnd); period < 0 {
		return dst, manifestError("no <Period>")
	}
	s, err = videoSets(s, period)
	if err != nil {
		return dst, err
	}
	if err := refuseRemoteElements(s); err != nil {
		return dst, err
	}
	if err := refuseClimbs(s, assetPath, pathways); err != nil {
		return dst, err
	}
	// A BaseURL below the MPD's naming a host is where the Representations
	// under it are read (ISO/IEC 23009-1 5.6): off the pathways, and with
	// query grants the signature would go there in every segment URL.
	for b := indexTag(s, "BaseURL", period); b >= 0; b = indexTag(s, "BaseURL", b+1) {
		open := strings.IndexByte(s[b:], '>')
		if open < 0 {
			return dst, manifestError("unterminated <BaseURL>")
		}
		if s[b+open-1] == '/' {
			continue // empty
		}
		end := strings.Index(s[b:], "</BaseURL>")
		if end < 0 {
			return dst, manifestError("unterminated <BaseURL>")
		}
		// Its text as a client reads it: CDATA sections and references
		// are XML's ways to write the same URL.
		var text string
		if err := xml.Unmarshal([]byte(s[b:b+end+len("</BaseURL>")]), &text); err != nil {
			return dst, manifestError("BaseURL: %v", err)
		}
		if text = strings.TrimSpace(text); namesHost(asBrowserReads(text)) {
			return dst, manifestError("BaseURL %q names a host off the pathways", text)
		}
	}
	insertAt := mpdEnd
	if i := strings.LastIndex(s[:period], "</ProgramInformation>"); i >= 0 {
		insertAt = i + len("</ProgramInformation>")
	}
	dst = append(dst, s[:insertAt]...)
	for _, p := range pathways {
		dst = append(dst, "\n  <BaseURL serviceLocation=\""...)
		dst = appendXMLEscaped(dst, p.ID)
		dst = append(dst, "\">"...)
		dst = appendXMLEscaped(dst, p.Base+assetPath)
		dst = append(dst, "</BaseURL>"...)
	}
	dst = append(dst, "\n  <ContentSteering defaultServiceLocation=\""...)
	dst = appendXMLEscaped(dst, pathways[0].ID)
	dst = append(dst, "\" queryBeforeStart=\"false\">"...)
	dst = appendXMLEscaped(dst, steeringURI)
	dst = append(dst, "</ContentSteering>"...)

	pos := insertAt
	// The SegmentTemplate elements of the current Period and AdaptationSet.
	var periodTemplate, asTemplate string
	for {
		rep := indexTag(s, "Representation", pos)
		if rep < 0 {
			break
		}
		gap := s[pos:rep]
		periodTemplate, asTemplate = templatesIn(gap, periodTemplate, asTemplate)
		dst = append(dst, gap...)
		tagEnd := strings.IndexByte(s[rep:], '>')
		if tagEnd < 0 {
			return dst, manifestError("unterminated <Representation>")
		}
		tagEnd += rep + 1
		startTag := s[rep:tagEnd]
		selfClosing := strings.HasSuffix(startTag, "/>")
		end := tagEnd
		if !selfClosing {
			closeAt := strings.Index(s[tagEnd:], "</Representation>")
			if closeAt < 0 {
				return dst, manifestError("unterminated <Representation>")
			}
			end = tagEnd + closeAt + len("</Representation>")
		}
		pos = end
		if err := refuseAlternate(startTag); err != nil {
			return dst, err
		}
		id, ok := attr(startTag, "id")
		if !ok || !isAllowed(allowed, id) {
			// Above the cap, or not in the title's ladder: gone with its
			// line.
			dst = bytes.TrimRight(dst, " \t")
			if pos < len(s) && s[pos] == '\r' {
				pos++
			}
			if pos < len(s) && s[pos] == '\n' && len(dst) > 0 && dst[len(dst)-1] == '\n' {
				pos++
			}
			continue
		}
		if queries == nil {
			dst = append(dst, s[rep:end]...)
			continue
		}
		q, ok := queries[id]
		if !ok {
			return dst, manifestError("no grant for Representation %q", id)
		}
		body := ""
		if !selfClosing {
			body = s[tagEnd : end-len("</Representation>")]
		}
		// The Representation's template carries the grant, with every
		// attribute it inherits stated, so that none resolves without it.
		if own := indexTag(body, "SegmentTemplate", 0); own >= 0 {
			el := templateEl(body[own:])
			if el == "" {
				return dst, manifestError("unterminated <SegmentTemplate> in Representation %q", id)
			}
			tmpl, err := withQuery(inheritTemplate(el, asTemplate, periodTemplate), q, pathways[0].Base)
			if err != nil {
				return dst, err
			}
			dst = append(dst, startTag...)
			dst = append(dst, body[:own]...)
			dst = append(dst, tmpl...)
			dst = append(dst, body[own+len(el):]...)
			dst = append(dst, "</Representation>"...)
			continue
		}
		inherits := inheritTemplate(asTemplate, periodTemplate)
		if inherits == "" {
			return dst, manifestError("Representation %q has no SegmentTemplate to carry its grant", id)
		}
		tmpl, err := withQuery(inherits, q, pathways[0].Base)
		if err != nil {
			return dst, err
		}
		if selfClosing {
			startTag = strings.TrimSuffix(strings.TrimSuffix(startTag, "/>"), " ") + ">"
		}
		// After the Representation's children: SegmentTemplate is the
		// last element of its sequence (ISO/IEC 23009-1 schema,
		// RepresentationType), after its descriptors and BaseURLs.
		children := strings.TrimRight(body, " \t\r\n")
		dst = append(dst, startTag...)
		dst = append(dst, children...)
		dst = append(dst, tmpl...)
		dst = append(dst, body[len(children):]...)
		dst = append(dst, "</Representation>"...)
	}
	return boundSets(append(dst, s[pos:]...), start), nil
}

// mpdElements are the MPD's elements PersonalizeMPD finds in the text
// (indexTag) or that hold or lead to URLs.
var mpdElements = []string{"MPD", "Period", "AdaptationSet", "Representation", "SubRepresentation", "ContentComponent",
	"BaseURL", "SegmentTemplate", "SegmentList", "SegmentURL", "SegmentBase", "SegmentTimeline", "Initialization",
	"RepresentationIndex", "BitstreamSwitching", "ProgramInformation", "ContentSteering", "Location", "PatchLocation"}

// refuseMisreadMarkup refuses an MPD whose elements dash.js 5.2.1 reads
// otherwise than PersonalizeMPD's search for "<Representation",
// "<BaseURL" and the like: an element of mpdElements with a prefix (its
// parser takes an element's local name, whatever the prefix), a comment,
// processing instruction or CDATA section holding a '<', and a tag
// holding one or a '>' in a value (tagEnd): the search would take it for
// a tag the parser skips, and a Representation opened there swallows the
// next one, above the plan's cap, up to its end tag. A packager's comment
// or pssh box (<cenc:pssh>) passes. It runs on every MPD served: a search
// for each ':', then one pass over the markup, a byte loop over each tag
// (a long title's SegmentTimeline: ~0.5 ns a byte) and a search for each
// comment's end.
func refuseMisreadMarkup(s string) error {
	for i := 0; ; {
		c := strings.IndexByte(s[i:], ':')
		if c < 0 {
			break
		}
		c += i
		i = c + 1
		p := c
		for p > 0 && isNameByte(s[p-1]) {
			p--
		}
		if p == c || p == 0 || !(s[p-1] == '<' || s[p-1] == '/' && p > 1 && s[p-2] == '<') {
			continue
		}
		end := c + 1
		for end < len(s) && isNameByte(s[end]) {
			end++
		}
		if slices.Contains(mpdElements, s[c+1:end]) {
			return manifestError("element <%s> has a prefix: dash.js reads it as <%s>", s[p:end], s[c+1:end])
		}
	}
	for i := 0; ; {
		lt := strings.IndexByte(s[i:], '<')
		if lt < 0 {
			return nil
		}
		lt += i
		if lt+1 < len(s) && (s[lt+1] == '!' || s[lt+1] == '?') {
			rest := s[lt+1:]
			var open, end string
			switch {
			case strings.HasPrefix(rest, "!--"):
				open, end = "<!--", "-->"
			case strings.HasPrefix(rest, "?"):
				open, end = "<?", "?>"
			case strings.HasPrefix(rest, "![CDATA["):
				open, end = "<![CDATA[", "]]>"
			default:
				// A DOCTYPE: none in an MPD a packager writes, and its
				// internal subset may hold markup (an entity "<MPD>").
				return manifestError("a document type declaration at %d", lt)
			}
			k := strings.Index(rest, end)
			if k < 0 {
				return manifestError("unterminated %s", open)
			}
			if strings.IndexByte(rest[:k], '<') >= 0 {
				return manifestError("%q holds a '<'", s[lt:lt+1+k+len(end)])
			}
			i = lt + 1 + k + len(end)
			continue
		}
		gt, why := tagEnd(s, lt)
		if why != "" {
			return manifestError("tag at %d %s: %q", lt, why, s[lt:min(len(s), lt+80)])
		}
		i = gt + 1
	}
}

// tagEnd returns where the tag opened at s[lt] ends: its '>', the first
// one, which PersonalizeMPD takes for it. It refuses (why) a tag whose
// first '>' a parser reads otherwise, or in which the search for
// "<Representation" would find a tag the parser does not: a '<' anywhere
// in it (XML 1.0 forbids one in an attribute value; dash.js's parser
// takes one quoted as text), a '>' in a quoted value (XML allows it;
// libxml2, which Shaka Packager writes with, Python's minidom (Bento4)
// and ffmpeg write &gt;), a value without quotes or a quote not opening
// a value (no XML, read each its own way). A '<' must open a name or an
// end tag.
func tagEnd(s string, lt int) (gt int, why string) {
	if lt+1 >= len(s) || !(s[lt+1] == '/' || s[lt+1] == '_' || s[lt+1] == ':' || s[lt+1] >= 0x80 ||
		s[lt+1]|0x20 >= 'a' && s[lt+1]|0x20 <= 'z') {
		return 0, "opens no name"
	}
	for j := lt + 1; ; j++ {
		for j < len(s) && tagPlain[s[j]] {
			j++
		}
		if j == len(s) {
			return 0, "is unterminated"
		}
		switch s[j] {
		case '>':
			return j, ""
		case '<':
			return 0, "holds a '<'"
		case '"', '\'':
			return 0, "has a quote opening no value"
		}
		// '=': its value, in quotes, after white space (XML 1.0 2.3's Eq).
		for j++; j < len(s) && (s[j] == ' ' || s[j] == '\t' || s[j] == '\r' || s[j] == '\n'); j++ {
		}
		if j == len(s) || s[j] != '"' && s[j] != '\'' {
			return 0, "has an attribute without quotes"
		}
		q := s[j]
		for j++; ; j++ {
			for j < len(s) && valuePlain[s[j]] {
				j++
			}
			if j == len(s) {
				return 0, "has an unterminated value"
			}
			if s[j] == q {
				break
			}
			if s[j] == '<' || s[j] == '>' {
				return 0, "has a '<' or '>' in a value"
			}
		}
	}
}

// tagPlain and valuePlain are the bytes tagEnd passes over in a tag and in
// a value: a table, as the loop over each SegmentTimeline S element's
// bytes is most of the time it takes on a long title's MPD.
var tagPlain, valuePlain = func() (tag, value [256]bool) {
	for c := range 256 {
		tag[c] = strings.IndexByte("<>=\"'", byte(c)) < 0
		value[c] = strings.IndexByte("<>\"'", byte(c)) < 0
	}
	return tag, value
}()

func isNameByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-' || c == '.'
}

// withoutLocations drops the MPD's Location and PatchLocation elements
// (ISO/IEC 23009-1 5.3.1.2, 5.15), each with its line: they name where a
// client reloads the MPD or fetches patches to it (dash.js 5.2.1 reloads
// from a PatchLocation, else a Location, else the URL it loaded), and the
// session's MPD is the personalized one at its own URL, which a reload
// without them goes back to; a stored one's would offer every rendition
// unpersonalized. It runs after refuseMisreadMarkup, so each tag's first
// '>' ends it.
func withoutLocations(s string) (string, error) {
	for from := 0; ; {
		i := strings.Index(s[from:], "Location")
		if i < 0 {
			return s, nil
		}
		i += from
		from = i + 1
		lt := i - 1
		if i >= len("<Patch") && s[i-len("<Patch"):i] == "<Patch" {
			lt = i - len("<Patch")
		}
		after := i + len("Location")
		if lt < 0 || s[lt] != '<' || after >= len(s) || strings.IndexByte(" \t\r\n>/", s[after]) < 0 {
			continue
		}
		name := s[lt+1 : after]
		gt := strings.IndexByte(s[after:], '>')
		if gt < 0 {
			return s, manifestError("unterminated <%s>", name)
		}
		end := after + gt + 1
		if s[end-2] != '/' {
			c := strings.Index(s[end:], "</"+name)
			if c < 0 {
				return s, manifestError("unterminated <%s>", name)
			}
			gt := strings.IndexByte(s[end+c:], '>')
			if gt < 0 {
				return s, manifestError("unterminated </%s>", name)
			}
			end += c + gt + 1
		}
		start := lt
		for start > 0 && (s[start-1] == ' ' || s[start-1] == '\t') {
			start--
		}
		if start == 0 || s[start-1] == '\n' {
			if end < len(s) && s[end] == '\r' {
				end++
			}
			if end < len(s) && s[end] == '\n' {
				end++
			}
		} else {
			start = lt
		}
		s = s[:start] + s[end:]
		from = start
	}
}

// mpdURLAttrs are the attributes of MPD elements whose value is a URL (or
// a URL template) a client resolves against the element's BaseURL
// (ISO/IEC 23009-1 5.3.9: SegmentTemplate, SegmentURL, and the
// sourceURL of a URLType such as Initialization).
var mpdURLAttrs = map[string][]string{
	"SegmentTemplate":     {"media", "initialization", "index", "bitstreamSwitching"},
	"SegmentURL":          {"media", "index"},
	"Initialization":      {"sourceURL"},
	"RepresentationIndex": {"sourceURL"},
	"BitstreamSwitching":  {"sourceURL"},
}

// refuseClimbs refuses an MPD naming an object outside the title's folder
// on the pathways, as PersonalizeMedia refuses a media playlist's URI:
// each relative BaseURL resolved against those above it (the MPD level's
// is the title's folder on a pathway, ISO/IEC 23009-1 5.6), then each
// segment URL against those of each Representation using it (checkRefs;
// RFC 3986 5.2, dot segments as a browser reads them); a URL naming a host
// must name every pathway's origin (climbCheck). A grant is for a
// rendition's folder, so such a URL would carry it elsewhere and fail at
// the CDN, telling the player nothing. Only an MPD that can hold such a
// URL is parsed: one with "..", a percent-encoded dot, a character
// reference (&#46;), or a URL that is not a relative path (mayNameAbsolute).
func refuseClimbs(s, title string, pathways []Pathway) error {
	if !strings.Contains(s, "..") && !strings.Contains(s, "&#") && !hasPercentDot(s) && !mayNameAbsolute(s) {
		return nil
	}
	stack := []mpdScope{{above: []string{title}, own: []string{title}}}
	d := mpdDecoder(s)
	for {
		tok, err := d.Token()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return manifestError("MPD: %v", err)
		}
		switch el := tok.(type) {
		case xml.StartElement:
			top := &stack[len(stack)-1]
			if el.Name.Local == "BaseURL" {
				var text string
				if err := d.DecodeElement(&text, &el); err != nil {
					return manifestError("BaseURL: %v", err)
				}
				if !top.based {
					top.own, top.based = nil, true
				}
				for _, base := range top.above {
					resolved, err := climbCheck(base, strings.TrimSpace(text), title, pathways)
					if err != nil {
						return err
					}
					if !slices.Contains(top.own, resolved) {
						top.own = append(top.own, resolved)
					}
				}
				continue
			}
			if names := mpdURLAttrs[el.Name.Local]; names != nil {
				// Recorded on its level, to be resolved against the
				// BaseURLs of each Representation it applies to.
				level := len(stack) - 1
				for level > 0 && !slices.Contains(mpdLevels, stack[level].name) {
					level--
				}
				// The key: a SegmentTemplate@media, or a SegmentList's
				// SegmentURL@media; a Representation's replaces its set's.
				in := ""
				if level < len(stack)-1 {
					in = top.name
				}
				for _, a := range el.Attr {
					if slices.Contains(names, a.Name.Local) {
						key := in + "/" + el.Name.Local + "@" + a.Name.Local
						stack[level].refs = append(stack[level].refs, mpdRef{key, a.Value})
					}
				}
			}
			stack = append(stack, mpdScope{name: el.Name.Local, above: top.own, own: top.own})
		case xml.EndElement:
			if el.Name.Local == "Representation" {
				if err := checkRefs(stack, title, pathways); err != nil {
					return err
				}
			}
			stack = stack[:len(stack)-1]
		}
	}
}

// mpdDecoder reads an MPD's elements, with each SegmentTimeline emptied
// (withoutTimelines).
func mpdDecoder(s string) *xml.Decoder {
	d := xml.NewDecoder(strings.NewReader(withoutTimelines(s)))
	// The URLs are ASCII in any encoding an MPD may declare, and the rest
	// of the personalizing reads the bytes as they are too. The decoder
	// wants UTF-8, which its other text (a Latin-1 title) need not be:
	// each byte is read as the Latin-1 character it is, which keeps every
	// ASCII byte, and so the markup and URLs, as it is.
	d.CharsetReader = func(_ string, r io.Reader) (io.Reader, error) {
		b, err := io.ReadAll(r)
		if err != nil {
			return nil, err
		}
		out := make([]byte, 0, len(b))
		for _, c := range b {
			out = utf8.AppendRune(out, rune(c))
		}
		return bytes.NewReader(out), nil
	}
	return d
}

// xlinkNS is the XLink namespace, whose href makes an MPD element remote
// (ISO/IEC 23009-1 5.5).
const xlinkNS = "http://www.w3.org/1999/xlink"

// resolveToZero is the one xlink:href that loads nothing: the client
// removes the element (ISO/IEC 23009-1 5.5.3).
const resolveToZero = "urn:mpeg:dash:resolve-to-zero:2013"

// refuseRemoteElements refuses an MPD with a remote element, one with an
// xlink:href (a Period, an AdaptationSet, a SegmentList, an EventStream:
// ISO/IEC 23009-1 5.5): dash.js and Shaka Player load it from there and
// put it in the element's place, so what the player reads was never
// personalized (its Representations not held to the plan's cap, its URLs
// not held to the title's folder, no grant in its templates). One whose
// href is resolve-to-zero is kept: the client removes it, and what it
// holds was checked as the rest. Shaka reads the href of the XLink
// namespace, whatever its prefix (getAttributeNS), dash.js 5.2.1 an
// attribute named "xlink:href", whatever its namespace: both are remote
// here. An attribute's name holds no reference, so an MPD without "href"
// in it has none, and is not parsed.
func refuseRemoteElements(s string) error {
	if !strings.Contains(s, "href") {
		return nil
	}
	// The prefixes an href is remote with: "xlink", and any bound to the
	// XLink namespace anywhere (a binding's scope is ignored: a prefix
	// bound to it somewhere is seldom bound to another elsewhere).
	prefixes := []string{"xlink"}
	d := mpdDecoder(s)
	for {
		tok, err := d.RawToken()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return manifestError("MPD: %v", err)
		}
		el, ok := tok.(xml.StartElement)
		if !ok {
			continue
		}
		for _, a := range el.Attr {
			if a.Name.Space == "xmlns" && a.Value == xlinkNS && !slices.Contains(prefixes, a.Name.Local) {
				prefixes = append(prefixes, a.Name.Local)
			}
		}
		for _, a := range el.Attr {
			if a.Name.Local == "href" && slices.Contains(prefixes, a.Name.Space) && a.Value != resolveToZero {
				return manifestError("remote element <%s %s:href=%q> is not personalized", el.Name.Local, a.Name.Space, a.Value)
			}
		}
	}
}

// withoutTimelines is s with each SegmentTimeline emptied: its S elements
// hold no URL, and in a long title's MPD they are most of the elements,
// which encoding/xml allocates for one by one (3,600 S elements: ~32,000
// allocations, ~4 ms).
func withoutTimelines(s string) string {
	const open, end = "<SegmentTimeline", "</SegmentTimeline>"
	var b strings.Builder
	rest := s
	for {
		i := strings.Index(rest, open)
		if i < 0 {
			break
		}
		gt := strings.IndexByte(rest[i:], '>')
		if gt < 0 {
			break
		}
		gt += i + 1
		empty := rest[gt-2] == '/'
		b.WriteString(rest[:gt])
		rest = rest[gt:]
		if j := strings.Index(rest, end); j >= 0 && !empty {
			rest = rest[j:]
		}
	}
	if b.Len() == 0 {
		return s
	}
	b.WriteString(rest)
	return b.String()
}

// mpdScope is an element of an MPD as refuseClimbs reads it. Each BaseURL
// of an element is an alternative a client may fetch from (Shaka Player
// resolves every one against every one above and falls back through them;
// dash.js's selectors pick among them), so an element has as many base
// paths as there are ways to it.
type mpdScope struct {
	name       string
	above, own []string // base paths: the parent's, the element's
	based      bool     // own are the element's BaseURLs'
	refs       []mpdRef // a level's segment URLs (mpdLevels)
}

// mpdLevels are the elements whose segment information (a template, a
// segment list, an Initialization) the ones under them inherit, and which
// may have BaseURLs (ISO/IEC 23009-1 5.3.9.1, 5.6).
var mpdLevels = []string{"Period", "AdaptationSet", "Representation"}

// mpdRef is a segment URL stated on a level: key is the element and
// attribute stating it, which a level below states again to replace it.
type mpdRef struct{ key, url string }

// checkRefs resolves the segment URLs a Representation (the top of stack)
// uses against each of its base paths: its own, and those its Period and
// AdaptationSet state that it does not state again. The ones a Period or
// AdaptationSet states are fetched from there only so: a client resolves a
// segment URL against the Representation's BaseURLs (dash.js:
// BaseURLController.resolve(representation.path); Shaka:
// Representation.getBaseUris).
func checkRefs(stack []mpdScope, title string, pathways []Pathway) error {
	rep := stack[len(stack)-1]
	var refs []mpdRef
	var keys []string // a level's: a few, where its refs may be thousands
	for _, level := range stack {
		keys = keys[:0]
		for _, r := range level.refs {
			if !slices.Contains(keys, r.key) {
				keys = append(keys, r.key)
			}
		}
		if len(keys) > 0 {
			refs = slices.DeleteFunc(refs, func(r mpdRef) bool { return slices.Contains(keys, r.key) })
		}
		refs = append(refs, level.refs...)
	}
	for _, r := range refs {
		for _, base := range rep.own {
			if _, err := climbCheck(base, r.url, title, pathways); err != nil {
				return err
			}
		}
	}
	return nil
}

// climbCheck resolves ref against the base path base as a client does and
// refuses it when it leaves title: by dot segments, as an absolute path,
// or naming a host. A URL naming a host is on the pathways only when it
// names the origin of each (every BaseURL of the MPD level is one a client
// may fetch from), and is then its path there.
func climbCheck(base, ref, title string, pathways []Pathway) (string, error) {
	path := asBrowserReads(ref)
	if namesHost(path) {
		for _, p := range pathways {
			onPathway, ok := sameOriginPath(path, p.Base)
			if !ok {
				return "", manifestError("URL %q names a host off the pathway %s", ref, p.Base)
			}
			path = onPathway
		}
	}
	if q := strings.IndexAny(path, "?#"); q >= 0 {
		path = path[:q]
	}
	if path == "" {
		return base, nil
	}
	dots := hasDotSegment([]byte(path))
	if !isSlash(path[0]) {
		path = base[:strings.LastIndexByte(base, '/')+1] + path
	}
	resolved := removeDotSegments(path)
	switch {
	case strings.HasPrefix(resolved, title):
		return resolved, nil
	case dots:
		return "", manifestError("URL %q (at %s) climbs out of the title's folder %s", ref, base, title)
	}
	return "", manifestError("URL %q (at %s) is outside the title's folder %s", ref, base, title)
}

// mayNameAbsolute reports whether an MPD may hold a URL that is not a
// relative path, where no dot segment is needed to leave the title: an
// attribute of mpdURLAttrs, or a BaseURL's text, that starts with '/' or
// '\' (once a browser has stripped leading spaces and controls) or holds a
// ':' (a scheme), or a BaseURL holding markup. It runs on every MPD served:
// a few substring searches, most of the MPD (a SegmentTimeline's S
// elements) holding none of the names.
func mayNameAbsolute(s string) bool {
	suspect := func(v string) bool {
		v = strings.TrimLeftFunc(v, func(r rune) bool { return r <= ' ' })
		return v != "" && isSlash(v[0]) || strings.IndexByte(v, ':') >= 0
	}
	for _, name := range mpdURLAttrNames {
		for i := indexByFirst(s, name); i >= 0; {
			v := strings.TrimLeft(s[i+len(name):], " \t\r\n")
			if strings.HasPrefix(v, "=") {
				v = strings.TrimLeft(v[1:], " \t\r\n")
				if v != "" && (v[0] == '"' || v[0] == '\'') {
					if end := strings.IndexByte(v[1:], v[0]); end >= 0 && suspect(v[1:1+end]) {
						return true
					}
				}
			}
			next := indexByFirst(s[i+1:], name)
			if next < 0 {
				break
			}
			i += 1 + next
		}
	}
	for b := indexTag(s, "BaseURL", 0); b >= 0; b = indexTag(s, "BaseURL", b+1) {
		gt := strings.IndexByte(s[b:], '>')
		if gt < 0 {
			return true
		}
		if s[b+gt-1] == '/' {
			continue // empty
		}
		// Markup in the text (a CDATA section, a comment a parser skips
		// while it joins the text around it) hides how it starts.
		text := s[b+gt+1:]
		end := strings.Index(text, "</")
		if end < 0 {
			return true
		}
		if text = text[:end]; strings.IndexByte(text, '<') >= 0 || suspect(text) {
			return true
		}
	}
	return false
}

// indexByFirst is strings.Index(s, sub) by way of sub's first byte: after a
// few near misses strings.Index searches the rest byte by byte (~3 bytes a
// ns: ~40 µs for the rest of a long title's MPD once "initialization" has
// matched "init.mp4"), where the first byte of a name mayNameAbsolute looks
// for is seldom in what follows (a SegmentTimeline's S elements).
func indexByFirst(s, sub string) int {
	for i := 0; ; i++ {
		j := strings.IndexByte(s[i:], sub[0])
		if j < 0 {
			return -1
		}
		if i += j; strings.HasPrefix(s[i:], sub) {
			return i
		}
	}
}

// mpdURLAttrNames are the names of mpdURLAttrs' attributes.
var mpdURLAttrNames = []string{"media", "initialization", "index", "bitstreamSwitching", "sourceURL"}

// asBrowserReads is a URL reference as a browser's URL parser reads it,
// which dash.js and Shaka Player resolve with (new URL(ref, base)): the
// WHATWG URL Standard's basic URL parser strips leading and trailing C0
// controls and spaces and removes every tab and newline before parsing.
func asBrowserReads(ref string) string {
	ref = strings.TrimFunc(ref, func(r rune) bool { return r <= ' ' })
	if !strings.ContainsAny(ref, "\t\n\r") {
		return ref
	}
	return strings.Map(func(r rune) rune {
		if r == '\t' || r == '\n' || r == '\r' {
			return -1
		}
		return r
	}, ref)
}

// needsBrowserRead reports whether asBrowserReads would change uri: a
// byte it strips at either end, or a tab or newline anywhere. It runs on
// every URI of every media playlist served, so it only looks.
func needsBrowserRead(uri []byte) bool {
	if len(uri) == 0 {
		return false
	}
	if uri[0] <= ' ' || uri[len(uri)-1] <= ' ' {
		return true
	}
	for _, c := range uri {
		if c == '\t' || c == '\n' || c == '\r' {
			return true
		}
	}
	return false
}

// namesHost reports whether a reference of an MPD, as asBrowserReads has
// it, is not resolved against the BaseURLs: a scheme as dash.js reads one
// (dashScheme), or a network path, whose two slashes a browser also reads
// from '\' in an http(s) URL (the URL Standard's relative slash state), as
// it does in a path (splitPath).
func namesHost(ref string) bool {
	return dashScheme(ref) || hostSlashes(ref)
}

// dashScheme reports whether ref starts with a scheme as dash.js 5.2.1
// reads one (DefaultURLUtils, /^[a-z][a-z0-9+\-_.]*:/i): an RFC 3986
// scheme, or one holding '_', which no URL parser takes for a scheme
// (WHATWG URL Standard, scheme start and scheme states: ASCII
// alphanumerics, '+', '-', '.'). dash.js resolves no such URL against the
// BaseURL (isRelative) but fetches it as it is, so the browser resolves
// "a_b:seg1.m4s" against the player's page: a path beside the page, and
// with query grants the rendition's signature went there.
func dashScheme(ref string) bool { return startsWithScheme(ref, true) }

func isSlash(c byte) bool { return c == '/' || c == '\\' }

// hostSlashes reports whether s starts with the two slashes before a host,
// each '/' or '\' as a browser reads an http(s) URL's (WHATWG URL
// Standard: special authority slashes and relative slash states).
func hostSlashes(s string) bool { return len(s) >= 2 && isSlash(s[0]) && isSlash(s[1]) }

// hostlessWebURL reports whether ref is an http(s) URL whose scheme is not
// followed by the two slashes (each '/' or '\') of a host: "https:/x",
// "https:x", "HTTPS:". A browser's URL parser (WHATWG URL Standard, scheme
// state) reads one against the URL it is resolved with: as a relative URL
// on that URL's host when their schemes are the same (special relative or
// authority state), else as naming the host that follows (special
// authority slashes state). hls.js 1.7.4 (url-toolkit's buildAbsoluteURL
// keeps a URL with a scheme as it is) and dash.js 5.2.1 (a URL its
// DefaultURLUtils.isRelative says is not) never resolve it against the
// playlist's URL or a BaseURL: they fetch it as it is, and the browser
// resolves it against the player's page: a path on the page's host where
// the page has that scheme, the host that follows where it has the other.
// Neither is the CDN's, nor a host the manifest can be said to name.
func hostlessWebURL(ref string) bool {
	if !hasScheme(ref) {
		return false
	}
	scheme, rest, _ := strings.Cut(ref, ":")
	return webScheme(scheme) && !hostSlashes(rest)
}

// webScheme reports whether scheme is http or https, in any case: the
// schemes a player fetches a manifest's objects over, whose URLs a
// browser's parser reads as special ones (WHATWG URL Standard: '\' for
// '/', more slashes skipped).
func webScheme(scheme string) bool {
	return strings.EqualFold(scheme, "https") || strings.EqualFold(scheme, "http")
}

// hasPercentDot reports whether s holds "%2e" in either case. It runs on
// every MPD served, so it looks at each '%' only (a byte search) rather
// than comparing three bytes at every position.
func hasPercentDot(s string) bool {
	for {
		i := strings.IndexByte(s, '%')
		if i < 0 || i+3 > len(s) {
			return false
		}
		if s[i+1] == '2' && s[i+2]|0x20 == 'e' {
			return true
		}
		s = s[i+1:]
	}
}

// setMaxima are the AdaptationSet attributes that bound an attribute of
// its Representations (ISO/IEC 23009-1, 5.3.3.2), with how to read it.
var setMaxima = [...]struct {
	max, of string
	value   func(string) (float64, bool)
}{{"maxWidth", "width", intValue}, {"maxHeight", "height", intValue}, {"maxBandwidth", "bandwidth", intValue},
	{"maxFrameRate", "frameRate", frameRateValue}}

func intValue(s string) (float64, bool) {
	n, err := strconv.Atoi(s)
	return float64(n), err == nil && n >= 0
}

// frameRateValue reads a DASH FrameRateType: an integer, or n/d
// (30000/1001).
func frameRateValue(s string) (float64, bool) {
	n, d, frac := strings.Cut(s, "/")
	num, err := strconv.Atoi(n)
	if err != nil || num < 0 {
		return 0, false
	}
	if !frac {
		return float64(num), true
	}
	den, err := strconv.Atoi(d)
	if err != nil || den <= 0 {
		return 0, false
	}
	return float64(num) / float64(den), true
}

// boundSets sets each of those the AdaptationSets in mpd[from:] state to
// the largest of their Representations' values: the packager wrote them for
// the whole ladder, and what the cap removed must not stay described (nor
// tell a plan what the others get). Where a Representation does not state
// the attribute (it inherits the set's), the stored bound stays.
func boundSets(mpd []byte, from int) []byte {
	s := string(mpd[from:])
	out := mpd[:from]
	pos := 0
	for as := indexTag(s, "AdaptationSet", 0); as >= 0; as = indexTag(s, "AdaptationSet", pos) {
		tagEnd := strings.IndexByte(s[as:], '>')
		end := strings.Index(s[as:], "</AdaptationSet>")
		if tagEnd < 0 || end < 0 {
			break
		}
		tagEnd, end = as+tagEnd+1, as+end
		tag := s[as:tagEnd]
		for _, m := range setMaxima {
			if _, ok := attr(tag, m.max); !ok {
				continue
			}
			largest, spelt, all := -1.0, "", true
			for rep := indexTag(s[:end], "Representation", tagEnd); rep >= 0 && all; rep = indexTag(s[:end], "Representation", rep+1) {
				repTag := s[rep:]
				repTag = repTag[:strings.IndexByte(repTag, '>')+1]
				v, ok := attr(repTag, m.of)
				n, read := m.value(v)
				all = ok && read
				if all && n > largest {
					largest, spelt = n, v
				}
			}
			if all && spelt != "" {
				tag = setAttr(tag, m.max, spelt)
			}
		}
		out = append(append(out, s[pos:as]...), tag...)
		pos = tagEnd
	}
	return append(out, s[pos:]...)
}

// setAttr is tag with attribute name's value (which attr finds) replaced.
func setAttr(tag, name, value string) string {
	old, _ := attr(tag, name)
	i := strings.Index(tag, " "+name+`="`+old+`"`)
	if i < 0 {
		return tag
	}
	i += len(name) + 3
	return tag[:i] + value + tag[i+len(old):]
}

// videoSets holds s's AdaptationSets after from to video: it removes each
// image AdaptationSet (a thumbnail track: DASH-IF's thumbnail_tile, as
// MediaConvert and Shaka Packager write trick play), with its line when it
// has one to itself, as PersonalizeMaster drops EXT-X-IMAGE-STREAM-INF:
// its tiles are no rendition of the ladder, so no grant covers them, and
// the title plays without them. Any other set that is not video is
// refused (refuseAlternate).
func videoSets(s string, from int) (string, error) {
	for as := indexTag(s, "AdaptationSet", from); as >= 0; as = indexTag(s, "AdaptationSet", as) {
		end := strings.IndexByte(s[as:], '>')
		if end < 0 {
			return s, manifestError("unterminated <AdaptationSet>")
		}
		tag := s[as : as+end+1]
		ct, _ := attr(tag, "contentType")
		mt, _ := attr(tag, "mimeType")
		if ct != "image" && !strings.HasPrefix(mt, "image/") {
			if err := refuseAlternate(tag); err != nil {
				return s, err
			}
			as++
			continue
		}
		stop := as + len(tag)
		if !strings.HasSuffix(tag, "/>") {
			c := strings.Index(s[stop:], "</AdaptationSet>")
			if c < 0 {
				return s, manifestError("unterminated <AdaptationSet>")
			}
			stop += c + len("</AdaptationSet>")
		}
		start := strings.TrimRight(s[:as], " \t")
		if line := len(start) == 0 || start[len(start)-1] == '\n'; line {
			stop += len(s[stop:]) - len(strings.TrimPrefix(strings.TrimPrefix(s[stop:], "\r"), "\n"))
			as = len(start)
		}
		s = s[:as] + s[stop:]
	}
	return s, nil
}

// refuseAlternate refuses an AdaptationSet or Representation start tag
// whose content is not video (separate audio, subtitles), as
// PersonalizeMaster refuses EXT-X-MEDIA with URIs: its folder is not a
// rendition of the ladder, so no grant covers it, and dropping it as a
// rendition outside the ladder leaves an AdaptationSet without
// Representations and a title without sound.
func refuseAlternate(tag string) error {
	ct, hasCT := attr(tag, "contentType")
	mt, hasMT := attr(tag, "mimeType")
	if hasCT && ct != "video" || hasMT && !strings.HasPrefix(mt, "video/") {
		return manifestError("alternate renditions (contentType %q, mimeType %q) are not personalized", ct, mt)
	}
	return nil
}

// indexTag finds "<name" followed by a space, '>' or '/' at or after from.
// It searches for the name and looks back for the '<': strings.Index of
// "<name" stops at every '<' (its first byte), which in a long title's MPD
// is every SegmentTimeline S element, ~25 ns each (3,600 of them: ~90 µs a
// search).
func indexTag(s, name string, from int) int {
	for {
		i := strings.Index(s[from:], name)
		if i < 0 {
			return -1
		}
		i += from
		if i > from && s[i-1] == '<' {
			if j := i + len(name); j < len(s) && strings.IndexByte(" \t\r\n>/", s[j]) >= 0 {
				return i - 1
			}
		}
		from = i + 1
	}
}

// templatesIn returns the SegmentTemplate elements of the Period and the
// AdaptationSet current after gap, the text between two Representations,
// given those before it: a Period opened in gap declares its template
// before its first AdaptationSet, an AdaptationSet before its first
// Representation (ISO/IEC 23009-1's element order).
func templatesIn(gap, period, set string) (string, string) {
	if p := lastTag(gap, "Period"); p >= 0 {
		gap, period, set = gap[p:], "", ""
		head := gap
		if as := indexTag(head, "AdaptationSet", 0); as >= 0 {
			head = head[:as]
		}
		if i := indexTag(head, "SegmentTemplate", 0); i >= 0 {
			period = templateEl(head[i:])
		}
	}
	if as := lastTag(gap, "AdaptationSet"); as >= 0 {
		gap, set = gap[as:], ""
		if i := indexTag(gap, "SegmentTemplate", 0); i >= 0 {
			set = templateEl(gap[i:])
		}
	}
	return period, set
}

// lastTag is indexTag's last match in s, or -1.
func lastTag(s, name string) int {
	last := -1
	for i := indexTag(s, name, 0); i >= 0; i = indexTag(s, name, i+1) {
		last = i
	}
	return last
}

// templateEl returns the SegmentTemplate element s starts with, or "" when
// it is unterminated.
func templateEl(s string) string {
	end := strings.IndexByte(s, '>')
	if end < 0 {
		return ""
	}
	if s[end-1] == '/' {
		return s[:end+1]
	}
	if c := strings.Index(s, "</SegmentTemplate>"); c >= 0 {
		return s[:c+len("</SegmentTemplate>")]
	}
	return ""
}

// inheritTemplate returns the SegmentTemplate a Representation reads from
// its levels' elements, lowest first ("" for a level without one): the
// lowest element, with each attribute it lacks from the nearest level
// above that states one, and the children of the nearest that has any
// (ISO/IEC 23009-1 5.3.9.1: lower levels override higher ones; dash.js
// merges its levels' templates so, Shaka inherits each attribute so).
func inheritTemplate(levels ...string) string {
	levels = slices.DeleteFunc(slices.Clone(levels), func(l string) bool { return l == "" })
	if len(levels) < 2 {
		if len(levels) == 0 {
			return ""
		}
		return levels[0]
	}
	el := levels[0]
	end := strings.IndexByte(el, '>')
	selfClosing := el[end-1] == '/'
	tag := strings.TrimRight(strings.TrimSuffix(el[:end], "/"), " \t\r\n")
	body := ""
	if !selfClosing {
		body = el[end+1 : len(el)-len("</SegmentTemplate>")]
	}
	for _, upper := range levels[1:] {
		upperEnd := strings.IndexByte(upper, '>')
		for _, a := range attrs(upper[:upperEnd]) {
			if _, ok := attr(tag, a[0]); !ok {
				tag += " " + a[1]
			}
		}
		if strings.TrimSpace(body) == "" && upper[upperEnd-1] != '/' {
			body = upper[upperEnd+1 : len(upper)-len("</SegmentTemplate>")]
		}
	}
	if strings.TrimSpace(body) == "" {
		return tag + "/>"
	}
	return tag + ">" + body + "</SegmentTemplate>"
}

// attrs lists the attributes of a start tag, in order: each name and its
// whole name="value" text.
func attrs(tag string) [][2]string {
	var out [][2]string
	eachAttr(tag, func(name, _ string, start, end int) bool {
		out = append(out, [2]string{name, tag[start:end]})
		return true
	})
	return out
}

// attr returns the value of attribute name in a start tag.
func attr(tag, name string) (value string, ok bool) {
	eachAttr(tag, func(n, v string, _, _ int) bool {
		if n == name {
			value, ok = v, true
		}
		return !ok
	})
	return value, ok
}

// eachAttr calls fn with each attribute of a start tag, its value (as
// written, entities unread) and where name="value" starts and ends in tag,
// until fn returns false. Values may be in single or double quotes, with
// space about '=' (XML 1.0 2.3, 3.1).
func eachAttr(tag string, fn func(name, value string, start, end int) bool) {
	isSpace := func(i int) bool { return i < len(tag) && strings.IndexByte(" \t\r\n", tag[i]) >= 0 }
	i := strings.IndexAny(tag, " \t\r\n") // past the element's name
	if i < 0 {
		return
	}
	for {
		for isSpace(i) {
			i++
		}
		start := i
		for i < len(tag) && !isSpace(i) && strings.IndexByte("=/>", tag[i]) < 0 {
			i++
		}
		name := tag[start:i]
		for isSpace(i) {
			i++
		}
		if name == "" || i >= len(tag) || tag[i] != '=' {
			return
		}
		for i++; isSpace(i); i++ {
		}
		if i >= len(tag) || tag[i] != '"' && tag[i] != '\'' {
			return
		}
		end := strings.IndexByte(tag[i+1:], tag[i])
		if end < 0 {
			return
		}
		value := tag[i+1 : i+1+end]
		i += end + 2
		if !fn(name, value, start, i) {
			return
		}
	}
}

// urlTemplates are the URL templates of a SegmentTemplate (ISO/IEC
// 23009-1 5.3.9.4.2): Shaka reads the index segment through index.
var urlTemplates = []string{"media", "initialization", "index", "bitstreamSwitching"}

// withQuery appends query to the URL templates (media, initialization,
// index, bitstreamSwitching) of a SegmentTemplate element (the start tag
// only; a SegmentTimeline inside is kept) that resolve on the pathway
// base.
func withQuery(el, query, base string) (string, error) {
	end := strings.IndexByte(el, '>')
	if end < 0 {
		return "", manifestError("unterminated <SegmentTemplate>")
	}
	tag := el[:end]
	// In an attribute '&' must be escaped, and '$' would open a template
	// identifier.
	esc := strings.NewReplacer("&", "&amp;", "$", "$$", `"`, "&quot;", "'", "&apos;", "<", "&lt;").Replace(query)
	var b strings.Builder
	written := 0 // tag[:written] is in b
	eachAttr(tag, func(name, v string, start, attrEnd int) bool {
		// A URL naming a host of its own does not resolve against the
		// pathway's BaseURL: the grant is not for it, unless it names the
		// pathway's origin (refuseClimbs refuses the others).
		if !slices.Contains(urlTemplates, name) {
			return true
		}
		read := xmlValue(v)
		if browser := asBrowserReads(read); namesHost(browser) {
			if _, ok := sameOriginPath(browser, base); !ok {
				return true
			}
		}
		// Before a fragment, which never reaches the CDN, in the URL as
		// XML reads it: "&#35;" is a '#', while the '#' of "&#45;" is not.
		u, fragment, hasFragment := strings.Cut(read, "#")
		sep := "?"
		if strings.Contains(u, "?") {
			sep = "&"
		}
		val := appendXMLEscaped(nil, u+sep)
		val = append(val, esc...)
		if hasFragment {
			val = appendXMLEscaped(append(val, '#'), fragment)
		}
		b.WriteString(tag[written:start])
		b.WriteString(name + `="`)
		b.Write(val)
		b.WriteByte('"')
		written = attrEnd
		return true
	})
	tag = b.String() + tag[written:]
	return tag + el[end:], nil
}

// xmlValue is an attribute value as an XML parser reads it, its
// references replaced (XML 1.0 4.1), or v as written when it holds none
// or is no XML.
func xmlValue(v string) string {
	if !strings.Contains(v, "&") {
		return v
	}
	var text string
	if err := xml.Unmarshal([]byte("<v>"+v+"</v>"), &text); err != nil {
		return v
	}
	return text
}

func appendXMLEscaped(dst []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '&':
			dst = append(dst, "&amp;"...)
		case '<':
			dst = append(dst, "&lt;"...)
		case '>':
			dst = append(dst, "&gt;"...)
		case '"':
			dst = append(dst, "&quot;"...)
		default:
			dst = append(dst, c)
		}
	}
	return dst
}
