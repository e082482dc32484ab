package pkcs_test

import (
	"bytes"
	"crypto"
	"testing"
	"time"

	"github.com/miekg/pkcs11"

	"github.com/eid-agent/eid-agent/card"
	"github.com/eid-agent/eid-agent/internal/testkit"
	"github.com/eid-agent/eid-agent/internal/virtual"
	"github.com/eid-agent/eid-agent/pkcs"
)

// bareSigner is the minimal program a Key.Sign is compared with: its own
// miekg/pkcs11 handle on the module the Module already initialised (the
// dynamic loader gives the same library, C_Initialize answers "already
// initialised"), its own session, a key handle found once, then only
// C_SignInit + C_Sign per signature.
type bareSigner struct {
	p    *pkcs11.Ctx
	sh   pkcs11.SessionHandle
	key  pkcs11.ObjectHandle
	mech []*pkcs11.Mechanism
}

func newBareSigner(tb testing.TB, module, reader, pin string, id []byte, mech uint) *bareSigner {
	tb.Helper()
	p := pkcs11.New(module)
	if p == nil {
		tb.Fatal("cannot load " + module)
	}
	if err := p.Initialize(); err != nil {
		if e, ok := err.(pkcs11.Error); !ok || e != pkcs11.CKR_CRYPTOKI_ALREADY_INITIALIZED {
			tb.Fatal(err)
		}
	}
	tb.Cleanup(p.Destroy) // never Finalize: the Module owns the initialisation
	slots, err := p.GetSlotList(true)
	if err != nil {
		tb.Fatal(err)
	}
	b := &bareSigner{p: p, mech: []*pkcs11.Mechanism{pkcs11.NewMechanism(mech, nil)}}
	found := false
	for _, s := range slots {
		si, _ := p.GetSlotInfo(s)
		ti, _ := p.GetTokenInfo(s)
		if si.SlotDescription == reader || ti.Label == reader {
			if b.sh, err = p.OpenSession(s, pkcs11.CKF_SERIAL_SESSION); err != nil {
				tb.Fatal(err)
			}
			found = true
			break
		}
	}
	if !found {
		tb.Fatalf("no slot %q", reader)
	}
	tb.Cleanup(func() { p.CloseSession(b.sh) })
	if err := p.Login(b.sh, pkcs11.CKU_USER, pin); err != nil {
		if e, ok := err.(pkcs11.Error); !ok || e != pkcs11.CKR_USER_ALREADY_LOGGED_IN {
			tb.Fatal(err)
		}
	}
	if err := p.FindObjectsInit(b.sh, []*pkcs11.Attribute{
		pkcs11.NewAttribute(pkcs11.CKA_CLASS, pkcs11.CKO_PRIVATE_KEY),
		pkcs11.NewAttribute(pkcs11.CKA_ID, id),
	}); err != nil {
		tb.Fatal(err)
	}
	hs, _, err := p.FindObjects(b.sh, 1)
	p.FindObjectsFinal(b.sh)
	if err != nil || len(hs) != 1 {
		tb.Fatalf("key %x: %v %v", id, hs, err)
	}
	b.key = hs[0]
	return b
}

func (b *bareSigner) sign(input []byte) error {
	if err := b.p.SignInit(b.sh, b.mech, b.key); err != nil {
		return err
	}
	_, err := b.p.Sign(b.sh, input)
	return err
}

// signTarget is one token and what to sign on it.
type signTarget struct {
	name   string
	module string
	reader string
	pin    string
	m      *pkcs.Module
	key    *pkcs.Key
	hash   crypto.Hash
	mech   uint
}

// input is what C_Sign gets for the target's digest: the DigestInfo for
// RSA (as Key.Sign builds it), the bare digest for ECDSA.
func (s *signTarget) input(digest []byte) []byte {
	if s.mech != pkcs11.CKM_RSA_PKCS {
		return digest
	}
	prefix := map[crypto.Hash][]byte{
		crypto.SHA256: {0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01, 0x05, 0x00, 0x04, 0x20},
	}[s.hash]
	return append(bytes.Clone(prefix), digest...)
}

func softTarget(tb testing.TB, alg string) *signTarget {
	label, _ := newSoftToken(tb, tokenOpts{alg: alg})
	m, err := pkcs.Open(softhsmModule, pkcs.Options{})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { m.Close() })
	k, err := m.Key(tb.Context(), label, card.KeyAuthentication, newPrompter(softPIN).prompt)
	if err != nil {
		tb.Fatal(err)
	}
	s := &signTarget{name: "softhsm-" + alg, module: softhsmModule, reader: label, pin: softPIN, m: m, key: k,
		hash: crypto.SHA256, mech: pkcs11.CKM_RSA_PKCS}
	if alg == "ec" {
		s.hash, s.mech = crypto.SHA384, pkcs11.CKM_ECDSA
	}
	return s
}

// benchSign reports signatures per second of Key.Sign and of the bare
// C_SignInit + C_Sign loop on the same token, and their ratio.
func benchSign(b *testing.B, s *signTarget) {
	digest := testkit.Digest(s.hash, "benchmark")
	if _, err := s.key.Sign(nil, digest, s.hash); err != nil { // logs in
		b.Fatal(err)
	}
	bare := newBareSigner(b, s.module, s.reader, s.pin, []byte{0x02}, s.mech)
	input := s.input(digest)
	var bareRate, keyRate float64
	b.Run("bare-C_Sign", func(b *testing.B) {
		for b.Loop() {
			if err := bare.sign(input); err != nil {
				b.Fatal(err)
			}
		}
		bareRate = float64(b.N) / b.Elapsed().Seconds()
		b.ReportMetric(bareRate, "sig/s")
	})
	b.Run("Key.Sign", func(b *testing.B) {
		for b.Loop() {
			if _, err := s.key.Sign(nil, digest, s.hash); err != nil {
				b.Fatal(err)
			}
		}
		keyRate = float64(b.N) / b.Elapsed().Seconds()
		b.ReportMetric(keyRate, "sig/s")
	})
	if keyRate > 0 {
		b.Logf("%s: bare %.0f sig/s, Key.Sign %.0f sig/s, overhead ×%.3f", s.name, bareRate, keyRate, bareRate/keyRate)
	}
}

// BenchmarkSign: Key.Sign against a bare C_Sign loop on the same SoftHSM
// token (RSA-2048 PKCS#1 v1.5 SHA-256, ECDSA P-384 SHA-384), and through
// OpenSC on the virtual card when the lab runs.
func BenchmarkSign(b *testing.B) {
	for _, alg := range []string{"rsa", "ec"} {
		b.Run("softhsm-"+alg, func(b *testing.B) { benchSign(b, softTarget(b, alg)) })
	}
	b.Run("opensc-virtual", func(b *testing.B) {
		l := newOpenSCLab(b, pkcs.Options{})
		k, err := l.m.Key(b.Context(), l.slot.Reader, card.KeyAuthentication, newPrompter(virtual.DefaultPIN).prompt)
		if err != nil {
			b.Fatal(err)
		}
		benchSign(b, &signTarget{name: "opensc-virtual", module: openscModule, reader: l.slot.Reader,
			pin: virtual.DefaultPIN, m: l.m, key: k, hash: crypto.SHA256, mech: pkcs11.CKM_RSA_PKCS})
	})
}

// TestSignOverhead measures what the package adds to a signature (the slot
// lock, a goroutine per call, the session-state query, the DER encoding)
// against a bare C_SignInit + C_Sign loop on the same SoftHSM token, in
// alternating rounds, and reports the ratio of the best rounds
// (go test -run '^$' -bench SignOverhead -benchtime 1x ./pkcs).
func BenchmarkSignOverhead(b *testing.B) {
	for _, alg := range []string{"rsa", "ec"} {
		b.Run(alg, func(t *testing.B) {
			s := softTarget(t, alg)
			digest := testkit.Digest(s.hash, "overhead")
			if _, err := s.key.Sign(nil, digest, s.hash); err != nil {
				t.Fatal(err)
			}
			bare := newBareSigner(t, s.module, s.reader, s.pin, []byte{0x02}, s.mech)
			input := s.input(digest)
			const rounds, per = 5, 60
			bestBare, bestKey := time.Duration(1<<62), time.Duration(1<<62)
			for range rounds {
				start := time.Now()
				for range per {
					if err := bare.sign(input); err != nil {
						t.Fatal(err)
					}
				}
				bestBare = min(bestBare, time.Since(start)/per)
				start = time.Now()
				for range per {
					if _, err := s.key.Sign(nil, digest, s.hash); err != nil {
						t.Fatal(err)
					}
				}
				bestKey = min(bestKey, time.Since(start)/per)
			}
			ratio := float64(bestKey) / float64(bestBare)
			t.Logf("%s: bare C_Sign %v/sig (%.0f sig/s), Key.Sign %v/sig (%.0f sig/s), Key.Sign/bare = %.3f",
				s.name, bestBare, float64(time.Second)/float64(bestBare), bestKey, float64(time.Second)/float64(bestKey), ratio)
			t.ReportMetric(ratio, "Key.Sign/bare")
		})
	}
}
