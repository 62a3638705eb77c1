package openapi_test

import (
	"bytes"
	"encoding/json"
	"maps"
	"net/http"
	"net/http/httptest"
	"os"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/playplane/playplane/events"
	"github.com/playplane/playplane/shared/catalogfile"
	"github.com/playplane/playplane/shared/openapi"
	"github.com/playplane/playplane/shared/playback"
)

const metaSchema = "testdata/oas-3.1/schema-2022-10-07.json"

// TestDocumentIsOpenAPI31 validates the served document against the
// official OpenAPI 3.1 schema (vendored, testdata/oas-3.1), with formats
// asserted. That schema leaves Schema Objects to the dialect; the
// validating client compiles every one of them (openapitest).
func TestDocumentIsOpenAPI31(t *testing.T) {
	t.Parallel()
	doc, err := openapi.Document()
	if err != nil {
		t.Fatal(err)
	}
	meta := compileMeta(t)
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(doc))
	if err != nil {
		t.Fatal(err)
	}
	if err := meta.Validate(inst); err != nil {
		t.Fatalf("openapi.json is not an OpenAPI 3.1 document: %v", err)
	}
}

// TestMetaSchemaRefusesABrokenDocument: the check above can fail.
func TestMetaSchemaRefusesABrokenDocument(t *testing.T) {
	t.Parallel()
	meta := compileMeta(t)
	for _, tc := range []struct{ name, doc string }{
		{"OpenAPI 3.0", `{"openapi":"3.0.3","info":{"title":"x","version":"1"},"paths":{}}`},
		{"no info", `{"openapi":"3.1.0","paths":{}}`},
		{"response without description", `{"openapi":"3.1.0","info":{"title":"x","version":"1"},"paths":{"/a":{"get":{"responses":{"200":{}}}}}}`},
		{"path parameter not required", `{"openapi":"3.1.0","info":{"title":"x","version":"1"},"paths":{"/a/{id}":{"get":{"parameters":[{"name":"id","in":"path","schema":{"type":"string"}}],"responses":{"200":{"description":"ok"}}}}}}`},
		{"unknown security scheme type", `{"openapi":"3.1.0","info":{"title":"x","version":"1"},"paths":{},"components":{"securitySchemes":{"k":{"type":"password"}}}}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			inst, err := jsonschema.UnmarshalJSON(bytes.NewReader([]byte(tc.doc)))
			if err != nil {
				t.Fatal(err)
			}
			if meta.Validate(inst) == nil {
				t.Fatalf("the OpenAPI 3.1 schema accepted %s", tc.doc)
			}
		})
	}
}

func compileMeta(t *testing.T) *jsonschema.Schema {
	t.Helper()
	f, err := os.Open(metaSchema)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	raw, err := jsonschema.UnmarshalJSON(f)
	if err != nil {
		t.Fatal(err)
	}
	c := jsonschema.NewCompiler()
	c.AssertFormat()
	const id = "https://spec.openapis.org/oas/3.1/schema/2022-10-07"
	if err := c.AddResource(id, raw); err != nil {
		t.Fatal(err)
	}
	meta, err := c.Compile(id)
	if err != nil {
		t.Fatal(err)
	}
	return meta
}

// TestDocumentInlinesTheEventSchemas: the heartbeat and edge report bodies
// are events/schemas' files, and the admin API's accounts and edges the
// catalogue file's records, not copies that could drift from them.
func TestDocumentInlinesTheEventSchemas(t *testing.T) {
	t.Parallel()
	raw, err := openapi.Document()
	if err != nil {
		t.Fatal(err)
	}
	// References into an inlined schema (by its $id and a fragment) stay.
	if regexp.MustCompile(`"\$ref": "` + regexp.QuoteMeta(events.SchemaBase) + `[^"#]*"`).Match(raw) {
		t.Error("a reference to events/schemas or the catalogue schema was left in the document")
	}
	var doc struct {
		Components struct {
			Schemas map[string]json.RawMessage `json:"schemas"`
		} `json:"components"`
	}
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	for name, file := range map[string]string{"HeartbeatRequest": "heartbeat-request.json", "EdgeReport": "edge-health-report.json"} {
		want, err := events.Schemas.ReadFile("schemas/" + file)
		if err != nil {
			t.Fatal(err)
		}
		if !jsonEqual(t, doc.Components.Schemas[name], inlined(t, want, name)) {
			t.Errorf("components.schemas.%s is not events/schemas/%s:\n%s", name, file, doc.Components.Schemas[name])
		}
	}
	if !jsonEqual(t, doc.Components.Schemas["CatalogueFile"], inlined(t, catalogfile.SchemaJSON, "CatalogueFile")) {
		t.Errorf("components.schemas.CatalogueFile is not the catalogue file's schema:\n%s", doc.Components.Schemas["CatalogueFile"])
	}
	// A stored account is the catalogue's, but for its description.
	var stored map[string]any
	if err := json.Unmarshal(doc.Components.Schemas["StoredAccount"], &stored); err != nil {
		t.Fatal(err)
	}
	var catalogue struct {
		Defs map[string]map[string]any `json:"$defs"`
	}
	if err := json.Unmarshal(inlined(t, catalogfile.SchemaJSON, "CatalogueFile"), &catalogue); err != nil {
		t.Fatal(err)
	}
	want := catalogue.Defs["account"]
	for _, m := range []map[string]any{stored, want} {
		delete(m, "description")
	}
	if !reflect.DeepEqual(stored, want) {
		t.Errorf("StoredAccount is not the catalogue's account:\n%v\n%v", stored, want)
	}
}

// inlined is schema as the document holds it in its components entry
// name: without the members that make it a resource of its own, its
// references into itself made JSON pointers into the entry.
func inlined(t *testing.T, schema []byte, name string) []byte {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(schema, &m); err != nil {
		t.Fatal(err)
	}
	delete(m, "$schema")
	delete(m, "$id")
	var walk func(v any)
	walk = func(v any) {
		switch v := v.(type) {
		case map[string]any:
			if ref, ok := v["$ref"].(string); ok && strings.HasPrefix(ref, "#/") {
				v["$ref"] = "#/components/schemas/" + name + ref[1:]
			}
			for _, e := range v {
				walk(e)
			}
		case []any:
			for _, e := range v {
				walk(e)
			}
		}
	}
	walk(m)
	out, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func jsonEqual(t *testing.T, a, b []byte) bool {
	t.Helper()
	var x, y any
	if err := json.Unmarshal(a, &x); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &y); err != nil {
		t.Fatal(err)
	}
	xa, _ := json.Marshal(x)
	ya, _ := json.Marshal(y)
	return bytes.Equal(xa, ya)
}

func TestHandlerServesTheDocument(t *testing.T) {
	t.Parallel()
	rec := httptest.NewRecorder()
	openapi.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, openapi.Path, nil))
	want, _ := openapi.Document()
	if rec.Code != http.StatusOK || rec.Header().Get("Content-Type") != "application/json" ||
		rec.Header().Get("Access-Control-Allow-Origin") != "*" || !bytes.Equal(rec.Body.Bytes(), want) {
		t.Fatalf("%d %v %.100s", rec.Code, rec.Header(), rec.Body)
	}
}

// TestEndReasonsAreTheDomains: the 410's end_reason enum is exactly the
// reasons the domain can name (playback.EndReasons), so a new reason
// cannot reach players undocumented, nor the document list one that is
// never sent.
func TestEndReasonsAreTheDomains(t *testing.T) {
	t.Parallel()
	raw, err := openapi.Document()
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Components struct {
			Schemas struct {
				EndDetails struct {
					Properties struct {
						EndReason struct {
							Enum []string `json:"enum"`
						} `json:"end_reason"`
					} `json:"properties"`
				} `json:"EndDetails"`
			} `json:"schemas"`
		} `json:"components"`
	}
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	got, want := slices.Sorted(slices.Values(doc.Components.Schemas.EndDetails.Properties.EndReason.Enum)), slices.Sorted(slices.Values(playback.EndReasons))
	if !slices.Equal(got, want) {
		t.Errorf("EndDetails.end_reason enum %v, want playback.EndReasons %v", got, want)
	}
}

// TestRefusalsAreTheDomains: the reasons the document lists for a
// refusal are exactly the domain's list of them: the play's 403
// (DeviceLimitError's and PlayForbidden's enum, playback.PlayRefusals)
// a personalized manifest's 404 (ManifestNotFound's,
// playback.ManifestNotFounds) and a re-authorization's 410
// (ReauthorizationGone's, playback.ReauthorizationGones), so a player switching on them meets no
// reason the document does not name, and the document names none that is
// never sent.
func TestRefusalsAreTheDomains(t *testing.T) {
	t.Parallel()
	raw, err := openapi.Document()
	if err != nil {
		t.Fatal(err)
	}
	type reason struct {
		Const string   `json:"const"`
		Enum  []string `json:"enum"`
	}
	type errorOf struct {
		Properties struct {
			Error struct {
				Properties struct {
					Reason reason `json:"reason"`
				} `json:"properties"`
			} `json:"error"`
		} `json:"properties"`
	}
	type branch struct {
		Ref string `json:"$ref"`
		errorOf
	}
	var doc struct {
		Components struct {
			Responses map[string]struct {
				Content struct {
					JSON struct {
						Schema struct {
							AnyOf []branch `json:"anyOf"`
							branch
						} `json:"schema"`
					} `json:"application/json"`
				} `json:"content"`
			} `json:"responses"`
			Schemas map[string]errorOf `json:"schemas"`
		} `json:"components"`
	}
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		response string
		want     []string
	}{
		{"PlayForbidden", playback.PlayRefusals},
		{"ManifestNotFound", playback.ManifestNotFounds},
		{"ReauthorizationGone", playback.ReauthorizationGones},
	} {
		t.Run(tc.response, func(t *testing.T) {
			t.Parallel()
			schema := doc.Components.Responses[tc.response].Content.JSON.Schema
			branches := schema.AnyOf
			if len(branches) == 0 {
				branches = []branch{schema.branch}
			}
			var got []string
			for _, b := range branches {
				r := b.Properties.Error.Properties.Reason
				if name, ok := strings.CutPrefix(b.Ref, "#/components/schemas/"); ok && name != "Error" {
					r = doc.Components.Schemas[name].Properties.Error.Properties.Reason
				}
				if r.Const == "" && len(r.Enum) == 0 {
					t.Fatalf("%s: schema %q names no reason by const or enum", tc.response, b.Ref)
				}
				got = append(append(got, r.Enum...), r.Const)
			}
			got = slices.DeleteFunc(slices.Sorted(slices.Values(got)), func(s string) bool { return s == "" })
			if want := slices.Sorted(slices.Values(tc.want)); !slices.Equal(got, want) {
				t.Errorf("%s's reasons %v, want the domain's %v", tc.response, got, want)
			}
		})
	}
}

// TestCallerListsAnswerAlike: GET /v1/sessions and GET /v1/devices, the
// caller's account's lists, declare the same answers: an account with
// nothing (or not stored yet) lists nothing, 200, never 404.
func TestCallerListsAnswerAlike(t *testing.T) {
	t.Parallel()
	raw, err := openapi.Document()
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Paths map[string]map[string]struct {
			Responses map[string]json.RawMessage `json:"responses"`
		} `json:"paths"`
	}
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	statuses := func(path string) []string {
		return slices.Sorted(maps.Keys(doc.Paths[path]["get"].Responses))
	}
	sessions, devices := statuses("/v1/sessions"), statuses("/v1/devices")
	if !slices.Equal(sessions, devices) || slices.Contains(devices, "404") {
		t.Fatalf("GET /v1/sessions answers %v, GET /v1/devices %v: want the same, without 404", sessions, devices)
	}
}

// TestDocumentStandsAlone: every reference in the served document is a
// JSON pointer from its root, and no schema in it sets a base URI of its
// own ($id), so a tool that resolves "#/..." in the document alone (not
// every OpenAPI tool honours an embedded $id: they fetch the URL) reads
// it whole. Before, the admin API's accounts and edges referred to the
// catalogue schema by its $id and a fragment, and the inlined schemas'
// own "#/$defs/..." references resolved only against their $id.
func TestDocumentStandsAlone(t *testing.T) {
	t.Parallel()
	raw, err := openapi.Document()
	if err != nil {
		t.Fatal(err)
	}
	var doc any
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	resolves := func(ref string) bool {
		if !strings.HasPrefix(ref, "#/") {
			return false
		}
		cur := doc
		for _, tok := range strings.Split(ref[2:], "/") {
			m, ok := cur.(map[string]any)
			if !ok {
				return false
			}
			if cur, ok = m[strings.ReplaceAll(strings.ReplaceAll(tok, "~1", "/"), "~0", "~")]; !ok {
				return false
			}
		}
		_, ok := cur.(map[string]any)
		return ok
	}
	var walk func(v any, at string)
	walk = func(v any, at string) {
		switch v := v.(type) {
		case map[string]any:
			for _, k := range slices.Sorted(maps.Keys(v)) {
				switch ref, _ := v[k].(string); {
				case k == "$ref" && !resolves(ref):
					t.Errorf("%s: $ref %q is not a JSON pointer that resolves in the document", at, ref)
				case k == "$id" && strings.HasPrefix(at, "/components/schemas/"):
					t.Errorf("%s: $id %q sets a base URI of its own", at, ref)
				}
				walk(v[k], at+"/"+k)
			}
		case []any:
			for i, e := range v {
				walk(e, at+"/"+strconv.Itoa(i))
			}
		}
	}
	walk(doc, "")
}

// TestPageCursorsAreLeftOutAfterTheLastPage: the Go pages leave `next` out
// after the last page (omitempty on playback.RecordPage and AuditPage),
// and the document says so, to the reader (description) and to a
// validating client (minLength: an empty cursor is never sent).
func TestPageCursorsAreLeftOutAfterTheLastPage(t *testing.T) {
	t.Parallel()
	raw, err := openapi.Document()
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Components struct {
			Schemas map[string]struct {
				Required   []string `json:"required"`
				Properties map[string]struct {
					Description string `json:"description"`
					MinLength   int    `json:"minLength"`
				} `json:"properties"`
			} `json:"schemas"`
		} `json:"components"`
	}
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		last any // the last page as the store answers it
	}{
		{name: "AdminRecordPage", last: playback.RecordPage{Records: []playback.Record{}}},
		{name: "AuditPage", last: playback.AuditPage{Records: []playback.AuditRecord{}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			served, err := json.Marshal(tc.last)
			if err != nil {
				t.Fatal(err)
			}
			if bytes.Contains(served, []byte(`"next"`)) {
				t.Fatalf("the last page %s names next", served)
			}
			s := doc.Components.Schemas[tc.name]
			next, ok := s.Properties["next"]
			if !ok || slices.Contains(s.Required, "next") {
				t.Fatalf("%s: next %+v, required %v: want an optional next", tc.name, next, s.Required)
			}
			if !strings.Contains(next.Description, "omitted after the last page") || next.MinLength != 1 {
				t.Fatalf("%s.next = %+v: want minLength 1 and a description saying it is omitted after the last page", tc.name, next)
			}
		})
	}
}
