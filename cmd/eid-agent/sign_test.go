package main

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/x509"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/eid-agent/eid-agent/internal/lab"
	"github.com/eid-agent/eid-agent/internal/virtual"
)

// runAgentStdin runs the binary with stdin (the PIN for --pin-stdin).
func runAgentStdin(t *testing.T, stdin string, args ...string) result {
	t.Helper()
	return execAgent(t, nil, stdin, 30*time.Second, args...)
}

// verifySignOutput checks a `sign --json` answer against the data.
func verifySignOutput(t *testing.T, out string, data []byte, wantAlg string) {
	t.Helper()
	var s signOutput
	if err := json.Unmarshal([]byte(out), &s); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	if s.Algorithm != wantAlg {
		t.Errorf("algorithm %s, want %s", s.Algorithm, wantAlg)
	}
	cert, err := x509.ParseCertificate(s.Certificate)
	if err != nil {
		t.Fatal(err)
	}
	switch pub := cert.PublicKey.(type) {
	case *rsa.PublicKey:
		h := sha256.Sum256(data)
		if err := rsa.VerifyPKCS1v15(pub, crypto.SHA256, h[:], s.Signature); err != nil {
			t.Errorf("RSA signature: %v", err)
		}
	case *ecdsa.PublicKey:
		h := sha512.Sum384(data)
		if !ecdsa.VerifyASN1(pub, h[:], s.Signature) {
			t.Error("ECDSA signature does not verify")
		}
	}
}

func TestSignAPDU(t *testing.T) {
	slot := lab.Slots(t)[0]
	data := []byte("admission 2026-11-29\n")
	file := filepath.Join(t.TempDir(), "doc.txt")
	if err := os.WriteFile(file, data, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		preset, alg string
	}{{"citizen-1.7", "RS256"}, {"citizen-1.8", "ES384"}, {"citizen-1.1", "RS256"}} {
		t.Run(tt.preset, func(t *testing.T) {
			p, err := virtual.Preset(tt.preset)
			if err != nil {
				t.Fatal(err)
			}
			insertCard(t, slot, p)
			for _, key := range []string{"auth", "signing"} {
				r := runAgentStdin(t, "1234\n", "sign", "--reader", slot.Reader, "--key", key, "--in", file, "--pin-stdin", "--json", "--path", "apdu")
				if r.code != 0 {
					t.Fatalf("%s: exit %d: %s", key, r.code, r.stderr)
				}
				verifySignOutput(t, r.stdout, data, tt.alg)
			}
		})
	}
}

func TestPINCommands(t *testing.T) {
	slot := lab.Slots(t)[0]
	p, err := virtual.Preset("citizen-1.7")
	if err != nil {
		t.Fatal(err)
	}
	insertCard(t, slot, p)
	file := filepath.Join(t.TempDir(), "doc.txt")
	os.WriteFile(file, []byte("x"), 0o644)

	r := runAgent(t, "pin", "status", "--reader", slot.Reader)
	if r.code != 0 || !strings.Contains(r.stdout, "3 of 3 tries left") {
		t.Fatalf("pin status: exit %d %q %q", r.code, r.stdout, r.stderr)
	}
	// A wrong PIN: one try lost, reported, never retried by the agent
	// (stdin holds a second, right PIN that must not be used).
	r = runAgentStdin(t, "9999\n1234\n", "sign", "--reader", slot.Reader, "--key", "signing", "--in", file, "--pin-stdin", "--path", "apdu")
	if r.code != exitFailure || !strings.Contains(r.stderr, "wrong PIN (2 tries left)") {
		t.Fatalf("wrong PIN: exit %d, stderr %q", r.code, r.stderr)
	}
	r = runAgent(t, "pin", "status", "--reader", slot.Reader)
	if !strings.Contains(r.stdout, "2 of 3 tries left") {
		t.Fatalf("after a wrong PIN: %q", r.stdout)
	}
	// A malformed PIN costs no try.
	r = runAgentStdin(t, "12\n", "sign", "--reader", slot.Reader, "--key", "auth", "--in", file, "--pin-stdin", "--path", "apdu")
	if r.code != exitFailure {
		t.Fatalf("short PIN: exit %d", r.code)
	}
	r = runAgent(t, "pin", "status", "--reader", slot.Reader)
	if !strings.Contains(r.stdout, "2 of 3 tries left") {
		t.Fatalf("after a malformed PIN: %q", r.stdout)
	}
	r = runAgentStdin(t, "1234\n24680\n", "pin", "change", "--reader", slot.Reader, "--pin-stdin")
	if r.code != 0 || !strings.Contains(r.stdout, "PIN changed") {
		t.Fatalf("pin change: exit %d %q", r.code, r.stderr)
	}
	r = runAgentStdin(t, "24680\n", "sign", "--reader", slot.Reader, "--key", "signing", "--in", file, "--pin-stdin", "--json", "--path", "apdu")
	if r.code != 0 {
		t.Fatalf("sign with the new PIN: exit %d %q", r.code, r.stderr)
	}
	r = runAgent(t, "pin", "status", "--reader", slot.Reader)
	if !strings.Contains(r.stdout, "3 of 3 tries left") {
		t.Fatalf("after the right PIN: %q", r.stdout)
	}
}

// TestSignPKCS11 signs through OpenSC's PKCS#11 module over the virtual
// card, and checks that --path auto falls back to APDUs only where the
// module cannot sign, without asking the PIN twice (stdin holds one PIN).
func TestSignPKCS11(t *testing.T) {
	slot := lab.Slots(t)[0]
	data := []byte("prescription 42\n")
	file := filepath.Join(t.TempDir(), "doc.txt")
	if err := os.WriteFile(file, data, 0o644); err != nil {
		t.Fatal(err)
	}
	sign := func(t *testing.T, path, key, wantPath, wantAlg string) {
		t.Helper()
		r := runAgentStdin(t, "1234\n", "sign", "--reader", slot.Reader, "--key", key, "--in", file, "--pin-stdin", "--json", "--path", path)
		if r.code != 0 {
			t.Fatalf("--path %s --key %s: exit %d: %s", path, key, r.code, r.stderr)
		}
		verifySignOutput(t, r.stdout, data, wantAlg)
		var s signOutput
		json.Unmarshal([]byte(r.stdout), &s)
		if s.Path != wantPath {
			t.Errorf("--path %s --key %s signed through %q, want %q", path, key, s.Path, wantPath)
		}
		if wantPath == "pkcs11" && !strings.Contains(s.Module, "opensc-pkcs11") {
			t.Errorf("module %q", s.Module)
		}
	}
	p17, err := virtual.Preset("citizen-1.7")
	if err != nil {
		t.Fatal(err)
	}
	t.Run("1.7", func(t *testing.T) {
		insertCard(t, slot, p17)
		sign(t, "pkcs11", "auth", "pkcs11", "RS256")
		sign(t, "auto", "auth", "pkcs11", "RS256")
		// OpenSC refuses the non-repudiation key before any PIN.
		sign(t, "auto", "signing", "apdu", "RS256")
		r := runAgentStdin(t, "1234\n", "sign", "--reader", slot.Reader, "--key", "signing", "--in", file, "--pin-stdin", "--path", "pkcs11")
		if r.code != exitFailure || !strings.Contains(r.stderr, "cannot use this key") {
			t.Errorf("--path pkcs11 --key signing: exit %d, %q", r.code, r.stderr)
		}
	})
	p18, err := virtual.Preset("citizen-1.8")
	if err != nil {
		t.Fatal(err)
	}
	t.Run("1.8", func(t *testing.T) {
		insertCard(t, slot, p18)
		// OpenSC 0.23 has no ECDSA for BELPIC: APDUs, with the one PIN.
		sign(t, "auto", "auth", "apdu", "ES384")
		sign(t, "auto", "signing", "apdu", "ES384")
	})
	r := runAgent(t, "readers")
	if !strings.Contains(r.stdout, "PKCS#11 module: ") || !strings.Contains(r.stdout, "opensc") {
		t.Errorf("readers does not show the module:\n%s", r.stdout)
	}
}

// TestSignPKCS11WrongPIN: through OpenSC's module (the default path for an
// RSA card), a wrong PIN fails the command with the tries left, as the
// APDU path does, although OpenSC's token flags do not tell them after a
// first wrong PIN; the second PIN on stdin is never used (no retry), and
// the next command's dialog (the terminal prompt, here scripted through
// --pin-stdin) works with the right PIN and resets the counter.
func TestSignPKCS11WrongPIN(t *testing.T) {
	slot := lab.Slots(t)[0]
	p, err := virtual.Preset("citizen-1.7")
	if err != nil {
		t.Fatal(err)
	}
	insertCard(t, slot, p)
	file := filepath.Join(t.TempDir(), "doc.txt")
	os.WriteFile(file, []byte("x"), 0o644)
	for i, want := range []string{"wrong PIN (2 tries left)", "wrong PIN (1 try left)"} {
		r := runAgentStdin(t, "9999\n1234\n", "sign", "--reader", slot.Reader, "--key", "auth", "--in", file, "--pin-stdin", "--path", "pkcs11")
		if r.code != exitFailure || !strings.Contains(r.stderr, want) {
			t.Fatalf("wrong PIN %d through PKCS#11: exit %d, stderr %q, want %q", i+1, r.code, r.stderr, want)
		}
	}
	r := runAgent(t, "pin", "status", "--reader", slot.Reader)
	if !strings.Contains(r.stdout, "1 of 3 tries left") {
		t.Fatalf("after two wrong PINs: %q (the second line of stdin was used?)", r.stdout)
	}
	r = runAgentStdin(t, "1234\n", "sign", "--reader", slot.Reader, "--key", "auth", "--in", file, "--pin-stdin", "--json", "--path", "auto")
	if r.code != 0 || !strings.Contains(r.stdout, `"path": "pkcs11"`) {
		t.Fatalf("right PIN: exit %d %s %s", r.code, r.stdout, r.stderr)
	}
	if r := runAgent(t, "pin", "status", "--reader", slot.Reader); !strings.Contains(r.stdout, "3 of 3 tries left") {
		t.Fatalf("after the right PIN: %q", r.stdout)
	}
}
