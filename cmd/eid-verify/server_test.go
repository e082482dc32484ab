package main

import (
	"bytes"
	"context"
	"crypto"
	"crypto/x509"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/eid-agent/eid-agent/internal/testkit"

	"github.com/eid-agent/eid-agent/internal/clock"

	"github.com/eid-agent/eid-agent/bridge/webeid"
	"github.com/eid-agent/eid-agent/card/eidfile"
	"github.com/eid-agent/eid-agent/internal/virtual"
	"github.com/eid-agent/eid-agent/verify"
)

const testOrigin = "https://verify.example"

// A virtual card gives the whole test PKI: its authentication and signing
// keys make tokens exactly as the agent does (webeid.Create), its files
// make bundles (eidfile.NewBundle).
type testCard struct {
	p          *virtual.Profile
	auth, sign *x509.Certificate
}

func loadCard(t testing.TB, preset string) *testCard {
	t.Helper()
	p, err := virtual.Preset(preset)
	if err != nil {
		t.Fatal(err)
	}
	cert := func(path string) *x509.Certificate {
		der, err := eidfile.CertificateDER(p.Files[path])
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		if der == nil {
			return nil // a Kids-ID has no signing certificate
		}
		c, err := x509.ParseCertificate(der)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	return &testCard{p: p, auth: cert(virtual.PathAuthCert), sign: cert(virtual.PathSignCert)}
}

type keyWithCert struct {
	crypto.Signer
	cert *x509.Certificate
}

func (k keyWithCert) Certificate() *x509.Certificate { return k.cert }

func (c *testCard) token(t testing.TB, origin, nonce string) json.RawMessage {
	t.Helper()
	return c.tokenWith(t, keyWithCert{c.p.AuthKey, c.auth}, origin, nonce)
}

func (c *testCard) tokenWith(t testing.TB, k keyWithCert, origin, nonce string) json.RawMessage {
	t.Helper()
	tok, err := webeid.Create(k, origin, nonce, webeid.Options{Origin: webeid.OriginOptions{AllowHTTPLoopback: true}})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(tok)
	return b
}

func (c *testCard) bundle(t testing.TB, edit func(f *eidfile.Files)) json.RawMessage {
	t.Helper()
	f := &eidfile.Files{
		CardData:          c.p.CardData,
		Identity:          bytes.Clone(c.p.Files[virtual.PathIdentity]),
		IdentitySignature: c.p.Files[virtual.PathIdentitySig],
		Address:           bytes.Clone(c.p.Files[virtual.PathAddress]),
		AddressSignature:  c.p.Files[virtual.PathAddressSig],
		Photo:             bytes.Clone(c.p.Files[virtual.PathPhoto]),
		BasicKey:          c.p.Files[virtual.PathBasicKey],
		RRNCert:           c.p.Files[virtual.PathRRNCert],
	}
	if edit != nil {
		edit(f)
	}
	b, _ := json.Marshal(eidfile.NewBundle(f))
	return b
}

type env struct {
	t     *testing.T
	card  *testCard
	srv   *server
	ts    *httptest.Server
	clock *testkit.Clock
	// cookie is the session cookie the "browser" holds.
	cookie *http.Cookie
}

func newEnv(t *testing.T, origin string, mods ...func(*config)) *env {
	t.Helper()
	c := loadCard(t, "citizen-1.8")
	clock := testkit.NewClock(clock.Now())
	nonces := &verify.MemoryNonceStore{Now: clock.Now}
	roots, inters := x509.NewCertPool(), x509.NewCertPool()
	roots.AddCert(c.p.PKI.Root)
	inters.AddCert(c.p.PKI.CA)
	store := &eidfile.TrustStore{}
	store.Add(c.p.PKI.Root)
	cfg := config{
		Origin: origin, AgentURL: "ws://127.0.0.1:8877/ws",
		Validator: &verify.Validator{Roots: roots, Intermediates: inters, Nonces: nonces, Now: clock.Now, OCSP: verify.OCSPConfig{Policy: verify.OCSPOff}},
		Nonces:    nonces,
		Bundles:   &verify.BundleVerifier{Trust: store},
		Now:       clock.Now,
	}
	for _, m := range mods {
		m(&cfg)
	}
	srv, err := newServer(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(srv)
	t.Cleanup(ts.Close)
	return &env{t: t, card: c, srv: srv, ts: ts, clock: clock}
}

type answer struct {
	status int
	header http.Header
	body   map[string]any
	raw    []byte
}

func (a answer) code() string {
	e, _ := a.body["error"].(map[string]any)
	s, _ := e["code"].(string)
	return s
}

// do sends a request as the page would (same origin, JSON), keeping the
// session cookie.
func (e *env) do(method, path string, body any, mod func(*http.Request)) answer {
	e.t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			e.t.Fatal(err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, e.ts.URL+path, rd)
	if err != nil {
		e.t.Fatal(err)
	}
	if method == http.MethodPost {
		req.Header.Set("Origin", e.srv.cfg.Origin)
		req.Header.Set("Content-Type", "application/json")
	}
	if e.cookie != nil {
		req.AddCookie(e.cookie)
	}
	if mod != nil {
		mod(req)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	for _, c := range res.Cookies() {
		if c.Name == e.srv.cookie {
			if c.MaxAge < 0 {
				e.cookie = nil
			} else {
				e.cookie = c
			}
		}
	}
	a := answer{status: res.StatusCode, header: res.Header, raw: raw}
	json.Unmarshal(raw, &a.body)
	return a
}

func (e *env) nonce() string {
	e.t.Helper()
	a := e.do("POST", "/api/nonce", map[string]any{}, nil)
	if a.status != 200 {
		e.t.Fatalf("nonce: %d %s", a.status, a.raw)
	}
	n, _ := a.body["nonce"].(string)
	if len(n) != 44 {
		e.t.Fatalf("nonce %q", n)
	}
	return n
}

func (e *env) login(token json.RawMessage) answer {
	e.t.Helper()
	return e.do("POST", "/api/login", map[string]any{"token": token}, nil)
}

func TestLogin(t *testing.T) {
	e := newEnv(t, testOrigin)
	if a := e.do("GET", "/api/session", nil, nil); a.body["loggedIn"] != false {
		t.Fatalf("session before login: %s", a.raw)
	}
	n := e.nonce()
	before := e.cookie.Value
	if !e.cookie.HttpOnly || !e.cookie.Secure || e.cookie.SameSite != http.SameSiteStrictMode || e.cookie.Name != "__Host-eidv_session" {
		t.Fatalf("cookie %+v", e.cookie)
	}
	a := e.login(e.card.token(t, testOrigin, n))
	if a.status != 200 {
		t.Fatalf("login: %d %s", a.status, a.raw)
	}
	p := a.body["person"].(map[string]any)
	_, id, err := eidfile.ParseIdentity(e.card.p.Files[virtual.PathIdentity])
	if err != nil {
		t.Fatal(err)
	}
	if p["ssin"] != id.NationalNumber || p["surname"] == "" {
		t.Fatalf("person %v, want SSIN %s", p, id.NationalNumber)
	}
	checks := a.body["checks"].([]any)
	if len(checks) < 7 || checks[0] != "nonce" {
		t.Fatalf("checks %v", checks)
	}
	if e.cookie.Value == before {
		t.Fatal("session ID not renewed at login")
	}
	s := e.do("GET", "/api/session", nil, nil)
	if s.body["loggedIn"] != true {
		t.Fatalf("session after login: %s", s.raw)
	}
	// The same token again: its challenge is spent.
	if a := e.login(e.card.token(t, testOrigin, n)); a.status != 400 || a.code() != "NONCE_UNKNOWN" {
		t.Fatalf("second use: %d %s", a.status, a.raw)
	}
	if a := e.do("POST", "/api/logout", map[string]any{}, nil); a.status != 200 || e.cookie != nil {
		t.Fatalf("logout: %d %s cookie %v", a.status, a.raw, e.cookie)
	}
	if a := e.do("GET", "/api/session", nil, nil); a.body["loggedIn"] != false {
		t.Fatalf("session after logout: %s", a.raw)
	}
}

func TestLoginFailures(t *testing.T) {
	for _, tc := range []struct {
		name   string
		token  func(e *env, nonce string) json.RawMessage
		status int
		code   string
	}{
		{name: "wrong origin", status: 401, code: "SIGNATURE",
			token: func(e *env, n string) json.RawMessage { return e.card.token(e.t, "https://evil.example", n) }},
		{name: "token for an earlier nonce", status: 401, code: "SIGNATURE",
			token: func(e *env, n string) json.RawMessage {
				old := e.card.token(e.t, testOrigin, n)
				e.nonce() // the page asks again: only the latest counts
				return old
			}},
		{name: "expired nonce", status: 401, code: "NONCE_EXPIRED",
			token: func(e *env, n string) json.RawMessage {
				e.clock.Add(verify.DefaultNonceLifetime + time.Second)
				return e.card.token(e.t, testOrigin, n)
			}},
		{name: "tampered signature", status: 401, code: "SIGNATURE",
			token: func(e *env, n string) json.RawMessage {
				var m map[string]string
				json.Unmarshal(e.card.token(e.t, testOrigin, n), &m)
				// Change the first character whatever it is (a fixed
				// "A" left one signature in 64 untouched).
				first := "A"
				if m["signature"][0] == 'A' {
					first = "B"
				}
				m["signature"] = first + m["signature"][1:]
				b, _ := json.Marshal(m)
				return b
			}},
		{name: "signing certificate", status: 401, code: "NOT_AUTH_CERT",
			token: func(e *env, n string) json.RawMessage {
				return e.card.tokenWith(e.t, keyWithCert{e.card.p.SignKey, e.card.sign}, testOrigin, n)
			}},
		{name: "untrusted root", status: 401, code: "UNTRUSTED",
			token: func(e *env, n string) json.RawMessage {
				other := loadCard(e.t, "citizen-1.7")
				return other.token(e.t, testOrigin, n)
			}},
		{name: "expired certificate", status: 401, code: "CERT_EXPIRED",
			token: func(e *env, n string) json.RawMessage {
				// The validator's clock only: the session and the nonce
				// stay live.
				e.srv.cfg.Validator.Now = func() time.Time { return e.card.auth.NotAfter.Add(time.Hour) }
				return e.card.token(e.t, testOrigin, n)
			}},
		{name: "not a token", status: 401, code: "TOKEN_FORMAT",
			token: func(e *env, n string) json.RawMessage { return json.RawMessage(`{"format":"web-eid:2"}`) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, testOrigin)
			n := e.nonce()
			a := e.login(tc.token(e, n))
			if a.status != tc.status || a.code() != tc.code {
				t.Fatalf("%d %s, want %d %s", a.status, a.raw, tc.status, tc.code)
			}
			if s := e.do("GET", "/api/session", nil, nil); s.body["loggedIn"] != false {
				t.Fatal("logged in after a refused token")
			}
		})
	}
}

// Login CSRF: a token the attacker obtained for their own session's nonce
// does not log the victim's session in.
func TestLoginNonceBoundToSession(t *testing.T) {
	victim := newEnv(t, testOrigin)
	attacker := &env{t: t, card: victim.card, srv: victim.srv, ts: victim.ts, clock: victim.clock}
	attackerNonce := attacker.nonce()
	victim.nonce()
	a := victim.login(victim.card.token(t, testOrigin, attackerNonce))
	if a.status != 401 || a.code() != "SIGNATURE" {
		t.Fatalf("%d %s", a.status, a.raw)
	}
}

func TestRequestChecks(t *testing.T) {
	e := newEnv(t, testOrigin)
	for _, tc := range []struct {
		name, method, path string
		mod                func(*http.Request)
		body               any
		status             int
		code               string
	}{
		{name: "login without session", method: "POST", path: "/api/login", body: map[string]any{"token": map[string]string{}}, status: 401, code: "NO_SESSION"},
		{name: "cross-origin POST", method: "POST", path: "/api/nonce", body: map[string]any{}, status: 403, code: "CROSS_ORIGIN",
			mod: func(r *http.Request) { r.Header.Set("Origin", "https://evil.example") }},
		{name: "POST without Origin", method: "POST", path: "/api/nonce", body: map[string]any{}, status: 403, code: "CROSS_ORIGIN",
			mod: func(r *http.Request) { r.Header.Del("Origin") }},
		{name: "POST without Origin, same-origin fetch", method: "POST", path: "/api/nonce", body: map[string]any{}, status: 200,
			mod: func(r *http.Request) { r.Header.Del("Origin"); r.Header.Set("Sec-Fetch-Site", "same-origin") }},
		{name: "form post", method: "POST", path: "/api/login", body: map[string]any{}, status: 415, code: "BAD_REQUEST",
			mod: func(r *http.Request) { r.Header.Set("Content-Type", "application/x-www-form-urlencoded") }},
		{name: "not JSON", method: "POST", path: "/api/login", status: 400, code: "BAD_REQUEST",
			mod: func(r *http.Request) { r.Body = io.NopCloser(strings.NewReader("token=x")) }},
		{name: "too large", method: "POST", path: "/api/login", status: 413, code: "TOO_LARGE",
			mod: func(r *http.Request) {
				r.Body = io.NopCloser(strings.NewReader(`{"token":"` + strings.Repeat("A", verify.MaxTokenSize+2048) + `"}`))
			}},
		{name: "identity without bundle", method: "POST", path: "/api/identity", body: map[string]any{}, status: 400, code: "BAD_REQUEST"},
		{name: "GET on a POST endpoint", method: "GET", path: "/api/login", status: 405},
		{name: "PUT on the page", method: "PUT", path: "/", status: 405},
		{name: "unknown path", method: "GET", path: "/admin", status: 404},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e.cookie = nil
			a := e.do(tc.method, tc.path, tc.body, tc.mod)
			if a.status != tc.status || a.code() != tc.code {
				t.Fatalf("%d %s, want %d %s", a.status, a.raw, tc.status, tc.code)
			}
			checkHeaders(t, a.header, true)
		})
	}
}

func checkHeaders(t *testing.T, h http.Header, https bool) {
	t.Helper()
	for k, want := range map[string]string{
		"X-Content-Type-Options": "nosniff",
		"X-Frame-Options":        "DENY",
		"Referrer-Policy":        "no-referrer",
		"Cache-Control":          "no-store",
	} {
		if h.Get(k) != want {
			t.Errorf("%s: %q, want %q", k, h.Get(k), want)
		}
	}
	csp := h.Get("Content-Security-Policy")
	for _, want := range []string{"default-src 'none'", "script-src 'self'", "frame-ancestors 'none'", "connect-src 'self' ws://127.0.0.1:8877 http://127.0.0.1:8877"} {
		if !strings.Contains(csp, want) {
			t.Errorf("CSP %q lacks %q", csp, want)
		}
	}
	if (h.Get("Strict-Transport-Security") != "") != https {
		t.Errorf("HSTS %q for https=%v", h.Get("Strict-Transport-Security"), https)
	}
	if h.Get("Access-Control-Allow-Origin") != "" {
		t.Error("CORS header present")
	}
}

func TestPages(t *testing.T) {
	e := newEnv(t, "http://127.0.0.1:8080")
	for _, tc := range []struct{ path, ctype, contains string }{
		{"/", "text/html; charset=utf-8", `<meta name="eid-agent" content="ws://127.0.0.1:8877/ws">`},
		{"/app.js", "text/javascript; charset=utf-8", `import { connect } from "/eid-agent.js"`},
		{"/style.css", "text/css; charset=utf-8", "button"},
		{"/eid-agent.js", "text/javascript; charset=utf-8", "export async function connect("},
	} {
		a := e.do("GET", tc.path, nil, nil)
		if a.status != 200 || a.header.Get("Content-Type") != tc.ctype || !bytes.Contains(a.raw, []byte(tc.contains)) {
			t.Errorf("%s: %d %q %.80s", tc.path, a.status, a.header.Get("Content-Type"), a.raw)
		}
		checkHeaders(t, a.header, false)
	}
	// A plain-http (development) origin: no Secure cookie, no __Host- name.
	e.nonce()
	if e.cookie.Secure || e.cookie.Name != "eidv_session" {
		t.Fatalf("cookie %+v", e.cookie)
	}
	// Without a client, the page says how to get one.
	e.srv.clientJS = nil
	if a := e.do("GET", "/eid-agent.js", nil, nil); a.status != 404 || a.code() != "NO_CLIENT" {
		t.Fatalf("no client: %d %s", a.status, a.raw)
	}
}

func TestIdentity(t *testing.T) {
	e := newEnv(t, testOrigin)
	_, id, _ := eidfile.ParseIdentity(e.card.p.Files[virtual.PathIdentity])

	// Nobody logged in: verified, matchesLogin null.
	a := e.do("POST", "/api/identity", map[string]any{"bundle": e.card.bundle(t, nil)}, nil)
	if a.status != 200 {
		t.Fatalf("%d %s", a.status, a.raw)
	}
	r := a.body["reading"].(map[string]any)
	if r["identity"].(map[string]any)["nationalNumber"] != id.NationalNumber || a.body["matchesLogin"] != nil {
		t.Fatalf("answer %.300s", a.raw)
	}
	if r["photo"] == nil || r["address"] == nil {
		t.Fatal("photo or address missing")
	}

	// Logged in with the same card: matchesLogin true; another card's
	// bundle: false.
	e.login(e.card.token(t, testOrigin, e.nonce()))
	if a := e.do("POST", "/api/identity", map[string]any{"bundle": e.card.bundle(t, nil)}, nil); a.body["matchesLogin"] != true {
		t.Fatalf("same card: %.300s", a.raw)
	}
	kid := loadCard(t, "kids-1.8") // same test PKI family, another holder
	if a := e.do("POST", "/api/identity", map[string]any{"bundle": kid.bundle(t, nil)}, nil); a.status != 200 || a.body["matchesLogin"] != false {
		t.Fatalf("other card: %d %.300s", a.status, a.raw)
	}

	for _, tc := range []struct {
		name   string
		bundle json.RawMessage
		status int
		code   string
	}{
		{"tampered identity", e.card.bundle(t, func(f *eidfile.Files) {
			fields, _ := eidfile.ParseTLV(f.Identity, "identity")
			for _, fl := range fields {
				if fl.Tag == 0x07 { // surname; the value shares the file's memory
					fl.Value[0] ^= 1
				}
			}
		}), 422, "IDENTITY_TAMPERED"},
		{"tampered address", e.card.bundle(t, func(f *eidfile.Files) { f.Address[3] ^= 1 }), 422, "ADDRESS_TAMPERED"},
		{"photo mismatch", e.card.bundle(t, func(f *eidfile.Files) { f.Photo[100] ^= 1 }), 422, "PHOTO_MISMATCH"},
		{"untrusted RRN", loadCard(t, "citizen-1.7").bundle(t, nil), 422, "RRN_UNTRUSTED"},
		{"missing file", e.card.bundle(t, func(f *eidfile.Files) { f.IdentitySignature = nil }), 422, "FILE_MISSING"},
		{"malformed file", e.card.bundle(t, func(f *eidfile.Files) { f.RRNCert = []byte{0x30, 0x01} }), 422, "FILE_MALFORMED"},
		{"not a bundle", json.RawMessage(`{"format":"other"}`), 400, "BUNDLE_FORMAT"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := e.do("POST", "/api/identity", map[string]any{"bundle": tc.bundle}, nil)
			if a.status != tc.status || a.code() != tc.code {
				t.Fatalf("%d %.300s, want %d %s", a.status, a.raw, tc.status, tc.code)
			}
		})
	}
}

func TestSessionExpiry(t *testing.T) {
	e := newEnv(t, testOrigin)
	e.login(e.card.token(t, testOrigin, e.nonce()))
	if a := e.do("GET", "/api/session", nil, nil); a.body["loggedIn"] != true {
		t.Fatal("not logged in")
	}
	e.clock.Add(31 * time.Minute)
	if a := e.do("GET", "/api/session", nil, nil); a.body["loggedIn"] != false {
		t.Fatal("session outlived its idle time")
	}
}

func TestSessionLimit(t *testing.T) {
	e := newEnv(t, testOrigin, func(c *config) { c.MaxSessions = 2 })
	e.nonce()
	e.cookie = nil
	e.nonce()
	e.cookie = nil
	if a := e.do("POST", "/api/nonce", map[string]any{}, nil); a.status != 503 || a.code() != "BUSY" {
		t.Fatalf("%d %s", a.status, a.raw)
	}
	e.clock.Add(time.Hour) // the two expire: room again
	e.nonce()
}

func TestOptions(t *testing.T) {
	for _, tc := range []struct {
		args []string
		ok   bool
	}{
		{[]string{"--origin", "https://verify.example"}, true},
		{[]string{"--origin", "http://127.0.0.1:8080", "--ocsp", "off"}, true},
		{[]string{"--origin", "https://verify.example", "--ocsp", "best-effort", "--agent", "wss://127.0.0.1:8878/ws"}, true},
		{[]string{}, false},
		{[]string{"--origin", "http://verify.example"}, false},
		{[]string{"--origin", "https://verify.example/path"}, false},
		{[]string{"--origin", "https://verify.example", "--ocsp", "sometimes"}, false},
		{[]string{"--origin", "https://verify.example", "--agent", "http://127.0.0.1:8877/ws"}, false},
		{[]string{"--origin", "https://verify.example", "--tls-cert", "c.pem"}, false},
		{[]string{"--origin", "https://verify.example", "extra"}, false},
		{[]string{"--origin", "https://verify.example", "--redis", "redis://127.0.0.1:6379/0"}, true},
		{[]string{"--origin", "https://verify.example", "--redis", "rediss://user:pw@redis.internal:6380/1"}, true},
		{[]string{"--origin", "https://verify.example", "--redis", "http://127.0.0.1:6379"}, false},
		{[]string{"--origin", "https://verify.example", "--redis", "redis://127.0.0.1:6379/x"}, false},
		{[]string{"--origin", "https://verify.example", "--redis", "rediss://127.0.0.1:6379/0?skip_verify=true"}, false},
		{[]string{"--origin", "https://verify.example", "--redis-ca", "testdata/none.pem"}, false},
		{[]string{"--origin", "https://verify.example", "--redis", "rediss://127.0.0.1:6379/0", "--redis-ca", "/nonexistent.pem"}, false},
		{[]string{"--origin", "https://verify.example", "--redis", "rediss://127.0.0.1:6379/0", "--redis-ca", "server_test.go"}, false},
	} {
		_, err := parseOptions(tc.args, io.Discard)
		if (err == nil) != tc.ok {
			t.Errorf("%v: %v", tc.args, err)
		}
	}
}

// run end to end: a real listener, the page, a clean stop.
func TestRun(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	addrc := make(chan string, 1)
	done := make(chan int, 1)
	var out, errb bytes.Buffer
	go func() {
		done <- run(ctx, []string{"--listen", "127.0.0.1:0", "--origin", "http://127.0.0.1:8080", "--ocsp", "off"}, &out, &errb, func(a string) { addrc <- a })
	}()
	var addr string
	select {
	case addr = <-addrc:
	case code := <-done:
		t.Fatalf("exited %d: %s", code, errb.String())
	}
	res, err := http.Get("http://" + addr + "/")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 200 {
		t.Fatalf("GET /: %d", res.StatusCode)
	}
	cancel()
	if code := <-done; code != exitOK {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	if code := run(context.Background(), []string{"--origin", "https://x.example", "--trust-root", "/nonexistent.pem"}, &out, &errb, nil); code != exitFail {
		t.Fatalf("bad trust root: exit %d", code)
	}
	if code := run(context.Background(), []string{}, &out, &errb, nil); code != exitUsage {
		t.Fatalf("no origin: exit %d", code)
	}
}

// The Redis URL comes from the environment when --redis is absent (a
// password on a command line is visible to every local user), and a bad
// one is reported without its password.
func TestOptionsRedisEnv(t *testing.T) {
	t.Setenv(envRedis, "redis://10.0.0.5:6379/3")
	o, err := parseOptions([]string{"--origin", "https://verify.example"}, io.Discard)
	if err != nil || o.redis != "redis://10.0.0.5:6379/3" {
		t.Fatalf("%+v %v", o, err)
	}
	o, err = parseOptions([]string{"--origin", "https://verify.example", "--redis", "redis://other:6379/0"}, io.Discard)
	if err != nil || o.redis != "redis://other:6379/0" {
		t.Fatalf("the flag does not win over the environment: %+v %v", o, err)
	}
	t.Setenv(envRedis, "redis://u:hunter2@h:6379/nodb")
	_, err = parseOptions([]string{"--origin", "https://verify.example"}, io.Discard)
	if err == nil || strings.Contains(err.Error(), "hunter2") {
		t.Fatalf("bad URL: %v", err)
	}
	var help bytes.Buffer
	parseOptions([]string{"--help"}, &help)
	if !strings.Contains(help.String(), "-redis") || strings.Contains(help.String(), "hunter2") {
		t.Fatalf("--help with the variable set:\n%s", help.String())
	}
}

func TestHealthMemory(t *testing.T) {
	e := newEnv(t, testOrigin)
	a := e.do("GET", "/healthz", nil, nil)
	if a.status != 200 || a.body["status"] != "ok" || a.body["store"] != "memory" {
		t.Fatalf("%d %s", a.status, a.raw)
	}
}
