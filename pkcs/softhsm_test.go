package pkcs_test

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/eid-agent/eid-agent/internal/clock"

	"github.com/eid-agent/eid-agent/card"
	"github.com/eid-agent/eid-agent/internal/testkit"
	"github.com/eid-agent/eid-agent/pkcs"
)

// TestSoftSign signs with both keys of an RSA-2048 and a P-384 token, with
// every scheme the package offers, and verifies with the certificate.
func TestSoftSign(t *testing.T) {
	pss := func(h crypto.Hash, salt int) crypto.SignerOpts { return &rsa.PSSOptions{Hash: h, SaltLength: salt} }
	tests := []struct {
		alg  string
		role card.KeyRole
		opts crypto.SignerOpts
		jose string // "" when JOSE has no name for it
	}{
		{"rsa", card.KeyAuthentication, crypto.SHA256, "RS256"},
		{"rsa", card.KeyAuthentication, crypto.SHA384, "RS384"},
		{"rsa", card.KeyAuthentication, crypto.SHA512, "RS512"},
		{"rsa", card.KeyAuthentication, crypto.SHA1, ""},
		{"rsa", card.KeyAuthentication, pss(crypto.SHA256, rsa.PSSSaltLengthEqualsHash), "PS256"},
		{"rsa", card.KeyAuthentication, pss(crypto.SHA384, rsa.PSSSaltLengthAuto), "PS384"},
		{"rsa", card.KeyAuthentication, pss(crypto.SHA512, 20), ""},
		{"rsa", card.KeySigning, crypto.SHA256, "RS256"},
		{"rsa", card.KeySigning, pss(crypto.SHA256, rsa.PSSSaltLengthEqualsHash), "PS256"},
		{"ec", card.KeyAuthentication, crypto.SHA384, "ES384"},
		{"ec", card.KeyAuthentication, crypto.SHA256, ""},
		{"ec", card.KeySigning, crypto.SHA384, "ES384"},
		{"ec", card.KeySigning, crypto.SHA512, ""},
	}
	for _, alg := range []string{"rsa", "ec"} {
		t.Run(alg, func(t *testing.T) {
			label, keys := newSoftToken(t, tokenOpts{alg: alg})
			m := openSoft(t, pkcs.Options{})
			p := newPrompter(softPIN)
			ctx := t.Context()
			for _, tc := range tests {
				if tc.alg != alg {
					continue
				}
				name := string(tc.role) + "/" + tc.opts.HashFunc().String()
				if _, ok := tc.opts.(*rsa.PSSOptions); ok {
					name += "/PSS"
				}
				t.Run(name, func(t *testing.T) {
					k, err := m.Key(ctx, label, tc.role, p.prompt)
					if err != nil {
						t.Fatal(err)
					}
					want := keys.auth.cert
					if tc.role == card.KeySigning {
						want = keys.sign.cert
					}
					if !k.Certificate().Equal(want) {
						t.Fatal("Key found another certificate")
					}
					if k.Module() != softhsmModule || k.Role() != tc.role || k.Reader() != label {
						t.Errorf("Module %q Role %q Reader %q", k.Module(), k.Role(), k.Reader())
					}
					digest := testkit.Digest(tc.opts.HashFunc(), "signed by "+name)
					sig, err := k.Sign(rand.Reader, digest, tc.opts)
					if err != nil {
						t.Fatal(err)
					}
					testkit.VerifySignature(t, k.Public(), digest, sig, tc.opts)
					jose, err := k.Algorithm(tc.opts)
					if jose != tc.jose || (tc.jose == "") != errors.Is(err, card.ErrUnsupportedAlgorithm) {
						t.Errorf("Algorithm = %q, %v; want %q", jose, err, tc.jose)
					}
				})
			}
		})
	}
}

// TestSoftSignRefusals: what is refused before the token is asked.
func TestSoftSignRefusals(t *testing.T) {
	label, _ := newSoftToken(t, tokenOpts{alg: "ec", noSignKey: true})
	m := openSoft(t, pkcs.Options{})
	p := newPrompter(softPIN)
	ctx := t.Context()
	if _, err := m.Key(ctx, label, card.KeySigning, p.prompt); !errors.Is(err, card.ErrNoKey) {
		t.Errorf("Key(signing) on a token without it: %v, want card.ErrNoKey", err)
	}
	k, err := m.Key(ctx, label, card.KeyAuthentication, p.prompt)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name   string
		digest []byte
		opts   crypto.SignerOpts
		want   error
	}{
		{"short digest", make([]byte, 20), crypto.SHA384, card.ErrInvalidDigest},
		{"PSS on EC", make([]byte, 48), &rsa.PSSOptions{Hash: crypto.SHA384}, card.ErrUnsupportedAlgorithm},
		{"empty", nil, crypto.Hash(0), card.ErrInvalidDigest},
	} {
		if _, err := k.Sign(nil, tc.digest, tc.opts); !errors.Is(err, tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, err, tc.want)
		}
	}
	if p.count() != 0 {
		t.Errorf("%d PIN prompts for refused signatures", p.count())
	}
	if _, err := m.Key(ctx, label, card.KeyRole("card"), p.prompt); err == nil {
		t.Error("unknown role accepted")
	}
}

// TestSoftX509 uses Keys as the signer of crypto/x509.CreateCertificate.
func TestSoftX509(t *testing.T) {
	for _, tc := range []struct {
		alg  string
		role card.KeyRole
		sig  x509.SignatureAlgorithm
	}{
		{"rsa", card.KeyAuthentication, x509.SHA256WithRSA},
		{"rsa", card.KeySigning, x509.SHA384WithRSAPSS},
		{"ec", card.KeyAuthentication, x509.ECDSAWithSHA384},
		{"ec", card.KeySigning, x509.ECDSAWithSHA384},
	} {
		t.Run(tc.alg+"/"+string(tc.role)+"/"+tc.sig.String(), func(t *testing.T) {
			label, _ := newSoftToken(t, tokenOpts{alg: tc.alg})
			m := openSoft(t, pkcs.Options{})
			k, err := m.Key(t.Context(), label, tc.role, newPrompter(softPIN).prompt)
			if err != nil {
				t.Fatal(err)
			}
			tmpl := &x509.Certificate{
				SerialNumber:       big.NewInt(42),
				Subject:            pkix.Name{CommonName: "signed on the token"},
				NotBefore:          clock.Now().Add(-time.Minute),
				NotAfter:           clock.Now().Add(time.Hour),
				SignatureAlgorithm: tc.sig,
			}
			// Self-signed by the token key: CreateCertificate checks the
			// signature against parent's key, here the key's own.
			der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, k.Public(), k)
			if err != nil {
				t.Fatal(err)
			}
			c, err := x509.ParseCertificate(der)
			if err != nil {
				t.Fatal(err)
			}
			if err := c.CheckSignature(c.SignatureAlgorithm, c.RawTBSCertificate, c.Signature); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// TestSoftTLS authenticates a TLS client with the card's authentication
// key, the way a browser-like flow uses the eID: the server checks the
// CertificateVerify signature made on the token.
func TestSoftTLS(t *testing.T) {
	serverCert := selfSignedTLS(t)
	for _, tc := range []struct {
		alg     string
		version uint16
	}{
		{"rsa", tls.VersionTLS13}, // RSA-PSS
		{"rsa", tls.VersionTLS12}, // PKCS#1 v1.5 or PSS, as negotiated
		{"ec", tls.VersionTLS13},
		{"ec", tls.VersionTLS12},
	} {
		t.Run(tc.alg+"/"+tls.VersionName(tc.version), func(t *testing.T) {
			label, keys := newSoftToken(t, tokenOpts{alg: tc.alg})
			m := openSoft(t, pkcs.Options{})
			k, err := m.Key(t.Context(), label, card.KeyAuthentication, newPrompter(softPIN).prompt)
			if err != nil {
				t.Fatal(err)
			}
			cConn, sConn := net.Pipe()
			defer cConn.Close()
			defer sConn.Close()
			server := tls.Server(sConn, &tls.Config{
				Certificates: []tls.Certificate{serverCert},
				ClientAuth:   tls.RequireAnyClientCert,
				MinVersion:   tc.version,
				MaxVersion:   tc.version,
			})
			client := tls.Client(cConn, &tls.Config{
				InsecureSkipVerify: true, // the server is not what is tested
				Certificates:       []tls.Certificate{{Certificate: [][]byte{k.Certificate().Raw}, PrivateKey: k}},
				MinVersion:         tc.version,
				MaxVersion:         tc.version,
			})
			errc := make(chan error, 1)
			go func() { errc <- server.HandshakeContext(t.Context()) }()
			if err := client.HandshakeContext(t.Context()); err != nil {
				t.Fatalf("client handshake: %v", err)
			}
			if err := <-errc; err != nil {
				t.Fatalf("server handshake: %v", err)
			}
			peer := server.ConnectionState().PeerCertificates
			if len(peer) != 1 || !peer[0].Equal(keys.auth.cert) {
				t.Fatal("server did not get the card's authentication certificate")
			}
		})
	}
}

func selfSignedTLS(t *testing.T) tls.Certificate {
	t.Helper()
	k := testKeys(t, "ec").auth.priv // any key will do for the server
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(7),
		Subject:      pkix.Name{CommonName: "server"},
		DNSNames:     []string{"server"},
		NotBefore:    clock.Now().Add(-time.Minute),
		NotAfter:     clock.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, k.Public(), k)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: k}
}

// TestSoftWrongPIN: a wrong PIN is a *card.PINError (SoftHSM raises "count
// low" after it, which reads as 2 tries left), the prompt is not shown
// again by itself, and the right PIN works afterwards.
func TestSoftWrongPIN(t *testing.T) {
	label, _ := newSoftToken(t, tokenOpts{alg: "ec"})
	m := openSoft(t, pkcs.Options{})
	ctx := t.Context()
	p := newPrompter("000000", softPIN)
	k, err := m.Key(ctx, label, card.KeyAuthentication, p.prompt)
	if err != nil {
		t.Fatal(err)
	}
	st, err := m.PINStatus(ctx, label)
	if err != nil || st.Retries != -1 || st.Blocked || st.LoggedIn || st.PINPad || st.MinLen != 4 {
		t.Errorf("PINStatus before: %+v, %v", st, err)
	}
	digest := testkit.Digest(crypto.SHA384, "wrong PIN first")
	_, err = k.Sign(nil, digest, crypto.SHA384)
	var pe *card.PINError
	if !errors.As(err, &pe) || pe.Retries != 2 {
		t.Fatalf("wrong PIN: %v, want *card.PINError with 2 tries", err)
	}
	if errors.Is(err, card.ErrPINBlocked) {
		t.Error("wrong PIN reported blocked")
	}
	if p.count() != 1 {
		t.Fatalf("%d prompts for one signature", p.count())
	}
	if req := p.last(); req.Reader != label || req.Key != card.KeyAuthentication || req.Retries != -1 {
		t.Errorf("first request %+v", req)
	}
	if st, err := m.PINStatus(ctx, label); err != nil || st.Retries != 2 {
		t.Errorf("PINStatus after a wrong PIN: %+v, %v", st, err)
	}
	sig, err := k.Sign(nil, digest, crypto.SHA384)
	if err != nil {
		t.Fatal(err)
	}
	testkit.VerifySignature(t, k.Public(), digest, sig, crypto.SHA384)
	if p.count() != 2 || p.last().Retries != 2 {
		t.Errorf("%d prompts, last %+v; want 2, the second told 2 tries", p.count(), p.last())
	}
	if st, err := m.PINStatus(ctx, label); err != nil || !st.LoggedIn || st.Retries != -1 {
		t.Errorf("PINStatus after the right PIN: %+v, %v", st, err)
	}
}

// TestSoftCardPINTries: where the token's flags say nothing, the card's
// own count (Options.CardPINTries, asked with the key's reader) reaches
// the dialog and PINStatus; a card that says 0 stops before any dialog or
// login; a card that cannot tell leaves the count unknown.
func TestSoftCardPINTries(t *testing.T) {
	label, _ := newSoftToken(t, tokenOpts{alg: "ec"})
	ctx := t.Context()
	digest := testkit.Digest(crypto.SHA384, "card count")
	for _, tc := range []struct {
		name    string
		n       int
		err     error
		told    int
		blocked bool
	}{
		{"card tells 3", 3, nil, 3, false},
		{"card tells 1", 1, nil, 1, false},
		{"card cannot tell", -1, card.ErrPINStatusUnavailable, -1, false},
		{"card says blocked", 0, nil, 0, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var asked []string
			m := openSoft(t, pkcs.Options{CardPINTries: func(_ context.Context, reader string) (int, error) {
				asked = append(asked, reader)
				return tc.n, tc.err
			}})
			if st, err := m.PINStatus(ctx, label); err != nil || st.Retries != tc.told || st.Blocked != tc.blocked {
				t.Errorf("PINStatus %+v, %v", st, err)
			}
			p := newPrompter(softPIN)
			k, err := m.Key(ctx, label, card.KeyAuthentication, p.prompt)
			if err != nil {
				t.Fatal(err)
			}
			_, err = k.Sign(nil, digest, crypto.SHA384)
			if tc.blocked {
				if !errors.Is(err, card.ErrPINBlocked) || p.count() != 0 {
					t.Errorf("%v after %d dialogs, want card.ErrPINBlocked before any", err, p.count())
				}
			} else if err != nil || p.count() != 1 || p.last().Retries != tc.told {
				t.Errorf("%v; dialog %+v", err, p.last())
			}
			if len(asked) == 0 || asked[0] != label {
				t.Errorf("card asked for readers %q, want %q", asked, label)
			}
		})
	}
}

// TestSoftPINDialog: the dialog's own failures, and PINs the token cannot
// accept, stop before C_Login: no try is spent.
func TestSoftPINDialog(t *testing.T) {
	label, _ := newSoftToken(t, tokenOpts{alg: "ec"})
	m := openSoft(t, pkcs.Options{})
	ctx := t.Context()
	digest := testkit.Digest(crypto.SHA384, "dialog")
	for _, tc := range []struct {
		name   string
		prompt card.PINPrompt
		want   error
	}{
		{"cancelled", (&prompter{err: card.ErrPINCancelled}).prompt, card.ErrPINCancelled},
		{"timed out", (&prompter{err: card.ErrPINTimeout}).prompt, card.ErrPINTimeout},
		{"no dialog", nil, card.ErrPINCancelled},
		{"too short", newPrompter("12").prompt, card.ErrPINFormat},
		{"empty", newPrompter("").prompt, card.ErrPINFormat},
		{"too long", newPrompter(string(make([]byte, 300))).prompt, card.ErrPINFormat},
	} {
		t.Run(tc.name, func(t *testing.T) {
			k, err := m.Key(ctx, label, card.KeyAuthentication, tc.prompt)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := k.Sign(nil, digest, crypto.SHA384); !errors.Is(err, tc.want) {
				t.Fatalf("%v, want %v", err, tc.want)
			}
			if st, err := m.PINStatus(ctx, label); err != nil || st.Retries != -1 || st.LoggedIn {
				t.Errorf("a try was spent or a login made: %+v, %v", st, err)
			}
		})
	}
}

// TestSoftPINPerSignature: the non-repudiation key (CKA_ALWAYS_AUTHENTICATE)
// asks the PIN for every signature, once each (one PIN serves the user
// login and the context-specific login); the authentication key asks once
// per session. SoftHSM refuses C_Sign on an always-authenticate key
// without the context-specific login, so every success proves it was done.
func TestSoftPINPerSignature(t *testing.T) {
	type step struct {
		role    card.KeyRole
		prompts int // prompts so far
	}
	A, S := card.KeyAuthentication, card.KeySigning
	for _, tc := range []struct {
		name  string
		steps []step
	}{
		{"signing thrice", []step{{S, 1}, {S, 2}, {S, 3}}},
		{"auth thrice", []step{{A, 1}, {A, 1}, {A, 1}}},
		// Logged in for authentication: each signature still asks.
		{"auth then signing", []step{{A, 1}, {S, 2}, {S, 3}, {A, 3}}},
		// A PIN typed for a signature does not unlock authentication.
		{"signing then auth", []step{{S, 1}, {A, 2}, {A, 2}, {S, 3}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			label, _ := newSoftToken(t, tokenOpts{alg: "rsa"})
			m := openSoft(t, pkcs.Options{})
			p := newPrompter(softPIN)
			ctx := t.Context()
			keys := map[card.KeyRole]*pkcs.Key{}
			for _, role := range []card.KeyRole{A, S} {
				k, err := m.Key(ctx, label, role, p.prompt)
				if err != nil {
					t.Fatal(err)
				}
				keys[role] = k
			}
			prev := 0
			for i, st := range tc.steps {
				digest := testkit.Digest(crypto.SHA256, tc.name)
				sig, err := keys[st.role].SignContext(ctx, digest, crypto.SHA256)
				if err != nil {
					t.Fatalf("step %d (%s): %v", i, st.role, err)
				}
				testkit.VerifySignature(t, keys[st.role].Public(), digest, sig, crypto.SHA256)
				if p.count() != st.prompts {
					t.Fatalf("step %d (%s): %d prompts, want %d", i, st.role, p.count(), st.prompts)
				}
				if st.prompts > prev && p.last().Key != st.role {
					t.Errorf("step %d: the prompt named the %s key, want %s", i, p.last().Key, st.role)
				}
				prev = st.prompts
			}
		})
	}
}

// TestSoftPrivateCertificate: a token that shows certificates only after
// login (OpenSC's default for the Belpic card) makes Key log in; the
// authentication key then signs without asking again.
func TestSoftPrivateCertificate(t *testing.T) {
	label, keys := newSoftToken(t, tokenOpts{alg: "ec", privateCerts: true})
	m := openSoft(t, pkcs.Options{})
	p := newPrompter(softPIN)
	k, err := m.Key(t.Context(), label, card.KeyAuthentication, p.prompt)
	if err != nil {
		t.Fatal(err)
	}
	if !k.Certificate().Equal(keys.auth.cert) || p.count() != 1 {
		t.Fatalf("certificate found: %v, prompts %d", k.Certificate().Equal(keys.auth.cert), p.count())
	}
	digest := testkit.Digest(crypto.SHA384, "private certificate")
	sig, err := k.Sign(nil, digest, crypto.SHA384)
	if err != nil {
		t.Fatal(err)
	}
	testkit.VerifySignature(t, k.Public(), digest, sig, crypto.SHA384)
	if p.count() != 1 {
		t.Errorf("%d prompts, want 1", p.count())
	}

	// The signing key's certificate after a logout: Key logs in to find
	// it and logs out again, so the signature asks its own PIN.
	if err := m.Logout(t.Context(), label); err != nil {
		t.Fatal(err)
	}
	ks, err := m.Key(t.Context(), label, card.KeySigning, p.prompt)
	if err != nil {
		t.Fatal(err)
	}
	if !ks.Certificate().Equal(keys.sign.cert) || p.count() != 2 {
		t.Fatalf("signing certificate found: %v, prompts %d", ks.Certificate().Equal(keys.sign.cert), p.count())
	}
	if st, err := m.PINStatus(t.Context(), label); err != nil || st.LoggedIn {
		t.Errorf("still logged in after finding the signing certificate: %+v, %v", st, err)
	}
	if sig, err = ks.Sign(nil, digest, crypto.SHA384); err != nil {
		t.Fatal(err)
	}
	testkit.VerifySignature(t, ks.Public(), digest, sig, crypto.SHA384)
	if p.count() != 3 {
		t.Errorf("%d prompts, want 3", p.count())
	}
}

// TestSoftConcurrent signs from many goroutines through two Modules of the
// same module (one opened through a symlink): one token, one session, one
// operation at a time. Without the slot lock SoftHSM answers
// CKR_OPERATION_ACTIVE to the second C_SignInit on the session.
func TestSoftConcurrent(t *testing.T) {
	label, _ := newSoftToken(t, tokenOpts{alg: "ec"})
	m1 := openSoft(t, pkcs.Options{})
	real, err := filepath.EvalSymlinks(softhsmModule)
	if err != nil {
		t.Fatal(err)
	}
	m2, err := pkcs.Open(real, pkcs.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer m2.Close()
	p := newPrompter(softPIN)
	ctx := t.Context()
	var keys []*pkcs.Key
	for _, m := range []*pkcs.Module{m1, m2} {
		k, err := m.Key(ctx, label, card.KeyAuthentication, p.prompt)
		if err != nil {
			t.Fatal(err)
		}
		keys = append(keys, k)
	}
	const workers, each = 16, 8
	var wg sync.WaitGroup
	errs := make(chan error, workers*each)
	for w := range workers {
		wg.Go(func() {
			k := keys[w%len(keys)]
			for i := range each {
				digest := testkit.Digest(crypto.SHA384, string(rune('a'+w))+string(rune('a'+i)))
				sig, err := k.SignContext(ctx, digest, crypto.SHA384)
				if err == nil {
					testkit.VerifySignature(t, k.Public(), digest, sig, crypto.SHA384)
				}
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if p.count() != 1 {
		t.Errorf("%d prompts for %d signatures on one session; want 1", p.count(), workers*each)
	}
}

// TestSoftRegistry: Modules of one path share one initialised module;
// the last Close finalises it, and a later Open starts afresh.
func TestSoftRegistry(t *testing.T) {
	label, _ := newSoftToken(t, tokenOpts{alg: "ec"})
	ctx := t.Context()
	m1, err := pkcs.Open(softhsmModule, pkcs.Options{})
	if err != nil {
		t.Fatal(err)
	}
	m2, err := pkcs.Open(softhsmModule, pkcs.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if info := m1.Info(); info.Manufacturer != "SoftHSM" || info.Cryptoki == "" {
		t.Errorf("Info %+v", info)
	}
	if d := m1.Discovery(); d.Kind != pkcs.KindConfigured || d.Path != softhsmModule {
		t.Errorf("Discovery %+v", d)
	}
	p := newPrompter(softPIN)
	k1, err := m1.Key(ctx, label, card.KeyAuthentication, p.prompt)
	if err != nil {
		t.Fatal(err)
	}
	k2, err := m2.Key(ctx, label, card.KeyAuthentication, p.prompt)
	if err != nil {
		t.Fatal(err)
	}
	digest := testkit.Digest(crypto.SHA384, "registry")
	if _, err := k1.Sign(nil, digest, crypto.SHA384); err != nil {
		t.Fatal(err)
	}
	if err := m1.Close(); err != nil {
		t.Fatal(err)
	}
	if err := m1.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if _, err := k1.Sign(nil, digest, crypto.SHA384); !errors.Is(err, pkcs.ErrClosed) {
		t.Errorf("Sign through a closed Module: %v", err)
	}
	// The module is still initialised for m2, and still logged in.
	if _, err := k2.Sign(nil, digest, crypto.SHA384); err != nil {
		t.Fatal(err)
	}
	if p.count() != 1 {
		t.Errorf("%d prompts, want 1", p.count())
	}
	if err := m2.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := k2.Sign(nil, digest, crypto.SHA384); !errors.Is(err, pkcs.ErrClosed) {
		t.Errorf("Sign after the last Close: %v", err)
	}
	// Finalised: a new token is visible to a fresh Open, and the login is
	// gone.
	label2, _ := newSoftToken(t, tokenOpts{alg: "ec"})
	m3 := openSoft(t, pkcs.Options{})
	for _, l := range []string{label, label2} {
		k, err := m3.Key(ctx, l, card.KeyAuthentication, p.prompt)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := k.Sign(nil, digest, crypto.SHA384); err != nil {
			t.Fatal(err)
		}
	}
	if p.count() != 3 {
		t.Errorf("%d prompts, want 3 (one per token after re-initialisation)", p.count())
	}
}

// TestSoftSlots: slots are listed with their description and token, and
// SlotForReader takes a description or a token label.
func TestSoftSlots(t *testing.T) {
	label, _ := newSoftToken(t, tokenOpts{alg: "ec"})
	m := openSoft(t, pkcs.Options{})
	ctx := t.Context()
	slots, err := m.Slots(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var mine *pkcs.Slot
	for i, s := range slots {
		if s.TokenPresent && s.Token.Label == label {
			mine = &slots[i]
		}
	}
	if mine == nil {
		t.Fatalf("token %q not listed: %+v", label, slots)
	}
	if mine.Reader == "" || !mine.Token.Initialized || mine.Token.Serial == "" || mine.Token.Model != "SoftHSM v2" {
		t.Errorf("slot %+v", *mine)
	}
	for _, name := range []string{label, mine.Reader, mine.Reader + "   "} {
		s, err := m.SlotForReader(ctx, name)
		if err != nil || s.ID != mine.ID {
			t.Errorf("SlotForReader(%q) = %+v, %v", name, s, err)
		}
	}
	if _, err := m.SlotForReader(ctx, "no such reader"); !errors.Is(err, card.ErrReaderNotFound) {
		t.Errorf("unknown reader: %v", err)
	}
}

// TestDiscoverHere runs discovery on this machine: OpenSC is installed
// (the lab's packages), the Belgian middleware usually is not.
func TestDiscoverHere(t *testing.T) {
	d, err := pkcs.Discover(softhsmModule)
	if err != nil || d.Kind != pkcs.KindConfigured || d.Path != softhsmModule {
		t.Errorf("configured: %+v, %v", d, err)
	}
	missing := filepath.Join(t.TempDir(), "nope.so")
	d, err = pkcs.Discover(missing)
	if !errors.Is(err, pkcs.ErrNoModule) || d.Path != "" || len(d.Tried) != 1 {
		t.Errorf("missing configured module: %+v, %v", d, err)
	}
	d, err = pkcs.Discover("")
	if err != nil {
		t.Skipf("no module installed: %v", err)
	}
	if d.Kind == pkcs.KindConfigured || d.Tried[len(d.Tried)-1] != d.Path {
		t.Errorf("auto: %+v", d)
	}
	t.Logf("%v", d)
	if _, err := os.Stat(d.Path); err != nil {
		t.Error(err)
	}
	// OpenSC scans every reader at C_Initialize; keep it off the lab's
	// readers, where other tests' cards may be.
	conf := filepath.Join(t.TempDir(), "opensc.conf")
	if err := os.WriteFile(conf, []byte("app default {\n\tignored_readers = \"Virtual PCD\";\n}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Setenv("OPENSC_CONF", conf)
	m, d2, err := pkcs.OpenDiscovered("", pkcs.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	if m.Discovery().Path != d.Path || d2.Path != d.Path {
		t.Errorf("OpenDiscovered: %+v", m.Discovery())
	}
	if _, err := m.Slots(context.Background()); err != nil {
		t.Error(err)
	}
}
