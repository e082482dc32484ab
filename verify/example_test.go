package verify_test

import (
	"context"
	"crypto"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"log"
	"time"

	"github.com/eid-agent/eid-agent/bridge/webeid"
	"github.com/eid-agent/eid-agent/card/eidfile"
	"github.com/eid-agent/eid-agent/internal/virtual"
	"github.com/eid-agent/eid-agent/verify"
)

// Example shows a login flow: issue a nonce with the page, validate the token
// the agent returned for it.
func Example() {
	roots, inters := x509.NewCertPool(), x509.NewCertPool() // add Belgium Root CA4/CA6, Citizen CA, ...
	nonces := &verify.MemoryNonceStore{}                    // per server; 5-minute nonces
	v := &verify.Validator{
		Roots: roots, Intermediates: inters, Nonces: nonces,
		OCSP: verify.OCSPConfig{Policy: verify.OCSPRequired, Timeout: 5 * time.Second},
	}

	nonce, _ := nonces.Issue() // send to the page with the login form
	var tokenJSON []byte       // what the page posts back from the agent
	res, err := v.Validate(context.Background(), tokenJSON, "https://login.example.org", nonce)
	if err != nil {
		fmt.Println("login refused") // log err; errors.Is(err, verify.ErrRevoked), ...
		return
	}
	fmt.Println(res.Person.SSIN, res.Person.GivenNames, res.Person.Surname)
}

// exampleDay is the day the examples run on: the virtual card is issued
// for it, so that their output is the same on any day.
var exampleDay = time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)

// ExampleValidator_Validate runs a login through: the page gets a nonce,
// the agent signs it with the card's authentication key, the server
// validates the token. The card is the virtual applet-1.8 card of the
// tests; its test root stands in for the Belgian roots.
func ExampleValidator_Validate() {
	p, err := virtual.PresetAt("citizen-1.8", exampleDay)
	if err != nil {
		log.Fatal(err)
	}
	roots, inters := x509.NewCertPool(), x509.NewCertPool()
	roots.AddCert(p.PKI.Root)
	inters.AddCert(p.PKI.CA)
	clock := func() time.Time { return exampleDay }
	nonces := &verify.MemoryNonceStore{Now: clock}
	v := &verify.Validator{
		Roots: roots, Intermediates: inters, Nonces: nonces, Now: clock,
		OCSP: verify.OCSPConfig{Policy: verify.OCSPOff}, // the test certificates name no responder
	}

	const origin = "https://login.example.org"
	nonce, err := nonces.Issue()
	if err != nil {
		log.Fatal(err)
	}
	tokenJSON := exampleAgentToken(p, origin, nonce) // the page posts this back

	res, err := v.Validate(context.Background(), tokenJSON, origin, nonce)
	if err != nil {
		log.Fatal(err) // errors.Is(err, verify.ErrWrongOrigin), verify.ErrUntrusted, ...; verify.ErrorCode(err)
	}
	fmt.Println("SSIN:", res.Person.SSIN)
	fmt.Println("name:", res.Person.GivenNames, res.Person.Surname)
	fmt.Println("algorithm:", res.Algorithm)
	fmt.Println("checks:", res.Checks)

	// The nonce is spent: the same token is refused the second time.
	_, err = v.Validate(context.Background(), tokenJSON, origin, nonce)
	fmt.Println("replayed:", verify.ErrorCode(err))
	// Output:
	// SSIN: 90122468782
	// name: Lucas Émile Specimen
	// algorithm: ES384
	// checks: [nonce format algorithm signature validity key-usage chain]
	// replayed: NONCE_REPLAYED
}

// ExampleBundleVerifier_VerifyBundle checks an identity bundle (the card's
// raw signed files, as the agent's read returns them) exactly as the agent
// checks a card.
func ExampleBundleVerifier_VerifyBundle() {
	p, err := virtual.PresetAt("citizen-1.8", exampleDay)
	if err != nil {
		log.Fatal(err)
	}
	trust := &eidfile.TrustStore{} // nil would mean the embedded Belgian roots
	trust.Add(p.PKI.Root)
	bv := &verify.BundleVerifier{Trust: trust, Now: func() time.Time { return exampleDay }, RequireAddress: true}

	bundleJSON, err := json.Marshal(eidfile.NewBundle(exampleAgentFiles(p))) // what the page posts
	if err != nil {
		log.Fatal(err)
	}
	res, err := bv.VerifyBundle(bundleJSON)
	if err != nil {
		log.Fatal(err) // errors.Is(err, verify.ErrIdentityTampered), verify.ErrRRNUntrusted, ...; verify.ErrorCode(err)
	}
	fmt.Println("holder:", res.Reading.Identity.FirstNames, res.Reading.Identity.Surname)
	fmt.Println("lives in:", res.Reading.Address.Municipality)
	for _, c := range res.Checks {
		fmt.Println(c.Name+":", c.Verdict)
	}

	// One changed byte in the identity file breaks the National Register's signature.
	bundle := eidfile.NewBundle(exampleAgentFiles(p))
	bundle.Identity[len(bundle.Identity)-1] ^= 1
	bundleJSON, _ = json.Marshal(bundle)
	_, err = bv.VerifyBundle(bundleJSON)
	fmt.Println("tampered:", verify.ErrorCode(err))
	// Output:
	// holder: Lucas Émile Specimen
	// lives in: Liège
	// rrnChain: trusted
	// identity: valid
	// address: valid
	// photo: valid
	// basicKey: valid
	// nationalNumber: valid
	// cardNumber: valid
	// tampered: IDENTITY_TAMPERED
}

// exampleAgentToken makes the token the agent returns for origin and nonce:
// signed on the card with the authentication key.
func exampleAgentToken(p *virtual.Profile, origin, nonce string) []byte {
	cert, err := p.Certificate(virtual.PathAuthCert)
	if err != nil {
		log.Fatal(err)
	}
	tok, err := webeid.Create(exampleCardKey{p.AuthKey, cert}, origin, nonce, webeid.Options{Version: "1.0.0"})
	if err != nil {
		log.Fatal(err)
	}
	b, err := json.Marshal(tok)
	if err != nil {
		log.Fatal(err)
	}
	return b
}

// exampleCardKey is the card's key with its certificate, as webeid.Signer
// wants.
type exampleCardKey struct {
	crypto.Signer
	cert *x509.Certificate
}

func (k exampleCardKey) Certificate() *x509.Certificate { return k.cert }

// exampleAgentFiles are the card's files as the agent reads them.
func exampleAgentFiles(p *virtual.Profile) *eidfile.Files {
	return &eidfile.Files{
		CardData:          p.CardData,
		Identity:          p.File(virtual.PathIdentity),
		IdentitySignature: p.File(virtual.PathIdentitySig),
		Address:           p.File(virtual.PathAddress),
		AddressSignature:  p.File(virtual.PathAddressSig),
		Photo:             p.File(virtual.PathPhoto),
		BasicKey:          p.File(virtual.PathBasicKey),
		RRNCert:           p.File(virtual.PathRRNCert),
		RootCert:          p.File(virtual.PathRootCert),
	}
}
