package verify

import "errors"

// codes maps each sentinel to a stable machine-readable code, for JSON
// answers and logs. Order matters: the first sentinel an error matches
// gives its code (a tampered token matches both ErrWrongOrigin and
// ErrSignature and is reported as the latter, which covers both).
var codes = []struct {
	err  error
	code string
}{
	{ErrNonceUnknown, "NONCE_UNKNOWN"},
	{ErrNonceReplayed, "NONCE_REPLAYED"},
	{ErrNonceExpired, "NONCE_EXPIRED"},
	{ErrStoreUnavailable, "STORE_UNAVAILABLE"},
	{ErrFormat, "TOKEN_FORMAT"},
	{ErrAlgorithm, "ALGORITHM"},
	{ErrSignature, "SIGNATURE"},
	{ErrWrongOrigin, "WRONG_ORIGIN"},
	{ErrNotAuthCert, "NOT_AUTH_CERT"},
	{ErrCertExpired, "CERT_EXPIRED"},
	{ErrUntrusted, "UNTRUSTED"},
	{ErrRevoked, "REVOKED"},
	{ErrOCSPUnavailable, "OCSP_UNAVAILABLE"},
	{ErrBundleFormat, "BUNDLE_FORMAT"},
	{ErrFileMissing, "FILE_MISSING"},
	{ErrFileMalformed, "FILE_MALFORMED"},
	{ErrRRNUntrusted, "RRN_UNTRUSTED"},
	{ErrIdentityTampered, "IDENTITY_TAMPERED"},
	{ErrAddressTampered, "ADDRESS_TAMPERED"},
	{ErrPhotoMismatch, "PHOTO_MISMATCH"},
	{ErrBasicKeyMismatch, "BASIC_KEY_MISMATCH"},
	{ErrAttestationFormat, "ATTESTATION_FORMAT"},
	{ErrWrongNonce, "WRONG_NONCE"},
	{ErrDowngrade, "DOWNGRADE"},
	{ErrWrongCard, "WRONG_CARD"},
	{ErrChallengeMismatch, "CHALLENGE_MISMATCH"},
	{ErrHolderMismatch, "HOLDER_MISMATCH"},
	{ErrNotPresent, "NOT_PRESENT"},
}

// ErrorCode returns the code of the first failure err matches, such as
// "NONCE_REPLAYED" or "IDENTITY_TAMPERED", or "" for nil and "INTERNAL"
// for an error this package does not define. docs/verify.md lists them.
func ErrorCode(err error) string {
	if err == nil {
		return ""
	}
	for _, c := range codes {
		if errors.Is(err, c.err) {
			return c.code
		}
	}
	return "INTERNAL"
}

// ErrorCodes returns every code err matches, in the order of ErrorCode: a
// bundle failing several checks has several.
func ErrorCodes(err error) []string {
	var out []string
	for _, c := range codes {
		if err != nil && errors.Is(err, c.err) {
			out = append(out, c.code)
		}
	}
	return out
}
