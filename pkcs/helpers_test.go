package pkcs_test

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"flag"
	"fmt"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/miekg/pkcs11"

	"github.com/eid-agent/eid-agent/card"
	"github.com/eid-agent/eid-agent/internal/lab"
	"github.com/eid-agent/eid-agent/pkcs"
)

const (
	softhsmModule = "/usr/lib/softhsm/libsofthsm2.so"
	softPIN       = "123456"
	softSOPIN     = "87654321"
)

// TestMain points SoftHSM at a token directory of its own before anything
// loads the module: SoftHSM reads SOFTHSM2_CONF in C_Initialize.
func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "pkcs-softhsm-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	conf := filepath.Join(dir, "softhsm2.conf")
	tokens := filepath.Join(dir, "tokens")
	err = os.Mkdir(tokens, 0o700)
	if err == nil {
		err = os.WriteFile(conf, []byte("directories.tokendir = "+tokens+"\n"+
			"objectstore.backend = file\nlog.level = ERROR\nslots.removable = false\n"+
			"slots.mechanisms = ALL\nlibrary.reset_on_fork = false\n"), 0o600)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	os.Setenv("SOFTHSM2_CONF", conf)
	// The examples sign with a SoftHSM token. An example cannot skip
	// itself, so without SoftHSM it is left out here, as lab.Require
	// skips the tests outside CI (in CI it runs, and fails).
	if !softHSMInstalled() && os.Getenv("CI") == "" {
		flag.Parse()
		skip := "^Example"
		if s := flag.Lookup("test.skip").Value.String(); s != "" {
			skip = s + "|" + skip
		}
		flag.Set("test.skip", skip)
		fmt.Fprintln(os.Stderr, "SoftHSM2 is not installed: skipping the examples (scripts/pcsc-lab install)")
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// keyPair is a private key made in Go and its certificate from the test CA.
type keyPair struct {
	priv crypto.Signer
	cert *x509.Certificate
}

// cardKeys is what a test token holds, like an eID: the authentication
// and non-repudiation keys with their certificates.
type cardKeys struct {
	auth, sign keyPair
}

var (
	keysMu    sync.Mutex
	keysCache = map[string]*cardKeys{}
)

// testKeys makes (once per process: RSA-2048 key generation is slow) the
// keys of alg "rsa" (RSA-2048, as applet 1.7) or "ec" (P-384, as 1.8),
// certified by a throw-away CA.
func testKeys(t testing.TB, alg string) *cardKeys {
	t.Helper()
	k, err := makeTestKeys(alg)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// makeTestKeys is testKeys for callers without a testing.TB (the examples).
func makeTestKeys(alg string) (*cardKeys, error) {
	keysMu.Lock()
	defer keysMu.Unlock()
	if k := keysCache[alg]; k != nil {
		return k, nil
	}
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	now := time.Now()
	caTmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "pkcs test CA", Country: []string{"BE"}},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(24 * time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, caKey.Public(), caKey)
	if err != nil {
		return nil, err
	}
	ca, err := x509.ParseCertificate(caDER)
	if err != nil {
		return nil, err
	}
	gen := func() (crypto.Signer, error) {
		if alg == "rsa" {
			return rsa.GenerateKey(rand.Reader, 2048)
		}
		return ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	}
	issue := func(serial int64, cn string, usage x509.KeyUsage) (keyPair, error) {
		priv, err := gen()
		if err != nil {
			return keyPair{}, err
		}
		tmpl := &x509.Certificate{
			SerialNumber: big.NewInt(serial),
			Subject:      pkix.Name{CommonName: cn, SerialNumber: "71715100070", Country: []string{"BE"}},
			NotBefore:    now.Add(-time.Hour),
			NotAfter:     now.Add(24 * time.Hour),
			KeyUsage:     usage,
			ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, priv.Public(), caKey)
		if err != nil {
			return keyPair{}, err
		}
		c, err := x509.ParseCertificate(der)
		if err != nil {
			return keyPair{}, err
		}
		return keyPair{priv: priv, cert: c}, nil
	}
	k := &cardKeys{}
	if k.auth, err = issue(2, "Specimen (Authentication)", x509.KeyUsageDigitalSignature); err != nil {
		return nil, err
	}
	if k.sign, err = issue(3, "Specimen (Signature)", x509.KeyUsageContentCommitment); err != nil {
		return nil, err
	}
	keysCache[alg] = k
	return k, nil
}

// tokenOpts shapes a SoftHSM token.
type tokenOpts struct {
	alg          string // "rsa" or "ec"
	noSignKey    bool   // a card without the non-repudiation key (Kids-ID)
	privateCerts bool   // certificates readable only after login, as OpenSC shows a Belpic card
}

var tokenSeq atomic.Int32

// newSoftToken creates a SoftHSM token with softhsm2-util and imports the
// keys into it, as a separate tool would, with miekg/pkcs11 directly: the
// authentication key (id 02, label "Authentication") and the
// non-repudiation key (id 03, "Signature", CKA_ALWAYS_AUTHENTICATE), each
// with its certificate. It returns the token label, which SlotForReader
// accepts as a reader name.
//
// SoftHSM sees tokens created by another program only at C_Initialize, so
// the module must not be open in this process: tests open their Module
// after this and close it at the end (the registry then finalises it).
func newSoftToken(t testing.TB, o tokenOpts) (label string, keys *cardKeys) {
	t.Helper()
	if !softHSMInstalled() {
		lab.Require(t, "SoftHSM2 and softhsm2-util are not installed (scripts/pcsc-lab install)")
	}
	label, keys, err := makeSoftToken(o)
	if err != nil {
		t.Fatal(err)
	}
	return label, keys
}

// softHSMInstalled tells whether newSoftToken can make tokens here.
func softHSMInstalled() bool {
	if _, err := os.Stat(softhsmModule); err != nil {
		return false
	}
	_, err := exec.LookPath("softhsm2-util")
	return err == nil
}

// makeSoftToken is newSoftToken for callers without a testing.TB (the
// examples).
func makeSoftToken(o tokenOpts) (label string, keys *cardKeys, err error) {
	if keys, err = makeTestKeys(o.alg); err != nil {
		return "", nil, err
	}
	label = fmt.Sprintf("eid-%s-%d", o.alg, tokenSeq.Add(1))
	out, err := exec.Command("softhsm2-util", "--init-token", "--free", "--label", label,
		"--so-pin", softSOPIN, "--pin", softPIN).CombinedOutput()
	if err != nil {
		return "", nil, fmt.Errorf("softhsm2-util --init-token: %v\n%s", err, out)
	}

	p := pkcs11.New(softhsmModule)
	if p == nil {
		return "", nil, errors.New("cannot load " + softhsmModule)
	}
	defer p.Destroy()
	if err := p.Initialize(); err != nil {
		return "", nil, fmt.Errorf("C_Initialize: %v (a pkcs.Module of SoftHSM is still open: close it before making a token)", err)
	}
	defer p.Finalize()
	slots, err := p.GetSlotList(true)
	if err != nil {
		return "", nil, err
	}
	var slot uint
	found := false
	for _, s := range slots {
		if ti, err := p.GetTokenInfo(s); err == nil && ti.Label == label {
			slot, found = s, true
		}
	}
	if !found {
		return "", nil, fmt.Errorf("token %q not found after softhsm2-util", label)
	}
	sh, err := p.OpenSession(slot, pkcs11.CKF_SERIAL_SESSION|pkcs11.CKF_RW_SESSION)
	if err != nil {
		return "", nil, err
	}
	defer p.CloseSession(sh)
	if err := p.Login(sh, pkcs11.CKU_USER, softPIN); err != nil {
		return "", nil, err
	}
	defer p.Logout(sh)
	if err := importKey(p, sh, keys.auth, []byte{0x02}, "Authentication", false, o.privateCerts); err != nil {
		return "", nil, err
	}
	if !o.noSignKey {
		if err := importKey(p, sh, keys.sign, []byte{0x03}, "Signature", true, o.privateCerts); err != nil {
			return "", nil, err
		}
	}
	return label, keys, nil
}

func importKey(p *pkcs11.Ctx, sh pkcs11.SessionHandle, kp keyPair, id []byte, label string, always, privateCert bool) error {
	attrs := []*pkcs11.Attribute{
		pkcs11.NewAttribute(pkcs11.CKA_CLASS, pkcs11.CKO_PRIVATE_KEY),
		pkcs11.NewAttribute(pkcs11.CKA_TOKEN, true),
		pkcs11.NewAttribute(pkcs11.CKA_PRIVATE, true),
		pkcs11.NewAttribute(pkcs11.CKA_SENSITIVE, true),
		pkcs11.NewAttribute(pkcs11.CKA_SIGN, true),
		pkcs11.NewAttribute(pkcs11.CKA_ID, id),
		pkcs11.NewAttribute(pkcs11.CKA_LABEL, label),
		pkcs11.NewAttribute(pkcs11.CKA_ALWAYS_AUTHENTICATE, always),
	}
	switch k := kp.priv.(type) {
	case *rsa.PrivateKey:
		k.Precompute()
		attrs = append(attrs,
			pkcs11.NewAttribute(pkcs11.CKA_KEY_TYPE, pkcs11.CKK_RSA),
			pkcs11.NewAttribute(pkcs11.CKA_MODULUS, k.N.Bytes()),
			pkcs11.NewAttribute(pkcs11.CKA_PUBLIC_EXPONENT, big.NewInt(int64(k.E)).Bytes()),
			pkcs11.NewAttribute(pkcs11.CKA_PRIVATE_EXPONENT, k.D.Bytes()),
			pkcs11.NewAttribute(pkcs11.CKA_PRIME_1, k.Primes[0].Bytes()),
			pkcs11.NewAttribute(pkcs11.CKA_PRIME_2, k.Primes[1].Bytes()),
			pkcs11.NewAttribute(pkcs11.CKA_EXPONENT_1, k.Precomputed.Dp.Bytes()),
			pkcs11.NewAttribute(pkcs11.CKA_EXPONENT_2, k.Precomputed.Dq.Bytes()),
			pkcs11.NewAttribute(pkcs11.CKA_COEFFICIENT, k.Precomputed.Qinv.Bytes()),
		)
	case *ecdsa.PrivateKey:
		params, err := asn1.Marshal(asn1.ObjectIdentifier{1, 3, 132, 0, 34}) // secp384r1
		if err != nil {
			return err
		}
		scalar, err := k.Bytes()
		if err != nil {
			return err
		}
		attrs = append(attrs,
			pkcs11.NewAttribute(pkcs11.CKA_KEY_TYPE, pkcs11.CKK_EC),
			pkcs11.NewAttribute(pkcs11.CKA_EC_PARAMS, params),
			pkcs11.NewAttribute(pkcs11.CKA_VALUE, scalar),
		)
	default:
		return fmt.Errorf("key type %T", kp.priv)
	}
	if _, err := p.CreateObject(sh, attrs); err != nil {
		return fmt.Errorf("C_CreateObject private key %s: %v", label, err)
	}
	if _, err := p.CreateObject(sh, []*pkcs11.Attribute{
		pkcs11.NewAttribute(pkcs11.CKA_CLASS, pkcs11.CKO_CERTIFICATE),
		pkcs11.NewAttribute(pkcs11.CKA_CERTIFICATE_TYPE, pkcs11.CKC_X_509),
		pkcs11.NewAttribute(pkcs11.CKA_TOKEN, true),
		pkcs11.NewAttribute(pkcs11.CKA_PRIVATE, privateCert),
		pkcs11.NewAttribute(pkcs11.CKA_ID, id),
		pkcs11.NewAttribute(pkcs11.CKA_LABEL, label),
		pkcs11.NewAttribute(pkcs11.CKA_SUBJECT, kp.cert.RawSubject),
		pkcs11.NewAttribute(pkcs11.CKA_ISSUER, kp.cert.RawIssuer),
		pkcs11.NewAttribute(pkcs11.CKA_VALUE, kp.cert.Raw),
	}); err != nil {
		return fmt.Errorf("C_CreateObject certificate %s: %v", label, err)
	}
	return nil
}

// openSoft opens SoftHSM through the package and closes it at the end of
// the test.
func openSoft(t testing.TB, opts pkcs.Options) *pkcs.Module {
	t.Helper()
	m, err := pkcs.Open(softhsmModule, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := m.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return m
}

// prompter is a PIN dialog for tests: it answers the PINs of its script in
// order (the last one again when the script is used up) and records every
// request.
type prompter struct {
	mu    sync.Mutex
	pins  []string
	err   error // answered instead of a PIN when set
	calls []card.PINRequest
}

func newPrompter(pins ...string) *prompter { return &prompter{pins: pins} }

func (p *prompter) prompt(_ context.Context, req card.PINRequest) ([]byte, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.calls = append(p.calls, req)
	if p.err != nil {
		return nil, p.err
	}
	if len(p.pins) == 0 {
		return nil, errors.New("prompter: no PIN scripted")
	}
	pin := p.pins[0]
	if len(p.pins) > 1 {
		p.pins = p.pins[1:]
	}
	return []byte(pin), nil
}

func (p *prompter) count() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.calls)
}

func (p *prompter) last() card.PINRequest {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.calls) == 0 {
		return card.PINRequest{}
	}
	return p.calls[len(p.calls)-1]
}
