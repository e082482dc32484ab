package bridge

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"unicode/utf8"
)

// ProtocolVersion is the protocol this bridge speaks; hello negotiates it.
const ProtocolVersion = 1

// Request is a client message: {"id": string|number, "type": "...", "params": {...}}.
type Request struct {
	ID     json.RawMessage `json:"id"`
	Type   string          `json:"type"`
	Params json.RawMessage `json:"params,omitempty"`
}

// Response answers one Request: exactly one of Result and Error is set.
// ID is null when the request was too broken to have one.
type Response struct {
	ID     json.RawMessage `json:"id"`
	Result any             `json:"result,omitempty"`
	Error  *Error          `json:"error,omitempty"`
}

// Event is pushed by the server without a request.
type Event struct {
	Event string `json:"event"`
	Data  any    `json:"data"`
}

var (
	nullID       = json.RawMessage("null")
	envelopeType = reflect.TypeFor[envelope]()
)

const maxIDLength = 64

// envelope is the request as decoded in one pass; unknown members are
// refused by the decoder.
type envelope struct {
	ID     json.RawMessage `json:"id"`
	Type   json.RawMessage `json:"type"`
	Params json.RawMessage `json:"params"`
}

// DecodeRequest parses one text message strictly. It never panics and
// always returns an ID usable in the error reply (null when the message
// had no valid id), so a broken message gets an answer, not a dropped
// connection.
func DecodeRequest(msg []byte) (*Request, *Error) {
	req := &Request{ID: nullID}
	if !utf8.Valid(msg) {
		return req, NewError(CodeBadRequest, "message is not UTF-8")
	}
	var env envelope
	d := json.NewDecoder(bytes.NewReader(msg))
	d.DisallowUnknownFields()
	err := d.Decode(&env)
	if err == nil && d.More() {
		err = fmt.Errorf("data after the object")
	}
	idErr := errors.New("no id")
	if env.ID != nil {
		if idErr = checkID(env.ID); idErr == nil {
			req.ID = compact(env.ID)
		}
	}
	switch {
	case err != nil && strings.HasPrefix(err.Error(), "json: unknown field"):
		return req, NewError(CodeBadRequest, truncate(strings.TrimPrefix(err.Error(), "json: "), 48))
	case err != nil || len(msg) == 0 || bytes.TrimSpace(msg)[0] != '{':
		return &Request{ID: nullID}, NewError(CodeBadRequest, "message is not a JSON object")
	case env.ID == nil:
		return req, NewError(CodeBadRequest, `missing "id"`)
	}
	if err := strictMembers(msg, envelopeType); err != nil {
		// The id is echoed unless it is the member in question ("ID",
		// or "id" twice: which one would be the id?).
		if me, ok := err.(*memberError); (ok && strings.EqualFold(me.name, "id")) || idErr != nil {
			req.ID = nullID
		}
		return req, NewError(CodeBadRequest, err.Error())
	}
	if idErr != nil {
		return req, NewError(CodeBadRequest, idErr.Error())
	}
	if env.Type == nil || env.Type[0] != '"' {
		return req, NewError(CodeBadRequest, `"type" must be a string`)
	}
	if t := env.Type; len(t) >= 2 && t[len(t)-1] == '"' && !bytes.ContainsAny(t[1:len(t)-1], `\"`) {
		// The usual case, no escapes: the string is the bytes between
		// the quotes (the decoder already checked the JSON).
		req.Type = string(t[1 : len(t)-1])
	} else if json.Unmarshal(env.Type, &req.Type) != nil {
		return req, NewError(CodeBadRequest, `"type" must be a string`)
	}
	if !validType(req.Type) {
		return req, NewError(CodeUnknownType, "")
	}
	if p := env.Params; p != nil && !bytes.Equal(p, []byte("null")) {
		if p[0] != '{' {
			return req, NewError(CodeBadRequest, `"params" must be an object`)
		}
		req.Params = p
	}
	return req, nil
}

// checkID accepts a string of at most 64 characters or an integer that
// fits a JSON number exactly (|n| <= 2^53), which clients echo back as is.
func checkID(id json.RawMessage) error {
	if len(id) == 0 {
		return fmt.Errorf(`"id" is empty`)
	}
	switch c := id[0]; {
	case c == '"':
		var s string
		if json.Unmarshal(id, &s) != nil {
			return fmt.Errorf(`"id" is not a JSON string`)
		}
		if len(s) > maxIDLength {
			return fmt.Errorf(`"id" longer than %d characters`, maxIDLength)
		}
		return nil
	case c == '-' || c >= '0' && c <= '9':
		n, err := strconv.ParseInt(string(id), 10, 64)
		if err != nil || n > 1<<53 || n < -(1<<53) || (len(id) > 1 && id[0] == '0') || bytes.HasPrefix(id, []byte("-0")) {
			return fmt.Errorf(`"id" must be an integer`)
		}
		return nil
	}
	return fmt.Errorf(`"id" must be a string or an integer`)
}

// validType: request types are short lower-case words with dashes, in
// dotted groups ("simulator.insert"): one or two dot-separated words of a
// lower-case letter then up to 31 lower-case letters, digits or dashes.
// Hand-written rather than a regular expression because the read loop
// checks every request; FuzzValidType compares it with the expression.
func validType(s string) bool {
	word := func(w string) bool {
		if len(w) == 0 || len(w) > 32 || w[0] < 'a' || w[0] > 'z' {
			return false
		}
		for i := 1; i < len(w); i++ {
			c := w[i]
			if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
				return false
			}
		}
		return true
	}
	first, rest, dotted := strings.Cut(s, ".")
	return word(first) && (!dotted || word(rest))
}

func compact(b json.RawMessage) json.RawMessage {
	if !bytes.ContainsAny(b, " \t\r\n") {
		return b
	}
	var buf bytes.Buffer
	if json.Compact(&buf, b) != nil {
		return nullID
	}
	return buf.Bytes()
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}

// decodeParams fills v from params, refusing unknown members so a typo
// ("feilds") is an error and not a silent default, members spelt in
// another case ("FIELDS") and members given twice.
func decodeParams(params json.RawMessage, v any) *Error {
	if len(params) == 0 {
		return nil
	}
	d := json.NewDecoder(bytes.NewReader(params))
	d.DisallowUnknownFields()
	if err := d.Decode(v); err != nil {
		return NewError(CodeBadRequest, "params: "+truncate(err.Error(), 120))
	}
	if err := strictMembers(params, reflect.TypeOf(v)); err != nil {
		return NewError(CodeBadRequest, "params: "+err.Error())
	}
	return nil
}
