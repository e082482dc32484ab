package main

import (
	"bytes"
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
	"sync"
	"time"

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
	Nonces  *verify.MemoryNonceStore
	Bundles *verify.BundleVerifier
	// Attestations checks the counter page's attestations; it must
	// consume from Nonces.
	Attestations *verify.AttestationVerifier
	// ClientJS is served as /eid-agent.js; nil serves the built-in client.
	ClientJS []byte
	// SessionTTL is a session's idle lifetime (default 30 minutes).
	SessionTTL time.Duration
	// MaxSessions bounds memory (default 10000).
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

	mu       sync.Mutex
	sessions map[string]*session
	counter  *counterState // counter.go
}

// session is what the service remembers about one browser. Nothing here is
// logged.
type session struct {
	expires time.Time
	// nonce is the challenge issued to this session and not yet used:
	// the token is checked against it, never against a nonce the page
	// sends, so a token obtained for another session's nonce (login CSRF)
	// fails.
	nonce  string
	person *verify.Person
	login  *loginResult
	id     string // set by start
}

func newServer(cfg config) (*server, error) {
	if cfg.Validator == nil || cfg.Nonces == nil || cfg.Bundles == nil {
		return nil, errors.New("eid-verify: Validator, Nonces and Bundles are required")
	}
	if cfg.Validator.Nonces != verify.NonceStore(cfg.Nonces) {
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
		cfg.SessionTTL = 30 * time.Minute
	}
	if cfg.MaxSessions <= 0 {
		cfg.MaxSessions = 10000
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	s := &server{cfg: cfg, sessions: map[string]*session{}, clientJS: cfg.ClientJS}
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

// current returns the request's live session, or nil.
func (s *server) current(r *http.Request) (string, *session) {
	c, err := r.Cookie(s.cookie)
	if err != nil {
		return "", nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	se, ok := s.sessions[c.Value]
	if !ok {
		return "", nil
	}
	now := s.cfg.Now()
	if now.After(se.expires) {
		delete(s.sessions, c.Value)
		return "", nil
	}
	se.expires = now.Add(s.cfg.SessionTTL)
	return c.Value, se
}

// start makes a new session (replacing old, if any: after login the ID
// changes, so an ID planted before login is worth nothing) and sets its
// cookie.
func (s *server) start(w http.ResponseWriter, old string, se *session) error {
	now := s.cfg.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	if old != "" {
		delete(s.sessions, old)
	}
	if len(s.sessions) >= s.cfg.MaxSessions {
		for id, x := range s.sessions {
			if now.After(x.expires) {
				delete(s.sessions, id)
			}
		}
		if len(s.sessions) >= s.cfg.MaxSessions {
			return errors.New("too many sessions")
		}
	}
	id := randomID()
	se.expires = now.Add(s.cfg.SessionTTL)
	se.id = id
	s.sessions[id] = se
	http.SetCookie(w, &http.Cookie{
		Name: s.cookie, Value: id, Path: "/", HttpOnly: true, Secure: s.secure,
		SameSite: http.SameSiteStrictMode, MaxAge: int(s.cfg.SessionTTL / time.Second),
	})
	return nil
}

// POST /api/nonce: a fresh challenge for this session (a session is made
// if there is none). Any earlier unused challenge of the session is
// dropped: only the latest counts.
func (s *server) nonce(w http.ResponseWriter, r *http.Request, _ []byte) {
	n, err := s.cfg.Nonces.Issue()
	if err != nil {
		s.fail(w, http.StatusInternalServerError, "INTERNAL", "issuing a nonce", err)
		return
	}
	if _, se := s.current(r); se != nil {
		s.mu.Lock()
		se.nonce = n
		s.mu.Unlock()
	} else if err := s.start(w, "", &session{nonce: n}); err != nil {
		s.fail(w, http.StatusServiceUnavailable, "BUSY", "no session available", err)
		return
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
	id, se := s.current(r)
	if se == nil {
		s.fail(w, http.StatusUnauthorized, "NO_SESSION", "no session: ask for a nonce first", nil)
		return
	}
	s.mu.Lock()
	nonce := se.nonce
	se.nonce = "" // one attempt per challenge, whatever its outcome
	s.mu.Unlock()
	if nonce == "" {
		s.fail(w, http.StatusBadRequest, "NONCE_UNKNOWN", "no challenge pending for this session", verify.ErrNonceUnknown)
		return
	}
	res, err := s.cfg.Validator.Validate(r.Context(), req.Token, s.cfg.Origin, nonce)
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
	if err := s.start(w, id, &session{person: &p, login: lr}); err != nil {
		s.fail(w, http.StatusServiceUnavailable, "BUSY", "no session available", err)
		return
	}
	s.cfg.Log.Info("login", "algorithm", res.Algorithm, "ocsp", res.OCSP, "checks", len(res.Checks))
	writeJSON(w, http.StatusOK, lr)
}

// GET /api/session: who is logged in, if anyone.
func (s *server) getSession(w http.ResponseWriter, r *http.Request) {
	_, se := s.current(r)
	out := map[string]any{"loggedIn": false}
	if se != nil {
		s.mu.Lock()
		if se.login != nil {
			out = map[string]any{"loggedIn": true, "login": se.login}
		}
		s.mu.Unlock()
	}
	writeJSON(w, http.StatusOK, out)
}

// POST /api/logout: forget the session.
func (s *server) logout(w http.ResponseWriter, r *http.Request, _ []byte) {
	id, se := s.current(r)
	if se != nil {
		s.mu.Lock()
		delete(s.sessions, id)
		s.mu.Unlock()
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
	if _, se := s.current(r); se != nil {
		s.mu.Lock()
		if se.person != nil {
			m := se.person.SSIN == res.Reading.Identity.NationalNumber
			ans.MatchesLogin = &m
		}
		s.mu.Unlock()
	}
	s.cfg.Log.Info("identity verified", "checks", len(res.Checks))
	writeJSON(w, http.StatusOK, ans)
}
