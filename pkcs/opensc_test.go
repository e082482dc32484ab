package pkcs_test

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/eid-agent/eid-agent/internal/clock"

	"github.com/ebfe/scard"

	"github.com/eid-agent/eid-agent/bridge"
	"github.com/eid-agent/eid-agent/card"
	"github.com/eid-agent/eid-agent/internal/lab"
	"github.com/eid-agent/eid-agent/internal/testkit"
	"github.com/eid-agent/eid-agent/internal/virtual"
	"github.com/eid-agent/eid-agent/internal/vpcd"
	"github.com/eid-agent/eid-agent/pkcs"
)

const openscModule = "/usr/lib/x86_64-linux-gnu/opensc-pkcs11.so"

// openscLab is a virtual applet-1.7 card in the lab's last reader, seen
// through OpenSC's PKCS#11 module.
type openscLab struct {
	slot    lab.Slot
	profile *virtual.Profile
	card    *virtual.Card
	in      *vpcd.Insertion
	sc      *scard.Context
	m       *pkcs.Module
	slow    atomic.Int64 // nanoseconds the card waits before answering PSO CDS

	mu       sync.Mutex
	verifies []bool // every VERIFY the card got: true with a PIN, false the empty status query
}

// verifyCounts is how many VERIFY commands with a PIN and empty status
// queries the card has received.
func (l *openscLab) verifyCounts() (withPIN, queries int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, v := range l.verifies {
		if v {
			withPIN++
		} else {
			queries++
		}
	}
	return withPIN, queries
}

// newOpenSCLab inserts a fresh citizen-1.7 card (PIN 1234, 3 tries) into
// the last lab slot (the others belong to other tests), writes an
// opensc.conf that ignores every other reader, and opens OpenSC. The
// configuration is read at C_Initialize, which is why each test opens (and
// at its end closes, hence finalises) the module itself.
func newOpenSCLab(t testing.TB, opts pkcs.Options) *openscLab {
	t.Helper()
	return newOpenSCLabWith(t, "citizen-1.7", opts)
}

// newOpenSCLabWith is newOpenSCLab with another virtual card preset. The
// lab records every VERIFY the card receives (verifies).
func newOpenSCLabWith(t testing.TB, preset string, opts pkcs.Options) *openscLab {
	t.Helper()
	slots := lab.Slots(t)
	if _, err := os.Stat(openscModule); err != nil {
		lab.Require(t, "OpenSC's PKCS#11 module is not installed (scripts/pcsc-lab install)")
	}
	l := &openscLab{slot: slots[len(slots)-1]}
	p, err := virtual.Preset(preset)
	if err != nil {
		t.Fatal(err)
	}
	l.profile = p
	l.card = virtual.New(p, virtual.WithTrace(func(cmd, _ []byte) {
		if len(cmd) > 1 && cmd[1] == 0x2A { // PSO
			time.Sleep(time.Duration(l.slow.Load()))
		}
		if len(cmd) >= 4 && cmd[1] == 0x20 { // VERIFY: with a PIN, or the status query (no data)
			l.mu.Lock()
			l.verifies = append(l.verifies, len(cmd) > 5)
			l.mu.Unlock()
		}
	}))
	sc, err := scard.EstablishContext()
	if err != nil {
		lab.Require(t, "no PC/SC service: "+err.Error())
	}
	t.Cleanup(func() { sc.Release() })
	l.sc = sc
	l.insert(t)
	t.Cleanup(func() {
		if l.in != nil {
			l.in.Remove()
		}
	})

	readers, err := sc.ListReaders()
	if err != nil {
		t.Fatal(err)
	}
	var ignored []string
	for _, r := range readers {
		if r != l.slot.Reader {
			ignored = append(ignored, fmt.Sprintf("%q", r))
		}
	}
	conf := "app default {\n"
	if len(ignored) > 0 {
		conf += "\tignored_readers = " + strings.Join(ignored, ", ") + ";\n"
	}
	conf += "}\n"
	path := filepath.Join(t.TempDir(), "opensc.conf")
	if err := os.WriteFile(path, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Setenv("OPENSC_CONF", path)

	m, err := pkcs.Open(openscModule, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := m.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	l.m = m
	return l
}

// insert puts the lab's card into the reader, waiting for pcscd to see the
// reader empty first and the card afterwards.
func (l *openscLab) insert(t testing.TB) {
	t.Helper()
	lab.WaitCard(t, l.sc, l.slot.Reader, false)
	in, err := vpcd.Insert(t.Context(), l.slot.Addr, l.card)
	if err != nil {
		t.Fatal(err)
	}
	l.in = in
	lab.WaitCard(t, l.sc, l.slot.Reader, true)
}

func (l *openscLab) cert(t *testing.T, path string) *x509.Certificate {
	t.Helper()
	c, err := l.profile.Certificate(path)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestOpenSCSign: the authentication key of an emulated Belgian eID,
// through pcscd, vpcd and OpenSC's belpic driver: found by label and id,
// its certificate is the card's, and its signatures verify.
func TestOpenSCSign(t *testing.T) {
	l := newOpenSCLab(t, pkcs.Options{})
	ctx := t.Context()
	s, err := l.m.SlotForReader(ctx, l.slot.Reader)
	if err != nil {
		t.Fatal(err)
	}
	if !s.TokenPresent || s.Reader != l.slot.Reader || s.Token.Label != "BELPIC (Basic PIN)" {
		t.Fatalf("slot %+v", s)
	}
	if info := l.m.Info(); !strings.Contains(info.Manufacturer, "OpenSC") {
		t.Errorf("Info %+v", info)
	}
	st, err := l.m.PINStatus(ctx, l.slot.Reader)
	if err != nil || st.Blocked || st.PINPad || st.LoggedIn {
		t.Errorf("PINStatus %+v, %v", st, err)
	}
	t.Logf("slot %+v; PIN %+v", s, st)

	p := newPrompter(virtual.DefaultPIN)
	k, err := l.m.Key(ctx, l.slot.Reader, card.KeyAuthentication, p.prompt)
	if err != nil {
		t.Fatal(err)
	}
	if !k.Certificate().Equal(l.cert(t, virtual.PathAuthCert)) {
		t.Fatal("not the card's authentication certificate")
	}
	// OpenSC shows the Belpic certificates only after login (they are
	// private in the CDF): Key asked for the PIN.
	if p.count() != 1 || p.last().Reader != l.slot.Reader || p.last().Key != card.KeyAuthentication {
		t.Fatalf("prompts %d, last %+v", p.count(), p.last())
	}
	for _, h := range []crypto.Hash{crypto.SHA256, crypto.SHA384, crypto.SHA512, crypto.SHA1} {
		digest := testkit.Digest(h, "OpenSC "+h.String())
		sig, err := k.SignContext(ctx, digest, h)
		if err != nil {
			t.Fatalf("%v: %v", h, err)
		}
		testkit.VerifySignature(t, k.Public(), digest, sig, h)
	}
	if alg, err := k.Algorithm(crypto.SHA256); alg != "RS256" || err != nil {
		t.Errorf("Algorithm %q, %v", alg, err)
	}
	// OpenSC 0.23's belpic driver registers PKCS#1 v1.5 only.
	pss := &rsa.PSSOptions{Hash: crypto.SHA256, SaltLength: rsa.PSSSaltLengthEqualsHash}
	if _, err := k.Sign(nil, testkit.Digest(crypto.SHA256, "pss"), pss); !errors.Is(err, card.ErrUnsupportedAlgorithm) {
		t.Errorf("PSS: %v, want card.ErrUnsupportedAlgorithm", err)
	}
	if _, err := k.Algorithm(pss); !errors.Is(err, card.ErrUnsupportedAlgorithm) {
		t.Errorf("Algorithm(PSS): %v", err)
	}

	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "signed by the eID"},
		NotBefore: clock.Now().Add(-time.Minute), NotAfter: clock.Now().Add(time.Hour),
		SignatureAlgorithm: x509.SHA256WithRSA,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, k.Public(), k)
	if err != nil {
		t.Fatal(err)
	}
	c, _ := x509.ParseCertificate(der)
	if err := c.CheckSignature(c.SignatureAlgorithm, c.RawTBSCertificate, c.Signature); err != nil {
		t.Fatal(err)
	}
	if p.count() != 1 || l.card.PINTries() != 3 {
		t.Errorf("prompts %d (want 1: the login is reused), tries %d", p.count(), l.card.PINTries())
	}
	if st, err := l.m.PINStatus(ctx, l.slot.Reader); err != nil || !st.LoggedIn {
		t.Errorf("PINStatus after login %+v, %v", st, err)
	}
	if err := l.m.Logout(ctx, l.slot.Reader); err != nil {
		t.Fatal(err)
	}
	if _, err := k.Sign(nil, testkit.Digest(crypto.SHA256, "after logout"), crypto.SHA256); err != nil || p.count() != 2 {
		t.Errorf("after Logout: %v, prompts %d (want 2)", err, p.count())
	}
}

// TestOpenSCWrongPIN: a wrong PIN through OpenSC is a *card.PINError that
// says how many tries are left (2), although OpenSC's flags say nothing
// after a first wrong PIN: the count is read from the card with the
// applet's status query, which spends no try. The bridge's PIN_WRONG
// carries it; the dialog of the next attempt shows it; the agent asked the
// PIN once per attempt and never on its own. The right PIN then works and
// resets the counter.
func TestOpenSCWrongPIN(t *testing.T) {
	l := newOpenSCLab(t, pkcs.Options{})
	ctx := t.Context()
	p := newPrompter("9999", virtual.DefaultPIN)
	_, err := l.m.Key(ctx, l.slot.Reader, card.KeyAuthentication, p.prompt)
	var pe *card.PINError
	if !errors.As(err, &pe) || errors.Is(err, card.ErrPINBlocked) {
		t.Fatalf("wrong PIN: %v", err)
	}
	if l.card.PINTries() != 2 || p.count() != 1 {
		t.Fatalf("tries %d, prompts %d", l.card.PINTries(), p.count())
	}
	if pe.Retries != 2 || err.Error() != "wrong PIN (2 tries left)" {
		t.Errorf("wrong PIN: %v (Retries %d), want 2 tries left", err, pe.Retries)
	}
	if be := bridge.ErrorOf(err); be.Code != bridge.CodePINWrong || be.Retries == nil || *be.Retries != 2 {
		t.Errorf("bridge error %+v", be)
	}
	if st, err := l.m.PINStatus(ctx, l.slot.Reader); err != nil || st.Retries != 2 || st.Blocked {
		t.Errorf("PINStatus after a wrong PIN: %+v, %v", st, err)
	}
	if withPIN, _ := l.verifyCounts(); withPIN != 1 || l.card.PINTries() != 2 {
		t.Fatalf("%d VERIFY with a PIN, card tries %d: reading the count spent a try", withPIN, l.card.PINTries())
	}
	k, err := l.m.Key(ctx, l.slot.Reader, card.KeyAuthentication, p.prompt)
	if err != nil {
		t.Fatal(err)
	}
	if p.count() != 2 || p.last().Retries != 2 {
		t.Errorf("second dialog %+v (prompts %d), want it told 2 tries left", p.last(), p.count())
	}
	digest := testkit.Digest(crypto.SHA256, "after a wrong PIN")
	sig, err := k.Sign(nil, digest, crypto.SHA256)
	if err != nil {
		t.Fatal(err)
	}
	testkit.VerifySignature(t, k.Public(), digest, sig, crypto.SHA256)
	if l.card.PINTries() != 3 || p.count() != 2 {
		t.Errorf("tries %d, prompts %d", l.card.PINTries(), p.count())
	}
	withPIN, queries := l.verifyCounts()
	t.Logf("VERIFY with a PIN %d, status queries %d", withPIN, queries)
	if withPIN != 2 || queries == 0 {
		t.Errorf("VERIFY with a PIN %d (want 2, one per dialog), status queries %d (want some)", withPIN, queries)
	}
}

// TestOpenSCBlockedPIN: three wrong PINs, one per attempt, each reporting
// what is left — 2, 1, then blocked — and each dialog after the first told
// the count; afterwards nobody is asked for a PIN that can no longer work.
func TestOpenSCBlockedPIN(t *testing.T) {
	l := newOpenSCLab(t, pkcs.Options{})
	ctx := t.Context()
	p := newPrompter("9999")
	var errs []error
	var told []int
	for range 3 {
		_, err := l.m.Key(ctx, l.slot.Reader, card.KeyAuthentication, p.prompt)
		errs = append(errs, err)
		told = append(told, p.last().Retries)
	}
	t.Logf("errors: %v; dialogs told %v", errs, told)
	for i, want := range []int{2, 1} {
		var pe *card.PINError
		if !errors.As(errs[i], &pe) || errors.Is(errs[i], card.ErrPINBlocked) || pe.Retries != want {
			t.Errorf("try %d: %v, want a wrong PIN with %d left", i+1, errs[i], want)
		}
	}
	if !errors.Is(errs[2], card.ErrPINBlocked) {
		t.Errorf("third wrong PIN: %v, want card.ErrPINBlocked", errs[2])
	}
	if told[1] != 2 || told[2] != 1 {
		t.Errorf("dialogs told %v, want [3 or unknown, 2, 1]", told)
	}
	if l.card.PINTries() != 0 {
		t.Fatalf("card tries %d, want 0 (blocked)", l.card.PINTries())
	}
	n := p.count()
	_, err := l.m.Key(ctx, l.slot.Reader, card.KeyAuthentication, newPrompter(virtual.DefaultPIN).prompt)
	if !errors.Is(err, card.ErrPINBlocked) {
		t.Errorf("after blocking: %v, want card.ErrPINBlocked", err)
	}
	if st, err := l.m.PINStatus(ctx, l.slot.Reader); err != nil || !st.Blocked || st.Retries != 0 {
		t.Errorf("PINStatus %+v, %v", st, err)
	}
	if p.count() != n {
		t.Errorf("prompted again")
	}
	if withPIN, _ := l.verifyCounts(); withPIN != 3 {
		t.Errorf("%d VERIFY with a PIN, want the 3 typed", withPIN)
	}
}

// TestOpenSCWrongPINApplet11: on an applet 1.1 card the status query
// would itself be a wrong try (ref §7.3), so it is never sent: a wrong PIN
// through OpenSC reports the count unknown and costs exactly one try.
func TestOpenSCWrongPINApplet11(t *testing.T) {
	l := newOpenSCLabWith(t, "citizen-1.1", pkcs.Options{})
	ctx := t.Context()
	p := newPrompter("9999")
	_, err := l.m.Key(ctx, l.slot.Reader, card.KeyAuthentication, p.prompt)
	var pe *card.PINError
	if !errors.As(err, &pe) {
		t.Fatalf("wrong PIN on 1.1: %v", err)
	}
	t.Logf("%v (Retries %d)", err, pe.Retries)
	if pe.Retries != -1 || err.Error() != "wrong PIN" {
		t.Errorf("Retries %d: a 1.1 card cannot tell without spending a try", pe.Retries)
	}
	if withPIN, queries := l.verifyCounts(); withPIN != 1 || queries != 0 || l.card.PINTries() != 2 {
		t.Errorf("VERIFY with a PIN %d, status queries %d, card tries %d: want 1, 0, 2", withPIN, queries, l.card.PINTries())
	}
}

// TestOpenSCSigningKey: OpenSC refuses the non-repudiation key (its belpic
// driver has no PIN dialog of its own, testing doc §6.2). The package says
// so clearly, before asking a PIN.
func TestOpenSCSigningKey(t *testing.T) {
	l := newOpenSCLab(t, pkcs.Options{})
	p := newPrompter(virtual.DefaultPIN)
	_, err := l.m.Key(t.Context(), l.slot.Reader, card.KeySigning, p.prompt)
	if !errors.Is(err, pkcs.ErrNotSupported) {
		t.Fatalf("signing key through OpenSC: %v, want pkcs.ErrNotSupported", err)
	}
	t.Logf("%v", err)
	if p.count() != 0 || l.card.PINTries() != 3 {
		t.Errorf("prompts %d, tries %d", p.count(), l.card.PINTries())
	}
}

// TestOpenSCYank pulls the card out in the middle of a signature (at its
// n-th APDU: SELECT, MSE SET, PSO CDS) or between two signatures: the
// signature fails with card.ErrCardRemoved, and once the card is back the
// same Key signs again (after a new login), as does a new Key.
func TestOpenSCYank(t *testing.T) {
	lab.Slots(t) // skip (or fail in CI) as a whole without the lab
	for _, n := range []int{1, 2, 3, 0} {
		name := fmt.Sprintf("apdu%d", n)
		if n == 0 {
			name = "between signatures"
		}
		t.Run(name, func(t *testing.T) {
			l := newOpenSCLab(t, pkcs.Options{})
			ctx := t.Context()
			p := newPrompter(virtual.DefaultPIN)
			k, err := l.m.Key(ctx, l.slot.Reader, card.KeyAuthentication, p.prompt)
			if err != nil {
				t.Fatal(err)
			}
			digest := testkit.Digest(crypto.SHA256, "yank")
			if _, err := k.Sign(nil, digest, crypto.SHA256); err != nil {
				t.Fatal(err)
			}
			if n > 0 {
				l.in.YankAfter(n)
			} else {
				l.in.Remove()
				lab.WaitCard(t, l.sc, l.slot.Reader, false)
			}
			_, err = k.Sign(nil, digest, crypto.SHA256)
			if !errors.Is(err, card.ErrCardRemoved) {
				t.Fatalf("%s: %v, want card.ErrCardRemoved", name, err)
			}
			t.Logf("%s: %v", name, err)
			<-l.in.Done()
			if n > 0 && !errors.Is(l.in.Err(), vpcd.ErrYanked) {
				t.Fatalf("the card left for another reason: %v", l.in.Err())
			}
			l.insert(t)
			before := p.count()
			sig, err := k.Sign(nil, digest, crypto.SHA256)
			if err != nil {
				t.Fatalf("same Key after re-insertion: %v", err)
			}
			testkit.VerifySignature(t, k.Public(), digest, sig, crypto.SHA256)
			if p.count() != before+1 {
				t.Errorf("prompts %d → %d: a new card session needs a new login", before, p.count())
			}
			k2, err := l.m.Key(ctx, l.slot.Reader, card.KeyAuthentication, p.prompt)
			if err != nil {
				t.Fatal(err)
			}
			if sig, err = k2.Sign(nil, digest, crypto.SHA256); err != nil {
				t.Fatal(err)
			}
			testkit.VerifySignature(t, k2.Public(), digest, sig, crypto.SHA256)
		})
	}
}

// TestOpenSCTimeout: a signature that takes longer than the call timeout
// returns ErrTimeout at once; the call finishes in the background, its
// session is dropped, and the next signature waits for the slot and works
// (with a new login).
func TestOpenSCTimeout(t *testing.T) {
	l := newOpenSCLab(t, pkcs.Options{})
	ctx := t.Context()
	// A second Module of the same module with a short timeout: the
	// module, its slots and sessions are shared.
	short, err := pkcs.Open(openscModule, pkcs.Options{CallTimeout: 300 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer short.Close()
	p := newPrompter(virtual.DefaultPIN)
	ks, err := short.Key(ctx, l.slot.Reader, card.KeyAuthentication, p.prompt)
	if err != nil {
		t.Fatal(err)
	}
	k, err := l.m.Key(ctx, l.slot.Reader, card.KeyAuthentication, p.prompt)
	if err != nil {
		t.Fatal(err)
	}
	digest := testkit.Digest(crypto.SHA256, "slow card")
	l.slow.Store(int64(1500 * time.Millisecond))
	start := time.Now()
	_, err = ks.Sign(nil, digest, crypto.SHA256)
	if !errors.Is(err, pkcs.ErrTimeout) {
		t.Fatalf("slow signature: %v, want pkcs.ErrTimeout", err)
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("ErrTimeout after %v", d)
	}
	l.slow.Store(0)
	before := p.count()
	sig, err := k.Sign(nil, digest, crypto.SHA256)
	if err != nil {
		t.Fatal(err)
	}
	testkit.VerifySignature(t, k.Public(), digest, sig, crypto.SHA256)
	if d := time.Since(start); d < 1500*time.Millisecond {
		t.Errorf("next signature done %v after the slow one started: it did not wait for the slot", d)
	}
	if p.count() != before+1 {
		t.Errorf("prompts %d → %d: the abandoned call's session should have been dropped", before, p.count())
	}
}

// TestOpenSCCardChanged: a Key refuses to sign with another card than its
// own, even in the same reader; a new Key uses the new card.
func TestOpenSCCardChanged(t *testing.T) {
	l := newOpenSCLab(t, pkcs.Options{})
	ctx := t.Context()
	p := newPrompter(virtual.DefaultPIN)
	k, err := l.m.Key(ctx, l.slot.Reader, card.KeyAuthentication, p.prompt)
	if err != nil {
		t.Fatal(err)
	}
	l.in.Remove()
	other, err := virtual.Preset("foreigner-1.7")
	if err != nil {
		t.Fatal(err)
	}
	l.card = virtual.New(other)
	l.insert(t)
	n := p.count()
	digest := testkit.Digest(crypto.SHA256, "which card?")
	// The first signature meets the old card's dead session (removed);
	// the next opens a session, sees another token serial and refuses.
	_, err = k.Sign(nil, digest, crypto.SHA256)
	if !errors.Is(err, card.ErrCardRemoved) {
		t.Fatalf("old Key, new card: %v, want card.ErrCardRemoved", err)
	}
	_, err = k.Sign(nil, digest, crypto.SHA256)
	if !errors.Is(err, pkcs.ErrCardChanged) || !errors.Is(err, card.ErrCardRemoved) {
		t.Fatalf("old Key, new card, again: %v, want pkcs.ErrCardChanged", err)
	}
	if p.count() != n {
		t.Error("asked a PIN for the wrong card")
	}
	k2, err := l.m.Key(ctx, l.slot.Reader, card.KeyAuthentication, p.prompt)
	if err != nil {
		t.Fatal(err)
	}
	want, err := other.Certificate(virtual.PathAuthCert)
	if err != nil {
		t.Fatal(err)
	}
	if !k2.Certificate().Equal(want) {
		t.Fatal("new Key: not the new card's certificate")
	}
	sig, err := k2.Sign(nil, digest, crypto.SHA256)
	if err != nil {
		t.Fatal(err)
	}
	testkit.VerifySignature(t, k2.Public(), digest, sig, crypto.SHA256)

	// Swap back while idle: a new Key does not trip over the session the
	// other card left behind.
	l.in.Remove()
	l.card = virtual.New(l.profile)
	l.insert(t)
	k3, err := l.m.Key(ctx, l.slot.Reader, card.KeyAuthentication, p.prompt)
	if err != nil {
		t.Fatalf("Key after swapping cards back: %v", err)
	}
	if !k3.Certificate().Equal(l.cert(t, virtual.PathAuthCert)) {
		t.Fatal("not the first card's certificate")
	}
	if sig, err = k3.Sign(nil, digest, crypto.SHA256); err != nil {
		t.Fatal(err)
	}
	testkit.VerifySignature(t, k3.Public(), digest, sig, crypto.SHA256)
}
