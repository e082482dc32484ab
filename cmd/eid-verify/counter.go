package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"html/template"
	"net/http"
	"sync"
	"time"

	"github.com/eid-agent/eid-agent/verify"
)

// The counter login: a desk where the holder only inserts the card. The
// page joins the agent's counter mode (an administrator paired this
// origin in the agent's policy), leaves a nonce from this service
// standing, shows the holder from the card-read push at once, and posts
// the attestation that came with it; the server checks it
// (verify.AttestationVerifier) against this session's nonce and logs the
// holder in when the card was present. docs/verify.md, "The reference
// service".

var counterTemplate = template.Must(template.ParseFS(static, "static/counter.html"))

// counterState is the counter page's per-session nonce, kept apart from
// the login page's so that both can run in one session. It lives in the
// instance's memory, not in the session store: behind a load balancer the
// counter page needs session affinity (docs/verify.md, "Deployment").
type counterState struct {
	mu     sync.Mutex
	nonces map[string]string // session ID -> nonce not yet used
}

func (s *server) counterRoutes(mux *http.ServeMux) {
	s.counter = &counterState{nonces: map[string]string{}}
	mux.HandleFunc("GET /counter", s.counterPage)
	mux.HandleFunc("GET /counter.js", s.asset("static/counter.js", "text/javascript; charset=utf-8"))
	mux.HandleFunc("POST /api/counter/nonce", s.post(s.counterNonce, 1<<10))
	mux.HandleFunc("POST /api/counter/attestation", s.post(s.counterAttestation, verify.MaxAttestationSize+1<<10))
}

func (s *server) counterPage(w http.ResponseWriter, r *http.Request) {
	var buf bytes.Buffer
	if err := counterTemplate.Execute(&buf, struct{ Agent, Origin string }{s.cfg.AgentURL, s.cfg.Origin}); err != nil {
		s.fail(w, http.StatusInternalServerError, "INTERNAL", "page template", err)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Write(buf.Bytes())
}

// POST /api/counter/nonce: the nonce the page leaves standing with the
// agent for the next card. A new one replaces the session's unused one.
func (s *server) counterNonce(w http.ResponseWriter, r *http.Request, _ []byte) {
	n, err := verify.NewNonce()
	if err != nil {
		s.fail(w, http.StatusInternalServerError, "INTERNAL", "issuing a nonce", err)
		return
	}
	if err := s.cfg.Nonces.Put(n, s.cfg.Now().Add(verify.DefaultNonceLifetime)); err != nil {
		s.storeFailed(w, err)
		return
	}
	id, se, err := s.current(r)
	if err != nil {
		s.storeFailed(w, err)
		return
	}
	if se == nil {
		if id, err = s.start(w, r, "", &session{}); err != nil {
			s.storeFailed(w, err)
			return
		}
	}
	s.counter.mu.Lock()
	s.counter.nonces[id] = n
	s.counter.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]any{"nonce": n, "expiresInSeconds": int(verify.DefaultNonceLifetime / time.Second)})
}

// counterAnswer is what the page shows: the three guarantees, the verified
// identity and whether the holder is now logged in.
type counterAnswer struct {
	Genuine   bool                   `json:"genuine"`
	Present   bool                   `json:"present"`
	PresentBy string                 `json:"presentBy,omitempty"`
	Bound     bool                   `json:"bound"`
	Identity  *verify.IdentityResult `json:"identity"`
	LoggedIn  bool                   `json:"loggedIn"`
	Person    *person                `json:"person,omitempty"`
}

// POST /api/counter/attestation {"attestation": {...}}: checked for this
// service's origin and the nonce this session left standing (one attempt
// per nonce). Genuine, present and bound: the holder is logged in, with a
// new session ID. Genuine only (a card before applet 1.8): shown, not
// logged in.
func (s *server) counterAttestation(w http.ResponseWriter, r *http.Request, body []byte) {
	var req struct {
		Attestation json.RawMessage `json:"attestation"`
	}
	if err := json.Unmarshal(body, &req); err != nil || len(req.Attestation) == 0 {
		s.fail(w, http.StatusBadRequest, "BAD_REQUEST", `want {"attestation": {...}}`, err)
		return
	}
	id, se, err := s.current(r)
	if err != nil {
		s.storeFailed(w, err)
		return
	}
	if se == nil {
		s.fail(w, http.StatusUnauthorized, "NO_SESSION", "no session: ask for a nonce first", nil)
		return
	}
	s.counter.mu.Lock()
	nonce := s.counter.nonces[id]
	delete(s.counter.nonces, id)
	s.counter.mu.Unlock()
	if nonce == "" {
		s.fail(w, http.StatusBadRequest, "NONCE_UNKNOWN", "no counter nonce pending for this session", verify.ErrNonceUnknown)
		return
	}
	res, err := s.cfg.Attestations.VerifyAttestation(req.Attestation, s.cfg.Origin, nonce)
	if err != nil {
		status := http.StatusUnauthorized
		if errors.Is(err, verify.ErrAttestationFormat) || errors.Is(err, verify.ErrBundleFormat) {
			status = http.StatusBadRequest
		}
		s.fail(w, status, verify.ErrorCode(err), "attestation refused", err)
		return
	}
	ans := counterAnswer{Genuine: res.Genuine, Present: res.Present, PresentBy: res.PresentBy, Bound: res.Bound, Identity: res.Identity}
	if res.Present && res.Bound {
		in := res.Identity.Reading.Identity
		p := person{SSIN: in.NationalNumber, GivenNames: in.FirstNames, Surname: in.Surname,
			CommonName: in.FirstNames + " " + in.Surname}
		lr := &loginResult{Person: p, Checks: []verify.Check{"attestation", "genuine", "present", "bound"},
			OCSP: "not checked (no certificate in a PIN-less attestation)", Algorithm: "eid-attestation:1 (" + res.PresentBy + ")"}
		vp := verify.Person{SSIN: p.SSIN, GivenNames: p.GivenNames, Surname: p.Surname, CommonName: p.CommonName}
		if _, err := s.start(w, r, id, &session{Person: &vp, Login: lr}); err != nil {
			s.storeFailed(w, err)
			return
		}
		ans.LoggedIn, ans.Person = true, &p
	}
	s.cfg.Log.Info("counter attestation", "present", res.Present, "presentBy", res.PresentBy)
	writeJSON(w, http.StatusOK, ans)
}
