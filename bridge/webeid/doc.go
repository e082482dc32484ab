// Package webeid builds and checks Web eID authentication tokens (format
// "web-eid:1.0"), so that a web back end can validate what the agent
// returns with the existing Web eID validators (Java, .NET, PHP).
//
// The signed value follows the Web eID rules: with the hash H that belongs
// to the key's JOSE algorithm (SHA-256 for RS256/PS256/ES256, SHA-384 for
// ES384, ...), the card signs H(origin) || H(nonce) with that algorithm,
// i.e. the card receives H(H(origin) || H(nonce)) as its digest. Hashing
// each field first keeps them apart ("example.com"+".eu1234" differs from
// "example.com.eu"+"1234").
//
// The origin is always the one the agent itself saw on the websocket
// handshake, never a value the page supplies; this package only checks
// its shape.
package webeid
