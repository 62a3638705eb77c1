// Package openapi is the OpenAPI 3.1 description of every HTTP route
// (openapi.json): request and response bodies, parameters, the error
// envelope and the security schemes. The local runner serves it at
// GET /openapi.json; `make package` writes it to dist/openapi.json for the
// clouds (docs/openapi.md). Package openapitest validates the end-to-end
// tests' traffic against it, so it cannot drift from what is served.
package openapi

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"

	"github.com/playplane/playplane/events"
	"github.com/playplane/playplane/shared/httpx"
)

// Path is where the runner serves the document.
const Path = "/openapi.json"

//go:embed openapi.json
var source []byte

// Document is the served document: openapi.json with the schemas it
// borrows from events/schemas (a components schema that is only a $ref to
// events.SchemaBase) inlined, so it stands alone and those bodies have one
// source.
var Document = sync.OnceValues(func() ([]byte, error) {
	var doc map[string]any
	dec := json.NewDecoder(bytes.NewReader(source))
	dec.UseNumber()
	if err := dec.Decode(&doc); err != nil {
		return nil, fmt.Errorf("openapi.Document: %w", err)
	}
	components, _ := doc["components"].(map[string]any)
	schemas, _ := components["schemas"].(map[string]any)
	for name, s := range schemas {
		m, _ := s.(map[string]any)
		ref, _ := m["$ref"].(string)
		file, ok := strings.CutPrefix(ref, events.SchemaBase)
		if !ok || len(m) != 1 {
			continue
		}
		raw, err := events.Schemas.ReadFile("schemas/" + file)
		if err != nil {
			return nil, fmt.Errorf("openapi.Document: schema %s: %w", name, err)
		}
		var inlined map[string]any
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.UseNumber()
		if err := dec.Decode(&inlined); err != nil {
			return nil, fmt.Errorf("openapi.Document: schema %s: %w", name, err)
		}
		// Keeps its $id: an embedded schema resource, whose own "#/$defs/..."
		// references resolve against it.
		schemas[name] = inlined
	}
	out, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("openapi.Document: %w", err)
	}
	return append(out, '\n'), nil
})

// Handler serves the document. Any page may read it (it is public and
// carries no credentials), so tools such as Swagger UI can load it from
// another origin.
func Handler() http.Handler {
	return httpx.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
		doc, err := Document()
		if err != nil {
			return err
		}
		h := w.Header()
		h.Set("Content-Type", "application/json")
		h.Set("Access-Control-Allow-Origin", "*")
		h.Set("Cache-Control", "public, max-age=300")
		_, _ = w.Write(doc)
		return nil
	})
}
