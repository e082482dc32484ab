package main

// Helpers for running several eid-verify instances in one test: a test PKI
// whose authentication certificates name a local OCSP responder, the
// instances themselves (run, as main calls it, on real loopback
// listeners), and a "browser" that keeps its session cookie.

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
	"encoding/asn1"
	"encoding/json"
	"encoding/pem"
	"io"
	"math/big"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/crypto/ocsp"

	"github.com/eid-agent/eid-agent/bridge/webeid"
	"github.com/eid-agent/eid-agent/internal/clock"
	"github.com/eid-agent/eid-agent/verify"
)

// clusterOrigin: the instances sit behind one (TLS-terminating) load
// balancer, so they share the origin browsers see.
const clusterOrigin = "https://login.example"

// holder is one authentication certificate and its key.
type holder struct {
	key  crypto.Signer
	cert *x509.Certificate
	ssin string
}

func (h holder) Certificate() *x509.Certificate { return h.cert }
func (h holder) Public() crypto.PublicKey       { return h.key.Public() }
func (h holder) Sign(r io.Reader, d []byte, o crypto.SignerOpts) ([]byte, error) {
	return h.key.Sign(r, d, o)
}

// token is a Web eID token for nonce made as the agent makes it.
func (h holder) token(t testing.TB, nonce string) json.RawMessage {
	t.Helper()
	tok, err := webeid.Create(h, clusterOrigin, nonce, webeid.Options{Version: "1.0.0"})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(tok)
	return b
}

// clusterPKI: root -> CA -> an RSA-2048 (RS256, like applet 1.7 cards) and
// a P-384 (ES384, like 1.8) authentication certificate, both naming resp.
type clusterPKI struct {
	root, ca  *x509.Certificate
	rsa, ec   holder
	rootsFile string // PEM of root and CA, for --trust-root
	resp      *ocspResponder
}

var (
	clusterKeysOnce sync.Once
	clusterCAKey    *ecdsa.PrivateKey
	clusterRSAKey   *rsa.PrivateKey
	clusterECKey    *ecdsa.PrivateKey
)

func newClusterPKI(t testing.TB) *clusterPKI {
	t.Helper()
	clusterKeysOnce.Do(func() {
		var err error
		if clusterCAKey, err = ecdsa.GenerateKey(elliptic.P384(), rand.Reader); err != nil {
			panic(err)
		}
		if clusterECKey, err = ecdsa.GenerateKey(elliptic.P384(), rand.Reader); err != nil {
			panic(err)
		}
		if clusterRSAKey, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
			panic(err)
		}
	})
	p := &clusterPKI{resp: newOCSPResponder(t)}
	now := clock.Now()
	serial := int64(100)
	mk := func(tmpl, parent *x509.Certificate, pub crypto.PublicKey) *x509.Certificate {
		serial++
		tmpl.SerialNumber = big.NewInt(serial)
		der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, pub, clusterCAKey)
		if err != nil {
			t.Fatal(err)
		}
		c, err := x509.ParseCertificate(der)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	ca := func(cn string) *x509.Certificate {
		return &x509.Certificate{
			Subject: pkix.Name{Country: []string{"BE"}, CommonName: cn}, IsCA: true, BasicConstraintsValid: true,
			NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour),
			KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		}
	}
	// One key signs root and CA: the test is about the service, not chains.
	rt := ca("Cluster Test Root")
	p.root = mk(rt, rt, clusterCAKey.Public())
	p.ca = mk(ca("Cluster Test Citizen CA"), p.root, clusterCAKey.Public())
	leaf := func(ssin string, key crypto.Signer) holder {
		tmpl := &x509.Certificate{
			Subject: pkix.Name{Country: []string{"BE"}, CommonName: "Specimen (Authentication)", SerialNumber: ssin,
				ExtraNames: []pkix.AttributeTypeAndValue{
					{Type: asn1.ObjectIdentifier{2, 5, 4, 4}, Value: "Specimen"},
					{Type: asn1.ObjectIdentifier{2, 5, 4, 42}, Value: "Test"},
				}},
			NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour),
			KeyUsage:          x509.KeyUsageDigitalSignature,
			PolicyIdentifiers: []asn1.ObjectIdentifier{verify.PolicyBelgianTestAuth},
			OCSPServer:        []string{p.resp.srv.URL},
		}
		return holder{key: key, cert: mk(tmpl, p.ca, key.Public()), ssin: ssin}
	}
	p.rsa = leaf("71715100070", clusterRSAKey)
	p.ec = leaf("90122400115", clusterECKey)
	p.resp.ca, p.resp.key = p.ca, clusterCAKey

	var pems []byte
	for _, c := range []*x509.Certificate{p.root, p.ca} {
		pems = append(pems, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})...)
	}
	p.rootsFile = filepath.Join(t.TempDir(), "roots.pem")
	if err := os.WriteFile(p.rootsFile, pems, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// ocspResponder answers "good" for an hour, signed by the CA, and counts
// the questions per certificate serial.
type ocspResponder struct {
	srv  *httptest.Server
	ca   *x509.Certificate
	key  crypto.Signer
	mu   sync.Mutex
	hits map[string]int
	all  atomic.Int64
}

func newOCSPResponder(t testing.TB) *ocspResponder {
	r := &ocspResponder{hits: map[string]int{}}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		q, err := ocsp.ParseRequest(body)
		if err != nil {
			w.Write(ocsp.MalformedRequestErrorResponse)
			return
		}
		r.all.Add(1)
		r.mu.Lock()
		r.hits[q.SerialNumber.String()]++
		r.mu.Unlock()
		now := clock.Now()
		der, err := ocsp.CreateResponse(r.ca, r.ca, ocsp.Response{
			Status: ocsp.Good, SerialNumber: q.SerialNumber, IssuerHash: crypto.SHA256,
			ThisUpdate: now.Add(-time.Minute), NextUpdate: now.Add(time.Hour),
		}, r.key)
		if err != nil {
			http.Error(w, err.Error(), 500)
			return
		}
		w.Header().Set("Content-Type", "application/ocsp-response")
		w.Write(der)
	}))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *ocspResponder) hitsFor(h holder) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.hits[h.cert.SerialNumber.String()]
}

// instance is one eid-verify started through run on 127.0.0.1:0.
type instance struct {
	url  string
	pid  int // when it is a process of its own
	stop func()
	logs *syncBuffer // stderr; syncBuffer is in e2e_test.go
	out  *syncBuffer // stdout
}

// startInstance runs eid-verify with OCSP required against p's responder,
// keeping its state in Redis at redisURL ("" for in memory), with extra
// arguments.
func startInstance(t testing.TB, p *clusterPKI, redisURL string, extra ...string) *instance {
	t.Helper()
	args := []string{"--listen", "127.0.0.1:0", "--origin", clusterOrigin, "--ocsp", "required", "--trust-root", p.rootsFile}
	if redisURL != "" {
		args = append(args, "--redis", redisURL)
	}
	args = append(args, extra...)
	ctx, cancel := context.WithCancel(context.Background())
	addrc := make(chan string, 1)
	done := make(chan int, 1)
	in := &instance{logs: &syncBuffer{}, out: &syncBuffer{}}
	go func() { done <- run(ctx, args, in.out, in.logs, func(a string) { addrc <- a }) }()
	select {
	case a := <-addrc:
		in.url = "http://" + a
	case code := <-done:
		cancel()
		t.Fatalf("eid-verify exited %d: %s", code, in.logs.String())
	}
	var once sync.Once
	in.stop = func() {
		once.Do(func() {
			cancel()
			if code := <-done; code != exitOK {
				t.Errorf("eid-verify exit %d: %s", code, in.logs.String())
			}
		})
	}
	t.Cleanup(in.stop)
	return in
}

// browser is one user agent: its session cookie, sent to whichever
// instance the load balancer picks.
type browser struct {
	t      testing.TB
	client *http.Client
	mu     sync.Mutex
	cookie *http.Cookie
}

func newBrowser(t testing.TB) *browser {
	return &browser{t: t, client: &http.Client{Timeout: 30 * time.Second}}
}

// reply is an answer with its error code, if any.
type reply struct {
	status int
	body   map[string]any
	raw    []byte
}

func (r reply) code() string {
	e, _ := r.body["error"].(map[string]any)
	s, _ := e["code"].(string)
	return s
}

func (b *browser) do(method, base, path string, body any) reply {
	b.t.Helper()
	r, err := b.try(method, base, path, body)
	if err != nil {
		b.t.Fatal(err)
	}
	return r
}

// try is do without failing the test (from other goroutines).
func (b *browser) try(method, base, path string, body any) (reply, error) {
	var rd io.Reader
	if body != nil {
		j, err := json.Marshal(body)
		if err != nil {
			return reply{}, err
		}
		rd = bytes.NewReader(j)
	}
	req, err := http.NewRequest(method, base+path, rd)
	if err != nil {
		return reply{}, err
	}
	if method == http.MethodPost {
		req.Header.Set("Origin", clusterOrigin)
		req.Header.Set("Content-Type", "application/json")
	}
	b.mu.Lock()
	if b.cookie != nil {
		req.AddCookie(b.cookie)
	}
	b.mu.Unlock()
	res, err := b.client.Do(req)
	if err != nil {
		return reply{}, err
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(res.Body)
	if err != nil {
		return reply{}, err
	}
	b.mu.Lock()
	for _, c := range res.Cookies() {
		if c.Name == "__Host-eidv_session" {
			if c.MaxAge < 0 {
				b.cookie = nil
			} else {
				b.cookie = c
			}
		}
	}
	b.mu.Unlock()
	r := reply{status: res.StatusCode, raw: raw}
	json.Unmarshal(raw, &r.body)
	return r, nil
}

func (b *browser) nonce(base string) string {
	b.t.Helper()
	r := b.do("POST", base, "/api/nonce", map[string]any{})
	n, _ := r.body["nonce"].(string)
	if r.status != 200 || n == "" {
		b.t.Fatalf("nonce from %s: %d %s", base, r.status, r.raw)
	}
	return n
}

func (b *browser) login(base string, token json.RawMessage) reply {
	b.t.Helper()
	return b.do("POST", base, "/api/login", map[string]any{"token": token})
}

func (b *browser) loggedIn(base string) bool {
	b.t.Helper()
	r := b.do("GET", base, "/api/session", nil)
	if r.status != 200 {
		b.t.Fatalf("session at %s: %d %s", base, r.status, r.raw)
	}
	return r.body["loggedIn"] == true
}
