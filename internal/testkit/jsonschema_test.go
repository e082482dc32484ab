package testkit

import (
	"errors"
	"io/fs"
	"strings"
	"testing"
)

// The protocol's schemas exercise the validator through the bridge tests;
// these pin the keywords one at a time, and the refusal of a keyword it
// does not implement.
func TestValidateSchema(t *testing.T) {
	schemas := map[string]string{
		"obj": `{"type":"object","required":["id"],"additionalProperties":false,
			"properties":{"id":{"type":"integer","minimum":1,"maximum":9},
			"name":{"type":"string","minLength":2,"maxLength":4,"pattern":"^[a-z]+$"},
			"kind":{"enum":["a","b"]},"v":{"const":1},
			"list":{"type":"array","minItems":1,"maxItems":2,"items":{"type":["string","null"]}},
			"either":{"oneOf":[{"type":"string"},{"type":"number"},{"type":"integer"}]}}}`,
		"open":    `{"$schema":"x","title":"t","type":"object","properties":{"b":{"type":"boolean"}}}`,
		"unknown": `{"type":"object","format":"date"}`,
		"broken":  `{"type":`,
	}
	lookup := func(name string) ([]byte, error) {
		s, ok := schemas[name]
		if !ok {
			return nil, fs.ErrNotExist
		}
		return []byte(s), nil
	}
	for _, tc := range []struct {
		schema, doc string
		err         string // "" when the document is valid
	}{
		{"obj", `{"id":1}`, ""},
		{"obj", `{"id":9,"name":"abc","kind":"b","v":1,"list":["x",null],"either":"s"}`, ""},
		{"obj", `{}`, `missing "id"`},
		{"obj", `{"id":1,"x":0}`, `unexpected member "x"`},
		{"obj", `{"id":1.5}`, "want [integer]"},
		{"obj", `{"id":0}`, "below 1"},
		{"obj", `{"id":10}`, "above 9"},
		{"obj", `{"id":1,"name":"a"}`, "shorter than 2"},
		{"obj", `{"id":1,"name":"abcde"}`, "longer than 4"},
		{"obj", `{"id":1,"name":"ABC"}`, "does not match"},
		{"obj", `{"id":1,"kind":"c"}`, "not in enum"},
		{"obj", `{"id":1,"v":2}`, "want 1"},
		{"obj", `{"id":1,"list":[]}`, "fewer than 1 items"},
		{"obj", `{"id":1,"list":["a","b","c"]}`, "more than 2 items"},
		{"obj", `{"id":1,"list":[1]}`, "$.list[0]: want [string null]"},
		{"obj", `{"id":1,"either":2}`, "matches 2 of oneOf"}, // an integer is a number too
		{"obj", `{"id":1,"either":true}`, "matches 0 of oneOf"},
		{"obj", `[1]`, "want [object]"},
		{"obj", `{"id":`, "not JSON"},
		{"open", `{"b":true,"other":1}`, ""},
		{"open", `{"b":"yes"}`, "$.b: want [boolean]"},
		{"unknown", `{}`, `unsupported schema keyword "format"`},
		{"broken", `{}`, "schema broken"},
	} {
		err := ValidateSchema(lookup, tc.schema, []byte(tc.doc))
		switch {
		case tc.err == "" && err != nil:
			t.Errorf("%s %s: %v, want valid", tc.schema, tc.doc, err)
		case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)):
			t.Errorf("%s %s: %v, want an error with %q", tc.schema, tc.doc, err, tc.err)
		}
	}
	if err := ValidateSchema(lookup, "absent", []byte(`{}`)); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("absent schema: %v, want the lookup's error", err)
	}
}
