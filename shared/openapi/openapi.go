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
	"strings"
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
// records the admin API reads and writes), written there as the
// components entry "Name": {"$ref": "<$id>"}, replaced by the schema
// itself, so that it stands alone and those bodies have one source. A
// tool reading the document resolves "#/..." in it, but not every one
// honours an embedded $id (some fetch the URL instead), so an inlined
// schema loses its $id and $schema, and every reference into it, its own
// "#/$defs/..." ones and "<$id>#/..." elsewhere, becomes a JSON pointer
// into its components entry. StoredAccount is written here too, from the
// catalogue's account. The replacement is textual, keeping the file's
// order and layout.
var Document = sync.OnceValues(func() ([]byte, error) {
	var errs []error
	component := map[string]string{} // inlined file -> its components entry
	out := borrowed.ReplaceAllFunc(source, func(entry []byte) []byte {
		m := borrowed.FindSubmatch(entry)
		name, file := string(m[1]), string(m[2])
		raw, err := catalogfile.SchemaJSON, error(nil)
		if events.SchemaBase+file != catalogfile.SchemaID {
			raw, err = events.Schemas.ReadFile("schemas/" + file)
		}
		if err != nil {
			errs = append(errs, err)
			return entry
		}
		component[file] = name
		inlined := resourceKeys.ReplaceAll(bytes.TrimSpace(raw), nil)
		return append([]byte(`"`+name+`": `), pointInto(inlined, name)...)
	})
	out = into.ReplaceAllFunc(out, func(ref []byte) []byte {
		m := into.FindSubmatch(ref)
		name, ok := component[string(m[1])]
		if !ok {
			errs = append(errs, fmt.Errorf("%s: the document inlines no such schema", ref))
			return ref
		}
		return []byte(`"$ref": "#/components/schemas/` + name + string(m[2]) + `"`)
	})
	stored, err := storedAccount(component[catalogueFile])
	if err != nil {
		errs = append(errs, err)
	}
	out = storedAccountEntry.ReplaceAllLiteral(out, append([]byte(`"StoredAccount": `), stored...))
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("openapi.Document: %w", err)
	}
	if !json.Valid(out) {
		return nil, errors.New("openapi.Document: not valid JSON")
	}
	return out, nil
})

var (
	schemaBase = regexp.QuoteMeta(events.SchemaBase)
	// borrowed matches a components entry that is a schema of
	// events/schemas or the catalogue file's.
	borrowed = regexp.MustCompile(`"([A-Za-z0-9._-]+)": \{"\$ref": "` + schemaBase + `([a-z0-9.-]+\.json)"\}`)
	// into matches a reference into one of them, by its $id and a fragment.
	into = regexp.MustCompile(`"\$ref": "` + schemaBase + `([a-z0-9.-]+\.json)#(/[^"]*)"`)
	// local matches an inlined schema's reference into itself.
	local = regexp.MustCompile(`"\$ref":\s*"#(/[^"]*)"`)
	// resourceKeys matches the root members that make an inlined schema a
	// resource of its own (only a resource's root has them).
	resourceKeys = regexp.MustCompile(`"\$(?:schema|id)": "[^"]*",\s*`)
	// storedAccountEntry is openapi.json's place for StoredAccount.
	storedAccountEntry = regexp.MustCompile(`"StoredAccount": \{"\$comment": "(?:[^"\\]|\\.)*"\}`)
)

// catalogueFile is the catalogue schema's name under events.SchemaBase.
var catalogueFile = strings.TrimPrefix(catalogfile.SchemaID, events.SchemaBase)

// pointInto rewrites schema's references into itself ("#/...") as JSON
// pointers into the components entry name that holds it.
func pointInto(schema []byte, name string) []byte {
	return local.ReplaceAll(schema, []byte(`"$$ref": "#/components/schemas/`+name+`${1}"`))
}

// storedAccount is the schema of an account as the admin API answers it:
// the catalogue's account (whose plan_id takes "", as a checkout stores
// it until its subscription's events name a plan), described as an
// answer. catalogue is the components entry that inlines the catalogue
// schema.
func storedAccount(catalogue string) ([]byte, error) {
	if catalogue == "" {
		return nil, errors.New("openapi.json inlines no catalogue schema")
	}
	var sch struct {
		Defs struct {
			Account map[string]any `json:"account"`
		} `json:"$defs"`
	}
	if err := json.Unmarshal(catalogfile.SchemaJSON, &sch); err != nil {
		return nil, err
	}
	if sch.Defs.Account == nil {
		return nil, errors.New("the catalogue has no account")
	}
	sch.Defs.Account["description"] = "An account as stored: its settings (plan_id \"\" while a checkout's account waits for its subscription's events to name a plan) and, marked readOnly, the members the server owns (devices, the payment provider's subscriptions...). A GET body may be written back as it is: a PUT or PATCH ignores the readOnly members and keeps the stored ones."
	raw, err := json.Marshal(sch.Defs.Account)
	if err != nil {
		return nil, err
	}
	return pointInto(raw, catalogue), nil
}

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
