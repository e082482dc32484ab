package bridge

import (
	"embed"
	"strings"
)

// The protocol's JSON Schemas (draft 2020-12), one per message; the same
// text is in docs/protocol.md. The decoder does not interpret them (it
// checks messages by hand, strictly); tests validate sample and live
// messages against them (testkit.ValidateSchema), so schema and code
// cannot drift.
//
//go:embed schemas/*.schema.json
var schemaFS embed.FS

// SchemaNames lists the embedded schemas ("request-hello", ...).
func SchemaNames() []string {
	ents, _ := schemaFS.ReadDir("schemas")
	var out []string
	for _, e := range ents {
		out = append(out, strings.TrimSuffix(e.Name(), ".schema.json"))
	}
	return out
}

// Schema returns the text of a schema.
func Schema(name string) ([]byte, error) {
	return schemaFS.ReadFile("schemas/" + name + ".schema.json")
}
