package card_test

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"math/big"
	"sync"
	"testing"
	"time"

	"github.com/eid-agent/eid-agent/card"
	"github.com/eid-agent/eid-agent/internal/lab"
	"github.com/eid-agent/eid-agent/internal/testkit"
	"github.com/eid-agent/eid-agent/internal/virtual"
)

// signProfiles are the generations whose keys the tests use, and the keys
// each one has.
var signProfiles = []struct {
	name  string
	roles []card.KeyRole
}{
	{"citizen-1.1", []card.KeyRole{card.KeyAuthentication, card.KeySigning}},
	{"citizen-1.7", []card.KeyRole{card.KeyAuthentication, card.KeySigning}},
	{"citizen-1.7-ec", []card.KeyRole{card.KeyAuthentication, card.KeySigning}},
	{"citizen-1.8", []card.KeyRole{card.KeyAuthentication, card.KeySigning}},
	{"kids-1.8", []card.KeyRole{card.KeyAuthentication}},
}

func preset(t testing.TB, name string) *virtual.Profile {
	t.Helper()
	p, err := virtual.Preset(name)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// apduLog records what reached the virtual card (virtual.WithTrace).
type apduLog struct {
	mu   sync.Mutex
	cmds [][]byte
}

func (l *apduLog) trace(cmd, _ []byte) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.cmds = append(l.cmds, cmd)
}

func (l *apduLog) count(match func(cmd []byte) bool) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, c := range l.cmds {
		if match(c) {
			n++
		}
	}
	return n
}

func (l *apduLog) total() int { return l.count(func([]byte) bool { return true }) }

// pinVerifies counts VERIFY commands that carry a PIN block: the ones that
// can cost a try (the empty VERIFY of 1.7/1.8 is a status query).
func (l *apduLog) pinVerifies() int {
	return l.count(func(c []byte) bool { return len(c) > 5 && c[1] == 0x20 })
}

func (l *apduLog) ins(ins byte) int {
	return l.count(func(c []byte) bool { return len(c) >= 4 && c[1] == ins })
}

// newSigner plugs a traced virtual card in-process.
func newSigner(t testing.TB, p *virtual.Profile, opts ...virtual.Option) (*card.Card, *inProcess, *apduLog) {
	t.Helper()
	log := &apduLog{}
	vc := virtual.New(p, append(opts, virtual.WithTrace(log.trace))...)
	tr := &inProcess{vc: vc}
	c := card.New(tr, "in-process", p.ATR)
	c.Delay6C = 0
	return c, tr, log
}

// prompter is a PIN dialog that answers pins in turn (the last one
// repeated), or err, and remembers what it was asked and the buffers it
// handed out (to check that they were wiped).
type prompter struct {
	mu      sync.Mutex
	pins    []string
	err     error
	reqs    []card.PINRequest
	buffers [][]byte
}

func pins(p ...string) *prompter { return &prompter{pins: p} }

func (p *prompter) prompt(_ context.Context, req card.PINRequest) ([]byte, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.reqs = append(p.reqs, req)
	if p.err != nil {
		return nil, p.err
	}
	pin := p.pins[min(len(p.reqs)-1, len(p.pins)-1)]
	b := []byte(pin)
	p.buffers = append(p.buffers, b)
	return b, nil
}

func (p *prompter) calls() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.reqs)
}

func (p *prompter) wiped() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, b := range p.buffers {
		for _, x := range b {
			if x != 0 {
				return false
			}
		}
	}
	return true
}

// signOptions are the signatures each kind of card can make.
func signOptions(p *virtual.Profile) []crypto.SignerOpts {
	hashes := []crypto.SignerOpts{crypto.SHA1, crypto.SHA224, crypto.SHA256, crypto.SHA384, crypto.SHA512}
	if p.Applet == "1.7" {
		hashes = append(hashes,
			&rsa.PSSOptions{Hash: crypto.SHA256, SaltLength: rsa.PSSSaltLengthEqualsHash},
			&rsa.PSSOptions{Hash: crypto.SHA1, SaltLength: rsa.PSSSaltLengthAuto})
	}
	return hashes
}

// TestSignInProcess signs with every key of every generation and several
// hashes, and checks each signature against the card's certificate.
func TestSignInProcess(t *testing.T) {
	for _, sp := range signProfiles {
		p := preset(t, sp.name)
		for _, role := range sp.roles {
			t.Run(sp.name+"/"+string(role), func(t *testing.T) {
				c, _, log := newSigner(t, p)
				pr := pins("1234")
				k, err := c.Key(role, pr.prompt)
				if err != nil {
					t.Fatal(err)
				}
				want := p.AuthKey
				if role == card.KeySigning {
					want = p.SignKey
				}
				if !k.Public().(interface{ Equal(crypto.PublicKey) bool }).Equal(want.Public()) {
					t.Fatal("Public() is not the card's key")
				}
				if k.Role() != role || k.Certificate() == nil {
					t.Fatalf("role %q, certificate %v", k.Role(), k.Certificate() != nil)
				}
				opts := signOptions(p)
				for i, o := range opts {
					d := testkit.Digest(o.HashFunc(), fmt.Sprintf("message %d", i))
					sig, err := k.Sign(rand.Reader, d, o)
					if err != nil {
						t.Fatalf("%v: %v", o.HashFunc(), err)
					}
					testkit.VerifySignature(t, k.Public(), d, sig, o)
				}
				// ref §8.4: the signing key asks for every signature, the
				// authentication key once per card session.
				wantPrompts := 1
				if role == card.KeySigning {
					wantPrompts = len(opts)
				}
				if pr.calls() != wantPrompts || log.pinVerifies() != wantPrompts {
					t.Errorf("%d signatures: %d PIN dialogs, %d VERIFY; want %d", len(opts), pr.calls(), log.pinVerifies(), wantPrompts)
				}
				if !pr.wiped() {
					t.Error("a PIN buffer was not wiped")
				}
				for _, req := range pr.reqs {
					if req.Key != role || req.Reader != "in-process" || req.Change || req.New {
						t.Errorf("PIN request %+v", req)
					}
					if p.Applet != "1.1" && req.Retries != 3 {
						t.Errorf("retries told to the dialog: %d", req.Retries)
					}
					if p.Applet == "1.1" && req.Retries != -1 {
						t.Errorf("1.1 cannot tell the tries, dialog told %d", req.Retries)
					}
				}
			})
		}
	}
}

// TestSignCreateCertificate uses the card key as the signer of
// x509.CreateCertificate (which checks the signature it gets).
func TestSignCreateCertificate(t *testing.T) {
	for _, sp := range signProfiles {
		p := preset(t, sp.name)
		for _, role := range sp.roles {
			algs := []x509.SignatureAlgorithm{x509.UnknownSignatureAlgorithm}
			if p.Applet == "1.7" {
				algs = append(algs, x509.SHA256WithRSAPSS, x509.SHA512WithRSA)
			}
			for _, alg := range algs {
				t.Run(fmt.Sprintf("%s/%s/%v", sp.name, role, alg), func(t *testing.T) {
					c, _, _ := newSigner(t, p)
					k, err := c.Key(role, pins("1234").prompt)
					if err != nil {
						t.Fatal(err)
					}
					subject, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
					if err != nil {
						t.Fatal(err)
					}
					now := time.Now()
					tmpl := &x509.Certificate{
						SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "issued with a card key"},
						NotBefore: now, NotAfter: now.Add(time.Hour), SignatureAlgorithm: alg,
					}
					der, err := x509.CreateCertificate(rand.Reader, tmpl, k.Certificate(), subject.Public(), k)
					if err != nil {
						t.Fatal(err)
					}
					got, err := x509.ParseCertificate(der)
					if err != nil {
						t.Fatal(err)
					}
					if err := k.Certificate().CheckSignature(got.SignatureAlgorithm, got.RawTBSCertificate, got.Signature); err != nil {
						t.Fatalf("%v: %v", got.SignatureAlgorithm, err)
					}
				})
			}
		}
	}
}

func TestSignWrongPIN(t *testing.T) {
	for _, sp := range signProfiles[:4] {
		p := preset(t, sp.name)
		for _, role := range sp.roles {
			t.Run(sp.name+"/"+string(role), func(t *testing.T) {
				c, tr, log := newSigner(t, p)
				pr := pins("9999")
				k, err := c.Key(role, pr.prompt)
				if err != nil {
					t.Fatal(err)
				}
				d := testkit.Digest(crypto.SHA256, "x")
				_, err = k.Sign(rand.Reader, d, crypto.SHA256)
				var pe *card.PINError
				if !errors.As(err, &pe) || pe.Retries != 2 {
					t.Fatalf("err %v, want *PINError{Retries: 2}", err)
				}
				if errors.Is(err, card.ErrPINBlocked) {
					t.Error("2 tries left matches ErrPINBlocked")
				}
				if pr.calls() != 1 || log.pinVerifies() != 1 || tr.vc.PINTries() != 2 {
					t.Errorf("prompt called %d times, %d VERIFY, card tries %d", pr.calls(), log.pinVerifies(), tr.vc.PINTries())
				}
				if !pr.wiped() {
					t.Error("PIN buffer not wiped")
				}
				// The right PIN afterwards works and resets the counter.
				pr.pins = []string{"1234"}
				sig, err := k.Sign(rand.Reader, d, crypto.SHA256)
				if err != nil {
					t.Fatal(err)
				}
				testkit.VerifySignature(t, k.Public(), d, sig, crypto.SHA256)
				if tr.vc.PINTries() != 3 {
					t.Errorf("tries after a good PIN: %d", tr.vc.PINTries())
				}
			})
		}
	}
}

// TestSignBlocked: three wrong PINs block the card; afterwards signing
// fails with ErrPINBlocked and no PIN reaches the card again.
func TestSignBlocked(t *testing.T) {
	for _, sp := range signProfiles[:4] {
		p := preset(t, sp.name)
		t.Run(sp.name, func(t *testing.T) {
			c, tr, log := newSigner(t, p)
			pr := pins("0000")
			k, err := c.Key(card.KeySigning, pr.prompt)
			if err != nil {
				t.Fatal(err)
			}
			d := testkit.Digest(crypto.SHA256, "x")
			for i := 2; i >= 0; i-- {
				_, err := k.Sign(rand.Reader, d, crypto.SHA256)
				var pe *card.PINError
				if !errors.As(err, &pe) || pe.Retries != i {
					t.Fatalf("wrong PIN %d: %v", 3-i, err)
				}
				if (i == 0) != errors.Is(err, card.ErrPINBlocked) {
					t.Fatalf("%d tries left: errors.Is(ErrPINBlocked) = %v", i, errors.Is(err, card.ErrPINBlocked))
				}
			}
			if tr.vc.PINTries() != 0 || log.pinVerifies() != 3 {
				t.Fatalf("card tries %d, %d VERIFY", tr.vc.PINTries(), log.pinVerifies())
			}
			calls := pr.calls()
			for _, role := range []card.KeyRole{card.KeySigning, card.KeyAuthentication} {
				k, err := c.Key(role, pr.prompt)
				if err != nil {
					t.Fatal(err)
				}
				if _, err := k.Sign(rand.Reader, d, crypto.SHA256); !errors.Is(err, card.ErrPINBlocked) {
					t.Errorf("%s after blocking: %v", role, err)
				}
			}
			if pr.calls() != calls || log.pinVerifies() != 3 {
				t.Errorf("blocked card: %d more dialogs, %d more VERIFY", pr.calls()-calls, log.pinVerifies()-3)
			}

			// A new session on the blocked card: 1.7 and 1.8 tell before
			// the dialog; 1.1 can only learn it from the one VERIFY that
			// gets 69 83, and never sends another.
			c2 := card.New(tr, "in-process", p.ATR)
			pr2 := pins("1234")
			k2, err := c2.Key(card.KeySigning, pr2.prompt)
			if err != nil {
				t.Fatal(err)
			}
			for range 2 {
				if _, err := k2.Sign(rand.Reader, d, crypto.SHA256); !errors.Is(err, card.ErrPINBlocked) {
					t.Fatalf("new session: %v", err)
				}
			}
			wantDialogs := 0
			if p.Applet == "1.1" {
				wantDialogs = 1
			}
			if pr2.calls() != wantDialogs || log.pinVerifies() != 3+wantDialogs {
				t.Errorf("new session on a blocked card: %d dialogs, %d VERIFY; want %d", pr2.calls(), log.pinVerifies()-3, wantDialogs)
			}
			if tr.vc.PINTries() != 0 {
				t.Error("tries changed")
			}
		})
	}
}

// TestSignPromptFails: a cancelled or timed-out dialog, or a malformed PIN,
// ends the signature before any PIN reaches the card; no try is lost.
func TestSignPromptFails(t *testing.T) {
	cases := []struct {
		name string
		pr   *prompter
		want error
	}{
		{"cancelled", &prompter{err: card.ErrPINCancelled}, card.ErrPINCancelled},
		{"timeout", &prompter{err: fmt.Errorf("pinentry: %w", card.ErrPINTimeout)}, card.ErrPINTimeout},
		{"short", pins("123"), card.ErrPINFormat},
		{"long", pins("1234567890123"), card.ErrPINFormat},
		{"letters", pins("12a4"), card.ErrPINFormat},
		{"empty", pins(""), card.ErrPINFormat},
	}
	for _, sp := range signProfiles[:4] {
		p := preset(t, sp.name)
		for _, role := range sp.roles {
			for _, tc := range cases {
				t.Run(sp.name+"/"+string(role)+"/"+tc.name, func(t *testing.T) {
					c, tr, log := newSigner(t, p)
					pr := &prompter{pins: tc.pr.pins, err: tc.pr.err}
					k, err := c.Key(role, pr.prompt)
					if err != nil {
						t.Fatal(err)
					}
					before := log.total()
					_, err = k.Sign(rand.Reader, testkit.Digest(crypto.SHA256, "x"), crypto.SHA256)
					if !errors.Is(err, tc.want) {
						t.Fatalf("err %v, want %v", err, tc.want)
					}
					if pr.calls() != 1 || log.pinVerifies() != 0 || tr.vc.PINTries() != 3 {
						t.Errorf("%d dialogs, %d VERIFY, tries %d", pr.calls(), log.pinVerifies(), tr.vc.PINTries())
					}
					// Signing key: nothing but the status query (1.7, 1.8)
					// went out; the authentication key also tried its
					// PIN-less signature (MSE SET + PSO).
					want := 0
					if p.Applet != "1.1" {
						want++
					}
					if role == card.KeyAuthentication {
						want += 2
					}
					if got := log.total() - before; got != want {
						t.Errorf("%d APDUs sent, want %d", got, want)
					}
					if !pr.wiped() {
						t.Error("PIN buffer not wiped")
					}
				})
			}
		}
	}
	// No dialog at all.
	c, _, log := newSigner(t, preset(t, "citizen-1.8"))
	k, err := c.Key(card.KeySigning, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := k.Sign(rand.Reader, testkit.Digest(crypto.SHA384, "x"), crypto.SHA384); !errors.Is(err, card.ErrPINCancelled) || log.pinVerifies() != 0 {
		t.Errorf("nil prompt: %v", err)
	}
}

// TestSignPINRules follows the security state machine of ref §8.4 from the
// host: a signing-key signature consumes its VERIFY, so the authentication
// key still asks afterwards; once given, the authentication PIN lasts the
// session.
func TestSignPINRules(t *testing.T) {
	for _, name := range []string{"citizen-1.7", "citizen-1.8"} {
		t.Run(name, func(t *testing.T) {
			p := preset(t, name)
			c, _, _ := newSigner(t, p)
			pr := pins("1234")
			auth, err := c.Key(card.KeyAuthentication, pr.prompt)
			if err != nil {
				t.Fatal(err)
			}
			sign, err := c.Key(card.KeySigning, pr.prompt)
			if err != nil {
				t.Fatal(err)
			}
			d := testkit.Digest(crypto.SHA256, "x")
			steps := []struct {
				k       *card.Key
				prompts int
			}{
				// The signing key's VERIFY is consumed by its signature
				// and grants nothing (rule 3): the authentication key asks.
				{sign, 1}, {auth, 2}, {auth, 2},
				// The authentication right survives signing-key
				// signatures (rule 2).
				{sign, 3}, {sign, 4}, {auth, 4},
			}
			for i, s := range steps {
				sig, err := s.k.Sign(rand.Reader, d, crypto.SHA256)
				if err != nil {
					t.Fatalf("step %d (%s): %v", i, s.k.Role(), err)
				}
				testkit.VerifySignature(t, s.k.Public(), d, sig, crypto.SHA256)
				if pr.calls() != s.prompts {
					t.Fatalf("step %d (%s): %d dialogs so far, want %d", i, s.k.Role(), pr.calls(), s.prompts)
				}
			}
		})
	}
}

// TestSignAPDUs pins down the exact conversation of ref §8.2–8.4.
func TestSignAPDUs(t *testing.T) {
	p := preset(t, "citizen-1.8")
	c, _, log := newSigner(t, p)
	k, err := c.Key(card.KeySigning, pins("1234").prompt)
	if err != nil {
		t.Fatal(err)
	}
	before := log.total()
	d := testkit.Digest(crypto.SHA384, "x")
	if _, err := k.Sign(rand.Reader, d, crypto.SHA384); err != nil {
		t.Fatal(err)
	}
	log.mu.Lock()
	got := log.cmds[before:]
	log.mu.Unlock()
	want := [][]byte{
		{0x80, 0xE4, 0x00, 0x01, 0x1F},                               // tries for the dialog
		{0x00, 0x22, 0x41, 0xB6, 0x05, 0x04, 0x80, 0x40, 0x84, 0x83}, // MSE SET, alg 40
		{0x00, 0x20, 0x00, 0x01, 0x08, 0x24, 0x12, 0x34, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF},
		append([]byte{0x00, 0x2A, 0x9E, 0x9A, 0x30}, d...),
		{0x00, 0xC0, 0x00, 0x00, 0x60},
	}
	if len(got) != len(want) {
		t.Fatalf("%d APDUs: % X", len(got), got)
	}
	for i := range want {
		if !bytes.Equal(got[i], want[i]) {
			t.Errorf("APDU %d: % X, want % X", i, got[i], want[i])
		}
	}

	// RSA: algorithm 01 with our DigestInfo, for SHA-384 too.
	p = preset(t, "citizen-1.7")
	c, _, log = newSigner(t, p)
	k, err = c.Key(card.KeyAuthentication, pins("1234").prompt)
	if err != nil {
		t.Fatal(err)
	}
	before = log.total()
	if _, err := k.Sign(rand.Reader, d, crypto.SHA384); err != nil {
		t.Fatal(err)
	}
	log.mu.Lock()
	got = log.cmds[before:]
	log.mu.Unlock()
	mse := []byte{0x00, 0x22, 0x41, 0xB6, 0x05, 0x04, 0x80, 0x01, 0x84, 0x82}
	if !bytes.Equal(got[0], mse) || got[1][1] != 0x2A || got[1][4] != 19+48 {
		t.Errorf("first attempt % X / % X", got[0], got[1])
	}
	// 69 82, then the dialog's status query, MSE SET, VERIFY, PSO, GET RESPONSE.
	ins := []byte{0x22, 0x2A, 0x20, 0x22, 0x20, 0x2A, 0xC0}
	if len(got) != len(ins) {
		t.Fatalf("%d APDUs: % X", len(got), got)
	}
	for i, x := range ins {
		if got[i][1] != x {
			t.Errorf("APDU %d: % X, want INS %02X", i, got[i], x)
		}
	}
}

func TestSignRejects(t *testing.T) {
	p17, p18, p11 := preset(t, "citizen-1.7"), preset(t, "citizen-1.8"), preset(t, "citizen-1.1")
	cases := []struct {
		profile *virtual.Profile
		digest  int
		opts    crypto.SignerOpts
		want    error
	}{
		{p17, 20, crypto.SHA256, card.ErrInvalidDigest},
		{p18, 32, crypto.SHA384, card.ErrInvalidDigest},
		{p18, 48, &rsa.PSSOptions{Hash: crypto.SHA384}, card.ErrUnsupportedAlgorithm},
		{p18, 40, nil, card.ErrUnsupportedAlgorithm},
		{p11, 32, &rsa.PSSOptions{Hash: crypto.SHA256}, card.ErrUnsupportedAlgorithm},
		{p17, 48, &rsa.PSSOptions{Hash: crypto.SHA384}, card.ErrUnsupportedAlgorithm},
		{p17, 32, &rsa.PSSOptions{Hash: crypto.SHA256, SaltLength: 20}, card.ErrUnsupportedAlgorithm},
		{p17, 16, crypto.MD5, card.ErrUnsupportedAlgorithm},
		{p17, 0, nil, card.ErrInvalidDigest},
		{p17, 300, nil, card.ErrInvalidDigest},
	}
	for i, tc := range cases {
		c, _, log := newSigner(t, tc.profile)
		pr := pins("1234")
		k, err := c.Key(card.KeySigning, pr.prompt)
		if err != nil {
			t.Fatal(err)
		}
		before := log.total()
		if _, err := k.Sign(rand.Reader, make([]byte, tc.digest), tc.opts); !errors.Is(err, tc.want) {
			t.Errorf("case %d: %v, want %v", i, err, tc.want)
		}
		if log.total() != before || pr.calls() != 0 {
			t.Errorf("case %d: refused after %d APDUs and %d dialogs", i, log.total()-before, pr.calls())
		}
	}
	// A DigestInfo made by the caller (hash 0) is signed as is.
	c, _, _ := newSigner(t, p17)
	k, err := c.Key(card.KeyAuthentication, pins("1234").prompt)
	if err != nil {
		t.Fatal(err)
	}
	d := testkit.Digest(crypto.SHA256, "x")
	di := append([]byte{0x30, 0x31, 0x30, 0x0D, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01, 0x05, 0x00, 0x04, 0x20}, d...)
	sig, err := k.Sign(rand.Reader, di, crypto.Hash(0))
	if err != nil {
		t.Fatal(err)
	}
	testkit.VerifySignature(t, k.Public(), d, sig, crypto.SHA256)
}

func TestSignAlgorithm(t *testing.T) {
	cases := []struct {
		profile string
		opts    crypto.SignerOpts
		want    string // "" = ErrUnsupportedAlgorithm
	}{
		{"citizen-1.8", nil, "ES384"},
		{"citizen-1.8", crypto.SHA384, "ES384"},
		{"citizen-1.8", crypto.SHA256, ""},
		{"citizen-1.8", &rsa.PSSOptions{Hash: crypto.SHA384}, ""},
		{"citizen-1.7", nil, "RS256"},
		{"citizen-1.7", crypto.SHA256, "RS256"},
		{"citizen-1.7", crypto.SHA384, "RS384"},
		{"citizen-1.7", crypto.SHA512, "RS512"},
		{"citizen-1.7", crypto.SHA1, ""},
		{"citizen-1.7", &rsa.PSSOptions{Hash: crypto.SHA256}, "PS256"},
		{"citizen-1.7", &rsa.PSSOptions{Hash: crypto.SHA384}, ""},
		{"citizen-1.7-ec", crypto.SHA256, "RS256"},
		{"citizen-1.1", crypto.SHA512, "RS512"},
		{"citizen-1.1", &rsa.PSSOptions{Hash: crypto.SHA256}, ""},
	}
	for _, tc := range cases {
		c, _, _ := newSigner(t, preset(t, tc.profile))
		k, err := c.Key(card.KeyAuthentication, nil)
		if err != nil {
			t.Fatal(err)
		}
		got, err := k.Algorithm(tc.opts)
		if tc.want == "" {
			if !errors.Is(err, card.ErrUnsupportedAlgorithm) {
				t.Errorf("%s %v: %q %v, want ErrUnsupportedAlgorithm", tc.profile, tc.opts, got, err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("%s %v: %q %v, want %s", tc.profile, tc.opts, got, err, tc.want)
		}
	}
}

func TestSignKidsNoKey(t *testing.T) {
	c, _, _ := newSigner(t, preset(t, "kids-1.8"))
	if _, err := c.Key(card.KeySigning, nil); !errors.Is(err, card.ErrNoKey) {
		t.Errorf("kids signing key: %v", err)
	}
	if _, err := c.Key(card.KeyAuthentication, nil); err != nil {
		t.Errorf("kids authentication key: %v", err)
	}
	if _, err := c.Key("other", nil); !errors.Is(err, card.ErrNoKey) {
		t.Errorf("unknown role: %v", err)
	}
}

// TestSignRemovedInProcess pulls the card at every APDU of a signature.
func TestSignRemovedInProcess(t *testing.T) {
	for _, name := range []string{"citizen-1.1", "citizen-1.7", "citizen-1.8"} {
		p := preset(t, name)
		for _, role := range []card.KeyRole{card.KeyAuthentication, card.KeySigning} {
			// Count the APDUs of a first signature (the longest: the
			// authentication key also needs the PIN then).
			c, tr, _ := newSigner(t, p)
			k, err := c.Key(role, pins("1234").prompt)
			if err != nil {
				t.Fatal(err)
			}
			start := tr.sent
			d := testkit.Digest(crypto.SHA256, "x")
			if _, err := k.Sign(rand.Reader, d, crypto.SHA256); err != nil {
				t.Fatal(err)
			}
			total := tr.sent - start
			for n := 1; n <= total; n++ {
				c, tr, _ := newSigner(t, p)
				k, err := c.Key(role, pins("1234").prompt)
				if err != nil {
					t.Fatal(err)
				}
				tr.removeAfter = tr.sent + n
				sig, err := k.Sign(rand.Reader, d, crypto.SHA256)
				if !errors.Is(err, card.ErrCardRemoved) || sig != nil {
					t.Fatalf("%s %s removed at APDU %d of %d: %v", name, role, n, total, err)
				}
			}
		}
	}
}

// --- through pcscd and vpcd -------------------------------------------

// signSlot is the lab slot these tests use (other tests use the others).
func signSlot(t testing.TB) lab.Slot {
	t.Helper()
	slots := lab.Slots(t)
	if len(slots) < 3 {
		lab.Require(t, "the lab needs at least 3 slots (scripts/pcsc-lab start 2)")
	}
	return slots[2]
}

func TestSignThroughPCSC(t *testing.T) {
	slot := signSlot(t)
	ctx := newContext(t)
	for _, sp := range signProfiles {
		p := preset(t, sp.name)
		t.Run(sp.name, func(t *testing.T) {
			vc := virtual.New(p)
			insert(t, ctx, slot, vc)
			c, err := ctx.Connect(slot.Reader)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			// vpcd does not implement SCardControl: no PIN pad, the
			// dialog is used.
			if has, err := c.HasPINPad(); err != nil || has {
				t.Fatalf("PIN pad through vpcd: %v %v", has, err)
			}
			for _, role := range sp.roles {
				pr := pins("1234")
				k, err := c.Key(role, pr.prompt)
				if err != nil {
					t.Fatal(err)
				}
				opts := signOptions(p)
				for i, o := range opts {
					d := testkit.Digest(o.HashFunc(), fmt.Sprint(i))
					sig, err := k.Sign(rand.Reader, d, o)
					if err != nil {
						t.Fatalf("%s %v: %v", role, o.HashFunc(), err)
					}
					testkit.VerifySignature(t, k.Public(), d, sig, o)
				}
				want := 1
				if role == card.KeySigning {
					want = len(opts)
				}
				if pr.calls() != want {
					t.Errorf("%s: %d dialogs for %d signatures, want %d", role, pr.calls(), len(opts), want)
				}
			}
			if sp.name == "kids-1.8" {
				if _, err := c.Key(card.KeySigning, nil); !errors.Is(err, card.ErrNoKey) {
					t.Errorf("kids signing key: %v", err)
				}
			}

			// PIN status, a wrong PIN, a PIN change, and the new PIN.
			tries, err := c.PINStatus()
			if p.Applet == "1.1" {
				if !errors.Is(err, card.ErrPINStatusUnavailable) || vc.PINTries() != 3 {
					t.Errorf("1.1 PIN status: %d %v (card tries %d)", tries, err, vc.PINTries())
				}
			} else if err != nil || tries != 3 {
				t.Errorf("PIN status %d %v", tries, err)
			}
			if err := c.ChangePIN(pins("9999", "5678").prompt); !isPINError(err, 2) {
				t.Errorf("change with a wrong PIN: %v", err)
			}
			if err := c.ChangePIN(pins("1234", "5678").prompt); err != nil {
				t.Fatalf("change: %v", err)
			}
			sk := sp.roles[len(sp.roles)-1]
			k, err := c.Key(sk, pins("5678").prompt)
			if err != nil {
				t.Fatal(err)
			}
			d := testkit.Digest(crypto.SHA256, "after change")
			sig, err := k.Sign(rand.Reader, d, crypto.SHA256)
			if err != nil {
				t.Fatalf("sign with the new PIN: %v", err)
			}
			testkit.VerifySignature(t, k.Public(), d, sig, crypto.SHA256)
		})
	}
}

func isPINError(err error, retries int) bool {
	var pe *card.PINError
	return errors.As(err, &pe) && pe.Retries == retries
}

// TestSignYankThroughPCSC pulls the card out at every APDU of a signature
// with the signing key, through pcscd.
func TestSignYankThroughPCSC(t *testing.T) {
	slot := signSlot(t)
	ctx := newContext(t)
	for _, name := range []string{"citizen-1.7", "citizen-1.8"} {
		p := preset(t, name)
		in := insert(t, ctx, slot, virtual.New(p))
		c, err := ctx.Connect(slot.Reader)
		if err != nil {
			t.Fatal(err)
		}
		k, err := c.Key(card.KeySigning, pins("1234").prompt)
		if err != nil {
			t.Fatal(err)
		}
		d := testkit.Digest(crypto.SHA256, "x")
		before := in.APDUs()
		if _, err := k.Sign(rand.Reader, d, crypto.SHA256); err != nil {
			t.Fatal(err)
		}
		total := in.APDUs() - before
		c.Close()
		in.Remove()
		waitKind(t, ctx, slot.Reader, card.KindNone)

		for n := 1; n <= total; n++ {
			t.Run(fmt.Sprintf("%s/%d", name, n), func(t *testing.T) {
				vc := virtual.New(p)
				in := insert(t, ctx, slot, vc)
				c, err := ctx.Connect(slot.Reader)
				if err != nil {
					t.Fatal(err)
				}
				defer c.Close()
				k, err := c.Key(card.KeySigning, pins("1234").prompt)
				if err != nil {
					t.Fatal(err)
				}
				in.YankAfter(n)
				sig, err := k.Sign(rand.Reader, d, crypto.SHA256)
				if !errors.Is(err, card.ErrCardRemoved) || sig != nil {
					t.Fatalf("yanked at APDU %d of %d: %v", n, total, err)
				}
				in.Remove()
				waitKind(t, ctx, slot.Reader, card.KindNone)
			})
		}
	}
}

// BenchmarkSign measures signatures per second through the APDU path:
// in-process (the host code and the emulator only) and through pcscd and
// vpcd (the real PC/SC stack, without the wire time of a real card).
func BenchmarkSign(b *testing.B) {
	type target struct {
		name string
		open func(b *testing.B, p *virtual.Profile) (*card.Card, func())
	}
	targets := []target{
		{"in-process", func(b *testing.B, p *virtual.Profile) (*card.Card, func()) {
			c, _, _ := newSigner(b, p)
			return c, func() {}
		}},
		{"pcscd", func(b *testing.B, p *virtual.Profile) (*card.Card, func()) {
			slot := signSlot(b)
			ctx := newContext(b)
			in := insert(b, ctx, slot, virtual.New(p))
			c, err := ctx.Connect(slot.Reader)
			if err != nil {
				b.Fatal(err)
			}
			return c, func() {
				c.Close()
				in.Remove()
				waitKind(b, ctx, slot.Reader, card.KindNone)
			}
		}},
	}
	for _, tg := range targets {
		for _, name := range []string{"citizen-1.7", "citizen-1.8"} {
			p := preset(b, name)
			for _, role := range []card.KeyRole{card.KeyAuthentication, card.KeySigning} {
				b.Run(fmt.Sprintf("%s/%s/%s", tg.name, name, role), func(b *testing.B) {
					c, done := tg.open(b, p)
					defer done()
					k, err := c.Key(role, pins("1234").prompt)
					if err != nil {
						b.Fatal(err)
					}
					h := crypto.SHA256
					if p.Applet == "1.8" {
						h = crypto.SHA384
					}
					d := testkit.Digest(h, "bench")
					start := c.Stats()
					t0 := time.Now()
					for b.Loop() {
						if _, err := k.Sign(rand.Reader, d, h); err != nil {
							b.Fatal(err)
						}
					}
					b.ReportMetric(float64(b.N)/time.Since(t0).Seconds(), "sig/s")
					b.ReportMetric(float64(c.Stats().APDUs-start.APDUs)/float64(b.N), "APDUs/op")
				})
			}
		}
	}
}
