package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"embed"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/eid-agent/eid-agent/internal/clock"

	"github.com/eid-agent/eid-agent/verify"
)

//go:embed static
var static embed.FS

var indexTemplate = template.Must(template.ParseFS(static, "static/index.html"))

// config of the service; newServer checks it.
type config struct {
	// Origin is the service's origin exactly as browsers send it; tokens
	// must be signed for it and state-changing requests must come from it.
	Origin string
	// AgentURL is the agent's websocket, as the page reaches it.
	AgentURL  string
	Validator *verify.Validator
	// Nonces is the store the Validator consumes from; the service issues
	// into it and remembers, per session, which nonce it issued.
	Nonces  verify.NonceStore
	Bundles *verify.BundleVerifier
	// Sessions keeps sessions and their pending challenge; nil means in
	// memory (bounded by MaxSessions). With a shared store (Redis) and a
	// shared Nonces, instances keep no state of their own.
	Sessions sessionStore
	// Store names the shared state for /healthz ("memory", "redis") and
	// Health checks it (nil: always healthy).
	Store  string
	Health func(ctx context.Context) error
	// Attestations checks the counter page's attestations; it must
	// consume from Nonces.
	Attestations *verify.AttestationVerifier
	// ClientJS is served as /eid-agent.js; nil serves the built-in client.
	ClientJS []byte
	// SessionTTL is a session's idle lifetime (default 30 minutes).
	SessionTTL time.Duration
	// MaxSessions bounds in-memory sessions (default 10000).
	MaxSessions int
	Now         func() time.Time
	Log         *slog.Logger
}

type server struct {
	cfg      config
	secure   bool   // https origin: Secure cookies, HSTS
	cookie   string // cookie name
	csp      string
	mux      *http.ServeMux
	clientJS []byte
	sessions sessionStore
	counter  *counterState // counter.go
}

// session is what the service remembers about one browser, kept as JSON
// in the session store. Nothing here is logged. The challenge issued to
// the session is kept beside it (sessionStore.SetChallenge): the token is
// checked against it, never against a nonce the page sends, so a token
// obtained for another session's nonce (login CSRF) fails.
type session struct {
	Person *verify.Person `json:"person,omitempty"`
	Login  *loginResult   `json:"login,omitempty"`
}

func newServer(cfg config) (*server, error) {
	if cfg.Validator == nil || cfg.Nonces == nil || cfg.Bundles == nil {
		return nil, errors.New("eid-verify: Validator, Nonces and Bundles are required")
	}
	if cfg.Validator.Nonces != cfg.Nonces {
		return nil, errors.New("eid-verify: the Validator must consume from Nonces")
	}
	if cfg.Attestations == nil {
		cfg.Attestations = &verify.AttestationVerifier{Trust: cfg.Bundles.Trust, Nonces: cfg.Nonces, Now: cfg.Now}
	}
	if cfg.Attestations.Nonces != verify.NonceStore(cfg.Nonces) {
		return nil, errors.New("eid-verify: the AttestationVerifier must consume from Nonces")
	}
	agent, err := url.Parse(cfg.AgentURL)
	if err != nil || (agent.Scheme != "ws" && agent.Scheme != "wss") || agent.Host == "" {
		return nil, fmt.Errorf("eid-verify: agent URL %q is not ws:// or wss://", cfg.AgentURL)
	}
	if cfg.SessionTTL <= 0 {
		cfg.SessionTTL = sessionTTL
	}
	if cfg.MaxSessions <= 0 {
		cfg.MaxSessions = 10000
	}
	if cfg.Now == nil {
		cfg.Now = clock.Now
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if cfg.Store == "" {
		cfg.Store = "memory"
	}
	s := &server{cfg: cfg, sessions: cfg.Sessions, clientJS: cfg.ClientJS}
	if s.sessions == nil {
		s.sessions = newMemSessions(cfg.SessionTTL, cfg.MaxSessions, cfg.Now)
	}
	if s.clientJS == nil {
		s.clientJS = builtinClientJS
	}
	s.secure = strings.HasPrefix(cfg.Origin, "https://")
	s.cookie = "eidv_session"
	if s.secure {
		// The __Host- prefix makes browsers refuse the cookie unless it is
		// Secure, for path / and without Domain: no subdomain can plant one.
		s.cookie = "__Host-eidv_session"
	}
	// The page talks to its own origin and to the agent only (the client
	// also probes the agent's http URL to tell "not running" from
	// "refused"). The photo is shown from a data: URL.
	probe := "http://" + agent.Host
	if agent.Scheme == "wss" {
		probe = "https://" + agent.Host
	}
	s.csp = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
		"connect-src 'self' " + agent.Scheme + "://" + agent.Host + " " + probe + "; " +
		"base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", s.index)
	mux.HandleFunc("GET /app.js", s.asset("static/app.js", "text/javascript; charset=utf-8"))
	mux.HandleFunc("GET /style.css", s.asset("static/style.css", "text/css; charset=utf-8"))
	mux.HandleFunc("GET /eid-agent.js", s.serveClient)
	mux.HandleFunc("GET /healthz", s.health)
	mux.HandleFunc("GET /api/session", s.getSession)
	mux.HandleFunc("POST /api/nonce", s.post(s.nonce, 1<<10))
	mux.HandleFunc("POST /api/login", s.post(s.login, verify.MaxTokenSize+1<<10))
	mux.HandleFunc("POST /api/identity", s.post(s.identity, verify.MaxBundleSize+1<<10))
	mux.HandleFunc("POST /api/logout", s.post(s.logout, 1<<10))
	s.counterRoutes(mux)
	s.mux = mux
	return s, nil
}

// ServeHTTP adds the security headers to every answer.
func (s *server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Security-Policy", s.csp)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Cross-Origin-Opener-Policy", "same-origin")
	h.Set("Cross-Origin-Resource-Policy", "same-origin")
	h.Set("Permissions-Policy", "camera=(), microphone=(), geolocation=(), payment=()")
	h.Set("Cache-Control", "no-store")
	if s.secure {
		h.Set("Strict-Transport-Security", "max-age=31536000")
	}
	s.mux.ServeHTTP(w, r)
}

func (s *server) index(w http.ResponseWriter, r *http.Request) {
	var buf bytes.Buffer
	if err := indexTemplate.Execute(&buf, struct{ Agent, Origin string }{s.cfg.AgentURL, s.cfg.Origin}); err != nil {
		s.fail(w, http.StatusInternalServerError, "INTERNAL", "page template", err)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Write(buf.Bytes())
}

func (s *server) asset(name, ctype string) http.HandlerFunc {
	b, err := static.ReadFile(name)
	if err != nil {
		panic(err) // embedded at build time
	}
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", ctype)
		w.Write(b)
	}
}

func (s *server) serveClient(w http.ResponseWriter, r *http.Request) {
	if len(s.clientJS) == 0 {
		s.fail(w, http.StatusNotFound, "NO_CLIENT", "no JS client configured", nil)
		return
	}
	w.Header().Set("Content-Type", "text/javascript; charset=utf-8")
	w.Write(s.clientJS)
}

// apiError is the JSON body of every failure: a stable code (for
// verification failures, verify.ErrorCode), a message for people, and for
// verification failures every code the error matches.
type apiError struct {
	Code    string   `json:"code"`
	Message string   `json:"message"`
	Codes   []string `json:"codes,omitempty"`
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

// fail answers an error. The message is for the page; the log gets the
// code and the error, which never hold personal data (verify's errors
// name checks, not holders).
func (s *server) fail(w http.ResponseWriter, status int, code, msg string, err error) {
	e := apiError{Code: code, Message: msg}
	if err != nil {
		e.Message = msg + ": " + err.Error()
		e.Codes = verify.ErrorCodes(err)
	}
	s.cfg.Log.Info("refused", "status", status, "code", code, "err", err)
	writeJSON(w, status, map[string]apiError{"error": e})
}

// post wraps a state-changing endpoint with the CSRF defences: the request
// must come from the service's own origin (Origin header, which browsers
// send on every POST; Sec-Fetch-Site for old ones), carry JSON (a
// cross-site form cannot), and stay under limit bytes.
func (s *server) post(h func(w http.ResponseWriter, r *http.Request, body []byte), limit int) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		origin := r.Header.Get("Origin")
		switch {
		case origin == s.cfg.Origin:
		case origin == "" && r.Header.Get("Sec-Fetch-Site") == "same-origin":
		default:
			s.fail(w, http.StatusForbidden, "CROSS_ORIGIN", "request not from "+s.cfg.Origin, nil)
			return
		}
		if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "application/json" {
			s.fail(w, http.StatusUnsupportedMediaType, "BAD_REQUEST", "Content-Type must be application/json", nil)
			return
		}
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, int64(limit)))
		if err != nil {
			var mbe *http.MaxBytesError
			if errors.As(err, &mbe) {
				s.fail(w, http.StatusRequestEntityTooLarge, "TOO_LARGE", fmt.Sprintf("body over %d bytes", limit), nil)
				return
			}
			s.fail(w, http.StatusBadRequest, "BAD_REQUEST", "reading the body", err)
			return
		}
		h(w, r, body)
	}
}

func randomID() string {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		panic(err) // crypto/rand does not fail on supported systems
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

// storeFailed answers a session or nonce store that could not be used:
// 503, and no login (fail closed).
func (s *server) storeFailed(w http.ResponseWriter, err error) {
	if errors.Is(err, errTooManySessions) {
		s.fail(w, http.StatusServiceUnavailable, "BUSY", "no session available", err)
		return
	}
	// The detail (Redis's address, the network error) goes to the log,
	// not to the browser.
	s.cfg.Log.Warn("session or nonce store failed", "store", s.cfg.Store, "err", err)
	s.fail(w, http.StatusServiceUnavailable, "STORE_UNAVAILABLE", "the service cannot reach its "+s.cfg.Store+" store; try again shortly", nil)
}

// current returns the request's live session, or "", nil, nil.
func (s *server) current(r *http.Request) (string, *session, error) {
	c, err := r.Cookie(s.cookie)
	if err != nil || c.Value == "" {
		return "", nil, nil
	}
	rec, err := s.sessions.Get(r.Context(), c.Value)
	if err != nil || rec == nil {
		return "", nil, err
	}
	var se session
	if err := json.Unmarshal(rec, &se); err != nil {
		// Not a record this service wrote: no session.
		return "", nil, nil
	}
	return c.Value, &se, nil
}

// start makes a new session (replacing old, if any: after login the ID
// changes, so an ID planted before login is worth nothing) and sets its
// cookie.
func (s *server) start(w http.ResponseWriter, r *http.Request, old string, se *session) (string, error) {
	rec, err := json.Marshal(se)
	if err != nil {
		return "", err
	}
	id := randomID()
	if old != "" {
		err = s.sessions.Rotate(r.Context(), old, id, rec)
	} else {
		err = s.sessions.Put(r.Context(), id, rec)
	}
	if err != nil {
		return "", err
	}
	s.setCookie(w, id)
	return id, nil
}

func (s *server) setCookie(w http.ResponseWriter, id string) {
	http.SetCookie(w, &http.Cookie{
		Name: s.cookie, Value: id, Path: "/", HttpOnly: true, Secure: s.secure,
		SameSite: http.SameSiteStrictMode, MaxAge: int(s.cfg.SessionTTL / time.Second),
	})
}

// POST /api/nonce: a fresh challenge for this session (a session is made
// if there is none). Any earlier unused challenge of the session is
// dropped: only the latest counts.
func (s *server) nonce(w http.ResponseWriter, r *http.Request, _ []byte) {
	n, err := verify.NewNonce()
	if err != nil {
		s.fail(w, http.StatusInternalServerError, "INTERNAL", "issuing a nonce", err)
		return
	}
	if err := s.cfg.Nonces.Put(n, s.cfg.Now().Add(verify.DefaultNonceLifetime)); err != nil {
		s.storeFailed(w, err)
		return
	}
	// The challenge outlives the nonce, so that a late answer is told
	// NONCE_EXPIRED by the nonce store rather than "no challenge".
	ttl := 2 * verify.DefaultNonceLifetime
	bound := false
	if c, err := r.Cookie(s.cookie); err == nil && c.Value != "" {
		if bound, err = s.sessions.SetChallenge(r.Context(), c.Value, n, ttl); err != nil {
			s.storeFailed(w, err)
			return
		}
	}
	if !bound {
		rec, _ := json.Marshal(&session{})
		id := randomID()
		if err := s.sessions.Create(r.Context(), id, rec, n, ttl); err != nil {
			s.storeFailed(w, err)
			return
		}
		s.setCookie(w, id)
	}
	writeJSON(w, http.StatusOK, map[string]any{"nonce": n, "expiresInSeconds": int(verify.DefaultNonceLifetime / time.Second)})
}

// person is the JSON of who logged in.
type person struct {
	SSIN       string `json:"ssin"`
	GivenNames string `json:"givenNames"`
	Surname    string `json:"surname"`
	CommonName string `json:"commonName"`
	Country    string `json:"country,omitempty"`
}

type loginResult struct {
	Person    person         `json:"person"`
	Checks    []verify.Check `json:"checks"`
	OCSP      string         `json:"ocsp"`
	Algorithm string         `json:"algorithm"`
	Issuer    string         `json:"issuer"`
	NotAfter  time.Time      `json:"certificateNotAfter"`
}

// POST /api/login {"token": <Web eID token>}: the token must be signed for
// this service's origin over the nonce this session was given.
func (s *server) login(w http.ResponseWriter, r *http.Request, body []byte) {
	var req struct {
		Token json.RawMessage `json:"token"`
	}
	if err := json.Unmarshal(body, &req); err != nil || len(req.Token) == 0 {
		s.fail(w, http.StatusBadRequest, "BAD_REQUEST", `want {"token": {...}}`, err)
		return
	}
	// The session and its challenge in one step; one attempt per
	// challenge, whatever its outcome.
	var rec []byte
	var nonce string
	c, err := r.Cookie(s.cookie)
	if err == nil && c.Value != "" {
		if rec, nonce, err = s.sessions.TakeChallenge(r.Context(), c.Value); err != nil {
			s.storeFailed(w, err)
			return
		}
	}
	if rec == nil {
		s.fail(w, http.StatusUnauthorized, "NO_SESSION", "no session: ask for a nonce first", nil)
		return
	}
	id := c.Value
	if nonce == "" {
		s.fail(w, http.StatusBadRequest, "NONCE_UNKNOWN", "no challenge pending for this session", verify.ErrNonceUnknown)
		return
	}
	res, err := s.cfg.Validator.Validate(r.Context(), req.Token, s.cfg.Origin, nonce)
	if errors.Is(err, verify.ErrStoreUnavailable) {
		s.storeFailed(w, err)
		return
	}
	if err != nil {
		s.fail(w, http.StatusUnauthorized, verify.ErrorCode(err), "authentication refused", err)
		return
	}
	p := res.Person
	lr := &loginResult{
		Person:    person{SSIN: p.SSIN, GivenNames: p.GivenNames, Surname: p.Surname, CommonName: p.CommonName, Country: p.Country},
		Checks:    res.Checks,
		OCSP:      res.OCSP,
		Algorithm: res.Algorithm,
		NotAfter:  res.Certificate.NotAfter,
	}
	if len(res.Chain) > 1 {
		lr.Issuer = res.Chain[1].Subject.CommonName
	}
	if _, err := s.start(w, r, id, &session{Person: &p, Login: lr}); err != nil {
		s.storeFailed(w, err)
		return
	}
	s.cfg.Log.Info("login", "algorithm", res.Algorithm, "ocsp", res.OCSP, "checks", len(res.Checks))
	writeJSON(w, http.StatusOK, lr)
}

// GET /api/session: who is logged in, if anyone.
func (s *server) getSession(w http.ResponseWriter, r *http.Request) {
	_, se, err := s.current(r)
	if err != nil {
		s.storeFailed(w, err)
		return
	}
	out := map[string]any{"loggedIn": false}
	if se != nil && se.Login != nil {
		out = map[string]any{"loggedIn": true, "login": se.Login}
	}
	writeJSON(w, http.StatusOK, out)
}

// POST /api/logout: forget the session.
func (s *server) logout(w http.ResponseWriter, r *http.Request, _ []byte) {
	if c, err := r.Cookie(s.cookie); err == nil && c.Value != "" {
		if err := s.sessions.Delete(r.Context(), c.Value); err != nil {
			// The cookie is cleared below anyway; the record expires.
			s.cfg.Log.Warn("logout: session not deleted", "store", s.cfg.Store, "err", err)
		}
	}
	http.SetCookie(w, &http.Cookie{Name: s.cookie, Value: "", Path: "/", HttpOnly: true, Secure: s.secure, SameSite: http.SameSiteStrictMode, MaxAge: -1})
	writeJSON(w, http.StatusOK, map[string]bool{"loggedIn": false})
}

// identityAnswer is the verified identity. MatchesLogin compares the
// bundle's national number with the logged-in certificate's: nil when
// nobody is logged in.
type identityAnswer struct {
	*verify.IdentityResult
	MatchesLogin *bool `json:"matchesLogin"`
}

// POST /api/identity {"bundle": <identity bundle>}: verified with the
// agent's own checks. It changes no state, so neither a session nor a
// login is required; when someone is logged in, the answer says whether
// the card is theirs.
func (s *server) identity(w http.ResponseWriter, r *http.Request, body []byte) {
	var req struct {
		Bundle json.RawMessage `json:"bundle"`
	}
	if err := json.Unmarshal(body, &req); err != nil || len(req.Bundle) == 0 {
		s.fail(w, http.StatusBadRequest, "BAD_REQUEST", `want {"bundle": {...}}`, err)
		return
	}
	res, err := s.cfg.Bundles.VerifyBundle(req.Bundle)
	if err != nil {
		status := http.StatusUnprocessableEntity
		if errors.Is(err, verify.ErrBundleFormat) {
			status = http.StatusBadRequest
		}
		s.fail(w, status, verify.ErrorCode(err), "identity refused", err)
		return
	}
	ans := identityAnswer{IdentityResult: res}
	_, se, err := s.current(r)
	if err != nil {
		s.storeFailed(w, err)
		return
	}
	if se != nil && se.Person != nil {
		m := se.Person.SSIN == res.Reading.Identity.NationalNumber
		ans.MatchesLogin = &m
	}
	s.cfg.Log.Info("identity verified", "checks", len(res.Checks))
	writeJSON(w, http.StatusOK, ans)
}

// GET /healthz: whether this instance can serve logins, for a load
// balancer: 200 when its store answers, 503 (with the store's error) when
// not. It reveals no session or personal data.
func (s *server) health(w http.ResponseWriter, r *http.Request) {
	out := map[string]any{"status": "ok", "store": s.cfg.Store}
	status := http.StatusOK
	if s.cfg.Health != nil {
		if err := s.cfg.Health(r.Context()); err != nil {
			status = http.StatusServiceUnavailable
			out["status"] = "unavailable"
			out[s.cfg.Store] = "unavailable"
			out["error"] = err.Error()
		} else {
			out[s.cfg.Store] = "ok"
		}
	}
	writeJSON(w, status, out)
}
