package bridge_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/eid-agent/eid-agent/bridge"
	"github.com/eid-agent/eid-agent/internal/testkit"
)

func TestSchemaSamples(t *testing.T) {
	for _, tc := range []struct {
		schema, doc string
		ok          bool
	}{
		{"request-hello", `{"id":1,"type":"hello","params":{"protocol":1}}`, true},
		{"request-hello", `{"id":"a","type":"hello","params":{"protocol":1}}`, true},
		{"request-hello", `{"id":1,"type":"hello"}`, false},
		{"request-hello", `{"id":1.5,"type":"hello","params":{"protocol":1}}`, false},
		{"request-hello", `{"id":1,"type":"hello","params":{"protocol":1},"x":1}`, false},
		{"request-readers", `{"id":2,"type":"readers"}`, true},
		{"request-readers", `{"id":2,"type":"readers","params":{}}`, true},
		{"request-readers", `{"id":2,"type":"readers","params":{"x":1}}`, false},
		{"request-read", `{"id":3,"type":"read","params":{"fields":["identity","photo"]}}`, true},
		{"request-read", `{"id":3,"type":"read","params":{"fields":[]}}`, false},
		{"request-read", `{"id":3,"type":"read","params":{"fields":["nationalNumber"]}}`, false},
		{"request-authenticate", `{"id":4,"type":"authenticate","params":{"nonce":"` + nonce + `"}}`, true},
		{"request-authenticate", `{"id":4,"type":"authenticate","params":{"nonce":"short"}}`, false},
		{"request-authenticate", `{"id":4,"type":"authenticate","params":{"nonce":"` + nonce + `","origin":"https://x"}}`, false},
		{"request-sign", `{"id":5,"type":"sign","params":{"certificate":"MIIB","hash":"47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=","hashFunction":"SHA-256"}}`, true},
		{"request-sign", `{"id":5,"type":"sign","params":{"certificate":"MIIB","hash":"47DE","hashFunction":"MD5"}}`, false},
		{"request-signing-certificate", `{"id":6,"type":"signing-certificate","params":{"reader":"R"}}`, true},
		{"request-subscribe", `{"id":7,"type":"subscribe"}`, true},
		{"request-reading-proof", `{"id":8,"type":"reading-proof","params":{"nonce":"` + nonce + `","fields":["identity"]}}`, true},
		{"error", `{"id":null,"error":{"code":"TOO_LARGE","message":"m","messages":{"en":"a","nl":"b","fr":"c","de":"d"}}}`, true},
		{"error", `{"id":1,"error":{"code":"NOPE","message":"m","messages":{"en":"a","nl":"b","fr":"c","de":"d"}}}`, false},
		{"error", `{"id":1,"error":{"code":"BAD_REQUEST","message":"m","messages":{"en":"a","nl":"b","fr":"c"}}}`, false},
		{"event-card", `{"event":"card-inserted","data":{"reader":"R","card":"belpic"}}`, true},
		{"event-card", `{"event":"card-inserted","data":{"reader":"R","name":"Alice"}}`, false},
		{"event-card", `{"event":"service-down","data":{}}`, true},
		{"event-card", `{"event":"service-gone","data":{}}`, false},
		{"request-status", `{"id":9,"type":"status"}`, true},
		{"request-simulator-insert", `{"id":10,"type":"simulator.insert","params":{"profile":"kids-1.8"}}`, true},
		{"request-simulator-insert", `{"id":10,"type":"simulator.insert","params":{"card":"kids-1.8"}}`, false},
		{"request-simulator-remove", `{"id":11,"type":"simulator.remove"}`, true},
		{"response-authenticate", `{"id":1,"result":{"unverifiedCertificate":"MIIB","algorithm":"ES384","signature":"AAAA","format":"web-eid:1.0","appVersion":"https://x"}}`, true},
		{"response-authenticate", `{"id":1,"result":{"unverifiedCertificate":"MIIB","algorithm":"none","signature":"AAAA","format":"web-eid:1.0","appVersion":"https://x"}}`, false},
	} {
		err := testkit.ValidateSchema(bridge.Schema, tc.schema, []byte(tc.doc))
		if (err == nil) != tc.ok {
			t.Errorf("%s %s: %v, want ok=%v", tc.schema, tc.doc, err, tc.ok)
		}
	}
}

// Every request type has a request and a response schema.
func TestSchemaCoverage(t *testing.T) {
	names := strings.Join(bridge.SchemaNames(), " ")
	types := []string{"hello"}
	for typ := range bridge.Handlers() {
		types = append(types, typ)
	}
	for _, typ := range types {
		typ = strings.ReplaceAll(typ, ".", "-")
		for _, kind := range []string{"request-", "response-"} {
			if !strings.Contains(" "+names+" ", " "+kind+typ+" ") {
				t.Errorf("no schema %s%s", kind, typ)
			}
		}
	}
	// And every error code is in the error schema.
	b, _ := bridge.Schema("error")
	for code := range bridge.Catalog {
		if !bytes.Contains(b, []byte(`"`+string(code)+`"`)) {
			t.Errorf("error schema lacks %s", code)
		}
	}
}

// TestLiveMessagesMatchSchemas: what the server really sends validates.
func TestLiveMessagesMatchSchemas(t *testing.T) {
	ts := start(t, nil)
	ws, _, err := websocket.DefaultDialer.Dial(ts.url, http.Header{"Origin": {goodOrigin}})
	if err != nil {
		t.Fatal(err)
	}
	defer ws.Close()
	for _, tc := range []struct{ req, schema string }{
		{`{"id":"h","type":"hello","params":{"protocol":1}}`, "response-hello"},
		{`{"id":1,"type":"readers"}`, "response-readers"},
		{`{"id":2,"type":"read","params":{"fields":["identity","address"]}}`, "response-read"},
		{`{"id":3,"type":"authenticate","params":{"nonce":"` + nonce + `"}}`, "response-authenticate"},
		{`{"id":4,"type":"sign","params":{"certificate":"MIIB","hash":"47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=","hashFunction":"SHA-256"}}`, "response-sign"},
		{`{"id":5,"type":"reading-proof","params":{"nonce":"` + nonce + `","fields":["identity"]}}`, "response-reading-proof"},
		{`{"id":6,"type":"signing-certificate"}`, "error"},
		{`{"id":7,"type":"nope"}`, "error"},
		{`garbage`, "error"},
		{`{"id":8,"type":"subscribe"}`, "response-subscribe"},
	} {
		if err := testkit.ValidateSchema(bridge.Schema, strings.Replace(tc.schema, "response", "request", 1), []byte(tc.req)); tc.schema != "error" && err != nil {
			t.Errorf("request %s does not match its schema: %v", tc.req, err)
		}
		if err := ws.WriteMessage(websocket.TextMessage, []byte(tc.req)); err != nil {
			t.Fatal(err)
		}
		_ = ws.SetReadDeadline(time.Now().Add(5 * time.Second))
		_, b, err := ws.ReadMessage()
		if err != nil {
			t.Fatal(err)
		}
		if err := testkit.ValidateSchema(bridge.Schema, tc.schema, b); err != nil {
			t.Errorf("%s: %s: %v", tc.schema, b, err)
		}
	}
	_, b, err := ws.ReadMessage()
	if err != nil {
		t.Fatal(err)
	}
	if err := testkit.ValidateSchema(bridge.Schema, "event-card", b); err != nil {
		t.Errorf("event %s: %v", b, err)
	}
	// A refused handshake's body.
	_, resp, _ := websocket.DefaultDialer.Dial(ts.url, http.Header{"Origin": {"https://evil.example"}})
	var body bytes.Buffer
	body.ReadFrom(resp.Body)
	resp.Body.Close()
	if err := testkit.ValidateSchema(bridge.Schema, "handshake-error", body.Bytes()); err != nil {
		t.Errorf("handshake error %s: %v", body.Bytes(), err)
	}
}

// TestProtocolDocSchemas: docs/protocol.md shows each embedded schema
// verbatim (as JSON), under a heading naming its file.
func TestProtocolDocSchemas(t *testing.T) {
	doc, err := os.ReadFile("../docs/protocol.md")
	if err != nil {
		t.Fatal(err)
	}
	re := regexp.MustCompile("(?s)`schemas/([a-z-]+)\\.schema\\.json`\n\n```json\n(.*?)\n```")
	found := map[string]bool{}
	for _, m := range re.FindAllSubmatch(doc, -1) {
		name := string(m[1])
		want, err := bridge.Schema(name)
		if err != nil {
			t.Errorf("doc shows unknown schema %s", name)
			continue
		}
		var a, b any
		if json.Unmarshal(m[2], &a) != nil || json.Unmarshal(want, &b) != nil {
			t.Errorf("%s: doc block is not JSON", name)
			continue
		}
		ja, _ := json.Marshal(a)
		jb, _ := json.Marshal(b)
		if !bytes.Equal(ja, jb) {
			t.Errorf("%s: docs/protocol.md differs from bridge/schemas", name)
		}
		found[name] = true
	}
	for _, n := range bridge.SchemaNames() {
		if !found[n] {
			t.Errorf("docs/protocol.md does not show %s", n)
		}
	}
}
