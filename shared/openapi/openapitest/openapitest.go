// Package openapitest checks HTTP traffic against the OpenAPI document of
// shared/openapi: each request is matched to an operation (method and path
// template), its parameters, credentials and body are validated, and so
// are the response's status, required headers and body. Tests use it as
// their client's transport (Client, Transport), so an undocumented route,
// status, field or shape fails the test that produced it.
package openapitest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/playplane/playplane/shared/openapi"
)

// docURL is where the document is registered with the schema compiler;
// schema locations are JSON pointers under it.
const docURL = "https://playplane.dev/openapi.json"

// Spec is the parsed document with its schemas compiled.
type Spec struct {
	doc      map[string]any
	ops      []*Operation
	compiler *jsonschema.Compiler
	mu       sync.Mutex
	schemas  map[string]*jsonschema.Schema
}

// Operation is one method on one path template.
type Operation struct {
	Method, Path string // "POST", "/v1/playback/{session_id}/urls"
	ID           string
	segments     []string
	pointer      string // JSON pointer of the operation object
	raw          map[string]any
	params       []param
	security     []map[string][]any
}

type param struct {
	name, in string
	required bool
	schema   string // JSON pointer
	typ      string // the schema's "type", for turning the raw string into a value
}

// Key is "METHOD /path", as http.ServeMux patterns and the catalogue name
// routes.
func (o *Operation) Key() string { return o.Method + " " + o.Path }

// Tags are the operation's tags.
func (o *Operation) Tags() []string {
	var out []string
	tags, _ := o.raw["tags"].([]any)
	for _, t := range tags {
		if s, ok := t.(string); ok {
			out = append(out, s)
		}
	}
	return out
}

// LandsWith is the branch whose code serves the operation
// ("x-lands-with"), for an operation described before its routes are
// merged; empty for every served operation. The drift tests hold such an
// operation out of the catalogue and the runner until the mark is removed.
func (o *Operation) LandsWith() string {
	b, _ := o.raw["x-lands-with"].(string)
	return b
}

// QueryParams names the operation's query parameters, in the document's
// order (a security scheme's query parameter is no parameter here).
func (o *Operation) QueryParams() []string {
	var out []string
	for _, p := range o.params {
		if p.in == "query" {
			out = append(out, p.name)
		}
	}
	return out
}

// Security lists the operation's alternative security requirements, each
// as its sorted scheme names; none means no credential is needed.
func (o *Operation) Security() [][]string {
	out := make([][]string, 0, len(o.security))
	for _, req := range o.security {
		out = append(out, slices.Sorted(maps.Keys(req)))
	}
	return out
}

var load = sync.OnceValues(func() (*Spec, error) {
	raw, err := openapi.Document()
	if err != nil {
		return nil, err
	}
	return Parse(raw)
})

// Load returns the served document, parsed once per process.
func Load() (*Spec, error) { return load() }

var methods = []string{"get", "put", "post", "delete", "options", "head", "patch", "trace"}

// Parse reads an OpenAPI 3.1 document.
func Parse(raw []byte) (*Spec, error) {
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
	if err != nil {
		return nil, fmt.Errorf("openapitest.Parse: %w", err)
	}
	root, ok := doc.(map[string]any)
	if !ok {
		return nil, errors.New("openapitest.Parse: document is not an object")
	}
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft2020)
	// Formats are assertions here (date-time, uri, ...): a timestamp that
	// is not RFC 3339 is a mismatch, not an annotation.
	c.AssertFormat()
	if err := c.AddResource(docURL, doc); err != nil {
		return nil, fmt.Errorf("openapitest.Parse: %w", err)
	}
	s := &Spec{doc: root, compiler: c, schemas: map[string]*jsonschema.Schema{}}
	paths, _ := root["paths"].(map[string]any)
	for path, item := range paths {
		pi, _ := item.(map[string]any)
		for _, m := range methods {
			op, ok := pi[m].(map[string]any)
			if !ok {
				continue
			}
			o := &Operation{Method: strings.ToUpper(m), Path: path, raw: op,
				segments: strings.Split(strings.TrimPrefix(path, "/"), "/"),
				pointer:  "/paths/" + escape(path) + "/" + m}
			o.ID, _ = op["operationId"].(string)
			if err := s.readParams(o, pi, op); err != nil {
				return nil, err
			}
			sec, ok := op["security"].([]any)
			if !ok {
				sec, _ = root["security"].([]any)
			}
			for _, req := range sec {
				r, _ := req.(map[string]any)
				names := map[string][]any{}
				for k, v := range r {
					names[k], _ = v.([]any)
				}
				o.security = append(o.security, names)
			}
			s.ops = append(s.ops, o)
		}
	}
	slices.SortFunc(s.ops, func(a, b *Operation) int { return strings.Compare(a.Key(), b.Key()) })
	return s, nil
}

// Operations lists the document's operations, sorted by Key.
func (s *Spec) Operations() []*Operation { return slices.Clone(s.ops) }

func (s *Spec) readParams(o *Operation, item, op map[string]any) error {
	type located struct {
		p   any
		ptr string
	}
	var list []located
	itemPtr := o.pointer[:strings.LastIndexByte(o.pointer, '/')]
	for _, at := range []struct {
		m   map[string]any
		ptr string
	}{{item, itemPtr}, {op, o.pointer}} {
		l, _ := at.m["parameters"].([]any)
		for i, p := range l {
			list = append(list, located{p, fmt.Sprintf("%s/parameters/%d", at.ptr, i)})
		}
	}
	for _, l := range list {
		pm, ptr, err := s.deref(l.p.(map[string]any), l.ptr)
		if err != nil {
			return fmt.Errorf("openapitest: %s: %w", o.Key(), err)
		}
		name, _ := pm["name"].(string)
		in, _ := pm["in"].(string)
		required, _ := pm["required"].(bool)
		pr := param{name: name, in: in, required: required}
		schema, ok := pm["schema"].(map[string]any)
		if !ok {
			return fmt.Errorf("openapitest: %s: parameter %q has no schema", o.Key(), name)
		}
		sm, sptr, err := s.deref(schema, ptr+"/schema")
		if err != nil {
			return err
		}
		pr.typ, _ = sm["type"].(string)
		pr.schema = sptr
		o.params = append(o.params, pr)
	}
	return nil
}

// deref follows a local $ref ("#/components/...") and returns the object
// with its JSON pointer. An inline object has no pointer of its own: its
// caller names one (fallback).
func (s *Spec) deref(m map[string]any, fallback string) (map[string]any, string, error) {
	ptr := fallback
	for {
		ref, ok := m["$ref"].(string)
		if !ok || !strings.HasPrefix(ref, "#/") {
			return m, ptr, nil
		}
		ptr = ref[1:]
		var cur any = s.doc
		for _, tok := range strings.Split(ptr[1:], "/") {
			tok = strings.ReplaceAll(strings.ReplaceAll(tok, "~1", "/"), "~0", "~")
			next, ok := cur.(map[string]any)
			if !ok {
				return nil, "", fmt.Errorf("$ref %s does not resolve", ref)
			}
			cur = next[tok]
		}
		if m, ok = cur.(map[string]any); !ok {
			return nil, "", fmt.Errorf("$ref %s does not resolve to an object", ref)
		}
	}
}

// object reads the object at pointer, following $refs.
func (s *Spec) object(pointer string) (map[string]any, string, error) {
	return s.deref(map[string]any{"$ref": "#" + pointer}, pointer)
}

func escape(tok string) string {
	return strings.ReplaceAll(strings.ReplaceAll(tok, "~", "~0"), "/", "~1")
}

// schema compiles the schema at pointer (once).
func (s *Spec) schema(pointer string) (*jsonschema.Schema, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if sch, ok := s.schemas[pointer]; ok {
		return sch, nil
	}
	// The compiler wants each token URL-escaped as well ("{" in a path).
	var b strings.Builder
	for _, tok := range strings.Split(pointer, "/")[1:] {
		b.WriteString("/")
		b.WriteString(url.PathEscape(tok))
	}
	sch, err := s.compiler.Compile(docURL + "#" + b.String())
	if err != nil {
		return nil, fmt.Errorf("compiling %s: %w", pointer, err)
	}
	s.schemas[pointer] = sch
	return sch, nil
}

// Match finds the operation serving method on path and the path
// parameters' values. Literal segments win over templated ones, as
// http.ServeMux and API Gateway choose the most specific route.
func (s *Spec) Match(method, path string) (*Operation, map[string]string, bool) {
	segs := strings.Split(strings.TrimPrefix(path, "/"), "/")
	var best *Operation
	bestLiterals := -1
	for _, o := range s.ops {
		if o.Method != method || len(o.segments) != len(segs) {
			continue
		}
		literals, ok := 0, true
		for i, t := range o.segments {
			switch {
			case strings.HasPrefix(t, "{") && strings.HasSuffix(t, "}"):
				ok = ok && segs[i] != ""
			case t == segs[i]:
				literals++
			default:
				ok = false
			}
		}
		if ok && literals > bestLiterals {
			best, bestLiterals = o, literals
		}
	}
	if best == nil {
		return nil, nil, false
	}
	values := map[string]string{}
	for i, t := range best.segments {
		if strings.HasPrefix(t, "{") {
			values[strings.Trim(t, "{}")] = segs[i]
		}
	}
	return best, values, true
}

// ValidateRequest checks req, whose body is body, against its operation:
// path, query and header parameters, credentials, and the body's media
// type and schema. It returns the operation, which ValidateResponse needs.
func (s *Spec) ValidateRequest(req *http.Request, body []byte) (*Operation, error) {
	op, pathValues, ok := s.Match(req.Method, req.URL.Path)
	if !ok {
		return nil, fmt.Errorf("%s %s: no operation in the OpenAPI document", req.Method, req.URL.Path)
	}
	var errs []error
	query := req.URL.Query()
	declared := map[string]bool{}
	for _, p := range op.params {
		var values []string
		switch p.in {
		case "path":
			values = []string{pathValues[p.name]}
		case "query":
			declared[p.name] = true
			values = query[p.name]
		case "header":
			values = req.Header.Values(p.name)
		case "cookie":
			if c, err := req.Cookie(p.name); err == nil {
				values = []string{c.Value}
			}
		}
		if len(values) == 0 {
			if p.required {
				errs = append(errs, fmt.Errorf("%s parameter %q is required", p.in, p.name))
			}
			continue
		}
		for _, v := range values {
			if err := s.validateParam(p, v); err != nil {
				errs = append(errs, err)
			}
		}
	}
	for _, sch := range s.securitySchemes(op) {
		if sch.in == "query" {
			declared[sch.name] = true
		}
	}
	for name := range query {
		if !declared[name] {
			errs = append(errs, fmt.Errorf("query parameter %q is not documented", name))
		}
	}
	if err := s.checkSecurity(op, req); err != nil {
		errs = append(errs, err)
	}
	if err := s.checkRequestBody(op, req, body); err != nil {
		errs = append(errs, err)
	}
	if err := errors.Join(errs...); err != nil {
		return op, fmt.Errorf("%s %s (%s): request: %w", req.Method, req.URL.Path, op.Key(), err)
	}
	return op, nil
}

func (s *Spec) validateParam(p param, raw string) error {
	var v any = raw
	switch p.typ {
	case "integer":
		n, err := strconv.ParseInt(raw, 10, 64)
		if err != nil {
			return fmt.Errorf("%s parameter %q: %q is not an integer", p.in, p.name, raw)
		}
		v = n
	case "number":
		f, err := strconv.ParseFloat(raw, 64)
		if err != nil {
			return fmt.Errorf("%s parameter %q: %q is not a number", p.in, p.name, raw)
		}
		v = f
	case "boolean":
		b, err := strconv.ParseBool(raw)
		if err != nil {
			return fmt.Errorf("%s parameter %q: %q is not a boolean", p.in, p.name, raw)
		}
		v = b
	}
	sch, err := s.schema(p.schema)
	if err != nil {
		return err
	}
	if err := sch.Validate(v); err != nil {
		return fmt.Errorf("%s parameter %q: %w", p.in, p.name, err)
	}
	return nil
}

type scheme struct {
	name, typ, in, scheme string
}

func (s *Spec) scheme(name string) (scheme, bool) {
	m, _, err := s.object("/components/securitySchemes/" + escape(name))
	if err != nil || m == nil {
		return scheme{}, false
	}
	sc := scheme{}
	sc.typ, _ = m["type"].(string)
	sc.in, _ = m["in"].(string)
	sc.name, _ = m["name"].(string)
	sc.scheme, _ = m["scheme"].(string)
	return sc, true
}

func (s *Spec) securitySchemes(op *Operation) []scheme {
	var out []scheme
	for _, req := range op.security {
		for name := range req {
			if sc, ok := s.scheme(name); ok {
				out = append(out, sc)
			}
		}
	}
	return out
}

// checkSecurity passes a request that carries every credential of at
// least one of the operation's security requirements (or the operation
// needs none). It checks that credentials are there and well placed, not
// that they verify: the server does that.
func (s *Spec) checkSecurity(op *Operation, req *http.Request) error {
	if len(op.security) == 0 {
		return nil
	}
	var missing []string
	for _, alt := range op.security {
		var lacks []string
		for name := range alt {
			sc, ok := s.scheme(name)
			if !ok {
				return fmt.Errorf("security scheme %q is not in components", name)
			}
			if !carries(sc, req) {
				lacks = append(lacks, name)
			}
		}
		if len(lacks) == 0 {
			return nil
		}
		slices.Sort(lacks)
		missing = append(missing, strings.Join(lacks, "+"))
	}
	return fmt.Errorf("no credential of any security requirement (missing %s)", strings.Join(missing, " | "))
}

func carries(sc scheme, req *http.Request) bool {
	switch {
	case sc.typ == "http" && strings.EqualFold(sc.scheme, "bearer"):
		kind, token, ok := strings.Cut(req.Header.Get("Authorization"), " ")
		return ok && strings.EqualFold(kind, "Bearer") && strings.TrimSpace(token) != ""
	case sc.typ == "apiKey" && sc.in == "header":
		return req.Header.Get(sc.name) != ""
	case sc.typ == "apiKey" && sc.in == "query":
		return req.URL.Query().Get(sc.name) != ""
	case sc.typ == "apiKey" && sc.in == "cookie":
		c, err := req.Cookie(sc.name)
		return err == nil && c.Value != ""
	}
	return false
}

func (s *Spec) checkRequestBody(op *Operation, req *http.Request, body []byte) error {
	rb, ok := op.raw["requestBody"].(map[string]any)
	if !ok {
		if len(body) > 0 {
			return fmt.Errorf("a body of %d bytes, but the operation takes none", len(body))
		}
		return nil
	}
	rb, ptr, err := s.deref(rb, op.pointer+"/requestBody")
	if err != nil {
		return err
	}
	if len(bytes.TrimSpace(body)) == 0 {
		if required, _ := rb["required"].(bool); required {
			return errors.New("the request body is required")
		}
		return nil
	}
	content, _ := rb["content"].(map[string]any)
	return s.checkContent(ptr+"/content", content, req.Header.Get("Content-Type"), body)
}

// checkContent validates body, declared as contentType, against the media
// types of a content map at ptr.
func (s *Spec) checkContent(ptr string, content map[string]any, contentType string, body []byte) error {
	mt, _, err := mime.ParseMediaType(contentType)
	if err != nil {
		return fmt.Errorf("Content-Type %q: %w", contentType, err)
	}
	media, ok := content[mt].(map[string]any)
	if !ok {
		declared := make([]string, 0, len(content))
		for k := range content {
			declared = append(declared, k)
		}
		slices.Sort(declared)
		return fmt.Errorf("Content-Type %q is not one of %q", contentType, declared)
	}
	if _, ok := media["schema"]; !ok {
		return nil
	}
	sch, err := s.schema(ptr + "/" + escape(mt) + "/schema")
	if err != nil {
		return err
	}
	var v any = string(body)
	if mt == "application/json" || strings.HasSuffix(mt, "+json") {
		if v, err = jsonschema.UnmarshalJSON(bytes.NewReader(body)); err != nil {
			return fmt.Errorf("body is not JSON: %w: %.200q", err, body)
		}
	}
	if err := sch.Validate(v); err != nil {
		return fmt.Errorf("body %.300s: %w", body, err)
	}
	return nil
}

// ValidateResponse checks a response of op: its status is documented, the
// documented required headers are there, and its body has a documented
// media type and matches its schema (or is empty when none is documented).
func (s *Spec) ValidateResponse(op *Operation, resp *http.Response, body []byte) error {
	err := s.validateResponse(op, resp, body)
	if err != nil {
		return fmt.Errorf("%s: response %d: %w", op.Key(), resp.StatusCode, err)
	}
	return nil
}

func (s *Spec) validateResponse(op *Operation, resp *http.Response, body []byte) error {
	responses, _ := op.raw["responses"].(map[string]any)
	code := strconv.Itoa(resp.StatusCode)
	key := ""
	for _, k := range []string{code, code[:1] + "XX", "default"} {
		if _, ok := responses[k]; ok {
			key = k
			break
		}
	}
	if key == "" {
		return fmt.Errorf("status %d is not documented: %.300s", resp.StatusCode, body)
	}
	r, ptr, err := s.deref(responses[key].(map[string]any), op.pointer+"/responses/"+key)
	if err != nil {
		return err
	}
	var errs []error
	headers, _ := r["headers"].(map[string]any)
	for name, h := range headers {
		hm, hptr, err := s.deref(h.(map[string]any), ptr+"/headers/"+escape(name))
		if err != nil {
			return err
		}
		values := resp.Header.Values(name)
		if required, _ := hm["required"].(bool); required && len(values) == 0 {
			errs = append(errs, fmt.Errorf("header %s is required", name))
			continue
		}
		if _, ok := hm["schema"]; !ok || strings.EqualFold(name, "Set-Cookie") {
			continue
		}
		sch, err := s.schema(hptr + "/schema")
		if err != nil {
			return err
		}
		for _, v := range values {
			if err := sch.Validate(v); err != nil {
				errs = append(errs, fmt.Errorf("header %s: %w", name, err))
			}
		}
	}
	content, _ := r["content"].(map[string]any)
	switch {
	case len(content) == 0 && len(body) > 0:
		errs = append(errs, fmt.Errorf("a body of %d bytes where none is documented", len(body)))
	case len(content) > 0:
		if err := s.checkContent(ptr+"/content", content, resp.Header.Get("Content-Type"), body); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// ValidateError checks an answer to a request no operation takes: the
// router's own 404 or 405, in the error envelope.
func (s *Spec) ValidateError(resp *http.Response, body []byte) error {
	if resp.StatusCode != http.StatusNotFound && resp.StatusCode != http.StatusMethodNotAllowed {
		return fmt.Errorf("undocumented route answered %d, want 404 or 405: %.300s", resp.StatusCode, body)
	}
	if mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type")); mt != "application/json" {
		return fmt.Errorf("undocumented route answered %q, want the JSON error envelope", resp.Header.Get("Content-Type"))
	}
	sch, err := s.schema("/components/schemas/Error")
	if err != nil {
		return err
	}
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(body))
	if err == nil {
		err = sch.Validate(v)
	}
	if err != nil {
		return fmt.Errorf("undocumented route's answer %.300s: %w", body, err)
	}
	return nil
}

type expectation int

const (
	expectValid expectation = iota
	expectInvalid
	expectUndocumented
)

type expectKey struct{}

// Invalid marks req as deliberately breaking the document (a missing
// token, a malformed body): the transport then asserts that the request
// does not validate, and still validates the response, which must be a
// documented refusal.
func Invalid(req *http.Request) *http.Request {
	return req.WithContext(context.WithValue(req.Context(), expectKey{}, expectInvalid))
}

// Undocumented marks req as aimed at no operation (a wrong method or path):
// the transport asserts that none matches and that the answer is the
// router's 404 or 405 in the error envelope.
func Undocumented(req *http.Request) *http.Request {
	return req.WithContext(context.WithValue(req.Context(), expectKey{}, expectUndocumented))
}

// Transport validates every exchange against the document and reports
// each mismatch with T.Errorf (the response is returned all the same, so a
// test sees every mismatch of a run, not only the first).
type Transport struct {
	T    testing.TB
	Spec *Spec
	// Base sends the requests; nil is http.DefaultTransport.
	Base http.RoundTripper
	// Skip exempts requests the API does not serve, such as CDN fetches of
	// the local edge; nil exempts nothing.
	Skip func(*http.Request) bool
}

// RoundTrip implements http.RoundTripper.
func (t *Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	base := t.Base
	if base == nil {
		base = http.DefaultTransport
	}
	if t.Skip != nil && t.Skip(req) {
		return base.RoundTrip(req)
	}
	var body []byte
	if req.Body != nil && req.Body != http.NoBody {
		var err error
		if body, err = io.ReadAll(req.Body); err != nil {
			return nil, err
		}
		_ = req.Body.Close()
		out := req.Clone(req.Context())
		out.Body = io.NopCloser(bytes.NewReader(body))
		out.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(body)), nil }
		out.ContentLength = int64(len(body))
		req = out
	}
	expect, _ := req.Context().Value(expectKey{}).(expectation)
	op, reqErr := t.Spec.ValidateRequest(req, body)
	switch {
	case expect == expectValid && reqErr != nil:
		t.T.Errorf("openapi: %v", reqErr)
	case expect == expectInvalid && reqErr == nil:
		t.T.Errorf("openapi: %s %s is marked invalid, but the document accepts it", req.Method, req.URL.Path)
	case expect == expectUndocumented && op != nil:
		t.T.Errorf("openapi: %s %s is marked undocumented, but operation %s takes it", req.Method, req.URL.Path, op.Key())
	}
	resp, err := base.RoundTrip(req)
	if err != nil {
		return resp, err
	}
	raw, err := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	if err != nil {
		return nil, err
	}
	resp.Body = io.NopCloser(bytes.NewReader(raw))
	switch {
	case op != nil:
		if err := t.Spec.ValidateResponse(op, resp, raw); err != nil {
			t.T.Errorf("openapi: %v", err)
		}
	case expect == expectUndocumented:
		if err := t.Spec.ValidateError(resp, raw); err != nil {
			t.T.Errorf("openapi: %v", err)
		}
	}
	return resp, nil
}

// Client is an http.Client whose every exchange is validated against the
// served document; mismatches fail t.
func Client(t testing.TB) *http.Client {
	t.Helper()
	spec, err := Load()
	if err != nil {
		t.Fatal(err)
	}
	return &http.Client{Transport: &Transport{T: t, Spec: spec}}
}
