// Package lambdahttp serves an http.Handler (a function's mux) behind API
// Gateway HTTP APIs: it turns payload format 2.0 events into *http.Request
// and the recorded response back into the event API Gateway expects, so the
// same handlers run on Lambda and on a plain HTTP server.
package lambdahttp

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"mime"
	"net"
	"net/http"
	"net/textproto"
	"net/url"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/aws/aws-lambda-go/events"

	"github.com/playplane/playplane/shared/httpx"
	"github.com/playplane/playplane/shared/playback"
	"github.com/playplane/playplane/shared/playurl"
)

// RequestIDHeader carries API Gateway's request id to the handler, where
// httpx.Middleware adopts it, so logs and API Gateway's access log agree.
const RequestIDHeader = "X-Request-Id"

type ctxKey struct{}

// Event returns the API Gateway event a request was built from, for
// handlers that need what has no HTTP form (the authorizer's claims, the
// stage).
func Event(ctx context.Context) (events.APIGatewayV2HTTPRequest, bool) {
	ev, ok := ctx.Value(ctxKey{}).(events.APIGatewayV2HTTPRequest)
	return ev, ok
}

// Handler adapts h to a Lambda handler for API Gateway HTTP API events.
// Requests that cannot be turned into an *http.Request (a body that is not
// the base64 the event claims, a malformed path) get a typed 400, as a
// server would answer them.
func Handler(h http.Handler) func(context.Context, events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
	return func(ctx context.Context, ev events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
		w := newResponseWriter()
		r, err := NewRequest(ctx, ev)
		if err != nil {
			// A stand-in request, so the refusal carries what it can: API
			// Gateway's request id (answered and logged, as for every other
			// request), the method and the decoded path, never the query.
			fallback, ferr := http.NewRequestWithContext(ctx, ev.RequestContext.HTTP.Method, "/", http.NoBody)
			if ferr != nil {
				fallback, _ = http.NewRequestWithContext(ctx, http.MethodGet, "/", http.NoBody)
			}
			if path := ev.RequestContext.HTTP.Path; path != "" {
				fallback.URL.Path = path
			}
			fallback.Header.Set(RequestIDHeader, ev.RequestContext.RequestID)
			httpx.Middleware(httpx.Logger(ctx), httpx.HandlerFunc(func(http.ResponseWriter, *http.Request) error { return err })).ServeHTTP(w, fallback)
			return w.response(fallback.Method), nil
		}
		h.ServeHTTP(w, r)
		resp := w.response(r.Method)
		if size, ok := fits(resp); !ok {
			return tooLarge(r, resp, size), nil
		}
		return resp, nil
	}
}

// MaxResponseBytes is the largest response Lambda takes from a synchronous
// invocation, as serialized. Its Runtime API refuses a larger one (413),
// and aws-lambda-go then ends the process: the request gets API Gateway's
// untyped 500 and the next one a cold start.
const MaxResponseBytes = 6291556

// fits reports whether resp, serialized as aws-lambda-go sends it (HTML
// left unescaped), stays within MaxResponseBytes, and its size when it
// had to be measured. A JSON string escape is at most 6 bytes a byte, so
// most responses need no measuring.
func fits(resp events.APIGatewayV2HTTPResponse) (int, bool) {
	bound := 256 + 6*len(resp.Body)
	for name, value := range resp.Headers {
		bound += 8 + 6*(len(name)+len(value))
	}
	for _, c := range resp.Cookies {
		bound += 4 + 6*len(c)
	}
	if bound <= MaxResponseBytes {
		return 0, true
	}
	var n countingWriter
	enc := json.NewEncoder(&n)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(resp); err != nil {
		return 0, false
	}
	size := int(n) - 1 // aws-lambda-go strips the encoder's newline
	return size, size <= MaxResponseBytes
}

type countingWriter int

func (c *countingWriter) Write(p []byte) (int, error) {
	*c += countingWriter(len(p))
	return len(p), nil
}

// tooLarge is the typed 500 that replaces a response Lambda would refuse,
// without Retry-After, keeping the request id the handler's response carried, and its CORS
// headers: without them a player's page sees a CORS failure, not the 500.
func tooLarge(r *http.Request, resp events.APIGatewayV2HTTPResponse, size int) events.APIGatewayV2HTTPResponse {
	w := newResponseWriter()
	ctx := r.Context()
	for name, v := range resp.Headers {
		if c := http.CanonicalHeaderKey(name); c == "Vary" || strings.HasPrefix(c, "Access-Control-") {
			w.Header().Set(c, v)
		}
	}
	if id := resp.Headers[RequestIDHeader]; id != "" {
		w.Header().Set(RequestIDHeader, id)
		ctx = httpx.WithLogger(ctx, httpx.Logger(ctx).With("request_id", id))
	}
	// A retry does not cure it: the same request gets the same response,
	// as large.
	httpx.WriteError(w, r.WithContext(ctx), &playback.Error{Code: playback.CodeInternal, Reason: "response_too_large",
		RetryAfter: playback.NoRetry, Err: fmt.Errorf("lambdahttp: the %d response to %s %s is %d bytes serialized; Lambda takes at most %d",
			resp.StatusCode, r.Method, r.URL.Path, size, MaxResponseBytes)})
	return w.response(r.Method)
}

// NewRequest builds the server-side request of an HTTP API event.
func NewRequest(ctx context.Context, ev events.APIGatewayV2HTTPRequest) (*http.Request, error) {
	invalid := func(reason, format string, args ...any) error {
		return playback.Errorf(playback.CodeInvalid, reason, format, args...)
	}
	// An HTTP API hands the path over percent-decoded, in rawPath and
	// http.path alike (%3F arrives as ?, %25 as %); a function URL keeps
	// rawPath as sent and decodes only http.path. A decoded path is escaped
	// again: parsed as sent, a decoded ? would start the query and a
	// decoded %41 be decoded twice. A rawPath equal to http.path is taken
	// as decoded (without escapes the two forms agree).
	rawPath, decoded := ev.RawPath, ev.RequestContext.HTTP.Path
	asSent := rawPath != "" && decoded != "" && rawPath != decoded
	if rawPath == "" {
		rawPath = decoded
	}
	if !strings.HasPrefix(rawPath, "/") {
		rawPath = "/" + rawPath
	}
	if !asSent {
		rawPath = (&url.URL{Path: rawPath}).EscapedPath()
	}
	requestURI := rawPath
	if ev.RawQueryString != "" {
		requestURI += "?" + ev.RawQueryString
	}
	u, err := url.ParseRequestURI(requestURI)
	if err != nil {
		// Neither the message nor url's error may name the query, which
		// carries players' credentials (?token=): the rejection is logged.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return nil, invalid("malformed_path", "request path %q (query not shown): %v", rawPath, err)
	}
	var body []byte
	if ev.IsBase64Encoded {
		if body, err = base64.StdEncoding.DecodeString(ev.Body); err != nil {
			return nil, invalid("body_encoding", "request body is not valid base64: %v", err)
		}
	} else {
		body = []byte(ev.Body)
	}
	method := ev.RequestContext.HTTP.Method
	if method == "" {
		method = http.MethodGet
	}
	r, err := http.NewRequestWithContext(context.WithValue(ctx, ctxKey{}, ev), method, requestURI, bytes.NewReader(body))
	if err != nil {
		return nil, invalid("malformed_request", "%v", err)
	}
	r.URL, r.RequestURI = u, requestURI // a bytes.Reader body has set ContentLength (and NoBody when empty)
	if proto := ev.RequestContext.HTTP.Protocol; proto != "" {
		if major, minor, ok := http.ParseHTTPVersion(proto); ok {
			r.Proto, r.ProtoMajor, r.ProtoMinor = proto, major, minor
		}
	}
	// API Gateway joins repeated headers with commas and hands cookies
	// over separately.
	for name, value := range ev.Headers {
		r.Header.Set(name, value)
	}
	if len(ev.Cookies) > 0 {
		r.Header.Set("Cookie", strings.Join(ev.Cookies, "; "))
	}
	if ev.RequestContext.RequestID != "" {
		r.Header.Set(RequestIDHeader, ev.RequestContext.RequestID)
	}
	r.Host = r.Header.Get("Host")
	if r.Host == "" {
		r.Host = ev.RequestContext.DomainName
	}
	if ip := ev.RequestContext.HTTP.SourceIP; ip != "" {
		// The client's port is not in the event; the address stays
		// parseable with net.SplitHostPort.
		r.RemoteAddr = net.JoinHostPort(ip, "0")
	}
	// API Gateway terminated TLS when the player's scheme, by the one rule
	// of X-Forwarded-Proto, says so.
	if playurl.Scheme(r) == "https" {
		r.TLS = &tls.ConnectionState{HandshakeComplete: true, ServerName: r.Host}
	}
	return r, nil
}

// responseWriter records a response the way net/http would send it: the
// header is fixed when the status is written, and a body without a
// Content-Type gets a sniffed one.
type responseWriter struct {
	header      http.Header
	sent        http.Header // the header as of WriteHeader
	status      int
	wroteHeader bool
	body        bytes.Buffer
}

func newResponseWriter() *responseWriter { return &responseWriter{header: http.Header{}} }

func (w *responseWriter) Header() http.Header { return w.header }

func (w *responseWriter) WriteHeader(status int) {
	if w.wroteHeader || status < 200 { // informational responses are not relayed
		return
	}
	w.status, w.wroteHeader, w.sent = status, true, w.header.Clone()
}

func (w *responseWriter) Write(p []byte) (int, error) {
	w.WriteHeader(http.StatusOK)
	if w.status == http.StatusNoContent || w.status == http.StatusNotModified {
		return 0, http.ErrBodyNotAllowed // as net/http: nothing to send, nothing to sniff
	}
	return w.body.Write(p)
}

func (w *responseWriter) response(method string) events.APIGatewayV2HTTPResponse {
	w.WriteHeader(http.StatusOK)
	// net/http sniffs what was written before its buffer first goes out,
	// not the first Write alone; with no Flush here that is the whole body.
	// Nor does it sniff a content-coded body (golang.org/issue/31753).
	if _, set := w.sent["Content-Type"]; !set && w.sent.Get("Content-Encoding") == "" && w.body.Len() > 0 {
		w.sent.Set("Content-Type", http.DetectContentType(w.body.Bytes()))
	}
	// What net/http leaves out of a response without a body (RFC 9110
	// 8.6: no Content-Length on a 204; a 304 describes no representation).
	switch w.status {
	case http.StatusNotModified:
		delete(w.sent, "Content-Type")
		fallthrough
	case http.StatusNoContent:
		delete(w.sent, "Content-Length")
		delete(w.sent, "Transfer-Encoding")
	default:
		// API Gateway counts the body it is given, which a HEAD answer has
		// not; the length the GET would have is the one the handler wrote
		// (RFC 9110 9.3.2), as net/http sends it. A length the handler set
		// stands, and nothing written says nothing, as in net/http.
		if _, set := w.sent["Content-Length"]; method == http.MethodHead && !set && w.body.Len() > 0 {
			w.sent.Set("Content-Length", strconv.Itoa(w.body.Len()))
		}
	}
	resp := events.APIGatewayV2HTTPResponse{StatusCode: w.status, Headers: make(map[string]string, len(w.sent))}
	for name, values := range w.sent {
		if len(values) == 0 || !isToken(name) {
			continue // a nil entry suppresses a header in net/http too, which drops a name it cannot send
		}
		// As net/http writes a value: a line break would end the header
		// line, so it becomes a space.
		sent := make([]string, len(values))
		for i, v := range values {
			sent[i] = textproto.TrimString(newlineToSpace.Replace(v))
		}
		if name == "Set-Cookie" {
			resp.Cookies = append(resp.Cookies, sent...)
			continue
		}
		resp.Headers[name] = strings.Join(sent, ",")
	}
	body := w.body.Bytes()
	if method == http.MethodHead || w.status == http.StatusNoContent || w.status == http.StatusNotModified {
		body = nil
	}
	if isText(w.sent.Get("Content-Type"), w.sent.Get("Content-Encoding"), body) {
		resp.Body = string(body)
	} else {
		resp.Body, resp.IsBase64Encoded = base64.StdEncoding.EncodeToString(body), true
	}
	return resp
}

var newlineToSpace = strings.NewReplacer("\n", " ", "\r", " ")

// isToken reports whether name is a header field name (RFC 9110 5.1: a
// token).
func isToken(name string) bool {
	if name == "" {
		return false
	}
	for i := range len(name) {
		c := name[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0) {
			return false
		}
	}
	return true
}

// isText reports whether a body can travel as a JSON string unchanged;
// anything else goes base64-encoded, which API Gateway decodes.
func isText(contentType, contentEncoding string, body []byte) bool {
	if len(body) == 0 {
		return true
	}
	if contentEncoding != "" && !strings.EqualFold(contentEncoding, "identity") {
		return false
	}
	if !utf8.Valid(body) {
		return false
	}
	if contentType == "" {
		return true
	}
	mediaType, _, err := mime.ParseMediaType(contentType)
	if err != nil {
		return false
	}
	switch {
	case strings.HasPrefix(mediaType, "text/"),
		strings.HasSuffix(mediaType, "+json"), strings.HasSuffix(mediaType, "+xml"),
		mediaType == "application/json", mediaType == "application/xml", mediaType == "application/javascript",
		mediaType == "application/x-www-form-urlencoded", mediaType == "application/vnd.apple.mpegurl",
		mediaType == "application/x-mpegurl", mediaType == "application/dash+xml":
		return true
	}
	return false
}
