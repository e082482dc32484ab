package verify

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/eid-agent/eid-agent/internal/testkit"

	"github.com/eid-agent/eid-agent/internal/clock"

	"golang.org/x/crypto/ocsp"
)

const origin = "https://login.example.org"

type fixture struct {
	pki   *testPKI
	resp  *responder
	clock *testkit.Clock
	store *MemoryNonceStore
	v     *Validator
}

func newFixture(t testing.TB) *fixture {
	t.Helper()
	resp := newResponder(t)
	p := newPKI(t, resp.srv.URL)
	resp.setCA(p.ca, caKey)
	clock := testkit.NewClock(clock.Now())
	store := &MemoryNonceStore{Now: clock.Now}
	v := &Validator{
		Roots: p.roots, Intermediates: p.inters, Nonces: store,
		OCSP: OCSPConfig{Policy: OCSPRequired, Timeout: 3 * time.Second},
	}
	return &fixture{p, resp, clock, store, v}
}

func (f *fixture) nonce(t testing.TB) string {
	t.Helper()
	n, err := f.store.Issue()
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func mutate(t testing.TB, tok []byte, fn func(m map[string]string)) []byte {
	t.Helper()
	var m map[string]string
	if err := json.Unmarshal(tok, &m); err != nil {
		t.Fatal(err)
	}
	fn(m)
	b, _ := json.Marshal(m)
	return b
}

func flipSig(m map[string]string) {
	s, _ := base64.StdEncoding.DecodeString(m["signature"])
	s[len(s)/2] ^= 1
	m["signature"] = base64.StdEncoding.EncodeToString(s)
}

func TestValidateGood(t *testing.T) {
	f := newFixture(t)
	for _, tc := range []struct {
		name string
		rsa  bool
		pss  bool
		alg  string
	}{
		{"ES384", false, false, "ES384"},
		{"RS256", true, false, "RS256"},
		{"PS256", true, true, "PS256"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cert := f.pki.authEC
			if tc.rsa {
				cert = f.pki.authRSA
			}
			n := f.nonce(t)
			res, err := f.v.Validate(context.Background(), agentToken(t, cert, origin, n, tc.pss), origin, n)
			if err != nil {
				t.Fatal(err)
			}
			if res.Algorithm != tc.alg || res.OCSP == "" {
				t.Errorf("algorithm %s ocsp %q", res.Algorithm, res.OCSP)
			}
			want := Person{SSIN: "71715100070", GivenNames: "Alice Geldigekaart", Surname: "Specimen", CommonName: "Alice Specimen (Authentication)", Country: "BE"}
			if res.Person != want {
				t.Errorf("person %+v, want %+v", res.Person, want)
			}
			for _, c := range []Check{CheckNonce, CheckFormat, CheckAlgorithm, CheckSignature, CheckValidity, CheckKeyUsage, CheckPolicy, CheckChain, CheckOCSP} {
				if !slices.Contains(res.Checks, c) {
					t.Errorf("check %s missing from %v", c, res.Checks)
				}
			}
			if len(res.Chain) != 3 || !res.Chain[2].Equal(f.pki.root) {
				t.Errorf("chain of %d", len(res.Chain))
			}
		})
	}
}

// TestValidateFailures: every failure mode gives its own error.
func TestValidateFailures(t *testing.T) {
	type setup struct {
		f     *fixture
		nonce string
	}
	for _, tc := range []struct {
		name  string
		token func(t *testing.T, s *setup) []byte // signs, may spend or age the nonce
		prep  func(s *setup)                      // validator/responder changes
		want  error
		notIs error // must not match
	}{
		{name: "wrong origin", want: ErrWrongOrigin, token: func(t *testing.T, s *setup) []byte {
			return agentToken(t, s.f.pki.authEC, "https://evil.example", s.nonce, false)
		}},
		{name: "wrong origin RSA", want: ErrWrongOrigin, token: func(t *testing.T, s *setup) []byte {
			return agentToken(t, s.f.pki.authRSA, "https://login.example.org:8443", s.nonce, false)
		}},
		{name: "signed for another nonce", want: ErrSignature, token: func(t *testing.T, s *setup) []byte {
			return agentToken(t, s.f.pki.authEC, origin, s.f.nonce(t), false)
		}},
		{name: "tampered signature", want: ErrSignature, token: func(t *testing.T, s *setup) []byte {
			return mutate(t, agentToken(t, s.f.pki.authEC, origin, s.nonce, false), flipSig)
		}},
		{name: "tampered PS256", want: ErrSignature, token: func(t *testing.T, s *setup) []byte {
			return mutate(t, agentToken(t, s.f.pki.authRSA, origin, s.nonce, true), flipSig)
		}},
		{name: "truncated signature", want: ErrSignature, notIs: ErrWrongOrigin, token: func(t *testing.T, s *setup) []byte {
			return mutate(t, agentToken(t, s.f.pki.authEC, origin, s.nonce, false), func(m map[string]string) {
				m["signature"] = base64.StdEncoding.EncodeToString(make([]byte, 95))
			})
		}},
		{name: "replayed nonce", want: ErrNonceReplayed, token: func(t *testing.T, s *setup) []byte {
			tok := agentToken(t, s.f.pki.authEC, origin, s.nonce, false)
			if _, err := s.f.v.Validate(context.Background(), tok, origin, s.nonce); err != nil {
				t.Fatal(err)
			}
			return tok
		}},
		{name: "expired nonce", want: ErrNonceExpired, token: func(t *testing.T, s *setup) []byte {
			s.f.clock.Add(DefaultNonceLifetime + time.Second)
			return agentToken(t, s.f.pki.authEC, origin, s.nonce, false)
		}},
		{name: "unknown nonce", want: ErrNonceUnknown, token: func(t *testing.T, s *setup) []byte {
			n, _ := NewNonce()
			s.nonce = n
			return agentToken(t, s.f.pki.authEC, origin, n, false)
		}},
		{name: "signing cert", want: ErrNotAuthCert, token: func(t *testing.T, s *setup) []byte {
			return agentToken(t, s.f.pki.sign, origin, s.nonce, false)
		}},
		{name: "no auth policy, required", want: ErrNotAuthCert,
			prep: func(s *setup) { s.f.v.RequireAuthPolicy = true },
			token: func(t *testing.T, s *setup) []byte {
				return agentToken(t, s.f.pki.noPolicy, origin, s.nonce, false)
			}},
		{name: "untrusted root", want: ErrUntrusted, token: func(t *testing.T, s *setup) []byte {
			return agentToken(t, s.f.pki.foreign, origin, s.nonce, false)
		}},
		{name: "no trust store", want: ErrUntrusted, prep: func(s *setup) { s.f.v.Roots = nil },
			token: func(t *testing.T, s *setup) []byte { return agentToken(t, s.f.pki.authEC, origin, s.nonce, false) }},
		{name: "expired certificate", want: ErrCertExpired, token: func(t *testing.T, s *setup) []byte {
			return agentToken(t, s.f.pki.expired, origin, s.nonce, false)
		}},
		{name: "used before valid", want: ErrCertExpired, prep: func(s *setup) {
			s.f.v.Now = func() time.Time { return clock.Now().Add(-72 * time.Hour) }
		}, token: func(t *testing.T, s *setup) []byte { return agentToken(t, s.f.pki.authEC, origin, s.nonce, false) }},
		{name: "revoked", want: ErrRevoked, prep: func(s *setup) { s.f.resp.set(s.f.pki.authEC, ocsp.Revoked) },
			token: func(t *testing.T, s *setup) []byte { return agentToken(t, s.f.pki.authEC, origin, s.nonce, false) }},
		{name: "revoked, best effort", want: ErrRevoked, prep: func(s *setup) {
			s.f.resp.set(s.f.pki.authEC, ocsp.Revoked)
			s.f.v.OCSP.Policy = OCSPBestEffort
		}, token: func(t *testing.T, s *setup) []byte { return agentToken(t, s.f.pki.authEC, origin, s.nonce, false) }},
		{name: "ocsp unknown", want: ErrRevoked, prep: func(s *setup) { s.f.resp.set(s.f.pki.authRSA, ocsp.Unknown) },
			token: func(t *testing.T, s *setup) []byte { return agentToken(t, s.f.pki.authRSA, origin, s.nonce, false) }},
		{name: "ocsp timeout", want: ErrOCSPUnavailable, prep: func(s *setup) {
			s.f.resp.with(func(r *responder) { r.hang = true })
			s.f.v.OCSP.Timeout = 200 * time.Millisecond
		},
			token: func(t *testing.T, s *setup) []byte { return agentToken(t, s.f.pki.authEC, origin, s.nonce, false) }},
		{name: "ocsp HTTP 500", want: ErrOCSPUnavailable, prep: func(s *setup) { s.f.resp.with(func(r *responder) { r.httpCode = 500 }) },
			token: func(t *testing.T, s *setup) []byte { return agentToken(t, s.f.pki.authEC, origin, s.nonce, false) }},
		{name: "ocsp stale", want: ErrOCSPUnavailable, prep: func(s *setup) { s.f.resp.with(func(r *responder) { r.stale = true }) },
			token: func(t *testing.T, s *setup) []byte { return agentToken(t, s.f.pki.authEC, origin, s.nonce, false) }},
		{name: "ocsp signed by a stranger", want: ErrOCSPUnavailable, prep: func(s *setup) { s.f.resp.setCA(s.f.pki.foreignCA, otherRoot) },
			token: func(t *testing.T, s *setup) []byte { return agentToken(t, s.f.pki.authEC, origin, s.nonce, false) }},
		{name: "no responder named", want: ErrOCSPUnavailable, token: func(t *testing.T, s *setup) []byte {
			return agentToken(t, s.f.pki.noOCSP, origin, s.nonce, false)
		}},
		{name: "format 2.0", want: ErrFormat, token: func(t *testing.T, s *setup) []byte {
			return mutate(t, agentToken(t, s.f.pki.authEC, origin, s.nonce, false), func(m map[string]string) { m["format"] = "web-eid:2.0" })
		}},
		{name: "bad certificate", want: ErrFormat, token: func(t *testing.T, s *setup) []byte {
			return mutate(t, agentToken(t, s.f.pki.authEC, origin, s.nonce, false), func(m map[string]string) { m["unverifiedCertificate"] = "MIIB" })
		}},
		{name: "not JSON", want: ErrFormat, token: func(t *testing.T, s *setup) []byte { return []byte("<token/>") }},
		{name: "HS256", want: ErrAlgorithm, token: func(t *testing.T, s *setup) []byte {
			return mutate(t, agentToken(t, s.f.pki.authEC, origin, s.nonce, false), func(m map[string]string) { m["algorithm"] = "HS256" })
		}},
		{name: "none", want: ErrAlgorithm, token: func(t *testing.T, s *setup) []byte {
			return mutate(t, agentToken(t, s.f.pki.authEC, origin, s.nonce, false), func(m map[string]string) { m["algorithm"] = "none" })
		}},
		{name: "RS256 on an EC key", want: ErrAlgorithm, token: func(t *testing.T, s *setup) []byte {
			return mutate(t, agentToken(t, s.f.pki.authEC, origin, s.nonce, false), func(m map[string]string) { m["algorithm"] = "RS256" })
		}},
		{name: "ES256 on an RSA key", want: ErrAlgorithm, token: func(t *testing.T, s *setup) []byte {
			return mutate(t, agentToken(t, s.f.pki.authRSA, origin, s.nonce, false), func(m map[string]string) { m["algorithm"] = "ES256" })
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			s := &setup{f: f, nonce: f.nonce(t)}
			if tc.prep != nil {
				tc.prep(s)
			}
			tok := tc.token(t, s)
			res, err := f.v.Validate(context.Background(), tok, origin, s.nonce)
			if !errors.Is(err, tc.want) {
				t.Fatalf("got %v (result %v), want %v", err, res, tc.want)
			}
			if tc.notIs != nil && errors.Is(err, tc.notIs) {
				t.Errorf("%v also matches %v", err, tc.notIs)
			}
			// Whatever failed, the nonce is spent.
			if err := f.store.Take(s.nonce); err == nil {
				t.Error("nonce still usable after a failed validation")
			}
		})
	}
}

func TestOCSPPolicies(t *testing.T) {
	t.Run("best effort tolerates timeout", func(t *testing.T) {
		f := newFixture(t)
		f.resp.with(func(r *responder) { r.hang = true })
		f.v.OCSP.Policy = OCSPBestEffort
		f.v.OCSP.Timeout = 200 * time.Millisecond
		n := f.nonce(t)
		res, err := f.v.Validate(context.Background(), agentToken(t, f.pki.authEC, origin, n, false), origin, n)
		if err != nil {
			t.Fatal(err)
		}
		if slices.Contains(res.Checks, CheckOCSP) || len(res.OCSP) < 10 || res.OCSP[:10] != "unchecked:" {
			t.Errorf("checks %v ocsp %q", res.Checks, res.OCSP)
		}
	})
	t.Run("best effort does not outlive the caller", func(t *testing.T) {
		f := newFixture(t)
		f.resp.with(func(r *responder) { r.hang = true })
		f.v.OCSP.Policy = OCSPBestEffort
		ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
		defer cancel()
		n := f.nonce(t)
		if _, err := f.v.Validate(ctx, agentToken(t, f.pki.authEC, origin, n, false), origin, n); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("off asks nobody", func(t *testing.T) {
		f := newFixture(t)
		f.v.OCSP.Policy = OCSPOff
		f.resp.set(f.pki.authEC, ocsp.Revoked)
		n := f.nonce(t)
		res, err := f.v.Validate(context.Background(), agentToken(t, f.pki.authEC, origin, n, false), origin, n)
		if err != nil || res.OCSP != "off" || f.resp.hits.Load() != 0 {
			t.Fatalf("err %v ocsp %q hits %d", err, res.OCSP, f.resp.hits.Load())
		}
	})
	t.Run("no policy tolerated by default", func(t *testing.T) {
		f := newFixture(t)
		n := f.nonce(t)
		res, err := f.v.Validate(context.Background(), agentToken(t, f.pki.noPolicy, origin, n, false), origin, n)
		if err != nil {
			t.Fatal(err)
		}
		if slices.Contains(res.Checks, CheckPolicy) {
			t.Errorf("policy check reported passed: %v", res.Checks)
		}
	})
}

// TestOCSPCache: a good answer is reused until nextUpdate; revoked never is.
func TestOCSPCache(t *testing.T) {
	f := newFixture(t)
	run := func(c any) error {
		n := f.nonce(t)
		cert := f.pki.authEC
		if c != nil {
			cert = f.pki.authRSA
		}
		_, err := f.v.Validate(context.Background(), agentToken(t, cert, origin, n, false), origin, n)
		return err
	}
	for i := 0; i < 3; i++ {
		if err := run(nil); err != nil {
			t.Fatal(err)
		}
	}
	if h := f.resp.hits.Load(); h != 1 {
		t.Fatalf("responder hit %d times for three logins, want 1", h)
	}
	// Past nextUpdate (one hour) the cache is not used.
	f.v.Now = func() time.Time { return clock.Now().Add(61 * time.Minute) }
	if err := run(nil); err != nil {
		t.Fatal(err)
	}
	if h := f.resp.hits.Load(); h != 2 {
		t.Fatalf("hits %d after nextUpdate, want 2", h)
	}
	f.v.Now = nil
	// A live answer without nextUpdate is accepted but not cached.
	f.resp.with(func(r *responder) { r.noNext = true })
	f.v.cache = ocspCache{}
	for i := 0; i < 2; i++ {
		if err := run(nil); err != nil {
			t.Fatal(err)
		}
	}
	if h := f.resp.hits.Load(); h != 4 {
		t.Fatalf("hits %d without nextUpdate, want 4", h)
	}
	f.resp.set(f.pki.authRSA, ocsp.Revoked)
	for i := 0; i < 2; i++ {
		if err := run(1); !errors.Is(err, ErrRevoked) {
			t.Fatalf("got %v", err)
		}
	}
	if h := f.resp.hits.Load(); h != 6 {
		t.Fatalf("hits %d, want 6 (revoked is never cached)", h)
	}
}
