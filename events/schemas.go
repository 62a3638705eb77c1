package events

import "embed"

// Schemas holds the JSON Schemas of schemas/, each with its $id under
// SchemaBase: the OpenAPI document (shared/openapi) inlines the request
// bodies among them rather than keeping a second copy.
//
//go:embed schemas/*.json
var Schemas embed.FS

// SchemaBase is the prefix of every schema's $id.
const SchemaBase = "https://playplane.dev/schemas/"
