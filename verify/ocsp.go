package verify

import (
	"bytes"
	"context"
	"crypto"
	"crypto/sha256"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"

	"golang.org/x/crypto/ocsp"
)

// OCSPPolicy says what to do about revocation.
type OCSPPolicy int

const (
	// OCSPRequired (the zero value, so forgetting to configure is safe):
	// the certificate must be reported good.
	OCSPRequired OCSPPolicy = iota
	// OCSPBestEffort: revoked or unknown still fails, but a responder that
	// cannot be reached or answers garbage is tolerated.
	OCSPBestEffort
	// OCSPOff skips revocation (tests, offline labs).
	OCSPOff
)

// Defaults for OCSPConfig, as in the Web eID validators.
const (
	DefaultOCSPTimeout = 5 * time.Second
	DefaultOCSPSkew    = 15 * time.Minute
	// DefaultOCSPMaxAge bounds how old thisUpdate may be when a response has
	// no nextUpdate (a responder answering live).
	DefaultOCSPMaxAge = 2 * time.Minute
	maxOCSPResponse   = 64 << 10
	maxOCSPCache      = 10000
)

// OCSPConfig configures revocation checks.
type OCSPConfig struct {
	Policy  OCSPPolicy
	Timeout time.Duration // per request; zero means DefaultOCSPTimeout
	Skew    time.Duration // clock tolerance; zero means DefaultOCSPSkew
	MaxAge  time.Duration // see DefaultOCSPMaxAge; zero means the default
	// Client sends requests; nil means http.DefaultClient.
	Client *http.Client
}

func orDefault(d, def time.Duration) time.Duration {
	if d > 0 {
		return d
	}
	return def
}

// ocspCache keeps good answers until their nextUpdate, so a busy service
// does not ask the responder at every login. Only "good" is cached: a
// revocation must be seen as soon as the responder says so.
type ocspCache struct {
	mu      sync.Mutex
	entries map[[32]byte]time.Time // hash of cert.Raw -> nextUpdate
}

func (c *ocspCache) good(key [32]byte, now time.Time) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	until, ok := c.entries[key]
	return ok && now.Before(until)
}

func (c *ocspCache) put(key [32]byte, until, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.entries == nil {
		c.entries = make(map[[32]byte]time.Time)
	}
	if len(c.entries) >= maxOCSPCache {
		for k, u := range c.entries {
			if !now.Before(u) {
				delete(c.entries, k)
			}
		}
		if len(c.entries) >= maxOCSPCache {
			return // full of live entries: just don't cache
		}
	}
	c.entries[key] = until
}

// checkOCSP asks the responder named in cert's AIA about cert (issued by
// issuer). It returns a status word for Result.OCSP, or an error matching
// ErrRevoked or ErrOCSPUnavailable (the caller applies the policy).
func (v *Validator) checkOCSP(ctx context.Context, cert, issuer *x509.Certificate, now time.Time) (string, error) {
	key := sha256.Sum256(cert.Raw)
	if v.cache.good(key, now) {
		return "good (cached)", nil
	}
	if len(cert.OCSPServer) == 0 {
		return "", fmt.Errorf("%w: certificate names no OCSP responder", ErrOCSPUnavailable)
	}
	// SHA-256 CertIDs, as the Belgian viewer sends.
	req, err := ocsp.CreateRequest(cert, issuer, &ocsp.RequestOptions{Hash: crypto.SHA256})
	if err != nil {
		return "", fmt.Errorf("%w: building request: %v", ErrOCSPUnavailable, err)
	}
	cfg := v.OCSP
	ctx, cancel := context.WithTimeout(ctx, orDefault(cfg.Timeout, DefaultOCSPTimeout))
	defer cancel()
	body, err := postOCSP(ctx, cfg.Client, cert.OCSPServer[0], req)
	if err != nil {
		return "", fmt.Errorf("%w: %v", ErrOCSPUnavailable, err)
	}
	// ParseResponseForCert checks the serial and the signature, by the
	// issuer or by a responder certificate the issuer delegated to.
	resp, err := ocsp.ParseResponseForCert(body, cert, issuer)
	if err != nil {
		var re ocsp.ResponseError
		if errors.As(err, &re) {
			return "", fmt.Errorf("%w: responder says %v", ErrOCSPUnavailable, re)
		}
		return "", fmt.Errorf("%w: %v", ErrOCSPUnavailable, err)
	}
	skew := orDefault(cfg.Skew, DefaultOCSPSkew)
	if resp.ThisUpdate.After(now.Add(skew)) {
		return "", fmt.Errorf("%w: response thisUpdate %s is in the future", ErrOCSPUnavailable, resp.ThisUpdate.UTC().Format(time.RFC3339))
	}
	if !resp.NextUpdate.IsZero() {
		if resp.NextUpdate.Before(now.Add(-skew)) {
			return "", fmt.Errorf("%w: stale response (nextUpdate %s)", ErrOCSPUnavailable, resp.NextUpdate.UTC().Format(time.RFC3339))
		}
	} else if resp.ThisUpdate.Before(now.Add(-skew - orDefault(cfg.MaxAge, DefaultOCSPMaxAge))) {
		return "", fmt.Errorf("%w: stale response (thisUpdate %s)", ErrOCSPUnavailable, resp.ThisUpdate.UTC().Format(time.RFC3339))
	}
	switch resp.Status {
	case ocsp.Good:
		if !resp.NextUpdate.IsZero() {
			v.cache.put(key, resp.NextUpdate, now)
		}
		return "good", nil
	case ocsp.Revoked:
		return "", fmt.Errorf("%w: revoked at %s", ErrRevoked, resp.RevokedAt.UTC().Format(time.RFC3339))
	default:
		return "", fmt.Errorf("%w: responder does not know the certificate", ErrRevoked)
	}
}

func postOCSP(ctx context.Context, client *http.Client, url string, req []byte) ([]byte, error) {
	if client == nil {
		client = http.DefaultClient
	}
	hr, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(req))
	if err != nil {
		return nil, err
	}
	hr.Header.Set("Content-Type", "application/ocsp-request")
	hr.Header.Set("Accept", "application/ocsp-response")
	res, err := client.Do(hr)
	if err != nil {
		return nil, err
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("responder answered HTTP %d", res.StatusCode)
	}
	body, err := io.ReadAll(io.LimitReader(res.Body, maxOCSPResponse+1))
	if err != nil {
		return nil, err
	}
	if len(body) > maxOCSPResponse {
		return nil, errors.New("response too large")
	}
	return body, nil
}
