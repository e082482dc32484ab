package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/eid-agent/eid-agent/card"
	"github.com/eid-agent/eid-agent/pkcs"
)

// errPKCS11Unusable: no PKCS#11 module, or the module cannot handle this
// card or key; the APDU path can still sign.
var errPKCS11Unusable = errors.New("PKCS#11 path unusable")

// openPKCS11 opens the key through the PKCS#11 module. Failures that mean
// "this module cannot do it" (no module, no token for the reader, a key the
// module refuses, an EC card the module does not know) come back wrapping
// errPKCS11Unusable so that --path auto can fall back to APDUs; everything
// else (a wrong or cancelled PIN, a removed card) is final.
//
// ecCard says the card has EC keys (applet 1.8, known from GET CARD DATA):
// a module that lists no CKM_ECDSA for it is unusable, and that is checked
// before the module can ask for a PIN.
func openPKCS11(module, reader string, ecCard bool, role card.KeyRole, prompt card.PINPrompt) (*signSession, error) {
	m, disc, err := pkcs.OpenDiscovered(module, pkcs.Options{})
	if err != nil {
		return nil, fmt.Errorf("%w: %v", errPKCS11Unusable, err)
	}
	ctx := context.Background()
	if ecCard {
		ok, err := m.SupportsECDSA(ctx, reader)
		if err == nil && !ok {
			err = errors.New("the module has no ECDSA for this EC card")
		}
		if err != nil {
			m.Close()
			return nil, fmt.Errorf("%w: %s: %v", errPKCS11Unusable, disc.Path, err)
		}
	}
	key, err := m.Key(ctx, reader, role, prompt)
	if err != nil {
		m.Close()
		if errors.Is(err, pkcs.ErrNotSupported) || errors.Is(err, card.ErrNoCard) ||
			errors.Is(err, card.ErrReaderNotFound) || errors.Is(err, card.ErrNoKey) {
			return nil, fmt.Errorf("%w: %s: %v", errPKCS11Unusable, disc.Path, err)
		}
		return nil, err
	}
	return &signSession{key: key, path: "pkcs11", module: disc.Path, close: func() { m.Close() }}, nil
}
