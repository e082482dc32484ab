package main

import (
	"errors"

	"github.com/eid-agent/eid-agent/card"
)

// errPKCS11Unusable: no PKCS#11 module, or the module cannot handle this
// card; the APDU path can still sign.
var errPKCS11Unusable = errors.New("no usable PKCS#11 module")

func openPKCS11(module, reader string, role card.KeyRole, prompt card.PINPrompt) (*signSession, error) {
	return nil, errPKCS11Unusable
}
