package loopbackca

import "crypto/ecdsa"

// WithCAKeyHook lets a test see the CA key Generate drops.
func WithCAKeyHook(o Options, f func(*ecdsa.PrivateKey)) Options {
	o.caKeyHook = f
	return o
}

var CAName = caName
