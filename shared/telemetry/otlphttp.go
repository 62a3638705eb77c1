package telemetry

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/sethvargo/go-envconfig"
	"go.opentelemetry.io/otel"
)

// traceClient sends encoded spans (spanExporter) over OTLP/HTTP with
// protobuf bodies (http/protobuf, the specification's default protocol).
// It does what the SDK's otlptracehttp does, reading the same
// OTEL_EXPORTER_OTLP_* variables: otlptracehttp's configuration and the
// collector's service packages link gRPC, grpc-gateway and x/net's
// HTTP/2, whose package init every Lambda cold start paid (~2.5 ms) for a
// client that never speaks gRPC. TestTraceClientSendsWhatOTLPTraceHTTPSends
// holds the bytes and headers to the SDK exporter's.
type traceClient struct {
	url     string
	headers map[string]string
	gzip    bool
	client  *http.Client
	// Retries follow otlptracehttp's defaults: 429, 502, 503 and 504 (and
	// temporary network errors) are retried, after Retry-After when the
	// receiver gives one, else after an exponential backoff, for at most
	// maxElapsed and never past the caller's deadline.
	initial, maxInterval, maxElapsed time.Duration
}

// otlpHTTPConfig is the rest of the exporter's standard environment; a
// signal's own variable wins over the general one.
type otlpHTTPConfig struct {
	Headers                 string `env:"OTEL_EXPORTER_OTLP_HEADERS"`
	TracesHeaders           string `env:"OTEL_EXPORTER_OTLP_TRACES_HEADERS"`
	Timeout                 string `env:"OTEL_EXPORTER_OTLP_TIMEOUT"`
	TracesTimeout           string `env:"OTEL_EXPORTER_OTLP_TRACES_TIMEOUT"`
	Compression             string `env:"OTEL_EXPORTER_OTLP_COMPRESSION"`
	TracesCompression       string `env:"OTEL_EXPORTER_OTLP_TRACES_COMPRESSION"`
	Certificate             string `env:"OTEL_EXPORTER_OTLP_CERTIFICATE"`
	TracesCertificate       string `env:"OTEL_EXPORTER_OTLP_TRACES_CERTIFICATE"`
	ClientCertificate       string `env:"OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE"`
	TracesClientCertificate string `env:"OTEL_EXPORTER_OTLP_TRACES_CLIENT_CERTIFICATE"`
	ClientKey               string `env:"OTEL_EXPORTER_OTLP_CLIENT_KEY"`
	TracesClientKey         string `env:"OTEL_EXPORTER_OTLP_TRACES_CLIENT_KEY"`
}

// defaultTraceURL is the specification's default for http/protobuf.
const defaultTraceURL = "http://localhost:4318/v1/traces"

// newTraceClient makes the client for endpoint (the full URL of the
// traces path; "" is the default) from the variables lookup reads.
func newTraceClient(ctx context.Context, lookup envconfig.Lookuper, endpoint string) (*traceClient, error) {
	var cfg otlpHTTPConfig
	if err := envconfig.ProcessWith(ctx, &envconfig.Config{Target: &cfg, Lookuper: lookup}); err != nil {
		return nil, fmt.Errorf("telemetry: %w", err)
	}
	if endpoint == "" {
		endpoint = defaultTraceURL
	}
	u, err := url.Parse(endpoint)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("telemetry: OTLP traces endpoint %q is not an http(s) URL", endpoint)
	}
	// The signal's headers replace the general ones, as in the SDK.
	c := &traceClient{url: u.String(), headers: parseOTLPHeaders(firstNonEmpty(cfg.TracesHeaders, cfg.Headers)),
		initial: 5 * time.Second, maxInterval: 30 * time.Second, maxElapsed: time.Minute}
	timeout := 10 * time.Second
	if t := firstNonEmpty(cfg.TracesTimeout, cfg.Timeout); t != "" {
		ms, err := strconv.Atoi(strings.TrimSpace(t))
		if err != nil || ms < 0 {
			return nil, fmt.Errorf("telemetry: OTLP timeout %q is not a number of milliseconds", t)
		}
		timeout = time.Duration(ms) * time.Millisecond
	}
	switch comp := strings.TrimSpace(firstNonEmpty(cfg.TracesCompression, cfg.Compression)); comp {
	case "gzip":
		c.gzip = true
	case "", "none":
	default:
		return nil, fmt.Errorf("telemetry: OTLP compression %q is not supported (gzip, none)", comp)
	}
	transport := &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           (&net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          100,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   10 * time.Second,
		ExpectContinueTimeout: time.Second,
		// An export up to 64 KiB (a flush's usual size) is then one write,
		// headers and body together: ~100 CPU-µs less per flush than the
		// default 4 KiB's two (TestExportIsOneWrite).
		WriteBufferSize: 64 << 10,
	}
	tlsCfg, err := otlpTLS(firstNonEmpty(cfg.TracesCertificate, cfg.Certificate),
		firstNonEmpty(cfg.TracesClientCertificate, cfg.ClientCertificate), firstNonEmpty(cfg.TracesClientKey, cfg.ClientKey))
	if err != nil {
		return nil, err
	}
	if tlsCfg != nil {
		if u.Scheme != "https" {
			return nil, errors.New("telemetry: insecure HTTP endpoint cannot use TLS client configuration")
		}
		transport.TLSClientConfig = tlsCfg
	}
	c.client = &http.Client{Transport: transport, Timeout: timeout}
	return c, nil
}

// parseOTLPHeaders reads the specification's header list,
// "key1=value1,key2=value2" with percent-encoded values; malformed
// entries are skipped, as the SDK's exporters skip them.
func parseOTLPHeaders(spec string) map[string]string {
	out := map[string]string{}
	for entry := range strings.SplitSeq(spec, ",") {
		k, v, ok := strings.Cut(entry, "=")
		if !ok {
			continue
		}
		k, err := url.PathUnescape(strings.TrimSpace(k))
		if err != nil || k == "" {
			continue
		}
		v, err = url.PathUnescape(strings.TrimSpace(v))
		if err != nil {
			continue
		}
		out[k] = v
	}
	return out
}

// otlpTLS is the TLS configuration of the certificate variables (PEM
// files), nil when none is set.
func otlpTLS(caFile, certFile, keyFile string) (*tls.Config, error) {
	if caFile == "" && certFile == "" && keyFile == "" {
		return nil, nil
	}
	cfg := &tls.Config{MinVersion: tls.VersionTLS12}
	if caFile != "" {
		pem, err := os.ReadFile(caFile)
		if err != nil {
			return nil, fmt.Errorf("telemetry: OTLP certificate: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("telemetry: OTLP certificate %s holds no PEM certificate", caFile)
		}
		cfg.RootCAs = pool
	}
	if certFile != "" || keyFile != "" {
		cert, err := tls.LoadX509KeyPair(certFile, keyFile)
		if err != nil {
			return nil, fmt.Errorf("telemetry: OTLP client certificate: %w", err)
		}
		cfg.Certificates = []tls.Certificate{cert}
	}
	return cfg, nil
}

// Stop closes idle connections.
func (c *traceClient) Stop(context.Context) error {
	c.client.CloseIdleConnections()
	return nil
}

// singleAttemptKey marks a context whose export is tried once, without
// the retries and backoff sleeps (Flush: a Lambda or Cloud Functions
// invocation must not wait for a slow collector).
type singleAttemptKey struct{}

// upload sends one encoded ExportTraceServiceRequest.
func (c *traceClient) upload(ctx context.Context, body []byte) error {
	if c.gzip {
		var buf bytes.Buffer
		zw := gzip.NewWriter(&buf)
		if _, err := zw.Write(body); err != nil {
			return err
		}
		if err := zw.Close(); err != nil {
			return err
		}
		body = buf.Bytes()
	}
	start := time.Now()
	wait := c.initial
	for {
		retryAfter, err := c.post(ctx, body)
		if err == nil || retryAfter < 0 {
			return err
		}
		if ctx.Value(singleAttemptKey{}) != nil {
			return fmt.Errorf("telemetry: OTLP export (one attempt, not retried): %w", err)
		}
		if retryAfter == 0 {
			// Randomized exponential backoff (factor 1.5 ± 50%), as the
			// SDK's retry does.
			retryAfter = time.Duration(float64(wait) * (0.5 + rand.Float64()))
			wait = min(time.Duration(float64(wait)*1.5), c.maxInterval)
		}
		if time.Since(start)+retryAfter > c.maxElapsed {
			return fmt.Errorf("telemetry: OTLP export gave up after %v: %w", time.Since(start).Round(time.Millisecond), err)
		}
		if dl, ok := ctx.Deadline(); ok && time.Until(dl) < retryAfter {
			return fmt.Errorf("telemetry: OTLP export: no time left to retry: %w", err)
		}
		select {
		case <-ctx.Done():
			return errors.Join(err, ctx.Err())
		case <-time.After(retryAfter):
		}
	}
}

// post sends body once. retryAfter is -1 when the error is final, else
// how long the receiver asked to wait (0: it did not say).
func (c *traceClient) post(ctx context.Context, body []byte) (retryAfter time.Duration, err error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.url, bytes.NewReader(body))
	if err != nil {
		return -1, err
	}
	req.Header.Set("User-Agent", "OTel OTLP Exporter Go/"+otel.Version())
	for k, v := range c.headers {
		req.Header.Set(k, v)
	}
	req.Header.Set("Content-Type", "application/x-protobuf")
	if c.gzip {
		req.Header.Set("Content-Encoding", "gzip")
	}
	resp, err := c.client.Do(req)
	if err != nil {
		var urlErr *url.Error
		if errors.As(err, &urlErr) && urlErr.Temporary() && ctx.Err() == nil {
			return 0, err
		}
		return -1, err
	}
	defer resp.Body.Close()
	// Responses are small; a receiver sending more is not read further.
	data, err := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	if err != nil {
		return -1, err
	}
	if resp.StatusCode >= 200 && resp.StatusCode <= 299 {
		if resp.Header.Get("Content-Type") != "application/x-protobuf" || len(data) == 0 {
			return -1, nil
		}
		rejected, msg, err := partialSuccess(data)
		if err != nil {
			return -1, fmt.Errorf("telemetry: OTLP response: %w", err)
		}
		if rejected != 0 || msg != "" {
			return -1, fmt.Errorf("OTLP partial success: %s (%d spans rejected)", msg, rejected)
		}
		return -1, nil
	}
	text := strings.TrimSpace(string(data))
	if text == "" {
		text = "(empty)"
	}
	err = fmt.Errorf("failed to send to %s: %s (body: %s)", c.url, resp.Status, text)
	switch resp.StatusCode {
	case http.StatusTooManyRequests, http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		if s, perr := strconv.Atoi(resp.Header.Get("Retry-After")); perr == nil && s > 0 {
			return time.Duration(s) * time.Second, err
		}
		return 0, err
	}
	return -1, err
}

// partialSuccess reads ExportTraceServiceResponse's
// `ExportTracePartialSuccess partial_success = 1`, whose fields are
// `int64 rejected_spans = 1` and `string error_message = 2`.
func partialSuccess(b []byte) (rejected int64, msg string, err error) {
	err = eachField(b, func(num, wire int, v uint64, data []byte) error {
		if num != 1 || wire != wireBytes {
			return nil
		}
		return eachField(data, func(num, wire int, v uint64, data []byte) error {
			switch {
			case num == 1 && wire == wireVarint:
				rejected = int64(v)
			case num == 2 && wire == wireBytes:
				msg = string(data)
			}
			return nil
		})
	})
	return rejected, msg, err
}

// eachField calls fn with each field of the protobuf message b: its
// number, wire type and value (v for varints and fixed sizes, data for
// length-delimited fields).
func eachField(b []byte, fn func(num, wire int, v uint64, data []byte) error) error {
	for len(b) > 0 {
		tag, n := binary.Uvarint(b)
		if n <= 0 || tag>>3 == 0 {
			return errors.New("malformed protobuf tag")
		}
		b = b[n:]
		num, wire := int(tag>>3), int(tag&7)
		var v uint64
		var data []byte
		switch wire {
		case wireVarint:
			if v, n = binary.Uvarint(b); n <= 0 {
				return errors.New("malformed protobuf varint")
			}
		case wireFixed64:
			if n = 8; len(b) < n {
				return errors.New("truncated protobuf fixed64")
			}
			v = binary.LittleEndian.Uint64(b)
		case wireFixed32:
			if n = 4; len(b) < n {
				return errors.New("truncated protobuf fixed32")
			}
			v = uint64(binary.LittleEndian.Uint32(b))
		case wireBytes:
			l, m := binary.Uvarint(b)
			if m <= 0 || uint64(len(b)-m) < l {
				return errors.New("truncated protobuf field")
			}
			data, n = b[m:m+int(l)], m+int(l)
		default:
			return fmt.Errorf("unsupported protobuf wire type %d", wire)
		}
		b = b[n:]
		if err := fn(num, wire, v, data); err != nil {
			return err
		}
	}
	return nil
}
