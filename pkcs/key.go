package pkcs

import (
	"context"
	"crypto"
	"crypto/x509"
	"fmt"
	"io"
	"maps"
	"strings"

	"github.com/miekg/pkcs11"

	"github.com/eid-agent/eid-agent/card"
)

// Key is one of the card's keys behind a PKCS#11 module. It implements
// crypto.Signer; the private key never leaves the card. A Key is safe for
// concurrent use: signatures on one token are made one at a time.
type Key struct {
	m      *Module
	reader string
	slotID uint
	role   card.KeyRole
	ki     keyIdentity
	prompt card.PINPrompt
	serial string // the token the Key belongs to
	cert   *x509.Certificate
	mechs  map[uint]bool
}

// Key finds the key with role on the card in reader ("" for the only card
// present; see SlotForReader) and reads its certificate, which gives the
// public key. prompt asks for the PIN when the token needs it and has no
// PIN pad; nil makes such signatures fail with card.ErrPINCancelled.
//
// Modules that keep certificates private until login (OpenSC's default)
// make Key ask for the PIN here. A key the card does not have (no
// certificate, e.g. a Kids-ID's signing key) is card.ErrNoKey. The
// non-repudiation key through OpenSC is ErrNotSupported, before any PIN is
// asked.
func (m *Module) Key(ctx context.Context, reader string, role card.KeyRole, prompt card.PINPrompt) (*Key, error) {
	ki, err := identityOf(role)
	if err != nil {
		return nil, err
	}
	s, err := m.SlotForReader(ctx, reader)
	if err != nil {
		return nil, err
	}
	if !s.TokenPresent {
		return nil, fmt.Errorf("%w: %s", card.ErrNoCard, s.Reader)
	}
	if reason := m.refuses(s, role); reason != "" {
		return nil, fmt.Errorf("%w: %s", ErrNotSupported, reason)
	}
	if reader == "" {
		reader = s.Reader
	}
	l, err := m.acquire(ctx, s.ID)
	if err != nil {
		return nil, err
	}
	defer l.release()
	if l.s.open && s.Token.Serial != "" && l.s.serial != s.Token.Serial {
		// The session belongs to a card that has left since: start over
		// rather than fail on its dead handle.
		l.drop(ctx)
	}
	if err := l.ensureSession(ctx, ""); err != nil {
		return nil, err
	}
	k := &Key{m: m, reader: reader, slotID: s.ID, role: role, ki: ki, prompt: prompt, serial: l.s.serial}
	mechs, err := l.mechanisms(ctx)
	if err != nil {
		return nil, err
	}
	k.mechs = maps.Clone(mechs)

	h, found, err := l.findObject(ctx, pkcs11.CKO_CERTIFICATE, ki)
	if err != nil {
		return nil, err
	}
	if !found {
		found, err = l.anyCertificate(ctx)
		if err != nil {
			return nil, err
		}
		if found {
			// Other certificates are visible: this one is really absent,
			// and a PIN would not make it appear.
			return nil, fmt.Errorf("%w: no %q certificate (id %x) on token %q", card.ErrNoKey, ki.label, ki.id, s.Token.Label)
		}
		// No certificate visible at all: they may be flagged private (the
		// Belpic CDF does, and OpenSC honours it by default), shown only
		// after login.
		now, _, err := l.loginUser(ctx, k.asker(), false)
		if err != nil {
			return nil, err
		}
		if now && role == card.KeySigning {
			// The PIN was typed for the non-repudiation key, which asks it
			// again at each signature; do not leave the session logged in
			// for the authentication key. (Deferred: the certificate's
			// handle may die with the login.)
			defer func() { _ = l.logout(ctx) }()
		}
		if h, found, err = l.findObject(ctx, pkcs11.CKO_CERTIFICATE, ki); err != nil {
			return nil, err
		}
	}
	if !found {
		return nil, fmt.Errorf("%w: no %q certificate (id %x) on token %q", card.ErrNoKey, ki.label, ki.id, s.Token.Label)
	}
	der, err := l.attribute(ctx, h, pkcs11.CKA_VALUE)
	if err != nil {
		return nil, err
	}
	if k.cert, err = x509.ParseCertificate(der); err != nil {
		return nil, fmt.Errorf("%q certificate: %w", ki.label, err)
	}
	return k, nil
}

// refuses names a known limit of the module with this card, checked before
// any PIN is asked. OpenSC's belpic driver (every version up to the current
// one) rejects the non-repudiation key in its security-environment step,
// for want of a PIN dialog of its own (testing doc §6.2).
func (m *Module) refuses(s Slot, role card.KeyRole) string {
	if role == card.KeySigning && strings.Contains(m.lib.info.Manufacturer, "OpenSC") &&
		strings.HasPrefix(s.Token.Label, "BELPIC") {
		return "OpenSC's belpic driver refuses the non-repudiation key"
	}
	return ""
}

func (k *Key) asker() pinAsker {
	return pinAsker{reader: k.reader, role: k.role, prompt: k.prompt, tries: k.m.cardTriesFor(k.reader)}
}

// Certificate is the key's certificate as the token holds it.
func (k *Key) Certificate() *x509.Certificate { return k.cert }

// Public is the certificate's public key.
func (k *Key) Public() crypto.PublicKey { return k.cert.PublicKey }

// Role is card.KeyAuthentication or card.KeySigning.
func (k *Key) Role() card.KeyRole { return k.role }

// Reader is the reader the key's card is in (as asked, or the slot's
// description).
func (k *Key) Reader() string { return k.reader }

// Module is the path of the PKCS#11 module signing with this key.
func (k *Key) Module() string { return k.m.Path() }

// Sign signs a digest the caller computed with opts.HashFunc(); see
// SignContext. rand is not used: the token makes its own randomness.
func (k *Key) Sign(_ io.Reader, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
	return k.SignContext(context.Background(), digest, opts)
}

// SignContext signs digest:
//
//   - RSA, PKCS#1 v1.5: CKM_RSA_PKCS over the DigestInfo of SHA-1,
//     SHA-224, SHA-256, SHA-384 or SHA-512 (hash 0: digest is signed as
//     given, as TLS 1.0 does with MD5+SHA-1);
//   - RSA-PSS (opts *rsa.PSSOptions): CKM_RSA_PKCS_PSS with MGF1 of the same
//     hash, when the token lists the mechanism; the salt is as long as the
//     hash for PSSSaltLengthAuto and PSSSaltLengthEqualsHash;
//   - ECDSA: CKM_ECDSA over the digest, returned as ASN.1 DER.
//
// The PIN is asked as the package documentation describes; ctx reaches
// the PIN dialog and bounds the wait for the token. Errors:
// card.ErrPINCancelled, card.ErrPINTimeout, card.ErrPINFormat,
// *card.PINError, card.ErrPINBlocked, card.ErrCardRemoved (ErrCardChanged),
// card.ErrNoKey, card.ErrUnsupportedAlgorithm, card.ErrInvalidDigest,
// ErrTimeout, ErrBusy, ErrClosed, *Error.
func (k *Key) SignContext(ctx context.Context, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
	mech, input, err := k.prepare(digest, opts)
	if err != nil {
		return nil, err
	}
	l, err := k.m.acquire(ctx, k.slotID)
	if err != nil {
		return nil, err
	}
	defer l.release()
	if err := l.ensureSession(ctx, k.serial); err != nil {
		return nil, err
	}
	sig, err := l.sign(ctx, k, mech, input)
	if err != nil {
		return nil, err
	}
	return k.encode(sig)
}

// sign logs in as needed and runs C_SignInit, the context-specific login
// of a key that wants the PIN at every use, and C_Sign.
func (l *lease) sign(ctx context.Context, k *Key, mech *pkcs11.Mechanism, input []byte) ([]byte, error) {
	// Private keys are private objects: log in before looking for one. The
	// PIN is kept in case the key turns out to need a context-specific
	// login, so one signature asks it once.
	now, pin, err := l.loginUser(ctx, k.asker(), true)
	defer func() { card.Wipe(pin) }()
	if err != nil {
		return nil, err
	}
	h, found, err := l.findObject(ctx, pkcs11.CKO_PRIVATE_KEY, k.ki)
	if err != nil {
		return nil, err
	}
	if !found {
		return nil, fmt.Errorf("%w: no %q private key (id %x)", card.ErrNoKey, k.ki.label, k.ki.id)
	}
	always, known := l.s.always[h]
	if !known {
		// Read once per session: some modules (SoftHSM) reread the
		// object from storage on every attribute query.
		if always, err = l.boolAttribute(ctx, h, pkcs11.CKA_ALWAYS_AUTHENTICATE); err != nil {
			return nil, err
		}
		l.s.always[h] = always
	}
	pad := false
	if always {
		if now {
			defer func() { _ = l.logout(ctx) }()
		}
		if pin == nil {
			// Logged in before: this signature still needs its own PIN,
			// asked before C_SignInit so no operation is pending while
			// the holder types.
			ti, err := l.tokenInfo(ctx)
			if err != nil {
				return nil, err
			}
			if ti.Flags&pkcs11.CKF_USER_PIN_LOCKED != 0 {
				return nil, card.ErrPINBlocked
			}
			pad = ti.Flags&pkcs11.CKF_PROTECTED_AUTHENTICATION_PATH != 0
			if !pad {
				if pin, err = k.asker().ask(ctx, ti); err != nil {
					return nil, err
				}
			}
		}
	} else {
		card.Wipe(pin)
		pin = nil
	}

	sess := l.s.session
	if !always {
		// Nothing happens between the two calls: one trip to the
		// module's goroutine for both.
		// out is written by the call's goroutine and read only after it
		// returned; a timed-out call may still write it later.
		var out []byte
		err = l.call(ctx, "C_SignInit+C_Sign", func(p *pkcs11.Ctx) error {
			if err := p.SignInit(sess, []*pkcs11.Mechanism{mech}, h); err != nil {
				return ckrError("C_SignInit", err)
			}
			s, err := p.Sign(sess, input)
			out = s
			return ckrError("C_Sign", err)
		})
		if err != nil {
			return nil, l.fail(ctx, err)
		}
		return out, nil
	}
	err = l.call(ctx, "C_SignInit", func(p *pkcs11.Ctx) error {
		return p.SignInit(sess, []*pkcs11.Mechanism{mech}, h)
	})
	if err != nil {
		return nil, l.fail(ctx, err)
	}
	{
		if err := l.login(ctx, pkcs11.CKU_CONTEXT_SPECIFIC, pin, pad); err != nil {
			err = l.loginError(ctx, k.asker(), err)
			// The signing operation is still pending in the session;
			// closing the session is the one portable way to end it.
			l.drop(ctx)
			return nil, err
		}
		card.Wipe(pin)
	}
	var out []byte
	err = l.call(ctx, "C_Sign", func(p *pkcs11.Ctx) (err error) {
		out, err = p.Sign(sess, input)
		return err
	})
	if err != nil {
		return nil, l.fail(ctx, err)
	}
	return out, nil
}
