package agent

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"io"
	"math/big"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/eid-agent/eid-agent/internal/clock"

	"golang.org/x/crypto/ocsp"
)

// ocspPKI is a CA, a leaf naming url as its OCSP responder, and the CA key
// to answer with.
type ocspPKI struct {
	ca, leaf *x509.Certificate
	caKey    *ecdsa.PrivateKey
}

func newOCSPPKI(t *testing.T, url string) *ocspPKI {
	t.Helper()
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	leafKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	now := clock.Now()
	caT := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "Test Citizen CA"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign}
	caDER, err := x509.CreateCertificate(rand.Reader, caT, caT, caKey.Public(), caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	leafT := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "Specimen (Authentication)"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour), KeyUsage: x509.KeyUsageDigitalSignature}
	if url != "" {
		leafT.OCSPServer = []string{url}
	}
	leafDER, err := x509.CreateCertificate(rand.Reader, leafT, ca, leafKey.Public(), caKey)
	if err != nil {
		t.Fatal(err)
	}
	leaf, _ := x509.ParseCertificate(leafDER)
	return &ocspPKI{ca: ca, leaf: leaf, caKey: caKey}
}

// TestOCSPChecker: the counter's card-revocation verdicts from a local
// responder: good, revoked, unknown, and "unavailable" (never a failure)
// for no responder, an HTTP error, garbage, a response signed by another
// key, a stale one.
func TestOCSPChecker(t *testing.T) {
	var answer func(w http.ResponseWriter, req *ocsp.Request)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		q, err := ocsp.ParseRequest(body)
		if err != nil {
			http.Error(w, "bad request", http.StatusBadRequest)
			return
		}
		answer(w, q)
	}))
	defer srv.Close()
	pki := newOCSPPKI(t, srv.URL)
	signed := func(status int, key crypto.Signer, thisUpdate time.Time) func(http.ResponseWriter, *ocsp.Request) {
		return func(w http.ResponseWriter, q *ocsp.Request) {
			tmpl := ocsp.Response{Status: status, SerialNumber: q.SerialNumber, ThisUpdate: thisUpdate,
				NextUpdate: thisUpdate.Add(time.Hour), RevokedAt: thisUpdate, IssuerHash: crypto.SHA256}
			der, err := ocsp.CreateResponse(pki.ca, pki.ca, tmpl, key)
			if err != nil {
				http.Error(w, err.Error(), 500)
				return
			}
			w.Write(der)
		}
	}
	other, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	now := clock.Now()
	for _, tc := range []struct {
		name, status, detail string
		answer               func(http.ResponseWriter, *ocsp.Request)
	}{
		{"good", "good", "", signed(ocsp.Good, pki.caKey, now.Add(-time.Minute))},
		{"revoked", "revoked", "revoked on", signed(ocsp.Revoked, pki.caKey, now.Add(-time.Minute))},
		{"unknown", "unknown", "does not know", signed(ocsp.Unknown, pki.caKey, now.Add(-time.Minute))},
		{"HTTP error", "unavailable", "HTTP 503", func(w http.ResponseWriter, _ *ocsp.Request) { http.Error(w, "down", http.StatusServiceUnavailable) }},
		{"garbage", "unavailable", "response", func(w http.ResponseWriter, _ *ocsp.Request) { w.Write([]byte("not OCSP")) }},
		{"another signer", "unavailable", "response", signed(ocsp.Good, other, now.Add(-time.Minute))},
		{"stale", "unavailable", "stale", signed(ocsp.Good, pki.caKey, now.Add(-3*time.Hour))},
	} {
		t.Run(tc.name, func(t *testing.T) {
			answer = tc.answer
			st, detail := OCSPChecker{}.Check(context.Background(), pki.leaf.Raw, pki.ca.Raw)
			if st != tc.status || !strings.Contains(detail, tc.detail) {
				t.Errorf("%s (%s), want %s (%q)", st, detail, tc.status, tc.detail)
			}
		})
	}
	noURL := newOCSPPKI(t, "")
	if st, detail := (OCSPChecker{}).Check(context.Background(), noURL.leaf.Raw, noURL.ca.Raw); st != "unavailable" || !strings.Contains(detail, "no OCSP responder") {
		t.Errorf("no responder: %s %s", st, detail)
	}
}

// TestAttestBudget: the per-insertion and per-caller limits, on a clock
// the test moves: a new insertion has a new budget, a caller's hour
// slides.
func TestAttestBudget(t *testing.T) {
	var a attestBudget
	lim := AttestLimits{PerInsertion: 2, PerOriginHourly: 3}
	t0 := time.Date(2030, 1, 1, 9, 0, 0, 0, time.UTC)
	take := func(reader string, ins uint64, caller string, at time.Duration) error {
		return a.take(lim, reader, ins, caller, t0.Add(at))
	}
	for i, step := range []struct {
		reader string
		ins    uint64
		caller string
		at     time.Duration
		ok     bool
	}{
		{"r1", 1, "https://a", 0, true},
		{"r1", 1, "https://b", time.Minute, true},
		{"r1", 1, "https://a", 2 * time.Minute, false}, // the insertion's 2 are spent
		{"r1", 2, "https://a", 3 * time.Minute, true},  // a new insertion
		{"r2", 7, "https://a", 4 * time.Minute, true},  // a's 3rd of the hour
		{"r2", 7, "https://a", 5 * time.Minute, false}, // a's hour is spent
		{"r2", 7, "https://b", 6 * time.Minute, true},  // b has its own
		{"r2", 8, "https://a", 61 * time.Minute, true}, // a's first of 9:00 has left the hour
		{"r2", 8, "https://a", 62 * time.Minute, false},
	} {
		err := take(step.reader, step.ins, step.caller, step.at)
		if (err == nil) != step.ok {
			t.Fatalf("step %d: %v, want ok=%v", i, err, step.ok)
		}
	}
}
