package bridge_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/eid-agent/eid-agent/bridge"
	"github.com/eid-agent/eid-agent/bridge/client"
)

// TestPagesHostCheck: the pages the agent serves beside /ws (the demo page
// and the JS client) get the same DNS-rebinding defence as the websocket:
// only loopback names with the agent's port are answered, and only the
// address the connection arrived on reaches Config.Pages (other loopback
// names are redirected there).
func TestPagesHostCheck(t *testing.T) {
	var calls atomic.Int64
	pages := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		fmt.Fprintf(w, "page %s", r.URL.Path)
	})
	ts := start(t, func(c *bridge.Config) { c.Pages = pages })
	port := fmt.Sprint(ts.port)
	base := "http://127.0.0.1:" + port

	tests := []struct {
		name, host, path string
		status           int
		code             bridge.Code // refusals only
		reached          bool        // Pages was called
	}{
		{"ip literal", "127.0.0.1:" + port, "/", 200, "", true},
		{"localhost", "localhost:" + port, "/eid-agent.js", 308, "", false},
		{"localhost any case", "LocalHost:" + port, "/demo/demo.js", 308, "", false},
		{"ipv6 address on the ipv4 connection", "[::1]:" + port, "/", 308, "", false},
		{"path beside ws", "127.0.0.1:" + port, "/ws/", 200, "", true},
		{"rebinding name", "evil.example:" + port, "/", 403, bridge.CodeHostNotAllowed, false},
		{"suffix trick", "127.0.0.1.evil.example:" + port, "/", 403, bridge.CodeHostNotAllowed, false},
		{"localhost suffix", "localhost.evil.example:" + port, "/eid-agent.js", 403, bridge.CodeHostNotAllowed, false},
		{"other port", "127.0.0.1:1", "/", 403, bridge.CodeHostNotAllowed, false},
		{"no port", "127.0.0.1", "/", 403, bridge.CodeHostNotAllowed, false},
		{"private address", "192.168.1.1:" + port, "/", 403, bridge.CodeHostNotAllowed, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := calls.Load()
			req, err := http.NewRequest(http.MethodGet, base+tt.path, nil)
			if err != nil {
				t.Fatal(err)
			}
			req.Host = tt.host
			resp, err := noRedirect.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tt.status {
				t.Fatalf("status %d, want %d (%s)", resp.StatusCode, tt.status, body)
			}
			if got := calls.Load() > before; got != tt.reached {
				t.Errorf("Pages called = %v, want %v", got, tt.reached)
			}
			if tt.status == http.StatusPermanentRedirect {
				if want := base + tt.path; resp.Header.Get("Location") != want {
					t.Errorf("Location %q, want %q", resp.Header.Get("Location"), want)
				}
				return
			}
			if tt.reached {
				if want := "page " + tt.path; string(body) != want {
					t.Errorf("body %q, want %q", body, want)
				}
				return
			}
			var e struct{ Error *bridge.Error }
			if err := json.Unmarshal(body, &e); err != nil || e.Error == nil || e.Error.Code != tt.code {
				t.Errorf("body %s, want error %s", body, tt.code)
			}
			if resp.Header.Get("Access-Control-Allow-Origin") != "" {
				t.Error("a refusal must carry no CORS header")
			}
		})
	}
}

// TestPagesWebsocketPathUnchanged: /ws never reaches Pages, and without
// Pages every other path is 404.
func TestPagesWebsocketPathUnchanged(t *testing.T) {
	var calls atomic.Int64
	ts := start(t, func(c *bridge.Config) {
		c.Pages = http.HandlerFunc(func(http.ResponseWriter, *http.Request) { calls.Add(1) })
	})
	req, _ := http.NewRequest(http.MethodGet, fmt.Sprintf("http://127.0.0.1:%d/ws", ts.port), nil)
	req.Header.Set("Origin", goodOrigin)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest || calls.Load() != 0 {
		t.Errorf("plain GET /ws: status %d, Pages calls %d; want 400 from the websocket path", resp.StatusCode, calls.Load())
	}
	// The websocket itself still works with Pages set.
	c := dial(t, ts, client.Auth{Origin: goodOrigin})
	c.Close()

	bare := start(t, nil)
	resp, err = http.Get(fmt.Sprintf("http://127.0.0.1:%d/", bare.port))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound || !strings.Contains(string(body), string(bridge.CodeBadRequest)) {
		t.Errorf("no Pages: status %d body %s, want 404", resp.StatusCode, body)
	}
}
