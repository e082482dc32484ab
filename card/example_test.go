package card_test

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/sha256"
	"fmt"
	"log"
	"time"

	"github.com/eid-agent/eid-agent/card"
	"github.com/eid-agent/eid-agent/card/eidfile"
	"github.com/eid-agent/eid-agent/internal/virtual"
)

// Reading a card: Connect gives a Card over PC/SC, Read reads the files,
// decodes them and verifies them (National Register signatures, photo
// hash, the 1.8 chip check, the RRN certificate's chain to a Belgian root).
// It needs a reader, so it has no output to check.
func ExampleContext_Connect() {
	ctx, err := card.NewContext()
	if err != nil {
		log.Fatal(err) // no pcscd
	}
	defer ctx.Release()
	reader, err := ctx.ChooseReader("") // the only reader holding a card
	if err != nil {
		log.Fatal(err) // errors.Is(err, card.ErrNoCard), card.ErrAmbiguousReader
	}
	c, err := ctx.Connect(reader)
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	r, err := c.Read(card.ReadOptions{}) // every part, the embedded Belgian roots
	if err != nil {
		log.Fatal(err) // errors.Is(err, card.ErrCardRemoved), card.ErrUnsupportedCard, ...
	}
	fmt.Println(r.Identity.Surname, r.Integrity.Identity, r.Integrity.RRNChain)
}

// Any Transport carries the APDUs: here the in-process virtual card that
// the tests use, a generated applet-1.8 citizen card, behind
// card.TransportFunc. Its test root replaces the Belgian roots.
func ExampleCard_Read() {
	p, err := virtual.PresetAt("citizen-1.8", time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC))
	if err != nil {
		log.Fatal(err)
	}
	vc := virtual.New(p)
	c := card.New(card.TransportFunc(func(apdu []byte) ([]byte, error) {
		return vc.Transmit(apdu), nil
	}), "virtual reader", p.ATR)

	trust := &eidfile.TrustStore{}
	trust.Add(p.PKI.Root)
	r, err := c.Read(card.ReadOptions{
		Parts: card.PartIdentity | card.PartAddress | card.PartChipAuthentication,
		Trust: trust,
		Now:   time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC),
	})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("applet:", r.Card.AppletVersion)
	fmt.Println("holder:", r.Identity.FirstNames, r.Identity.Surname)
	fmt.Println("lives in:", r.Address.Municipality)
	fmt.Println("identity signature:", r.Integrity.Identity)
	fmt.Println("chip authentication:", r.Integrity.ChipAuthentication)
	fmt.Println("RRN chain:", r.Integrity.RRNChain)
	// Output:
	// applet: 1.8
	// holder: Lucas Émile Specimen
	// lives in: Liège
	// identity signature: valid
	// chip authentication: valid
	// RRN chain: trusted
}

// A Key is a crypto.Signer whose private key stays on the card: the caller
// hashes, the card signs, asking prompt for the PIN when it wants it.
func ExampleCard_Key() {
	p, err := virtual.Preset("citizen-1.8")
	if err != nil {
		log.Fatal(err)
	}
	vc := virtual.New(p)
	c := card.New(card.TransportFunc(func(apdu []byte) ([]byte, error) {
		return vc.Transmit(apdu), nil
	}), "virtual reader", p.ATR)

	prompt := func(ctx context.Context, req card.PINRequest) ([]byte, error) {
		return []byte(virtual.DefaultPIN), nil // a dialog in a real program
	}
	key, err := c.Key(card.KeySigning, prompt)
	if err != nil {
		log.Fatal(err) // errors.Is(err, card.ErrNoKey) on a Kids-ID
	}
	digest := sha256.Sum256([]byte("document"))
	sig, err := key.Sign(nil, digest[:], crypto.SHA256)
	if err != nil {
		log.Fatal(err)
	}
	pub := key.Certificate().PublicKey.(*ecdsa.PublicKey) // 1.8 cards have EC P-384 keys
	fmt.Println("signature verifies:", ecdsa.VerifyASN1(pub, digest[:], sig))
	// Output:
	// signature verifies: true
}
