package verify

import (
	"crypto"
	"crypto/x509"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/eid-agent/eid-agent/internal/clock"

	"golang.org/x/crypto/ocsp"
)

// responder is a local OCSP responder signing with the CA key itself (the
// simplest case ParseResponseForCert accepts).
type responder struct {
	srv  *httptest.Server
	hits atomic.Int64
	done chan struct{} // closed at cleanup: releases hanging handlers

	mu       sync.Mutex
	ca       *x509.Certificate
	key      crypto.Signer
	status   map[string]int // serial -> ocsp.Good/Revoked/Unknown; default Good
	hang     bool           // never answer (timeout)
	stale    bool           // nextUpdate in the past
	noNext   bool           // no nextUpdate (not cacheable)
	httpCode int            // non-zero: answer with this HTTP status
}

func newResponder(t testing.TB) *responder {
	t.Helper()
	r := &responder{status: map[string]int{}, done: make(chan struct{})}
	r.srv = httptest.NewServer(http.HandlerFunc(r.serve)) // listens on 127.0.0.1
	t.Cleanup(r.srv.Close)
	t.Cleanup(func() { close(r.done) }) // runs first: Close waits for handlers
	return r
}

func (r *responder) setCA(ca *x509.Certificate, key crypto.Signer) {
	r.mu.Lock()
	r.ca, r.key = ca, key
	r.mu.Unlock()
}

func (r *responder) set(c *x509.Certificate, status int) {
	r.mu.Lock()
	r.status[c.SerialNumber.String()] = status
	r.mu.Unlock()
}

func (r *responder) serve(w http.ResponseWriter, req *http.Request) {
	r.hits.Add(1)
	r.mu.Lock()
	hang, code, ca, key, stale, noNext := r.hang, r.httpCode, r.ca, r.key, r.stale, r.noNext
	r.mu.Unlock()
	if hang {
		select {
		case <-req.Context().Done():
		case <-r.done:
		}
		return
	}
	if code != 0 {
		http.Error(w, "no", code)
		return
	}
	body, err := io.ReadAll(req.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	q, err := ocsp.ParseRequest(body)
	if err != nil {
		w.Write(ocsp.MalformedRequestErrorResponse)
		return
	}
	if q.HashAlgorithm != crypto.SHA256 {
		http.Error(w, "want SHA-256 CertID", http.StatusBadRequest)
		return
	}
	r.mu.Lock()
	st, ok := r.status[q.SerialNumber.String()]
	r.mu.Unlock()
	if !ok {
		st = ocsp.Good
	}
	now := clock.Now()
	tmpl := ocsp.Response{
		Status:       st,
		SerialNumber: q.SerialNumber,
		ThisUpdate:   now.Add(-time.Minute),
		NextUpdate:   now.Add(time.Hour),
		IssuerHash:   crypto.SHA256,
	}
	if stale {
		tmpl.ThisUpdate, tmpl.NextUpdate = now.Add(-3*time.Hour), now.Add(-2*time.Hour)
	}
	if noNext {
		tmpl.NextUpdate = time.Time{}
	}
	if st == ocsp.Revoked {
		tmpl.RevokedAt = now.Add(-time.Hour)
		tmpl.RevocationReason = ocsp.KeyCompromise
	}
	der, err := ocsp.CreateResponse(ca, ca, tmpl, key)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/ocsp-response")
	w.Write(der)
}

// with changes the responder's behaviour under its lock.
func (r *responder) with(fn func(r *responder)) {
	r.mu.Lock()
	fn(r)
	r.mu.Unlock()
}
