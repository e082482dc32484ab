package bridge

import (
	"bytes"
	"encoding/json"
	"reflect"
	"strings"
	"sync"
)

// encoding/json is lenient where the protocol is not: it fills Type from
// "TYPE" (member names are matched without regard to case) and, when an
// object names a member twice, keeps the last value. A caller could then
// send a message that two JSON parsers read differently (a proxy or a
// log reader taking the first "fields", the agent the last). strictMembers
// closes both holes after the decoder has accepted a message.

// memberError is a member name the protocol does not accept.
type memberError struct {
	name      string
	duplicate bool
}

func (e *memberError) Error() string {
	if e.duplicate {
		return "duplicate member " + quoteTrunc(e.name, 32)
	}
	return "unknown field " + quoteTrunc(e.name, 32)
}

func quoteTrunc(s string, n int) string {
	b, _ := json.Marshal(truncate(s, n))
	return string(b)
}

// strictMembers checks that every member of every object in data appears
// once, and that every member of an object decoded into a struct is
// spelt exactly as the struct's JSON name. data must be valid JSON (the
// decoder has accepted it); t is the type it was decoded into. Members of
// type json.RawMessage are skipped: they are decoded, and checked, later
// (the envelope's params by decodeParams).
func strictMembers(data []byte, t reflect.Type) error {
	s := jsonScanner{b: data}
	return s.value(typeShapeOf(t))
}

// shape is what strictMembers needs of a Go type: the member names of a
// struct and the shapes of their values, the element of a slice or map.
type shape struct {
	skip   bool              // json.RawMessage: not walked
	fields map[string]*shape // struct: exact JSON names; nil otherwise
	elem   *shape            // slice, array or map value
	closed bool              // a struct: unknown names are errors
}

var (
	anyShape   = &shape{}
	skipShape  = &shape{skip: true}
	rawMessage = reflect.TypeFor[json.RawMessage]()
	shapes     sync.Map // reflect.Type -> *shape
)

func typeShapeOf(t reflect.Type) *shape {
	if t == nil {
		return anyShape
	}
	if sh, ok := shapes.Load(t); ok {
		return sh.(*shape)
	}
	sh := buildShape(t, map[reflect.Type]*shape{})
	shapes.Store(t, sh)
	return sh
}

func buildShape(t reflect.Type, seen map[reflect.Type]*shape) *shape {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t == rawMessage {
		return skipShape
	}
	if sh, ok := seen[t]; ok {
		return sh
	}
	switch t.Kind() {
	case reflect.Struct:
		sh := &shape{closed: true, fields: map[string]*shape{}}
		seen[t] = sh
		for i := range t.NumField() {
			f := t.Field(i)
			if !f.IsExported() {
				continue
			}
			name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
			if name == "-" && f.Tag.Get("json") == "-" {
				continue
			}
			if name == "" {
				name = f.Name
			}
			sh.fields[name] = buildShape(f.Type, seen)
		}
		return sh
	case reflect.Slice, reflect.Array, reflect.Map:
		if t.Kind() == reflect.Slice && t.Elem().Kind() == reflect.Uint8 {
			return anyShape // []byte is a base64 string
		}
		sh := &shape{}
		seen[t] = sh
		sh.elem = buildShape(t.Elem(), seen)
		return sh
	}
	return anyShape
}

// jsonScanner walks valid JSON without building values.
type jsonScanner struct {
	b []byte
	i int
}

func (s *jsonScanner) ws() {
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case ' ', '\t', '\r', '\n':
			s.i++
		default:
			return
		}
	}
}

func (s *jsonScanner) value(sh *shape) error {
	s.ws()
	if s.i >= len(s.b) {
		return nil
	}
	switch s.b[s.i] {
	case '{':
		if sh.skip {
			s.skipValue()
			return nil
		}
		return s.object(sh)
	case '[':
		if sh.skip {
			s.skipValue()
			return nil
		}
		return s.array(sh)
	case '"':
		s.skipString()
	default:
		s.skipScalar()
	}
	return nil
}

func (s *jsonScanner) object(sh *shape) error {
	s.i++ // {
	var keys []string
	var seen map[string]bool
	for {
		s.ws()
		if s.i >= len(s.b) || s.b[s.i] == '}' {
			s.i++
			return nil
		}
		if s.b[s.i] == ',' {
			s.i++
			s.ws()
		}
		start := s.i
		s.skipString()
		key := s.b[start+1 : s.i-1]
		var name string
		if bytes.IndexByte(key, '\\') < 0 {
			name = string(key)
		} else if json.Unmarshal(s.b[start:s.i], &name) != nil {
			return &memberError{name: string(key)}
		}
		// Objects are small; past a few members a map keeps a hostile
		// object of thousands of members linear.
		if seen != nil {
			if seen[name] {
				return &memberError{name: name, duplicate: true}
			}
			seen[name] = true
		} else {
			for _, k := range keys {
				if k == name {
					return &memberError{name: name, duplicate: true}
				}
			}
			keys = append(keys, name)
			if len(keys) > 16 {
				seen = make(map[string]bool, 2*len(keys))
				for _, k := range keys {
					seen[k] = true
				}
			}
		}
		next := anyShape
		switch {
		case sh.closed:
			f, ok := sh.fields[name]
			if !ok {
				return &memberError{name: name}
			}
			next = f
		case sh.elem != nil:
			next = sh.elem
		}
		s.ws()
		s.i++ // :
		if err := s.value(next); err != nil {
			return err
		}
	}
}

func (s *jsonScanner) array(sh *shape) error {
	s.i++ // [
	next := anyShape
	if sh.elem != nil {
		next = sh.elem
	}
	for {
		s.ws()
		if s.i >= len(s.b) || s.b[s.i] == ']' {
			s.i++
			return nil
		}
		if s.b[s.i] == ',' {
			s.i++
		}
		if err := s.value(next); err != nil {
			return err
		}
	}
}

// skipString moves past the string starting at s.i.
func (s *jsonScanner) skipString() {
	s.i++ // opening quote
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case '\\':
			s.i += 2
			continue
		case '"':
			s.i++
			return
		}
		s.i++
	}
}

func (s *jsonScanner) skipScalar() {
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case ',', '}', ']', ' ', '\t', '\r', '\n':
			return
		}
		s.i++
	}
}

// skipValue moves past the object or array starting at s.i.
func (s *jsonScanner) skipValue() {
	depth := 0
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case '"':
			s.skipString()
			continue
		case '{', '[':
			depth++
		case '}', ']':
			depth--
			if depth == 0 {
				s.i++
				return
			}
		}
		s.i++
	}
}
