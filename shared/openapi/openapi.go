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
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"sync"

	"github.com/playplane/playplane/events"
	"github.com/playplane/playplane/shared/catalogfile"
	"github.com/playplane/playplane/shared/httpx"
)

// Path is where the runner serves the document.
const Path = "/openapi.json"

//go:embed openapi.json
var source []byte

// Document is the served document: openapi.json with each schema it
// borrows from events/schemas, and the catalogue file's schema (whose
// records the admin API reads and writes), written there as
// {"$ref": "<$id>"}, replaced by the schema itself, so that it stands
// alone and those bodies have one source. The replacement is textual,
// keeping the file's order and layout.
var Document = sync.OnceValues(func() ([]byte, error) {
	var errs []error
	out := borrowed.ReplaceAllFunc(source, func(ref []byte) []byte {
		file := string(borrowed.FindSubmatch(ref)[1])
		raw, err := catalogfile.SchemaJSON, error(nil)
		if events.SchemaBase+file != catalogfile.SchemaID {
			raw, err = events.Schemas.ReadFile("schemas/" + file)
		}
		if err != nil {
			errs = append(errs, err)
			return ref
		}
		// Keeps its $id: an embedded schema resource, whose own
		// "#/$defs/..." references resolve against it.
		return bytes.TrimSpace(raw)
	})
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("openapi.Document: %w", err)
	}
	if !json.Valid(out) {
		return nil, errors.New("openapi.Document: not valid JSON")
	}
	return out, nil
})

// borrowed matches a reference to a schema of events/schemas or to the
// catalogue file's (a reference into one, with a fragment, stays).
var borrowed = regexp.MustCompile(`\{"\$ref": "` + regexp.QuoteMeta(events.SchemaBase) + `([a-z0-9.-]+\.json)"\}`)

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
