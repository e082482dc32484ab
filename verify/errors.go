package verify

import "errors"

// Failure modes of Validate. Each is matched with errors.Is; the error text
// adds the detail for logs.
var (
	// ErrFormat: the token is not JSON of the Web eID shape, a field is
	// missing or not base64, the certificate does not parse, or the format is
	// not web-eid:1.x.
	ErrFormat = errors.New("verify: malformed Web eID token")
	// ErrAlgorithm: the algorithm is not on the allow-list, or does not fit
	// the certificate's key type.
	ErrAlgorithm = errors.New("verify: signature algorithm not allowed")
	// ErrSignature: the signature does not verify (or is malformed).
	ErrSignature = errors.New("verify: signature does not verify")
	// ErrWrongOrigin: the signature does not verify for the expected origin.
	// The token does not carry the origin, so a token made for another site
	// and a tampered token look the same: a well-formed signature that fails
	// to verify matches both ErrWrongOrigin and ErrSignature.
	ErrWrongOrigin = errors.New("verify: not signed for the expected origin")
	// ErrNonceUnknown: the nonce was never issued by this store (or was
	// forgotten after its lifetime).
	ErrNonceUnknown = errors.New("verify: unknown nonce")
	// ErrNonceReplayed: the nonce has already been used.
	ErrNonceReplayed = errors.New("verify: nonce already used")
	// ErrNonceExpired: the nonce's lifetime is over.
	ErrNonceExpired = errors.New("verify: nonce expired")
	// ErrStoreUnavailable: a shared store (the nonce store, a session
	// store) could not be reached or did not answer in time. Nothing was
	// decided: the login is refused (fail closed) and may be retried with a
	// new nonce once the store is back.
	ErrStoreUnavailable = errors.New("verify: shared store unavailable")
	// ErrNotAuthCert: the certificate is not an authentication certificate
	// (no digitalSignature, has nonRepudiation, a signing policy, or an
	// extended key usage without client authentication).
	ErrNotAuthCert = errors.New("verify: not an authentication certificate")
	// ErrCertExpired: the certificate is not valid at the time of use
	// (expired or not yet valid).
	ErrCertExpired = errors.New("verify: certificate not valid at this time")
	// ErrUntrusted: the certificate does not chain to a configured root.
	ErrUntrusted = errors.New("verify: certificate not trusted")
	// ErrRevoked: OCSP says revoked, or unknown (treated as revoked, as the
	// Web eID validators do: the CA does not vouch for the certificate).
	ErrRevoked = errors.New("verify: certificate revoked")
	// ErrOCSPUnavailable: revocation could not be checked (no responder,
	// timeout, HTTP error, bad or stale response) under OCSPRequired.
	ErrOCSPUnavailable = errors.New("verify: revocation status unavailable")
)

// mismatchError is a well-formed signature that does not verify: wrong
// origin and tampering cannot be told apart, so it matches both sentinels.
type mismatchError struct{ detail string }

func (e *mismatchError) Error() string {
	return "verify: signature does not verify for the expected origin and nonce (wrong origin or tampered token): " + e.detail
}

func (e *mismatchError) Is(target error) bool {
	return target == ErrSignature || target == ErrWrongOrigin
}
