// Package web holds the JavaScript client of the bridge protocol
// (eid-agent.js and its TypeScript types) and the demo page, and serves
// them over HTTP together with the two small endpoints the demo needs to
// show a real authentication: a nonce and the server-side validation of the
// Web eID token (package verify).
//
// The agent mounts Handler behind the bridge's Host check
// (bridge.Config.Pages), so the page is served from the agent's own origin
// (http://127.0.0.1:PORT) and talks to ws://127.0.0.1:PORT/ws. Another
// service can serve the same client from ClientJS or ClientHandler.
//
// This package imports only the standard library and verify: it must not
// pull PC/SC or the bridge into a service that only wants the client bytes.
package web

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/x509"
	"embed"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/eid-agent/eid-agent/verify"
)

//go:embed eid-agent.js eid-agent.d.ts demo
var files embed.FS

// FS holds eid-agent.js, eid-agent.d.ts and demo/ (index.html, demo.js,
// demo.css), as served by Handler.
var FS fs.FS = files

// ClientJS is eid-agent.js, the ES module client.
//
//go:embed eid-agent.js
var ClientJS []byte

// ClientTypes is eid-agent.d.ts, the client's TypeScript declarations.
//
//go:embed eid-agent.d.ts
var ClientTypes []byte

// ContentSecurityPolicy is sent with every response, for a page served
// at host (the request's Host). The page loads only its own files; the
// photo is shown from a data: URL; the websocket (and the client's probe)
// may go to this very host and port only: 'self', which CSP level 3
// extends to ws:/wss:, and the same host and port spelt out for browsers
// that do not extend it. A page given ?agent= for another port cannot
// reach it even if its script were changed. CSP host sources cannot be
// IPv6 literals, so a page at [::1] gets 'self' alone; a Host that is not
// a plain name or address with a port gets 'self' alone too.
func ContentSecurityPolicy(host string) string {
	connect := "'self'"
	if cspHost.MatchString(host) {
		connect += " ws://" + host + " wss://" + host + " http://" + host + " https://" + host
	}
	return "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
		"connect-src " + connect + "; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
}

// cspHost is a host:port that CSP can name (no IPv6 literal, nothing that
// could end the directive).
var cspHost = regexp.MustCompile(`^[A-Za-z0-9.-]+:[0-9]{1,5}$`)

// Body limits of the two POST endpoints. A token is at most
// verify.MaxTokenSize; the envelope adds the nonce and member names.
const (
	maxNonceBody  = 1 << 10
	maxVerifyBody = verify.MaxTokenSize + 1<<10
)

// Options configures Handler.
type Options struct {
	// Roots are the trusted roots for /demo/verify (for Belgian cards the
	// Belgium Root CAs; for the test cards their test root). Nil: every
	// token fails with UNTRUSTED.
	Roots *x509.CertPool
	// Intermediates complete chains (Citizen CA, Foreigner CA): the token
	// carries only the user certificate.
	Intermediates *x509.CertPool
	// Certificates, when set, is asked at each verification for more
	// trusted certificates (the agent's trust store, which grows when the
	// simulator inserts a card of another test PKI): self-signed ones are
	// added to the roots, the others to the intermediates.
	Certificates func() []*x509.Certificate
	// OCSP is the revocation policy of /demo/verify. Nil means best effort:
	// a demonstration on a machine without network access still shows the
	// other checks, and the answer says that OCSP was not checked.
	OCSP *verify.OCSPConfig
	// Nonces issues and consumes the demo's nonces; nil makes a fresh
	// verify.MemoryNonceStore.
	Nonces *verify.MemoryNonceStore
	// Now is the clock for the validator; nil is the current time (internal/clock).
	Now func() time.Time
}

// Error codes of /demo/nonce and /demo/verify (JSON {"error": {"code",
// "message"}}). VerifyCode maps a verify error to its code.
const (
	CodeBadRequest      = "BAD_REQUEST"
	CodeNonceUnknown    = "NONCE_UNKNOWN"
	CodeNonceReplayed   = "NONCE_REPLAYED"
	CodeNonceExpired    = "NONCE_EXPIRED"
	CodeFormat          = "TOKEN_FORMAT"
	CodeAlgorithm       = "ALGORITHM_NOT_ALLOWED"
	CodeWrongOrigin     = "WRONG_ORIGIN_OR_SIGNATURE"
	CodeSignature       = "BAD_SIGNATURE"
	CodeNotAuthCert     = "NOT_AUTH_CERTIFICATE"
	CodeCertExpired     = "CERTIFICATE_EXPIRED"
	CodeUntrusted       = "UNTRUSTED"
	CodeRevoked         = "REVOKED"
	CodeOCSPUnavailable = "OCSP_UNAVAILABLE"
	CodeInternal        = "INTERNAL"
)

// VerifyCode names the verify sentinel err matches (CodeInternal if none).
// The order matters: a signature mismatch matches both ErrWrongOrigin and
// ErrSignature, and is reported as the first.
func VerifyCode(err error) string {
	for _, m := range []struct {
		err  error
		code string
	}{
		{verify.ErrNonceUnknown, CodeNonceUnknown},
		{verify.ErrNonceReplayed, CodeNonceReplayed},
		{verify.ErrNonceExpired, CodeNonceExpired},
		{verify.ErrFormat, CodeFormat},
		{verify.ErrAlgorithm, CodeAlgorithm},
		{verify.ErrWrongOrigin, CodeWrongOrigin},
		{verify.ErrSignature, CodeSignature},
		{verify.ErrNotAuthCert, CodeNotAuthCert},
		{verify.ErrCertExpired, CodeCertExpired},
		{verify.ErrUntrusted, CodeUntrusted},
		{verify.ErrRevoked, CodeRevoked},
		{verify.ErrOCSPUnavailable, CodeOCSPUnavailable},
	} {
		if errors.Is(err, m.err) {
			return m.code
		}
	}
	return CodeInternal
}

// Handler serves the demo page and the client:
//
//	GET  /                 the demo page (demo/index.html)
//	GET  /eid-agent.js     the client; /eid-agent.d.ts its types
//	GET  /demo/...         the demo's assets
//	POST /demo/nonce       {"nonce"}: a fresh single-use nonce
//	POST /demo/verify      {"nonce", "token"} -> {"person", "checks", ...} or {"error"}
//
// Every response carries the security headers (CSP, no framing, no
// referrer, nosniff) and no CORS headers. The caller (the bridge) has
// already refused Host names other than loopback ones.
func Handler(opts Options) http.Handler {
	nonces := opts.Nonces
	if nonces == nil {
		nonces = &verify.MemoryNonceStore{}
	}
	ocsp := verify.OCSPConfig{Policy: verify.OCSPBestEffort}
	if opts.OCSP != nil {
		ocsp = *opts.OCSP
	}
	h := &handler{opts: opts, nonces: nonces, ocsp: ocsp}
	if opts.Certificates == nil {
		h.current = h.newValidator(opts.Roots, opts.Intermediates)
	}
	return h
}

type handler struct {
	opts   Options
	nonces *verify.MemoryNonceStore
	ocsp   verify.OCSPConfig

	mu      sync.Mutex
	current *verify.Validator
	certsID [sha256.Size]byte // of the Certificates the current validator was made with
}

func (h *handler) newValidator(roots, inters *x509.CertPool) *verify.Validator {
	return &verify.Validator{Roots: roots, Intermediates: inters, Nonces: h.nonces, Now: h.opts.Now, OCSP: h.ocsp}
}

// validator returns the Validator for the trusted certificates of now. It
// is rebuilt only when Options.Certificates changes, so the OCSP cache
// lives as long as the trust does.
func (h *handler) validator() *verify.Validator {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.opts.Certificates == nil {
		return h.current
	}
	certs := h.opts.Certificates()
	d := sha256.New()
	for _, c := range certs {
		sum := sha256.Sum256(c.Raw)
		d.Write(sum[:])
	}
	var id [sha256.Size]byte
	copy(id[:], d.Sum(nil))
	if h.current != nil && id == h.certsID {
		return h.current
	}
	roots, inters := x509.NewCertPool(), x509.NewCertPool()
	if h.opts.Roots != nil {
		roots = h.opts.Roots.Clone()
	}
	if h.opts.Intermediates != nil {
		inters = h.opts.Intermediates.Clone()
	}
	for _, c := range certs {
		if bytes.Equal(c.RawIssuer, c.RawSubject) && c.CheckSignatureFrom(c) == nil {
			roots.AddCert(c)
		} else {
			inters.AddCert(c)
		}
	}
	h.current, h.certsID = h.newValidator(roots, inters), id
	return h.current
}

func securityHeaders(h http.Header, host string) {
	h.Set("Content-Security-Policy", ContentSecurityPolicy(host))
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Cross-Origin-Opener-Policy", "same-origin")
	h.Set("Cross-Origin-Resource-Policy", "same-origin")
}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	securityHeaders(w.Header(), r.Host)
	switch r.URL.Path {
	case "/demo/nonce":
		h.post(w, r, maxNonceBody, h.nonce)
		return
	case "/demo/verify":
		h.post(w, r, maxVerifyBody, h.verify)
		return
	}
	name, ok := assetName(r.URL.Path)
	if !ok {
		writeError(w, http.StatusNotFound, CodeBadRequest, "not found")
		return
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		writeError(w, http.StatusMethodNotAllowed, CodeBadRequest, "method not allowed")
		return
	}
	serveAsset(w, r, name)
}

// assetName maps a URL path to a file of FS; directories, dot files and
// anything outside the list are not served.
func assetName(p string) (string, bool) {
	switch p {
	case "/", "/index.html", "/demo", "/demo/":
		return "demo/index.html", true
	case "/eid-agent.js", "/eid-agent.d.ts":
		return p[1:], true
	}
	rest, ok := strings.CutPrefix(p, "/demo/")
	if !ok || rest == "" || strings.Contains(rest, "/") || strings.HasPrefix(rest, ".") || path.Clean(p) != p {
		return "", false
	}
	name := "demo/" + rest
	if st, err := fs.Stat(files, name); err != nil || st.IsDir() {
		return "", false
	}
	return name, true
}

func contentType(name string) string {
	switch {
	case strings.HasSuffix(name, ".d.ts"):
		return "application/typescript; charset=utf-8"
	case strings.HasSuffix(name, ".js"):
		return "text/javascript; charset=utf-8"
	}
	if t := mime.TypeByExtension(path.Ext(name)); t != "" {
		return t
	}
	return "application/octet-stream"
}

func serveAsset(w http.ResponseWriter, r *http.Request, name string) {
	b, err := fs.ReadFile(files, name)
	if err != nil {
		writeError(w, http.StatusNotFound, CodeBadRequest, "not found")
		return
	}
	sum := sha256.Sum256(b)
	w.Header().Set("Content-Type", contentType(name))
	// Revalidate every time (the agent may have been upgraded); the ETag
	// makes that a 304.
	w.Header().Set("Cache-Control", "no-cache")
	w.Header().Set("ETag", `"`+hex.EncodeToString(sum[:12])+`"`)
	http.ServeContent(w, r, name, time.Time{}, bytes.NewReader(b))
}

// ClientHandler serves only /eid-agent.js and /eid-agent.d.ts (by the last
// path element, so it can be mounted under any prefix), with the same
// headers as Handler. For services such as cmd/eid-verify.
func ClientHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		securityHeaders(w.Header(), r.Host)
		name := path.Base(r.URL.Path)
		if name != "eid-agent.js" && name != "eid-agent.d.ts" {
			writeError(w, http.StatusNotFound, CodeBadRequest, "not found")
			return
		}
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			writeError(w, http.StatusMethodNotAllowed, CodeBadRequest, "method not allowed")
			return
		}
		serveAsset(w, r, name)
	})
}

// selfOrigin is the origin the page was served from: the one the browser
// sent to the agent in the websocket handshake, and so the one the token is
// signed for.
func selfOrigin(r *http.Request) string {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host
}

// post runs fn for a same-origin JSON POST. Requiring application/json
// keeps cross-site forms out (they cannot send it without a CORS preflight,
// which this handler never grants), and a present Origin must be our own.
func (h *handler) post(w http.ResponseWriter, r *http.Request, limit int64, fn func(http.ResponseWriter, *http.Request, []byte)) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", "POST")
		writeError(w, http.StatusMethodNotAllowed, CodeBadRequest, "method not allowed")
		return
	}
	if o := r.Header.Get("Origin"); o != "" && o != selfOrigin(r) {
		writeError(w, http.StatusForbidden, CodeBadRequest, "cross-origin request")
		return
	}
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "application/json" {
		writeError(w, http.StatusUnsupportedMediaType, CodeBadRequest, "Content-Type must be application/json")
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			writeError(w, http.StatusRequestEntityTooLarge, CodeBadRequest, "body too large")
			return
		}
		writeError(w, http.StatusBadRequest, CodeBadRequest, "reading body")
		return
	}
	fn(w, r, body)
}

func (h *handler) nonce(w http.ResponseWriter, _ *http.Request, _ []byte) {
	n, err := h.nonces.Issue()
	if err != nil {
		writeError(w, http.StatusInternalServerError, CodeInternal, "could not make a nonce")
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"nonce": n})
}

type verifyRequest struct {
	Nonce string          `json:"nonce"`
	Token json.RawMessage `json:"token"`
}

// VerifyResult is the answer of /demo/verify.
type VerifyResult struct {
	Person      Person   `json:"person"`
	Checks      []string `json:"checks"`
	Algorithm   string   `json:"algorithm"`
	OCSP        string   `json:"ocsp"`
	Origin      string   `json:"origin"`
	Issuer      string   `json:"issuer"`
	NotAfter    string   `json:"notAfter"`
	AppVersion  string   `json:"appVersion,omitempty"`
	ChainLength int      `json:"chainLength"`
}

// Person is who the authentication certificate names.
type Person struct {
	SSIN       string `json:"ssin"`
	GivenNames string `json:"givenNames"`
	Surname    string `json:"surname"`
	CommonName string `json:"commonName"`
	Country    string `json:"country"`
}

func (h *handler) verify(w http.ResponseWriter, r *http.Request, body []byte) {
	var req verifyRequest
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil || req.Nonce == "" || len(req.Token) == 0 {
		writeError(w, http.StatusBadRequest, CodeBadRequest, `want {"nonce": "...", "token": {...}}`)
		return
	}
	origin := selfOrigin(r)
	ctx, cancel := context.WithTimeout(r.Context(), 15*time.Second)
	defer cancel()
	res, err := h.validator().Validate(ctx, req.Token, origin, req.Nonce)
	if err != nil {
		code := VerifyCode(err)
		msg := err.Error()
		if code == CodeInternal {
			msg = "internal error"
		}
		writeError(w, http.StatusUnauthorized, code, msg)
		return
	}
	out := VerifyResult{
		Person: Person{
			SSIN: res.Person.SSIN, GivenNames: res.Person.GivenNames, Surname: res.Person.Surname,
			CommonName: res.Person.CommonName, Country: res.Person.Country,
		},
		Algorithm: res.Algorithm, OCSP: res.OCSP, Origin: origin, AppVersion: res.AppVersion,
		ChainLength: len(res.Chain),
	}
	for _, c := range res.Checks {
		out.Checks = append(out.Checks, string(c))
	}
	if res.Certificate != nil {
		out.Issuer = res.Certificate.Issuer.CommonName
		out.NotAfter = res.Certificate.NotAfter.UTC().Format(time.DateOnly)
	}
	writeJSON(w, http.StatusOK, out)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, status int, code, message string) {
	writeJSON(w, status, map[string]any{"error": map[string]string{"code": code, "message": message}})
}
