package verify_test

import (
	"context"
	"crypto/x509"
	"fmt"
	"time"

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
