package bridge_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/eid-agent/eid-agent/bridge"
	"github.com/eid-agent/eid-agent/bridge/client"
	"github.com/eid-agent/eid-agent/bridge/webeid"
)

// TestStrictMembers: member names are matched exactly and named once, at
// every level. encoding/json alone fills Type from "TYPE" and keeps the
// last of two "fields".
func TestStrictMembers(t *testing.T) {
	for _, tc := range []struct {
		msg  string
		id   string
		code bridge.Code
	}{
		{`{"id":1,"type":"readers"}`, "1", ""},
		{`{"id":1,"TYPE":"readers"}`, "1", bridge.CodeBadRequest},
		{`{"ID":1,"type":"readers"}`, "null", bridge.CodeBadRequest},
		{`{"id":1,"Params":{},"type":"readers"}`, "1", bridge.CodeBadRequest},
		{`{"id":1,"type":"readers","type":"status"}`, "1", bridge.CodeBadRequest},
		{`{"id":1,"id":2,"type":"readers"}`, "null", bridge.CodeBadRequest},
		{`{"id":1,"type":"readers","params":{},"params":{}}`, "1", bridge.CodeBadRequest},
		{`{"id":1,"type":"readers","\u0074ype":"x"}`, "1", bridge.CodeBadRequest}, // escaped duplicate
		{`{"id":1,"typ\u0065":"readers"}`, "1", ""},                               // escaped but exact
		{"{\"id\":1,\"type\":\"readers\",\"params\":{\"a\":1,\"a\":2}}", "1", ""}, // params: decodeParams' job
	} {
		req, e := bridge.DecodeRequest([]byte(tc.msg))
		var code bridge.Code
		if e != nil {
			code = e.Code
		}
		if code != tc.code || string(req.ID) != tc.id {
			t.Errorf("%s: id %s err %v, want id %s %q", tc.msg, req.ID, e, tc.id, tc.code)
		}
	}

	ts := start(t, func(c *bridge.Config) { c.Proofs = &fakeProofs{} })
	ws := rawConn(t, ts)
	for _, tc := range []struct {
		msg  string
		code bridge.Code
	}{
		{`{"id":1,"type":"hello","params":{"protocol":1}}`, ""},
		{`{"id":2,"type":"hello","params":{"PROTOCOL":1}}`, bridge.CodeBadRequest},
		{`{"id":3,"type":"read","params":{"FIELDS":["identity"]}}`, bridge.CodeBadRequest},
		{`{"id":4,"type":"read","params":{"fields":["address"],"fields":["identity"]}}`, bridge.CodeBadRequest},
		{`{"id":5,"type":"read","params":{"Fields":["identity"]}}`, bridge.CodeBadRequest},
		{`{"id":6,"type":"isi.submit","params":{"manual":{"SSIN":"85073003328","reason":"2"}}}`, bridge.CodeBadRequest},
		{`{"id":7,"type":"isi.submit","params":{"manual":{"ssin":"85073003328","ssin":"85073003328","reason":"2"}}}`, bridge.CodeBadRequest},
		{`{"id":8,"type":"read","params":{"fields":["identity"]}}`, ""},
	} {
		if err := ws.WriteMessage(1, []byte(tc.msg)); err != nil {
			t.Fatal(err)
		}
		_, e := readResp(t, ws)
		var code bridge.Code
		if e != nil {
			code = e.Code
		}
		if code != tc.code {
			t.Errorf("%s: %v, want %q", tc.msg, e, tc.code)
		}
	}
}

// FuzzStrictMembers compares the duplicate detection with a reference
// built on encoding/json's tokenizer, and checks the decoder never panics.
func FuzzStrictMembers(f *testing.F) {
	for _, s := range []string{
		`{"id":1,"type":"a"}`, `{"a":{"b":1,"b":2}}`, `[{"a":1},{"a":1}]`, `{"a":"\"}","a":1}`,
		`{"x":[{"y":{"z":1,"z":2}}]}`, `{"\u0061":1,"a":2}`, `{}`, `[]`, `"s"`, `{"a":[[],{}],"b":null}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if !json.Valid(data) {
			return
		}
		got := bridge.StrictMembers(data, nil)
		want := hasDuplicate(data)
		if (got != nil) != want {
			t.Fatalf("%q: strictMembers %v, reference duplicate %v", data, got, want)
		}
		// And through the request decoder: never a panic, an id valid JSON.
		req, _ := bridge.DecodeRequest(data)
		if !json.Valid(req.ID) {
			t.Fatalf("id %q", req.ID)
		}
	})
}

// hasDuplicate walks data with json.Decoder tokens.
func hasDuplicate(data []byte) bool {
	d := json.NewDecoder(bytes.NewReader(data))
	var walk func() bool
	walk = func() bool {
		tok, err := d.Token()
		if err != nil {
			return false
		}
		switch tok {
		case json.Delim('{'):
			seen := map[string]bool{}
			for d.More() {
				k, _ := d.Token()
				if seen[k.(string)] {
					return true
				}
				seen[k.(string)] = true
				if walk() {
					return true
				}
			}
			d.Token()
		case json.Delim('['):
			for d.More() {
				if walk() {
					return true
				}
			}
			d.Token()
		}
		return false
	}
	return walk()
}

// TestValidateOrigin: one rule for `config check`, `run` and doctor:
// exactly what a browser can send as Origin.
func TestValidateOrigin(t *testing.T) {
	for _, tc := range []struct {
		origin    string
		allowHTTP bool
		ok        bool
	}{
		{"https://app.example", false, true},
		{"https://app.example:8443", false, true},
		{"https://xn--bcher-kva.example", false, true},
		{"https://[2001:db8::1]", false, true},
		{"https://192.0.2.1:8443", false, true},
		{"http://127.0.0.1:3000", true, true},
		{"http://[::1]:3000", true, true},
		{"http://localhost:3000", true, true},
		{"https://app.example:443", false, false},    // default port: never sent
		{"http://127.0.0.1:80", true, false},         // default port
		{"https://app.example:0443", false, false},   // leading zero
		{"https://app.example.", false, false},       // trailing dot
		{"https://app.example.:8443", false, false},  // trailing dot
		{"https://APP.example", false, false},        // case
		{"https://app.example/", false, false},       // path
		{"wss://app.example", false, false},          // not a page origin
		{"https://2130706433", false, false},         // browsers read 127.0.0.1
		{"https://0x7f.0.0.1", false, false},         // idem
		{"https://1.2.3", false, false},              // short IPv4
		{"https://[0:0:0:0:0:0:0:1]", false, false},  // browsers write [::1]
		{"https://[::ffff:127.0.0.1]", false, false}, // mapped
		{"https://[fe80::1%25eth0]", false, false},   // zone
		{"https://app.example:8443:1", false, false}, // two ports
		{"https://a*.example", false, false},         // wildcard
		{"http://app.example", true, false},          // http only for loopback
		{"http://127.0.0.1:3000", false, false},      // http needs the switch
		{"https://" + strings.Repeat("a", 300), false, false},
	} {
		err := bridge.ValidateOrigin(tc.origin, tc.allowHTTP)
		if (err == nil) != tc.ok {
			t.Errorf("%q (http %v): %v, want ok %v", tc.origin, tc.allowHTTP, err, tc.ok)
		}
		if err != nil && !errors.Is(err, webeid.ErrInvalidOrigin) {
			t.Errorf("%q: %v does not wrap ErrInvalidOrigin", tc.origin, err)
		}
		// bridge.New agrees.
		_, nerr := bridge.New(bridge.Config{AllowedOrigins: []string{tc.origin}, AllowHTTPLoopbackOrigins: tc.allowHTTP, Backend: &fakeBackend{}})
		if (nerr == nil) != tc.ok {
			t.Errorf("%q: bridge.New %v", tc.origin, nerr)
		}
	}
}

// TestReaderParam: a caller-chosen reader name is bounded and printable
// before it reaches the backend (and so its logs and audit journal).
func TestReaderParam(t *testing.T) {
	ts := start(t, nil)
	c := dial(t, ts, client.Auth{Origin: goodOrigin})
	for _, r := range []string{strings.Repeat("R", 7<<10), "reader\nfake log line", "reader\x1b[31m", "reader\u202e", strings.Repeat("é", 200)} {
		for _, op := range []struct {
			typ    string
			params map[string]any
		}{
			{"read", map[string]any{"fields": []string{"identity"}, "reader": r}},
			{"authenticate", map[string]any{"nonce": nonce, "reader": r}},
			{"signing-certificate", map[string]any{"reader": r}},
		} {
			wantCode(t, c.Call(ctx5(t), op.typ, op.params, nil), bridge.CodeBadRequest)
		}
	}
	called := func() bool {
		ts.be.mu.Lock()
		defer ts.be.mu.Unlock()
		return ts.be.readFields != nil || ts.be.authOrigin != ""
	}
	if called() {
		t.Error("the backend was called with a bad reader name")
	}
	// A real name passes.
	if err := c.Call(ctx5(t), "read", map[string]any{"fields": []string{"identity"}, "reader": "ACS ACR38U 00 00"}, nil); err != nil || !called() {
		t.Errorf("a real reader name: %v", err)
	}
}
