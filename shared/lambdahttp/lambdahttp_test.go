package lambdahttp_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda"

	"github.com/playplane/playplane/shared/lambdahttp"
)

// payload is an HTTP API (format 2.0) event as API Gateway sends it.
// requestContext.http.path is rawPath percent-decoded, as in every event
// AWS sends (see TestPathRoutesAsOnTheServer).
func payload(method, rawPath, rawQuery, body string, base64Body bool, sourceIP string, cookies []string, headers map[string]string) []byte {
	path, err := url.PathUnescape(rawPath)
	if err != nil {
		path = rawPath
	}
	ev := map[string]any{
		"version":        "2.0",
		"routeKey":       "$default",
		"rawPath":        rawPath,
		"rawQueryString": rawQuery,
		"headers":        headers,
		"requestContext": map[string]any{
			"accountId": "123456789012", "apiId": "abc123", "domainName": "abc123.execute-api.eu-central-1.amazonaws.com",
			"domainPrefix": "abc123", "requestId": "JKJaXmPLvHcESHA=", "routeKey": "$default", "stage": "$default",
			"time": "23/Nov/2026:16:44:00 +0000", "timeEpoch": 1795452240000,
			"http": map[string]any{"method": method, "path": path, "protocol": "HTTP/1.1", "sourceIp": sourceIP, "userAgent": "player/1.0"},
		},
		"body":            body,
		"isBase64Encoded": base64Body,
	}
	if cookies != nil {
		ev["cookies"] = cookies
	}
	raw, err := json.Marshal(ev)
	if err != nil {
		panic(err)
	}
	return raw
}

func invoke(t *testing.T, h http.Handler, payload []byte) events.APIGatewayV2HTTPResponse {
	t.Helper()
	out, err := lambda.NewHandler(lambdahttp.Handler(h)).Invoke(context.Background(), payload)
	if err != nil {
		t.Fatal(err)
	}
	var resp events.APIGatewayV2HTTPResponse
	if err := json.Unmarshal(out, &resp); err != nil {
		t.Fatalf("response %s: %v", out, err)
	}
	return resp
}

// echo answers what the handler saw of the request.
type echo struct {
	Method, Path, RawPath, RawQuery, Query, Host, RemoteAddr, RequestID, UserAgent, Cookie, Multi, Body, TitleID, Stage string
	ContentLength                                                                                                       int64
	TLS                                                                                                                 bool
}

func echoMux() *http.ServeMux {
	mux := http.NewServeMux()
	handler := func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		e := echo{Method: r.Method, Path: r.URL.Path, RawPath: r.URL.RawPath, RawQuery: r.URL.RawQuery, Query: r.URL.Query().Get("q"),
			Host: r.Host, RemoteAddr: r.RemoteAddr, RequestID: r.Header.Get("X-Request-Id"), UserAgent: r.UserAgent(),
			Multi: r.Header.Get("X-Multi"), Body: base64.StdEncoding.EncodeToString(body), TitleID: r.PathValue("id"),
			ContentLength: r.ContentLength, TLS: r.TLS != nil}
		if c, err := r.Cookie("session"); err == nil {
			e.Cookie = c.Value
		}
		if ev, ok := lambdahttp.Event(r.Context()); ok {
			e.Stage = ev.RequestContext.Stage
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(e)
	}
	mux.HandleFunc("GET /v1/titles/{id}", handler)
	mux.HandleFunc("POST /v1/upload", handler)
	return mux
}

func TestRequests(t *testing.T) {
	t.Parallel()
	headers := map[string]string{"host": "api.example.com", "user-agent": "player/1.0", "x-multi": "a,b",
		"x-forwarded-proto": "https", "x-forwarded-for": "203.0.113.9"}
	binary := []byte{0x00, 0xff, 0x10, 'x'}
	for _, tc := range []struct {
		name    string
		payload []byte
		want    echo
	}{
		{
			name: "get with escaped path, query, cookies",
			payload: payload("GET", "/v1/titles/a%2Fb", "q=caf%C3%A9&x=1&x=2", "", false, "203.0.113.9",
				[]string{"session=s3cr3t", "theme=dark"}, headers),
			want: echo{Method: "GET", Path: "/v1/titles/a/b", RawPath: "/v1/titles/a%2Fb", RawQuery: "q=caf%C3%A9&x=1&x=2", Query: "café",
				Host: "api.example.com", RemoteAddr: "203.0.113.9:0", RequestID: "JKJaXmPLvHcESHA=", UserAgent: "player/1.0",
				Cookie: "s3cr3t", Multi: "a,b", Body: "", TitleID: "a/b", Stage: "$default", TLS: true},
		},
		{
			name:    "post with base64 body from an IPv6 client",
			payload: payload("POST", "/v1/upload", "", base64.StdEncoding.EncodeToString(binary), true, "2001:db8::1", nil, headers),
			want: echo{Method: "POST", Path: "/v1/upload", Host: "api.example.com", RemoteAddr: "[2001:db8::1]:0",
				RequestID: "JKJaXmPLvHcESHA=", UserAgent: "player/1.0", Multi: "a,b", Body: base64.StdEncoding.EncodeToString(binary),
				ContentLength: 4, Stage: "$default", TLS: true},
		},
		{
			name:    "post with text body, no host header",
			payload: payload("POST", "/v1/upload", "", `{"a":1}`, false, "198.51.100.7", nil, map[string]string{"user-agent": "player/1.0"}),
			want: echo{Method: "POST", Path: "/v1/upload", Host: "abc123.execute-api.eu-central-1.amazonaws.com", RemoteAddr: "198.51.100.7:0",
				RequestID: "JKJaXmPLvHcESHA=", UserAgent: "player/1.0", Body: base64.StdEncoding.EncodeToString([]byte(`{"a":1}`)),
				ContentLength: 7, Stage: "$default"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			resp := invoke(t, echoMux(), tc.payload)
			if resp.StatusCode != http.StatusOK || resp.IsBase64Encoded || resp.Headers["Content-Type"] != "application/json" {
				t.Fatalf("response = %+v", resp)
			}
			var got echo
			if err := json.Unmarshal([]byte(resp.Body), &got); err != nil {
				t.Fatal(err)
			}
			if got != tc.want {
				t.Fatalf("handler saw\n%+v\nwant\n%+v", got, tc.want)
			}
			if _, _, err := net.SplitHostPort(got.RemoteAddr); err != nil {
				t.Fatalf("RemoteAddr %q does not parse: %v", got.RemoteAddr, err)
			}
		})
	}
}

func TestBadBase64BodyIsTyped400(t *testing.T) {
	t.Parallel()
	called := false
	h := http.HandlerFunc(func(http.ResponseWriter, *http.Request) { called = true })
	resp := invoke(t, h, payload("POST", "/v1/upload", "", "not base64!", true, "192.0.2.1", nil, nil))
	var body struct {
		Error struct {
			Code, Reason string
			RequestID    string `json:"request_id"`
		}
	}
	if err := json.Unmarshal([]byte(resp.Body), &body); err != nil {
		t.Fatalf("body %q: %v", resp.Body, err)
	}
	if called || resp.StatusCode != http.StatusBadRequest || body.Error.Code != "invalid" || body.Error.Reason != "body_encoding" {
		t.Fatalf("called=%v response=%+v", called, resp)
	}
	// The refusal names API Gateway's request id, as every other answer
	// does, so the caller's report finds the log line.
	const id = "JKJaXmPLvHcESHA="
	if body.Error.RequestID != id || resp.Headers[lambdahttp.RequestIDHeader] != id {
		t.Fatalf("request id %q in the body, %q in the header; want API Gateway's %q", body.Error.RequestID, resp.Headers[lambdahttp.RequestIDHeader], id)
	}
}

func TestResponses(t *testing.T) {
	t.Parallel()
	png := []byte("\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")
	for _, tc := range []struct {
		name        string
		method      string
		handler     http.HandlerFunc
		wantStatus  int
		wantBody    []byte
		wantBase64  bool
		wantHeaders map[string]string
		wantCookies []string
	}{
		{
			name:   "json with cookies and a repeated header",
			method: "GET",
			handler: func(w http.ResponseWriter, r *http.Request) {
				http.SetCookie(w, &http.Cookie{Name: "a", Value: "1", HttpOnly: true})
				http.SetCookie(w, &http.Cookie{Name: "b", Value: "2"})
				w.Header().Add("Vary", "Origin")
				w.Header().Add("Vary", "Accept")
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(http.StatusCreated)
				fmt.Fprint(w, `{"ok":true}`)
				w.Header().Set("X-Too-Late", "ignored") // after WriteHeader, as in net/http
			},
			wantStatus: http.StatusCreated, wantBody: []byte(`{"ok":true}`),
			wantHeaders: map[string]string{"Vary": "Origin,Accept", "Content-Type": "application/json"},
			wantCookies: []string{"a=1; HttpOnly", "b=2"},
		},
		{
			name:   "binary body goes base64",
			method: "GET",
			handler: func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "image/png")
				_, _ = w.Write(png)
			},
			wantStatus: http.StatusOK, wantBody: png, wantBase64: true,
			wantHeaders: map[string]string{"Content-Type": "image/png"},
		},
		{
			name:   "gzip-encoded text goes base64",
			method: "GET",
			handler: func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "text/plain")
				w.Header().Set("Content-Encoding", "gzip")
				_, _ = w.Write([]byte("pretend-gzip"))
			},
			wantStatus: http.StatusOK, wantBody: []byte("pretend-gzip"), wantBase64: true,
			wantHeaders: map[string]string{"Content-Encoding": "gzip"},
		},
		{
			name:   "untyped body is sniffed",
			method: "GET",
			handler: func(w http.ResponseWriter, r *http.Request) {
				_, _ = w.Write([]byte("<html><body>hi</body></html>"))
			},
			wantStatus: http.StatusOK, wantBody: []byte("<html><body>hi</body></html>"),
			wantHeaders: map[string]string{"Content-Type": "text/html; charset=utf-8"},
		},
		{
			name:       "nothing written is an empty 200",
			method:     "GET",
			handler:    func(http.ResponseWriter, *http.Request) {},
			wantStatus: http.StatusOK, wantBody: []byte{},
		},
		{
			name:   "head drops the body",
			method: "HEAD",
			handler: func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "text/plain")
				_, _ = w.Write([]byte("body"))
			},
			wantStatus: http.StatusOK, wantBody: []byte{},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			resp := invoke(t, tc.handler, payload(tc.method, "/x", "", "", false, "192.0.2.1", nil, nil))
			body := []byte(resp.Body)
			if resp.IsBase64Encoded {
				var err error
				if body, err = base64.StdEncoding.DecodeString(resp.Body); err != nil {
					t.Fatal(err)
				}
			}
			if resp.StatusCode != tc.wantStatus || resp.IsBase64Encoded != tc.wantBase64 || string(body) != string(tc.wantBody) {
				t.Fatalf("response = %+v (body %q), want status %d base64=%v body %q", resp, body, tc.wantStatus, tc.wantBase64, tc.wantBody)
			}
			for k, v := range tc.wantHeaders {
				if resp.Headers[k] != v {
					t.Fatalf("header %s = %q, want %q (all: %v)", k, resp.Headers[k], v, resp.Headers)
				}
			}
			if _, ok := resp.Headers["X-Too-Late"]; ok {
				t.Fatal("header set after WriteHeader was sent")
			}
			if strings.Join(resp.Cookies, "|") != strings.Join(tc.wantCookies, "|") {
				t.Fatalf("cookies = %q, want %q", resp.Cookies, tc.wantCookies)
			}
		})
	}
}

// TestHeadersAsNetHTTPSendsThem holds the recorded response to what a
// net/http server sends for the same handler: no Content-Length on a 204
// or 304 (RFC 9110 8.6), no Content-Type on a 304, no sniffed Content-Type
// for a body that cannot be sent or that is content-coded. Only Date and,
// where a body is allowed, Content-Length (API Gateway sets it from the
// body) are left out of the comparison.
func TestHeadersAsNetHTTPSendsThem(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		handler http.HandlerFunc
	}{
		{"204 written to", func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(http.StatusNoContent)
			_, _ = w.Write([]byte("no body on a 204"))
		}},
		{"204 with a Content-Length", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Length", "0")
			w.WriteHeader(http.StatusNoContent)
		}},
		{"304 with representation headers", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			w.Header().Set("Content-Length", "7")
			w.Header().Set("ETag", `"v1"`)
			w.WriteHeader(http.StatusNotModified)
		}},
		{"content-coded body without a Content-Type", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Encoding", "gzip")
			_, _ = w.Write([]byte("\x1f\x8b\x08\x00 pretend-gzip"))
		}},
		{"plain body is sniffed alike", func(w http.ResponseWriter, r *http.Request) {
			_, _ = w.Write([]byte("<html><body>hi</body></html>"))
		}},
		{"header values with line breaks and padding, a name that is no token", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("X-Note", " first line\r\nInjected: yes ")
			w.Header().Set("Bad Name", "dropped")
			w.Header().Add("Set-Cookie", "a=1\r\nInjected: yes")
			w.Header().Add("X-Multi", "a\nb")
			w.Header().Add("X-Multi", "c")
		}},
		{"body sniffed over several writes", func(w http.ResponseWriter, r *http.Request) {
			_, _ = w.Write([]byte("<ht"))
			_, _ = w.Write([]byte("ml><body>hi</body></html>"))
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			srv := httptest.NewServer(tc.handler)
			defer srv.Close()
			client := &http.Client{Transport: &http.Transport{DisableCompression: true}}
			resp, err := client.Get(srv.URL + "/x")
			if err != nil {
				t.Fatal(err)
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			want := map[string]string{}
			for name, values := range resp.Header {
				if name == "Date" || name == "Content-Length" && resp.StatusCode != http.StatusNoContent && resp.StatusCode != http.StatusNotModified {
					continue
				}
				want[name] = strings.Join(values, ",")
			}
			got := invoke(t, tc.handler, payload("GET", "/x", "", "", false, "192.0.2.1", nil, nil))
			headers := maps.Clone(got.Headers)
			if len(got.Cookies) > 0 {
				headers["Set-Cookie"] = strings.Join(got.Cookies, ",")
			}
			if got.StatusCode != resp.StatusCode || !maps.Equal(headers, want) {
				t.Fatalf("lambda answered %d %q; net/http sends %d %q", got.StatusCode, headers, resp.StatusCode, want)
			}
		})
	}
}

// TestHeadCarriesGetContentLength: a HEAD answer carries the
// Content-Length the GET would have (RFC 9110 9.3.2 and 8.6), without the
// body, as a net/http server sends it: the length the handler wrote, or
// the one it set. net/http can count only a body that fits its 2048-byte
// buffer; a Lambda response is whole, so a larger one is counted too (the
// GET of it gets that length from API Gateway).
func TestHeadCarriesGetContentLength(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		handler http.HandlerFunc
		want    string // Content-Length of the HEAD answer; "" for none
	}{
		{"json body written", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write([]byte(`{"ok":true}`))
		}, "11"},
		{"error body", func(w http.ResponseWriter, r *http.Request) {
			http.Error(w, "not found", http.StatusNotFound)
		}, "10"},
		{"length set, nothing written", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "video/mp4")
			w.Header().Set("Content-Length", "4096")
		}, "4096"},
		{"nothing written", func(http.ResponseWriter, *http.Request) {}, ""},
		{"204", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) }, ""},
		{"304", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("ETag", `"v1"`)
			w.WriteHeader(http.StatusNotModified)
		}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			srv := httptest.NewServer(tc.handler)
			defer srv.Close()
			resp, err := srv.Client().Head(srv.URL + "/x")
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if got := resp.Header.Get("Content-Length"); got != tc.want {
				t.Fatalf("net/http sends Content-Length %q, the test wants %q", got, tc.want)
			}
			got := invoke(t, tc.handler, payload("HEAD", "/x", "", "", false, "192.0.2.1", nil, nil))
			if got.StatusCode != resp.StatusCode || got.Headers["Content-Length"] != tc.want || got.Body != "" {
				t.Fatalf("lambda answered %d, Content-Length %q, body %q; net/http sends %d, Content-Length %q, no body",
					got.StatusCode, got.Headers["Content-Length"], got.Body, resp.StatusCode, tc.want)
			}
		})
	}
	t.Run("body larger than net/http counts", func(t *testing.T) {
		t.Parallel()
		body := strings.Repeat("a", 100_000)
		h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/plain")
			_, _ = w.Write([]byte(body))
		})
		got := invoke(t, h, payload("HEAD", "/x", "", "", false, "192.0.2.1", nil, nil))
		if got.Headers["Content-Length"] != "100000" || got.Body != "" {
			t.Fatalf("Content-Length %q, body %d bytes; want 100000 and no body", got.Headers["Content-Length"], len(got.Body))
		}
	})
}

// TestPathRoutesAsOnTheServer: a path with escaped characters reaches the
// handlers as it does through net/http, in the two shapes AWS sends it.
// Live captures of one request to /capture/space%20value (hotsock/voker,
// vokerhttp/testdata, July 2026) show an HTTP API with rawPath and
// requestContext.http.path both decoded ("/capture/space value"), and a
// Lambda function URL with rawPath as sent and only http.path decoded;
// fastify/aws-lambda-fastify#169 shows an HTTP API turning /a%2Fb into
// rawPath /a/b. No API Gateway runs here: the events are built in those
// shapes. The ids are ones playback.ValidRecordID allows (titles, accounts
// and other records), and a space and a non-ASCII letter; and '?', which
// the record rule refuses since an HTTP API is reported to cut a decoded
// path there before it invokes (a function URL hands it over). An escaped slash
// cannot route alike: decoded, it is a separator, and no rawPath tells it
// from one (API Gateway's own route /v1/titles/{id} does not match it
// either).
func TestPathRoutesAsOnTheServer(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(echoMux())
	t.Cleanup(srv.Close) // after the parallel subtests
	for _, tc := range []struct {
		name string
		sent string // the path as the client sends it
	}{
		{name: "question mark", sent: "/v1/titles/a%3Fb"},
		{name: "percent sign", sent: "/v1/titles/50%25off"},
		{name: "percent sign before hex digits", sent: "/v1/titles/a%2541"},
		{name: "number sign", sent: "/v1/titles/a%23b"},
		{name: "space", sent: "/v1/titles/a%20b"},
		{name: "non-ASCII", sent: "/v1/titles/caf%C3%A9"},
		{name: "sub-delimiters as sent", sent: "/v1/titles/a+b;c=d&e@f:g"},
		{name: "plain", sent: "/v1/titles/tt-0001"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			const query = "q=caf%C3%A9&x=1"
			status, onServer := serverEcho(t, srv.URL+tc.sent+"?"+query)
			decoded, err := url.PathUnescape(tc.sent)
			if err != nil {
				t.Fatal(err)
			}
			for _, shape := range []struct {
				name              string
				rawPath, httpPath string
			}{
				{name: "HTTP API", rawPath: decoded, httpPath: decoded},
				{name: "function URL", rawPath: tc.sent, httpPath: decoded},
			} {
				ev := map[string]any{"version": "2.0", "routeKey": "$default", "rawPath": shape.rawPath, "rawQueryString": query,
					"headers": map[string]string{"host": "api.example.com"},
					"requestContext": map[string]any{"requestId": "JKJaXmPLvHcESHA=", "stage": "$default",
						"http": map[string]any{"method": "GET", "path": shape.httpPath, "protocol": "HTTP/1.1", "sourceIp": "192.0.2.1"}}}
				raw, err := json.Marshal(ev)
				if err != nil {
					t.Fatal(err)
				}
				resp := invoke(t, echoMux(), raw)
				var onLambda echo
				if resp.StatusCode == http.StatusOK {
					if err := json.Unmarshal([]byte(resp.Body), &onLambda); err != nil {
						t.Fatal(err)
					}
				}
				if resp.StatusCode != status || onLambda.Path != onServer.Path || onLambda.TitleID != onServer.TitleID ||
					onLambda.RawQuery != onServer.RawQuery || onLambda.Query != onServer.Query {
					t.Errorf("%s (rawPath %q): %d, path %q, id %q, query %q %q; the server: %d, path %q, id %q, query %q %q",
						shape.name, shape.rawPath, resp.StatusCode, onLambda.Path, onLambda.TitleID, onLambda.RawQuery, onLambda.Query,
						status, onServer.Path, onServer.TitleID, onServer.RawQuery, onServer.Query)
				}
			}
		})
	}
}

// serverEcho sends a GET for target, kept as written, to a net/http server
// of echoMux.
func serverEcho(t *testing.T, target string) (int, echo) {
	t.Helper()
	resp, err := http.Get(target)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var e echo
	if resp.StatusCode == http.StatusOK {
		if err := json.NewDecoder(resp.Body).Decode(&e); err != nil {
			t.Fatal(err)
		}
	}
	return resp.StatusCode, e
}

// TestProviderPayload feeds an event in the shape of aws-lambda-go's
// events/testdata/apigw-v2-request-jwt-authorizer.json (written from it,
// with name=value cookies): API Gateway hands cookies over in "cookies",
// not in headers, joins a repeated header with commas, keeps a repeated
// query key twice in rawQueryString while queryStringParameters
// comma-joins it
// (https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-develop-integrations-lambda.html).
func TestProviderPayload(t *testing.T) {
	t.Parallel()
	const event = `{
  "version": "2.0",
  "routeKey": "$default",
  "rawPath": "/my/path",
  "rawQueryString": "parameter1=value1&parameter1=value2&parameter2=value",
  "cookies": ["session=s1", "theme=dark"],
  "headers": {"header1": "value1", "header2": "value1,value2", "x-forwarded-proto": "https"},
  "queryStringParameters": {"parameter1": "value1,value2", "parameter2": "value"},
  "pathParameters": {"proxy": "hello/world"},
  "requestContext": {
    "routeKey": "$default", "accountId": "123456789012", "stage": "$default", "requestId": "id",
    "authorizer": {"jwt": {"claims": {"claim1": "value1"}, "scopes": ["scope1"]}},
    "apiId": "api-id", "domainName": "id.execute-api.us-east-1.amazonaws.com", "domainPrefix": "id",
    "time": "12/Mar/2020:19:03:58+0000", "timeEpoch": 1583348638390,
    "http": {"method": "POST", "path": "/my/path", "protocol": "HTTP/1.1", "sourceIp": "192.0.2.10", "userAgent": "agent"}
  },
  "stageVariables": {"stageVariable1": "value1"},
  "body": "{\r\n\t\"a\": 1\r\n}",
  "isBase64Encoded": false
}`
	var seen *http.Request
	var body []byte
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen = r
		body, _ = io.ReadAll(r.Body)
		w.WriteHeader(http.StatusNoContent)
	})
	if resp := invoke(t, h, []byte(event)); resp.StatusCode != http.StatusNoContent {
		t.Fatalf("response = %+v", resp)
	}
	var cookies []string
	for _, c := range seen.Cookies() {
		cookies = append(cookies, c.Name+"="+c.Value)
	}
	ev, _ := lambdahttp.Event(seen.Context())
	for _, check := range []struct {
		what      string
		got, want any
	}{
		{"cookies", strings.Join(cookies, " "), "session=s1 theme=dark"},
		{"repeated query key", strings.Join(seen.URL.Query()["parameter1"], " "), "value1 value2"},
		{"other query key", seen.URL.Query().Get("parameter2"), "value"},
		{"repeated header", seen.Header.Get("Header2"), "value1,value2"},
		{"host from the domain name", seen.Host, "id.execute-api.us-east-1.amazonaws.com"},
		{"body as sent", string(body), "{\r\n\t\"a\": 1\r\n}"},
		{"content length", seen.ContentLength, int64(len(body))},
		{"jwt claims through the event", ev.RequestContext.Authorizer.JWT.Claims["claim1"], "value1"},
		{"https", seen.TLS != nil, true},
	} {
		if check.got != check.want {
			t.Errorf("%s = %#v, want %#v", check.what, check.got, check.want)
		}
	}
}

// TestMalformedTargetNamesNoQuery: a request target that does not parse is
// a typed 400 whose message (logged with the rejection) names the path,
// never the query: players carry their credentials there (?token=).
func TestMalformedTargetNamesNoQuery(t *testing.T) {
	t.Parallel()
	var ev events.APIGatewayV2HTTPRequest
	ev.RawPath, ev.RawQueryString = "/v1/manifests/ses_1/hls", "token=m1.SECRETTOKEN&x=\x7f"
	ev.RequestContext.HTTP.Method, ev.RequestContext.HTTP.Path = http.MethodGet, ev.RawPath
	_, err := lambdahttp.NewRequest(context.Background(), ev)
	if err == nil {
		t.Fatal("no error")
	}
	if msg := err.Error(); !strings.Contains(msg, "malformed_path") || strings.Contains(msg, "SECRETTOKEN") || !strings.Contains(msg, ev.RawPath) {
		t.Fatalf("error %q: want malformed_path naming the path, not the query", msg)
	}
}

// TestForwardedProto: the request is TLS when the scheme the player
// reached the front door by, the first entry of X-Forwarded-Proto as
// playurl.Scheme reads it, is https: API Gateway joins a repeated header
// with commas, and a proxy in front of it appends the scheme it was
// reached by.
func TestForwardedProto(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, proto string // "" = no header
		want        bool
	}{
		{name: "no header"},
		{name: "https", proto: "https", want: true},
		{name: "upper case", proto: "HTTPS", want: true},
		{name: "https at the front, http inside", proto: "https, http", want: true},
		{name: "without spaces", proto: "https,http", want: true},
		{name: "plain http", proto: "http"},
		{name: "http at the front, https inside", proto: "http, https"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var ev events.APIGatewayV2HTTPRequest
			ev.RawPath = "/v1/play"
			ev.RequestContext.HTTP.Method, ev.RequestContext.HTTP.Path = http.MethodPost, ev.RawPath
			if tc.proto != "" {
				ev.Headers = map[string]string{"x-forwarded-proto": tc.proto}
			}
			r, err := lambdahttp.NewRequest(context.Background(), ev)
			if err != nil {
				t.Fatal(err)
			}
			if got := r.TLS != nil; got != tc.want {
				t.Errorf("X-Forwarded-Proto %q: TLS %v, want %v", tc.proto, got, tc.want)
			}
		})
	}
}

// TestOversizedResponseIsTyped500: Lambda refuses a synchronous response
// larger than 6291556 bytes as serialized (the Runtime API answers 413
// "Exceeded maximum allowed payload size (6291556 bytes)", as reported in
// aws/aws-lambda-dotnet#1815 and anomalyco/console#63), and aws-lambda-go
// then ends the process (lambda/invoke_loop.go returns the failed POST,
// entry.go log.Fatalf), so the next request is a cold start and this one
// gets API Gateway's untyped 500. The limit counts the event as
// serialized: a base64 body and JSON escapes count at their encoded size.
func TestOversizedResponseIsTyped500(t *testing.T) {
	t.Parallel()
	const limit = 6291556
	for _, tc := range []struct {
		name        string
		contentType string
		body        []byte
		wantFits    bool
	}{
		{name: "text under the limit", contentType: "text/plain", body: []byte(strings.Repeat("a", 6_000_000)), wantFits: true},
		{name: "text over the limit", contentType: "text/plain", body: []byte(strings.Repeat("a", 6_300_000))},
		{name: "binary that fits only unencoded", contentType: "application/octet-stream", body: make([]byte, 5_000_000)},
		{name: "json escapes past the limit", contentType: "text/plain", body: []byte(strings.Repeat(`"`, 3_200_000))},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("X-Request-Id", "req_kept")
				// CORS, as cors.Handler answers a player's page: without
				// them the browser shows a CORS failure, not the 500.
				w.Header().Set("Access-Control-Allow-Origin", "https://player.example")
				w.Header().Set("Vary", "Origin")
				w.Header().Set("Content-Type", tc.contentType)
				_, _ = w.Write(tc.body)
			})
			out, err := lambda.NewHandler(lambdahttp.Handler(h)).Invoke(context.Background(),
				payload("GET", "/x", "", "", false, "192.0.2.1", nil, nil))
			if err != nil {
				t.Fatal(err)
			}
			if len(out) > limit {
				t.Fatalf("response is %d bytes serialized; Lambda refuses more than %d", len(out), limit)
			}
			var resp events.APIGatewayV2HTTPResponse
			if err := json.Unmarshal(out, &resp); err != nil {
				t.Fatal(err)
			}
			if tc.wantFits {
				if resp.StatusCode != http.StatusOK || len(resp.Body) != len(tc.body) {
					t.Fatalf("status %d, body %d bytes; want the handler's 200 with %d bytes", resp.StatusCode, len(resp.Body), len(tc.body))
				}
				return
			}
			var body struct {
				Error struct{ Code, Reason, Message string }
			}
			if err := json.Unmarshal([]byte(resp.Body), &body); err != nil {
				t.Fatalf("body %.200q: %v", resp.Body, err)
			}
			if resp.StatusCode != http.StatusInternalServerError || body.Error.Code != "internal" || body.Error.Reason != "response_too_large" ||
				resp.Headers["X-Request-Id"] != "req_kept" || resp.Headers["Access-Control-Allow-Origin"] != "https://player.example" ||
				resp.Headers["Vary"] != "Origin" {
				t.Fatalf("status %d, headers %v, error %+v; want a typed 500 response_too_large keeping the request id and CORS", resp.StatusCode, resp.Headers, body.Error)
			}
			// The same request gets the same response: no retry cures it.
			if ra, ok := resp.Headers["Retry-After"]; ok || strings.Contains(body.Error.Message, "retry later") {
				t.Fatalf("Retry-After %q, message %q on response_too_large, which a retry does not cure", ra, body.Error.Message)
			}
		})
	}
}

// TestResponseLimitBoundary: a response exactly as large as Lambda takes,
// as aws-lambda-go serializes it, goes out; one byte more is refused.
func TestResponseLimitBoundary(t *testing.T) {
	t.Parallel()
	invokeSized := func(n int) []byte {
		h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/plain")
			_, _ = w.Write([]byte(strings.Repeat("a", n)))
		})
		out, err := lambda.NewHandler(lambdahttp.Handler(h)).Invoke(context.Background(),
			payload("GET", "/x", "", "", false, "192.0.2.1", nil, nil))
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	overhead := len(invokeSized(1)) - 1
	atLimit := invokeSized(lambdahttp.MaxResponseBytes - overhead)
	if len(atLimit) != lambdahttp.MaxResponseBytes || !strings.Contains(string(atLimit[:100]), `"statusCode":200`) {
		t.Fatalf("a response of exactly %d bytes: got %d bytes, %.100s", lambdahttp.MaxResponseBytes, len(atLimit), atLimit)
	}
	over := invokeSized(lambdahttp.MaxResponseBytes - overhead + 1)
	if !strings.Contains(string(over), `"statusCode":500`) {
		t.Fatalf("a response one byte over the limit: %.200s", over)
	}
}
