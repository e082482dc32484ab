package bridge_test

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/eid-agent/eid-agent/bridge"
	"github.com/eid-agent/eid-agent/bridge/client"
	"github.com/eid-agent/eid-agent/bridge/webeid"
	"github.com/eid-agent/eid-agent/internal/testkit"
)

const (
	goodOrigin = "https://app.example:8443"
	appToken   = "0123456789abcdef0123456789abcdef-test"
	nonce      = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="
)

type testServer struct {
	srv  *bridge.Server
	be   *fakeBackend
	url  string
	port int
}

func start(t testing.TB, edit func(*bridge.Config)) *testServer {
	t.Helper()
	be := &fakeBackend{key: newSoftKey(t)}
	cfg := bridge.Config{
		Listen:         []string{"127.0.0.1:0"},
		AllowedOrigins: []string{goodOrigin, "https://other.example"},
		Tokens:         []bridge.AppToken{{Name: "desktop", Token: appToken}},
		Backend:        be,
		Consent: bridge.NewMemoryConsent(map[string]bridge.Grant{
			goodOrigin:    {Fields: []string{"card", "identity", "address"}, Authenticate: true, Sign: true},
			"app:desktop": {Fields: []string{"identity"}},
		}),
		Version: "0.1.0",
	}
	if edit != nil {
		edit(&cfg)
	}
	srv, err := bridge.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Listen(); err != nil {
		t.Fatal(err)
	}
	go srv.Serve()
	t.Cleanup(func() { srv.Close() })
	port := srv.Addrs()[0].(*net.TCPAddr).Port
	return &testServer{srv: srv, be: be, url: fmt.Sprintf("ws://127.0.0.1:%d/ws", port), port: port}
}

func dial(t testing.TB, ts *testServer, auth client.Auth) *client.Client {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := client.Dial(ctx, ts.url, auth)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	if _, err := c.Hello(ctx); err != nil {
		t.Fatal(err)
	}
	return c
}

func ctx5(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func wantCode(t testing.TB, err error, code bridge.Code) {
	t.Helper()
	var e *bridge.Error
	if !errors.As(err, &e) || e.Code != code {
		t.Fatalf("err %v, want %s", err, code)
	}
}

// bystander is a well-behaved client that keeps asking for readers while a
// hostile one misbehaves; it must never see an error.
func bystander(t *testing.T, ts *testServer) (stop func()) {
	c := dial(t, ts, client.Auth{Origin: "https://other.example"})
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	var calls int
	var ferr error
	go func() {
		defer wg.Done()
		for {
			var r struct{ Readers []bridge.ReaderInfo }
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			err := c.Call(ctx, "readers", nil, &r)
			cancel()
			if err != nil || len(r.Readers) != 1 {
				ferr = fmt.Errorf("bystander: %v %+v", err, r)
				return
			}
			calls++
			select {
			case <-done:
				return
			case <-time.After(60 * time.Millisecond): // under the default 20 requests/s
			}
		}
	}()
	return func() {
		close(done)
		wg.Wait()
		// And it is still served after the hostile client is done.
		if err := c.Call(ctx5(t), "readers", nil, nil); err != nil {
			t.Errorf("bystander after: %v", err)
		}
		if ferr != nil {
			t.Error(ferr)
		}
		if calls == 0 {
			t.Error("bystander made no call")
		}
	}
}

func TestHandshakeRefusals(t *testing.T) {
	ts := start(t, nil)
	defer bystander(t, ts)()
	p := strconv.Itoa(ts.port)
	for _, tc := range []struct {
		name   string
		header http.Header
		status int
		code   bridge.Code
	}{
		{"good origin", http.Header{"Origin": {goodOrigin}}, 101, ""},
		{"good token", http.Header{"Authorization": {"Bearer " + appToken}}, 101, ""},
		{"localhost host", http.Header{"Origin": {goodOrigin}, "Host": {"localhost:" + p}}, 101, ""},
		{"wrong origin", http.Header{"Origin": {"https://evil.example"}}, 403, bridge.CodeOriginNotAllowed},
		{"origin suffix", http.Header{"Origin": {"https://app.example:8443.evil.example"}}, 403, bridge.CodeOriginNotAllowed},
		{"origin slash", http.Header{"Origin": {goodOrigin + "/"}}, 403, bridge.CodeOriginNotAllowed},
		{"origin case", http.Header{"Origin": {"https://APP.example:8443"}}, 403, bridge.CodeOriginNotAllowed},
		{"origin http", http.Header{"Origin": {"http://app.example:8443"}}, 403, bridge.CodeOriginNotAllowed},
		{"origin null", http.Header{"Origin": {"null"}}, 403, bridge.CodeOriginNotAllowed},
		{"missing origin", http.Header{}, 403, bridge.CodeOriginNotAllowed},
		{"bad token", http.Header{"Authorization": {"Bearer " + appToken + "x"}}, 403, bridge.CodeUnauthorized},
		{"token not bearer", http.Header{"Authorization": {"Basic " + appToken}}, 403, bridge.CodeUnauthorized},
		{"token with foreign origin", http.Header{"Origin": {"https://evil.example"}, "Authorization": {"Bearer " + appToken}}, 403, bridge.CodeOriginNotAllowed},
		{"forged host", http.Header{"Origin": {goodOrigin}, "Host": {"evil.example:" + p}}, 403, bridge.CodeHostNotAllowed},
		{"rebinding host", http.Header{"Origin": {goodOrigin}, "Host": {"127.0.0.1.evil.example:" + p}}, 403, bridge.CodeHostNotAllowed},
		{"wrong port", http.Header{"Origin": {goodOrigin}, "Host": {"127.0.0.1:1"}}, 403, bridge.CodeHostNotAllowed},
		{"no port", http.Header{"Origin": {goodOrigin}, "Host": {"127.0.0.1"}}, 403, bridge.CodeHostNotAllowed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := websocket.Dialer{HandshakeTimeout: 5 * time.Second}
			ws, resp, err := d.Dial(ts.url, tc.header)
			if tc.status == 101 {
				if err != nil {
					t.Fatalf("dial: %v", err)
				}
				ws.Close()
				return
			}
			if err == nil {
				ws.Close()
				t.Fatal("upgrade accepted")
			}
			if resp == nil || resp.StatusCode != tc.status {
				t.Fatalf("resp %v, err %v", resp, err)
			}
			defer resp.Body.Close()
			for k := range resp.Header {
				if strings.HasPrefix(strings.ToLower(k), "access-control-") {
					t.Errorf("CORS header %s", k)
				}
			}
			var body struct{ Error *bridge.Error }
			if err := json.NewDecoder(resp.Body).Decode(&body); err != nil || body.Error == nil {
				t.Fatalf("body: %v", err)
			}
			if body.Error.Code != tc.code || body.Error.Messages.NL == "" {
				t.Errorf("error %+v, want %s", body.Error, tc.code)
			}
		})
	}
}

// TestOtherUserRefused: a peer of another OS user is recognised at
// accept and never reaches the server, on every path: whatever it asks
// (any Host, Origin, token, path) it gets 403 OTHER_USER, and only that
// (not which origins are allowed). Mounted in another server (no
// guardListener) the handler refuses it the same way, before Origin and
// token.
func TestOtherUserRefused(t *testing.T) {
	var pageCalls atomic.Int64
	foreign := func(c *bridge.Config) {
		bridge.SetPeerUID(c, func(_, _ netip.AddrPort) (int, error) { return 4242, nil })
		c.Pages = http.HandlerFunc(func(http.ResponseWriter, *http.Request) { pageCalls.Add(1) })
	}
	ts := start(t, foreign)
	for _, auth := range []client.Auth{{Origin: goodOrigin}, {Origin: "https://evil.example"}, {Token: appToken}} {
		_, err := client.Dial(ctx5(t), ts.url, auth)
		var he *client.HandshakeError
		if !errors.As(err, &he) || he.Status != 403 || he.Err == nil || he.Err.Code != bridge.CodeOtherUser {
			t.Errorf("websocket %+v: %v, want 403 OTHER_USER", auth, err)
		}
	}
	for _, path := range []string{"/", "/demo/nonce", "/eid-agent.js"} {
		req, _ := http.NewRequest(http.MethodPost, fmt.Sprintf("http://127.0.0.1:%d%s", ts.port, path), strings.NewReader("{}"))
		req.Host = "evil.example" // not even the Host check runs first
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Errorf("%s: %v", path, err)
			continue
		}
		var body struct{ Error *bridge.Error }
		json.NewDecoder(resp.Body).Decode(&body)
		resp.Body.Close()
		if resp.StatusCode != 403 || body.Error == nil || body.Error.Code != bridge.CodeOtherUser {
			t.Errorf("%s: HTTP %d %+v, want 403 OTHER_USER", path, resp.StatusCode, body.Error)
		}
	}
	if pageCalls.Load() != 0 {
		t.Error("a page was served to another user")
	}
	// Another user's connections hold none of this user's places: with
	// more of the other user's idle connections than the cap, this user's
	// client is still served. ("Another user" here: clients bound to
	// 127.0.0.2.)
	other := netip.MustParseAddr("127.0.0.2")
	capped := start(t, func(c *bridge.Config) {
		c.Limits.MaxHTTPConnections = 2
		bridge.SetPeerUID(c, func(_, remote netip.AddrPort) (int, error) {
			if remote.Addr() == other {
				return 4242, nil
			}
			return os.Getuid(), nil
		})
	})
	addr := fmt.Sprintf("127.0.0.1:%d", capped.port)
	otherDialer := net.Dialer{LocalAddr: &net.TCPAddr{IP: other.AsSlice()}}
	for range 40 {
		c, err := otherDialer.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close() // idle: never sends a byte
	}
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(c, "GET /ws HTTP/1.1\r\nHost: %s\r\n\r\n", addr)
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	c.Close()
	if err != nil {
		t.Fatalf("this user's client beside 40 idle connections of another: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden { // no Origin: refused by the handshake, so it was served
		t.Errorf("this user's client: HTTP %d", resp.StatusCode)
	}

	cfg := bridge.Config{AllowedOrigins: []string{goodOrigin}, Backend: &fakeBackend{}}
	foreign(&cfg)
	srv, err := bridge.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv)
	defer hs.Close()
	for _, h := range []http.Header{{"Origin": {goodOrigin}}, {"Origin": {"https://evil.example"}}, {}} {
		_, err = client.Dial(ctx5(t), "ws"+strings.TrimPrefix(hs.URL, "http")+"/ws", client.Auth{Origin: h.Get("Origin")})
		var he *client.HandshakeError
		if !errors.As(err, &he) || he.Status != 403 || he.Err.Code != bridge.CodeOtherUser {
			t.Errorf("mounted, Origin %q: %v, want OTHER_USER first", h.Get("Origin"), err)
		}
	}
	resp, err = http.Get(hs.URL + "/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 403 || pageCalls.Load() != 0 {
		t.Errorf("mounted page: %d", resp.StatusCode)
	}
}

// TestMaxConnections: the total, per caller, and the slots kept for
// desktop applications.
func TestMaxConnections(t *testing.T) {
	ts := start(t, func(c *bridge.Config) {
		c.Limits.MaxConnections = 6
		c.Limits.MaxConnectionsPerCaller = 2
		c.Limits.ReservedAppConnections = 2
		c.AllowedOrigins = append(c.AllowedOrigins, "https://third.example")
		c.Tokens = append(c.Tokens, bridge.AppToken{Name: "other-app", Token: appToken + "-other"})
	})
	refused := func(auth client.Auth, why string) {
		t.Helper()
		_, err := client.Dial(ctx5(t), ts.url, auth)
		var he *client.HandshakeError
		if !errors.As(err, &he) || he.Status != 503 || he.Err.Code != bridge.CodeTooManyConnections || !strings.Contains(he.Err.Detail, why) {
			t.Fatalf("%+v: err %v, want 503 TOO_MANY_CONNECTIONS (%s)", auth, err, why)
		}
	}
	dial(t, ts, client.Auth{Origin: goodOrigin})
	dial(t, ts, client.Auth{Origin: goodOrigin})
	refused(client.Auth{Origin: goodOrigin}, "this caller")
	dial(t, ts, client.Auth{Origin: "https://other.example"})
	dial(t, ts, client.Auth{Origin: "https://other.example"})
	// Web pages have 4 of the 6: the last two are the desktop apps'.
	refused(client.Auth{Origin: "https://third.example"}, "desktop applications")
	dial(t, ts, client.Auth{Token: appToken})
	dial(t, ts, client.Auth{Token: appToken + "-other"})
	refused(client.Auth{Token: appToken}, "the agent has 6")
	if n := ts.srv.Conns(); n != 6 {
		t.Errorf("Conns %d", n)
	}
}

func TestHello(t *testing.T) {
	ts := start(t, nil)
	c, err := client.Dial(ctx5(t), ts.url, client.Auth{Origin: goodOrigin})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	wantCode(t, c.Call(ctx5(t), "readers", nil, nil), bridge.CodeHelloRequired)
	wantCode(t, c.Call(ctx5(t), "hello", map[string]int{"protocol": 2}, nil), bridge.CodeUnsupportedVersion)
	h, err := c.Hello(ctx5(t))
	if err != nil {
		t.Fatal(err)
	}
	if h.Server != "eid-agent" || h.Version != "0.1.0" || h.Protocol != 1 || h.Origin != goodOrigin || len(h.Features) == 0 {
		t.Errorf("hello %+v", h)
	}
	if err := c.Call(ctx5(t), "readers", nil, nil); err != nil {
		t.Fatal(err)
	}
}

// rawConn is a hostile client speaking raw frames.
func rawConn(t *testing.T, ts *testServer) *websocket.Conn {
	t.Helper()
	ws, _, err := websocket.DefaultDialer.Dial(ts.url, http.Header{"Origin": {goodOrigin}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ws.Close() })
	return ws
}

func readResp(t *testing.T, ws *websocket.Conn) (id string, e *bridge.Error) {
	t.Helper()
	_ = ws.SetReadDeadline(time.Now().Add(5 * time.Second))
	var r struct {
		ID     json.RawMessage
		Result json.RawMessage
		Error  *bridge.Error
	}
	if err := ws.ReadJSON(&r); err != nil {
		t.Fatalf("read: %v", err)
	}
	return string(r.ID), r.Error
}

func TestMalformedMessages(t *testing.T) {
	ts := start(t, func(c *bridge.Config) { c.Limits.MaxMessageSize = 1024; c.Limits.MaxFrameSize = 8192 })
	defer bystander(t, ts)()
	ws := rawConn(t, ts)
	big := `{"id":9,"type":"readers","params":{"x":"` + strings.Repeat("a", 2000) + `"}}`
	for _, tc := range []struct {
		msg    string
		binary bool
		id     string
		code   bridge.Code
	}{
		{`{"id":1,"type":"hello","params":{"protocol":1}}`, false, "1", ""},
		{`not json`, false, "null", bridge.CodeBadRequest},
		{`{"id":2,"type":"readers"`, false, "null", bridge.CodeBadRequest},
		{`[1,2]`, false, "null", bridge.CodeBadRequest},
		{`{"type":"readers"}`, false, "null", bridge.CodeBadRequest},
		{`{"id":{"a":1},"type":"readers"}`, false, "null", bridge.CodeBadRequest},
		{`{"id":1.5,"type":"readers"}`, false, "null", bridge.CodeBadRequest},
		{`{"id":"x","type":7}`, false, `"x"`, bridge.CodeBadRequest},
		{`{"id":"y","type":"readers","extra":1}`, false, `"y"`, bridge.CodeBadRequest},
		{`{"id":3,"type":"readers","params":[1]}`, false, "3", bridge.CodeBadRequest},
		{`{"id":4,"type":"readers","params":{"x":1}}`, false, "4", bridge.CodeBadRequest},
		{`{"id":5,"type":"format-disk"}`, false, "5", bridge.CodeUnknownType},
		{`{"id":6,"type":"../../etc"}`, false, "6", bridge.CodeUnknownType},
		{"{\"id\":7,\"type\":\"readers\xff\"}", false, "null", bridge.CodeBadRequest},
		{`{"id":8,"type":"readers"}`, true, "null", bridge.CodeBadRequest},
		{big, false, "null", bridge.CodeTooLarge},
		{`{"id":10,"type":"read","params":{"fields":["identity","nationalSecrets"]}}`, false, "10", bridge.CodeBadRequest},
		{`{"id":11,"type":"read","params":{"feilds":["identity"]}}`, false, "11", bridge.CodeBadRequest},
		{`{"id":12,"type":"authenticate","params":{"nonce":"short"}}`, false, "12", bridge.CodeBadRequest},
		{`{"id":13,"type":"sign","params":{"certificate":"AA==","hash":"AA==","hashFunction":"SHA-256"}}`, false, "13", bridge.CodeBadRequest},
		{`{"id":14,"type":"readers"}`, false, "14", ""},
	} {
		typ := websocket.TextMessage
		if tc.binary {
			typ = websocket.BinaryMessage
		}
		if err := ws.WriteMessage(typ, []byte(tc.msg)); err != nil {
			t.Fatal(err)
		}
		id, e := readResp(t, ws)
		var code bridge.Code
		if e != nil {
			code = e.Code
		}
		if id != tc.id || code != tc.code {
			t.Errorf("%.60q: id %s err %v, want id %s %s", tc.msg, id, e, tc.id, tc.code)
		}
	}
	// A frame beyond MaxFrameSize ends this connection with 1009 only.
	huge := `{"id":1,"type":"readers","params":{"x":"` + strings.Repeat("a", 10000) + `"}}`
	if err := ws.WriteMessage(websocket.TextMessage, []byte(huge)); err != nil {
		t.Fatal(err)
	}
	_ = ws.SetReadDeadline(time.Now().Add(5 * time.Second))
	_, _, err := ws.ReadMessage()
	if !websocket.IsCloseError(err, websocket.CloseMessageTooBig) {
		t.Errorf("after a huge frame: %v, want close 1009", err)
	}
}

func TestRateLimit(t *testing.T) {
	ts := start(t, func(c *bridge.Config) { c.Limits.RequestsPerSec = 5; c.Limits.Burst = 10 })
	defer bystander(t, ts)()
	ws := rawConn(t, ts)
	const n = 200
	var buf strings.Builder
	for i := 0; i < n; i++ {
		buf.Reset()
		fmt.Fprintf(&buf, `{"id":%d,"type":"hello","params":{"protocol":1}}`, i)
		if err := ws.WriteMessage(websocket.TextMessage, []byte(buf.String())); err != nil {
			t.Fatal(err)
		}
	}
	limited := 0
	for i := 0; i < n; i++ {
		if _, e := readResp(t, ws); e != nil {
			if e.Code != bridge.CodeRateLimited {
				t.Fatalf("error %v", e)
			}
			limited++
		}
	}
	if limited < n-20 || limited == n {
		t.Errorf("%d of %d rate limited", limited, n)
	}
}

func TestSlowReaderDropped(t *testing.T) {
	ts := start(t, func(c *bridge.Config) { c.Limits.WriteTimeout = 500 * time.Millisecond })
	stop := bystander(t, ts)
	ts.be.flood = true
	ws := rawConn(t, ts)
	for _, m := range []string{`{"id":1,"type":"hello","params":{"protocol":1}}`, `{"id":2,"type":"subscribe"}`} {
		if err := ws.WriteMessage(websocket.TextMessage, []byte(m)); err != nil {
			t.Fatal(err)
		}
	}
	// Never read: the server must give up on this client.
	deadline := time.Now().Add(10 * time.Second)
	for ts.be.subEnded.Load() == 0 {
		if time.Now().After(deadline) {
			t.Fatal("slow client still connected")
		}
		time.Sleep(20 * time.Millisecond)
	}
	stop()
}

func TestDisconnectMidOperation(t *testing.T) {
	ts := start(t, nil)
	defer bystander(t, ts)()
	ts.be.block = make(chan struct{})
	ts.be.started = make(chan struct{}, 1)
	c := dial(t, ts, client.Auth{Origin: goodOrigin})
	go c.Call(context.Background(), "read", map[string]any{"fields": []string{"identity"}}, nil)
	select {
	case <-ts.be.started:
	case <-time.After(5 * time.Second):
		t.Fatal("read did not start")
	}
	c.Close()
	deadline := time.Now().Add(5 * time.Second)
	for ts.be.cancelled.Load() == 0 {
		if time.Now().After(deadline) {
			t.Fatal("backend context not cancelled on disconnect")
		}
		time.Sleep(10 * time.Millisecond)
	}
	for ts.srv.Conns() != 1 { // the bystander
		if time.Now().After(deadline) {
			t.Fatalf("%d connections left", ts.srv.Conns())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestReadReturnsOnlyNamedFields(t *testing.T) {
	ts := start(t, nil)
	c := dial(t, ts, client.Auth{Origin: goodOrigin})
	var r struct{ Reading map[string]json.RawMessage }
	if err := c.Call(ctx5(t), "read", map[string]any{"fields": []string{"identity", "identity"}}, &r); err != nil {
		t.Fatal(err)
	}
	if len(r.Reading) != 1 || r.Reading["identity"] == nil {
		t.Errorf("reading %v", r.Reading)
	}
	// photo was not granted to this origin.
	wantCode(t, c.Call(ctx5(t), "read", map[string]any{"fields": []string{"identity", "photo"}}, nil), bridge.CodeConsentDenied)
	other := dial(t, ts, client.Auth{Origin: "https://other.example"})
	wantCode(t, other.Call(ctx5(t), "read", map[string]any{"fields": []string{"identity"}}, nil), bridge.CodeConsentDenied)
	wantCode(t, other.Call(ctx5(t), "authenticate", map[string]any{"nonce": nonce}, nil), bridge.CodeConsentDenied)
	app := dial(t, ts, client.Auth{Token: appToken})
	if err := app.Call(ctx5(t), "read", map[string]any{"fields": []string{"identity"}}, nil); err != nil {
		t.Errorf("desktop app read: %v", err)
	}
	wantCode(t, app.Call(ctx5(t), "authenticate", map[string]any{"nonce": nonce}, nil), bridge.CodeBadRequest)
}

func TestAuthenticateBindsHandshakeOrigin(t *testing.T) {
	ts := start(t, nil)
	c := dial(t, ts, client.Auth{Origin: goodOrigin})
	var tok webeid.Token
	// A page-supplied origin is not a parameter at all.
	wantCode(t, c.Call(ctx5(t), "authenticate", map[string]any{"nonce": nonce, "origin": "https://evil.example"}, nil), bridge.CodeBadRequest)
	if err := c.Call(ctx5(t), "authenticate", map[string]any{"nonce": nonce}, &tok); err != nil {
		t.Fatal(err)
	}
	if _, err := webeid.Verify(&tok, goodOrigin, nonce); err != nil {
		t.Fatalf("token does not verify for the handshake origin: %v", err)
	}
	if tok.Format != "web-eid:1.0" || tok.Algorithm != "ES384" {
		t.Errorf("token %+v", tok)
	}
	ts.be.mu.Lock()
	defer ts.be.mu.Unlock()
	if ts.be.authOrigin != goodOrigin {
		t.Errorf("backend got origin %q", ts.be.authOrigin)
	}
}

func TestSignAndErrors(t *testing.T) {
	ts := start(t, nil)
	c := dial(t, ts, client.Auth{Origin: goodOrigin})
	hash := "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=" // SHA-256("")
	var r bridge.SignResult
	if err := c.Call(ctx5(t), "sign", map[string]any{"certificate": "AA==", "hash": hash, "hashFunction": "SHA-256"}, &r); err != nil {
		t.Fatal(err)
	}
	wantCode(t, c.Call(ctx5(t), "sign", map[string]any{"certificate": "AA==", "hash": hash, "hashFunction": "SHA-384"}, nil), bridge.CodeBadRequest)
	wantCode(t, c.Call(ctx5(t), "signing-certificate", nil, nil), bridge.CodeNoKey)
	var p bridge.ReadingProofResult
	if err := c.Call(ctx5(t), "reading-proof", map[string]any{"nonce": nonce, "fields": []string{"identity"}}, &p); err != nil ||
		p.Origin != goodOrigin || p.Nonce != nonce || len(p.Proof) == 0 {
		t.Errorf("reading-proof %v %+v", err, p)
	}
	// The backend's photo was not asked for: it does not leave the agent.
	if _, ok := p.Reading["photo"]; ok || len(p.Reading) != 1 {
		t.Errorf("reading-proof returned %v", p.Reading)
	}
}

func TestEvents(t *testing.T) {
	ts := start(t, nil)
	c := dial(t, ts, client.Auth{Origin: goodOrigin})
	if err := c.Call(ctx5(t), "subscribe", nil, nil); err != nil {
		t.Fatal(err)
	}
	select {
	case ev := <-c.Events():
		if ev.Event != "card-inserted" || !strings.Contains(string(ev.Data), `"reader":"Virtual Reader 0"`) {
			t.Errorf("event %s %s", ev.Event, ev.Data)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no event")
	}
}

func TestIdleTimeout(t *testing.T) {
	ts := start(t, func(c *bridge.Config) { c.Limits.IdleTimeout = 200 * time.Millisecond })
	c := dial(t, ts, client.Auth{Origin: goodOrigin})
	select {
	case <-c.Done():
		if !websocket.IsCloseError(c.Err(), websocket.CloseNormalClosure) {
			t.Errorf("closed with %v", c.Err())
		}
	case <-time.After(5 * time.Second):
		t.Fatal("idle connection not closed")
	}
}

func TestServerCloseEndsConnections(t *testing.T) {
	ts := start(t, nil)
	c := dial(t, ts, client.Auth{Origin: goodOrigin})
	done := make(chan error, 1)
	go func() { done <- ts.srv.Close() }()
	select {
	case <-c.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("client not closed")
	}
	if err := <-done; err != nil {
		t.Error(err)
	}
}

func TestProgressGoesToRequester(t *testing.T) {
	ts := start(t, nil)
	ts.be.progress = true
	c := dial(t, ts, client.Auth{Origin: goodOrigin})
	other := dial(t, ts, client.Auth{Origin: goodOrigin})
	if err := c.Call(ctx5(t), "read", map[string]any{"fields": []string{"identity"}}, nil); err != nil {
		t.Fatal(err)
	}
	select {
	case ev := <-c.Events():
		if ev.Event != "progress" || string(ev.Data) != `{"id":2,"step":"reading","percent":50}` {
			t.Errorf("event %s %s", ev.Event, ev.Data)
		}
		b, _ := json.Marshal(ev)
		if err := testkit.ValidateSchema(bridge.Schema, "event-progress", b); err != nil {
			t.Error(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no progress event")
	}
	if err := other.Call(ctx5(t), "readers", nil, nil); err != nil {
		t.Fatal(err)
	}
	select {
	case ev := <-other.Events():
		t.Errorf("another connection got %s", ev.Event)
	default:
	}
}
