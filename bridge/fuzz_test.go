package bridge_test

import (
	"encoding/json"
	"regexp"
	"strings"
	"testing"

	"github.com/eid-agent/eid-agent/bridge"
)

// FuzzDecodeRequest: the decoder never panics, always yields an id that is
// valid JSON for the reply, and what it accepts matches the envelope rules.
func FuzzDecodeRequest(f *testing.F) {
	for _, s := range []string{
		`{"id":1,"type":"hello","params":{"protocol":1}}`,
		`{"id":"x","type":"read","params":{"fields":["identity"]}}`,
		`{"id":null,"type":"readers"}`, `{"id":1e400,"type":"a"}`, `[]`, `"x"`, `{"id":1,"type":"a","params":null}`,
		"{\"id\":1,\"type\":\"a\xff\"}", `{"id":9007199254740993,"type":"a"}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, msg []byte) {
		req, e := bridge.DecodeRequest(msg)
		if req == nil || !json.Valid(req.ID) {
			t.Fatalf("reply id %q", req.ID)
		}
		resp, err := json.Marshal(bridge.Response{ID: req.ID, Error: e})
		if err != nil || !json.Valid(resp) {
			t.Fatalf("reply not JSON: %v", err)
		}
		if e != nil {
			if e.Code != bridge.CodeBadRequest && e.Code != bridge.CodeUnknownType {
				t.Fatalf("code %s", e.Code)
			}
			return
		}
		if req.Type == "" || len(req.Type) > 32 || string(req.ID) == "null" {
			t.Fatalf("accepted %q as %+v", msg, req)
		}
		if len(req.Params) > 0 && req.Params[0] != '{' {
			var m map[string]any
			if json.Unmarshal(req.Params, &m) != nil {
				t.Fatalf("params not an object: %q", req.Params)
			}
		}
	})
}

// FuzzValidType checks the hand-written type check against the regular
// expression it implements.
func FuzzValidType(f *testing.F) {
	re := regexp.MustCompile(`^[a-z][a-z0-9-]{0,31}(\.[a-z][a-z0-9-]{0,31})?$`)
	for _, s := range []string{"readers", "simulator.insert", "a.b.c", "A", "x-", "", ".", "a.", strings.Repeat("a", 33)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if got, want := bridge.ValidType(s), re.MatchString(s); got != want {
			t.Fatalf("validType(%q) = %v, the expression says %v", s, got, want)
		}
	})
}
