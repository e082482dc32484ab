// Package verify is the server side of eid-agent's authentication: it issues
// single-use challenge nonces and validates the Web eID tokens
// ("web-eid:1.x") that the agent returns, including the certificate's
// purpose, its chain to a trust store and its revocation status (OCSP).
//
// It has no dependency on PC/SC or PKCS#11, so any Go back end can use it.
//
// The signed value is rebuilt here rather than imported from the agent's
// bridge/webeid package, so the tests (which make tokens with the agent's
// code) cross-check two independent readings of the Web eID rule:
// with H the hash of the token's algorithm, the signature covers
// H(origin) || H(nonce).
//
// Every failure comes back as an error that errors.Is matches against one of
// the Err* sentinels, so a service can log precisely and still show the user
// a generic message.
package verify
