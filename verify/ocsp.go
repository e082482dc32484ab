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
	// Cache keeps "good" answers; nil means a cache inside the Validator.
	// Several server instances share one (verify/redisstore) so that a
	// certificate is asked about once per nextUpdate, not once per instance.
	Cache OCSPCache
}

// OCSPCache holds "good" OCSP answers until their nextUpdate. Only "good"
// is ever put: a revocation must be seen as soon as the responder says so.
//
// A cache that fails (a shared store that is down) is not fatal: Validate
// treats a Good error as a miss and asks the responder, and ignores a
// PutGood error, so revocation is still checked, only more often.
type OCSPCache interface {
	// Good reports whether a good answer is held for the certificate whose
	// SHA-256 (of its DER) is key, with a nextUpdate after now.
	Good(ctx context.Context, key [32]byte, now time.Time) (bool, error)
	// PutGood records a good answer valid until nextUpdate. An entry must
	// never be reported good at or after nextUpdate; one whose nextUpdate
	// is not after now is not kept.
	PutGood(ctx context.Context, key [32]byte, nextUpdate, now time.Time) error
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

// Good implements OCSPCache.
func (c *ocspCache) Good(_ context.Context, key [32]byte, now time.Time) (bool, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	until, ok := c.entries[key]
	return ok && now.Before(until), nil
}

// PutGood implements OCSPCache.
func (c *ocspCache) PutGood(_ context.Context, key [32]byte, until, now time.Time) error {
	if !now.Before(until) {
		return nil
	}
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
			return nil // full of live entries: just don't cache
		}
	}
	c.entries[key] = until
	return nil
}

// checkOCSP asks the responder named in cert's AIA about cert (issued by
// issuer). It returns a status word for Result.OCSP, or an error matching
// ErrRevoked or ErrOCSPUnavailable (the caller applies the policy).
func (v *Validator) checkOCSP(ctx context.Context, cert, issuer *x509.Certificate, now time.Time) (string, error) {
	key := sha256.Sum256(cert.Raw)
	cache := v.OCSP.Cache
	if cache == nil {
		cache = &v.cache
	}
	// A cache error is a miss (see OCSPCache): the responder decides.
	if ok, err := cache.Good(ctx, key, now); err == nil && ok {
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
			// Best effort: an answer not cached is asked again next time.
			_ = cache.PutGood(ctx, key, resp.NextUpdate, now)
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
