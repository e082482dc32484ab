package testkit

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"regexp"
	"slices"
	"unicode/utf8"
)

// ValidateSchema checks the JSON document doc against the schema that
// schemas returns for name (bridge.Schema for the protocol's). It
// implements the subset of JSON Schema (draft 2020-12) the protocol's
// schemas use: type, const, enum, properties, required,
// additionalProperties (boolean), items, minItems, maxItems, minLength,
// maxLength, pattern, minimum, maximum, oneOf. Any other keyword in a
// schema is an error, so a schema cannot silently use something this
// validator ignores.
//
// The lookup is a parameter rather than an import of bridge so that
// testkit stays a leaf (no cgo, no cycle with the tests of the packages
// bridge imports).
func ValidateSchema(schemas func(name string) ([]byte, error), name string, doc []byte) error {
	b, err := schemas(name)
	if err != nil {
		return err
	}
	var s map[string]any
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("schema %s: %v", name, err)
	}
	d := json.NewDecoder(bytes.NewReader(doc))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		return fmt.Errorf("not JSON: %v", err)
	}
	return validate(s, v, "$")
}

var annotations = map[string]bool{"$schema": true, "$id": true, "title": true, "description": true}

func validate(s map[string]any, v any, at string) error {
	for k := range s {
		if annotations[k] {
			continue
		}
		switch k {
		case "type", "const", "enum", "properties", "required", "additionalProperties", "items",
			"minItems", "maxItems", "minLength", "maxLength", "pattern", "minimum", "maximum", "oneOf":
		default:
			return fmt.Errorf("%s: unsupported schema keyword %q", at, k)
		}
	}
	if t, ok := s["type"]; ok {
		var types []string
		switch x := t.(type) {
		case string:
			types = []string{x}
		case []any:
			for _, y := range x {
				types = append(types, y.(string))
			}
		}
		if !slices.ContainsFunc(types, func(t string) bool { return hasType(v, t) }) {
			return fmt.Errorf("%s: want %v", at, types)
		}
	}
	if c, ok := s["const"]; ok && !jsonEqual(c, v) {
		return fmt.Errorf("%s: want %v", at, c)
	}
	if e, ok := s["enum"].([]any); ok && !slices.ContainsFunc(e, func(x any) bool { return jsonEqual(x, v) }) {
		return fmt.Errorf("%s: %v not in enum", at, v)
	}
	if one, ok := s["oneOf"].([]any); ok {
		n := 0
		for _, sub := range one {
			if validate(sub.(map[string]any), v, at) == nil {
				n++
			}
		}
		if n != 1 {
			return fmt.Errorf("%s: matches %d of oneOf", at, n)
		}
	}
	switch x := v.(type) {
	case string:
		n := float64(utf8.RuneCountInString(x))
		if m, ok := num(s["minLength"]); ok && n < m {
			return fmt.Errorf("%s: shorter than %v", at, m)
		}
		if m, ok := num(s["maxLength"]); ok && n > m {
			return fmt.Errorf("%s: longer than %v", at, m)
		}
		if p, ok := s["pattern"].(string); ok {
			re, err := regexp.Compile(p)
			if err != nil {
				return fmt.Errorf("%s: bad pattern: %v", at, err)
			}
			if !re.MatchString(x) {
				return fmt.Errorf("%s: does not match %s", at, p)
			}
		}
	case json.Number:
		f, _ := x.Float64()
		if m, ok := num(s["minimum"]); ok && f < m {
			return fmt.Errorf("%s: below %v", at, m)
		}
		if m, ok := num(s["maximum"]); ok && f > m {
			return fmt.Errorf("%s: above %v", at, m)
		}
	case []any:
		if m, ok := num(s["minItems"]); ok && float64(len(x)) < m {
			return fmt.Errorf("%s: fewer than %v items", at, m)
		}
		if m, ok := num(s["maxItems"]); ok && float64(len(x)) > m {
			return fmt.Errorf("%s: more than %v items", at, m)
		}
		if it, ok := s["items"].(map[string]any); ok {
			for i, y := range x {
				if err := validate(it, y, fmt.Sprintf("%s[%d]", at, i)); err != nil {
					return err
				}
			}
		}
	case map[string]any:
		props, _ := s["properties"].(map[string]any)
		for _, r := range asList(s["required"]) {
			if _, ok := x[r]; !ok {
				return fmt.Errorf("%s: missing %q", at, r)
			}
		}
		for k, y := range x {
			sub, ok := props[k].(map[string]any)
			if !ok {
				if ap, ok := s["additionalProperties"].(bool); ok && !ap {
					return fmt.Errorf("%s: unexpected member %q", at, k)
				}
				continue
			}
			if err := validate(sub, y, at+"."+k); err != nil {
				return err
			}
		}
	}
	return nil
}

func asList(v any) []string {
	l, _ := v.([]any)
	var out []string
	for _, x := range l {
		out = append(out, x.(string))
	}
	return out
}

func num(v any) (float64, bool) {
	f, ok := v.(float64)
	return f, ok
}

func hasType(v any, t string) bool {
	switch t {
	case "object":
		_, ok := v.(map[string]any)
		return ok
	case "array":
		_, ok := v.([]any)
		return ok
	case "string":
		_, ok := v.(string)
		return ok
	case "boolean":
		_, ok := v.(bool)
		return ok
	case "null":
		return v == nil
	case "number":
		_, ok := v.(json.Number)
		return ok
	case "integer":
		n, ok := v.(json.Number)
		if !ok {
			return false
		}
		f, err := n.Float64()
		return err == nil && f == math.Trunc(f)
	}
	return false
}

// jsonEqual compares a schema value (float64 numbers) with a document
// value (json.Number).
func jsonEqual(a, b any) bool {
	if n, ok := b.(json.Number); ok {
		f, _ := n.Float64()
		b = f
	}
	switch a.(type) {
	case string, bool, float64, nil:
		return a == b
	default:
		ab, _ := json.Marshal(a)
		bb, _ := json.Marshal(b)
		return bytes.Equal(ab, bb)
	}
}
