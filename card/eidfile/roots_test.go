package eidfile

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"math/big"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/eid-agent/eid-agent/internal/lab"
)

// embeddedPins is every file of roots/ with the SHA-256 of its DER, as
// ../shared/trust/belgium/README.md lists them (each cross-checked across
// independent public repositories there). A changed byte, a file added
// or a file removed fails TestEmbeddedRootsPinned.
var embeddedPins = map[string]string{
	"belgium-root-ca1.pem":            "7C7ED4240BB253BB35C376E12E00B027F1659DF9D8267422A93EED75EDC7ADFB",
	"belgium-root-ca2.pem":            "9F9744463BE13714754E1A3BECF98C08CC205E4AB32028F4E2830C4A1B2775B8",
	"belgium-root-ca2-v2-exp2028.pem": "C34CD7245B341E7C8A24010CCF17E543F0665BE53C912FD13DCF5FC6781B4CF6",
	"belgium-root-ca3.pem":            "A8D14E945E3E5156BCAE5E39737CF6A1B1F51028BBBF982F50CE5F4C05568B4D",
	"belgium-root-ca4-exp2028.pem":    "C3FBF37259AF0954EEEA4282DD1C7226A54E7150F7C29A2C495BA34DBFE09CA0",
	"belgium-root-ca4-exp2032.pem":    "702DD5C1A093CF0A9D71FADD9BF9A7C5857D89FB73B716E867228B3C2BEB968F",
	"belgium-root-ca6.pem":            "9C872BC979A7C09A58D4A274C199E5CB16CFA9B9618D98BC9A9988E984B8495C",
}

// TestEmbeddedRootsPinned: roots/ holds exactly the pinned files, each one
// certificate whose DER has the pinned SHA-256, and DefaultTrustStore
// trusts exactly those roots, as its one "embedded" source.
func TestEmbeddedRootsPinned(t *testing.T) {
	entries, err := embeddedRoots.ReadDir("roots")
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, e := range entries {
		if !strings.HasSuffix(e.Name(), ".pem") {
			if e.Name() != "README.md" {
				t.Errorf("unexpected file roots/%s", e.Name())
			}
			continue
		}
		want, ok := embeddedPins[e.Name()]
		if !ok {
			t.Errorf("roots/%s is not pinned: every embedded root needs its fingerprint in embeddedPins", e.Name())
			continue
		}
		seen[e.Name()] = true
		b, err := embeddedRoots.ReadFile(path.Join("roots", e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		var ders [][]byte
		for {
			var blk *pem.Block
			if blk, b = pem.Decode(b); blk == nil {
				break
			}
			ders = append(ders, blk.Bytes)
		}
		if len(ders) != 1 {
			t.Errorf("roots/%s: %d PEM blocks, want 1", e.Name(), len(ders))
			continue
		}
		sum := sha256.Sum256(ders[0])
		if got := strings.ToUpper(hex.EncodeToString(sum[:])); got != want {
			t.Errorf("roots/%s: SHA-256 %s, pinned %s", e.Name(), got, want)
		}
		c, err := x509.ParseCertificate(ders[0])
		if err != nil {
			t.Errorf("roots/%s: %v", e.Name(), err)
			continue
		}
		if !c.IsCA || !strings.HasPrefix(c.Subject.CommonName, "Belgium Root CA") || !bytes.Equal(c.RawSubject, c.RawIssuer) {
			t.Errorf("roots/%s: not a self-issued Belgium Root CA: %s", e.Name(), c.Subject)
		}
	}
	for name := range embeddedPins {
		if !seen[name] {
			t.Errorf("pinned root %s missing from roots/", name)
		}
	}

	var got []string
	for _, c := range DefaultTrustStore().Roots() {
		got = append(got, Fingerprint(c))
	}
	var want []string
	for _, fp := range embeddedPins {
		want = append(want, fp)
	}
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("DefaultTrustStore fingerprints\n%v\nwant\n%v", got, want)
	}
	src := DefaultTrustStore().Sources()
	if len(src) != 1 || src[0].Name != EmbeddedSource || len(src[0].Roots) != len(embeddedPins) {
		t.Errorf("sources %+v", src)
	}
}

func readCert(t testing.TB, name string) *x509.Certificate {
	t.Helper()
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	blk, _ := pem.Decode(b)
	if blk == nil {
		t.Fatalf("%s: no PEM block", name)
	}
	c, err := x509.ParseCertificate(blk.Bytes)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return c
}

// TestSharedRootsAreTheEmbedded: the roots the shared folder lists are
// byte for byte the embedded ones (the copy here is the vetted one).
func TestSharedRootsAreTheEmbedded(t *testing.T) {
	dir := lab.SharedTrust(t)
	for name, fp := range embeddedPins {
		if got := Fingerprint(readCert(t, filepath.Join(dir, name))); got != fp {
			t.Errorf("%s in %s: %s, embedded %s", name, dir, got, fp)
		}
	}
}

// forgeUnder makes a root with exactly the name of like (another key,
// generated here) and an RRN certificate it signs, valid from..until.
func forgeUnder(t testing.TB, like *x509.Certificate, from, until time.Time) (root, rrn *x509.Certificate) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	rootT := &x509.Certificate{
		SerialNumber: big.NewInt(1), RawSubject: like.RawSubject,
		NotBefore: from, NotAfter: until, IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, rootT, rootT, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	root, _ = x509.ParseCertificate(der)
	rrnKey, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	rrnT := &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{Country: []string{"BE"}, Organization: []string{"RRN"}, CommonName: "RRN"},
		NotBefore: from, NotAfter: until, KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageContentCommitment,
	}
	der, err = x509.CreateCertificate(rand.Reader, rrnT, root, rrnKey.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	rrn, _ = x509.ParseCertificate(der)
	return root, rrn
}

// TestNotProductionRootsRefused: the lookalike "Belgium Root CA6" (the
// production CA6's exact name, another key), "Belgium Root CT3" and the
// SPECIMEN root are not trusted by default: none is in the store, no
// embedded root has their key, and an RRN certificate forged under each
// name (a key made here, which is all a forger has) is untrusted, with
// the card's own root set to the lookalike or not. The same forgery is
// trusted by a store that holds the forger's root: the refusal comes from
// the keys, not from a verifier that refuses everything.
func TestNotProductionRootsRefused(t *testing.T) {
	dir := filepath.Join(lab.SharedTrust(t), "not-production")
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2025, 6, 1, 0, 0, 0, 0, time.UTC)
	def := DefaultTrustStore()
	var ca6 *x509.Certificate
	for _, c := range def.Roots() {
		if c.Subject.CommonName == "Belgium Root CA6" {
			ca6 = c
		}
	}
	n := 0
	for _, e := range entries {
		if !strings.HasSuffix(e.Name(), ".pem") {
			continue
		}
		n++
		t.Run(e.Name(), func(t *testing.T) {
			look := readCert(t, filepath.Join(dir, e.Name()))
			for _, r := range def.Roots() {
				if r.Equal(look) || publicKeyEqual(r.PublicKey, look.PublicKey) {
					t.Fatalf("embedded root %q is (or shares the key of) %s", r.Subject.CommonName, e.Name())
				}
			}
			if _, err := def.IssuerOf(look); err == nil {
				t.Errorf("%s chains to an embedded root", e.Name())
			}
			if strings.Contains(e.Name(), "LOOKALIKE") {
				// Same name as production CA6: a check by name alone
				// would take one for the other.
				if ca6 == nil || !bytes.Equal(look.RawSubject, ca6.RawSubject) {
					t.Fatalf("the lookalike's name should be production CA6's")
				}
			}
			forged, rrn := forgeUnder(t, look, at.AddDate(-1, 0, 0), at.AddDate(5, 0, 0))
			for _, cardRoot := range []*x509.Certificate{nil, look, forged} {
				if v, d := def.verifyRRN(rrn, cardRoot, at, at); v != Untrusted {
					t.Errorf("forged RRN under %s (card root %v) is %s: %s", e.Name(), cardRoot != nil, v, d)
				} else {
					t.Logf("refused: %s", d)
				}
			}
			if _, err := def.IssuerOf(rrn); err == nil {
				t.Error("IssuerOf accepted the forged RRN certificate")
			}
			own := def.Clone()
			own.Add(forged)
			if v, d := own.verifyRRN(rrn, forged, at, at); v != Trusted {
				t.Errorf("control: the forger's own root does not verify its RRN certificate: %s %s", v, d)
			}
		})
	}
	if n != 3 {
		t.Errorf("%d not-production roots in %s, want 3 (lookalike CA6, CT3, SPECIMEN)", n, dir)
	}
}

// chainCerts returns the certificates of chain/ whose file name starts with
// prefix.
func chainCerts(t testing.TB, prefix string) map[string]*x509.Certificate {
	t.Helper()
	dir := filepath.Join(lab.SharedTrust(t), "chain")
	names, err := filepath.Glob(filepath.Join(dir, prefix+"*.pem"))
	if err != nil || len(names) == 0 {
		t.Fatalf("no %s*.pem in %s (%v)", prefix, dir, err)
	}
	out := map[string]*x509.Certificate{}
	for _, n := range names {
		out[filepath.Base(n)] = readCert(t, n)
	}
	return out
}

// TestProductionRRN: each public production RRN certificate (two under
// Root CA2, two under CA4) is trusted when the National Register signed
// inside its validity, and untrusted a day before it began or a day after
// it ended; the dates are given, never today's. Judged later than its
// expiry, a signature made inside it stands and the expiry is mentioned.
// With the card's own root (cards carry it in 503B): the issuing root, or
// for CA4 either of its two versions, is accepted; another root is not.
func TestProductionRRN(t *testing.T) {
	def := DefaultTrustStore()
	byIssuer := map[string]int{}
	for name, rrn := range chainCerts(t, "RRN_") {
		t.Run(name, func(t *testing.T) {
			if rrn.Subject.CommonName != "RRN" {
				t.Fatalf("subject %s", rrn.Subject)
			}
			byIssuer[rrn.Issuer.CommonName]++
			inside := rrn.NotBefore.Add(rrn.NotAfter.Sub(rrn.NotBefore) / 2)
			if v, d := def.verifyRRN(rrn, nil, inside, inside); v != Trusted || d != "" {
				t.Errorf("signed %s, judged then: %s %q", inside.Format(time.DateOnly), v, d)
			}
			later := rrn.NotAfter.AddDate(3, 0, 0)
			if v, d := def.verifyRRN(rrn, nil, inside, later); v != Trusted || !strings.Contains(d, "expired") {
				t.Errorf("signed inside, judged after expiry: %s %q", v, d)
			}
			for _, at := range []time.Time{rrn.NotBefore.Add(-24 * time.Hour), rrn.NotAfter.Add(24 * time.Hour)} {
				if v, d := def.verifyRRN(rrn, nil, at, at); v != Untrusted || !strings.Contains(d, "not valid on") {
					t.Errorf("signed %s: %s %q", at.Format(time.DateOnly), v, d)
				}
			}
			issuer, err := def.IssuerOf(rrn)
			if err != nil || issuer.Subject.CommonName != rrn.Issuer.CommonName {
				t.Fatalf("IssuerOf: %v, %v", issuer, err)
			}
			accepted := 0
			for _, root := range def.Roots() {
				v, d := def.verifyRRN(rrn, root, inside, inside)
				sameKey := publicKeyEqual(root.PublicKey, issuer.PublicKey)
				if (v == Trusted) != sameKey {
					t.Errorf("card root %q (%s): %s %q", root.Subject.CommonName, Fingerprint(root)[:8], v, d)
				}
				if v == Trusted {
					accepted++
				}
			}
			if want := map[string]int{"Belgium Root CA2": 2, "Belgium Root CA4": 2}[issuer.Subject.CommonName]; accepted != want {
				t.Errorf("%d card roots accepted, want %d (every version of the issuing root)", accepted, want)
			}
		})
	}
	if byIssuer["Belgium Root CA2"] != 2 || byIssuer["Belgium Root CA4"] != 2 {
		t.Errorf("RRN certificates by issuer %v, want 2 under CA2 and 2 under CA4", byIssuer)
	}
}

// TestProductionCAs: every public CA certificate of chain/ (Citizen,
// Foreigner, Government, Timestamp CA, under CA1 to CA6) is signed by the
// embedded root of its issuer's name, and its validity lies within that
// root's (for CA2 and CA4: one of its versions). One changed signature
// byte and it is refused.
func TestProductionCAs(t *testing.T) {
	def := DefaultTrustStore()
	dir := filepath.Join(lab.SharedTrust(t), "chain")
	names, _ := filepath.Glob(filepath.Join(dir, "*.pem"))
	cas := 0
	for _, n := range names {
		c := readCert(t, n)
		if !c.IsCA {
			continue
		}
		cas++
		root, err := def.IssuerOf(c)
		if err != nil {
			t.Errorf("%s: %v", filepath.Base(n), err)
			continue
		}
		within := false
		for _, r := range def.Roots() {
			if publicKeyEqual(r.PublicKey, root.PublicKey) && !c.NotBefore.Before(r.NotBefore) && !c.NotAfter.After(r.NotAfter) {
				within = true
			}
		}
		if !within {
			t.Errorf("%s (%s to %s) outside every version of %q", filepath.Base(n), c.NotBefore, c.NotAfter, root.Subject.CommonName)
		}
		bad := *c
		bad.Signature = append([]byte(nil), c.Signature...)
		bad.Signature[len(bad.Signature)/2] ^= 1
		if _, err := def.IssuerOf(&bad); err == nil {
			t.Errorf("%s with a changed signature byte accepted", filepath.Base(n))
		}
	}
	if cas < 40 {
		t.Errorf("only %d CA certificates in %s", cas, dir)
	}
	// Name alone decides nothing: an empty store knows no issuer.
	if _, err := (&TrustStore{}).IssuerOf(readCert(t, names[0])); err == nil || !strings.Contains(err.Error(), "not a trusted root") {
		t.Errorf("empty store: %v", err)
	}
}

// TestTrustSources: folders and files are recorded as sources with what
// they held; a missing folder is none.
func TestTrustSources(t *testing.T) {
	shared := lab.SharedTrust(t)
	dir := t.TempDir()
	for _, n := range []string{"belgium-root-ca6.pem", "belgium-root-ca3.pem"} {
		b, err := os.ReadFile(filepath.Join(shared, n))
		if err != nil {
			t.Fatal(err)
		}
		os.WriteFile(filepath.Join(dir, n), b, 0o644)
	}
	os.WriteFile(filepath.Join(dir, "broken.pem"), []byte("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"), 0o644)
	s := DefaultTrustStore().Clone()
	if err := s.AddDir(filepath.Join(dir, "missing")); err != nil {
		t.Fatal(err)
	}
	if err := s.AddDir(dir); err == nil || !strings.Contains(err.Error(), "broken.pem") {
		t.Errorf("AddDir: %v, want the broken file named", err)
	}
	ct3 := filepath.Join(shared, "not-production", "belgium-root-ct3-TEST.pem")
	if err := s.AddFile(ct3); err != nil {
		t.Fatal(err)
	}
	src := s.Sources()
	if len(src) != 3 || src[0].Name != EmbeddedSource || src[1].Name != dir || len(src[1].Roots) != 2 || src[2].Name != ct3 || len(src[2].Roots) != 1 {
		for _, x := range src {
			t.Logf("%s: %d", x.Name, len(x.Roots))
		}
		t.Fatalf("sources wrong")
	}
	if len(s.Roots()) != len(embeddedPins)+1 {
		t.Errorf("%d roots: the folder's copies of embedded roots must not count twice", len(s.Roots()))
	}
	if len(DefaultTrustStore().Sources()) != 1 {
		t.Error("Clone shares its sources with the default store")
	}
}
