package verify

import (
	"context"
	"crypto/x509"
	"encoding/asn1"
	"errors"
	"fmt"
	"time"

	"github.com/eid-agent/eid-agent/internal/clock"
)

// Check names one check that passed, for Result.Checks and logs.
type Check string

const (
	CheckNonce     Check = "nonce"     // issued here and consumed now
	CheckFormat    Check = "format"    // web-eid:1.x, fields present
	CheckAlgorithm Check = "algorithm" // on the allow-list, fits the key
	CheckSignature Check = "signature" // over H(origin)||H(nonce), expected origin
	CheckValidity  Check = "validity"  // certificate valid now
	CheckKeyUsage  Check = "key-usage" // digitalSignature, no nonRepudiation
	CheckPolicy    Check = "policy"    // an authentication policy OID present
	CheckChain     Check = "chain"     // chains to Roots
	CheckOCSP      Check = "ocsp"      // responder said good
)

// Validator checks Web eID authentication tokens. Set it up once and share
// it: Validate is safe for concurrent use (it holds the OCSP cache, so
// don't copy a Validator after first use).
type Validator struct {
	// Roots is the trust store (for Belgian cards: the Belgium Root CAs).
	Roots *x509.CertPool
	// Intermediates completes chains (Citizen CA, Foreigner CA): the token
	// carries only the user certificate.
	Intermediates *x509.CertPool
	// Nonces is where nonces were issued; required.
	Nonces NonceStore
	// Now is the clock; nil means the current time.
	Now  func() time.Time
	OCSP OCSPConfig
	// AuthPolicies are further policy OIDs accepted as "authentication"
	// (non-Belgian cards); Belgian ones are recognised anyway.
	AuthPolicies []asn1.ObjectIdentifier
	// RequireAuthPolicy rejects certificates without a recognised
	// authentication policy. Off by default because the production policy
	// OIDs are not all confirmed; the key-usage check still applies.
	RequireAuthPolicy bool

	cache ocspCache
}

// Result is what a valid token proves.
type Result struct {
	Person      Person
	Certificate *x509.Certificate
	Chain       []*x509.Certificate // leaf first, root last
	Algorithm   string
	AppVersion  string // as the agent claims it; not verified
	Checks      []Check
	// OCSP is "good", "good (cached)", "off", or "unchecked: <reason>"
	// under OCSPBestEffort.
	OCSP string
}

// Validate checks tokenJSON for expectedOrigin (scheme://host[:port] of the
// service, exactly as the browser sends it) and nonce (as issued to this
// session). The nonce is consumed first, whatever the outcome: a failed
// attempt cannot be retried, which denies an attacker a signature oracle.
func (v *Validator) Validate(ctx context.Context, tokenJSON []byte, expectedOrigin, nonce string) (*Result, error) {
	if v.Nonces == nil {
		return nil, errors.New("verify: Validator has no NonceStore")
	}
	var err error
	if cs, ok := v.Nonces.(ContextNonceStore); ok {
		err = cs.TakeContext(ctx, nonce)
	} else {
		err = v.Nonces.Take(nonce)
	}
	if err != nil {
		return nil, err
	}
	res := &Result{Checks: []Check{CheckNonce}}
	now := clock.Now()
	if v.Now != nil {
		now = v.Now()
	}

	t, err := ParseToken(tokenJSON)
	if err != nil {
		return nil, err
	}
	if _, ok := algorithmHash[t.Algorithm]; !ok {
		return nil, fmt.Errorf("%w: %q", ErrAlgorithm, t.Algorithm)
	}
	cert, err := t.Certificate()
	if err != nil {
		return nil, err
	}
	res.Checks = append(res.Checks, CheckFormat)
	if err := verifySignature(t, cert, expectedOrigin, nonce); err != nil {
		return nil, err
	}
	res.Checks = append(res.Checks, CheckAlgorithm, CheckSignature)
	res.Algorithm, res.AppVersion, res.Certificate = t.Algorithm, t.AppVersion, cert

	if err := checkValidity(cert, now); err != nil {
		return nil, err
	}
	res.Checks = append(res.Checks, CheckValidity)
	policyOK, err := checkPurpose(cert, v.AuthPolicies, v.RequireAuthPolicy)
	if err != nil {
		return nil, err
	}
	res.Checks = append(res.Checks, CheckKeyUsage)
	if policyOK {
		res.Checks = append(res.Checks, CheckPolicy)
	}

	chain, err := v.chain(cert, now)
	if err != nil {
		return nil, err
	}
	res.Chain = chain
	res.Checks = append(res.Checks, CheckChain)

	// Only now, with the chain verified, is the certificate's responder URL
	// trusted enough to be fetched (no requests to URLs an attacker wrote).
	switch v.OCSP.Policy {
	case OCSPOff:
		res.OCSP = "off"
	default:
		status, err := v.checkOCSP(ctx, cert, chain[1], now)
		switch {
		case err == nil:
			res.OCSP = status
			res.Checks = append(res.Checks, CheckOCSP)
		case ctx.Err() != nil:
			// The caller gave up: that is no licence to skip the check.
			return nil, fmt.Errorf("verify: revocation check abandoned: %w", ctx.Err())
		case v.OCSP.Policy == OCSPBestEffort && errors.Is(err, ErrOCSPUnavailable):
			res.OCSP = "unchecked: " + err.Error()
		default:
			return nil, err
		}
	}
	res.Person = personOf(cert)
	return res, nil
}

// chain verifies cert up to Roots at the time of use. Go's verifier refuses
// SHA-1 signatures on everything but the (self-signed) root: the SHA-1
// Belgian roots CA2/CA3 still work as anchors, but a SHA-1-signed user or
// CA certificate is reported untrusted; all such cards have expired.
func (v *Validator) chain(cert *x509.Certificate, now time.Time) ([]*x509.Certificate, error) {
	if v.Roots == nil {
		return nil, fmt.Errorf("%w: no trust store configured", ErrUntrusted)
	}
	chains, err := cert.Verify(x509.VerifyOptions{
		Roots:         v.Roots,
		Intermediates: v.Intermediates,
		CurrentTime:   now,
		// Purpose is checked by checkPurpose; this keeps Go from insisting
		// on serverAuth down a chain whose CAs list other usages.
		KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny},
	})
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrUntrusted, err)
	}
	if len(chains[0]) < 2 {
		// A self-signed leaf in Roots is no eID certificate.
		return nil, fmt.Errorf("%w: certificate is itself a root", ErrUntrusted)
	}
	return chains[0], nil
}
