package pkcs_test

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/sha512"
	"fmt"
	"log"

	"github.com/eid-agent/eid-agent/card"
	"github.com/eid-agent/eid-agent/pkcs"
)

// Signing through a PKCS#11 module. With a card, OpenDiscovered("", ...)
// finds the Belgian middleware or OpenSC and the reader's name selects the
// slot; here a SoftHSM2 token made like an applet-1.8 card (EC P-384 keys,
// "Authentication" id 02, "Signature" id 03) stands in, named by its label.
func ExampleModule_Key() {
	label, _, err := makeSoftToken(tokenOpts{alg: "ec"}) // test set-up: a fresh SoftHSM token
	if err != nil {
		log.Fatal(err)
	}

	m, err := pkcs.Open(softhsmModule, pkcs.Options{})
	if err != nil {
		log.Fatal(err)
	}
	defer m.Close()
	prompt := func(ctx context.Context, req card.PINRequest) ([]byte, error) {
		return []byte(softPIN), nil // a PIN dialog in a real program; never retried
	}
	ctx := context.Background()
	key, err := m.Key(ctx, label, card.KeySigning, prompt)
	if err != nil {
		log.Fatal(err) // errors.Is(err, card.ErrNoKey), card.ErrPINBlocked, ...
	}
	digest := sha512.Sum384([]byte("document"))
	sig, err := key.SignContext(ctx, digest[:], crypto.SHA384)
	if err != nil {
		log.Fatal(err)
	}
	jose, _ := key.Algorithm(crypto.SHA384)
	pub := key.Public().(*ecdsa.PublicKey)
	fmt.Println("algorithm:", jose)
	fmt.Println("signature verifies:", ecdsa.VerifyASN1(pub, digest[:], sig))
	// Output:
	// algorithm: ES384
	// signature verifies: true
}
