package agent

import (
	"bytes"
	"context"
	"crypto"
	"crypto/x509"
	"fmt"
	"io"
	"net/http"
	"time"

	"golang.org/x/crypto/ocsp"

	"github.com/eid-agent/eid-agent/internal/clock"
)

// OCSPChecker asks a certificate's OCSP responder (named in the
// certificate) for its status, for counter mode's card-revocation event.
// It reports good, revoked, unknown, or unavailable with the reason; it
// never fails the display, which was pushed before it runs.
type OCSPChecker struct {
	// Client sends the request; nil means a client with a 10 s timeout.
	Client *http.Client
}

// Check implements RevocationChecker.
func (o OCSPChecker) Check(ctx context.Context, certDER, issuerDER []byte) (string, string) {
	cert, err := x509.ParseCertificate(certDER)
	if err != nil {
		return "unavailable", "certificate: " + err.Error()
	}
	issuer, err := x509.ParseCertificate(issuerDER)
	if err != nil {
		return "unavailable", "issuer certificate: " + err.Error()
	}
	if len(cert.OCSPServer) == 0 {
		return "unavailable", "the certificate names no OCSP responder"
	}
	req, err := ocsp.CreateRequest(cert, issuer, &ocsp.RequestOptions{Hash: crypto.SHA256})
	if err != nil {
		return "unavailable", err.Error()
	}
	hr, err := http.NewRequestWithContext(ctx, http.MethodPost, cert.OCSPServer[0], bytes.NewReader(req))
	if err != nil {
		return "unavailable", err.Error()
	}
	hr.Header.Set("Content-Type", "application/ocsp-request")
	client := o.Client
	if client == nil {
		client = &http.Client{Timeout: 10 * time.Second}
	}
	resp, err := client.Do(hr)
	if err != nil {
		return "unavailable", fmt.Sprintf("responder: %v", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return "unavailable", fmt.Sprintf("responder answered HTTP %d", resp.StatusCode)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if err != nil {
		return "unavailable", err.Error()
	}
	// ParseResponseForCert checks the responder's signature (the issuer
	// or a responder certificate it issued) and that the answer is about
	// this certificate.
	r, err := ocsp.ParseResponseForCert(body, cert, issuer)
	if err != nil {
		return "unavailable", "response: " + err.Error()
	}
	now := clock.Now()
	if !r.NextUpdate.IsZero() && now.After(r.NextUpdate.Add(15*time.Minute)) || now.Before(r.ThisUpdate.Add(-15*time.Minute)) {
		return "unavailable", "stale or future response"
	}
	switch r.Status {
	case ocsp.Good:
		return "good", ""
	case ocsp.Revoked:
		return "revoked", "revoked on " + r.RevokedAt.UTC().Format(time.DateOnly)
	}
	return "unknown", "the responder does not know the certificate"
}
