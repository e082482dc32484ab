package web_test

import (
	"bytes"
	"crypto"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/eid-agent/eid-agent/bridge/webeid"
	"github.com/eid-agent/eid-agent/internal/lab"
	"github.com/eid-agent/eid-agent/internal/testkit"
	"github.com/eid-agent/eid-agent/internal/virtual"
	"github.com/eid-agent/eid-agent/internal/web"
	"github.com/eid-agent/eid-agent/verify"
)

func get(t *testing.T, h http.Handler, method, target string, hdr map[string]string, body []byte) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest(method, target, bytes.NewReader(body))
	req.Host = "127.0.0.1:8877"
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

func checkSecurityHeaders(t *testing.T, rec *httptest.ResponseRecorder) {
	t.Helper()
	h := rec.Header()
	want := map[string]string{
		"Content-Security-Policy": web.ContentSecurityPolicy("127.0.0.1:8877"),
		"X-Frame-Options":         "DENY",
		"Referrer-Policy":         "no-referrer",
		"X-Content-Type-Options":  "nosniff",
	}
	for k, v := range want {
		if h.Get(k) != v {
			t.Errorf("%s = %q, want %q", k, h.Get(k), v)
		}
	}
	for k := range h {
		if strings.HasPrefix(k, "Access-Control-") {
			t.Errorf("CORS header %s present", k)
		}
	}
}

func readFS(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestAssets(t *testing.T) {
	h := web.Handler(web.Options{})
	tests := []struct {
		path, file, ctype string
	}{
		{"/", "demo/index.html", "text/html; charset=utf-8"},
		{"/index.html", "demo/index.html", "text/html; charset=utf-8"},
		{"/demo/", "demo/index.html", "text/html; charset=utf-8"},
		{"/eid-agent.js", "eid-agent.js", "text/javascript; charset=utf-8"},
		{"/eid-agent.d.ts", "eid-agent.d.ts", "application/typescript; charset=utf-8"},
		{"/demo/demo.js", "demo/demo.js", "text/javascript; charset=utf-8"},
		{"/demo/demo.css", "demo/demo.css", "text/css; charset=utf-8"},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			rec := get(t, h, http.MethodGet, tt.path, nil, nil)
			if rec.Code != http.StatusOK {
				t.Fatalf("status %d", rec.Code)
			}
			checkSecurityHeaders(t, rec)
			if ct := rec.Header().Get("Content-Type"); ct != tt.ctype {
				t.Errorf("Content-Type %q, want %q", ct, tt.ctype)
			}
			if !bytes.Equal(rec.Body.Bytes(), readFS(t, tt.file)) {
				t.Errorf("body is not %s", tt.file)
			}
			etag := rec.Header().Get("ETag")
			if etag == "" {
				t.Fatal("no ETag")
			}
			again := get(t, h, http.MethodGet, tt.path, map[string]string{"If-None-Match": etag}, nil)
			if again.Code != http.StatusNotModified {
				t.Errorf("conditional GET: status %d, want 304", again.Code)
			}
			head := get(t, h, http.MethodHead, tt.path, nil, nil)
			if head.Code != http.StatusOK || head.Body.Len() != 0 {
				t.Errorf("HEAD: status %d, %d body bytes", head.Code, head.Body.Len())
			}
		})
	}
	if !bytes.Equal(web.ClientJS, readFS(t, "eid-agent.js")) || !bytes.Equal(web.ClientTypes, readFS(t, "eid-agent.d.ts")) {
		t.Error("ClientJS / ClientTypes differ from the files")
	}
}

func TestNotFoundAndMethods(t *testing.T) {
	h := web.Handler(web.Options{})
	tests := []struct {
		method, path string
		status       int
		allow        string
	}{
		{"GET", "/web.go", 404, ""},
		{"GET", "/demo/../web.go", 404, ""},
		{"GET", "/demo/./demo.js", 404, ""},
		{"GET", "/demo//demo.js", 404, ""},
		{"GET", "/demo/nothere.js", 404, ""},
		{"GET", "/demo/.hidden", 404, ""},
		{"GET", "/eid-agent.js/", 404, ""},
		{"GET", "/test/client.test.mjs", 404, ""},
		{"GET", "/package.json", 404, ""},
		{"POST", "/", 405, "GET, HEAD"},
		{"PUT", "/eid-agent.js", 405, "GET, HEAD"},
		{"DELETE", "/demo/demo.js", 405, "GET, HEAD"},
		{"OPTIONS", "/demo/demo.js", 405, "GET, HEAD"},
		{"GET", "/demo/nonce", 405, "POST"},
		{"HEAD", "/demo/verify", 405, "POST"},
		{"OPTIONS", "/demo/verify", 405, "POST"},
	}
	for _, tt := range tests {
		t.Run(tt.method+" "+tt.path, func(t *testing.T) {
			rec := get(t, h, tt.method, tt.path, nil, nil)
			if rec.Code != tt.status {
				t.Fatalf("status %d, want %d", rec.Code, tt.status)
			}
			if got := rec.Header().Get("Allow"); got != tt.allow {
				t.Errorf("Allow %q, want %q", got, tt.allow)
			}
			checkSecurityHeaders(t, rec)
		})
	}
}

func postJSON(t *testing.T, h http.Handler, path string, body []byte, hdr map[string]string) (*httptest.ResponseRecorder, map[string]any) {
	t.Helper()
	all := map[string]string{"Content-Type": "application/json"}
	for k, v := range hdr {
		all[k] = v
	}
	rec := get(t, h, http.MethodPost, path, all, body)
	var out map[string]any
	if err := json.Unmarshal(rec.Body.Bytes(), &out); err != nil {
		t.Fatalf("%s answered non-JSON %q", path, rec.Body.String())
	}
	return rec, out
}

func errCode(out map[string]any) string {
	e, _ := out["error"].(map[string]any)
	c, _ := e["code"].(string)
	return c
}

func TestNonce(t *testing.T) {
	store := &verify.MemoryNonceStore{}
	h := web.Handler(web.Options{Nonces: store})
	rec, out := postJSON(t, h, "/demo/nonce", nil, nil)
	n, _ := out["nonce"].(string)
	if rec.Code != 200 || len(n) != 44 {
		t.Fatalf("status %d nonce %q", rec.Code, n)
	}
	if rec.Header().Get("Cache-Control") != "no-store" {
		t.Error("a nonce must not be cached")
	}
	checkSecurityHeaders(t, rec)
	if err := store.Take(n); err != nil {
		t.Errorf("the nonce was not issued into Options.Nonces: %v", err)
	}
	_, out2 := postJSON(t, h, "/demo/nonce", []byte("{}"), map[string]string{"Origin": "http://127.0.0.1:8877"})
	if out2["nonce"] == n || out2["nonce"] == nil {
		t.Errorf("second nonce %v", out2["nonce"])
	}

	refusals := []struct {
		name   string
		hdr    map[string]string
		body   []byte
		status int
	}{
		{"form post", map[string]string{"Content-Type": "application/x-www-form-urlencoded"}, nil, 415},
		{"text/plain (simple CORS request)", map[string]string{"Content-Type": "text/plain"}, nil, 415},
		{"cross-origin", map[string]string{"Origin": "http://evil.example"}, nil, 403},
		{"other loopback port", map[string]string{"Origin": "http://127.0.0.1:9999"}, nil, 403},
		{"https variant of the origin", map[string]string{"Origin": "https://127.0.0.1:8877"}, nil, 403},
		{"too large", nil, bytes.Repeat([]byte(" "), 2<<10), 413},
	}
	for _, tt := range refusals {
		t.Run(tt.name, func(t *testing.T) {
			rec, out := postJSON(t, h, "/demo/nonce", tt.body, tt.hdr)
			if rec.Code != tt.status || errCode(out) != web.CodeBadRequest {
				t.Errorf("status %d code %q, want %d %s", rec.Code, errCode(out), tt.status, web.CodeBadRequest)
			}
		})
	}
}

// authSigner is the virtual card's authentication key with its
// certificate, so the tests make tokens exactly as the agent does.
type authSigner struct {
	crypto.Signer
	cert *x509.Certificate
}

func (s authSigner) Certificate() *x509.Certificate { return s.cert }

// testDay is the day the web tests run "on": their card is issued around
// it and the verifier's clock is set to it, so the golden answers hold no
// date of the machine running them (docs/testing.md, "Clocks").
var testDay = time.Date(2026, time.November, 15, 10, 0, 0, 0, time.UTC)

func testNow() time.Time { return testDay }

type fixture struct {
	profile *virtual.Profile
	signer  authSigner
	roots   *x509.CertPool
	inters  *x509.CertPool
}

var (
	fixOnce sync.Once
	fix     fixture
	fixErr  error
)

func loadFixture(t *testing.T) fixture {
	t.Helper()
	fixOnce.Do(func() {
		p, err := virtual.PresetAt("citizen-1.8", testDay)
		if err != nil {
			fixErr = err
			return
		}
		cert, err := p.Certificate(virtual.PathAuthCert)
		if err != nil {
			fixErr = err
			return
		}
		fix = fixture{profile: p, signer: authSigner{p.AuthKey, cert}, roots: x509.NewCertPool(), inters: x509.NewCertPool()}
		fix.roots.AddCert(p.PKI.Root)
		fix.inters.AddCert(p.PKI.CA)
	})
	if fixErr != nil {
		t.Fatal(fixErr)
	}
	return fix
}

func token(t *testing.T, f fixture, origin, nonce string) json.RawMessage {
	t.Helper()
	tok, err := webeid.Create(f.signer, origin, nonce, webeid.Options{Origin: webeid.OriginOptions{AllowHTTPLoopback: true}, Version: "0.1.0"})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(tok)
	return b
}

func verifyBody(nonce string, tok json.RawMessage) []byte {
	b, _ := json.Marshal(map[string]any{"nonce": nonce, "token": tok})
	return b
}

func TestVerify(t *testing.T) {
	f := loadFixture(t)
	const origin = "http://127.0.0.1:8877" // the Host get() sends
	store := &verify.MemoryNonceStore{Now: testNow}
	h := web.Handler(web.Options{Roots: f.roots, Intermediates: f.inters, Nonces: store, Now: testNow})
	untrusting := web.Handler(web.Options{Intermediates: f.inters, Nonces: store, Now: testNow})
	issue := func() string {
		n, err := store.Issue()
		if err != nil {
			t.Fatal(err)
		}
		return n
	}

	good := issue()
	rec, out := postJSON(t, h, "/demo/verify", verifyBody(good, token(t, f, origin, good)), map[string]string{"Origin": origin})
	if rec.Code != 200 {
		t.Fatalf("status %d: %s", rec.Code, rec.Body)
	}
	checkSecurityHeaders(t, rec)
	testkit.Golden(t, filepath.Join("testdata", "verify-ok.golden"), rec.Body.Bytes())
	person := out["person"].(map[string]any)
	cert, _ := f.profile.Certificate(virtual.PathAuthCert)
	if person["ssin"] != cert.Subject.SerialNumber || person["ssin"] == "" {
		t.Errorf("person %v, want SSIN %s", person, cert.Subject.SerialNumber)
	}

	// Replaying the same token and nonce is refused.
	_, out = postJSON(t, h, "/demo/verify", verifyBody(good, token(t, f, origin, good)), nil)
	if errCode(out) != web.CodeNonceReplayed {
		t.Errorf("replay: %v", out)
	}

	tests := []struct {
		name   string
		h      http.Handler
		body   func() []byte
		status int
		code   string
	}{
		{"token for another origin", h, func() []byte {
			n := issue()
			return verifyBody(n, token(t, f, "http://127.0.0.1:9999", n))
		}, 401, web.CodeWrongOrigin},
		{"token for another nonce", h, func() []byte {
			n, other := issue(), issue()
			return verifyBody(n, token(t, f, origin, other))
		}, 401, web.CodeWrongOrigin},
		{"nonce never issued", h, func() []byte {
			n, _ := verify.NewNonce()
			return verifyBody(n, token(t, f, origin, n))
		}, 401, web.CodeNonceUnknown},
		{"no trusted roots", untrusting, func() []byte {
			n := issue()
			return verifyBody(n, token(t, f, origin, n))
		}, 401, web.CodeUntrusted},
		{"token is not a Web eID token", h, func() []byte {
			return verifyBody(issue(), json.RawMessage(`{"format":"web-eid:1.0"}`))
		}, 401, web.CodeFormat},
		{"not JSON", h, func() []byte { return []byte("nonce=x") }, 400, web.CodeBadRequest},
		{"unknown member", h, func() []byte { return []byte(`{"nonce":"a","token":{},"origin":"http://x"}`) }, 400, web.CodeBadRequest},
		{"no token", h, func() []byte { return []byte(`{"nonce":"a"}`) }, 400, web.CodeBadRequest},
		{"too large", h, func() []byte {
			return verifyBody(issue(), json.RawMessage(`"`+strings.Repeat("A", verify.MaxTokenSize+2<<10)+`"`))
		}, 413, web.CodeBadRequest},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec, out := postJSON(t, tt.h, "/demo/verify", tt.body(), nil)
			if rec.Code != tt.status || errCode(out) != tt.code {
				t.Errorf("status %d code %q (%s), want %d %s", rec.Code, errCode(out), rec.Body, tt.status, tt.code)
			}
		})
	}
}

// TestVerifyCertificatesFunc: trust given as a function (the agent's
// trust store) is read at each verification, so a change takes effect.
func TestVerifyCertificatesFunc(t *testing.T) {
	f := loadFixture(t)
	const origin = "http://127.0.0.1:8877"
	var mu sync.Mutex
	certs := []*x509.Certificate{f.profile.PKI.CA, f.profile.PKI.Root} // CA first: order must not matter
	store := &verify.MemoryNonceStore{Now: testNow}
	h := web.Handler(web.Options{Nonces: store, Now: testNow, Certificates: func() []*x509.Certificate {
		mu.Lock()
		defer mu.Unlock()
		return certs
	}})
	try := func() (int, string) {
		n, _ := store.Issue()
		rec, out := postJSON(t, h, "/demo/verify", verifyBody(n, token(t, f, origin, n)), nil)
		return rec.Code, errCode(out)
	}
	if st, code := try(); st != 200 {
		t.Fatalf("with root and CA: %d %s", st, code)
	}
	mu.Lock()
	certs = []*x509.Certificate{f.profile.PKI.Root} // no CA: the chain cannot be built
	mu.Unlock()
	if st, code := try(); st != 401 || code != web.CodeUntrusted {
		t.Errorf("without the CA: %d %s, want 401 %s", st, code, web.CodeUntrusted)
	}
	mu.Lock()
	certs = []*x509.Certificate{f.profile.PKI.CA} // a CA alone is no root
	mu.Unlock()
	if st, code := try(); st != 401 || code != web.CodeUntrusted {
		t.Errorf("CA only: %d %s, want 401 %s", st, code, web.CodeUntrusted)
	}
}

func TestVerifyCode(t *testing.T) {
	tests := []struct {
		err  error
		want string
	}{
		{verify.ErrNonceUnknown, web.CodeNonceUnknown},
		{fmt.Errorf("wrapped: %w", verify.ErrNonceReplayed), web.CodeNonceReplayed},
		{verify.ErrNonceExpired, web.CodeNonceExpired},
		{verify.ErrFormat, web.CodeFormat},
		{verify.ErrAlgorithm, web.CodeAlgorithm},
		{verify.ErrWrongOrigin, web.CodeWrongOrigin},
		{verify.ErrSignature, web.CodeSignature},
		{verify.ErrNotAuthCert, web.CodeNotAuthCert},
		{verify.ErrCertExpired, web.CodeCertExpired},
		{verify.ErrUntrusted, web.CodeUntrusted},
		{verify.ErrRevoked, web.CodeRevoked},
		{verify.ErrOCSPUnavailable, web.CodeOCSPUnavailable},
		{errors.New("disk on fire"), web.CodeInternal},
	}
	for _, tt := range tests {
		if got := web.VerifyCode(tt.err); got != tt.want {
			t.Errorf("VerifyCode(%v) = %s, want %s", tt.err, got, tt.want)
		}
	}
}

func TestClientHandler(t *testing.T) {
	h := http.StripPrefix("/static", web.ClientHandler())
	for path, want := range map[string][]byte{"/static/eid-agent.js": web.ClientJS, "/static/eid-agent.d.ts": web.ClientTypes} {
		rec := get(t, h, http.MethodGet, path, nil, nil)
		if rec.Code != 200 || !bytes.Equal(rec.Body.Bytes(), want) {
			t.Errorf("%s: status %d", path, rec.Code)
		}
		checkSecurityHeaders(t, rec)
	}
	if rec := get(t, h, http.MethodGet, "/static/demo.js", nil, nil); rec.Code != 404 {
		t.Errorf("demo.js through ClientHandler: %d", rec.Code)
	}
	if rec := get(t, h, http.MethodPost, "/static/eid-agent.js", nil, nil); rec.Code != 405 {
		t.Errorf("POST: %d", rec.Code)
	}
}

// FuzzVerifyBody: whatever a page posts, /demo/verify answers JSON with a
// 4xx and a known code, never a 5xx or a panic.
func FuzzVerifyBody(f *testing.F) {
	f.Add([]byte(`{"nonce":"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=","token":{"unverifiedCertificate":"MII=","algorithm":"ES384","signature":"AA==","format":"web-eid:1.0","appVersion":"x"}}`))
	f.Add([]byte(`{"nonce":"","token":null}`))
	f.Add([]byte(`[]`))
	f.Add([]byte(`{"nonce":1}`))
	h := web.Handler(web.Options{Roots: x509.NewCertPool()})
	f.Fuzz(func(t *testing.T, body []byte) {
		req := httptest.NewRequest(http.MethodPost, "/demo/verify", bytes.NewReader(body))
		req.Host = "127.0.0.1:8877"
		req.Header.Set("Content-Type", "application/json")
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code < 400 || rec.Code >= 500 {
			t.Fatalf("status %d for %q", rec.Code, body)
		}
		var out struct {
			Error struct{ Code string }
		}
		if err := json.Unmarshal(rec.Body.Bytes(), &out); err != nil || out.Error.Code == "" || out.Error.Code == web.CodeInternal {
			t.Fatalf("answer %q for %q", rec.Body, body)
		}
	})
}

// FuzzPaths: no request path serves anything but the listed files.
func FuzzPaths(f *testing.F) {
	for _, s := range []string{"/", "/demo/demo.js", "/demo/../web.go", "/eid-agent.js", "/demo/%2e%2e/web.go", "/demo/demo.js/"} {
		f.Add(s)
	}
	allowed := map[string]bool{}
	for _, n := range []string{"demo/index.html", "demo/demo.js", "demo/demo.css", "eid-agent.js", "eid-agent.d.ts"} {
		b, err := os.ReadFile(n)
		if err != nil {
			f.Fatal(err)
		}
		allowed[string(b)] = true
	}
	h := web.Handler(web.Options{})
	f.Fuzz(func(t *testing.T, p string) {
		req, err := http.NewRequest(http.MethodGet, "http://127.0.0.1:8877/", nil)
		if err != nil {
			t.Skip()
		}
		req.URL.Path = p
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		switch rec.Code {
		case 200:
			if !allowed[rec.Body.String()] {
				t.Fatalf("path %q served something unexpected", p)
			}
		case 404:
		default:
			t.Fatalf("path %q: status %d", p, rec.Code)
		}
	})
}

// nodeDir is web/, where package.json and node_modules are.
func requireNode(t *testing.T) string {
	t.Helper()
	node, err := exec.LookPath("node")
	if err != nil {
		lab.Require(t, "node is not installed (apt-get install nodejs)")
	}
	return node
}

// TestTypeScript type-checks eid-agent.d.ts and test/types-check.ts (which
// uses the whole API and asserts misuse does not compile) with the
// typescript package from package-lock.json.
func TestTypeScript(t *testing.T) {
	node := requireNode(t)
	tsc := filepath.Join("node_modules", "typescript", "bin", "tsc")
	if _, err := os.Stat(tsc); err != nil {
		lab.Require(t, "web/node_modules is missing (npm ci --prefix web)")
	}
	out, err := exec.Command(node, tsc, "--noEmit", "-p", "tsconfig.json").CombinedOutput()
	if err != nil {
		t.Fatalf("tsc: %v\n%s", err, out)
	}
}

// TestNodeUnit runs the client's node:test suites (scan capture, id
// matching, errors) and fails on any failing or missing test.
func TestNodeUnit(t *testing.T) {
	node := requireNode(t)
	files, _ := filepath.Glob(filepath.Join("test", "*.test.mjs"))
	var unit []string
	for _, f := range files {
		if !strings.HasSuffix(f, "agent.test.mjs") { // needs a running agent: e2e_test.go
			unit = append(unit, f)
		}
	}
	if len(unit) < 2 {
		t.Fatalf("node test files missing: %v", files)
	}
	cmd := exec.Command(node, append([]string{"--test", "--test-reporter=tap"}, unit...)...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("node --test: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "# fail 0") || strings.Contains(string(out), "# pass 0\n") {
		t.Fatalf("unexpected node test summary:\n%s", out)
	}
	if testing.Verbose() {
		t.Logf("%s", lastLines(string(out), 9))
	}
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// TestContentSecurityPolicyHost: the page may connect to its own host and
// port only; a Host CSP cannot name (IPv6 literal) or that could end the
// directive gets 'self' alone.
func TestContentSecurityPolicyHost(t *testing.T) {
	connectSrc := func(host string) string {
		for _, d := range strings.Split(web.ContentSecurityPolicy(host), ";") {
			if d = strings.TrimSpace(d); strings.HasPrefix(d, "connect-src ") {
				return strings.TrimPrefix(d, "connect-src ")
			}
		}
		return ""
	}
	for host, want := range map[string]string{
		"127.0.0.1:8877":               "'self' ws://127.0.0.1:8877 wss://127.0.0.1:8877 http://127.0.0.1:8877 https://127.0.0.1:8877",
		"localhost:9000":               "'self' ws://localhost:9000 wss://localhost:9000 http://localhost:9000 https://localhost:9000",
		"[::1]:8877":                   "'self'",
		"127.0.0.1:8877; script-src *": "'self'",
		"127.0.0.1":                    "'self'",
		"":                             "'self'",
	} {
		if got := connectSrc(host); got != want {
			t.Errorf("Host %q: connect-src %q, want %q", host, got, want)
		}
	}
	// Served over HTTP, the header follows the request's Host.
	h := web.Handler(web.Options{})
	req := httptest.NewRequest("GET", "/", nil)
	req.Host = "127.0.0.1:40001"
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if csp := rec.Header().Get("Content-Security-Policy"); !strings.Contains(csp, "ws://127.0.0.1:40001 ") || strings.Contains(csp, "*") {
		t.Errorf("CSP %q", csp)
	}
}
